/**
 * B3 sustained throughput: executions completed per second with no-op functions, found by raising
 * the offered rate until the backlog grows (the ramp and the definition of "sustained" are in
 * load.ts). Five ramps in one run, each on a fresh dev server in the full run (so no ramp inherits
 * the history or leftover work of another; --quick shares stacks):
 * - local runtime on-demand (a `true` process per attempt) and warm (a replica's HTTP no-op), both
 *   against a bare Temporal workflow with one no-op activity;
 * - kubernetes runtime on kwok (pods that run 0 s) against bare pods create → Succeeded → delete on
 *   the same cluster and nodes (no Temporal in that path).
 */

import { barePods, clusterPid } from './cluster.ts';
import { CPU_GROUPS, type Processes, waitForQuiet } from './cpu.ts';
import { type Lease, type ScenarioContext, type ScenarioResult, type Stack, summaryRow } from './lib.ts';
import { findSustainedRate, type Job, type RampResult } from './load.ts';
import { apply, bareTemporalJob, kubeNoop, localNoop, localWarm, pontoonJob } from './specs.ts';

/** The cluster's busiest components: the bare-pod ramp waits for them to calm down between steps. */
const clusterPids = () => ['kube-apiserver', 'etcd', 'kwok'].map(clusterPid);

export async function benchThroughput(ctx: ScenarioContext): Promise<ScenarioResult> {
  const ramps: Record<string, RampResult> = {};
  const cpuMsPerExecution: Record<string, Record<string, number>> = {};
  const ramp = async (
    label: string,
    job: Job,
    processes: Processes,
    quiet: () => (number | undefined)[],
    maxRate?: number,
  ) => {
    await waitForQuiet(quiet());
    await ctx.cpu.phase(label, processes, async () => {
      ramps[label] = await findSustainedRate(job, {
        quick: ctx.quick,
        label,
        log: ctx.log,
        settle: async () => {
          await waitForQuiet(quiet());
        },
        ...(maxRate ? { maxRate } : {}),
      });
    });
    // CPU per completed execution, by process: where the machine's cores went for each one.
    const r = ramps[label]!;
    const usage = ctx.cpu.phases[ctx.cpu.phases.length - 1]!.usage;
    cpuMsPerExecution[label] = Object.fromEntries(
      CPU_GROUPS.filter((g) => g !== 'idle' && g !== 'other' && usage.seconds[g] > 0).map((g) => [
        g,
        Math.round((usage.seconds[g] * 1000) / r.completed),
      ]),
    );
    ctx.log(`[throughput] ${label}: CPU ms per execution ${JSON.stringify(cpuMsPerExecution[label])}`);
  };
  const onStack = async (
    label: string,
    lease: Lease,
    prepare: (s: Stack) => Promise<Job>,
    maxRate?: number,
  ) => {
    const { stack } = lease;
    try {
      const job = await prepare(stack);
      await ramp(
        label,
        job,
        stack.processes,
        () => [stack.processes.devServer?.(), stack.processes.worker?.()],
        maxRate,
      );
    } finally {
      await lease.release();
    }
  };

  await onStack('bare Temporal workflow + activity', await ctx.stacks.local({ baseline: true }), async (s) =>
    bareTemporalJob(s.client),
  );
  await onStack('pontoon local on-demand', await ctx.stacks.local(), async (s) => {
    await apply(s.client, s.taskQueue, localNoop('tp-noop'));
    return pontoonJob(s.client, s.taskQueue, 'tp-noop');
  });
  await onStack('pontoon local warm', await ctx.stacks.local(), async (s) => {
    await apply(s.client, s.taskQueue, localWarm('tp-warm'));
    return pontoonJob(s.client, s.taskQueue, 'tp-warm');
  });

  const kube = await ctx.kube();
  const lease = await ctx.stacks.kube('bench-tp');
  try {
    const bare = await barePods(kube.kc, kube.core, lease.namespace, {
      nodeSelector: kube.nodeSelector,
      tolerations: kube.tolerations,
    });
    try {
      await ramp('bare pod create → Succeeded → delete', () => bare.run(0), {}, clusterPids, 400);
    } finally {
      bare.stop();
    }
    const { stack } = lease;
    await apply(stack.client, stack.taskQueue, kubeNoop('tp-kube', 0, kube.nodeSelector));
    await ramp(
      'pontoon kwok on-demand',
      pontoonJob(stack.client, stack.taskQueue, 'tp-kube'),
      stack.processes,
      () => [stack.processes.devServer?.(), stack.processes.worker?.(), ...clusterPids()],
      400,
    );
  } finally {
    await lease.release();
  }

  const r = (k: string) => ramps[k]!;
  const bareT = r('bare Temporal workflow + activity');
  const barePod = r('bare pod create → Succeeded → delete');
  const summary = [
    summaryRow(
      {
        scenario: 'B3',
        figure: 'warm path (local) sustained throughput',
        unit: 'exec/s',
        pontoon: r('pontoon local warm').sustainedPerSec,
        baseline: bareT.sustainedPerSec,
        baselineName: 'bare workflow + activity',
        target: '≥ 0.8× bare',
      },
      { better: 'higher', of: 'ratio', limit: 0.8 },
    ),
    summaryRow({
      scenario: 'B3',
      figure: 'local on-demand sustained throughput',
      unit: 'exec/s',
      pontoon: r('pontoon local on-demand').sustainedPerSec,
      baseline: bareT.sustainedPerSec,
      baselineName: 'bare workflow + activity',
    }),
    summaryRow(
      {
        scenario: 'B3',
        figure: 'kwok on-demand sustained throughput',
        unit: 'exec/s',
        pontoon: r('pontoon kwok on-demand').sustainedPerSec,
        baseline: barePod.sustainedPerSec,
        baselineName: 'bare pod lifecycle',
        target: '≥ 0.8× bare',
      },
      { better: 'higher', of: 'ratio', limit: 0.8 },
    ),
  ];
  // Why the kwok ratio is what it is on a machine whose cores are the limit: CPU per execution.
  const kwokCpu = cpuMsPerExecution['pontoon kwok on-demand'] ?? {};
  const bareCpu = cpuMsPerExecution['bare pod create → Succeeded → delete'] ?? {};
  const total = (c: Record<string, number>) => Object.values(c).reduce((a, b) => a + b, 0);
  summary.push(
    summaryRow({
      scenario: 'B3',
      figure: 'kwok on-demand: CPU per execution, all processes (ramp)',
      unit: 'ms',
      pontoon: total(kwokCpu),
      baseline: total(bareCpu),
      baselineName: 'bare pod lifecycle',
    }),
    summaryRow({
      scenario: 'B3',
      figure: 'kwok on-demand: apiserver CPU per execution (ramp)',
      unit: 'ms',
      pontoon: kwokCpu.apiserver ?? 0,
      baseline: bareCpu.apiserver ?? 0,
      baselineName: 'bare pod lifecycle',
    }),
  );
  return {
    scenario: 'throughput',
    title: 'B3 sustained throughput',
    summary,
    details: {
      definition:
        'open-loop ramp from 1/latency, ×2 (quick) or ×1.5 per step, then geometric refinement; a step holds when nothing fails, the backlog (started − finished) grows by at most 10% of the offered rate (+0.5/s) over its last two thirds and completions reach 85% of the offered rate; sustained = completions/s over the highest held step (at most its offered rate)',
      ramps,
      cpuMsPerExecution,
    },
  };
}
