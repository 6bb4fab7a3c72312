/**
 * B2 on-demand overhead on the simulated cluster: end-to-end latency of a kubernetes-runtime
 * execution minus the pod's own simulated run time (kwok stage delays), for pods running 0 s and
 * 2 s, sequential calls; baseline: a bare pod create → Succeeded (seen by a watch) → delete on the
 * same cluster and nodes, with the same stage delays, in the same run. Also counts the apiserver
 * requests the worker sends per execution (its own counter) and all requests the apiserver served
 * (its /metrics, every client: kwok, scheduler, controllers) per execution, CPU per execution by
 * process (apiserver, etcd, kwok, dev server, worker) against the bare pods', and where Pontoon's
 * time goes (a watch timestamps each attempt pod's milestones, as B2r does on the real node).
 */
import { Label } from '../core/names.ts';
import { apiserverRequests, barePods } from './cluster.ts';
import { CPU_GROUPS, type CpuUsage } from './cpu.ts';
import { percentile, type ScenarioContext, type ScenarioResult, sleep, summaryRow } from './lib.ts';
import { sequential } from './load.ts';
import { podMilestones, segmentStats, segments } from './real-node.ts';
import { apply, kubeNoop, pontoonJob } from './specs.ts';

export async function benchKube(ctx: ScenarioContext): Promise<ScenarioResult> {
  const counts: Record<number, number> = ctx.quick ? { 0: 8, 2: 2 } : { 0: 25, 2: 8 };
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
  const pw = await podMilestones(kube.kc, kube.core, ns, `${Label.managedBy}=pontoon`);
  /** CPU ms per execution by process over the last phase measured (idle and other left out). */
  const cpuPerExecution = (n: number) => {
    const usage: CpuUsage = ctx.cpu.phases[ctx.cpu.phases.length - 1]!.usage;
    return Object.fromEntries(
      CPU_GROUPS.filter((g) => g !== 'idle' && g !== 'other' && usage.seconds[g] > 0).map((g) => [
        g,
        Math.round((usage.seconds[g] * 1000) / n),
      ]),
    ) as Record<string, number>;
  };
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
      const segs: (Record<string, number> | undefined)[] = [];
      const timedJob = async () => {
        const t0 = performance.now();
        await job();
        const t1 = performance.now();
        segs.push(segments(t0, t1, pw.addedAfter(t0)?.[1], true));
      };
      // The phase lasts until the worker has deleted every pod it created (5 s after each outcome),
      // so the deletions' CPU and requests are charged to Pontoon, not to the bare pods after it.
      const pontoon = await ctx.cpu.phase(`pontoon, pods run ${durationS} s`, stack.processes, async () => {
        const ms = await sequential(timedJob, n, 0);
        await settled();
        return ms;
      });
      const cpuPontoon = cpuPerExecution(n);
      const apiPontoon = (await apiserverRequests(kube.kc)) - apiBefore;
      const bareJob = () => bare.run(durationS);
      for (let i = 0; i < warmup(durationS); i++) await bareJob();
      const apiBareBefore = await apiserverRequests(kube.kc);
      const base = await ctx.cpu.phase(`bare pods, run ${durationS} s`, stack.processes, () =>
        sequential(bareJob, n, 0),
      );
      const cpuBare = cpuPerExecution(n);
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
        cpuMsPerExecution: { pontoon: cpuPontoon, bare: cpuBare },
        pontoonSegmentsMs: segmentStats(segs),
      };
      ctx.log(`[kube] run ${durationS} s: ${JSON.stringify(details[`pods run ${durationS} s`])}`);
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
            // The shared watch is the worker's, not an execution's: it is re-opened every 25 s
            // whatever runs (activities/kubernetes/pod-watcher.ts), so it is counted apart.
            figure: `apiserver requests by the worker per execution, pods run ${durationS} s (shared watch apart: ${Math.round((byVerb.watch ?? 0) * n)} re-opens in the window)`,
            unit: 'req',
            pontoon: (byVerb.total ?? Number.NaN) - (byVerb.watch ?? 0),
            target: '≤ 4',
          },
          { better: 'lower', of: 'value', limit: 4 },
        ),
        summaryRow({
          scenario: 'B2',
          figure: `apiserver requests per execution, all clients (kwok, scheduler, controllers), pods run ${durationS} s`,
          unit: 'req',
          pontoon: apiPontoon / n,
          baseline: apiBare / n,
          baselineName: 'bare pod lifecycle',
        }),
        summaryRow({
          scenario: 'B2',
          figure: `apiserver CPU per execution, pods run ${durationS} s`,
          unit: 'ms',
          pontoon: cpuPontoon.apiserver ?? 0,
          baseline: cpuBare.apiserver ?? 0,
          baselineName: 'bare pod lifecycle',
        }),
      );
    }
    return { scenario: 'kube', title: 'B2 on-demand overhead', summary, details };
  } finally {
    pw.stop();
    bare.stop();
    await lease.release();
  }
}
