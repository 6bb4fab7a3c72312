/**
 * B2 on-demand overhead on the simulated cluster: end-to-end latency of a kubernetes-runtime
 * execution minus the pod's own simulated run time (kwok stage delays), for pods running 0 s and
 * 2 s, sequential calls; baseline: a bare pod create → Succeeded (seen by a watch) → delete on the
 * same cluster and nodes, with the same stage delays, in the same run. Also counts the apiserver
 * requests the worker sends per execution (its own counter) and all requests the apiserver served
 * (its /metrics, every client: kwok, scheduler, controllers) per execution.
 */
import { apiserverRequests, barePods } from './cluster.ts';
import { percentile, type ScenarioContext, type ScenarioResult, sleep, summaryRow } from './lib.ts';
import { sequential } from './load.ts';
import { apply, kubeNoop, pontoonJob } from './specs.ts';

export async function benchKube(ctx: ScenarioContext): Promise<ScenarioResult> {
  const counts: Record<number, number> = ctx.quick ? { 0: 10, 2: 3 } : { 0: 25, 2: 8 };
  const kube = await ctx.kube();
  // Warm-up calls (the shared watch, connections); the 2 s pods come after the 0 s ones.
  const warmup = (durationS: number) => (durationS === 0 ? 2 : ctx.quick ? 0 : 1);
  const lease = await ctx.stacks.kube('bench-b2');
  const { stack, namespace: ns } = lease;
  const bare = await barePods(kube.kc, kube.core, ns, {
    nodeSelector: kube.nodeSelector,
    tolerations: kube.tolerations,
  });
  const details: Record<string, unknown> = {};
  /** The worker's request counter once it has deleted every pod it created (waits at most 10 s). */
  const settled = async (): Promise<Record<string, number>> => {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const r = (await stack.worker.stats()).requests ?? {};
      if ((r.delete ?? 0) >= (r.create ?? 0) || Date.now() > deadline) return r;
      await sleep(250);
    }
  };
  const summary = [];
  try {
    for (const durationS of [0, 2]) {
      const n = counts[durationS]!;
      const fn = `bench-d${durationS}`;
      await apply(stack.client, stack.taskQueue, kubeNoop(fn, durationS, kube.nodeSelector));
      const job = pontoonJob(stack.client, stack.taskQueue, fn);
      for (let i = 0; i < warmup(durationS); i++) await job(); // warm-up: the shared watch, connections
      // A pod is deleted 5 s after its outcome: count from when earlier pods are all gone, and up to
      // when this phase's pods are (read after the bare phase, which overlaps that wait).
      const before = await settled();
      const apiBefore = await apiserverRequests(kube.kc);
      const pontoon = await ctx.cpu.phase(`pontoon, pods run ${durationS} s`, stack.processes, () =>
        sequential(job, n, 0),
      );
      const apiPontoon = (await apiserverRequests(kube.kc)) - apiBefore;
      const bareJob = () => bare.run(durationS);
      for (let i = 0; i < warmup(durationS); i++) await bareJob();
      const apiBareBefore = await apiserverRequests(kube.kc);
      const base = await ctx.cpu.phase(`bare pods, run ${durationS} s`, stack.processes, () =>
        sequential(bareJob, n, 0),
      );
      const apiBare = (await apiserverRequests(kube.kc)) - apiBareBefore;
      const after = await settled();
      const byVerb = Object.fromEntries(
        Object.keys(after).map((k) => [k, ((after[k] ?? 0) - (before[k] ?? 0)) / n]),
      );
      const overhead = pontoon.map((ms) => ms - durationS * 1000);
      const bareOverhead = base.map((ms) => ms - durationS * 1000);
      details[`pods run ${durationS} s`] = {
        executions: n,
        pontoonOverheadMs: { p50: percentile(overhead, 50), p99: percentile(overhead, 99) },
        bareOverheadMs: { p50: percentile(bareOverhead, 50), p99: percentile(bareOverhead, 99) },
        workerApiRequestsPerExecution: byVerb,
        apiserverRequestsAllClientsPerExecution: { pontoon: apiPontoon / n, bare: apiBare / n },
      };
      const common = { scenario: 'B2', unit: 'ms', baselineName: 'bare pod lifecycle' };
      summary.push(
        summaryRow({
          ...common,
          figure: `on-demand overhead p50, pods run ${durationS} s (n=${n})`,
          pontoon: percentile(overhead, 50),
          baseline: percentile(bareOverhead, 50),
        }),
        summaryRow(
          {
            ...common,
            figure: `on-demand overhead p99, pods run ${durationS} s (n=${n})`,
            pontoon: percentile(overhead, 99),
            baseline: percentile(bareOverhead, 99),
            target: '≤ 250 ms',
          },
          { better: 'lower', of: 'value', limit: 250 },
        ),
        summaryRow(
          {
            scenario: 'B2',
            figure: `apiserver requests by the worker per execution, pods run ${durationS} s`,
            unit: 'req',
            pontoon: byVerb.total ?? Number.NaN,
            target: '≤ 4',
          },
          { better: 'lower', of: 'value', limit: 4 },
        ),
      );
    }
    return { scenario: 'kube', title: 'B2 on-demand overhead', summary, details };
  } finally {
    bare.stop();
    await lease.release();
  }
}
