/**
 * How a function's run ends, the same on both runtimes (the README's "function contract"): exit
 * code 0 is success; any other is a failure, retried unless the spec lists the code in
 * `execution.retry.nonRetryableExitCodes`. A run Pontoon stops (its timeout, a cancellation, a warm
 * replica replaced or scaled down) gets SIGTERM, then SIGKILL after a grace period: the local
 * runtime signals the process group, the kubernetes runtime sets the pod's
 * `terminationGracePeriodSeconds` and deletes the pod.
 */
import { type AttemptFailure, failure } from '../core/execution.ts';

/**
 * Default SIGTERM → SIGKILL grace, in ms (PONTOON_KILL_GRACE): the worker's configuration and the
 * runtimes' own fallbacks for embedders and tests read it.
 */
export const DEFAULT_KILL_GRACE_MS = 5000;

/**
 * Longest SIGTERM → SIGKILL grace of a cancelled attempt, in ms: a cancellation means the result is
 * no longer wanted, so it waits no longer than this even under a long PONTOON_KILL_GRACE.
 */
export const CANCEL_GRACE_MAX_MS = 2000;

/** The grace a cancelled attempt gets under `killGraceMs`, in ms. */
export function cancelGraceMs(killGraceMs: number): number {
  return Math.min(killGraceMs, CANCEL_GRACE_MAX_MS);
}

/** Pontoon's reason for a run that exited with `code` (a stored record is recognised by it). */
export function exitMessage(code: number): string {
  return `exited with code ${code}`;
}

/**
 * The failure of a function that exited with non-zero `code`: FunctionExitNonRetryable when the
 * spec lists the code as non-retryable, else FunctionExit (retried).
 */
export function exitFailure(code: number, nonRetryableExitCodes: readonly number[]): AttemptFailure {
  return failure(
    nonRetryableExitCodes.includes(code) ? 'FunctionExitNonRetryable' : 'FunctionExit',
    exitMessage(code),
  );
}
