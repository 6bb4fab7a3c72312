/**
 * The observer: the second container of every on-demand attempt pod and of warm replicas (image:
 * observer/Dockerfile).
 *
 *   observer on-demand   native sidecar: writes $PONTOON_DIR/input.json from PONTOON_INPUT_<i> (when
 *                        PONTOON_INPUT_CHUNKS is set), then waits until the function container's
 *                        processes are gone (the pod shares one process namespace: function-exit.ts)
 *                        or for SIGTERM, which the kubelet sends once the function container has
 *                        exited, whichever comes first; then reads $PONTOON_DIR/output.json
 *                        (size limit, JSON check), writes its report to the termination message and,
 *                        when the output is too large for it, prints the output on stdout
 *                        (contract/termination.ts)
 *   observer beside      ordinary container beside the function (pods whose request fits in an
 *                        annotation: the kubelet hands the function input.json from a downward API
 *                        volume, so nothing has to run before it): reports once the function's
 *                        processes are gone, telling "not started yet" from "already gone" by the
 *                        input.json mount target in $PONTOON_DIR (function-exit.ts), or on SIGTERM
 *                        (the pod deleted); no hook, writes no input
 *   observer ready       the on-demand sidecar's postStart hook: returns once the sidecar has written
 *                        input.json and listens for SIGTERM ($PONTOON_DIR/.observer-ready), so the
 *                        kubelet starts the function only then. Without it a fast function could
 *                        exit, and the kubelet send its SIGTERM, before the sidecar's handler exists:
 *                        as PID 1 it would drop the signal and never report (seen on a loaded real node).
 *   observer prepare     writes input.json and exits: the init container of pods built before the
 *                        sidecar took this over (kept so such a pod spec still runs with this image)
 *   observer warm        container of a warm replica: a Temporal worker on the function's warm task
 *                        queue that forwards attempts to the function's server (observer/warm.ts)
 *
 * Environment: PONTOON_DIR (default /pontoon), PONTOON_OUTPUT_LIMIT (bytes, default LIMITS.outputBytes),
 * PONTOON_TERMINATION_LOG (default /dev/termination-log; tests point it at a temp file),
 * PONTOON_PROC_ROOT (default /proc: where on-demand looks for the function's processes; tests point it
 * at a tree of their own).
 * Diagnostics go to stderr; stdout carries nothing but the output block.
 */
