/**
 * executeFunction (workflow id `exec:<function>:<key>`): one per execution, whoever starts it (API,
 * CLI, schedule, `temporal` CLI, any SDK). Reads the spec, resolves start-time parameters, runs one
 * attempt per retry under the spec's policy, per-attempt timeout and overall deadline, and returns
 * the result. A failed execution FAILS the workflow (so the Web UI shows it as failed) with the same
 * result object as the failure's details.
 *
 * This file is the wiring, in the order the steps run (which recorded histories hold): the input
 * check, the spec, the typed-input check, then the attempts (execution/run.ts, each one by
 * execution/attempt.ts), inside a slot of the function's concurrency limit when it has one
 * (execution/slot.ts).
 */
import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  patched,
  proxyLocalActivities,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities/index.ts';
import { attemptFailureOf, type ExecuteFunctionInput, type ExecutionResult } from '../core/execution.ts';
import { FailureType, isFailureType } from '../core/failures.ts';
import { SearchAttr } from '../core/names.ts';
import { priorityNumber } from '../core/values.ts';
import { progressQuery } from './definitions.ts';
import { fail } from './execution/fail.ts';
import { checkInput, triggerAndScheduledTime, typedInputRefusal } from './execution/input-check.ts';
import { Progress } from './execution/progress.ts';
import { ExecutionRun } from './execution/run.ts';
import { withSlot } from './execution/slot.ts';

export { ATTEMPT_HEARTBEAT_TIMEOUT } from './execution/attempt.ts';

const { getFunctionSpec } = proxyLocalActivities<Activities>({
  startToCloseTimeout: '10s',
  retry: { maximumAttempts: 5, nonRetryableErrorTypes: [FailureType.FunctionNotFound] },
});

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
 * Dead letters (issue 21 §3): a redrive's result names the execution it re-ran (redriveOf, from the
 * PontoonRedriveOf search attribute its starter set). Executions started before replay without it.
 */
const REDRIVE_LINK_PATCH = 'redrive-link';

export async function executeFunction(rawInput: ExecuteFunctionInput): Promise<ExecutionResult> {
  const legible = patched(LEGIBLE_PATCH);
  const input = checkInput(rawInput);
  const info = workflowInfo();
  const startTime = new Date(info.startTime);
  const redriveOf = info.typedSearchAttributes.get(SearchAttr.redriveOf);
  const linkRedrive = redriveOf !== undefined && patched(REDRIVE_LINK_PATCH);
  const shown = new Progress(legible, input);
  setHandler(progressQuery, () => shown.progress);

  // Pure (the input and the workflow's start): known before the spec, so a failed read shows it too.
  const { trigger, scheduledTime, schedule } = triggerAndScheduledTime(input, startTime);
  shown.view.trigger = trigger;
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
      shown.show('failed', true, { type: err.type, message: err.message });
      return fail(err.type, err.message);
    }
    if (!(err instanceof ActivityFailure)) throw err;
    const why = attemptFailureOf(err, 0);
    const message =
      why.type === 'RuntimeFailed'
        ? `could not read the spec of "${input.function}": ${err.cause?.message ?? err.message}`
        : why.message;
    shown.show('failed', true, { type: why.type, message });
    return fail(why.type, message);
  });
  const priority = priorityNumber(input.priority ?? spec.spec.execution.priority);
  upsertSearchAttributes([
    { key: SearchAttr.function, value: input.function },
    { key: SearchAttr.trigger, value: trigger },
    { key: SearchAttr.priority, value: priority },
  ]);
  shown.view.specVersion = version;
  shown.progress.maxAttempts = spec.spec.execution.retry.maxAttempts;
  shown.show('running', true);

  const run = new ExecutionRun({
    legible,
    input,
    executionId: info.workflowId,
    startTime,
    trigger,
    scheduledTime,
    ...(schedule ? { schedule } : {}),
    spec,
    version,
    priority,
    ...(warmTaskQueue ? { warmTaskQueue } : {}),
    ...(linkRedrive ? { redriveOf } : {}),
    shown,
  });

  // Typed input: refused before admission and before any attempt, for every starter.
  const refused = await typedInputRefusal(input, spec, version);
  if (refused) return await run.finish('failed', refused);

  // Without a concurrency limit there is no admission: no controller in the path of an execution.
  const exec = spec.spec.execution;
  if (!exec.concurrency) return await run.counted();

  // With one, wait for a slot from the function controller, hold it with lease renewals, and give
  // it back however the execution ends (success, failure, timeout, cancellation).
  return await withSlot(
    { fn: input.function, executionId: info.workflowId, priority, slotLease: exec.slotLease },
    {
      queued: () => {
        shown.progress.phase = 'queued';
        shown.show('queued');
      },
      unreachable: (message) => shown.show('failed', true, { type: FailureType.FunctionNotFound, message }),
      cancelledWhileQueued: async () => {
        shown.show('cancelled', true);
        await CancellationScope.nonCancellable(() => run.atEnd('cancelled'));
      },
    },
    () => run.counted(),
  );
}
