/**
 * One attempt: the function run once by its runtime, as an activity. On demand it is `runAttempt` on
 * the worker's task queue (aborted at once if the execution is cancelled meanwhile); warm on
 * kubernetes it is `runWarmAttempt` on the function's own task queue, taken by the observer of a warm
 * replica, or on demand after `warm.fallbackAfter` when none takes it. A failed attempt arrives as
 * its activity's failure (`failActivity`) and is turned back into the same outcome; an activity
 * that failed for good otherwise ends the attempt with a failure of the table.
 */
import {
  ActivityCancellationType,
  ActivityFailure,
  CancellationScope,
  CancelledFailure,
  isCancellation,
  log,
  patched,
  proxyActivities,
  TimeoutFailure,
} from '@temporalio/workflow';
import type { Activities } from '../../activities/index.ts';
import type { WarmActivities } from '../../activities/runtime.ts';
import {
  type AttemptOutcome,
  type AttemptRecord,
  type AttemptRequest,
  attemptFailureOf,
  outcomeOfFailedAttempt,
} from '../../core/execution.ts';
import { ATTEMPT_NON_RETRYABLE, failure } from '../../core/failures.ts';
import { WARM_DEFAULTS } from '../../core/warm.ts';

/** A lost worker is noticed after this long without a heartbeat, and the attempt retried elsewhere. */
export const ATTEMPT_HEARTBEAT_TIMEOUT = '10s';
/** Slack on top of the attempt timeout for process start-up and the kill grace. */
const ATTEMPT_SLACK_MS = 60_000;

/**
 * On a cancellation, the running attempt's pod is deleted at once by this activity: the attempt's
 * own activity hears of the cancellation only with a heartbeat's answer, and the SDK throttles
 * heartbeats to 0.8 × the heartbeat timeout (8 s). Executions started before this change replay
 * without it (patch ABORT_ON_CANCEL_PATCH).
 */
const { abortAttempt } = proxyActivities<Activities>({
  startToCloseTimeout: '30s',
  retry: { initialInterval: '500ms', maximumAttempts: 3 },
});
const ABORT_ON_CANCEL_PATCH = 'abort-attempt-on-cancel';
/**
 * An attempt activity that failed for good (not a function failure) ends the attempt with a failure
 * of the table (RuntimeFailed, or the type the runtime named) instead of failing the execution with
 * a bare ActivityFailure and no attempt recorded. Executions started before replay without it.
 */
const RUNTIME_FAILURE_PATCH = 'attempt-runtime-failure';

/** A failed attempt reported as its activity's failure (request.failActivity) is that outcome again. */
function reported(run: Promise<AttemptOutcome>): Promise<AttemptOutcome> {
  return run.catch((err: unknown) => {
    const outcome = outcomeOfFailedAttempt(err);
    if (outcome) return outcome;
    throw err;
  });
}

/** What one attempt needs beyond its request. */
export interface AttemptPlan {
  request: AttemptRequest;
  /** The retry policy's maxAttempts (for the activities' summaries). */
  maxAttempts: number;
  /** Executions since the `legible-executions` patch: `<function>: attempt 1 of 2` summaries. */
  legible: boolean;
  /** The function's own task queue when its warm replicas' observers take its attempts (kubernetes). */
  warmTaskQueue?: string;
  /** The execution's priority (1 highest), for the warm task queue. */
  priority: number;
}

/**
 * Runs the attempt and returns its outcome, and why it ran on demand when it was meant for a warm
 * replica. A cancellation is recorded in `attempts` (the attempt that was running) and rethrown.
 */
