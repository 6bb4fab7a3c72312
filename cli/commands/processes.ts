/**
 * The commands that run Pontoon's processes: `dev` (Temporal dev server, worker, API and the
 * example functions in one; cli/dev.ts), `worker` and `api`.
 */
import { existsSync } from 'node:fs';
import { packagePath } from '../../platform/package-root.ts';
import { type Command, guard, helpOption, parseArgs, showHelp } from '../command.ts';
import { Exit } from '../output.ts';

/**
 * What `pontoon dev` applies without -f: function-specs/ in the current folder (a checkout, a
 * project laid out like it), else the examples shipped with Pontoon (an installed package).
 */
function defaultSpecFolder(): string {
  return existsSync('function-specs') ? 'function-specs' : packagePath('function-specs');
}

export const dev: Command = {
  help: `Usage: pontoon dev [-f <folder>] [--port 7233] [--ui-port 8233] [--api-port 8080]

Starts the Temporal dev server (state kept in .pontoon/temporal.db), the Pontoon worker on the local
runtime, the API on 127.0.0.1 (open, no auth: local development only), and applies every spec in
function-specs/ (or -f; without either, the examples shipped with Pontoon). Reuses a Temporal server
already listening on the port. Ctrl-C stops everything.`,
  async run(args, io) {
    const { values } = guard(() =>
      parseArgs({
        args,
        options: {
          ...helpOption,
          file: { type: 'string', short: 'f', multiple: true },
          port: { type: 'string' },
          'ui-port': { type: 'string' },
          'api-port': { type: 'string' },
        },
      }),
    );
    if (values.help) return showHelp(dev.help, io);
    const { runDev } = await import('../dev.ts');
    return await runDev(
      {
        specPaths: values.file ?? [defaultSpecFolder()],
        port: Number(values.port ?? 7233),
        uiPort: Number(values['ui-port'] ?? 8233),
        apiPort: Number(values['api-port'] ?? process.env.PONTOON_API_PORT ?? 8080),
      },
      io,
    );
  },
};

export const worker: Command = {
  help: `Usage: pontoon worker

Runs the Pontoon worker against TEMPORAL_ADDRESS until SIGTERM/SIGINT, then finishes in-flight work.`,
  async run(args, io) {
    if (args.includes('--help') || args.includes('-h')) return showHelp(worker.help, io);
    const { runWorker } = await import('../../worker/main.ts');
    await runWorker();
    return Exit.ok;
  },
};

export const apiServer: Command = {
  help: `Usage: pontoon api

Serves the REST API (PONTOON_API_HOST default 127.0.0.1, PONTOON_API_PORT default 8080) against
TEMPORAL_ADDRESS. Auth is required unless PONTOON_AUTH=none: configure keys with PONTOON_API_KEYS
("name:role:sha256,…") or PONTOON_API_KEYS_FILE (YAML/JSON {keys: [{name, role, sha256}]}).`,
  async run(args, io) {
    if (args.includes('--help') || args.includes('-h')) return showHelp(apiServer.help, io);
    const { runApi } = await import('../../api/main.ts');
    await runApi();
    return Exit.ok;
  },
};
