/** The failure table: every way an attempt activity can fail for good maps to a type of the table. */
import {
  ActivityFailure,
  ApplicationFailure,
  ApplicationFailureCategory,
  CancelledFailure,
  DefaultFailureConverter,
  defaultPayloadConverter,
  RetryState,
  TimeoutFailure,
} from '@temporalio/common';
import { describe, expect, it } from 'vitest';
import {
  type AttemptOutcome,
  attemptFailureOf,
  FAILURE_TYPES,
  failedAttemptError,
  failure,
  functionErrorLine,
  outcomeOfFailedAttempt,
} from './execution.ts';

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
    // A type named like a property every object inherits is not in the table either.
    const inherited = ApplicationFailure.create({ type: 'constructor', message: 'x' });
    expect(attemptFailureOf(activityFailure(inherited), 1).type).toBe('RuntimeFailed');
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

describe("functionErrorLine: the function's own words", () => {
  it('finds the error of a Node crash under its stack frames and version footer', () => {
    const tail = [
      'loading config',
      '/app/main.js:3',
      "  throw new Error('config missing: DATABASE_URL');",
      '  ^',
      '',
      'Error: config missing: DATABASE_URL',
      '    at Object.<anonymous> (/app/main.js:3:9)',
      '    at node:internal/main/run_main_module:28:49',
      '',
      'Node.js v20.20.2',
      '',
    ].join('\n');
    expect(functionErrorLine(tail, 'FunctionExit')).toBe('Error: config missing: DATABASE_URL');
  });

  it('finds the last line of a Python traceback and an error: line of a shell script', () => {
    const py =
      'Traceback (most recent call last):\n  File "main.py", line 2, in <module>\n    int("x")\nValueError: invalid literal for int() with base 10: \'x\'\n';
    expect(functionErrorLine(py, 'FunctionExit')).toBe(
      "ValueError: invalid literal for int() with base 10: 'x'",
    );
    expect(functionErrorLine('connecting\nerror: database unreachable\n', 'FunctionExit')).toBe(
      'error: database unreachable',
    );
  });

  it('takes the last line of an exit that printed no error, nothing of a timeout or an empty log', () => {
    expect(functionErrorLine('step 1\nstep 2\n', 'FunctionExit')).toBe('step 2');
    expect(functionErrorLine('step 1\nstep 2\n', 'AttemptTimedOut')).toBeUndefined();
    expect(functionErrorLine('', 'FunctionExit')).toBeUndefined();
    expect(functionErrorLine(`error: ${'x'.repeat(500)}`, 'FunctionExit')).toHaveLength(300);
  });
});

describe("failedAttemptError / outcomeOfFailedAttempt: a failed attempt as its activity's failure", () => {
  const outcome: AttemptOutcome = {
    exitCode: 2,
    startedAt: '2026-12-04T04:17:43.889Z',
    endedAt: '2026-12-04T04:17:43.910Z',
    logTail: 'connecting to db\nerror: database unreachable\n',
    failure: failure('FunctionExit', 'exited with code 2'),
  };
  /** Through the SDK's own conversion, as the workflow receives it from the server. */
  const received = (err: ApplicationFailure) => {
    const converter = new DefaultFailureConverter();
    const proto = converter.errorToFailure(err, defaultPayloadConverter);
    const cause = converter.failureToError(proto, defaultPayloadConverter);
    return { proto, err: activityFailure(cause) };
  };

  it('leads with the function error, carries the type, the log tail as its trace, and is not retried by Temporal', () => {
    const err = failedAttemptError(1, outcome);
    expect(err.type).toBe('FunctionExit');
    expect(err.message).toBe('error: database unreachable — exited with code 2');
    expect(err.nonRetryable).toBe(true);
    expect(err.category).toBe(ApplicationFailureCategory.BENIGN);
    const { proto } = received(err);
    expect(proto.stackTrace).toBe(
      'last lines of attempt 1 (stdout and stderr):\nconnecting to db\nerror: database unreachable',
    );
  });

  it('gives the workflow back exactly the outcome (so retries and the failure table decide as before)', () => {
    expect(outcomeOfFailedAttempt(received(failedAttemptError(1, outcome)).err)).toEqual(outcome);
  });

  it('is nothing when the outcome names a type outside the table, inherited names included', () => {
    for (const type of ['NoSuchType', 'toString', 'constructor']) {
      const forged = { ...outcome, failure: { ...outcome.failure, type } } as unknown as AttemptOutcome;
      expect(outcomeOfFailedAttempt(received(failedAttemptError(1, forged)).err), type).toBeUndefined();
    }
  });

  it('is nothing for any other failure: a runtime error, a timeout, a cancellation', () => {
    expect(
      outcomeOfFailedAttempt(
        activityFailure(ApplicationFailure.nonRetryable('no such file', 'LaunchFailed')),
      ),
    ).toBeUndefined();
    expect(
      outcomeOfFailedAttempt(activityFailure(new TimeoutFailure('timeout', undefined, 'HEARTBEAT'))),
    ).toBeUndefined();
    expect(outcomeOfFailedAttempt(new CancelledFailure('cancelled'))).toBeUndefined();
    const odd = ApplicationFailure.create({ type: 'FunctionExit', details: [{ exitCode: 2 }] });
    expect(outcomeOfFailedAttempt(received(odd).err)).toBeUndefined();
  });
});
