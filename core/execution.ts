/**
 * The shapes of an execution: the documented workflow input anyone may send (API, CLI, `temporal`
 * CLI, any SDK), the result, and the contract between the execution workflow and a runtime.
 * Pure module: imported by workflows and activities alike.
 */
import { ActivityFailure, ApplicationFailure, ApplicationFailureCategory } from '@temporalio/common';
import { type AttemptFailure, type FailureTypeName, failure, isFailureType } from './failures.ts';
import type { ParameterValues } from './parameters.ts';
import type { FunctionSpec } from './schema.ts';

/** The failure table lives in failures.ts; re-exported for the modules that read it with the shapes. */
export { type AttemptFailure, FAILURE_TYPES, type FailureTypeName, failure } from './failures.ts';

/**
 * Input of the `executeFunction` workflow. Only `function` is required, so
 * `temporal workflow start --type executeFunction --task-queue pontoon --input '{"function":"hello"}'` works.
 */
export interface ExecuteFunctionInput {
  /** Function name (metadata.name of an applied spec). */
  function: string;
  /** Parameter values; strings are coerced to the declared type. */
  parameters?: Record<string, unknown>;
  /** Free JSON handed to the function in $PONTOON_DIR/input.json. */
  input?: unknown;
  /** 1 (highest) … 5, or high / normal / low; defaults to the spec's. */
  priority?: number | 'high' | 'normal' | 'low';
  /** Informational here: the workflow id carries it (exec:<function>:<key>), which is what deduplicates. */
  idempotencyKey?: string;
  /** Nominal time for templates (RFC 3339). Schedules set it through Temporal; a manual "run as of" may set it. */
  scheduledTime?: string;
  /**
   * The spec version the starter validated against (the API sets it). A worker holding exactly
   * this version in memory uses it without asking the function's controller; otherwise, and when
   * absent, the execution reads the current spec. So an execution runs the pinned version or one
   * applied after it, never an older one. With `exact: true` (a redrive with --same-version), exactly
   * that version runs, read from the controller's recent versions if it is not the current one any
   * more; the execution fails FunctionNotFound when the controller no longer keeps it.
   */
  spec?: { version: number; appliedAt: string; exact?: boolean };
}

export type ExecutionStatus = 'succeeded' | 'failed' | 'timed_out';

export interface AttemptRecord {
  attempt: number;
  /** null when the process never started or was killed by a signal we did not send for a timeout. */
  exitCode: number | null;
  startedAt: string;
  endedAt: string;
  /** Last lines of stdout and stderr (at most LOG_TAIL_BYTES). */
  logTail: string;
  /** Set when a warm attempt found no replica in time and ran on demand instead (warm.fallback). */
  fallback?: string;
  failure?: AttemptFailure;
}

export interface ExecutionResult {
  status: ExecutionStatus;
  executionId: string;
  function: string;
  trigger: string;
  priority: number;
  scheduledTime: string;
  specVersion: number;
  output: unknown;
  parameters: ParameterValues;
  attempts: AttemptRecord[];
  failure?: AttemptFailure;
  /** Set on a redrive: the execution id of the failed execution it re-ran (see `pontoon redrive`). */
  redriveOf?: string;
}

/** What a runtime needs to run one attempt. */
export interface AttemptRequest {
  executionId: string;
  function: string;
  attempt: number;
  spec: FunctionSpec;
  parameters: ParameterValues;
  input: unknown;
  scheduledTime: string;
  trigger: string;
  /** Kill the attempt after this long (the spec's timeout, clipped to the deadline). */
  timeoutMs: number;
  /**
   * A failed attempt fails its activity (`failedAttemptError`: the outcome as the failure's details)
   * instead of completing it with the outcome, so the Web UI shows the attempt red. Set by executions
   * started since the `legible-executions` patch; older ones get a completed activity, as before.
   */
  failActivity?: boolean;
}

/** What a runtime reports: function failures are outcomes, not exceptions. */
export interface AttemptOutcome {
  exitCode: number | null;
  output?: unknown;
  startedAt: string;
  endedAt: string;
  logTail: string;
  failure?: AttemptFailure;
}

/**
 * The failure of an attempt whose activity failed for good (after Temporal's retries, or at once for
 * a non-retryable error): the type the runtime named when it is in the table, else RuntimeFailed.
 * So no execution ends with a bare ActivityFailure.
 */
export function attemptFailureOf(err: ActivityFailure, attempt: number): AttemptFailure {
  const cause = err.cause;
  if (cause instanceof ApplicationFailure && isFailureType(cause.type)) {
    return failure(cause.type, cause.message);
  }
  const why = cause?.message ?? err.message;
  return failure('RuntimeFailed', `the runtime could not run attempt ${attempt}: ${why}`);
}

