/**
 * executeFunction (workflow id `exec:<function>:<key>`): one per execution, whoever starts it (API,
 * CLI, schedule, `temporal` CLI, any SDK). Reads the spec, resolves start-time parameters, runs one
 * attempt per retry under the spec's policy, per-attempt timeout and overall deadline, and returns
 * the result. A failed execution FAILS the workflow (so the Web UI shows it as failed) with the same
 * result object as the failure's details.
 */
import {
  ActivityCancellationType,
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  CancelledFailure,
  condition,
  getExternalWorkflowHandle,
  isCancellation,
  log,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setCurrentDetails,
  setHandler,
  sleep,
  TimeoutFailure,
  upsertMemo,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities/index.ts';
import type { WarmActivities } from '../activities/runtime.ts';
import { parseDuration } from '../spec/duration.ts';
import {
  type AttemptOutcome,
  type AttemptRecord,
  type AttemptRequest,
  attemptFailureOf,
  type ExecuteFunctionInput,
  type ExecutionResult,
  LIMITS,
  logTailTrace,
  outcomeOfFailedAttempt,
} from '../spec/execution.ts';
import {
  ATTEMPT_NON_RETRYABLE,
  type AttemptFailure,
  FailureType,
  type FailureTypeName,
  failure,
  isFailureType,
  NOTIFY_NON_RETRYABLE,
} from '../spec/failures.ts';
import {
  type ExecutionView,
  executionDetails,
  executionMemo,
  failureMessage,
  type LegibleStatus,
} from '../spec/legible.ts';
import {
  controllerWorkflowId,
  isFunctionName,
  MAX_FUNCTION_NAME,
  parseScheduleId,
  SearchAttr,
  Trigger,
} from '../spec/names.ts';
import { type ParameterValues, resolveParameters } from '../spec/parameters.ts';
import { backoffMs } from '../spec/retry.ts';
import {
  IDEMPOTENCY_KEY,
  isIdempotencyKey,
  isIsoDateTime,
  PRIORITY_ALIASES,
  priorityNumber,
  utf8Bytes,
} from '../spec/values.ts';
import { WARM_DEFAULTS } from '../spec/warm.ts';
import {
  type ExecutionProgress,
  progressQuery,
  releaseSlotSignal,
  renewSlotSignal,
  requestSlotSignal,
  scheduleOutcomeSignal,
  slotGrantedSignal,
} from './definitions.ts';

/** A lost worker is noticed after this long without a heartbeat, and the attempt retried elsewhere. */
export const ATTEMPT_HEARTBEAT_TIMEOUT = '10s';
/** Slack on top of the attempt timeout for process start-up and the kill grace. */
const ATTEMPT_SLACK_MS = 60_000;

const { getFunctionSpec } = proxyLocalActivities<Activities>({
  startToCloseTimeout: '10s',
  retry: { maximumAttempts: 5, nonRetryableErrorTypes: [FailureType.FunctionNotFound] },
});

/**
 * Typed inputs (issue 21 §1): a function with spec.input has its execution's input checked against
 * the schema before admission and any attempt, by this local activity (the worker runs Ajv and
 * keeps each compiled schema; workflow code never loads it). A mismatch ends the execution
 * InputInvalid with the JSON Pointer of each problem. Gated by a patch: executions started before
 * replay without the check (no spec of theirs had an input schema).
 */
const { checkExecutionInput } = proxyLocalActivities<Activities>({
  startToCloseTimeout: '10s',
  retry: { maximumAttempts: 3, nonRetryableErrorTypes: [FailureType.SpecInvalid] },
});
const TYPED_INPUT_PATCH = 'typed-input';

const { recordExecutionEnd } = proxyLocalActivities<Activities>({
  startToCloseTimeout: '5s',
  // A missed count is better than a double one.
  retry: { maximumAttempts: 1 },
});

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
/**
 * Executions legible in the Web UI whoever started them: a memo (function, trigger, parameters,
 * status, outcome) upserted at the start and at the end, current details (User Metadata tab) kept up
 * to date, attempt activities that FAIL when the function failed (request.failActivity: red in the
 * history, with the exit code and the log tail), backoff timers with a summary, and a failed
 * execution's message led by the function's own error with its log tail as the stack trace. Retry,
 * adoption and the failure table are unchanged. Executions started before replay without it.
 */
const LEGIBLE_PATCH = 'legible-executions';
/**
 * Dead letters (issue 21 §3): a failed execution carries its failure type as the PontoonFailureType
 * search attribute, upserted just before it fails, so GET /v1/dead-letters lists them by type through
 * visibility; and a redrive's result names the execution it re-ran (redriveOf, from the
 * PontoonRedriveOf search attribute its starter set). Executions started before replay without either.
 */
const FAILURE_TYPE_PATCH = 'failure-type-attribute';
const REDRIVE_LINK_PATCH = 'redrive-link';

/** A failed attempt reported as its activity's failure (request.failActivity) is that outcome again. */
function reported(run: Promise<AttemptOutcome>): Promise<AttemptOutcome> {
  return run.catch((err: unknown) => {
    const outcome = outcomeOfFailedAttempt(err);
    if (outcome) return outcome;
    throw err;
  });
}

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

function fail(type: FailureTypeName, message: string, result?: ExecutionResult, trace?: string): never {
  if (patched(FAILURE_TYPE_PATCH)) upsertSearchAttributes([{ key: SearchAttr.failureType, value: type }]);
  const f = ApplicationFailure.create({ type, message, nonRetryable: true, details: result ? [result] : [] });
  // How an execution ended is the function's or the starter's story, not a trace of this file: the
  // Web UI and `temporal workflow show` print the failure's stack trace, so it carries the message
  // only, and the function's log tail when there is one (trace).
  f.stack = `${type}: ${message}${trace ? `\n\n${trace}` : ''}`;
  throw f;
}

function checkInput(raw: unknown): ExecuteFunctionInput {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    fail(
      'InputInvalid',
      'input must be a JSON object such as {"function":"hello","parameters":{"name":"Ada"}}',
    );
  }
  const input = raw as Record<string, unknown>;
  const allowed = ['function', 'parameters', 'input', 'priority', 'idempotencyKey', 'scheduledTime', 'spec'];
  const unknown = Object.keys(input).filter((k) => !allowed.includes(k));
  if (unknown.length)
    fail('InputInvalid', `unknown field(s) ${unknown.join(', ')}; allowed: ${allowed.join(', ')}`);
  if (typeof input.function !== 'string' || input.function === '') {
    fail('InputInvalid', '"function" (the function name) is required');
  }
  if (!isFunctionName(input.function)) {
    fail(
      'InputInvalid',
      `"function" must be a function name (a DNS-1123 label of at most ${MAX_FUNCTION_NAME} characters), got ${JSON.stringify(String(input.function).slice(0, 100))}`,
    );
  }
  if (input.idempotencyKey !== undefined && !isIdempotencyKey(input.idempotencyKey)) {
    fail('InputInvalid', `"idempotencyKey": ${IDEMPOTENCY_KEY.help}`);
  }
  if (
    input.parameters !== undefined &&
    (typeof input.parameters !== 'object' || input.parameters === null || Array.isArray(input.parameters))
  ) {
    fail('InputInvalid', '"parameters" must be an object of name → value');
  }
  const p = input.priority;
  if (
    p !== undefined &&
    !(Number.isInteger(p) && (p as number) >= 1 && (p as number) <= 5) &&
    !(typeof p === 'string' && p in PRIORITY_ALIASES)
  ) {
    fail('InputInvalid', '"priority" must be 1 (highest) to 5, or high, normal, low');
  }
  if (
    input.scheduledTime !== undefined &&
    (typeof input.scheduledTime !== 'string' || !isIsoDateTime(input.scheduledTime))
  ) {
    fail(
      'InputInvalid',
      '"scheduledTime" must be an RFC 3339 date-time with an offset on a day that exists, e.g. 2026-11-24T02:30:00Z',
    );
  }
  const pin = input.spec as Record<string, unknown> | undefined;
  if (
    pin !== undefined &&
    (typeof pin !== 'object' ||
      pin === null ||
      !Number.isInteger(pin.version) ||
      typeof pin.appliedAt !== 'string' ||
      !isIsoDateTime(pin.appliedAt) ||
      (pin.exact !== undefined && typeof pin.exact !== 'boolean'))
  ) {
    fail(
      'InputInvalid',
      '"spec" must be {"version": <integer>, "appliedAt": "<RFC 3339>", "exact"?: <boolean>} (or left out)',
    );
  }
  const inputBytes = utf8Bytes(JSON.stringify(input.input ?? null));
  if (inputBytes > LIMITS.inputBytes) {
    fail('InputTooLarge', `"input" is ${inputBytes} bytes; the limit is ${LIMITS.inputBytes} bytes`);
  }
  return input as unknown as ExecuteFunctionInput;
}

