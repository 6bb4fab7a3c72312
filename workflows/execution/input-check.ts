/**
 * The input check: what an execution refuses before admission and before any attempt, whoever
 * started it (API, CLI, schedule, `temporal` CLI, any SDK). `checkInput` checks the workflow input's
 * shape (the API's rules, so every starter gets them), `typedInputRefusal` checks `input` against
 * the function's `spec.input.schema`; `triggerAndScheduledTime` reads who started the execution and
 * its nominal time.
 */
import {
  ActivityFailure,
  ApplicationFailure,
  patched,
  proxyLocalActivities,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../../activities/index.ts';
import { attemptFailureOf, type ExecuteFunctionInput, LIMITS } from '../../core/execution.ts';
import { type AttemptFailure, FailureType, failure } from '../../core/failures.ts';
import { isFunctionName, MAX_FUNCTION_NAME, parseScheduleId, SearchAttr, Trigger } from '../../core/names.ts';
import type { FunctionSpec } from '../../core/schema.ts';
import {
  IDEMPOTENCY_KEY,
  isIdempotencyKey,
  isIsoDateTime,
  isPriorityLevel,
  isPriorityName,
  PRIORITY_HIGHEST,
  PRIORITY_LOWEST,
  PRIORITY_NAMES,
  utf8Bytes,
} from '../../core/values.ts';
import { fail } from './fail.ts';

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

/** The workflow input as the documented shape; fails the execution InputInvalid or InputTooLarge. */
export function checkInput(raw: unknown): ExecuteFunctionInput {
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
  if (p !== undefined && !isPriorityLevel(p) && !isPriorityName(p)) {
    fail(
      'InputInvalid',
      `"priority" must be ${PRIORITY_HIGHEST} (highest) to ${PRIORITY_LOWEST}, or ${PRIORITY_NAMES.join(', ')}`,
    );
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
export function triggerAndScheduledTime(
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

/**
 * Why a typed function's execution is refused before admission and any attempt: InputInvalid naming
 * each JSON Pointer, SpecInvalid when the schema cannot be used, the check's own failure; undefined
 * when the input matches, the function has no input schema, or the execution predates the check.
 */
export async function typedInputRefusal(
  input: ExecuteFunctionInput,
  spec: FunctionSpec,
  version: number,
): Promise<AttemptFailure | undefined> {
  const typedInput = spec.spec.input;
  if (!typedInput || !patched(TYPED_INPUT_PATCH)) return undefined;
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
      return failure('SpecInvalid', err.message);
    if (!(err instanceof ActivityFailure)) throw err;
    return attemptFailureOf(err, 0);
  }
  if (problems.length) {
    const where = problems.map((p) => `${p.pointer === '' ? '(root)' : p.pointer}: ${p.message}`).join('; ');
    return failure('InputInvalid', `input does not match spec.input.schema (version ${version}): ${where}`);
  }
  return undefined;
}
