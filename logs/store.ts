/**
 * Where the logs of finished attempts are kept, so `pontoon logs` finds them from any API replica
 * after the attempt's process or pod is gone. Two stores behind one interface:
 *
 * - `dir`: files under `<dir>/runs/<execution id>/attempt-<n>/log`, the layout the local runtime
 *   writes as the function runs. For the kubernetes runtime it suits a volume every worker and API
 *   replica mounts (ReadWriteMany).
 * - `secret`: one Kubernetes Secret per attempt holding the gzip-compressed log (logs/secret.ts).
 *
 * A stored log is capped to `maxBytes` with its tail kept: the end of a log says how it ended, and a
 * first line says what was dropped (TRUNCATION_MARKER).
 */
import type { Readable } from 'node:stream';
import type { AttemptOutcome } from '../core/execution.ts';

export interface AttemptLogKey {
  executionId: string;
  function: string;
  attempt: number;
}

/**
 * What a finished attempt produced, kept with its log: the record a retried activity adopts instead
 * of running the attempt again (exactly-once after a worker lost between the outcome and Temporal
 * recording it). The kubernetes runtime stores it before it deletes the attempt's pod, so at every
 * moment the pod or its record exists.
 */
export interface AttemptRecord {
  /** The outcome the attempt's activity returned (or would have, had its worker lived). */
  outcome: AttemptOutcome;
  /**
   * Temporal run id of the execution the attempt belongs to, when known: a record of another run of
   * the same execution id (an id reused after the first run closed) is never adopted.
   */
  runId?: string;
}

/** The record of an attempt's outcome, naming its execution's run when known. */
export function attemptRecord(outcome: AttemptOutcome, runId: string | undefined): AttemptRecord {
  return { outcome, ...(runId ? { runId } : {}) };
}

/**
 * Whether a record is of a run of its execution other than `runId` (unknown on either side: no).
 * Such a record is never adopted: its attempt was another run's.
 */
export function recordOfAnotherRun(record: AttemptRecord, runId: string | undefined): boolean {
  return Boolean(record.runId && runId && record.runId !== runId);
}

/** The fields of a stored record, checked (a record is data read back from outside the process). */
export function parseAttemptRecord(value: unknown): AttemptRecord | undefined {
  const r = value as { outcome?: Partial<AttemptOutcome>; runId?: unknown } | null;
  const o = r?.outcome;
  if (
    typeof o !== 'object' ||
    o === null ||
    typeof o.startedAt !== 'string' ||
    typeof o.endedAt !== 'string' ||
    typeof o.logTail !== 'string' ||
    !(typeof o.exitCode === 'number' || o.exitCode === null) ||
    (o.failure !== undefined && typeof o.failure?.type !== 'string')
  ) {
    return undefined;
  }
  return {
    outcome: o as AttemptOutcome,
    ...(typeof r?.runId === 'string' ? { runId: r.runId } : {}),
  };
}

export interface StoredLog {
  /** The log text, or a stream of it (a local runtime's log file may be large). */
  body: Buffer | Readable;
  /** True when the first line is the truncation marker. */
  truncated: boolean;
  /** When it was stored (the dir store: when the file was last written). */
  storedAt?: string;
}

export interface LogStore {
  readonly kind: 'dir' | 'secret';
  /** Where, for messages and docs: a folder or `secret/<namespace>`. */
  readonly where: string;
  /**
   * Keeps the log of a finished attempt, capped (see capLog). `partial`: the text is already only
   * the end of a longer log; `record`: the attempt's outcome, kept with the log (see AttemptRecord).
   * Idempotent per attempt: a second put of the same attempt keeps the first. Resolves once both
   * are durable.
   */
  put(key: AttemptLogKey, text: string, opts?: { partial?: boolean; record?: AttemptRecord }): Promise<void>;
  /** The stored log, or undefined when there is none (never stored, or past retention). */
  get(key: AttemptLogKey): Promise<StoredLog | undefined>;
  /**
   * The outcome recorded with the attempt's log, or undefined when none was (no put yet, a put
   * without a record, or past retention). One read: a GET of the log Secret, or one file.
   */
  getRecord(key: AttemptLogKey): Promise<AttemptRecord | undefined>;
  /** Deletes logs past their retention (as of `now`); returns how many went, when the store can tell. */
  sweep(now?: number): Promise<number | undefined>;
}

export interface LogLimits {
  /** A stored log keeps at most this many bytes (the tail, after a marker line). */
  maxBytes: number;
  /** Stored logs are deleted by the sweeper this long after they were stored. */
  retentionMs: number;
}

export const TRUNCATION_MARKER = '[pontoon] log truncated:';

/**
 * Caps a log to `maxBytes`, keeping its end. When something is dropped, the result starts with one
 * marker line saying how much and why, then the tail from a line boundary (when one is near).
 */
export function capLog(
  text: string,
  maxBytes: number,
  opts: { partial?: boolean } = {},
): { text: string; truncated: boolean } {
  const buf = Buffer.from(text, 'utf8');
  if (buf.length <= maxBytes && !opts.partial) return { text, truncated: false };
  const marker = (kept: number) =>
    `${TRUNCATION_MARKER} ${
      opts.partial
        ? 'earlier output was dropped'
        : `the first ${buf.length - kept} of ${buf.length} bytes were dropped`
    }; the last ${kept} bytes are kept (limit ${maxBytes} bytes, PONTOON_LOG_MAX_BYTES)\n`;
  // The marker's own length depends on the numbers in it: reserve room for the longest form.
  const budget = Math.max(0, maxBytes - Buffer.byteLength(marker(maxBytes)));
  let tailText = buf.subarray(Math.max(0, buf.length - budget)).toString('utf8');
  if (buf.length > budget) {
    const nl = tailText.indexOf('\n');
    tailText = nl >= 0 && nl < 200 ? tailText.slice(nl + 1) : tailText.replace(/^\uFFFD+/, '');
  }
  return { text: marker(Buffer.byteLength(tailText)) + tailText, truncated: true };
}
