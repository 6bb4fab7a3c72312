/**
 * B1 warm path: invoke → result latency of a warm function (local runtime: a long-lived replica
 * answering over HTTP) against a bare Temporal workflow with one no-op activity, on one dev server
 * in the same run: 500 sequential calls (40 with --quick) alternating between the two paths
 * (bare, warm, bare, …: 500 each, both under the same conditions over time), then open loop with
 * the two paths alternating at 5/s each. The on-demand local path (a process per attempt) is
 * measured alongside for reference.
 *
 * Why alternate: both paths then see the same conditions over time (other people's load on a
 * shared machine comes and goes). Note that a call started right as the previous one ended is
 * slower: a bare workflow + activity took ~95 ms back to back and ~55 ms with 100 ms of idle time
 * between calls (Temporal SDK 1.24 worker, dev server 1.32); the open-loop figures show the other
 * side of that.
 */
import path from 'node:path';
import { loadSpecs } from '../core/load.ts';
import { percentile, REPO_ROOT, type ScenarioContext, type ScenarioResult, summaryRow } from './lib.ts';
import { fixedRate, sequential } from './load.ts';
import { apply, bareTemporalJob, pontoonJob } from './specs.ts';

export async function benchWarm(ctx: ScenarioContext): Promise<ScenarioResult> {
  const n = ctx.quick ? 40 : 500;
  const nOnDemand = ctx.quick ? 10 : 50;
  const rate = 5;
  const rateMs = ctx.quick ? 3000 : 20_000;
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
    const log = (label: string, started: number, calls: number) =>
      ctx.log(`[warm] ${label}: ${calls} calls in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    /** Calls the two paths in turn (bare, warm, bare, …), so both see the same conditions over time. */
    const alternating = (tag: string) => {
      const out: Record<'bare' | 'warm', number[]> = { bare: [], warm: [] };
      let i = 0;
      const job = async () => {
        const path = i++ % 2 === 0 ? 'bare' : 'warm';
        const t = performance.now();
        await (path === 'bare' ? bare : warm)();
        out[path].push(performance.now() - t);
      };
      const done = () => {
        measured[`bare ${tag}`] = out.bare;
        measured[`warm ${tag}`] = out.warm;
      };
      return { job, done };
    };
    for (let i = 0; i < 5; i++) await bare();
    for (let i = 0; i < 5; i++) await warm(); // warm-up: caches, the first replica
    const seq = alternating('sequential');
    let t = performance.now();
    await ctx.cpu.phase(`bare + warm alternating, ${n} sequential`, stack.processes, () =>
      sequential(seq.job, n, 0),
    );
    seq.done();
    log('bare + warm alternating', t, n);
    t = performance.now();
    measured['on-demand sequential'] = await ctx.cpu.phase('on-demand sequential', stack.processes, () =>
      sequential(onDemand, nOnDemand),
    );
    log('on-demand sequential', t, nOnDemand);
    const fixed = alternating(`at ${rate}/s`);
    t = performance.now();
    await ctx.cpu.phase(`bare + warm alternating, each at ${rate}/s`, stack.processes, () =>
      fixedRate(fixed.job, 2 * rate, rateMs),
    );
    fixed.done();
    log(`bare + warm alternating at ${rate}/s each`, t, measured[`bare at ${rate}/s`]!.length * 2);

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
      row(
        `warm invoke→result p50, ${n} sequential (half each)`,
        'p50',
        'warm sequential',
        'bare sequential',
        true,
      ),
      row(`warm invoke→result p99, ${n} sequential (half each)`, 'p99', 'warm sequential', 'bare sequential'),
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
