/**
 * The overview `pontoon --help` prints and the version `pontoon --version` prints. Each command's
 * own help is declared beside it (commands/); the overview is one text of its own (its grouping and
 * one-line summaries are not any command's help), so `--help` loads no command module.
 */
import { readFileSync } from 'node:fs';
import { packagePath } from '../platform/package-root.ts';

/** The API's variables, named in the overview and in the help of the commands that call the API. */
export const ENV_HELP = `Environment: PONTOON_API (default http://127.0.0.1:8080), PONTOON_TOKEN (API key).`;

/** `pontoon --help`, `pontoon help`, and the help of a name that is no command. */
export const MAIN_HELP = `pontoon — serverless functions on Kubernetes, orchestrated by Temporal

Usage: pontoon <command> [options]

Functions and executions (through the API):
  apply -f <paths…>          validate, build images (spec.build), then apply specs (all or nothing)
  get functions|executions   list them (filters: --function --status --trigger --since --until)
  describe function <name>   spec, versions, queue (admission) and warm pool
  describe execution <id>    status, parameters, attempts, result
  invoke <function>          start an execution; --wait prints the result, --follow-logs streams logs
  logs <execution>           an attempt's log; -f follows it
  cancel <execution>         cancel a running execution (kills its attempt)
  delete function <name>     delete a function and its schedules (--cancel-running, --yes)
  schedules list <function>  schedules with next fire times (in their time zone) and recent results
  dead-letters               failed executions (filters: --function --type --since --until)
  redrive <execution>        run a failed execution again (same parameters, input, scheduledTime);
                             redrive --function f --since t --type T [--dry-run] redrives many
  schedules pause|unpause|trigger|backfill <function> <schedule> …
  status                     is the API up, Temporal reachable, a worker polling?

Packaging (no Docker daemon; PONTOON_REGISTRY, default the embedded 127.0.0.1:5001):
  build <paths…>             build and push the image of every spec with spec.build; prints image@sha256

Offline:
  validate <paths…>          check specs; prints every problem as file:line:column
  schedules preview <spec>   next fire times of a spec's schedules (DST handled), no server needed
  schema                     print the JSON Schema of a function spec
  api-key create             make an API key and the hash line to configure

Processes:
  dev                        Temporal dev server + worker + API + example functions (npm start)
  worker                     the Pontoon worker (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, PONTOON_*)
  api                        the REST API (PONTOON_API_HOST, PONTOON_API_PORT, PONTOON_AUTH, PONTOON_API_KEYS*)

${ENV_HELP}
Output: human tables by default; -o json or -o yaml for scripts.
Exit codes: 0 ok, 1 execution failed, 2 usage, validation or request error, 3 cannot reach the server.
Run 'pontoon <command> --help' for a command's options and examples; 'pontoon --version' for the version.`;

/** The version in package.json (read, not imported: `--version` loads nothing else). */
export function packageVersion(): string {
  return (JSON.parse(readFileSync(packagePath('package.json'), 'utf8')) as { version: string }).version;
}
