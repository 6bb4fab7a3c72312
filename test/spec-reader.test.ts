/**
 * Spec reads under bursts, on the real dev server. No execution asks its function's controller for
 * the spec with a query, whoever started it: pinned reads of a version the worker holds cost
 * nothing, other reads take the spec from the controller's memo (DescribeWorkflowExecution, no
 * workflow task), concurrent ones sharing a describe. (Temporal buffers one query per busy workflow
 * and refuses the rest with RESOURCE_EXHAUSTED, which failed executions of a 1,000-execution burst
 * before the API pinned, and kept unpinned SDK and schedule starts on the controller's path.)
 */
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { WithStartWorkflowOperation } from '@temporalio/client';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { applySpec, startExecution, waitForResult } from '../client/functions.ts';
import { SpecReader } from '../client/spec-reader.ts';
import { controllerWorkflowId, TASK_QUEUE, Trigger, WorkflowType } from '../core/names.ts';
import type { FunctionSpec } from '../core/schema.ts';
import { createMetrics } from '../platform/metrics.ts';
import { applyUpdate, deleteUpdate, SPEC_MEMO_KEY } from '../workflows/definitions.ts';
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
  const d = await metrics.registry.getSingleMetricAsString('pontoon_spec_describes_total');
  const describes = Number(/pontoon_spec_describes_total (\d+)/.exec(d)?.[1] ?? 0);
  return { memory: of('memory'), memo: of('memo'), query: of('query'), describes };
};

it('a read after an apply sees it, from the memo, without a query', async () => {
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
  expect(reader.stats).toEqual({ queries: 0, describes: 2, memoReads: 2, pinnedHits: 0 });
  // The memo is the query's answer, published in the apply's own workflow task.
  const handle = w.client.workflow.getHandle(controllerWorkflowId(name));
  const memo = (await handle.describe()).memo?.[SPEC_MEMO_KEY] as { current: unknown };
  expect(memo.current).toEqual(await handle.query('spec'));
});

it('a function that was never applied, or was deleted, reads as none', async () => {
  const reader = new SpecReader(w.client);
  expect(await reader.read(uniqueName('none'))).toBeNull();
  const name = uniqueName('del');
  await applySpec(w.client, fixtureSpec(name, 'behave.mjs'), w.config.taskQueue);
  expect((await reader.read(name))?.version).toBe(1);
  await w.client.workflow.getHandle(controllerWorkflowId(name)).executeUpdate(deleteUpdate);
  expect(await reader.read(name)).toBeNull();
  expect(reader.stats.queries).toBe(0);
});

it('a controller terminated by an operator (not deleted) keeps its last spec, as the query on a closed workflow did', async () => {
  const name = uniqueName('term');
  await applySpec(w.client, fixtureSpec(name, 'behave.mjs'), w.config.taskQueue);
  const handle = w.client.workflow.getHandle(controllerWorkflowId(name));
  await handle.terminate('an operator mistake');
  expect((await handle.describe()).status.name).toBe('TERMINATED');
  const reader = new SpecReader(w.client);
  const spec = await reader.read(name);
  expect(spec?.version).toBe(1);
  expect(spec?.spec.metadata.name).toBe(name);
  expect(reader.stats).toEqual({ queries: 0, describes: 1, memoReads: 1, pinnedHits: 0 });
});

