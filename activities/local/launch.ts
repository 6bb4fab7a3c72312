/**
 * Launch: the attempt's folder made afresh (its input.json, its log), the checks that would stop the
 * function from starting (no command, a secret that cannot be read, a missing or unreachable working
 * directory, no such executable for its user), then the process spawned with the contract's
 * environment (contract/env.ts), in a process group of its own so a timeout or a cancellation stops
 * everything it started. A function that cannot start is a failure (LaunchFailed), not an exception:
 * the same spec would fail again.
 */
import { spawn } from 'node:child_process';
import { closeSync, constants, fchownSync, openSync, writeSync } from 'node:fs';
import { access, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import { attemptContractEnv, INPUT_FILE } from '../../contract/env.ts';
import { localCommand, localCwd } from '../../core/build.ts';
import {
  type AttemptFailure,
  type AttemptRequest,
  failure,
  functionRequestJson,
} from '../../core/execution.ts';
import { LOG_FILE, PID_FILE } from '../../logs/dir.ts';
import { blockedFor, functionDir, functionEnv, functionReadable, type RunAs } from './env.ts';
import { ATTEMPT_SH_NAME } from './processes.ts';

/**
 * The attempt's process is `sh` running the command, then recording its exit status in the attempt
 * folder (EXIT_FILE), so the status outlives the worker: when a worker dies after its function
 * finished but before Temporal heard the outcome, the retried activity reports the recorded outcome
 * instead of running the function a second time. sh only defers TERM/INT/HUP until the command
 * ends (a trap handler, unlike an ignored signal, is not inherited: the function sees every signal as
 * before), keeps its own messages ("Killed") out of the log, and re-raises the signal that ended the
 * command, so the worker sees the exit code or signal it would have seen without sh.
 */
// Builtins only (echo, trap, kill, [): a spec's own PATH cannot break it.
const RECORD_EXIT = [
  'f=$1; shift',
  'trap : TERM INT HUP',
  'exec 3>&2 2>/dev/null',
  '(exec "$@" 2>&3 3>&-)',
  'c=$?',
  'echo "$c" > "$f"',
  'if [ "$c" -gt 128 ]; then trap - TERM INT HUP; kill -s "$((c - 128))" $$; fi',
  'exit "$c"',
].join('\n');

/**
 * Exit status of the attempt's command, written by its sh when the command ends (read back by
 * collect.ts for a lost worker's attempt, and by the reap in sweep.ts).
 */
export const EXIT_FILE = '.pontoon-exit';

/** What a launch uses of the runtime. */
export interface LaunchParts {
  /** Relative `local.cwd` and commands are taken from here. */
  localRoot: string;
  /** PONTOON_LOCAL_SECRETS_DIR. */
  secretsDir: string;
  /** The user functions run as (PONTOON_LOCAL_RUN_AS); unset: the worker's. */
  runAs: RunAs | undefined;
}

/** How the attempt's process ended: its exit code, or the signal that ended it. */
export interface ProcessExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A started attempt: its process group (`pgid`, also its pid), and its exit to await. */
export interface LaunchedProcess {
  pgid: number;
  command: string[];
  /** Resolves when the attempt's sh (the group's leader) exits. */
  exited: Promise<ProcessExit>;
}

/**
 * The attempt's process started in `dir` (its folder, emptied first), or why it could not start.
 * `startedAt` (ISO 8601) is taken once the folder is ready, before the checks.
 */
export async function launchProcess(
  parts: LaunchParts,
  req: AttemptRequest,
  dir: string,
  log: Logger,
): Promise<{ startedAt: string } & (LaunchedProcess | { failure: AttemptFailure })> {
  const { runAs } = parts;
  await prepareFolder(req, dir, runAs);
  const startedAt = new Date().toISOString();
  /** The function could not be started: not retried (the same spec would fail again). */
  const notStarted = (message: string) => ({ startedAt, failure: failure('LaunchFailed', message) });
  const spec = req.spec.spec;
  const command = localCommand(spec);
  if (command.length === 0) {
    return notStarted('no command: set spec.local.command, spec.build or spec.command for the local runtime');
  }
  const built = await functionEnv(req.spec, { secretsDir: parts.secretsDir, runAs });
  if ('problem' in built) return notStarted(built.problem);
  const env = built.env;
  for (const { name, value } of attemptContractEnv(req, dir)) env[name] = value;

  const cwd = path.resolve(parts.localRoot, localCwd(spec));
  if (
    !(await stat(cwd).then(
      (s) => s.isDirectory(),
      () => false,
    ))
  ) {
    return notStarted(
      `working directory ${cwd} does not exist (spec.local.cwd, or spec.build.context on this machine)`,
    );
  }
  const unreachable = runAs && blockedFor(cwd, runAs, 1);
  if (unreachable) {
    return notStarted(
      `working directory ${cwd} is not reachable by user ${runAs.name} (PONTOON_LOCAL_RUN_AS): ${unreachable}`,
    );
  }
  const cannot = await commandProblem(command[0]!, cwd, env.PATH, runAs);
  if (cannot) return notStarted(cannot);
  const started = await spawnAttempt(dir, command, cwd, env, runAs);
  if ('error' in started) {
    log.warn({ err: started.error }, 'could not start the function');
    return notStarted(`cannot start ${JSON.stringify(command[0])} in ${cwd}: ${started.error.message}`);
  }
  log.info({ pid: started.pgid, command }, 'attempt started');
  return { startedAt, ...started };
}

/** The attempt's folder, emptied and made the function's (env.ts functionDir), with its input.json. */
async function prepareFolder(req: AttemptRequest, dir: string, runAs: RunAs | undefined): Promise<void> {
  await rm(dir, { recursive: true, force: true });
  await functionDir(dir, runAs);
  const inputFile = path.join(dir, INPUT_FILE);
  await writeFile(inputFile, functionRequestJson(req), { mode: 0o600 });
  await functionReadable(inputFile, runAs);
}

/**
 * Spawns the attempt's sh (RECORD_EXIT) running `command`, its output to the folder's log, and
 * writes its pgid to the pid file once it is running.
 */
async function spawnAttempt(
  dir: string,
  command: string[],
  cwd: string,
  env: Record<string, string>,
  runAs: RunAs | undefined,
): Promise<LaunchedProcess | { error: Error }> {
  // The worker's files in the folder exist before the function starts, so it cannot plant its own
  // (a link where the worker would write); in a sticky folder it cannot replace them afterwards.
  const fd = openSync(path.join(dir, LOG_FILE), 'a', 0o600);
  const pidFd = openSync(
    path.join(dir, PID_FILE),
    constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL,
    0o600,
  );
  let child: ReturnType<typeof spawn>;
  try {
    if (runAs) fchownSync(fd, process.getuid?.() ?? 0, runAs.gid);
    child = spawn('/bin/sh', ['-c', RECORD_EXIT, ATTEMPT_SH_NAME, path.join(dir, EXIT_FILE), ...command], {
      cwd,
      env,
      detached: true,
      stdio: ['ignore', fd, fd],
      ...(runAs ? { uid: runAs.uid, gid: runAs.gid } : {}),
    });
  } catch (err) {
    closeSync(pidFd);
    throw err;
  } finally {
    closeSync(fd);
  }
  // Listen for the exit before any await: a fast function can exit before the next tick.
  const exited = new Promise<ProcessExit>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const spawned = await new Promise<{ ok: true } | { ok: false; error: Error }>((resolve) => {
    child.once('spawn', () => resolve({ ok: true }));
    child.once('error', (error) => resolve({ ok: false, error }));
  });
  if (!spawned.ok) {
    closeSync(pidFd);
    return { error: spawned.error };
  }
  const pgid = child.pid!;
  try {
    writeSync(pidFd, String(pgid));
  } finally {
    closeSync(pidFd);
  }
  return { pgid, command, exited };
}

async function executable(file: string): Promise<boolean> {
  return access(file, constants.X_OK).then(
    () => true,
    () => false,
  );
}

/**
 * Why `command` would not start (spawn's ENOENT, checked up front since sh now does the exec), for
 * the user it runs as; undefined when it would.
 */
async function commandProblem(
  command: string,
  cwd: string,
  envPath: string | undefined,
  runAs: RunAs | undefined,
): Promise<string | undefined> {
  const candidates = command.includes('/')
    ? [path.resolve(cwd, command)]
    : (envPath ?? '')
        .split(path.delimiter)
        .filter(Boolean)
        .map((dir) => path.resolve(cwd, dir, command));
  let blocked: string | undefined;
  for (const file of candidates) {
    if (!(await executable(file))) continue;
    if (!runAs) return undefined;
    const why = blockedFor(file, runAs, 1);
    if (!why) return undefined;
    blocked ??= why;
  }
  const where = `cannot start ${JSON.stringify(command)} in ${cwd}`;
  if (blocked) return `${where}: user ${runAs!.name} (PONTOON_LOCAL_RUN_AS) may not run it: ${blocked}`;
  return `${where}: no such executable${command.includes('/') ? '' : ' on PATH'}`;
}
