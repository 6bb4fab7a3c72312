/**
 * Warm pools on the simulated cluster: the Deployment `pontoon-warm-<function>`, the Scalar's
 * scaling decisions, task-queue priority on the warm queue, and the on-demand fallback.
 *
 * kwok runs no containers, so the Deployment's pods are Ready but nobody in them polls Temporal. Where
 * a test needs attempts served, it starts a stand-in replica on this machine: the example warm
 * function's server plus the real observer in warm mode (`observer/main.ts warm`), a real Temporal
 * worker on the function's warm task queue — the two containers of a replica, as processes.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { AppsV1Api, type V1Deployment } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { buildApi } from '../api/app.ts';
import { startExecution, waitForResult } from '../client/functions.ts';
import type { ExecutionResult } from '../core/execution.ts';
import { controllerWorkflowId, warmDeploymentName, warmTaskQueue } from '../core/names.ts';
import type { FunctionSpec, FunctionSpecInput } from '../core/schema.ts';
import { freePort } from '../dev/temporal.ts';
import { createLogger } from '../platform/logger.ts';
import { progressQuery, warmPoolQuery } from '../workflows/definitions.ts';
import { apply, REPO_ROOT, uniqueName, waitFor } from './helpers.ts';
import {
  createNamespace,
  type KubeWorker,
  kubeConfig,
  kubeSpec,
  simReport,
  startKubeWorker,
} from './kube-helpers.ts';

let ns: { name: string; remove(): Promise<void> };
let w: KubeWorker;
let apps: AppsV1Api;
const cleanups: (() => Promise<void> | void)[] = [];

beforeAll(async () => {
  ns = await createNamespace('warm');
  w = await startKubeWorker(ns.name);
  apps = kubeConfig().makeApiClient(AppsV1Api);
});
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
  await w?.stop();
  await ns?.remove();
});

function warmSpec(
  warm: Partial<NonNullable<FunctionSpecInput['spec']['warm']>>,
  sim: Record<string, string> = {},
  execution: Partial<FunctionSpecInput['spec']['execution']> = {},
): FunctionSpec {
  return kubeSpec(uniqueName('kwarm'), sim, {
    parameters: [
      { name: 'name', default: 'world' },
      { name: 'delayMs', type: 'integer', default: 0 },
    ],
    execution: { mode: 'warm', timeout: '30s', ...execution },
    warm: { scaleDownDelay: '3s', fallback: 'none', ...warm },
  });
}

async function deployment(fn: string): Promise<V1Deployment | undefined> {
  try {
    return await apps.readNamespacedDeployment({ name: warmDeploymentName(fn), namespace: ns.name });
  } catch {
    return undefined;
  }
}

const start = (fn: string, parameters: Record<string, unknown> = {}, priority?: number) =>
  startExecution(
    w.client,
    { function: fn, parameters, ...(priority ? { priority } : {}) },
    { trigger: 'cli', taskQueue: w.config.taskQueue },
  );

/** The two containers of a warm replica, as local processes: the function server and the observer. */
async function standInReplica(fn: string, concurrency: number) {
  const port = await freePort();
  const procs: ChildProcess[] = [];
  const server = spawn(
    process.execPath,
    [path.join(REPO_ROOT, 'function-specs', 'examples', 'warm-greeter.mjs')],
    {
      env: { PATH: process.env.PATH ?? '', PONTOON_PORT: String(port) },
      stdio: 'ignore',
    },
  );
  procs.push(server);
  const observer = spawn(
    process.execPath,
    ['--import', 'tsx', path.join(REPO_ROOT, 'observer', 'main.ts'), 'warm'],
    {
      cwd: REPO_ROOT,
      env: {
        PATH: process.env.PATH ?? '',
        TEMPORAL_ADDRESS: inject('temporalAddress'),
        PONTOON_WARM_TASK_QUEUE: warmTaskQueue(fn),
        PONTOON_PORT: String(port),
        PONTOON_CONCURRENCY: String(concurrency),
        PONTOON_POD_NAME: `stand-in-${fn}`,
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  procs.push(observer);
  let stderr = '';
  observer.stderr!.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const stop = async () => {
    for (const p of procs) p.kill('SIGTERM');
    await Promise.all(procs.map((p) => (p.exitCode === null ? new Promise((r) => p.once('exit', r)) : null)));
  };
  cleanups.push(stop);
  await waitFor('the stand-in observer to poll', () => stderr.includes('observer: serving'), 30_000);
  return { stop, stderr: () => stderr };
}

describe('warm pools on kubernetes', () => {
  it('applying a warm function creates its Deployment at minReplicas with ready, restricted pods', async () => {
    const spec = warmSpec({ minReplicas: 2, maxReplicas: 4, concurrencyPerReplica: 3 });
    const fn = spec.metadata.name;
    await apply(w.client, spec, w.config.taskQueue);
    const d = await waitFor(
      'the Deployment to have 2 ready replicas',
      async () => {
        const got = await deployment(fn);
        return got?.status?.readyReplicas === 2 ? got : undefined;
      },
      30_000,
    );
    expect(d.spec?.replicas).toBe(2);
    const containers = d.spec!.template.spec!.containers;
    expect(containers.map((c) => c.name)).toEqual(['function', 'observer']);
    // The apiserver keeps the probes as built (a probe's own terminationGracePeriodSeconds is dropped
    // where its feature gate is off): a stuck function is restarted after the kill grace (2 s here).
    const fnContainer = containers.find((c) => c.name === 'function')!;
    expect(fnContainer.livenessProbe).toMatchObject({
      httpGet: { path: '/healthz', port: 8080 },
      periodSeconds: 10,
      timeoutSeconds: 5,
      failureThreshold: 3,
      terminationGracePeriodSeconds: 2,
    });
    expect(fnContainer.readinessProbe).toMatchObject({ httpGet: { path: '/healthz' }, timeoutSeconds: 5 });
    expect(fnContainer.startupProbe).toMatchObject({ httpGet: { path: '/healthz' }, failureThreshold: 30 });
    const observer = containers.find((c) => c.name === 'observer')!;
    expect(observer.args).toEqual(['warm']);
    const env = Object.fromEntries((observer.env ?? []).map((e) => [e.name, e.value]));
    expect(env.PONTOON_WARM_TASK_QUEUE).toBe(warmTaskQueue(fn));
    expect(env.PONTOON_CONCURRENCY).toBe('3');
    expect(env.TEMPORAL_ADDRESS).toBe(inject('temporalAddress'));
    const pool = await w.client.workflow.getHandle(controllerWorkflowId(fn)).query(warmPoolQuery);
    expect(pool).toMatchObject({ managed: true, replicas: 2 });
    expect(pool!.decisions[0]).toMatchObject({ from: 0, to: 2, reason: 'warm pool created at minReplicas' });
  });

  it('a burst scales the pool toward maxReplicas (never above), served attempts drain it, it scales down after the delay', async () => {
    const spec = warmSpec({ minReplicas: 1, maxReplicas: 3, concurrencyPerReplica: 1 });
    const fn = spec.metadata.name;
    await apply(w.client, spec, w.config.taskQueue);
    await waitFor(
      'the pool at 1 ready replica',
      async () => (await deployment(fn))?.status?.readyReplicas === 1,
      30_000,
    );

    // Watch the Deployment's replica count and its pods all along.
    let maxReplicas = 0;
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        const d = await deployment(fn);
        maxReplicas = Math.max(maxReplicas, d?.spec?.replicas ?? 0, d?.status?.replicas ?? 0);
        await new Promise((r) => setTimeout(r, 100));
      }
    })();

    const started = await Promise.all(Array.from({ length: 6 }, (_, i) => start(fn, { name: `n${i}` })));
    await waitFor(
      'the Scalar to scale to 3 ready replicas',
      async () => (await deployment(fn))?.status?.readyReplicas === 3,
      30_000,
    );
    // Nobody serves yet (kwok pods run nothing): 6 open executions, the pool stays at its maximum.
    await new Promise((r) => setTimeout(r, 1500));
    expect((await deployment(fn))?.spec?.replicas).toBe(3);

    const replica = await standInReplica(fn, 2);
    const results = await Promise.all(started.map((s) => waitForResult(w.client, s.executionId)));
    expect(results.map((r) => r.status)).toEqual(Array(6).fill('succeeded'));
    for (const r of results)
      expect(r.attempts[0]!.logTail).toContain(`served by warm replica stand-in-${fn}`);

    await waitFor(
      'the pool to scale back down to 1',
      async () => (await deployment(fn))?.spec?.replicas === 1,
      30_000,
    );
    watching = false;
    await watcher;
    await replica.stop();
    expect(maxReplicas).toBe(3);

    // Each decision is recorded (query and API) with the demand that caused it.
    const pool = await w.client.workflow.getHandle(controllerWorkflowId(fn)).query(warmPoolQuery);
    const decisions = pool!.decisions;
    expect(decisions.some((d) => d.to === 3 && d.from < 3 && d.demand >= 3)).toBe(true);
    const down = decisions.find((d) => d.from === 3 && d.to === 1)!;
    expect(down.reason).toMatch(/scaleDownDelay 3s/);
    expect(Math.max(...decisions.map((d) => d.to))).toBe(3);
    const app = await buildApi({
      client: w.client,
      logger: createLogger('silent'),
      taskQueue: w.config.taskQueue,
      dataDir: w.config.dataDir,
      auth: { mode: 'open' },
    });
    cleanups.push(() => app.close());
    const res = await app.inject({ method: 'GET', url: `/v1/functions/${fn}` });
    expect(res.statusCode).toBe(200);
    expect(res.json().warmPool).toMatchObject({ managed: true, replicas: 1 });
    expect(res.json().warmPool.decisions.length).toBe(decisions.length);
  });

  it('a warm spec without an image (local runtime only) is refused at apply: 400 spec_invalid on spec.image, nothing applied', async () => {
    const spec = warmSpec({ minReplicas: 1, maxReplicas: 1 });
    spec.spec.image = undefined;
    spec.spec.local = { command: ['node', 'x.js'], env: {} };
    const fn = spec.metadata.name;
    const app = await buildApi({
      client: w.client,
      logger: createLogger('silent'),
      taskQueue: w.config.taskQueue,
      dataDir: w.config.dataDir,
      auth: { mode: 'open' },
    });
    cleanups.push(() => app.close());
    const started = Date.now();
    const res = await app.inject({
      method: 'PUT',
      url: `/v1/functions/${fn}`,
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify(spec),
    });
    expect(Date.now() - started).toBeLessThan(9_000);
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({
      code: 'spec_invalid',
      details: [
        {
          field: 'spec.image',
          message: `function ${fn} has no image: it runs on the local runtime only (spec.local.command). To run it on Kubernetes, set spec.image, or spec.build and apply it with \`pontoon apply\``,
        },
      ],
    });
    expect((await app.inject({ method: 'GET', url: `/v1/functions/${fn}` })).statusCode).toBe(404);
    expect(await deployment(fn)).toBeUndefined();
  });

  it('warm replicas take high-priority attempts first (task-queue priority)', async () => {
    const spec = warmSpec({ minReplicas: 0, maxReplicas: 1 });
    const fn = spec.metadata.name;
    await apply(w.client, spec, w.config.taskQueue);
    const scheduled = async (ids: string[]) =>
      waitFor(
        'the warm attempts to be scheduled',
        async () => {
          for (const id of ids) {
            const p = await w.client.workflow.getHandle(id).query(progressQuery);
            if (p.phase !== 'running') return false;
          }
          return true;
        },
        30_000,
      );
    const low = [];
    for (let i = 0; i < 10; i++) low.push(await start(fn, { name: `low${i}` }, 5));
    await scheduled(low.map((s) => s.executionId));
    const high = [];
    for (let i = 0; i < 10; i++) high.push(await start(fn, { name: `high${i}` }, 1));
    await scheduled(high.map((s) => s.executionId));

    await standInReplica(fn, 1);
    const order = async (list: { executionId: string }[]) =>
      Promise.all(
        list.map(
          async (s) => ((await waitForResult(w.client, s.executionId)).output as { served: number }).served,
        ),
      );
    const highServed = await order(high);
    const lowServed = await order(low);
    // One replica, one at a time: the server's counter is the order attempts were taken.
    expect(Math.max(...highServed)).toBeLessThan(Math.min(...lowServed));
    expect([...highServed, ...lowServed].sort((a, b) => a - b)).toEqual(
      Array.from({ length: 20 }, (_, i) => i + 1),
    );
  });

  it('a failed warm attempt fails its runWarmAttempt activity (red in the Web UI) with the replica answer; the execution decides as before', async () => {
    const spec = warmSpec({ minReplicas: 0, maxReplicas: 1 });
    const fn = spec.metadata.name;
    await apply(w.client, spec, w.config.taskQueue);
    const s = await start(fn, { name: 'nobody' });
    await standInReplica(fn, 1);
    const r = await waitForResult(w.client, s.executionId);
    expect(r.status).toBe('failed');
    expect(r.attempts).toHaveLength(1);
    expect(r.attempts[0]!.failure).toEqual({
      type: 'FunctionExitNonRetryable',
      message: 'warm replica answered HTTP 422: {"error":"nobody to greet"}',
      retryable: false,
    });
    const history = await w.client.workflow.getHandle(s.executionId).fetchHistory();
    const failed = (history.events ?? []).flatMap((e) =>
      e.activityTaskFailedEventAttributes ? [e.activityTaskFailedEventAttributes] : [],
    );
    expect(failed).toHaveLength(1);
    expect(failed[0]!.failure?.message).toContain(
      'warm replica answered HTTP 422: {"error":"nobody to greet"}',
    );
    expect(failed[0]!.failure?.applicationFailureInfo).toMatchObject({
      type: 'FunctionExitNonRetryable',
      nonRetryable: true,
    });
  });

  it('an attempt no replica takes within fallbackAfter runs on demand, and the attempt says so', async () => {
    const spec = warmSpec(
      { minReplicas: 0, maxReplicas: 1, fallback: 'on-demand', fallbackAfter: '2s' },
      { 'termination-message': simReport({ ranOn: 'a pod of its own' }), duration: '200ms' },
    );
    const fn = spec.metadata.name;
    await apply(w.client, spec, w.config.taskQueue);
    const s = await start(fn);
    const r: ExecutionResult = await waitForResult(w.client, s.executionId);
    expect(r.status).toBe('succeeded');
    expect(r.output).toEqual({ ranOn: 'a pod of its own' });
    expect(r.attempts).toHaveLength(1);
    expect(r.attempts[0]!.fallback).toBe(
      'no warm replica started attempt 1 within 2s; it ran on demand instead',
    );
    // The history shows both: the warm attempt timing out before start, then the on-demand one.
    const history = await w.client.workflow.getHandle(s.executionId).fetchHistory();
    const scheduled = (history.events ?? [])
      .map((e) => e.activityTaskScheduledEventAttributes)
      .filter((a) => a?.activityType?.name?.endsWith('Attempt'));
    expect(scheduled.map((a) => [a!.activityType!.name, a!.taskQueue!.name])).toEqual([
      ['runWarmAttempt', warmTaskQueue(fn)],
      ['runAttempt', w.config.taskQueue],
    ]);
  });

  it('deleting the function (or making it on-demand) deletes its Deployment', async () => {
    const spec = warmSpec({ minReplicas: 1, maxReplicas: 1 });
    const fn = spec.metadata.name;
    await apply(w.client, spec, w.config.taskQueue);
    await waitFor('the Deployment', async () => (await deployment(fn)) !== undefined, 30_000);
    const onDemand = structuredClone(spec);
    onDemand.spec.execution.mode = 'on-demand';
    delete onDemand.spec.warm;
    await apply(w.client, onDemand, w.config.taskQueue);
    await waitFor('the Deployment to be gone', async () => (await deployment(fn)) === undefined, 30_000);
    expect(await w.client.workflow.getHandle(controllerWorkflowId(fn)).query(warmPoolQuery)).toBeNull();
  });
});
