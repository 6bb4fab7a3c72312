/**
 * B9 burst: N executions of one function started at once through the Temporal SDK with the
 * documented input (`{"function": …}`, as `temporal workflow start` does), **unpinned**, against the
 * same burst **pinned** (`spec: {version, appliedAt}`, as the API starts them) in the same run and on
 * the same stack: wall time from the first start to the last result. N = 500 (100 with --quick);
 * each is measured twice, in the order unpinned, pinned, pinned, unpinned, and the means compared
 * (--quick: once each, unpinned then pinned, so the drift between the two stays in the ratio). Also: failed
 * executions, how the worker read the spec (memory, memo, query) and DescribeWorkflowExecution calls
 * per execution, and RESOURCE_EXHAUSTED / "consistent query buffer is full" lines in the dev server's
 * log. An unpinned execution reads the controller's memo (client/spec-reader.ts), never a query.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { applySpec, waitForResult } from '../client/functions.ts';
import { WorkflowType } from '../core/names.ts';
import { type ScenarioContext, type ScenarioResult, type Stack, summaryRow } from './lib.ts';
import { localNoop } from './specs.ts';

type Mode = 'unpinned' | 'pinned';
interface Burst {
  mode: Mode;
  wallMs: number;
  startMs: number;
  failed: number;
  reads: { memory: number; memo: number; query: number; describes: number };
  exhaustedLogLines: number;
  /** CPU of the dev server, the worker and the functions it ran, per execution (ms). */
  cpuMsPerExecution?: number;
}

const EXHAUSTED = /RESOURCE_EXHAUSTED|consistent query buffer is full/g;

async function burst(
  stack: Stack,
  fn: string,
  n: number,
  mode: Mode,
  pin: { version: number; appliedAt: string },
): Promise<Burst> {
  const { client, taskQueue } = stack;
  const log = path.join(stack.dataDir, 'server.log');
  const logFrom = statSync(log).size;
  const before = (await stack.worker.stats()).specReads!;
  const run = randomUUID().slice(0, 8);
  const ids = Array.from({ length: n }, (_, i) => `b9-${mode}-${run}-${i}`);
  const t0 = performance.now();
  await Promise.all(
    ids.map((workflowId) =>
      client.workflow.start(WorkflowType.execute, {
        workflowId,
        taskQueue,
        args: [{ function: fn, ...(mode === 'pinned' ? { spec: pin } : {}) }],
      }),
    ),
  );
  const startMs = performance.now() - t0;
  const results = await Promise.allSettled(ids.map((id) => waitForResult(client, id)));
  const wallMs = performance.now() - t0;
  const failed = results.filter((r) => r.status === 'rejected' || r.value.status !== 'succeeded').length;
  const after = (await stack.worker.stats()).specReads!;
  const text = readFileSync(log, 'utf8').slice(logFrom);
  return {
    mode,
    wallMs,
    startMs,
    failed,
    reads: {
      memory: after.memory - before.memory,
      memo: after.memo - before.memo,
      query: after.query - before.query,
      describes: after.describes - before.describes,
    },
    exhaustedLogLines: text.match(EXHAUSTED)?.length ?? 0,
  };
}

