/**
 * Spec reads under bursts, on the real dev server: executions the API starts are pinned to the spec
 * version it validated, and a worker holding that version must not query the function's controller
 * (Temporal buffers one query per busy workflow and refuses the rest with RESOURCE_EXHAUSTED, which
 * failed executions of a 1,000-execution burst before they ran).
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { applySpec, startExecution, waitForResult } from '../client/functions.ts';
import { SpecReader } from '../client/spec-reader.ts';
import { controllerWorkflowId, Trigger } from '../spec/names.ts';
import { createMetrics } from '../worker/metrics.ts';
import { deleteUpdate } from '../workflows/definitions.ts';
import { fixtureSpec, type RunningWorker, startWorker, testConfig, uniqueName } from './helpers.ts';

let w: RunningWorker;
const metrics = createMetrics();
beforeAll(async () => {
  w = await startWorker(testConfig(), { metrics });
});
afterAll(async () => {
  await w?.stop();
});

const specReads = async () => {
  const m = await metrics.registry.getSingleMetricAsString('pontoon_spec_reads_total');
  const of = (source: string) => Number(new RegExp(`source="${source}"} (\\d+)`).exec(m)?.[1] ?? 0);
  return { memory: of('memory'), query: of('query') };
};

it('a read after an apply sees it (unpinned reads always ask the controller)', async () => {
  const name = uniqueName('rd');
  await applySpec(w.client, fixtureSpec(name, 'behave.mjs'), w.config.taskQueue);
  const reader = new SpecReader(w.client);
  expect((await reader.read(name))?.version).toBe(1);
  await applySpec(
    w.client,
    fixtureSpec(name, 'behave.mjs', { execution: { timeout: '42s' } }),
    w.config.taskQueue,
  );
  const after = await reader.read(name);
  expect(after?.version).toBe(2);
  expect(after?.spec.spec.execution.timeout).toBe('42s');
  expect(reader.stats).toEqual({ queries: 2, pinnedHits: 0 });
});

it('a pinned read is served from memory only for exactly that version, never for a re-created function', async () => {
  const name = uniqueName('pin');
  await applySpec(w.client, fixtureSpec(name, 'behave.mjs'), w.config.taskQueue);
  const reader = new SpecReader(w.client);
  const v1 = await reader.read(name);
  if (!v1) throw new Error('spec missing');
  const pin = { version: v1.version, appliedAt: v1.appliedAt };
  for (let i = 0; i < 5; i++) expect((await reader.read(name, pin))?.appliedAt).toBe(v1.appliedAt);
  expect(reader.stats).toMatchObject({ queries: 1, pinnedHits: 5 });

  // Deleted and applied again: version 1 again, but a new appliedAt, so the old pin misses.
  await w.client.workflow.getHandle(controllerWorkflowId(name)).executeUpdate(deleteUpdate);
  expect(await reader.read(name)).toBeNull();
  await new Promise((r) => setTimeout(r, 5));
  await applySpec(
    w.client,
    fixtureSpec(name, 'behave.mjs', { execution: { timeout: '7s' } }),
    w.config.taskQueue,
  );
  const again = await reader.read(name, pin);
  expect(again?.version).toBe(1);
  expect(again?.appliedAt).not.toBe(v1.appliedAt);
  expect(again?.spec.spec.execution.timeout).toBe('7s');
  expect(reader.stats.pinnedHits).toBe(5);
});

it('200 executions started together all run; unpinned they query, pinned they ask nobody', async () => {
  const name = uniqueName('burst');
  await applySpec(
    w.client,
    fixtureSpec(name, 'behave.mjs', { local: { command: ['/bin/sh', '-c', 'exit 0'] } }),
    w.config.taskQueue,
  );
  const start = (n: number, pin?: { version: number; appliedAt: string }) =>
    Promise.all(
      Array.from({ length: n }, () =>
        startExecution(
          w.client,
          { function: name, ...(pin ? { spec: pin } : {}) },
          { trigger: Trigger.sdk, taskQueue: w.config.taskQueue },
        ),
      ),
    );
  const before = await specReads();
  // Like `temporal workflow start` or an SDK: no pin, every execution reads the current spec.
  const unpinned = await start(200);
  const results = await Promise.all(unpinned.map((s) => waitForResult(w.client, s.executionId)));
  expect(results.map((r) => r.status)).toEqual(results.map(() => 'succeeded'));
  const mid = await specReads();
  // At least one read per execution (a workflow task retried under load reads again).
  expect(mid.query - before.query).toBeGreaterThanOrEqual(200);
  expect(mid.memory - before.memory).toBe(0);

  // Like the API: pinned to the version it validated against, which this worker now holds.
  const current = results[0];
  const appliedAt = (await new SpecReader(w.client).read(name))?.appliedAt ?? '';
  const pinned = await start(50, { version: current?.specVersion ?? 0, appliedAt });
  const results2 = await Promise.all(pinned.map((s) => waitForResult(w.client, s.executionId)));
  expect(results2.every((r) => r.status === 'succeeded')).toBe(true);
  const end = await specReads();
  expect(end).toEqual({ ...mid, memory: mid.memory + 50 });
}, 120_000);

it('an execution refuses a malformed pin with InputInvalid', async () => {
  const name = uniqueName('badpin');
  await applySpec(w.client, fixtureSpec(name, 'behave.mjs'), w.config.taskQueue);
  const s = await startExecution(
    w.client,
    { function: name, spec: { version: 'one' } as never },
    { trigger: Trigger.sdk, taskQueue: w.config.taskQueue },
  );
  await expect(w.client.workflow.getHandle(s.executionId).result()).rejects.toMatchObject({
    cause: { type: 'InputInvalid', message: expect.stringContaining('"spec" must be') },
  });
});
