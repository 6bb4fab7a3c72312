/**
 * Collect: how an attempt's process ended turned into its outcome — cancelled, timed out, or ended by
 * itself (exit code 0: output.json read as the observer would, contract/output.ts; non-zero: the
 * contract's exit rule, contract/exit.ts; a signal). Also the outcome of a lost worker's attempt from
 * the exit status its sh recorded in the folder (launch.ts EXIT_FILE). Reads; changes nothing.
 */
import { lstat, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import { INPUT_FILE } from '../../contract/env.ts';
import { exitFailure } from '../../contract/exit.ts';
import { readLogTail, readOutput, readRegularFile } from '../../contract/output.ts';
import { type AttemptOutcome, type AttemptRequest, failure } from '../../core/execution.ts';
import { LOG_FILE } from '../../logs/dir.ts';
import type { ProcessVerdict } from './await.ts';
import type { RunAs } from './env.ts';
import { EXIT_FILE } from './launch.ts';
import { signalNumber } from './processes.ts';

/** How a command ended by itself, and what the attempt saw of it. */
interface Ended {
  /** Its exit code; null when a signal ended it. */
  code: number | null;
  signal: string | undefined;
  /** The code reported (a signal n as 128 + n, as a shell would). */
  exitCode: number | null;
  startedAt: string;
  endedAt: string;
  logTail: string;
}

/** The outcome of an attempt whose process group is gone (await.ts), its log tail read from `dir`. */
export async function collect(
  req: AttemptRequest,
  dir: string,
  verdict: ProcessVerdict,
  startedAt: string,
  runAs: RunAs | undefined,
  log: Logger,
): Promise<AttemptOutcome> {
  const { code, signal, timedOut, cancelled } = verdict;
  const endedAt = new Date().toISOString();
  const logTail = await readLogTail(path.join(dir, LOG_FILE));
  const exitCode = code ?? (signal ? 128 + (signalNumber(signal) ?? 0) : null);
  log.info({ exitCode, signal, timedOut, cancelled }, 'attempt ended');
  if (cancelled) {
    return { exitCode, startedAt, endedAt, logTail, failure: failure('FunctionExit', 'cancelled') };
  }
  if (timedOut) {
    return {
      exitCode,
      startedAt,
      endedAt,
      logTail,
      failure: failure(
        'AttemptTimedOut',
        `attempt ran past its timeout of ${req.timeoutMs} ms and was killed`,
      ),
    };
  }
  return collectEnded(
    req,
    dir,
    { code, signal: signal ?? undefined, exitCode, startedAt, endedAt, logTail },
    runAs,
  );
}

/** The outcome of a command that ended by itself (exit code or signal). */
async function collectEnded(
  req: AttemptRequest,
  dir: string,
  e: Ended,
  runAs: RunAs | undefined,
): Promise<AttemptOutcome> {
  const { code, exitCode, startedAt, endedAt, logTail } = e;
  if (code === 0) {
    const observed = await readOutput(dir, undefined, runAs ? { owner: runAs.uid } : {});
    return { exitCode: 0, startedAt, endedAt, logTail, output: observed.output, failure: observed.failure };
  }
  return {
    exitCode,
    startedAt,
    endedAt,
    logTail,
    failure:
      code !== null
        ? exitFailure(code, req.spec.spec.execution.retry.nonRetryableExitCodes)
        : failure('FunctionExit', `killed by ${e.signal}`),
  };
}

/**
 * The outcome of a lost worker's attempt from the exit status its sh recorded (the worker was lost
 * between the function's end and the record), if it finished; undefined when it did not (or the
 * status is unreadable: the attempt then runs again).
 */
export async function collectExitFile(
  req: AttemptRequest,
  dir: string,
  runAs: RunAs | undefined,
): Promise<AttemptOutcome | undefined> {
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
  const startedAt = await stat(path.join(dir, INPUT_FILE)).then(
    (s) => s.mtime.toISOString(),
    () => endedAt,
  );
  // sh reports a command ended by signal n as 128 + n.
  const signal = status > 128 ? `signal ${status - 128}` : undefined;
  return collectEnded(
    req,
    dir,
    {
      code: signal ? null : status,
      signal,
      exitCode: status,
      startedAt,
      endedAt,
      logTail: await readLogTail(path.join(dir, LOG_FILE)),
    },
    runAs,
  );
}
