/**
 * B1 warm path: invoke → result latency of a warm function (local runtime: a long-lived replica
 * answering over HTTP) against a bare Temporal workflow with one no-op activity, first with
 * sequential calls, then open-loop at a fixed rate; the on-demand local path (a process per
 * attempt) is measured alongside for reference. All on one dev server, in the same run.
 */
import path from 'node:path';
import { loadSpecs } from '../spec/load.ts';
import { percentile, REPO_ROOT, type ScenarioContext, type ScenarioResult, summaryRow } from './lib.ts';
import { fixedRate, sequential } from './load.ts';
import { apply, bareTemporalJob, pontoonJob } from './specs.ts';

export async function benchWarm(ctx: ScenarioContext): Promise<ScenarioResult> {
  const n = ctx.quick ? 30 : 1000;
  const nOnDemand = ctx.quick ? 10 : 100;
  const rate = 5;
  const rateMs = ctx.quick ? 3000 : 15_000;
  const lease = await ctx.stacks.local({ baseline: true });
  const { stack } = lease;
  const { client, taskQueue } = stack;
  try {
    const { specs } = await loadSpecs([
      path.join(REPO_ROOT, 'function-specs', 'warm-greeter.yaml'),
      path.join(REPO_ROOT, 'function-specs', 'hello.yaml'),
    ]);
    for (const s of specs) await apply(client, taskQueue, s.spec);
    const bare = bareTemporalJob(client);
    const warm = pontoonJob(client, taskQueue, 'warm-greeter');
    const onDemand = pontoonJob(client, taskQueue, 'hello');
    const measured: Record<string, number[]> = {};
    const run = async (label: string, fn: () => Promise<number[]>) => {
      const t = performance.now();
      measured[label] = await ctx.cpu.phase(label, stack.processes, fn);
      ctx.log(
        `[warm] ${label}: ${measured[label]!.length} calls in ${((performance.now() - t) / 1000).toFixed(1)} s`,
      );
    };
    await run('bare sequential', () => sequential(bare, n));
    await run('warm sequential', () => sequential(warm, n));
    await run('on-demand sequential', () => sequential(onDemand, nOnDemand));
    await run(`bare at ${rate}/s`, () => fixedRate(bare, rate, rateMs));
    await run(`warm at ${rate}/s`, () => fixedRate(warm, rate, rateMs));

    const stats = (v: number[]) => ({ calls: v.length, p50: percentile(v, 50), p99: percentile(v, 99) });
    const s = Object.fromEntries(Object.entries(measured).map(([k, v]) => [k, stats(v)]));
    const row = (figure: string, p: 'p50' | 'p99', ours: string, base: string, target?: boolean) =>
      summaryRow(
        {
          scenario: 'B1',
          figure,
          unit: 'ms',
          pontoon: s[ours]![p],
          baseline: s[base]![p],
          baselineName: 'bare workflow + activity',
          ...(target ? { target: '≤ 1.25× bare' } : {}),
        },
        target ? { better: 'lower', of: 'ratio', limit: 1.25 } : undefined,
      );
    const summary = [
      row(`warm invoke→result p50, ${n} sequential`, 'p50', 'warm sequential', 'bare sequential', true),
      row(`warm invoke→result p99, ${n} sequential`, 'p99', 'warm sequential', 'bare sequential'),
      row(`warm invoke→result p50 at ${rate}/s`, 'p50', `warm at ${rate}/s`, `bare at ${rate}/s`, true),
      row(`warm invoke→result p99 at ${rate}/s`, 'p99', `warm at ${rate}/s`, `bare at ${rate}/s`),
      row(
        `local on-demand invoke→result p50, ${nOnDemand} sequential`,
        'p50',
        'on-demand sequential',
        'bare sequential',
      ),
    ];
    return {
      scenario: 'warm',
      title: 'B1 warm path',
      summary,
      details: { sequentialCalls: n, fixedRatePerSec: rate, fixedRateSeconds: rateMs / 1000, latencyMs: s },
    };
  } finally {
    await lease.release();
  }
}
