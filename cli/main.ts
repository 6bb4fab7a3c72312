/**
 * `pontoon` — the command line. Talks to the Pontoon API (PONTOON_API, default
 * http://127.0.0.1:8080; PONTOON_TOKEN for the bearer key); `validate` and `schema` work offline;
 * `dev`, `worker` and `api` run Pontoon's processes.
 */
import { existsSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import type { Role } from '../api/auth.ts';
import type { ExecutionDetail, ExecutionSummary } from '../client/executions.ts';
import type { FAILURE_TYPES } from '../core/execution.ts';
import { splitPath } from '../core/parse-path.ts';
import type { FunctionSpec } from '../core/schema.ts';
import {
  isPriorityName,
  type PRIORITY_ALIASES,
  PRIORITY_HIGHEST,
  PRIORITY_LEVELS,
  PRIORITY_LOWEST,
  PRIORITY_NAMES,
} from '../core/values.ts';
import { packagePath } from '../platform/package-root.ts';
import { ApiCallError, ApiClient, apiFromEnv, UnreachableError } from './api-client.ts';
import { ago, type OutputFormat, render, span, table } from './format.ts';
import { Exit, type Io, processIo, UsageError } from './output.ts';

const ENV_HELP = `Environment: PONTOON_API (default http://127.0.0.1:8080), PONTOON_TOKEN (API key).`;

const HELP: Record<string, string> = {
  main: `pontoon — serverless functions on Kubernetes, orchestrated by Temporal

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
Run 'pontoon <command> --help' for a command's options and examples; 'pontoon --version' for the version.`,
  validate: `Usage: pontoon validate <file|folder>…

Checks every spec (YAML, multi-document, or JSON) offline and prints each problem as
  file:line:column field.path: what is wrong, what is allowed
Exits 2 when any problem is found, 0 otherwise.

Examples:
  pontoon validate function-specs/
  pontoon validate my-fn.yaml other.yaml`,
  apply: `Usage: pontoon apply -f <file|folder> [-f …] [--no-build] [-o json|yaml]

Validates every spec, builds and pushes the image of every spec with spec.build (like pontoon
build), and applies none if any spec is invalid or any build fails; then sends each to the API.
A built spec is applied with spec.image set to the pushed image's digest, so every execution of
that version runs exactly that image. Applying an unchanged spec is a no-op.
--no-build applies specs with spec.build as they are (enough for the local runtime, which runs
build.command in the context folder; the kubernetes runtime refuses them with ImageUnavailable).
${ENV_HELP} Registry: PONTOON_REGISTRY (see pontoon build --help).

Examples:
  pontoon apply -f function-specs/
  pontoon apply -f hello.yaml -f batch.yaml`,
  build: `Usage: pontoon build <file|folder>… [-o json|yaml]

Builds the image of every spec with spec.build, without a Docker daemon: the runtime's base
image (built from package registries once and cached), a dependencies layer (package-lock.json or
requirements.txt, cached by its digest) and the code layer (the context after ignore rules, at
/app). Reproducible: the same source gives the same digest, and layers the registry already holds
are not uploaded again. Prints a progress line per layer and each function's pushed reference
with its digest (REGISTRY/pontoon/<function>@sha256:…). Problems are printed as
file:line:column field: message, exit 2.

Environment:
  PONTOON_REGISTRY            host[:port][/path] images are pushed to (default 127.0.0.1:5001, the
                              embedded registry, started on first use); plain HTTP on loopback only
  PONTOON_REGISTRY_USERNAME, PONTOON_REGISTRY_PASSWORD
                              credentials; otherwise ~/.docker/config.json (or $DOCKER_CONFIG)

Examples:
  pontoon build function-specs/
  PONTOON_REGISTRY=registry.example.com/team pontoon build my-fn.yaml -o json`,
  get: `Usage: pontoon get functions [-o json|yaml]
       pontoon get executions [--function f] [--status s] [--trigger t] [--since t] [--until t] [--limit n] [--page-token t] [-o json|yaml]

Statuses: running, succeeded, failed, cancelled, terminated, timed_out. Times are RFC 3339.
A page holds --limit rows (default 50); when more may match, the next page's --page-token is printed
on stderr (and is nextPageToken in -o json|yaml).

Examples:
  pontoon get functions
  pontoon get executions --function daily-report --status failed --since 2026-11-01T00:00:00Z`,
  describe: `Usage: pontoon describe function <name> [-o json|yaml]
       pontoon describe function --openapi <name> [-o json|yaml]
       pontoon describe execution <id> [-o json|yaml]

The spec shows spec.input.schema and spec.output.schema of a typed function; --openapi prints the
function's own OpenAPI document (its invocation, input typed by FunctionInput, result by FunctionOutput).

Examples:
  pontoon describe function hello
  pontoon describe function --openapi greet -o json
  pontoon describe execution exec:hello:0b5c…`,
  invoke: `Usage: pontoon invoke <function> [options]

Options:
  -p, --param k=v             parameter value (repeatable); coerced to the declared type
  -i, --input <json|@file|->  JSON input for the function (@file reads a file, - reads stdin)
      --priority <1-5|high|normal|low>
      --idempotency-key <k>   the same key always names the same execution (no second run)
  -w, --wait                  wait, showing progress (queued → running attempt n → done), then print
                              the execution; exit 1 if it failed
      --follow-logs           with --wait: stream the attempts' logs to stderr
  -o, --output <text|json|yaml>

Examples:
  pontoon invoke hello --param name=Ada --wait
  pontoon invoke daily-report -p date=2026-01-31 --idempotency-key report-2026-01-31
  echo '{"rows":[1,2]}' | pontoon invoke hello --input - --wait --follow-logs`,
  logs: `Usage: pontoon logs <execution-id> [--attempt n] [-f]

Prints an attempt's log (the latest attempt by default); -f follows it while the execution runs.

Examples:
  pontoon logs exec:hello:0b5c… --attempt 2
  pontoon logs exec:batch:nightly-2026-11-24 -f`,
  schedules: `Usage: pontoon schedules list <function> [-o json|yaml]
       pontoon schedules pause <function> <schedule> [--note text]
       pontoon schedules unpause <function> <schedule> [--note text]
       pontoon schedules trigger <function> <schedule> [--overlap policy]
       pontoon schedules backfill <function> <schedule> --from <time> --to <time> [--overlap policy]
       pontoon schedules preview <spec file> [--count 5] [--from <time>] [-o json]

trigger honours the schedule's overlap policy unless --overlap is given; backfill runs the fires the
schedule would have had between --from and --to (RFC 3339), each with that fire's scheduledTime.
Overlap policies: skip, buffer_one, buffer_all, cancel_other, terminate_other, allow_all.
preview works offline and computes DST like the Temporal server does.

Examples:
  pontoon schedules list daily-report
  pontoon schedules pause daily-report nightly --note "warehouse migration"
  pontoon schedules backfill daily-report nightly --from 2026-01-01T00:00:00Z --to 2026-01-08T00:00:00Z --overlap buffer_all
  pontoon schedules preview function-specs/daily-report.yaml --count 10`,
  'dead-letters': `Usage: pontoon dead-letters [--function f] [--type T] [--since t] [--until t] [--limit n] [--page-token t] [-o json|yaml]

Lists dead letters: executions that ended failed after their retries, newest first, by function,
failure type (FunctionExit, FunctionExitNonRetryable, AttemptTimedOut, DeadlineExceeded, …) and
when they failed (--since inclusive, --until exclusive, RFC 3339). A redrive that failed again is a
dead letter too (REDRIVE OF names the execution it re-ran). A page holds --limit rows (default
50); when more may match, the next page's --page-token is printed on stderr.

Examples:
  pontoon dead-letters --function daily-report --since 2026-11-01T00:00:00Z
  pontoon dead-letters --type FunctionExit -o json`,
  redrive: `Usage: pontoon redrive <execution-id> [--same-version] [-o json|yaml]
       pontoon redrive --function f [--type T] [--since t] [--until t] [--dry-run] [--same-version] [-o json|yaml]

Starts a failed execution again: a new execution with the same function, parameters, input,
priority and scheduledTime, named <execution-id>.redrive and linked to the original (search
attribute PontoonRedriveOf, and redriveOf in its result). Redriving the same execution again starts
nothing: it names the redrive already made. A redrive runs the function's current spec version;
--same-version runs exactly the version the original ran (refused when it is no longer kept: a
function keeps its last 20 versions).
The bulk form redrives every dead letter of one function matching the filters; --dry-run
prints how many match and starts nothing. One request starts at most the backfill cap
(PONTOON_API_MAX_BACKFILL_FIRES, 1000): narrow the filters beyond it.

Examples:
  pontoon redrive exec:daily-report:nightly-2026-11-24T02:30:00Z
  pontoon redrive --function daily-report --since 2026-11-24T00:00:00Z --type FunctionExit --dry-run
  pontoon redrive --function daily-report --since 2026-11-24T00:00:00Z --type FunctionExit`,
  cancel: `Usage: pontoon cancel <execution-id>

Cancels a running execution: its attempt is killed and the execution ends cancelled.`,
  delete: `Usage: pontoon delete function <name> [--cancel-running] [--yes] [-o json|yaml]

Deletes a function: its controller ends and its schedules are removed, so it can no longer be
invoked; its executions stay listed. Running executions finish unless --cancel-running is given.
Asks for confirmation in a terminal; scripts (stdin not a terminal) must pass --yes.

Examples:
  pontoon delete function hello
  pontoon delete function nightly-batch --cancel-running --yes`,
  status: `Usage: pontoon status [-o json|yaml]

Checks the API (/healthz) and its readiness (/readyz): Temporal reachable and a worker polling.
Exits 0 when ready, 3 when the API cannot be reached or is not ready (the reason is printed).`,
  dev: `Usage: pontoon dev [-f <folder>] [--port 7233] [--ui-port 8233] [--api-port 8080]

Starts the Temporal dev server (state kept in .pontoon/temporal.db), the Pontoon worker on the local
runtime, the API on 127.0.0.1 (open, no auth: local development only), and applies every spec in
function-specs/ (or -f; without either, the examples shipped with Pontoon). Reuses a Temporal server
already listening on the port. Ctrl-C stops everything.`,
  worker: `Usage: pontoon worker

Runs the Pontoon worker against TEMPORAL_ADDRESS until SIGTERM/SIGINT, then finishes in-flight work.`,
  api: `Usage: pontoon api

Serves the REST API (PONTOON_API_HOST default 127.0.0.1, PONTOON_API_PORT default 8080) against
TEMPORAL_ADDRESS. Auth is required unless PONTOON_AUTH=none: configure keys with PONTOON_API_KEYS
("name:role:sha256,…") or PONTOON_API_KEYS_FILE (YAML/JSON {keys: [{name, role, sha256}]}).`,
  'api-key': `Usage: pontoon api-key create --name <name> --role <viewer|invoker|admin>

Prints a new random API key (shown once) and the entry to add to PONTOON_API_KEYS or
PONTOON_API_KEYS_FILE; the server stores only the SHA-256 hash.`,
  schema: `Usage: pontoon schema

Prints the JSON Schema of a function spec (function-specs/function.schema.json is this output).`,
};

const helpOption = { help: { type: 'boolean', short: 'h' } } as const;
const outputOption = { output: { type: 'string', short: 'o' } } as const;

/** parseArgs with its errors turned into usage errors (exit 2). */
function guard<T>(parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

function format(value: string | undefined): OutputFormat {
  const f = value ?? 'text';
  if (f !== 'text' && f !== 'json' && f !== 'yaml')
    throw new UsageError('--output must be text, json or yaml');
  return f;
}

const api = () => new ApiClient(apiFromEnv());

/**
 * What `pontoon dev` applies without -f: function-specs/ in the current folder (a checkout, a
 * project laid out like it), else the examples shipped with Pontoon (an installed package).
 */
function defaultSpecFolder(): string {
  return existsSync('function-specs') ? 'function-specs' : packagePath('function-specs');
}

/** The version in package.json (read, not imported: `--version` loads nothing else). */
function packageVersion(): string {
  return (JSON.parse(readFileSync(packagePath('package.json'), 'utf8')) as { version: string }).version;
}

/**
 * The spec loader (yaml, zod and the function schema: ~0.2 s of module loading), imported by the
 * commands that read spec files only, so `--help` and the commands that only call the API start
 * without it (bench/cli-startup.ts measures both).
 */
async function specTools() {
  const [{ loadSpecs }, { formatProblem }] = await Promise.all([
    import('../core/load.ts'),
    import('../core/parse.ts'),
  ]);
  return { loadSpecs, formatProblem };
}

// ------------------------------------------------------------------ offline

async function cmdValidate(args: string[], io: Io): Promise<number> {
  const { positionals, values } = guard(() =>
    parseArgs({ args, options: helpOption, allowPositionals: true }),
  );
  if (values.help) return help('validate', io);
  if (positionals.length === 0) throw new UsageError('validate needs at least one file or folder');
  const { loadSpecs, formatProblem } = await specTools();
  const result = await loadSpecs(positionals);
  for (const p of result.problems) io.err(formatProblem(p));
  if (result.problems.length) {
    io.err(`${result.problems.length} problem${result.problems.length === 1 ? '' : 's'} found`);
    return Exit.usage;
  }
  const names = result.specs.map((s) => s.spec.metadata.name);
  io.out(`${names.length} function spec${names.length === 1 ? '' : 's'} valid: ${names.join(', ')}`);
  return Exit.ok;
}

async function cmdApiKey(args: string[], io: Io): Promise<number> {
  const { positionals, values } = guard(() =>
    parseArgs({
      args,
      options: { ...helpOption, name: { type: 'string' }, role: { type: 'string' } },
      allowPositionals: true,
    }),
  );
  if (values.help || positionals[0] !== 'create') return help('api-key', io);
  if (!values.name || !/^[A-Za-z0-9._-]+$/.test(values.name))
    throw new UsageError('--name is required (letters, digits, . _ -)');
  const { newApiKey, ROLES } = await import('../api/auth.ts');
  if (!ROLES.includes(values.role as Role)) throw new UsageError(`--role must be one of ${ROLES.join(', ')}`);
  const { token, entry } = newApiKey(values.name, values.role as Role);
  io.out(`API key (shown once; give it to the client as PONTOON_TOKEN):
  ${token}

Configure the server with one of:
  PONTOON_API_KEYS=${entry.name}:${entry.role}:${entry.sha256}
  # or in PONTOON_API_KEYS_FILE:
  keys:
    - { name: ${entry.name}, role: ${entry.role}, sha256: ${entry.sha256} }`);
  return Exit.ok;
}

// ------------------------------------------------------------------ functions

async function cmdApply(args: string[], io: Io): Promise<number> {
  const { positionals, values } = guard(() =>
    parseArgs({
      args,
      options: {
        ...helpOption,
        ...outputOption,
        file: { type: 'string', short: 'f', multiple: true },
        'no-build': { type: 'boolean' },
      },
      allowPositionals: true,
    }),
  );
  if (values.help) return help('apply', io);
  const out = format(values.output);
  const paths = [...(values.file ?? []), ...positionals];
  if (paths.length === 0) throw new UsageError('apply needs -f <file|folder>');
  const { loadSpecs, formatProblem } = await specTools();
  const result = await loadSpecs(paths);
  for (const p of result.problems) io.err(formatProblem(p));
  if (result.problems.length) {
    io.err(
      `nothing applied: ${result.problems.length} problem${result.problems.length === 1 ? '' : 's'} found`,
    );
    return Exit.usage;
  }
  if (!values['no-build']) {
    const { buildSpecs } = await import('../packaging/index.ts');
    const built = await buildSpecs(result.specs, (line) => io.err(line));
    for (const p of built.problems) io.err(formatProblem(p));
    if (built.problems.length) {
      io.err(
        `nothing applied: ${built.problems.length} build problem${built.problems.length === 1 ? '' : 's'}`,
      );
      return Exit.usage;
    }
  }
  const client = api();
  const applied: { name: string; version: number; changed: boolean; image?: string }[] = [];
  // All or nothing, server refusals included: what each function was before, to put back.
  const before = new Map<string, FunctionSpec | null>();
  if (result.specs.length > 1) {
    for (const s of result.specs) {
      const name = s.spec.metadata.name;
      before.set(name, await currentSpecOf(client, name));
    }
  }
  for (const s of result.specs) {
    const name = s.spec.metadata.name;
    let r: { name: string; version: number; changed: boolean };
    try {
      r = await client.route('applyFunction', { name }).json({ body: s.spec });
    } catch (err) {
      const located = refusalDetails(err);
      io.err(
        located.length
          ? `${s.file}:${s.line}: function/${name} refused by the server (${(err as ApiCallError).code}):`
          : `${s.file}:${s.line}: function/${name} refused by the server: ${(err as Error).message}${err instanceof ApiCallError ? ` (${err.code})` : ''}`,
      );
      for (const d of located) {
        const at = s.locate?.(splitPath(d.field)) ?? { line: s.line, column: 1 };
        io.err(formatProblem({ file: s.file, ...at, path: d.field, message: d.message }));
      }
      const undo = applied.filter((a) => a.changed);
      const left = await rollBack(client, undo, before);
      if (left.length === 0) {
        io.err(
          undo.length
            ? `nothing applied: rolled back ${undo.map((a) => `function/${a.name}`).join(', ')}`
            : 'nothing applied',
        );
      } else {
        for (const l of left) io.err(l);
        io.err('apply was only partly rolled back: the functions above are at the new version');
      }
      return err instanceof UnreachableError ? Exit.unreachable : Exit.usage;
    }
    applied.push({
      name: r.name,
      version: r.version,
      changed: r.changed,
      ...(s.spec.spec.image ? { image: s.spec.spec.image } : {}),
    });
    if (out === 'text')
      io.out(`function/${r.name} ${r.changed ? 'applied' : 'unchanged'} (version ${r.version})`);
  }
  if (out !== 'text') io.out(render(applied, out));
  return Exit.ok;
}

/** `{field, message}` details of an API error that names spec fields (spec_invalid from the server). */
function refusalDetails(err: unknown): { field: string; message: string }[] {
  if (!(err instanceof ApiCallError) || !Array.isArray(err.details)) return [];
  return err.details.filter(
    (d): d is { field: string; message: string } =>
      typeof d?.field === 'string' && typeof d?.message === 'string' && d.line === undefined,
  );
}

/** The spec a function has now, or null when none is applied under that name. */
async function currentSpecOf(client: ApiClient, name: string): Promise<FunctionSpec | null> {
  try {
    return (await client.route('getFunction', { name }).json<{ spec: FunctionSpec }>()).spec;
  } catch (err) {
    if (err instanceof ApiCallError && err.code === 'function_not_found') return null;
    throw err;
  }
}

/**
 * Puts back what `pontoon apply` changed before a later document was refused: the previous spec is
 * applied again (a new version with the old content), a function that did not exist is deleted.
 * Returns a line per function it could not restore.
 */
async function rollBack(
  client: ApiClient,
  changed: { name: string }[],
  before: Map<string, FunctionSpec | null>,
): Promise<string[]> {
  const left: string[] = [];
  for (const { name } of [...changed].reverse()) {
    const previous = before.get(name);
    try {
      if (previous) await client.route('applyFunction', { name }).json({ body: previous });
      else await client.route('deleteFunction', { name }).json();
    } catch (err) {
      left.push(`function/${name}: could not roll back: ${(err as Error).message}`);
    }
  }
  return left;
}

async function cmdBuild(args: string[], io: Io): Promise<number> {
  const { positionals, values } = guard(() =>
    parseArgs({ args, options: { ...helpOption, ...outputOption }, allowPositionals: true }),
  );
  if (values.help) return help('build', io);
  const out = format(values.output);
  if (positionals.length === 0) throw new UsageError('build needs at least one spec file or folder');
  const { loadSpecs, formatProblem } = await specTools();
  const loaded = await loadSpecs(positionals);
  for (const p of loaded.problems) io.err(formatProblem(p));
  if (loaded.problems.length) {
    io.err(
      `nothing built: ${loaded.problems.length} problem${loaded.problems.length === 1 ? '' : 's'} found`,
    );
    return Exit.usage;
  }
  if (!loaded.specs.some((s) => s.spec.spec.build)) {
    io.err('no spec here has spec.build: nothing to build');
    return Exit.usage;
  }
  const { buildSpecs } = await import('../packaging/index.ts');
  const result = await buildSpecs(loaded.specs, (line) => io.err(line));
  for (const p of result.problems) io.err(formatProblem(p));
  if (out !== 'text') io.out(render(result.built, out));
  else for (const b of result.built) io.out(`${b.function}\t${b.reference}`);
  if (result.problems.length) {
    io.err(`${result.problems.length} build problem${result.problems.length === 1 ? '' : 's'}`);
    return Exit.usage;
  }
  return Exit.ok;
}

interface FunctionRow {
  name: string;
  version: number;
  appliedAt: string;
  mode: string;
  schedules: string[];
  description: string | null;
}

async function cmdGet(args: string[], io: Io): Promise<number> {
  const { positionals, values } = guard(() =>
    parseArgs({
      args,
      options: {
        ...helpOption,
        ...outputOption,
        function: { type: 'string' },
        status: { type: 'string' },
        trigger: { type: 'string' },
        since: { type: 'string' },
        until: { type: 'string' },
        limit: { type: 'string' },
        'page-token': { type: 'string' },
      },
      allowPositionals: true,
    }),
  );
  if (values.help) return help('get', io);
  const out = format(values.output);
  const what = positionals[0];
  if (what === 'functions' || what === 'function' || what === 'fn') {
    const r = await api().route('listFunctions').json<{ functions: FunctionRow[] }>();
    if (out !== 'text') io.out(render(r.functions, out));
    else
      io.out(
        table(
          ['NAME', 'VERSION', 'MODE', 'SCHEDULES', 'APPLIED'],
          r.functions.map((f) => [f.name, f.version, f.mode, f.schedules.join(','), ago(f.appliedAt)]),
        ),
      );
    return Exit.ok;
  }
  if (what === 'executions' || what === 'execution' || what === 'ex') {
    const r = await api()
      .route('listExecutions')
      .json<{ executions: ExecutionSummary[]; nextPageToken: string | null }>({
        query: {
          function: values.function,
          status: values.status,
          trigger: values.trigger,
          since: values.since,
          until: values.until,
          limit: values.limit,
          pageToken: values['page-token'],
        },
      });
    if (out !== 'text') io.out(render(r, out));
    else
      io.out(
        table(
          ['EXECUTION', 'FUNCTION', 'TRIGGER', 'PRIORITY', 'STATUS', 'STARTED', 'DURATION'],
          r.executions.map((e) => [
            e.executionId,
            e.function,
            e.trigger,
            e.priority,
            e.status,
            ago(e.startedAt),
            span(e.startedAt, e.endedAt),
          ]),
        ),
      );
    if (out === 'text') morePages(r.nextPageToken, io);
    return Exit.ok;
  }
  throw new UsageError('get needs "functions" or "executions"');
}

function describeExecutionText(e: ExecutionDetail): string {
  const lines = [
    `Execution:  ${e.executionId}`,
    `Function:   ${e.function ?? '-'}`,
    `Status:     ${e.status}${e.status === 'running' && e.phase ? ` (${e.phase}${e.attempt ? `, attempt ${e.attempt}/${e.maxAttempts}` : ''})` : ''}`,
    `Trigger:    ${e.trigger ?? '-'}    Priority: ${e.priority ?? '-'}`,
    `Started:    ${e.startedAt ?? '-'}${e.endedAt ? `    Ended: ${e.endedAt} (${span(e.startedAt, e.endedAt)})` : ''}`,
  ];
  if (e.scheduledTime) lines.push(`Scheduled:  ${e.scheduledTime}`);
  lines.push(`Parameters: ${Object.keys(e.parameters).length ? JSON.stringify(e.parameters) : '(none)'}`);
  if (e.attempts.length) {
    lines.push('Attempts:');
    lines.push(
      table(
        ['  #', 'EXIT', 'DURATION', 'RESULT'],
        e.attempts.map((a) => [
          `  ${a.attempt}`,
          a.exitCode,
          span(a.startedAt, a.endedAt),
          a.failure ? `${a.failure.type}: ${a.failure.message}` : 'ok',
        ]),
      ),
    );
  }
  if (e.failure) lines.push(`Failure:    ${e.failure.type}: ${e.failure.message}`);
  if (e.status === 'succeeded') lines.push(`Output:     ${JSON.stringify(e.output)}`);
  return lines.join('\n');
}

async function cmdDescribe(args: string[], io: Io): Promise<number> {
  const { positionals, values } = guard(() =>
    parseArgs({
      args,
      options: { ...helpOption, ...outputOption, openapi: { type: 'boolean' } },
      allowPositionals: true,
    }),
  );
  if (values.help) return help('describe', io);
  const out = format(values.output);
  const [what, id] = positionals;
  if (!id) throw new UsageError('describe needs "function <name>" or "execution <id>"');
  if (what === 'function' || what === 'functions' || what === 'fn') {
    if (values.openapi) {
      const doc = await api().route('functionOpenApi', { name: id }).json<Record<string, unknown>>();
      io.out(render(doc, out === 'json' ? 'json' : 'yaml'));
      return Exit.ok;
    }
    const f = await api().route('getFunction', { name: id }).json<Record<string, unknown>>();
    io.out(render(f, out === 'json' ? 'json' : 'yaml'));
    return Exit.ok;
  }
  if (what === 'execution' || what === 'executions' || what === 'ex') {
    const e = await api().route('getExecution', { id }).json<ExecutionDetail>();
    io.out(out === 'text' ? describeExecutionText(e) : render(e, out));
    return Exit.ok;
  }
  throw new UsageError('describe needs "function <name>" or "execution <id>"');
}

// ------------------------------------------------------------------ executions

async function readInput(value: string | undefined): Promise<unknown> {
  if (value === undefined) return undefined;
  let text = value;
  if (value === '-') {
    const chunks: Buffer[] = [];
    for await (const c of process.stdin) chunks.push(c as Buffer);
    text = Buffer.concat(chunks).toString('utf8');
  } else if (value.startsWith('@')) {
    text = await readFile(value.slice(1), 'utf8');
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new UsageError(`--input is not valid JSON: ${(err as Error).message}`);
  }
}

function progressLine(e: ExecutionDetail): string {
  if (e.status !== 'running') return e.status;
  switch (e.phase) {
    case undefined:
    case 'starting':
      return 'queued';
    case 'running':
      return `running attempt ${e.attempt}/${e.maxAttempts}`;
    case 'backoff':
      return `attempt ${e.attempt}/${e.maxAttempts} failed; retrying at ${e.nextAttemptAt ?? 'soon'}`;
    default:
      return e.phase;
  }
}

/** Streams one attempt's log until the API ends the stream (attempt over or execution ended). */
async function streamLog(
  client: ApiClient,
  id: string,
  attempt: number,
  write: (chunk: string) => void,
): Promise<void> {
  const res = await client.route('executionLogs', { id }).raw({
    query: { attempt, follow: 'true' },
  });
  if (!res.body) return;
  const decoder = new TextDecoder();
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>)
    write(decoder.decode(chunk, { stream: true }));
}

async function cmdInvoke(args: string[], io: Io): Promise<number> {
  const { positionals, values } = guard(() =>
    parseArgs({
      args,
      options: {
        ...helpOption,
        ...outputOption,
        param: { type: 'string', short: 'p', multiple: true },
        input: { type: 'string', short: 'i' },
        priority: { type: 'string' },
        'idempotency-key': { type: 'string' },
        wait: { type: 'boolean', short: 'w' },
        'follow-logs': { type: 'boolean' },
      },
      allowPositionals: true,
    }),
  );
  if (values.help) return help('invoke', io);
  const out = format(values.output);
  const fn = positionals[0];
  if (!fn || positionals.length > 1) throw new UsageError('invoke needs exactly one function name');
  const parameters: Record<string, string> = {};
  for (const kv of values.param ?? []) {
    const eq = kv.indexOf('=');
    if (eq <= 0) throw new UsageError(`--param "${kv}" must look like name=value`);
    parameters[kv.slice(0, eq)] = kv.slice(eq + 1);
  }
  let priority: number | keyof typeof PRIORITY_ALIASES | undefined;
  if (values.priority !== undefined) {
    const p = values.priority;
    if (isPriorityName(p)) priority = p;
    else if (PRIORITY_LEVELS.map(String).includes(p)) priority = Number(p);
    else
      throw new UsageError(
        `--priority must be ${PRIORITY_HIGHEST}-${PRIORITY_LOWEST} or ${PRIORITY_NAMES.join(', ')}`,
      );
  }
  if (values['follow-logs'] && !values.wait) throw new UsageError('--follow-logs needs --wait');
  const input = await readInput(values.input);
  const client = api();
  const started = await client.route('invoke', { name: fn }).json<{ executionId: string; created: boolean }>({
    body: {
      ...(Object.keys(parameters).length ? { parameters } : {}),
      ...(input !== undefined ? { input } : {}),
      ...(priority !== undefined ? { priority } : {}),
      ...(values['idempotency-key'] ? { idempotencyKey: values['idempotency-key'] } : {}),
    },
  });
  if (!values.wait) {
    if (out === 'text') io.out(`${started.created ? 'started' : 'already exists'}: ${started.executionId}`);
    else io.out(render(started, out));
    return Exit.ok;
  }
  const id = started.executionId;
  io.err(`execution ${id}${started.created ? '' : ' (existing: same idempotency key)'}`);
  let last = '';
  let followed = 0;
  let following: Promise<void> | undefined;
  for (;;) {
    const e = await client.route('getExecution', { id }).json<ExecutionDetail>();
    const line = progressLine(e);
    if (line !== last && e.status === 'running') {
      last = line;
      if (io.tty && !values['follow-logs']) process.stderr.write(`\r\x1b[K${line}`);
      else io.err(line);
    }
    const current = e.attempt ?? e.attempts.length;
    if (
      values['follow-logs'] &&
      current > followed &&
      !following &&
      (e.phase === 'running' || e.status !== 'running')
    ) {
      followed = current;
      following = streamLog(client, id, current, (c) => process.stderr.write(c))
        .catch(() => undefined)
        .finally(() => {
          following = undefined;
        });
    }
    if (e.status !== 'running') {
      await following;
      if (values['follow-logs']) {
        // Attempts that began and ended between two polls: print their logs whole.
        const lastAttempt = Math.max(0, ...e.attempts.map((a) => a.attempt));
        for (let a = followed + 1; a <= lastAttempt; a++) {
          const res = await client
            .route('executionLogs', { id })
            .raw({ query: { attempt: a } })
            .catch(() => undefined);
          if (res) process.stderr.write(await res.text());
        }
      }
      if (io.tty && last && !values['follow-logs']) process.stderr.write('\r\x1b[K');
      io.out(
        out === 'yaml' ? render(e, 'yaml') : out === 'json' ? render(e, 'json') : JSON.stringify(e, null, 2),
      );
      return e.status === 'succeeded' ? Exit.ok : Exit.failed;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}

async function cmdLogs(args: string[], io: Io): Promise<number> {
  const { positionals, values } = guard(() =>
    parseArgs({
      args,
      options: { ...helpOption, attempt: { type: 'string' }, follow: { type: 'boolean', short: 'f' } },
      allowPositionals: true,
    }),
  );
  if (values.help) return help('logs', io);
  const id = positionals[0];
  if (!id) throw new UsageError('logs needs an execution id');
  if (values.attempt !== undefined && !/^[1-9]\d*$/.test(values.attempt))
    throw new UsageError('--attempt must be a positive integer');
  const client = api();
  if (values.follow) {
    let attempt = values.attempt ? Number(values.attempt) : undefined;
    for (;;) {
      const e = await client.route('getExecution', { id }).json<ExecutionDetail>();
      const current = attempt ?? Math.max(1, e.attempt ?? e.attempts.length);
      await streamLog(client, id, current, (c) => process.stdout.write(c));
      if (values.attempt) return Exit.ok;
      const after = await client.route('getExecution', { id }).json<ExecutionDetail>();
      if (after.status !== 'running') return Exit.ok;
      attempt = undefined;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  const res = await client.route('executionLogs', { id }).raw({
    query: { attempt: values.attempt },
  });
  io.out(await res.text());
  return Exit.ok;
}

async function cmdCancel(args: string[], io: Io): Promise<number> {
  const { positionals, values } = guard(() =>
    parseArgs({ args, options: helpOption, allowPositionals: true }),
  );
  if (values.help) return help('cancel', io);
  const id = positionals[0];
  if (!id) throw new UsageError('cancel needs an execution id');
  await api().route('cancelExecution', { id }).json();
  io.out(`cancelling ${id}`);
  return Exit.ok;
}

interface DeadLetterRow {
  executionId: string;
  function: string | null;
  failureType: string | null;
  redriveOf: string | null;
  failedAt: string | null;
}

/** Under a listing's table: how to ask for the next page, when there is one (stderr, so pipes get rows only). */
function morePages(nextPageToken: string | null, io: Io): void {
  if (nextPageToken) io.err(`next page: repeat the command with --page-token ${nextPageToken}`);
}

async function cmdDeadLetters(args: string[], io: Io): Promise<number> {
  const { positionals, values } = guard(() =>
    parseArgs({
      args,
      options: {
        ...helpOption,
        ...outputOption,
        function: { type: 'string' },
        type: { type: 'string' },
        since: { type: 'string' },
        until: { type: 'string' },
        limit: { type: 'string' },
        'page-token': { type: 'string' },
      },
      allowPositionals: true,
    }),
  );
  if (values.help) return help('dead-letters', io);
  if (positionals.length) throw new UsageError('dead-letters takes no arguments; filter with --function');
  const out = format(values.output);
  const r = await api()
    .route('listDeadLetters')
    .json<{ deadLetters: DeadLetterRow[]; nextPageToken: string | null }>({
      query: {
        function: values.function,
        type: values.type,
        since: values.since,
        until: values.until,
        limit: values.limit,
        pageToken: values['page-token'],
      },
    });
  if (out !== 'text') io.out(render(r, out));
  else
    io.out(
      table(
        ['EXECUTION', 'FUNCTION', 'TYPE', 'FAILED', 'REDRIVE OF'],
        r.deadLetters.map((d) => [
          d.executionId,
          d.function,
          d.failureType,
          ago(d.failedAt),
          d.redriveOf ?? '',
        ]),
      ),
    );
  if (out === 'text') morePages(r.nextPageToken, io);
  return Exit.ok;
}

async function cmdRedrive(args: string[], io: Io): Promise<number> {
  const { positionals, values } = guard(() =>
    parseArgs({
      args,
      options: {
        ...helpOption,
        ...outputOption,
        function: { type: 'string' },
        type: { type: 'string' },
        since: { type: 'string' },
        until: { type: 'string' },
        'dry-run': { type: 'boolean' },
        'same-version': { type: 'boolean' },
      },
      allowPositionals: true,
    }),
  );
  if (values.help) return help('redrive', io);
  const out = format(values.output);
  const sameVersion = values['same-version'] ? { sameVersion: true } : {};
  const id = positionals[0];
  const bulk = values.function || values.type || values.since || values.until;
  if (id && (bulk || values['dry-run'] || positionals.length > 1))
    throw new UsageError(
      'redrive takes one execution id, or filters (--function, --type, --since, --until), not both',
    );
  if (id) {
    const r = await api()
      .route('redriveExecution', { id })
      .json<{ executionId: string; created: boolean; specVersion: number }>({ body: sameVersion });
    io.out(
      out !== 'text'
        ? render(r, out)
        : r.created
          ? `redrive of ${id} started: ${r.executionId} (spec version ${r.specVersion})`
          : `${id} was redriven before: ${r.executionId} (nothing started)`,
    );
    return Exit.ok;
  }
  if (!values.function)
    throw new UsageError('redrive needs an execution id, or --function (and --type, --since, --until)');
  const body = {
    function: values.function,
    // Sent as typed: the API answers an unknown type with the known ones (400 validation_failed).
    ...(values.type ? { type: values.type as keyof typeof FAILURE_TYPES } : {}),
    ...(values.since ? { since: values.since } : {}),
    ...(values.until ? { until: values.until } : {}),
    ...(values['dry-run'] ? { dryRun: true } : {}),
    ...sameVersion,
  };
  const r = await api().route('redriveDeadLetters').json<{
    dryRun?: boolean;
    count: number;
    cap?: number;
    started?: number;
    alreadyRedriven?: number;
    refused?: number;
    redrives?: {
      redriveOf: string;
      executionId?: string;
      created?: boolean;
      error?: { code: string; message: string };
    }[];
  }>({ body });
  if (out !== 'text') io.out(render(r, out));
  else if (r.dryRun)
    io.out(
      `${r.count} dead letter${r.count === 1 ? '' : 's'} match (dry run: nothing started; at most ${r.cap} per redrive)`,
    );
  else {
    for (const x of r.redrives ?? [])
      io.out(
        x.error
          ? `${x.redriveOf}: refused: ${x.error.message} (${x.error.code})`
          : `${x.redriveOf} -> ${x.executionId}${x.created ? '' : ' (redriven before)'}`,
      );
    io.out(
      `redrove ${r.count}: ${r.started} started, ${r.alreadyRedriven} redriven before, ${r.refused} refused`,
    );
  }
  return r.refused ? Exit.usage : Exit.ok;
}

async function cmdDelete(args: string[], io: Io): Promise<number> {
  const { positionals, values } = guard(() =>
    parseArgs({
      args,
      options: {
        ...helpOption,
        ...outputOption,
        'cancel-running': { type: 'boolean' },
        yes: { type: 'boolean', short: 'y' },
      },
      allowPositionals: true,
    }),
  );
  if (values.help) return help('delete', io);
  const out = format(values.output);
  const [what, name, ...extra] = positionals;
  if (!['function', 'functions', 'fn'].includes(what ?? '') || !name || extra.length)
    throw new UsageError('delete needs "function <name>"');
  const cancelRunning = Boolean(values['cancel-running']);
  if (!values.yes) {
    if (!io.confirm) {
      throw new UsageError(
        `deleting function/${name} needs confirmation, and stdin is not a terminal to ask: add --yes`,
      );
    }
    const ok = await io.confirm(
      `Delete function/${name} and its schedules${cancelRunning ? ', cancelling its running executions' : ' (running executions finish)'}?`,
    );
    if (!ok) {
      io.err(`not deleted: function/${name}`);
      return Exit.usage;
    }
  }
  const r = await api()
    .route('deleteFunction', { name })
    .json<{ name: string; version: number; cancelledExecutions: number }>({
      query: { cancelRunning: cancelRunning ? 'true' : undefined },
    });
  if (out !== 'text') io.out(render(r, out));
  else
    io.out(
      `function/${r.name} deleted (was version ${r.version})${
        cancelRunning
          ? `; cancelled ${r.cancelledExecutions} running execution${r.cancelledExecutions === 1 ? '' : 's'}`
          : ''
      }`,
    );
  return Exit.ok;
}

async function cmdStatus(args: string[], io: Io): Promise<number> {
  const { values } = guard(() =>
    parseArgs({ args, options: { ...helpOption, ...outputOption }, allowPositionals: false }),
  );
  if (values.help) return help('status', io);
  const out = format(values.output);
  const client = api();
  await client.route('health').raw();
  let ready: Record<string, unknown>;
  try {
    ready = await client.route('ready').json<Record<string, unknown>>();
  } catch (err) {
    if (!(err instanceof UnreachableError)) throw err;
    // /readyz answers 503 with the reason (Temporal unreachable or no worker polling).
    if (out !== 'text') io.out(render({ api: 'up', status: 'not ready', reason: err.message }, out));
    else io.out(`API:      up at ${client.options.baseUrl}\nnot ready: ${err.message}`);
    return Exit.unreachable;
  }
  if (out !== 'text') io.out(render({ api: 'up', ...ready }, out));
  else
    io.out(
      [
        `API:      up at ${client.options.baseUrl}`,
        `Temporal: ${ready.temporal}`,
        `Worker:   ${ready.worker}${ready.workerLastSeen ? ` (last seen ${ready.workerLastSeen})` : ''}`,
      ].join('\n'),
    );
  return Exit.ok;
}

/** A fire time as UTC and in the schedule's own zone: `  2026-01-01T02:30:00.000Z  Thu 2026-01-01 02:30 GMT`. */
async function fireTimeLines(times: string[], zone: string): Promise<string[]> {
  const { DateTime } = await import('luxon');
  return times.map((t) => `  ${t}  ${DateTime.fromISO(t, { zone }).toFormat('ccc yyyy-MM-dd HH:mm ZZZZ')}`);
}

/** The route (api/route-table.ts) of each action on one schedule. */
const SCHEDULE_ACTIONS = {
  pause: 'pauseSchedule',
  unpause: 'unpauseSchedule',
  trigger: 'triggerSchedule',
  backfill: 'backfillSchedule',
} as const;

async function cmdSchedules(args: string[], io: Io): Promise<number> {
  const { positionals, values } = guard(() =>
    parseArgs({
      args,
      options: {
        ...helpOption,
        ...outputOption,
        note: { type: 'string' },
        overlap: { type: 'string' },
        from: { type: 'string' },
        to: { type: 'string' },
        count: { type: 'string' },
      },
      allowPositionals: true,
    }),
  );
  const [action, fn, schedule] = positionals;
  if (values.help || !action) return help('schedules', io);
  const out = format(values.output);
  if (action === 'preview') {
    if (!fn) throw new UsageError('preview needs a spec file');
    const count = Number(values.count ?? 5);
    if (!Number.isInteger(count) || count < 1 || count > 1000) throw new UsageError('--count must be 1-1000');
    const from = values.from ? new Date(values.from) : new Date();
    if (Number.isNaN(from.getTime())) throw new UsageError('--from must be an RFC 3339 time');
    const { loadSpecs, formatProblem } = await specTools();
    const loaded = await loadSpecs([fn]);
    for (const p of loaded.problems) io.err(formatProblem(p));
    if (loaded.problems.length) return Exit.usage;
    const { previewFireTimes } = await import('../core/schedule-times.ts');
    const rows = loaded.specs.flatMap((l) =>
      l.spec.spec.schedules.map((s) => ({
        function: l.spec.metadata.name,
        schedule: s.name,
        when: s.cron
          ? `${s.cron} (${s.timezone})`
          : `every ${s.every}${s.offset ? ` offset ${s.offset}` : ''}`,
        fireTimes: previewFireTimes(s, from, count).map((t) => t.toISOString()),
        zone: s.cron ? s.timezone : 'UTC',
      })),
    );
    if (out !== 'text') {
      io.out(
        render(
          rows.map(({ zone: _zone, ...r }) => r),
          out,
        ),
      );
      return Exit.ok;
    }
    if (rows.length === 0) io.out('no schedules in these specs');
    for (const r of rows) {
      io.out(`${r.function}/${r.schedule}: ${r.when}`);
      for (const line of await fireTimeLines(r.fireTimes, r.zone)) io.out(line);
    }
    return Exit.ok;
  }
  if (!fn) throw new UsageError(`schedules ${action} needs a function name`);
  const client = api();
  if (action === 'list' || action === 'get') {
    const r = await client
      .route('listSchedules', { name: fn })
      .json<{ schedules: Record<string, unknown>[] }>();
    if (out !== 'text') {
      io.out(render(r.schedules, out));
      return Exit.ok;
    }
    // Like `schedules preview`: a header per schedule, then one fire time per line, UTC and local.
    if (r.schedules.length === 0) io.out(`function/${fn} has no schedules`);
    for (const s of r.schedules) {
      const when = s.cron
        ? `${s.cron} (${s.timezone})`
        : `every ${s.every}${s.offset ? ` offset ${s.offset}` : ''}`;
      const state = s.missing
        ? 'MISSING in Temporal (re-apply the function)'
        : s.paused
          ? `PAUSED${s.note ? `: ${s.note}` : ''}`
          : 'active';
      io.out(`${fn}/${String(s.name)}: ${when}, overlap ${String(s.overlap)}, ${state}`);
      const zone = s.cron ? String(s.timezone) : 'UTC';
      for (const line of await fireTimeLines((s.nextFireTimes as string[] | undefined) ?? [], zone))
        io.out(line);
      const recent = (s.recent as { scheduledAt: string; status: string; executionId: string }[]) ?? [];
      if (recent.length) {
        io.out('  recent:');
        for (const x of recent) io.out(`    ${x.scheduledAt}  ${x.status.padEnd(10)} ${x.executionId}`);
      }
    }
    return Exit.ok;
  }
  if (!schedule) throw new UsageError(`schedules ${action} needs a function and a schedule name`);
  let body: Record<string, unknown>;
  if (action === 'pause' || action === 'unpause') body = values.note ? { note: values.note } : {};
  else if (action === 'trigger') body = values.overlap ? { overlap: values.overlap } : {};
  else if (action === 'backfill') {
    if (!values.from || !values.to) throw new UsageError('backfill needs --from and --to (RFC 3339)');
    body = { from: values.from, to: values.to, ...(values.overlap ? { overlap: values.overlap } : {}) };
  } else
    throw new UsageError(
      `unknown schedules action "${action}"; use list, pause, unpause, trigger, backfill or preview`,
    );
  const r = await client
    .route(SCHEDULE_ACTIONS[action as keyof typeof SCHEDULE_ACTIONS], { name: fn, schedule })
    .json<Record<string, unknown>>({ body });
  io.out(
    out === 'text'
      ? `${action}: ${fn}/${schedule}${r.overlap ? ` (overlap ${r.overlap})` : ''}`
      : render(r, out),
  );
  return Exit.ok;
}

/**
 * function_not_found for people: the API names its HTTP route; here the closest applied name and
 * the command that creates a function.
 */
function functionNotFound(err: ApiCallError): string {
  const d = (err.details ?? {}) as { function?: string; suggestion?: string };
  if (!d.function) return `error: ${err.message} (${err.code})`;
  return [
    `error: no function named "${d.function}"${d.suggestion ? `; did you mean "${d.suggestion}"?` : ''} (${err.code})`,
    `  to create it: pontoon apply -f <spec file>   (pontoon get functions lists the applied ones)`,
  ].join('\n');
}

function help(command: string, io: Io): number {
  // Own names only: `pontoon help toString` found Object.prototype.toString and crashed.
  io.out((Object.hasOwn(HELP, command) ? HELP[command] : undefined) ?? HELP.main!);
  return Exit.ok;
}

export async function main(argv: string[], io: Io = processIo): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case undefined:
      case '-h':
      case '--help':
      case 'help':
        return help(rest[0] ?? 'main', io);
      case '-V':
      case '--version':
      case 'version':
        io.out(`pontoon ${packageVersion()}`);
        return Exit.ok;
      case 'validate':
        return await cmdValidate(rest, io);
      case 'apply':
        return await cmdApply(rest, io);
      case 'build':
        return await cmdBuild(rest, io);
      case 'get':
        return await cmdGet(rest, io);
      case 'describe':
        return await cmdDescribe(rest, io);
      case 'invoke':
        return await cmdInvoke(rest, io);
      case 'logs':
        return await cmdLogs(rest, io);
      case 'cancel':
        return await cmdCancel(rest, io);
      case 'dead-letters':
        return await cmdDeadLetters(rest, io);
      case 'redrive':
        return await cmdRedrive(rest, io);
      case 'delete':
        return await cmdDelete(rest, io);
      case 'status':
        return await cmdStatus(rest, io);
      case 'schedules':
      case 'schedule':
        return await cmdSchedules(rest, io);
      case 'api-key':
        return await cmdApiKey(rest, io);
      case 'schema':
        if (rest.includes('--help') || rest.includes('-h')) return help('schema', io);
        io.out((await import('../core/json-schema.ts')).functionJsonSchemaText().trimEnd());
        return Exit.ok;
      case 'dev': {
        const { values } = guard(() =>
          parseArgs({
            args: rest,
            options: {
              ...helpOption,
              file: { type: 'string', short: 'f', multiple: true },
              port: { type: 'string' },
              'ui-port': { type: 'string' },
              'api-port': { type: 'string' },
            },
          }),
        );
        if (values.help) return help('dev', io);
        const { runDev } = await import('./dev.ts');
        return await runDev(
          {
            specPaths: values.file ?? [defaultSpecFolder()],
            port: Number(values.port ?? 7233),
            uiPort: Number(values['ui-port'] ?? 8233),
            apiPort: Number(values['api-port'] ?? process.env.PONTOON_API_PORT ?? 8080),
          },
          io,
        );
      }
      case 'worker': {
        if (rest.includes('--help') || rest.includes('-h')) return help('worker', io);
        const { runWorker } = await import('../worker/main.ts');
        await runWorker();
        return Exit.ok;
      }
      case 'api': {
        if (rest.includes('--help') || rest.includes('-h')) return help('api', io);
        const { runApi } = await import('../api/main.ts');
        await runApi();
        return Exit.ok;
      }
      default:
        io.err(`unknown command "${command}"\n`);
        io.err(HELP.main!);
        return Exit.usage;
    }
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`error: ${err.message} (see pontoon ${command} --help)`);
      return Exit.usage;
    }
    if (err instanceof UnreachableError) {
      io.err(`error: ${err.message}\nIs Pontoon running? Start it with: npm start (or set PONTOON_API)`);
      return Exit.unreachable;
    }
    if (err instanceof ApiCallError && err.code === 'function_not_found') {
      io.err(functionNotFound(err));
      return Exit.usage;
    }
    if (err instanceof ApiCallError) {
      io.err(`error: ${err.message} (${err.code})`);
      if (err.code === 'spec_invalid' && Array.isArray(err.details)) {
        for (const d of err.details as { line: number; column: number; field: string; message: string }[]) {
          io.err(`  ${d.line}:${d.column} ${d.field}: ${d.message}`);
        }
      }
      // Typed input refused: one line per problem, with its JSON Pointer into --input.
      if (err.code === 'validation_failed' && Array.isArray(err.details)) {
        for (const d of err.details as { field?: string; pointer?: string; message?: string }[]) {
          if (typeof d?.pointer === 'string')
            io.err(`  input${d.pointer === '' ? '' : ` ${d.pointer}`}: ${d.message}`);
        }
      }
      return Exit.usage;
    }
    if (['ConfigError', 'ApiConfigError', 'AuthConfigError'].includes((err as Error).name)) {
      io.err(`error: ${(err as Error).message}`);
      return Exit.usage;
    }
    io.err(`error: ${(err as Error).message}`);
    return Exit.failed;
  }
}
