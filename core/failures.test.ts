/** The failure table: one declaration of every failure type, and the lists derived from it. */
import { expect, it } from 'vitest';
import { type AttemptRequest, failedAttemptError } from './execution.ts';
import {
  APPLY_FAILURES,
  ATTEMPT_NON_RETRYABLE,
  FAILURE_TYPES,
  FailureType,
  failure,
  isFailureType,
  NOTIFY_FAILURES,
  NOTIFY_NON_RETRYABLE,
} from './failures.ts';
import { checkedOutcome } from './io-schema.ts';
import type { FunctionSpec } from './schema.ts';

it('names each type of the table as itself, and says which strings are types of it', () => {
  for (const t of Object.keys(FAILURE_TYPES)) expect(FailureType[t as keyof typeof FailureType]).toBe(t);
  expect(isFailureType('SpecInvalid')).toBe(true);
  expect(isFailureType('SpecRefused')).toBe(false);
  expect(isFailureType('')).toBe(false);
  expect(isFailureType(undefined)).toBe(false);
  expect(isFailureType(null)).toBe(false);
  // Names every object inherits are not types (an `in` check took them).
  for (const inherited of ['toString', 'constructor', '__proto__', 'hasOwnProperty'])
    expect(isFailureType(inherited), inherited).toBe(false);
  expect(failure('FunctionExit', 'x')).toEqual({ type: 'FunctionExit', message: 'x', retryable: true });
});

it('keeps the activities’ non-retryable lists exactly as recorded histories hold them', () => {
  // Part of ScheduleActivityTask in every recorded history: a change here is a workflow change.
  expect(ATTEMPT_NON_RETRYABLE).toEqual([
    'SpecInvalid',
    'LaunchFailed',
    'ImageUnavailable',
    'TypeError',
    'RangeError',
  ]);
  expect(NOTIFY_NON_RETRYABLE).toEqual(['NotifyRejected', 'NotifySecretMissing']);
  for (const t of ATTEMPT_NON_RETRYABLE.filter(isFailureType)) expect(FAILURE_TYPES[t].retryable).toBe(false);
  expect(APPLY_FAILURES).toEqual({
    invalid: 'SpecInvalid',
    refused: 'SpecRefused',
    scheduleRefused: 'ScheduleRefused',
    accessRefused: 'FunctionAccessRefused',
  });
  expect(Object.values(NOTIFY_FAILURES).sort()).toEqual([
    'NotifyDestinationRefused',
    'NotifyRejected',
    'NotifySecretMissing',
    'NotifyTransient',
  ]);
});

it('SpecInvalid is produced by an attempt: a result schema that does not compile fails the attempt activity with it', () => {
  // Why ATTEMPT_NON_RETRYABLE lists it: the attempt activity fails with this type (failActivity).
  const spec = { spec: { output: { schema: { type: 'no-such-type' } } } } as unknown as FunctionSpec;
  const req = { spec } as AttemptRequest;
  const outcome = checkedOutcome(req, {
    exitCode: 0,
    output: { ok: true },
    startedAt: '2026-12-04T00:00:00Z',
    endedAt: '2026-12-04T00:00:01Z',
    logTail: '',
  });
  expect(outcome.failure?.type).toBe('SpecInvalid');
  expect(outcome.failure?.retryable).toBe(false);
  expect(outcome.failure?.message).toMatch(/^spec\.output\.schema does not compile: /);
  const err = failedAttemptError(1, outcome);
  expect(err.type).toBe('SpecInvalid');
  expect(err.nonRetryable).toBe(true);
});