/**
 * The function's own words about why an attempt failed, from its log tail: the last line that reads
 * like an error (`Error: …`, `ValueError: …`, `error: …`, `fatal …`, `panic: …`), skipping stack
 * frames and Node's version footer; for an exit without such a line, the last line it printed.
 * Undefined when the log says nothing useful (or the failure is not the function's, e.g. a timeout
 * whose last line is progress).
 */
export function functionErrorLine(logTail: string, type?: FailureTypeName): string | undefined {
  const lines = logTail
    .split(/\r?\n/)
    .map((l) => l.trimEnd())
    .filter(
      (l) =>
        l.trim() !== '' &&
        !/^\s+(at\s|File\s")/.test(l) && // JavaScript and Python stack frames
        !/^\s*\^+\s*$/.test(l) && // Node's caret under the throwing line
        !/^Node\.js v\d/.test(l),
    );
  const errorish = /(error|exception|fatal|panic|fail|denied|refused|cannot|can't|unable|unreachable)/i;
  const line =
    [...lines].reverse().find((l) => errorish.test(l)) ??
    (type === 'FunctionExit' || type === 'FunctionExitNonRetryable' ? lines[lines.length - 1] : undefined);
  if (line === undefined) return undefined;
  const t = line.trim();
  return t.length > 300 ? `${t.slice(0, 297)}...` : t;
}

/** The log tail as a failure's stack trace shows it in the Web UI and `temporal workflow show`. */
export function logTailTrace(attempt: number, logTail: string): string {
  return logTail.trim() === ''
    ? `attempt ${attempt} printed nothing`
    : `last lines of attempt ${attempt} (stdout and stderr):\n${logTail.trimEnd()}`;
}

/**
 * The failure an attempt activity fails with when the function failed (request.failActivity): the
 * function's own error line first, then Pontoon's reason (`error: db unreachable — exited with code
 * 2`), the table's type, the log tail as its stack trace and the whole outcome as its only detail.
 * Non-retryable for Temporal: whether another attempt runs is the execution's decision (its retry
 * policy and failure table), never a retry of the same activity. BENIGN: the worker logs it at debug
 * level, as a function failure is not the worker's.
 */
export function failedAttemptError(attempt: number, outcome: AttemptOutcome): ApplicationFailure {
  const why = outcome.failure ?? failure('FunctionExit', `exited with code ${outcome.exitCode}`);
  const said = functionErrorLine(outcome.logTail, why.type);
  const f = ApplicationFailure.create({
    type: why.type,
    message: said ? `${said} — ${why.message}` : why.message,
    nonRetryable: true,
    details: [outcome],
    category: ApplicationFailureCategory.BENIGN,
  });
  f.stack = logTailTrace(attempt, outcome.logTail);
  return f;
}

/**
 * The outcome of a failed attempt whose activity failed with `failedAttemptError`; undefined for any
 * other error (a runtime's own failure, a timeout, a cancellation).
 */
export function outcomeOfFailedAttempt(err: unknown): AttemptOutcome | undefined {
  if (!(err instanceof ActivityFailure) || !(err.cause instanceof ApplicationFailure)) return undefined;
  const d = err.cause.details?.[0] as Partial<AttemptOutcome> | undefined;
  if (
    typeof d !== 'object' ||
    d === null ||
    typeof d.startedAt !== 'string' ||
    typeof d.endedAt !== 'string' ||
    typeof d.logTail !== 'string' ||
    !(typeof d.exitCode === 'number' || d.exitCode === null) ||
    typeof d.failure?.type !== 'string' ||
    !isFailureType(d.failure.type)
  ) {
    return undefined;
  }
  return d as AttemptOutcome;
}

/** Limits of the function contract (documented in the README). */
export const LIMITS = {
  /** JSON input of an execution; Temporal warns on payloads above 256 KB. */
  inputBytes: 256 * 1024,
  /** output.json of an attempt. */
  outputBytes: 256 * 1024,
  /** Log tail kept in the result per attempt (the full log stays retrievable). */
  logTailBytes: 4 * 1024,
} as const;

/**
 * The request a function receives: `$PONTOON_DIR/input.json` on every runtime, and the body of
 * `POST /invoke` for warm replicas. One shape for all runtimes.
 */
export function functionRequestJson(req: AttemptRequest): string {
  return JSON.stringify({
    function: req.function,
    executionId: req.executionId,
    attempt: req.attempt,
    scheduledTime: req.scheduledTime,
    trigger: req.trigger,
    parameters: req.parameters,
    input: req.input ?? null,
  });
}
