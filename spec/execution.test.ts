/** The failure table: every way an attempt activity can fail for good maps to a type of the table. */
import { ActivityFailure, ApplicationFailure, RetryState, TimeoutFailure } from '@temporalio/common';
import { describe, expect, it } from 'vitest';
import { attemptFailureOf, FAILURE_TYPES } from './execution.ts';

const activityFailure = (cause: Error) =>
  new ActivityFailure(
    'activity failed',
    'runAttempt',
    'attempt-2',
    RetryState.MAXIMUM_ATTEMPTS_REACHED,
    'w',
    cause,
  );

describe('attemptFailureOf', () => {
  it('keeps a type of the table that the runtime named (not retried: LaunchFailed)', () => {
    const f = attemptFailureOf(
      activityFailure(ApplicationFailure.nonRetryable('no such file: ./main', 'LaunchFailed')),
      2,
    );
    expect(f).toEqual({ type: 'LaunchFailed', message: 'no such file: ./main', retryable: false });
  });

  it('maps what is not in the table (a TypeError such as ERR_INVALID_ARG_VALUE, a lost worker) to RuntimeFailed, not retried', () => {
    const typeError = ApplicationFailure.create({
      type: 'TypeError',
      message: "The argument 'args[2]' must be a string without null bytes",
    });
    expect(attemptFailureOf(activityFailure(typeError), 2)).toEqual({
      type: 'RuntimeFailed',
      message:
        "the runtime could not run attempt 2: The argument 'args[2]' must be a string without null bytes",
      retryable: false,
    });
    const lost = new TimeoutFailure('activity Heartbeat timeout', undefined, 'HEARTBEAT');
    expect(attemptFailureOf(activityFailure(lost), 3).type).toBe('RuntimeFailed');
  });

  it('every type in the table says whether it is retried', () => {
    for (const [type, { retryable }] of Object.entries(FAILURE_TYPES))
      expect(typeof retryable, type).toBe('boolean');
    expect(FAILURE_TYPES.RuntimeFailed.retryable).toBe(false);
    expect(FAILURE_TYPES.Cancelled.retryable).toBe(false);
  });
});
