/**
 * B3 on the REAL node (`throughput-real`): sustained executions/s of on-demand pods on dev/cluster's
 * real kubelet + containerd + runc, against bare pods of the same image on the same node
 * (real-node.ts) in the same run. Each side runs a closed loop of C callers (a caller
 * starts its next call as soon as its last one ended) for a warm-up (not counted), then a window of
 * 20 s (8 s with --quick, after a 4 s warm-up); sustained rate = calls that finished inside the window ÷ its length.
 *
 * A closed loop rather than B3's open-loop ramp: a real pod takes seconds, so the ramp's steps
 * (≥ 5 × latency each) would take minutes per rate on this 2-core machine. C = 4 (two callers
 * per core): enough to keep the node busy (a real pod
 * spends much of its life waiting on the kubelet, containerd and runc) without queueing more pods
 * than the machine starts in a latency; bare goes first, both sides get the same
 * concurrency, so each ratio compares the same offered load. Failed calls are counted (and shown).
 */
import { Label } from '../core/names.ts';
import { clusterPid } from './cluster.ts';
import { CPU_GROUPS, waitForQuiet } from './cpu.ts';
import type { ScenarioContext, ScenarioResult } from './lib.ts';
import { summaryRow } from './lib.ts';
import {
  bareRealPods,
  type ClosedLoopResult,
  closedLoop,
  podMilestones,
  realFunction,
  untilNoPods,
} from './real-node.ts';
import { apply, pontoonJob } from './specs.ts';

/**
 * Callers per side: 4 (two per core). Until 2026-12-05 the full run also measured 2 (one per core), at
 * about the same ratio (0.78× against 0.79× at 4 that day); dropped for the full run's 15 minutes.
 */
export const CONCURRENCY = { full: [4], quick: [4] };

export async function benchThroughputReal(ctx: ScenarioContext): Promise<ScenarioResult> {
  const levels = ctx.quick ? CONCURRENCY.quick : CONCURRENCY.full;
  // At about a call a second, 20 s gives each side 20–30 calls per level (8 s: about 10).
  const windowMs = ctx.quick ? 8_000 : 20_000;
  const warmupMs = ctx.quick ? 4_000 : 8_000;
  const kube = await ctx.kube();
  const env = await ctx.realNode();
  const lease = await ctx.stacks.kubeReal('bench-tpr', env.workerEnv);
  const { stack, namespace: ns } = lease;
  const fn = 'bench-real-tp';
  const spec = realFunction(fn, env, 'ok');
  await apply(stack.client, stack.taskQueue, spec);
  const pw = await podMilestones(kube.kc, kube.core, ns, `${Label.managedBy}=pontoon`);
  const bare = await bareRealPods(kube.kc, kube.core, ns, env, spec);
  const job = pontoonJob(stack.client, stack.taskQueue, fn);
  const watches = [pw, bare.watch];
  const nodePids = () => [clusterPid('kubelet'), clusterPid('containerd'), clusterPid('kube-apiserver')];
  const results: Record<
    string,
    ClosedLoopResult & { peakPodsExisting: number; cpuMsPerCall: Record<string, number> }
  > = {};
  try {
    // Warm-up: images on the node, the worker's watch and connections. --quick leaves it to the
    // closed loop's own warm-up (not counted), where the first calls pull the images.
    if (!ctx.quick) {
      await job();
      await bare.run();
    }
    const run = async (
      label: string,
      concurrency: number,
      w: (typeof watches)[number],
      call: () => Promise<unknown>,
    ) => {
      await untilNoPods(watches);
      await waitForQuiet(nodePids());
      w.resetPeak();
      const r = await ctx.cpu.phase(label, stack.processes, () =>
        closedLoop(
          async () => {
            await call();
          },
          concurrency,
          warmupMs,
          windowMs,
        ),
      );
      const usage = ctx.cpu.phases[ctx.cpu.phases.length - 1]!.usage;
      const cpuMsPerCall = Object.fromEntries(
        CPU_GROUPS.filter((g) => g !== 'idle' && usage.seconds[g] > 0).map((g) => [
          g,
          Math.round((usage.seconds[g] * 1000) / r.completedTotal),
        ]),
      );
      results[label] = { ...r, peakPodsExisting: w.peakExisting(), cpuMsPerCall };
      ctx.log(`[throughput-real] ${label}: ${JSON.stringify(results[label])}`);
    };
    for (const c of levels) {
      await run(`bare pods, real node, concurrency ${c}`, c, bare.watch, () => bare.run());
      await run(`pontoon on-demand, real node, concurrency ${c}`, c, pw, job);
    }
    await untilNoPods(watches);
  } finally {
    bare.stop();
    pw.stop();
    await lease.release();
  }
  const summary = levels.flatMap((c) => {
    const b = results[`bare pods, real node, concurrency ${c}`]!;
    const p = results[`pontoon on-demand, real node, concurrency ${c}`]!;
    const failures = b.failed + p.failed;
    return [
      summaryRow({
        scenario: 'B3r',
        figure: `real-node on-demand sustained throughput (closed loop, concurrency ${c}, ${windowMs / 1000} s)`,
        unit: 'exec/s',
        pontoon: p.perSec,
        baseline: b.perSec,
        baselineName: 'bare pods/s, real node',
      }),
      summaryRow({
        scenario: 'B3r',
        figure: `real-node latency p50 at concurrency ${c}`,
        unit: 'ms',
        pontoon: p.latencyP50Ms,
        baseline: b.latencyP50Ms,
        baselineName: 'bare pod',
      }),
      summaryRow(
        {
          scenario: 'B3r',
          figure: `failed calls at concurrency ${c} (Pontoon; bare: ${b.failed})`,
          unit: '',
          pontoon: p.failed,
          target: '0',
        },
        { better: 'lower', of: 'value', limit: 0 },
      ),
    ].filter((r) => failures > 0 || !r.figure.startsWith('failed'));
  });
  return {
    scenario: 'throughput-real',
    title: 'B3r sustained throughput, real node',
    summary,
    details: {
      node: env.node,
      definition: `closed loop: ${levels.join(' then ')} callers, each starting its next call when the last one ends; ${warmupMs / 1000} s warm-up not counted, then calls finished within ${windowMs / 1000} s ÷ ${windowMs / 1000} s`,
      results,
    },
  };
}