const TemporalScheduledById = 'TemporalScheduledById';
const TemporalScheduledStartTime = 'TemporalScheduledStartTime';

/** Schedule name when a Temporal Schedule started us, else the trigger the starter set, else "sdk". */
function triggerAndScheduledTime(
  input: ExecuteFunctionInput,
  startTime: Date,
): { trigger: string; scheduledTime: Date; schedule?: string } {
  const info = workflowInfo();
  const raw = info.searchAttributes ?? {};
  const scheduledBy = raw[TemporalScheduledById]?.[0];
  const scheduledStart = raw[TemporalScheduledStartTime]?.[0];
  const fromSchedule = typeof scheduledBy === 'string' ? parseScheduleId(scheduledBy)?.schedule : undefined;
  const given = info.typedSearchAttributes.get(SearchAttr.trigger);
  const trigger = fromSchedule ?? given ?? Trigger.sdk;
  let scheduledTime = startTime;
  if (input.scheduledTime) scheduledTime = new Date(input.scheduledTime);
  else if (scheduledStart instanceof Date) scheduledTime = scheduledStart;
  else if (typeof scheduledStart === 'string') scheduledTime = new Date(scheduledStart);
  return { trigger, scheduledTime, ...(fromSchedule ? { schedule: fromSchedule } : {}) };
}

