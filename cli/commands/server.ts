/**
 * The API server itself: `status` (is it up, is Temporal reachable, is a worker polling?) and
 * `api-key create` (a new key and the line that configures the server with it).
 */
import type { Role } from '../../api/auth.ts';
import { UnreachableError } from '../api-client.ts';
import {
  api,
  type Command,
  guard,
  helpOption,
  outputFormat,
  outputOption,
  parseArgs,
  showHelp,
} from '../command.ts';
import { render } from '../format.ts';
import { Exit, UsageError } from '../output.ts';

export const status: Command = {
  help: `Usage: pontoon status [-o json|yaml]

Checks the API (/healthz) and its readiness (/readyz): Temporal reachable and a worker polling.
Exits 0 when ready, 3 when the API cannot be reached or is not ready (the reason is printed).`,
  async run(args, io) {
    const { values } = guard(() =>
      parseArgs({ args, options: { ...helpOption, ...outputOption }, allowPositionals: false }),
    );
    if (values.help) return showHelp(status.help, io);
    const out = outputFormat(values.output);
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
  },
};

export const apiKey: Command = {
  help: `Usage: pontoon api-key create --name <name> --role <viewer|invoker|admin>

Prints a new random API key (shown once) and the entry to add to PONTOON_API_KEYS or
PONTOON_API_KEYS_FILE; the server stores only the SHA-256 hash.`,
  async run(args, io) {
    const { positionals, values } = guard(() =>
      parseArgs({
        args,
        options: { ...helpOption, name: { type: 'string' }, role: { type: 'string' } },
        allowPositionals: true,
      }),
    );
    if (values.help || positionals[0] !== 'create') return showHelp(apiKey.help, io);
    if (!values.name || !/^[A-Za-z0-9._-]+$/.test(values.name))
      throw new UsageError('--name is required (letters, digits, . _ -)');
    const { newApiKey, ROLES } = await import('../../api/auth.ts');
    if (!ROLES.includes(values.role as Role))
      throw new UsageError(`--role must be one of ${ROLES.join(', ')}`);
    const { token, entry } = newApiKey(values.name, values.role as Role);
    io.out(`API key (shown once; give it to the client as PONTOON_TOKEN):
  ${token}

Configure the server with one of:
  PONTOON_API_KEYS=${entry.name}:${entry.role}:${entry.sha256}
  # or in PONTOON_API_KEYS_FILE:
  keys:
    - { name: ${entry.name}, role: ${entry.role}, sha256: ${entry.sha256} }`);
    return Exit.ok;
  },
};