import { access, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { INPUT_FILE } from '../contract/env.ts';
import { readOutput } from '../contract/output.ts';
import { joinInput, reportFor } from '../contract/termination.ts';
import { LIMITS } from '../core/execution.ts';
import { watchFunctionExit } from './function-exit.ts';

const dir = process.env.PONTOON_DIR ?? '/pontoon';
const terminationLog = process.env.PONTOON_TERMINATION_LOG ?? '/dev/termination-log';
const outputLimit = Number(process.env.PONTOON_OUTPUT_LIMIT ?? LIMITS.outputBytes);
/** Written by the on-demand sidecar once its SIGTERM handler is installed. */
const READY_FILE = '.observer-ready';
const READY_TIMEOUT_MS = 60_000;
const FUNCTION_EXITED = 'the function exited';
/** How long the sidecar outlives its report when it saw the function exit itself (see onDemand). */
const EXIT_SETTLE_MS = 150;

function writeStdout(text: string): Promise<void> {
  return new Promise((resolve, reject) =>
    process.stdout.write(text, (err) => (err ? reject(err) : resolve())),
  );
}

/**
 * Writes input.json from the PONTOON_INPUT_<i> chunks, whole or not at all (a temporary file renamed
 * into place: a restarted sidecar rewrites it without a reader ever seeing half of it). Throws on a
 * broken request: the function is never handed one.
 */
async function prepare(): Promise<void> {
  const json = joinInput(process.env);
  JSON.parse(json); // refuse to hand the function a broken input.json
  const tmp = path.join(dir, `.${INPUT_FILE}.${process.pid}`);
  await writeFile(tmp, json, { mode: 0o644 });
  await rename(tmp, path.join(dir, INPUT_FILE));
}

async function report(): Promise<void> {
  const observed = await readOutput(dir, outputLimit);
  const { report, stdout } = reportFor(observed);
  if (stdout) await writeStdout(stdout);
  await writeFile(terminationLog, report);
}

/**
 * Reports once the function has exited. `beside`: an ordinary container started after the function
 * (no input to write, no ready file, nobody restarts it); else the native sidecar started before it.
 */
async function onDemand(beside: boolean): Promise<void> {
  // The request first: `ready` (the postStart hook the function waits for) returns only after it.
  if (!beside && process.env.PONTOON_INPUT_CHUNKS !== undefined) await prepare();
  return new Promise((resolve, reject) => {
    // Keep the event loop alive until the function exits or the kubelet sends its SIGTERM.
    const keepAlive = setInterval(() => {}, 1 << 30);
    let finished = false;
    const finish = (why: string) => {
      if (finished) return;
      finished = true;
      clearInterval(keepAlive);
      exitWatch.stop();
      process.stderr.write(`observer: ${why}; reporting\n`);
      report()
        // Seen from /proc, the function's process is gone a moment before the container runtime has
        // recorded its container exited; a kubelet relist in between would see the sidecar exited
        // beside a running function and restart it. So the sidecar stays EXIT_SETTLE_MS after its
        // report (a relist then sees it running and sends the SIGTERM it no longer needs). Beside
        // the function nobody restarts it (restartPolicy Never), so it exits at once.
        .then(() =>
          why === FUNCTION_EXITED && !beside ? new Promise((r) => setTimeout(r, EXIT_SETTLE_MS)) : undefined,
        )
        .then(() => resolve(), reject);
    };
    // Whichever comes first: the function's processes gone (shared process namespace, so the pod
    // ends in one kubelet relist: observer/function-exit.ts), or the kubelet's SIGTERM.
    const exitWatch = watchFunctionExit(() => finish(FUNCTION_EXITED), {
      procRoot: process.env.PONTOON_PROC_ROOT ?? '/proc',
      // Beside the function: its input.json mount target appears in the shared folder once its
      // container was created (function-exit.ts).
      ...(beside ? { createdMarker: path.join(dir, INPUT_FILE) } : {}),
    });
    process.once('SIGTERM', () => finish('SIGTERM'));
    process.once('SIGINT', () => finish('SIGINT'));
    const watching = () =>
      process.stderr.write(`observer: watching ${dir}; reporting when the function exits or on SIGTERM\n`);
    if (beside) watching();
    else writeFile(path.join(dir, READY_FILE), '').then(watching, reject);
  });
}

/** Waits until the on-demand sidecar has its SIGTERM handler (at most READY_TIMEOUT_MS). */
async function ready(): Promise<void> {
  const until = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    try {
      await access(path.join(dir, READY_FILE));
      return;
    } catch {
      if (Date.now() > until) throw new Error(`the observer was not ready within ${READY_TIMEOUT_MS} ms`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

async function main(argv: string[]): Promise<void> {
  const mode = argv[0];
  if (mode === 'prepare') return prepare();
  if (mode === 'on-demand') return onDemand(false);
  if (mode === 'beside') return onDemand(true);
  if (mode === 'ready') return ready();
  if (mode === 'warm') return (await import('./warm.ts')).serveWarm();
  throw new Error(`usage: observer on-demand|beside|ready|prepare|warm (got ${JSON.stringify(mode ?? '')})`);
}

main(process.argv.slice(2)).then(
  () => process.exit(0),
  async (err: unknown) => {
    const message = `observer: ${(err as Error)?.message ?? String(err)}`;
    process.stderr.write(`${message}\n`);
    await writeFile(terminationLog, message.slice(0, 4000)).catch(() => {});
    process.exit(1);
  },
);
