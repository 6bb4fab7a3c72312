/**
 * Admission under a concurrency limit, on the real dev server: priority order, aging, the limit
 * itself, leases of dead executions, continue-as-new with a full queue, and no admission at all
 * for functions without a limit.
 */
import { WithStartWorkflowOperation } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startExecution, waitForResult } from '../client/functions.ts';
import type { ExecutionResult } from '../core/execution.ts';
import { controllerWorkflowId } from '../core/names.ts';
import type { FunctionSpec } from '../core/schema.ts';
import { admissionQuery, applyUpdate } from '../workflows/definitions.ts';
import { apply, fixtureSpec, type RunningWorker, startWorker, uniqueName, waitFor } from './helpers.ts';

let w: RunningWorker;
beforeAll(async () => {
  w = await startWorker();
});
afterAll(async () => {
  await w?.stop();
});

const limited = (name: string, concurrency: number, execution: Record<string, unknown> = {}) =>
  fixtureSpec(name, 'behave.mjs', {
    parameters: [
      { name: 'mode', default: 'marker' },
      { name: 'marker', default: '/dev/null' },
      { name: 'seconds', type: 'number', default: 0.2 },
    ],
    execution: { concurrency, retry: { maxAttempts: 1 }, ...execution },
  });

const start = (fn: string, parameters: Record<string, unknown> = {}, priority?: number) =>
  startExecution(
    w.client,
    { function: fn, parameters, ...(priority ? { priority } : {}) },
    { trigger: 'cli', taskQueue: w.config.taskQueue },
  );

const admission = (fn: string) => w.client.workflow.getHandle(controllerWorkflowId(fn)).query(admissionQuery);

async function queuedCount(fn: string, n: number) {
  return waitFor(`${n} queued`, async () => ((await admission(fn)).queued.length >= n ? true : undefined));
}

const startedAt = (r: ExecutionResult) => Date.parse(r.attempts[0]!.startedAt);

