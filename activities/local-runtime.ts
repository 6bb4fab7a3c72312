/**
 * The local runtime: each attempt is a child process under the function contract, in its own
 * process group so a timeout or a cancellation kills everything it started. The observer's logic
 * (output.json, size limit, log tail) runs in-process. Used by `npm start`, `pontoon dev` and tests.
 */
import { spawn } from 'node:child_process';
import { closeSync, constants, fchownSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { access, lstat, mkdir, readdir, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import { attemptContractEnv } from '../contract/env.ts';
import { readLogTail, readOutput, readRegularFile } from '../contract/output.ts';
import { localCommand, localCwd } from '../core/build.ts';
import { type AttemptOutcome, type AttemptRequest, failure, functionRequestJson } from '../core/execution.ts';
import { readRecordFile, writeRecordFile } from '../logs/dir.ts';
import type { LogStore } from '../logs/store.ts';
import { startLogSweeper } from '../logs/sweeper.ts';
import {
  blockedFor,
  functionDir,
  functionEnv,
  functionReadable,
  LocalRunAsError,
  type RunAs,
  resolveRunAs,
} from './local-env.ts';
import {
  alive,
  groupGone,
  isAttemptLeader,
  killGroup,
  reapGroup,
  recordedPgid,
  signalNumber,
} from './local-processes.ts';
import { createLocalWarmPools } from './local-warm.ts';
import type { AttemptControl, FunctionRuntime } from './runtime.ts';

export interface LocalRuntimeConfig {
  /** Attempt folders and logs live here. */
  dataDir: string;
  /** Relative `local.cwd` and commands are taken from here. */
  localRoot: string;
  /** SIGTERM → SIGKILL grace on timeout or cancellation, and whenever a warm replica is stopped. */
  killGraceMs: number;
  /** Health checks of warm replicas (default WARM_HEALTH_CHECK in contract/warm-invoke.ts; tests shorten it). */
  warmHealthCheck?: { periodMs: number; timeoutMs: number; failureThreshold: number };
  /**
   * The dir log store over dataDir (logs/dir.ts: the same `runs/` folders), swept for retention
   * every `sweepIntervalMs`; unset: attempt folders are kept until removed by hand.
   */
  logs?: { store: LogStore; sweepIntervalMs: number };
  /**
   * PONTOON_LOCAL_RUN_AS: the user functions run as (name, uid or uid:gid; the worker must be
   * root). Unset: the worker's own user.
   */
  runAs?: string;
  /** PONTOON_LOCAL_SECRETS_DIR: where secretRef values are read (<name>/<key>); default dataDir/secrets. */
  secretsDir?: string;
}

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

/** Exit status of the attempt's command, written by RECORD_EXIT when the command ends. */
const EXIT_FILE = '.pontoon-exit';

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

export function attemptDir(dataDir: string, executionId: string, attempt: number): string {
  return path.join(dataDir, 'runs', encodeURIComponent(executionId), `attempt-${attempt}`);
}

export function attemptLogPath(dataDir: string, executionId: string, attempt: number): string {
  return path.join(attemptDir(dataDir, executionId, attempt), 'log');
}

export function createLocalRuntime(
  config: LocalRuntimeConfig,
  logger: Logger,
): FunctionRuntime & {
  reapExecution(executionId: string): Promise<number>;
  warmReplicas(fn: string): { pid: number; port: number; inFlight: number }[];
} {
  const runAs = config.runAs ? resolveRunAs(config.runAs) : undefined;
  const secretsDir = config.secretsDir ?? path.join(config.dataDir, 'secrets');
  if (runAs) {
    // Attempt folders live under dataDir: the function's user must reach them.
    mkdirSync(config.dataDir, { recursive: true });
    const blocked = blockedFor(config.dataDir, runAs, 1);
    if (blocked) {
      throw new LocalRunAsError(
        `PONTOON_LOCAL_RUN_AS=${config.runAs}: user ${runAs.name} cannot reach PONTOON_DATA_DIR ${config.dataDir} (${blocked}); let others search it (chmod o+x) or choose another folder`,
      );
    }
    logger.info({ user: runAs.name, uid: runAs.uid, gid: runAs.gid }, 'local functions run as another user');
  } else if (process.getuid?.() === 0) {
    logger.warn(
      'local functions run as root, like this worker: they can read its environment (/proc) and every file; set PONTOON_LOCAL_RUN_AS to an unprivileged user',
    );
  }
  /**
   * Kills process groups left by earlier runs of this execution: a worker that died mid-attempt
   * leaves its child running, and the retried attempt must never run beside it.
   */
  async function reapExecution(executionId: string): Promise<number> {
    const root = path.join(config.dataDir, 'runs', encodeURIComponent(executionId));
    let reaped = 0;
    let entries: string[] = [];
    try {
      entries = await readdir(root);
    } catch {
      return 0;
    }
    for (const entry of entries) {
      const pidFile = path.join(root, entry, 'pid');
      const pgid = await recordedPgid(pidFile);
      if (pgid === undefined) continue;
      if (pgid > 1 && alive(pgid)) {
        if ((await isAttemptLeader(pgid, path.join(root, entry, EXIT_FILE))) === false) {
          logger.info(
            { executionId, pgid, folder: entry },
            'the pid file names a process that is not this attempt (reused pid, or after a reboot): left alone',
          );
          await rm(pidFile, { force: true });
          continue;
        }
        const how = await reapGroup(pgid);
        // The exit status sh records for a function we killed is ours, not the function's: gone,
        // so the attempt runs again. One the function reached by itself stays, and is adopted.
        if (how === 'interrupted') await rm(path.join(root, entry, EXIT_FILE), { force: true });
        reaped++;
        logger.warn(
          { executionId, pgid, folder: entry, function: how },
          'killed a process group left by a lost worker',
        );
      }
      await rm(pidFile, { force: true });
    }
    return reaped;
  }

  const warm = createLocalWarmPools(
    {
      dataDir: config.dataDir,
      localRoot: config.localRoot,
      killGraceMs: config.killGraceMs,
      ...(config.warmHealthCheck ? { healthCheck: config.warmHealthCheck } : {}),
      secretsDir,
      ...(runAs ? { runAs } : {}),
    },
    logger.child({ component: 'local-warm' }),
  );
  const logSweeper =
    config.logs &&
    startLogSweeper(
      config.logs.store,
      config.logs.sweepIntervalMs,
      logger.child({ component: 'log-sweeper' }),
    );

  /**
   * Keeps the outcome in the attempt's folder (RECORD_FILE of logs/dir.ts) before it goes back: a
   * worker lost between here and Temporal recording it leaves the exact outcome for the retry.
   */
  async function record(dir: string, outcome: AttemptOutcome, control: AttemptControl, log: Logger) {
    try {
      await writeRecordFile(dir, { outcome, ...(control.runId ? { runId: control.runId } : {}) });
    } catch (err) {
      // The exit status sh recorded is still there for a retry (a timeout would read as the signal).
      log.warn({ err: (err as Error).message }, 'could not record the attempt outcome in its folder');
    }
    return outcome;
  }

  async function runAttempt(req: AttemptRequest, control: AttemptControl): Promise<AttemptOutcome> {
    const log = logger.child({ executionId: req.executionId, function: req.function, attempt: req.attempt });
    const dir = attemptDir(config.dataDir, req.executionId, req.attempt);
    // Only a retried activity has a predecessor (the first try of a reused execution id starts afresh).
    const retried = (control.activityAttempt ?? 1) > 1;
    if (req.spec.spec.execution.mode === 'warm') {
      const adopted = retried ? await recordedOutcome(req, dir, control) : undefined;
      if (adopted) {
        log.warn(
          { exitCode: adopted.exitCode },
          'adopted the outcome of this attempt recorded by a lost worker',
        );
        return adopted;
      }
      const outcome = await warm.runWarmAttempt(req, control);
      await mkdir(dir, { recursive: true });
      await writeFile(path.join(dir, 'log'), outcome.logTail);
      return record(dir, outcome, control, log);
    }
    await reapExecution(req.executionId);
    // After the reap nothing of a lost run is alive: a status recorded now is final. Its function
    // finished, so this attempt is done: report that outcome rather than run the function again.
    const recorded = retried ? await recordedOutcome(req, dir, control) : undefined;
    if (recorded) {
      log.warn(
        { exitCode: recorded.exitCode },
        'adopted the outcome of this attempt recorded by a lost worker',
      );
      return recorded;
    }
    await rm(dir, { recursive: true, force: true });
    await functionDir(dir, runAs);
    const logFile = path.join(dir, 'log');
    const inputFile = path.join(dir, 'input.json');
    await writeFile(inputFile, functionRequestJson(req), { mode: 0o600 });
    await functionReadable(inputFile, runAs);

    const spec = req.spec.spec;
    const command = localCommand(spec);
    const startedAt = new Date().toISOString();
    /** The function could not be started: not retried (the same spec would fail again). */
    const notStarted = (message: string): Promise<AttemptOutcome> =>
      record(
        dir,
        {
          exitCode: null,
          startedAt,
          endedAt: new Date().toISOString(),
          logTail: '',
          failure: failure('LaunchFailed', message),
        },
        control,
        log,
      );
    if (command.length === 0) {
      return notStarted(
        'no command: set spec.local.command, spec.build or spec.command for the local runtime',
      );
    }
    const built = await functionEnv(req.spec, { secretsDir, runAs });
    if ('problem' in built) return notStarted(built.problem);
    const env = built.env;
    for (const { name, value } of attemptContractEnv(req, dir)) env[name] = value;

    const cwd = path.resolve(config.localRoot, localCwd(spec));
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
    // The worker's files in the folder exist before the function starts, so it cannot plant its own
    // (a link where the worker would write); in a sticky folder it cannot replace them afterwards.
    const fd = openSync(logFile, 'a', 0o600);
    const pidFd = openSync(
      path.join(dir, 'pid'),
      constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL,
      0o600,
    );
    let child: ReturnType<typeof spawn>;
    try {
      if (runAs) fchownSync(fd, process.getuid?.() ?? 0, runAs.gid);
      child = spawn(
        '/bin/sh',
        ['-c', RECORD_EXIT, 'pontoon-attempt', path.join(dir, EXIT_FILE), ...command],
        {
          cwd,
          env,
          detached: true,
          stdio: ['ignore', fd, fd],
          ...(runAs ? { uid: runAs.uid, gid: runAs.gid } : {}),
        },
      );
    } catch (err) {
      closeSync(pidFd);
      throw err;
    } finally {
      closeSync(fd);
    }
    // Listen for the exit before any await: a fast function can exit before the next tick.
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.once('exit', (code, signal) => resolve({ code, signal })),
    );
    const spawned = await new Promise<{ ok: true } | { ok: false; error: Error }>((resolve) => {
      child.once('spawn', () => resolve({ ok: true }));
      child.once('error', (error) => resolve({ ok: false, error }));
    });
    if (!spawned.ok) {
      closeSync(pidFd);
      log.warn({ err: spawned.error }, 'could not start the function');
      return notStarted(`cannot start ${JSON.stringify(command[0])} in ${cwd}: ${spawned.error.message}`);
    }
    const pgid = child.pid!;
    try {
      writeSync(pidFd, String(pgid));
    } finally {
      closeSync(pidFd);
    }
    log.info({ pid: pgid, command }, 'attempt started');

    let timedOut = false;
    let cancelled = false;
    let killTimer: NodeJS.Timeout | undefined;
    const stop = (why: 'timeout' | 'cancel') => {
      if (why === 'timeout') timedOut = true;
      else cancelled = true;
      killGroup(pgid, 'SIGTERM');
      killTimer ??= setTimeout(
        () => killGroup(pgid, 'SIGKILL'),
        why === 'cancel' ? Math.min(config.killGraceMs, 2000) : config.killGraceMs,
      );
    };
    const timeoutTimer = setTimeout(() => stop('timeout'), req.timeoutMs);
    const beat = setInterval(
      () => control.heartbeat({ pid: pgid, elapsedMs: Date.now() - Date.parse(startedAt) }),
      1000,
    );
    const onAbort = () => stop('cancel');
    control.signal.addEventListener('abort', onAbort, { once: true });
    control.heartbeat({ pid: pgid, elapsedMs: 0 });

    const { code, signal } = await exited;
    clearTimeout(timeoutTimer);
    clearInterval(beat);
    control.signal.removeEventListener('abort', onAbort);
    if (killTimer) clearTimeout(killTimer);
    // The main process is gone; anything it left in its group goes too (no orphans).
    killGroup(pgid, 'SIGKILL');
    await groupGone(pgid);
    await rm(path.join(dir, 'pid'), { force: true });
    const endedAt = new Date().toISOString();
    const logTail = await readLogTail(logFile);
    const exitCode = code ?? (signal ? 128 + (signalNumber(signal) ?? 0) : null);
    log.info({ exitCode, signal, timedOut, cancelled }, 'attempt ended');

    if (cancelled) {
      const outcome = {
        exitCode,
        startedAt,
        endedAt,
        logTail,
        failure: failure('FunctionExit', 'cancelled'),
      };
      return record(dir, outcome, control, log);
    }
    if (timedOut) {
      const outcome = {
        exitCode,
        startedAt,
        endedAt,
        logTail,
        failure: failure(
          'AttemptTimedOut',
          `attempt ran past its timeout of ${req.timeoutMs} ms and was killed`,
        ),
      };
      return record(dir, outcome, control, log);
    }
    const outcome = await ended(req, dir, {
      code,
      signal: signal ?? undefined,
      exitCode,
      startedAt,
      endedAt,
      logTail,
    });
    return record(dir, outcome, control, log);
  }

  /** The outcome of a command that ended by itself (exit code or signal). */
  async function ended(
    req: AttemptRequest,
    dir: string,
    e: {
      code: number | null;
      signal: string | undefined;
      exitCode: number | null;
      startedAt: string;
      endedAt: string;
      logTail: string;
    },
  ): Promise<AttemptOutcome> {
    const { code, exitCode, startedAt, endedAt, logTail } = e;
    if (code === 0) {
      const observed = await readOutput(dir, undefined, runAs ? { owner: runAs.uid } : {});
      return { exitCode: 0, startedAt, endedAt, logTail, output: observed.output, failure: observed.failure };
    }
    const nonRetryable = code !== null && req.spec.spec.execution.retry.nonRetryableExitCodes.includes(code);
    const message = code !== null ? `exited with code ${code}` : `killed by ${e.signal}`;
    return {
      exitCode,
      startedAt,
      endedAt,
      logTail,
      failure: failure(nonRetryable ? 'FunctionExitNonRetryable' : 'FunctionExit', message),
    };
  }

  /**
   * The outcome of this attempt as a lost worker recorded it: the record (exact: a timeout stays a
   * timeout), else the exit status its sh recorded (the worker was lost between the function's end
   * and the record), if it finished.
   */
  async function recordedOutcome(
    req: AttemptRequest,
    dir: string,
    control: AttemptControl,
  ): Promise<AttemptOutcome | undefined> {
    const rec = await readRecordFile(dir, { owner: process.getuid?.() ?? 0 });
    if (rec && !(rec.runId && control.runId && rec.runId !== control.runId)) return rec.outcome;
    if (rec) return undefined; // another run's folder
    if (req.spec.spec.execution.mode === 'warm') return undefined;
    const file = path.join(dir, EXIT_FILE);
    // Written by the attempt's sh, as the function's user: read without following links or waiting.
    const read = await readRegularFile(file, 32);
    if (!('bytes' in read)) return undefined;
    const text = read.bytes.toString('utf8').trim();
    let endedAt: string;
    try {
      endedAt = (await lstat(file)).mtime.toISOString();
    } catch {
      return undefined;
    }
    // Empty: sh was killed while writing it (the reap); the run's end is unknown, so it runs again.
    if (!/^\d+$/.test(text)) return undefined;
    const status = Number(text);
    const startedAt = await stat(path.join(dir, 'input.json')).then(
      (s) => s.mtime.toISOString(),
      () => endedAt,
    );
    // sh reports a command ended by signal n as 128 + n.
    const signal = status > 128 ? `signal ${status - 128}` : undefined;
    return ended(req, dir, {
      code: signal ? null : status,
      signal,
      exitCode: status,
      startedAt,
      endedAt,
      logTail: await readLogTail(path.join(dir, 'log')),
    });
  }

  return {
    kind: 'local',
    runAttempt,
    reapExecution,
    warmReplicas: warm.replicas,
    async close() {
      logSweeper?.stop();
      await warm.close();
    },
  };
}

export type LocalRuntime = ReturnType<typeof createLocalRuntime>;