export async function benchBurst(ctx: ScenarioContext): Promise<ScenarioResult> {
  const n = ctx.quick ? 100 : 500;
  // Unpinned, pinned, pinned, unpinned: the machine's drift (other load) weighs on both alike.
  // --quick: unpinned, pinned only.
  const rounds = ctx.quick ? 1 : 2;
  const lease = await ctx.stacks.local();
  const { stack } = lease;
  try {
    const fn = `b9-burst-${randomUUID().slice(0, 6)}`;
    const applied = await applySpec(stack.client, localNoop(fn), stack.taskQueue);
    const pin = { version: applied.version, appliedAt: applied.appliedAt };
    // Warm-up (not measured): the worker's workflow code loaded, the pinned version in its memory.
    await burst(stack, fn, 20, 'pinned', pin);
    const bursts: Burst[] = [];
    for (let r = 0; r < rounds; r++) {
      const order: Mode[] = r % 2 === 0 ? ['unpinned', 'pinned'] : ['pinned', 'unpinned'];
      for (const mode of order) {
        const b = await ctx.cpu.phase(`${n} executions at once, ${mode}`, stack.processes, () =>
          burst(stack, fn, n, mode, pin),
        );
        const used = ctx.cpu.phases.at(-1)?.usage.seconds;
        if (used) b.cpuMsPerExecution = ((used.temporal + used.worker + used.functions) * 1000) / n;
        ctx.log(
          `[burst] ${mode}: ${n} in ${(b.wallMs / 1000).toFixed(1)} s (starts ${(b.startMs / 1000).toFixed(1)} s), ${b.failed} failed, reads ${JSON.stringify(b.reads)}, ${b.exhaustedLogLines} RESOURCE_EXHAUSTED log lines`,
        );
        bursts.push(b);
      }
    }
    const of = (mode: Mode) => bursts.filter((b) => b.mode === mode);
    // Mean of the bursts of each mode (two in the full run, ABBA: drift cancels out in the mean).
    const mean = (mode: Mode, f: (b: Burst) => number) =>
      of(mode).reduce((a, b) => a + f(b), 0) / of(mode).length;
    const wall = (mode: Mode) => mean(mode, (b) => b.wallMs);
    const sum = (mode: Mode, f: (b: Burst) => number) => of(mode).reduce((a, b) => a + f(b), 0);
    const unpinnedN = n * of('unpinned').length;
    return {
      scenario: 'burst',
      title: 'B9 burst of unpinned SDK starts',
      summary: [
        summaryRow(
          {
            scenario: 'B9',
            figure: `${n} executions of one function started at once through the SDK, unpinned: first start → last result`,
            unit: 'ms',
            pontoon: wall('unpinned'),
            baseline: wall('pinned'),
            baselineName: 'the same burst pinned (as the API starts)',
            target: '≤ 1.1× pinned',
          },
          { better: 'lower', of: 'ratio', limit: 1.1 },
        ),
        summaryRow({
          scenario: 'B9',
          figure:
            'CPU per execution (dev server + worker + functions), unpinned: less sensitive to other load than wall time',
          unit: 'ms',
          pontoon: mean('unpinned', (b) => b.cpuMsPerExecution ?? Number.NaN),
          baseline: mean('pinned', (b) => b.cpuMsPerExecution ?? Number.NaN),
          baselineName: 'pinned',
        }),
        summaryRow(
          {
            scenario: 'B9',
            figure: 'failed executions, unpinned bursts (pinned in baseline)',
            unit: 'count',
            pontoon: sum('unpinned', (b) => b.failed),
            baseline: sum('pinned', (b) => b.failed),
            baselineName: 'pinned bursts',
            target: '0',
          },
          { better: 'lower', of: 'value', limit: 0 },
        ),
        summaryRow(
          {
            scenario: 'B9',
            figure: 'controller spec queries per unpinned execution',
            unit: 'count',
            pontoon: sum('unpinned', (b) => b.reads.query) / unpinnedN,
            target: '0',
          },
          { better: 'lower', of: 'value', limit: 0 },
        ),
        summaryRow({
          scenario: 'B9',
          figure: 'DescribeWorkflowExecution calls per unpinned execution (shared by concurrent reads)',
          unit: 'count',
          pontoon: sum('unpinned', (b) => b.reads.describes) / unpinnedN,
        }),
        summaryRow(
          {
            scenario: 'B9',
            figure: 'RESOURCE_EXHAUSTED / query-buffer lines in the server log, all bursts',
            unit: 'count',
            pontoon: bursts.reduce((a, b) => a + b.exhaustedLogLines, 0),
            target: '0',
          },
          { better: 'lower', of: 'value', limit: 0 },
        ),
      ],
      details: { executions: n, rounds, bursts },
    };
  } finally {
    await lease.release();
  }
}
