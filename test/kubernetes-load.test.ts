/**
 * The shared watch under load, and resilience, on the real apiserver + kwok with a real worker:
 * 200 concurrent executions complete; apiserver requests per execution are printed (4: create,
 * pods/log, the log Secret, delete — plus the shared watch) and do not grow with how long pods run; stopping the kube-apiserver for 10 s mid-run loses and duplicates nothing.
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ExecutionResult } from '../core/execution.ts';
import { ensureCluster } from '../dev/cluster/ensure.ts';
import { apply, uniqueName, waitFor } from './helpers.ts';
import {
  createNamespace,
  type KubeWorker,
  kubeSpec,
  podsOf,
  simReport,
  startKubeWorker,
} from './kube-helpers.ts';

let ns: Awaited<ReturnType<typeof createNamespace>>;
let w: KubeWorker;

beforeAll(async () => {
  ns = await createNamespace('pontoon-load');
  w = await startKubeWorker(ns.name, { PONTOON_MAX_CONCURRENT_ATTEMPTS: '300' });
});
afterAll(async () => {
  await w?.stop();
  await ns?.remove();
});

async function runMany(n: number, sim: Record<string, string>, tag: string) {
  const name = uniqueName(tag);
  await apply(
    w.client,
    kubeSpec(name, { ...sim, 'termination-message': simReport({ ok: true }) }),
    w.config.taskQueue,
  );
  const handles: WorkflowHandle[] = await Promise.all(
    Array.from({ length: n }, (_, i) =>
      w.client.workflow.start('executeFunction', {
        taskQueue: w.config.taskQueue,
        workflowId: `k8s-${name}-${i}`,
        args: [{ function: name }],
      }),
    ),
  );
  return { name, handles };
}

const perExecution = (before: ReturnType<KubeWorker['runtime']['requests']['snapshot']>, n: number) => {
  const after = w.runtime.requests.snapshot();
  const delta = Object.fromEntries(
    Object.entries(after).map(([k, v]) => [k, v - (before as Record<string, number>)[k]!]),
  ) as typeof after;
  return { delta, perExecution: delta.total / n };
};

describe('kubernetes runtime under load', () => {
  let shortPerExecution = 0;

  it('runs 200 concurrent executions through one shared watch', { timeout: 240_000 }, async () => {
    const before = w.runtime.requests.snapshot();
    const t0 = Date.now();
    const { name, handles } = await runMany(200, { duration: '1s' }, 'k-load');
    const results = (await Promise.all(handles.map((h) => h.result()))) as ExecutionResult[];
    const seconds = (Date.now() - t0) / 1000;
    expect(results.every((r) => r.status === 'succeeded' && r.attempts.length === 1)).toBe(true);
    // Logs are stored and pods deleted after each outcome went back: count once they are done.
    await waitFor('pods gone', async () => (await podsOf(ns.name, name)).length === 0 || undefined, 30_000);
    await waitFor(
      'logs stored',
      () => w.runtime.requests.snapshot()['log-store'] - before['log-store'] >= 200 || undefined,
    );
    const { delta, perExecution: per } = perExecution(before, 200);
    shortPerExecution = per;
    console.log(
      `[k8s load] 200 executions (pods run 1 s) in ${seconds.toFixed(1)} s; apiserver requests ${JSON.stringify(delta)} = ${per.toFixed(2)} per execution; watcher ${JSON.stringify(w.runtime.watcher().stats)}`,
    );
    // create + pods/log + log Secret + delete per attempt; lists and watches are per worker, not per pod.
    expect(delta.create).toBe(200);
    expect(delta.log).toBe(200);
    expect(delta['log-store']).toBe(200);
    expect(delta.delete).toBe(200);
    expect(delta.get).toBe(0);
    expect(delta.list + delta.watch).toBeLessThan(10);
  });

  it('makes no more requests per execution when pods run 8x longer', { timeout: 120_000 }, async () => {
    const before = w.runtime.requests.snapshot();
    const { name, handles } = await runMany(50, { duration: '8s' }, 'k-long');
    const results = (await Promise.all(handles.map((h) => h.result()))) as ExecutionResult[];
    expect(results.every((r) => r.status === 'succeeded')).toBe(true);
    await waitFor('pods gone', async () => (await podsOf(ns.name, name)).length === 0 || undefined, 30_000);
    const { delta, perExecution: per } = perExecution(before, 50);
    console.log(
      `[k8s load] 50 executions (pods run 8 s): apiserver requests ${JSON.stringify(delta)} = ${per.toFixed(2)} per execution (1 s pods: ${shortPerExecution.toFixed(2)})`,
    );
    expect(delta.create + delta.delete + delta.log + delta['log-store'] + delta.get).toBe(200);
    expect(per).toBeLessThanOrEqual(shortPerExecution + 0.2);
  });

  it('loses and duplicates nothing when the kube-apiserver is killed for 10 s mid-run', {
    timeout: 240_000,
  }, async () => {
    const n = 30;
    const launchesBefore = { ...w.runtime.launches };
    const { name, handles } = await runMany(n, { duration: '12s' }, 'k-restart');
    await waitFor(
      'all pods running',
      async () =>
        (await podsOf(ns.name, name)).filter((p) => p.status?.phase === 'Running').length === n || undefined,
      60_000,
    );
    const state = process.env.PONTOON_CLUSTER_DIR ?? path.join(os.homedir(), '.cache', 'pontoon', 'cluster');
    const pid = Number(readFileSync(path.join(state, 'run', 'kube-apiserver.pid'), 'utf8').trim());
    process.kill(pid, 'SIGKILL'); // a crash: no graceful drain (SIGTERM drains for over 30 s)
    const stoppedAt = Date.now();
    await waitFor(
      'the apiserver to exit',
      () => {
        // Gone, or a zombie waiting for init to reap it (the cluster's processes are daemonized).
        try {
          return /^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8')) || undefined;
        } catch {
          return true;
        }
      },
      30_000,
    );
    await new Promise((r) => setTimeout(r, Math.max(0, 10_000 - (Date.now() - stoppedAt))));
    await ensureCluster(() => {});
    const results = (await Promise.all(handles.map((h) => h.result()))) as ExecutionResult[];
    const created = w.runtime.launches.created - launchesBefore.created;
    console.log(
      `[k8s restart] ${n} executions across a 10 s apiserver outage: ${results.filter((r) => r.status === 'succeeded').length} succeeded, pods created ${created}, adopted ${w.runtime.launches.adopted - launchesBefore.adopted}; watcher ${JSON.stringify(w.runtime.watcher().stats)}`,
    );
    expect(results.map((r) => [r.status, r.attempts.length])).toEqual(Array(n).fill(['succeeded', 1]));
    expect(created).toBe(n);
    await waitFor('pods gone', async () => (await podsOf(ns.name, name)).length === 0 || undefined, 60_000);
  });
});
