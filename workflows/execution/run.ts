/**
 * The attempts of an execution under its spec's policy: parameters resolved per attempt, each
 * attempt's timeout clipped to the overall deadline, retries with backoff while the failure table
 * says another attempt is worth it, and the end: the result (or the failure) recorded in the
 * progress and the Web UI, the schedule's outcome told to the controller (pauseAfterFailures),
 * metrics and webhooks.
 */
import {
  CancellationScope,
  getExternalWorkflowHandle,
  isCancellation,
  log,
  patched,
  proxyActivities,
  proxyLocalActivities,
  proxySinks,
  sleep,
} from '@temporalio/workflow';
import type { ExecutionEnd, ExecutionMetricsSinks } from '../../activities/execution-metrics.ts';
import type { Activities } from '../../activities/index.ts';
import { parseDuration } from '../../core/duration.ts';
import {
  type AttemptRecord,
  type ExecuteFunctionInput,
  type ExecutionResult,
  logTailTrace,
} from '../../core/execution.ts';
import { type AttemptFailure, failure, NOTIFY_NON_RETRYABLE } from '../../core/failures.ts';
import { failureMessage } from '../../core/legible.ts';
import { controllerWorkflowId } from '../../core/names.ts';
import { type ParameterValues, resolveParameters } from '../../core/parameters.ts';
import { backoffMs } from '../../core/retry.ts';
import type { FunctionSpec } from '../../core/schema.ts';
import { scheduleOutcomeSignal } from '../definitions.ts';
import { runOneAttempt } from './attempt.ts';
import { fail } from './fail.ts';
import type { Progress } from './progress.ts';

/**
 * Execution ends go to the metrics through a sink (no activation; not called on replay), instead of
 * the recordExecutionEnd local activity that cost every execution one more activation of the
 * workflow and the worker (bench B3). The patch's marker takes the local activity's place in the
 * history; histories that hold the local activity's marker replay it.
 */
const END_SINK_PATCH = 'execution-end-sink';
const { executionMetrics } = proxySinks<ExecutionMetricsSinks>();
const { recordExecutionEnd } = proxyLocalActivities<Activities>({
  startToCloseTimeout: '5s',
  // A missed count is better than a double one.
  retry: { maximumAttempts: 1 },
});

/** Webhooks are delivered durably, but an execution waits at most this long for them. */
const { sendNotifications } = proxyActivities<Activities>({
  startToCloseTimeout: '1m',
  scheduleToCloseTimeout: '5m',
  retry: {
    initialInterval: '5s',
    backoffCoefficient: 2,
    maximumInterval: '1m',
    nonRetryableErrorTypes: NOTIFY_NON_RETRYABLE,
  },
});

/** What an execution knows once it has its spec. */
export interface ExecutionContext {
  legible: boolean;
  input: ExecuteFunctionInput;
  executionId: string;
  startTime: Date;
  trigger: string;
  scheduledTime: Date;
  /** The schedule that started the execution, if one did. */
  schedule?: string;
  spec: FunctionSpec;
  version: number;
  priority: number;
  warmTaskQueue?: string;
  /** Set on a redrive (since the `redrive-link` patch): the execution it re-runs. */
  redriveOf?: string;
  shown: Progress;
}

export class ExecutionRun {
  private readonly exec: FunctionSpec['spec']['execution'];
  private readonly attemptTimeoutMs: number;
  /** Epoch ms of the deadline (execution.deadline after the start), or +∞. */
  private readonly deadlineAt: number;
  private readonly attempts: AttemptRecord[];
  private parameters: ParameterValues = {};

  constructor(private readonly c: ExecutionContext) {
    this.exec = c.spec.spec.execution;
    c.shown.progress.maxAttempts = this.exec.retry.maxAttempts;
    this.attemptTimeoutMs = parseDuration(this.exec.timeout);
    this.deadlineAt = this.exec.deadline
      ? c.startTime.getTime() + parseDuration(this.exec.deadline)
      : Number.POSITIVE_INFINITY;
    this.attempts = c.shown.progress.attempts;
  }