export async function runOneAttempt(
  plan: AttemptPlan,
  attempts: AttemptRecord[],
): Promise<{ outcome: AttemptOutcome; fallback?: string }> {
  const { request, legible, warmTaskQueue, priority } = plan;
  const { attempt, timeoutMs, spec } = request;
  const fn = request.function;
  const onDemand = (activityId: string, summary: string) =>
    reported(
      proxyActivities<Activities>({
        startToCloseTimeout: timeoutMs + ATTEMPT_SLACK_MS,
        heartbeatTimeout: ATTEMPT_HEARTBEAT_TIMEOUT,
        cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
        // Retries of the activity are infrastructure retries (a lost worker): the same attempt again.
        retry: {
          initialInterval: '1s',
          maximumAttempts: 10,
          nonRetryableErrorTypes: ATTEMPT_NON_RETRYABLE,
        },
        activityId,
        summary,
      }).runAttempt(request),
    );
  /** Activity summaries: `broken: attempt 1 of 2` (before the patch: `attempt 1 of broken`). */
  const summary = (where: string) =>
    legible
      ? `${fn}: attempt ${attempt} of ${plan.maxAttempts}${where}`
      : `attempt ${attempt} of ${fn}${where}`;
  let outcome: AttemptOutcome;
  let fallback: string | undefined;
  const attemptStartedAt = new Date().toISOString();
  try {
    if (warmTaskQueue) {
      // Warm on kubernetes: the attempt goes to the function's own task queue, where the observers
      // of its warm replicas take it, highest priority first; none taking it in time → on demand.
      const warm = spec.spec.warm;
      const fallbackAfter =
        warm?.fallback === 'none' ? undefined : (warm?.fallbackAfter ?? WARM_DEFAULTS.fallbackAfter);
      const { runWarmAttempt } = proxyActivities<WarmActivities>({
        taskQueue: warmTaskQueue,
        startToCloseTimeout: timeoutMs + ATTEMPT_SLACK_MS,
        ...(fallbackAfter ? { scheduleToStartTimeout: fallbackAfter } : {}),
        heartbeatTimeout: ATTEMPT_HEARTBEAT_TIMEOUT,
        cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
        retry: {
          initialInterval: '1s',
          maximumAttempts: 10,
          nonRetryableErrorTypes: ATTEMPT_NON_RETRYABLE,
        },
        priority: { priorityKey: priority },
        activityId: `attempt-${attempt}`,
        summary: summary(' on a warm replica'),
      });
      try {
        outcome = await reported(runWarmAttempt(request));
      } catch (err) {
        const notStarted =
          err instanceof ActivityFailure &&
          err.cause instanceof TimeoutFailure &&
          err.cause.timeoutType === 'SCHEDULE_TO_START';
        if (!fallbackAfter || !notStarted) throw err;
        fallback = `no warm replica started attempt ${attempt} within ${fallbackAfter}; it ran on demand instead`;
        log.warn('warm attempt not started in time; running it on demand', {
          function: fn,
          attempt,
          fallbackAfter,
        });
        outcome = await onDemand(`attempt-${attempt}-on-demand`, summary(' on demand (warm fallback)'));
      }
    } else {
      let running = true;
      let aborted = false;
      CancellationScope.current().cancelRequested.catch(() => {
        if (!running || !patched(ABORT_ON_CANCEL_PATCH)) return;
        aborted = true;
        void CancellationScope.nonCancellable(() =>
          abortAttempt({ function: fn, executionId: request.executionId, attempt }),
        ).catch(() => undefined);
      });
      try {
        outcome = await onDemand(`attempt-${attempt}`, summary(''));
      } finally {
        running = false;
      }
      // The attempt ended because its pod was deleted for the cancellation: the execution is cancelled.
      if (aborted) throw new CancelledFailure(`execution cancelled during attempt ${attempt}`);
    }
  } catch (err) {
    const ended = {
      attempt,
      exitCode: null,
      startedAt: attemptStartedAt,
      endedAt: new Date().toISOString(),
      logTail: '',
    };
    if (isCancellation(err)) {
      // The record keeps the attempt that was running (describe shows it, with why it ended).
      attempts.push({
        ...ended,
        failure: failure('Cancelled', `execution cancelled during attempt ${attempt}`),
      });
      throw err;
    }
    if (!(err instanceof ActivityFailure) || !patched(RUNTIME_FAILURE_PATCH)) throw err;
    outcome = { ...ended, failure: attemptFailureOf(err, attempt) };
  }
  return { outcome, ...(fallback ? { fallback } : {}) };
}
