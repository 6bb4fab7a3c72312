/** Warm mode on the local runtime: long-lived replicas serve successive invocations. */
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startExecution, waitForResult } from '../client/functions.ts';
import { loadSpecs } from '../core/load.ts';
import type { FunctionSpec } from '../core/schema.ts';
import { apply, pidAlive, REPO_ROOT, type RunningWorker, startWorker, uniqueName } from './helpers.ts';

let w: RunningWorker;
let base: FunctionSpec;
beforeAll(async () => {
  w = await startWorker();
  base = (await loadSpecs([path.join(REPO_ROOT, 'function-specs', 'warm-greeter.yaml')])).specs[0]!.spec;
});
afterAll(async () => {
  await w?.stop();
});

function warmSpec(warm: Partial<NonNullable<FunctionSpec['spec']['warm']>>): FunctionSpec {
  const spec = structuredClone(base);
  spec.metadata.name = uniqueName('warm');
  spec.spec.warm = { ...spec.spec.warm!, ...warm };
  return spec;
}

const run = async (fn: string, parameters: Record<string, unknown> = {}) => {
  const s = await startExecution(
    w.client,
    { function: fn, parameters },
    { trigger: 'cli', taskQueue: w.config.taskQueue },
  );
  return waitForResult(w.client, s.executionId);
};

it('successive invocations are served by the same long-lived process', async () => {
  const spec = warmSpec({ maxReplicas: 1 });
  await apply(w.client, spec, w.config.taskQueue);
  const results = [];
  for (const name of ['Ada', 'Grace', 'Edsger']) results.push(await run(spec.metadata.name, { name }));
  expect(results.map((r) => r.status)).toEqual(['succeeded', 'succeeded', 'succeeded']);
  const outputs = results.map((r) => r.output as { pid: number; served: number; greeting: string });
  expect(outputs.map((o) => o.greeting)).toEqual(['Hello, Ada!', 'Hello, Grace!', 'Hello, Edsger!']);
  expect(new Set(outputs.map((o) => o.pid)).size).toBe(1);
  expect(outputs.map((o) => o.served)).toEqual([1, 2, 3]);
  expect(pidAlive(outputs[0]!.pid)).toBe(true);
  expect(results[2]!.attempts[0]!.logTail).toContain(`served by warm replica pid ${outputs[0]!.pid}`);
});

it('grows up to maxReplicas under concurrent load, never above', async () => {
  const spec = warmSpec({ minReplicas: 1, maxReplicas: 2, concurrencyPerReplica: 1 });
  await apply(w.client, spec, w.config.taskQueue);
  const results = await Promise.all(
    Array.from({ length: 5 }, () => run(spec.metadata.name, { delayMs: 400 })),
  );
  expect(results.every((r) => r.status === 'succeeded')).toBe(true);
  const pids = new Set(results.map((r) => (r.output as { pid: number }).pid));
  expect(pids.size).toBe(2);
});

it('a 4xx answer is a non-retryable failure; the replica keeps serving', async () => {
  const spec = warmSpec({ maxReplicas: 1 });
  await apply(w.client, spec, w.config.taskQueue);
  const bad = await run(spec.metadata.name, { name: 'nobody' });
  expect(bad.status).toBe('failed');
  expect(bad.attempts).toHaveLength(1);
  expect(bad.attempts[0]!.failure).toMatchObject({ type: 'FunctionExitNonRetryable' });
  expect(bad.attempts[0]!.failure!.message).toContain('HTTP 422');
  const good = await run(spec.metadata.name, { name: 'Ada' });
  expect(good.status).toBe('succeeded');
});