  /** The execution's result object (also the failure's details when it fails). */
  private result(status: ExecutionResult['status'], output: unknown, why?: AttemptFailure): ExecutionResult {
    const { c } = this;
    return {
      status,
      executionId: c.executionId,
      function: c.input.function,
      trigger: c.trigger,
      priority: c.priority,
      scheduledTime: c.scheduledTime.toISOString(),
      specVersion: c.version,
      output,
      parameters: this.parameters,
      attempts: this.attempts,
      ...(why ? { failure: why } : {}),
      ...(c.redriveOf !== undefined ? { redriveOf: c.redriveOf } : {}),
    };
  }

  /** Tells the controller how a schedule's execution ended, when the schedule pauses after failures. */
  private async notifySchedule(succeeded: boolean, message?: string): Promise<void> {
    const { c } = this;
    const schedule = c.schedule;
    const pauseAfter = c.spec.spec.schedules.find((s) => s.name === schedule)?.pauseAfterFailures;
    if (!schedule || !pauseAfter) return;
    try {
      await getExternalWorkflowHandle(controllerWorkflowId(c.input.function)).signal(scheduleOutcomeSignal, {
        schedule,
        executionId: c.executionId,
        succeeded,
        ...(message ? { message } : {}),
      });
    } catch (err) {
      log.warn('could not report the outcome to the function controller', { error: String(err) });
    }
  }

  /** Metrics and webhooks at the end of the execution; neither can change its outcome. */
  async atEnd(status: ExecutionResult['status'] | 'cancelled', r?: ExecutionResult): Promise<void> {
    const { c } = this;
    const end: ExecutionEnd = {
      function: c.input.function,
      trigger: c.trigger,
      status,
      durationMs: Date.now() - c.startTime.getTime(),
    };
    if (patched(END_SINK_PATCH)) executionMetrics.ended(end);
    else await recordExecutionEnd(end).catch(() => undefined);
    const event = status === 'succeeded' ? 'success' : status === 'cancelled' ? undefined : 'failure';
    if (event && r && c.spec.spec.notify?.some((hook) => hook.on.includes(event))) {
      await sendNotifications({ spec: c.spec, event, payload: r }).catch((err) =>
        log.warn('webhook notification not delivered', { event, error: String(err) }),
      );
    }
  }

  /** Ends the execution failed or timed out with `why`: shown, told, counted, then the workflow fails. */
  async finish(status: 'failed' | 'timed_out', why: AttemptFailure): Promise<never> {
    const { c, attempts } = this;
    const { progress, view } = c.shown;
    progress.phase = status;
    const r = this.result(status, null, why);
    const last = attempts.length
      ? ` after ${attempts.length} attempt${attempts.length === 1 ? '' : 's'}`
      : '';
    if (attempts.length) view.parameters = this.parameters;
    c.shown.show(status, true, why);
    await this.notifySchedule(false, why.message);
    await this.atEnd(status, r);
    const verb = status === 'timed_out' ? 'timed out' : 'failed';
    if (!c.legible) return fail(why.type, `${c.input.function} ${verb}${last}: ${why.message}`, r);
    // The function's own error first, its log tail as the trace.
    const lastAttempt = attempts[attempts.length - 1];
    return fail(
      why.type,
      `${c.input.function} ${verb}${last}: ${failureMessage(why.message, attempts)}`,
      r,
      lastAttempt ? logTailTrace(lastAttempt.attempt, lastAttempt.logTail) : undefined,
    );
  }

