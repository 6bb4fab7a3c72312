/**
 * executeFunction on the real Temporal dev server with a real worker and the local runtime:
 * results, retries and backoff, timeouts, cancellation, limits, parameters and search attributes.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure, CancelledFailure, defaultPayloadConverter } from '@temporalio/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startExecution, waitForResult } from '../client/functions.ts';
import { loadSpecs } from '../core/load.ts';
import { SearchAttr } from '../core/names.ts';
import {
  apply,
  fixtureSpec,
  pidAlive,
  REPO_ROOT,
  type RunningWorker,
  startWorker,
  uniqueName,
  waitFor,
  waitForListed,
} from './helpers.ts';

let w: RunningWorker;
beforeAll(async () => {
  w = await startWorker();
});
afterAll(async () => {
  await w?.stop();
});

async function failureOf(executionId: string): Promise<ApplicationFailure> {
  const err = await w.client.workflow
    .getHandle(executionId)
    .result()
    .then(
      () => undefined,
      (e: unknown) => e,
    );
  expect(err).toBeInstanceOf(WorkflowFailedError);
  const cause = (err as WorkflowFailedError).cause;
  expect(cause).toBeInstanceOf(ApplicationFailure);
  return cause as ApplicationFailure;
}

describe('executeFunction', () => {
  it('runs the hello example when started like `temporal workflow start` (plain SDK start, JSON input)', async () => {
    const { specs } = await loadSpecs([path.join(REPO_ROOT, 'function-specs', 'hello.yaml')]);
    const spec = structuredClone(specs[0]!.spec);
    spec.metadata.name = uniqueName('hello');
    await apply(w.client, spec, w.config.taskQueue);
    // No Pontoon helper: any SDK can start the workflow by type name with the documented input.
    const handle = await w.client.workflow.start('executeFunction', {
      taskQueue: w.config.taskQueue,
      workflowId: `plain-sdk-${spec.metadata.name}`,
      args: [{ function: spec.metadata.name, parameters: { name: 'Ada' } }],
    });
    const result = await handle.result();
    expect(result).toMatchObject({
      status: 'succeeded',
      output: { greeting: 'Hello, Ada!' },
      parameters: { name: 'Ada' },
      trigger: 'sdk',
      executionId: `plain-sdk-${spec.metadata.name}`,
    });
    expect(result.attempts).toHaveLength(1);
    expect(result.attempts[0]).toMatchObject({ attempt: 1, exitCode: 0 });
    expect(result.attempts[0].logTail).toContain('greeting Ada');
  });

  it('retries a failing function with the spec backoff and records every attempt', async () => {
    const spec = fixtureSpec(uniqueName('flaky'), 'behave.mjs', {
      parameters: [
        { name: 'mode', default: 'fail-until' },
        { name: 'until', type: 'integer', default: 3 },
      ],
      execution: {
        retry: { maxAttempts: 4, initialInterval: '1s', backoffCoefficient: 2, maxInterval: '10s' },
      },
    });
    await apply(w.client, spec, w.config.taskQueue);
    const ex = await startExecution(
      w.client,
      { function: spec.metadata.name },
      { trigger: 'cli', taskQueue: w.config.taskQueue },
    );
    const result = await waitForResult(w.client, ex.executionId);
    expect(result.status).toBe('succeeded');
    expect(result.output).toEqual({ ok: true, attempt: 3 });
    expect(result.attempts.map((a) => [a.attempt, a.exitCode, a.failure?.type])).toEqual([
      [1, 1, 'FunctionExit'],
      [2, 1, 'FunctionExit'],
      [3, 0, undefined],
    ]);
    // Backoff 1s then 2s (initialInterval × coefficient^(n−1)), measured between attempts.
    const gap = (i: number) =>
      Date.parse(result.attempts[i + 1]!.startedAt) - Date.parse(result.attempts[i]!.endedAt);
    expect(gap(0)).toBeGreaterThanOrEqual(1000);
    expect(gap(0)).toBeLessThan(1900);
    expect(gap(1)).toBeGreaterThanOrEqual(2000);
    expect(gap(1)).toBeLessThan(2900);
  });

  it('runs 30 concurrent fast executions to completion (no lost exit events under load)', async () => {
    const spec = fixtureSpec(uniqueName('burst'), 'behave.mjs', {
      parameters: [{ name: 'mode', default: 'ok' }],
    });
    await apply(w.client, spec, w.config.taskQueue);
    const started = await Promise.all(
      Array.from({ length: 30 }, () =>
        startExecution(
          w.client,
          { function: spec.metadata.name },
          { trigger: 'cli', taskQueue: w.config.taskQueue },
        ),
      ),
    );
    const results = await Promise.all(started.map((s) => waitForResult(w.client, s.executionId)));
    expect(results.map((r) => r.status)).toEqual(Array(30).fill('succeeded'));
  });

  it('stops at once on a non-retryable exit code', async () => {
    const spec = fixtureSpec(uniqueName('nonretry'), 'behave.mjs', {
      parameters: [
        { name: 'mode', default: 'fail' },
        { name: 'code', type: 'integer', default: 3 },
      ],
      execution: { retry: { maxAttempts: 5, nonRetryableExitCodes: [3] } },
    });
    await apply(w.client, spec, w.config.taskQueue);
    const ex = await startExecution(
      w.client,
      { function: spec.metadata.name },
      { trigger: 'cli', taskQueue: w.config.taskQueue },
    );
    const failure = await failureOf(ex.executionId);
    expect(failure.type).toBe('FunctionExitNonRetryable');
    expect(failure.message).toContain('exited with code 3');
    const result = await waitForResult(w.client, ex.executionId);
    expect(result.status).toBe('failed');
    expect(result.attempts).toHaveLength(1);
    expect(result.attempts[0]).toMatchObject({
      exitCode: 3,
      failure: { type: 'FunctionExitNonRetryable', retryable: false },
    });
    expect(result.attempts[0]!.logTail).toContain('failing with 3');
  });

  it('fails after maxAttempts with every attempt recorded', async () => {
    const spec = fixtureSpec(uniqueName('exhaust'), 'behave.mjs', {
      parameters: [{ name: 'mode', default: 'fail' }],
      execution: { retry: { maxAttempts: 2, initialInterval: '1s' } },
    });
    await apply(w.client, spec, w.config.taskQueue);
    const ex = await startExecution(
      w.client,
      { function: spec.metadata.name },
      { trigger: 'cli', taskQueue: w.config.taskQueue },
    );
    const result = await waitForResult(w.client, ex.executionId);
    expect(result.status).toBe('failed');
    expect(result.attempts.map((a) => a.exitCode)).toEqual([1, 1]);
    expect(result.failure?.message).toContain('all 2 attempts used');
  });

  it('kills an overrunning attempt with its whole process group and retries it', async () => {
    const dir = w.config.dataDir;
    const spec = fixtureSpec(uniqueName('slow'), 'behave.mjs', {
      parameters: [
        { name: 'mode', default: 'sleep' },
        { name: 'marker', default: path.join(dir, 'slow-{{ attempt }}.json') },
      ],
      execution: { timeout: '2s', retry: { maxAttempts: 2, initialInterval: '1s' } },
    });
    await apply(w.client, spec, w.config.taskQueue);
    const ex = await startExecution(
      w.client,
      { function: spec.metadata.name },
      { trigger: 'cli', taskQueue: w.config.taskQueue },
    );
    const result = await waitForResult(w.client, ex.executionId);
    expect(result.status).toBe('failed');
    expect(result.attempts.map((a) => a.failure?.type)).toEqual(['AttemptTimedOut', 'AttemptTimedOut']);
    for (const attempt of [1, 2]) {
      const pids = JSON.parse(await readFile(path.join(dir, `slow-${attempt}.json`), 'utf8'));
      expect(pids.attempt).toBe(attempt);
      // The function ignores SIGTERM; SIGKILL after the 2 s grace ends it and its `sleep` grandchild.
      expect(pidAlive(pids.pid)).toBe(false);
      expect(pidAlive(pids.child)).toBe(false);
    }
    // Each attempt ran ≈ timeout + grace (4 s), never much longer: the bound leaves 5 s for a loaded
    // 2-core machine (6.0 s was seen with two test runs at once), far below a missed kill (the sleep).
    for (const a of result.attempts) {
      const ran = Date.parse(a.endedAt) - Date.parse(a.startedAt);
      expect(ran).toBeGreaterThanOrEqual(2000);
      expect(ran).toBeLessThan(9000);
    }
  });

  it('cancellation kills the running process within 5 s and the execution ends cancelled', async () => {
    const marker = path.join(w.config.dataDir, `cancel-${Date.now()}.json`);
    const spec = fixtureSpec(uniqueName('cancel'), 'behave.mjs', {
      parameters: [
        { name: 'mode', default: 'sleep' },
        { name: 'marker', default: marker },
      ],
      execution: { timeout: '5m' },
    });
    await apply(w.client, spec, w.config.taskQueue);
    const ex = await startExecution(
      w.client,
      { function: spec.metadata.name },
      { trigger: 'cli', taskQueue: w.config.taskQueue },
    );
    const pids = await waitFor('the function to start', async () => {
      try {
        return JSON.parse(await readFile(marker, 'utf8')) as { pid: number; child: number };
      } catch {
        return undefined;
      }
    });
    expect(pidAlive(pids.pid)).toBe(true);
    const handle = w.client.workflow.getHandle(ex.executionId);
    const cancelledAt = Date.now();
    await handle.cancel();
    await waitFor(
      'the process group to die',
      () => (!pidAlive(pids.pid) && !pidAlive(pids.child) ? true : undefined),
      5000,
    );
    const killedWithin = Date.now() - cancelledAt;
    expect(killedWithin).toBeLessThan(5000);
    const err = await handle.result().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(WorkflowFailedError);
    expect((err as WorkflowFailedError).cause).toBeInstanceOf(CancelledFailure);
    expect((await handle.describe()).status.name).toBe('CANCELLED');
  });

  it('enforces the overall deadline across retries', async () => {
    const spec = fixtureSpec(uniqueName('deadline'), 'behave.mjs', {
      parameters: [{ name: 'mode', default: 'fail' }],
      execution: {
        timeout: '2s',
        deadline: '3s',
        retry: { maxAttempts: 10, initialInterval: '2s', backoffCoefficient: 1 },
      },
    });
    await apply(w.client, spec, w.config.taskQueue);
    const ex = await startExecution(
      w.client,
      { function: spec.metadata.name },
      { trigger: 'cli', taskQueue: w.config.taskQueue },
    );
    const failure = await failureOf(ex.executionId);
    expect(failure.type).toBe('DeadlineExceeded');
    const result = await waitForResult(w.client, ex.executionId);
    expect(result.status).toBe('timed_out');
    expect(result.attempts.length).toBeLessThan(3);
  });

  it('rejects oversized and malformed output without retrying', async () => {
    for (const [mode, type] of [
      ['big-output', 'OutputTooLarge'],
      ['bad-output', 'OutputInvalid'],
    ] as const) {
      const spec = fixtureSpec(uniqueName(mode), 'behave.mjs', {
        parameters: [{ name: 'mode', default: mode }],
      });
      await apply(w.client, spec, w.config.taskQueue);
      const ex = await startExecution(
        w.client,
        { function: spec.metadata.name },
        { trigger: 'cli', taskQueue: w.config.taskQueue },
      );
      const result = await waitForResult(w.client, ex.executionId);
      expect(result.status).toBe('failed');
      expect(result.attempts).toHaveLength(1);
      expect(result.attempts[0]!.failure?.type).toBe(type);
    }
  });

  it('fails clearly for an unknown function, bad parameters and bad input, before any attempt', async () => {
    const missing = await startExecution(
      w.client,
      { function: 'no-such-function' },
      { trigger: 'cli', taskQueue: w.config.taskQueue },
    );
    const f1 = await failureOf(missing.executionId);
    expect(f1.type).toBe('FunctionNotFound');
    expect(f1.message).toContain('no function named "no-such-function"');

    const spec = fixtureSpec(uniqueName('params'), 'behave.mjs', {
      parameters: [{ name: 'count', type: 'integer', required: true }],
    });
    await apply(w.client, spec, w.config.taskQueue);
    const bad = await startExecution(
      w.client,
      { function: spec.metadata.name, parameters: { count: 'many', colour: 'red' } },
      { trigger: 'cli', taskQueue: w.config.taskQueue },
    );
    const f2 = await failureOf(bad.executionId);
    expect(f2.type).toBe('ParameterInvalid');
    expect(f2.message).toContain('unknown parameter "colour"');
    expect(f2.message).toContain('parameter "count": "many" is not an integer');
    expect((await waitForResult(w.client, bad.executionId)).attempts).toEqual([]);

    const handle = await w.client.workflow.start('executeFunction', {
      taskQueue: w.config.taskQueue,
      workflowId: `bad-input-${Date.now()}`,
      args: [{ fn: 'hello' }],
    });
    const err = await handle.result().then(
      () => undefined,
      (e: unknown) => e as WorkflowFailedError,
    );
    expect(err).toBeInstanceOf(WorkflowFailedError);
    expect((err!.cause as ApplicationFailure).type).toBe('InputInvalid');
    expect(err!.cause!.message).toContain('unknown field(s) fn');
  });

  it('records resolved parameters in history and sets search attributes for the Web UI', async () => {
    const spec = fixtureSpec(uniqueName('report'), 'behave.mjs', {
      parameters: [
        { name: 'mode', default: 'ok' },
        {
          name: 'day',
          type: 'date',
          default: "{{ scheduledTime | tz('Europe/London') | minus('1d') | date }}",
        },
      ],
      execution: { priority: 'high' },
    });
    await apply(w.client, spec, w.config.taskQueue);
    const ex = await startExecution(
      w.client,
      { function: spec.metadata.name, scheduledTime: '2026-03-29T00:30:00Z' },
      { trigger: 'cli', taskQueue: w.config.taskQueue },
    );
    const result = await waitForResult(w.client, ex.executionId);
    // 00:30 UTC on 29 March 2026 is 00:30 GMT in London (BST starts at 01:00 UTC): yesterday is the 28th.
    expect(result.parameters).toEqual({ mode: 'ok', day: '2026-03-28' });
    expect(result).toMatchObject({ trigger: 'cli', priority: 1, scheduledTime: '2026-03-29T00:30:00.000Z' });

    const history = await w.client.workflow.getHandle(ex.executionId).fetchHistory();
    const scheduled = history.events!.find(
      (e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'runAttempt',
    );
    const payload = scheduled!.activityTaskScheduledEventAttributes!.input!.payloads![0]!;
    const attemptInput = defaultPayloadConverter.fromPayload(payload) as { parameters: unknown };
    expect(attemptInput.parameters).toEqual({ mode: 'ok', day: '2026-03-28' });

    const query = `${SearchAttr.function.name} = "${spec.metadata.name}" AND ${SearchAttr.trigger.name} = "cli" AND ${SearchAttr.priority.name} = 1`;
    const found = await waitForListed(
      'the execution to be listed by its search attributes',
      async () => {
        const ids: string[] = [];
        for await (const e of w.client.workflow.list({ query })) ids.push(e.workflowId);
        return ids;
      },
      { ids: [ex.executionId], idOf: (id) => id },
    );
    expect(found).toEqual([ex.executionId]);
  });

  it('is legible in the Web UI whoever started it: failed attempts FAIL their activity with exit code and log tail, memo and failure lead with the function error', async () => {
    const spec = fixtureSpec(uniqueName('legible'), 'behave.mjs', {
      parameters: [
        { name: 'mode', default: 'fail' },
        { name: 'code', type: 'integer', default: 4 },
      ],
      execution: { retry: { maxAttempts: 2, initialInterval: '1s' } },
    });
    const name = spec.metadata.name;
    await apply(w.client, spec, w.config.taskQueue);
    // A plain SDK start: no search attributes, memo or summary from the starter.
    const handle = await w.client.workflow.start('executeFunction', {
      taskQueue: w.config.taskQueue,
      workflowId: `plain-${name}`,
      args: [{ function: name, parameters: { code: 4 } }],
    });
    const failure = await failureOf(handle.workflowId);
    expect(failure.type).toBe('FunctionExit');
    expect(failure.message).toBe(
      `${name} failed after 2 attempts: failing with 4 — exited with code 4 (all 2 attempts used)`,
    );
    expect(failure.stack).toContain(
      'last lines of attempt 2 (stdout and stderr):\nbehave mode=fail attempt=2',
    );

    // The result is unchanged: every attempt, its exit code, its failure of the table (retryable).
    const result = await waitForResult(w.client, handle.workflowId);
    expect(result.attempts.map((a) => [a.exitCode, a.failure?.type, a.failure?.retryable])).toEqual([
      [4, 'FunctionExit', true],
      [4, 'FunctionExit', true],
    ]);
    expect(result.failure).toEqual({
      type: 'FunctionExit',
      message: 'exited with code 4 (all 2 attempts used)',
      retryable: true,
    });

    // Each failed attempt is an Activity Task Failed: the function error and exit code, its log
    // tail as the trace, the outcome as its details; Temporal did not retry the activity itself.
    const history = await handle.fetchHistory();
    const failedAttempts = history.events!.flatMap((e) =>
      e.activityTaskFailedEventAttributes ? [e.activityTaskFailedEventAttributes] : [],
    );
    expect(failedAttempts).toHaveLength(2);
    for (const [i, a] of failedAttempts.entries()) {
      expect(a.failure?.message).toBe('failing with 4 — exited with code 4');
      expect(a.failure?.applicationFailureInfo).toMatchObject({ type: 'FunctionExit', nonRetryable: true });
      expect(a.failure?.stackTrace).toContain(`last lines of attempt ${i + 1} (stdout and stderr):`);
      const outcome = defaultPayloadConverter.fromPayload(
        a.failure!.applicationFailureInfo!.details!.payloads![0]!,
      ) as { exitCode: number; logTail: string };
      expect(outcome.exitCode).toBe(4);
      expect(outcome.logTail).toContain('failing with 4');
    }
    const scheduled = history.events!.filter(
      (e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'runAttempt',
    );
    expect(scheduled).toHaveLength(2);
    expect(
      history
        .events!.filter((e) => e.activityTaskStartedEventAttributes)
        .map((e) => Number(e.activityTaskStartedEventAttributes!.attempt)),
    ).toEqual([1, 1]);

    // The memo says it all, set by the execution itself (trigger sdk: nobody named one).
    const { memo } = await handle.describe();
    expect(memo).toEqual({
      summary: `${name} (sdk): failed after 2 attempts: failing with 4 — exited with code 4 (all 2 attempts used)`,
      function: name,
      trigger: 'sdk',
      parameters: { mode: 'fail', code: 4 },
      status: 'failed',
      attempts: 2,
      exitCode: 4,
      error: 'failing with 4',
      failure: 'FunctionExit: exited with code 4 (all 2 attempts used)',
    });
  });
});
