/**
 * Finish: the attempt's outcome recorded in its folder (logs/dir.ts RECORD_FILE) before it goes
 * back, so a worker lost between here and Temporal recording it leaves the exact outcome for the
 * retry; a warm attempt's log kept in its folder. Also the read side of the record:
 * `recordedOutcome` for a retried activity. The folder itself stays, for `pontoon logs`, until the
 * log store's retention removes it (sweep.ts).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import type { AttemptOutcome, AttemptRequest } from '../../core/execution.ts';
import { LOG_FILE, readRecordFile, writeRecordFile } from '../../logs/dir.ts';
import { attemptRecord, recordOfAnotherRun } from '../../logs/store.ts';
import { collectExitFile } from './collect.ts';
import type { RunAs } from './env.ts';

/** Records `outcome` in the attempt's folder and returns it (a failed write is logged: see below). */
export async function recordOutcome(
  dir: string,
  outcome: AttemptOutcome,
  runId: string | undefined,
  log: Logger,
): Promise<AttemptOutcome> {
  try {
    await writeRecordFile(dir, attemptRecord(outcome, runId));
  } catch (err) {
    // The exit status sh recorded is still there for a retry (a timeout would read as the signal).
    log.warn({ err: (err as Error).message }, 'could not record the attempt outcome in its folder');
  }
  return outcome;
}

/** A warm attempt's log (the replica's answer carries it) kept in the attempt's folder. */
export async function keepWarmLog(dir: string, logTail: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, LOG_FILE), logTail);
}

/**
 * The outcome of this attempt as a lost worker recorded it: the record (exact: a timeout stays a
 * timeout; only a file of the worker's own user is believed, and never another run's), else the
 * exit status its sh recorded (collect.ts), if it finished. Warm attempts have no exit status.
 */
export async function recordedOutcome(
  req: AttemptRequest,
  dir: string,
  runId: string | undefined,
  runAs: RunAs | undefined,
): Promise<AttemptOutcome | undefined> {
  const rec = await readRecordFile(dir, { owner: process.getuid?.() ?? 0 });
  if (rec && !recordOfAnotherRun(rec, runId)) return rec.outcome;
  if (rec) return undefined; // another run's folder
  if (req.spec.spec.execution.mode === 'warm') return undefined;
  return collectExitFile(req, dir, runAs);
}