  /** One attempt after another until one succeeds, the failure table says stop, or the deadline. */
  private async runAttempts(): Promise<ExecutionResult> {
    const { c, exec, attempts } = this;
    const { input, shown } = c;
    const { progress, view } = shown;
    const retry = exec.retry;
    for (let attempt = 1; attempt <= retry.maxAttempts; attempt++) {
      const resolved = resolveParameters(c.spec, input.parameters, {
        scheduledTime: c.scheduledTime,
        startTime: c.startTime,
        executionId: c.executionId,
        function: input.function,
        attempt,
        trigger: c.trigger,
      });
      if (resolved.problems.length)
        await this.finish('failed', failure('ParameterInvalid', resolved.problems.join('; ')));
      const parameters = resolved.values;
      this.parameters = parameters;
      progress.parameters = parameters;

      const remaining = this.deadlineAt - Date.now();
      if (remaining <= 0)
        await this.finish(
          'timed_out',
          failure('DeadlineExceeded', `execution deadline ${exec.deadline} passed`),
        );
      const clipped = remaining < this.attemptTimeoutMs;
      const timeoutMs = Math.max(1000, Math.min(this.attemptTimeoutMs, Math.floor(remaining)));

      progress.phase = 'running';
      progress.attempt = attempt;
      progress.nextAttemptAt = undefined;
      view.parameters = parameters;
      shown.show('running');
      log.info('attempt starting', { function: input.function, attempt, parameters });
      const { outcome, fallback } = await runOneAttempt(
        {
          request: {
            executionId: c.executionId,
            function: input.function,
            attempt,
            spec: c.spec,
            parameters,
            input: input.input ?? null,
            scheduledTime: c.scheduledTime.toISOString(),
            trigger: c.trigger,
            timeoutMs,
            ...(c.legible ? { failActivity: true } : {}),
          },
          maxAttempts: retry.maxAttempts,
          legible: c.legible,
          ...(c.warmTaskQueue ? { warmTaskQueue: c.warmTaskQueue } : {}),
          priority: c.priority,
        },
        attempts,
      );
      let why = outcome.failure;
      if (why?.type === 'AttemptTimedOut' && clipped) {
        why = failure(
          'DeadlineExceeded',
          `execution deadline ${exec.deadline} passed during attempt ${attempt}`,
        );
      }
      attempts.push({
        attempt,
        exitCode: outcome.exitCode,
        startedAt: outcome.startedAt,
        endedAt: outcome.endedAt,
        logTail: outcome.logTail,
        ...(fallback ? { fallback } : {}),
        ...(why ? { failure: why } : {}),
      });
      if (!why) {
        progress.phase = 'succeeded';
        shown.show('succeeded', true);
        await this.notifySchedule(true);
        const r = this.result('succeeded', outcome.output ?? null);
        await this.atEnd('succeeded', r);
        return r;
      }
      if (!why.retryable) await this.finish(why.type === 'DeadlineExceeded' ? 'timed_out' : 'failed', why);
      if (attempt === retry.maxAttempts) break;
      const wait = backoffMs(retry, attempt);
      if (Date.now() + wait >= this.deadlineAt) {
        await this.finish(
          'timed_out',
          failure('DeadlineExceeded', `the next attempt would start after the deadline ${exec.deadline}`),
        );
      }
      progress.phase = 'backoff';
      progress.nextAttemptAt = new Date(Date.now() + wait).toISOString();
      shown.show('backoff');
      if (c.legible) {
        await sleep(wait, {
          summary: `${input.function}: backoff after attempt ${attempt}; attempt ${attempt + 1} of ${retry.maxAttempts} next`,
        });
      } else {
        await sleep(wait);
      }
    }
    const last = attempts[attempts.length - 1]!;
    return await this.finish('failed', {
      ...last.failure!,
      message: `${last.failure!.message} (all ${retry.maxAttempts} attempts used)`,
    });
  }

  /** The attempts; a cancelled execution still counts in the metrics. */
  async counted(): Promise<ExecutionResult> {
    try {
      return await this.runAttempts();
    } catch (err) {
      if (isCancellation(err)) {
        this.c.shown.progress.phase = 'cancelled';
        this.c.shown.show('cancelled', true);
        await CancellationScope.nonCancellable(() => this.atEnd('cancelled'));
      }
      throw err;
    }
  }
}