describe('admission', () => {
  it('with the slot busy, 10 high-priority executions all start before any of 10 queued low ones', async () => {
    const fn = uniqueName('prio');
    await apply(w.client, limited(fn, 1), w.config.taskQueue);
    const blocker = await start(fn, { seconds: 15 });
    await waitFor('the blocker to hold the slot', async () =>
      (await admission(fn)).running.length === 1 ? true : undefined,
    );
    const low = (await Promise.all(Array.from({ length: 10 }, () => start(fn, {}, 5)))).map(
      (x) => x.executionId,
    );
    await queuedCount(fn, 10);
    const high = (await Promise.all(Array.from({ length: 10 }, () => start(fn, {}, 1)))).map(
      (x) => x.executionId,
    );
    await queuedCount(fn, 20);
    const state = await admission(fn);
    expect(state.queuedByPriority).toMatchObject({ '1': 10, '5': 10 });
    expect(state.running.map((r) => r.executionId)).toEqual([blocker.executionId]);
    // Arrival order at the controller (within a priority, admission is first come, first served).
    const arrival = state.queued.map((q) => q.executionId);

    await waitForResult(w.client, blocker.executionId);
    const lows = await Promise.all(low.map((id) => waitForResult(w.client, id)));
    const highs = await Promise.all(high.map((id) => waitForResult(w.client, id)));
    const lastHigh = Math.max(...highs.map(startedAt));
    const firstLow = Math.min(...lows.map(startedAt));
    expect(lastHigh).toBeLessThan(firstLow);
    // Admission order = high ones in arrival order, then low ones in arrival order.
    const all = [...highs, ...lows].sort((a, b) => startedAt(a) - startedAt(b)).map((r) => r.executionId);
    expect(all).toEqual([
      ...arrival.filter((id) => high.includes(id)),
      ...arrival.filter((id) => low.includes(id)),
    ]);
  });

  it('aging: under sustained high-priority load a low request starts within its bound', async () => {
    const fn = uniqueName('aging');
    // Priority 5 counts as priority 1 after 4 × 1 s.
    await apply(w.client, limited(fn, 1, { priorityAging: '1s' }), w.config.taskQueue);
    const blocker = await start(fn, { seconds: 1 });
    await waitFor('the blocker to hold the slot', async () =>
      (await admission(fn)).running.length === 1 ? true : undefined,
    );
    const low = await start(fn, { seconds: 0.1 }, 5);
    const lowQueuedAt = Date.now();
    // Sustained load: keep 3 fresh high-priority requests queued until the low one has run.
    const highs: string[] = [];
    let lowDone = false;
    const lowResult = waitForResult(w.client, low.executionId).then((r) => {
      lowDone = true;
      return r;
    });
    while (!lowDone && highs.length < 60) {
      const state = await admission(fn);
      if (state.queuedByPriority['1'] < 3) highs.push((await start(fn, { seconds: 0.5 }, 1)).executionId);
      else await new Promise((r) => setTimeout(r, 100));
    }
    const r = await lowResult;
    const waited = startedAt(r) - lowQueuedAt;
    const highResults = await Promise.all(highs.map((id) => waitForResult(w.client, id)));
    // Some high-priority executions went first (it was not FIFO), and many were still to come (no starvation).
    expect(highResults.filter((h) => startedAt(h) < startedAt(r)).length).toBeGreaterThan(0);
    expect(highs.length).toBeLessThan(60);
    // Bound: (5 − 1) × 1 s of aging, plus the high-priority runs queued before it reached priority 1
    // (at most 3 of 0.5 s plus process start-up each), plus the blocker.
    expect(waited).toBeLessThan(4000 + 3 * 1500 + 1500);
    await waitForResult(w.client, blocker.executionId);
  });

  it('50 executions of a concurrency-3 function never run more than 3 at once, and all complete', async () => {
    const fn = uniqueName('conc');
    await apply(w.client, limited(fn, 3), w.config.taskQueue);
    const ids = await Promise.all(Array.from({ length: 50 }, () => start(fn, { seconds: 0.3 })));
    const results = await Promise.all(ids.map((s) => waitForResult(w.client, s.executionId)));
    expect(results.every((r) => r.status === 'succeeded')).toBe(true);
    const events = results.flatMap((r) => [
      { t: Date.parse(r.attempts[0]!.startedAt), d: 1 },
      { t: Date.parse(r.attempts[0]!.endedAt), d: -1 },
    ]);
    events.sort((a, b) => a.t - b.t || a.d - b.d);
    let running = 0;
    let peak = 0;
    for (const e of events) {
      running += e.d;
      peak = Math.max(peak, running);
    }
    expect(peak).toBeLessThanOrEqual(3);
    expect(peak).toBe(3);
    expect((await admission(fn)).running).toEqual([]);
  }, 120_000);

  it('a terminated execution holding a slot frees it within the lease time', async () => {
    const fn = uniqueName('lease');
    await apply(w.client, limited(fn, 1, { slotLease: '4s' }), w.config.taskQueue);
    const holder = await start(fn, { seconds: 30 });
    await waitFor('the holder to run', async () =>
      (await admission(fn)).running.length === 1 ? true : undefined,
    );
    const waiting = await start(fn, { seconds: 0.1 });
    await queuedCount(fn, 1);
    const terminatedAt = Date.now();
    await w.client.workflow
      .getHandle(holder.executionId)
      .terminate('test: the execution dies holding its slot');
    const r = await waitForResult(w.client, waiting.executionId);
    const freedAfter = startedAt(r) - terminatedAt;
    expect(freedAfter).toBeLessThan(4000 + 3000);
    const recent = (await admission(fn)).recent;
    expect(recent).toContainEqual(
      expect.objectContaining({ executionId: holder.executionId, event: 'lease-expired' }),
    );
  });

  it('continue-as-new with 30 queued requests and in-flight updates loses none and reorders none', async () => {
    const fn = uniqueName('can');
    const spec = limited(fn, 1);
    // Start the controller ourselves with a low continue-as-new threshold.
    await w.client.workflow.executeUpdateWithStart(applyUpdate, {
      args: [spec],
      startWorkflowOperation: new WithStartWorkflowOperation('functionController', {
        workflowId: controllerWorkflowId(fn),
        taskQueue: w.config.taskQueue,
        args: [{ name: fn, continueAsNewAfterEvents: 40 }],
        workflowIdConflictPolicy: 'USE_EXISTING',
      }),
    });
    const blocker = await start(fn, { seconds: 15 });
    await waitFor('the blocker to hold the slot', async () =>
      (await admission(fn)).running.length === 1 ? true : undefined,
    );
    const runBefore = (await w.client.workflow.getHandle(controllerWorkflowId(fn)).describe()).runId;
    const queued: string[] = [];
    const updates: Promise<unknown>[] = [];
    for (let i = 0; i < 30; i++) {
      queued.push((await start(fn, { seconds: 0.1 })).executionId);
      // Spec updates in flight while the queue grows and the controller continues as new.
      if (i % 10 === 0) {
        const next: FunctionSpec = structuredClone(spec);
        next.spec.execution.timeout = `${60 + i}s`;
        updates.push(apply(w.client, next, w.config.taskQueue));
      }
    }
    const applied = (await Promise.all(updates)) as { version: number }[];
    // Three applies in flight at once: each gets its own version, in whatever order they arrive.
    expect(applied.map((a) => a.version).sort()).toEqual([2, 3, 4]);
    await queuedCount(fn, 30);
    const snapshot = await admission(fn);
    const arrival = snapshot.queued.map((q) => q.executionId);
    expect(new Set(arrival)).toEqual(new Set(queued));
    // The controller continued as new while all 30 waited and the blocker still held the slot.
    const runAfter = (await w.client.workflow.getHandle(controllerWorkflowId(fn)).describe()).runId;
    expect(runAfter).not.toBe(runBefore);
    expect(snapshot.running.map((r) => r.executionId)).toEqual([blocker.executionId]);

    await waitForResult(w.client, blocker.executionId);
    const results = await Promise.all(queued.map((id) => waitForResult(w.client, id)));
    expect(results.every((r) => r.status === 'succeeded')).toBe(true);
    // Same priority: admitted exactly in arrival order, across the continue-as-new.
    const admitted = [...results].sort((a, b) => startedAt(a) - startedAt(b)).map((r) => r.executionId);
    expect(admitted).toEqual(arrival);
    // It did continue as new at least once.
    const desc = await w.client.workflow.getHandle(controllerWorkflowId(fn)).describe();
    expect(desc.raw.workflowExecutionInfo?.firstRunId).not.toBe(desc.runId);
  }, 120_000);

  it('functions without a concurrency limit never involve the controller', async () => {
    const fn = uniqueName('free');
    await apply(
      w.client,
      fixtureSpec(fn, 'behave.mjs', { parameters: [{ name: 'mode', default: 'ok' }] }),
      w.config.taskQueue,
    );
    const ids = await Promise.all(Array.from({ length: 5 }, () => start(fn)));
    await Promise.all(ids.map((s) => waitForResult(w.client, s.executionId)));
    const history = await w.client.workflow.getHandle(controllerWorkflowId(fn)).fetchHistory();
    const signals = history.events!.filter((e) => e.workflowExecutionSignaledEventAttributes);
    expect(signals).toEqual([]);
    expect((await admission(fn)).concurrency).toBeNull();
  });
});
