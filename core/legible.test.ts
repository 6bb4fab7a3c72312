/** What an execution shows of itself in the Web UI: memo, current details, outcome line. */
import { describe, expect, it } from 'vitest';
import { type AttemptRecord, failure } from './execution.ts';
import {
  type ExecutionView,
  executionDetails,
  executionMemo,
  failureMessage,
  outcomeLine,
} from './legible.ts';

const failed = (attempt: number): AttemptRecord => ({
  attempt,
  exitCode: 2,
  startedAt: '2026-12-04T04:17:43.889Z',
  endedAt: '2026-12-04T04:17:43.910Z',
  logTail: 'connecting to db\nerror: database unreachable\n',
  failure: failure('FunctionExit', 'exited with code 2'),
});

const view = (over: Partial<ExecutionView>): ExecutionView => ({
  function: 'report',
  trigger: 'sdk',
  specVersion: 3,
  parameters: { region: 'us-east-2' },
  status: 'running',
  attempt: 1,
  maxAttempts: 2,
  attempts: [],
  ...over,
});

describe('the execution as the Web UI shows it', () => {
  it('a failed execution: the function error first, then why Pontoon stopped', () => {
    const v = view({
      status: 'failed',
      attempt: 2,
      attempts: [failed(1), failed(2)],
      failure: { type: 'FunctionExit', message: 'exited with code 2 (all 2 attempts used)' },
    });
    expect(outcomeLine(v)).toBe(
      'failed after 2 attempts: error: database unreachable — exited with code 2 (all 2 attempts used)',
    );
    expect(executionMemo(v)).toEqual({
      summary:
        'report (sdk): failed after 2 attempts: error: database unreachable — exited with code 2 (all 2 attempts used)',
      function: 'report',
      trigger: 'sdk',
      parameters: { region: 'us-east-2' },
      status: 'failed',
      attempts: 2,
      exitCode: 2,
      error: 'error: database unreachable',
      failure: 'FunctionExit: exited with code 2 (all 2 attempts used)',
    });
    const md = executionDetails(v);
    expect(md).toContain('**report** · trigger **sdk** · spec version 3');
    expect(md).toContain('Parameters: `{"region":"us-east-2"}`');
    expect(md).toContain('**Outcome:** failed after 2 attempts: error: database unreachable');
    expect(md).toContain(
      '- attempt 1: exit code 2 — FunctionExit: error: database unreachable — exited with code 2',
    );
  });

  it('running, backoff, success and cancellation read as one line each', () => {
    expect(outcomeLine(view({}))).toBe('running attempt 1 of 2');
    expect(outcomeLine(view({ attempt: 0 }))).toBe('running');
    expect(
      outcomeLine(
        view({ status: 'backoff', attempts: [failed(1)], nextAttemptAt: '2026-12-04T04:17:45.000Z' }),
      ),
    ).toBe('attempt 1 of 2 failed; the next starts at 2026-12-04T04:17:45.000Z');
    expect(
      outcomeLine(
        view({
          status: 'succeeded',
          attempt: 2,
          attempts: [failed(1), { ...failed(2), failure: undefined }],
        }),
      ),
    ).toBe('succeeded on attempt 2 of 2');
    expect(outcomeLine(view({ status: 'cancelled', attempts: [failed(1)] }))).toBe(
      'cancelled during attempt 1',
    );
    expect(outcomeLine(view({ status: 'cancelled' }))).toBe('cancelled before any attempt');
  });

  it('a failure before any attempt (no spec) is its message alone; the error is not said twice', () => {
    const v = view({
      trigger: 'sdk',
      status: 'failed',
      attempt: 0,
      failure: { type: 'FunctionNotFound', message: 'no function named "helo"; did you mean "hello"?' },
    });
    expect(outcomeLine(v)).toBe('failed: no function named "helo"; did you mean "hello"?');
    expect(failureMessage('error: database unreachable', [failed(1)])).toBe('error: database unreachable');
  });

  it('large parameters are cut in the memo and the details', () => {
    const v = view({ parameters: { blob: 'x'.repeat(5000) } });
    const p = executionMemo(v).parameters as string;
    expect(typeof p).toBe('string');
    expect(p.length).toBe(1024);
    expect(p.endsWith('...')).toBe(true);
    expect(executionDetails(v).length).toBeLessThan(1500);
  });
});