export async function executeFunction(rawInput: ExecuteFunctionInput): Promise<ExecutionResult> {
  const legible = patched(LEGIBLE_PATCH);
  const input = checkInput(rawInput);
  const info = workflowInfo();
  const startTime = new Date(info.startTime);
  const redriveOf = info.typedSearchAttributes.get(SearchAttr.redriveOf);
  const linkRedrive = redriveOf !== undefined && patched(REDRIVE_LINK_PATCH);
  const progress: ExecutionProgress = {
    phase: 'starting',
    attempt: 0,
    maxAttempts: 0,
    parameters: {},
    attempts: [],
  };
  setHandler(progressQuery, () => progress);
  /** What the Web UI shows of this execution: the memo (when memo is set) and the current details. */
  const view: ExecutionView = {
    function: input.function,
    parameters: input.parameters ?? {},
    status: 'starting',
    attempt: 0,
    maxAttempts: 0,
    attempts: progress.attempts,
  };
  const show = (status: LegibleStatus, memo = false, failed?: { type: string; message: string }) => {
    if (!legible) return;
    view.status = status;
    view.attempt = progress.attempt;
    view.maxAttempts = progress.maxAttempts;
    view.nextAttemptAt = progress.nextAttemptAt;
    if (failed) view.failure = failed;
    setCurrentDetails(executionDetails(view));
    if (memo) upsertMemo(executionMemo(view));
  };

  // Pure (the input and the workflow's start): known before the spec, so a failed read shows it too.
  const { trigger, scheduledTime, schedule } = triggerAndScheduledTime(input, startTime);
  view.trigger = trigger;
  // Ends with a type of the table: FunctionNotFound as the reader said, else RuntimeFailed.
  const { spec, version, warmTaskQueue } = await (input.spec
    ? getFunctionSpec(input.function, {
        version: input.spec.version,
        appliedAt: input.spec.appliedAt,
        ...(input.spec.exact ? { exact: true } : {}),
      })
    : getFunctionSpec(input.function)
  ).catch((err: unknown) => {
    // A local activity's own failure arrives as it was thrown (e.g. FunctionNotFound): its message
    // is kept, its stack (the worker's) is not.
    if (err instanceof ApplicationFailure && isFailureType(err.type)) {
      show('failed', true, { type: err.type, message: err.message });
      return fail(err.type, err.message);
    }
    if (!(err instanceof ActivityFailure)) throw err;
    const why = attemptFailureOf(err, 0);
    const message =
      why.type === 'RuntimeFailed'
        ? `could not read the spec of "${input.function}": ${err.cause?.message ?? err.message}`
        : why.message;
    show('failed', true, { type: why.type, message });
    return fail(why.type, message);
  });
  const priority = priorityNumber(input.priority ?? spec.spec.execution.priority);
  upsertSearchAttributes([
    { key: SearchAttr.function, value: input.function },
    { key: SearchAttr.trigger, value: trigger },
    { key: SearchAttr.priority, value: priority },
  ]);
  view.specVersion = version;
  progress.maxAttempts = spec.spec.execution.retry.maxAttempts;
  show('running', true);

  const exec = spec.spec.execution;
  const retry = exec.retry;
  progress.maxAttempts = retry.maxAttempts;
  const attemptTimeoutMs = parseDuration(exec.timeout);
  const deadlineAt = exec.deadline
    ? startTime.getTime() + parseDuration(exec.deadline)
    : Number.POSITIVE_INFINITY;
  const attempts: AttemptRecord[] = progress.attempts;
  let parameters: ParameterValues = {};

  const result = (
    status: ExecutionResult['status'],
    output: unknown,
    why?: AttemptFailure,
  ): ExecutionResult => ({
    status,
    executionId: info.workflowId,
    function: input.function,
    trigger,
    priority,
    scheduledTime: scheduledTime.toISOString(),
    specVersion: version,
    output,
    parameters,
    attempts,
    ...(why ? { failure: why } : {}),
    ...(linkRedrive ? { redriveOf } : {}),
  });
  /** Tells the controller how a schedule's execution ended, when the schedule pauses after failures. */
  const notifySchedule = async (succeeded: boolean, message?: string) => {
    const pauseAfter = spec.spec.schedules.find((s) => s.name === schedule)?.pauseAfterFailures;
    if (!schedule || !pauseAfter) return;
    try {
      await getExternalWorkflowHandle(controllerWorkflowId(input.function)).signal(scheduleOutcomeSignal, {
        schedule,
        executionId: info.workflowId,
        succeeded,
        ...(message ? { message } : {}),
      });
    } catch (err) {
      log.warn('could not report the outcome to the function controller', { error: String(err) });
    }
  };
  /** Metrics and webhooks at the end of the execution; neither can change its outcome. */
  const atEnd = async (status: ExecutionResult['status'] | 'cancelled', r?: ExecutionResult) => {
    await recordExecutionEnd({
      function: input.function,
      trigger,
      status,
      durationMs: Date.now() - startTime.getTime(),
    }).catch(() => undefined);
    const event = status === 'succeeded' ? 'success' : status === 'cancelled' ? undefined : 'failure';
    if (event && r && spec.spec.notify?.some((hook) => hook.on.includes(event))) {
      await sendNotifications({ spec, event, payload: r }).catch((err) =>
        log.warn('webhook notification not delivered', { event, error: String(err) }),
      );
    }
  };
  const finish = async (status: 'failed' | 'timed_out', why: AttemptFailure): Promise<never> => {
    progress.phase = status;
    const r = result(status, null, why);
    const last = attempts.length
      ? ` after ${attempts.length} attempt${attempts.length === 1 ? '' : 's'}`
      : '';
    if (attempts.length) view.parameters = parameters;
    show(status, true, why);
    await notifySchedule(false, why.message);
    await atEnd(status, r);
    const verb = status === 'timed_out' ? 'timed out' : 'failed';
    if (!legible) return fail(why.type, `${input.function} ${verb}${last}: ${why.message}`, r);
    // The function's own error first, its log tail as the trace.
    const lastAttempt = attempts[attempts.length - 1];
    return fail(
      why.type,
      `${input.function} ${verb}${last}: ${failureMessage(why.message, attempts)}`,
      r,
      lastAttempt ? logTailTrace(lastAttempt.attempt, lastAttempt.logTail) : undefined,
    );
  };

  const runAttempts = async (): Promise<ExecutionResult> => {
    for (let attempt = 1; attempt <= retry.maxAttempts; attempt++) {
      const resolved = resolveParameters(spec, input.parameters, {
        scheduledTime,
        startTime,
        executionId: info.workflowId,
        function: input.function,
        attempt,
        trigger,
      });
      if (resolved.problems.length)
        await finish('failed', failure('ParameterInvalid', resolved.problems.join('; ')));
      parameters = resolved.values;
      progress.parameters = parameters;

      const remaining = deadlineAt - Date.now();
      if (remaining <= 0)
        await finish('timed_out', failure('DeadlineExceeded', `execution deadline ${exec.deadline} passed`));
      const clipped = remaining < attemptTimeoutMs;
      const timeoutMs = Math.max(1000, Math.min(attemptTimeoutMs, Math.floor(remaining)));

      progress.phase = 'running';
      progress.attempt = attempt;
      progress.nextAttemptAt = undefined;
      view.parameters = parameters;
      show('running');
      log.info('attempt starting', { function: input.function, attempt, parameters });
      const request: AttemptRequest = {
        executionId: info.workflowId,
        function: input.function,
        attempt,
        spec,
        parameters,
        input: input.input ?? null,
        scheduledTime: scheduledTime.toISOString(),
        trigger,
        timeoutMs,
        ...(legible ? { failActivity: true } : {}),
      };
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
          ? `${input.function}: attempt ${attempt} of ${retry.maxAttempts}${where}`
          : `attempt ${attempt} of ${input.function}${where}`;
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
              function: input.function,
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
              abortAttempt({ function: input.function, executionId: info.workflowId, attempt }),
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
        show('succeeded', true);
        await notifySchedule(true);
        const r = result('succeeded', outcome.output ?? null);
        await atEnd('succeeded', r);
        return r;
      }
      if (!why.retryable) await finish(why.type === 'DeadlineExceeded' ? 'timed_out' : 'failed', why);
      if (attempt === retry.maxAttempts) break;
      const wait = backoffMs(retry, attempt);
      if (Date.now() + wait >= deadlineAt) {
        await finish(
          'timed_out',
          failure('DeadlineExceeded', `the next attempt would start after the deadline ${exec.deadline}`),
        );
      }
      progress.phase = 'backoff';
      progress.nextAttemptAt = new Date(Date.now() + wait).toISOString();
      show('backoff');
      if (legible) {
        await sleep(wait, {
          summary: `${input.function}: backoff after attempt ${attempt}; attempt ${attempt + 1} of ${retry.maxAttempts} next`,
        });
      } else {
        await sleep(wait);
      }
    }
    const last = attempts[attempts.length - 1]!;
    return await finish('failed', {
      ...last.failure!,
      message: `${last.failure!.message} (all ${retry.maxAttempts} attempts used)`,
    });
  };

  /** A cancelled execution still counts in the metrics. */
  const counted = async (): Promise<ExecutionResult> => {
    try {
      return await runAttempts();
    } catch (err) {
      if (isCancellation(err)) {
        progress.phase = 'cancelled';
        show('cancelled', true);
        await CancellationScope.nonCancellable(() => atEnd('cancelled'));
      }
      throw err;
    }
  };

  // Typed input: refused before admission and before any attempt, for every starter.
  const typedInput = spec.spec.input;
  if (typedInput && patched(TYPED_INPUT_PATCH)) {
    let problems: { pointer: string; message: string }[];
    try {
      ({ problems } = await checkExecutionInput({
        function: input.function,
        ...(typedInput.schema !== undefined ? { schema: typedInput.schema } : {}),
        ...(typedInput.schemaFile !== undefined ? { schemaFile: typedInput.schemaFile } : {}),
        input: input.input ?? null,
      }));
    } catch (err) {
      if (err instanceof ApplicationFailure && err.type === FailureType.SpecInvalid)
        return await finish('failed', failure('SpecInvalid', err.message));
      if (!(err instanceof ActivityFailure)) throw err;
      return await finish('failed', attemptFailureOf(err, 0));
    }
    if (problems.length) {
      const where = problems
        .map((p) => `${p.pointer === '' ? '(root)' : p.pointer}: ${p.message}`)
        .join('; ');
      return await finish(
        'failed',
        failure('InputInvalid', `input does not match spec.input.schema (version ${version}): ${where}`),
      );
    }
  }

  // Without a concurrency limit there is no admission: no controller in the path of an execution.
  if (!exec.concurrency) return await counted();

  // With one, wait for a slot from the function controller, hold it with lease renewals, and give
  // it back however the execution ends (success, failure, timeout, cancellation).
  const controller = getExternalWorkflowHandle(controllerWorkflowId(input.function));
  let granted = false;
  let holding = false;
  setHandler(slotGrantedSignal, () => {
    granted = true;
  });
  progress.phase = 'queued';
  show('queued');
  try {
    await controller.signal(requestSlotSignal, { executionId: info.workflowId, priority });
  } catch (err) {
    const message = `the controller of "${input.function}" is not running (was it deleted?): ${String(err)}`;
    show('failed', true, { type: 'FunctionNotFound', message });
    return fail('FunctionNotFound', message);
  }
  const leaseMs = parseDuration(exec.slotLease);
  try {
    try {
      await condition(() => granted);
    } catch (err) {
      // Cancelled while queued: still an execution that ended, for the metrics.
      if (isCancellation(err)) {
        show('cancelled', true);
        await CancellationScope.nonCancellable(() => atEnd('cancelled'));
      }
      throw err;
    }
    holding = true;
    // Renew the lease while holding the slot; a dead execution stops renewing and its slot frees itself.
    void CancellationScope.nonCancellable(async () => {
      while (holding) {
        if (await condition(() => !holding, Math.floor(leaseMs / 3))) break;
        await controller.signal(renewSlotSignal, { executionId: info.workflowId }).catch(() => undefined);
      }
    });
    return await counted();
  } finally {
    holding = false;
    await CancellationScope.nonCancellable(() =>
      controller.signal(releaseSlotSignal, { executionId: info.workflowId }).catch(() => undefined),
    );
  }
}