it('a pinned read is served from memory only for exactly that version, never for a re-created function', async () => {
  const name = uniqueName('pin');
  await applySpec(w.client, fixtureSpec(name, 'behave.mjs'), w.config.taskQueue);
  const reader = new SpecReader(w.client);
  const v1 = await reader.read(name);
  if (!v1) throw new Error('spec missing');
  const pin = { version: v1.version, appliedAt: v1.appliedAt };
  for (let i = 0; i < 5; i++) expect((await reader.read(name, pin))?.appliedAt).toBe(v1.appliedAt);
  expect(reader.stats).toMatchObject({ queries: 0, describes: 1, pinnedHits: 5 });

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

it('concurrent reads share describes, and a read never returns a version older than the one current when it asked', async () => {
  const name = uniqueName('co');
  await applySpec(w.client, fixtureSpec(name, 'behave.mjs'), w.config.taskQueue);
  const reader = new SpecReader(w.client);
  for (let round = 2; round <= 6; round++) {
    // Reads in flight while the next version is applied: they may see either version.
    const early = Array.from({ length: 50 }, () => reader.read(name));
    await applySpec(
      w.client,
      fixtureSpec(name, 'behave.mjs', { execution: { timeout: `${round}s` } }),
      w.config.taskQueue,
    );
    // Asked after the apply returned: must see it, even though describes sent before are in flight.
    const late = await Promise.all(Array.from({ length: 20 }, () => reader.read(name)));
    expect(late.map((s) => s?.version)).toEqual(late.map(() => round));
    const seen = (await Promise.all(early)).map((s) => s?.version ?? 0);
    expect(seen.every((v) => v === round - 1 || v === round)).toBe(true);
  }
  // 5 × 70 reads: each round at most a few describes (a read joins one sent after it arrived).
  expect(reader.stats.memoReads).toBe(350);
  expect(reader.stats.describes).toBeLessThan(60);
  expect(reader.stats.queries).toBe(0);
});

it('the memo survives continue-as-new (the new run carries it before its first task)', async () => {
  const name = uniqueName('can');
  const spec = (timeout: string): FunctionSpec => fixtureSpec(name, 'behave.mjs', { execution: { timeout } });
  await w.client.workflow.executeUpdateWithStart(applyUpdate, {
    args: [spec('10s')],
    startWorkflowOperation: new WithStartWorkflowOperation(WorkflowType.controller, {
      workflowId: controllerWorkflowId(name),
      taskQueue: w.config.taskQueue,
      args: [{ name, continueAsNewAfterEvents: 15 }],
      workflowIdConflictPolicy: 'USE_EXISTING',
    }),
  });
  const handle = w.client.workflow.getHandle(controllerWorkflowId(name));
  const firstRun = (await handle.describe()).runId;
  for (let i = 11; i <= 16; i++) await applySpec(w.client, spec(`${i}s`), w.config.taskQueue);
  const d = await handle.describe();
  expect(d.runId).not.toBe(firstRun);
  const reader = new SpecReader(w.client);
  expect((await reader.read(name))?.spec.spec.execution.timeout).toBe('16s');
  expect(reader.stats.queries).toBe(0);
  // Inherited by the new run at continue-as-new: the first event of the run already holds it.
  const history = await w.client.workflow.getHandle(controllerWorkflowId(name), d.runId).fetchHistory();
  const started = history.events?.[0]?.workflowExecutionStartedEventAttributes;
  expect(Object.keys(started?.memo?.fields ?? {})).toContain(SPEC_MEMO_KEY);
});

it('1,000 executions of one function started at once through the Temporal SDK without a pin: none fails, none queries the controller', async () => {
  const name = uniqueName('burst');
  await applySpec(
    w.client,
    fixtureSpec(name, 'behave.mjs', { local: { command: ['/bin/sh', '-c', 'exit 0'] } }),
    w.config.taskQueue,
  );
  const serverLog = path.join(inject('testDir'), 'temporal-server.log');
  const logFrom = statSync(serverLog).size;
  const before = await specReads();
  // As `temporal workflow start --type executeFunction --input '{"function": …}'` does: the
  // documented input, no pin, no search attributes, a workflow id of the starter's own.
  const n = 1000;
  const ids = Array.from({ length: n }, (_, i) => `sdk-${name}-${i}`);
  await Promise.all(
    ids.map((workflowId) =>
      w.client.workflow.start(WorkflowType.execute, {
        workflowId,
        taskQueue: w.config.taskQueue ?? TASK_QUEUE,
        args: [{ function: name }],
      }),
    ),
  );
  const results = await Promise.all(ids.map((id) => waitForResult(w.client, id)));
  const failed = results.filter((r) => r.status !== 'succeeded');
  expect(failed).toEqual([]);
  const after = await specReads();
  // Every execution read the spec (a workflow task retried under load reads again: ≥), none by a query.
  expect(after.query - before.query).toBe(0);
  expect(after.memo - before.memo).toBeGreaterThanOrEqual(n);
  expect(after.memory - before.memory).toBe(0);
  // Concurrent reads shared describes.
  expect(after.describes - before.describes).toBeLessThan(after.memo - before.memo);
  const log = readFileSync(serverLog, 'utf8').slice(logFrom);
  expect(log).not.toMatch(/consistent query buffer is full|RESOURCE_EXHAUSTED/);
  expect(results[0]?.trigger).toBe(Trigger.sdk);
}, 600_000);

it('pinned by the API, executions ask nobody', async () => {
  const name = uniqueName('pinned');
  const applied = await applySpec(
    w.client,
    fixtureSpec(name, 'behave.mjs', { local: { command: ['/bin/sh', '-c', 'exit 0'] } }),
    w.config.taskQueue,
  );
  const pin = { version: applied.version, appliedAt: applied.appliedAt };
  const start = (n: number) =>
    Promise.all(
      Array.from({ length: n }, () =>
        startExecution(
          w.client,
          { function: name, spec: pin },
          { trigger: Trigger.api, taskQueue: w.config.taskQueue },
        ),
      ),
    );
  // The first may read the memo (this worker does not hold the version yet); then memory only.
  await waitForResult(w.client, (await start(1))[0]!.executionId);
  const before = await specReads();
  const started = await start(50);
  const results = await Promise.all(started.map((s) => waitForResult(w.client, s.executionId)));
  expect(results.every((r) => r.status === 'succeeded')).toBe(true);
  const after = await specReads();
  expect(after.memory - before.memory).toBeGreaterThanOrEqual(50);
  expect({ ...after, memory: 0 }).toEqual({ ...before, memory: 0 });
  expect(results[0]?.specVersion).toBe(applied.version);
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
