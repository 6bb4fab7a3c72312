/**
 * Warm path (B1, and the controller issue's benchmark): invoke → result latency of a warm function
 * (local runtime: a long-lived replica answering over HTTP) vs the on-demand local path (a process
 * per attempt) vs a bare Temporal workflow with one activity, all measured in the same run.
 */
import path from 'node:path';
import { Worker } from '@temporalio/worker';
import { applySpec, startExecution, waitForResult } from '../client/functions.ts';
import { loadSpecs } from '../spec/load.ts';
import { percentile, printTable, REPO_ROOT, saveResult, startStack } from './lib.ts';

export async function benchWarm(opts: { quick: boolean }) {
  const n = opts.quick ? 60 : 400;
  const stack = await startStack();
  const { client, connection } = stack.worker;
  const baseline = await Worker.create({
    connection,
    taskQueue: 'bench-baseline',
    workflowsPath: path.join(REPO_ROOT, 'bench', 'baseline-workflows.ts'),
    activities: { noop: async (input: unknown) => input },
  });
  const baselineRun = baseline.run();
  try {
    const { specs } = await loadSpecs([
      path.join(REPO_ROOT, 'function-specs', 'warm-greeter.yaml'),
      path.join(REPO_ROOT, 'function-specs', 'hello.yaml'),
    ]);
    for (const s of specs) await applySpec(client, s.spec, stack.config.taskQueue);
    const pontoon = async (fn: string) => {
      const s = await startExecution(
        client,
        { function: fn },
        { trigger: 'sdk', taskQueue: stack.config.taskQueue },
      );
      const r = await waitForResult(client, s.executionId);
      if (r.status !== 'succeeded') throw new Error(`${fn} failed: ${r.failure?.message}`);
    };
    let seq = 0;
    const bare = async () => {
      await client.workflow.execute('baselineNoop', {
        taskQueue: 'bench-baseline',
        workflowId: `baseline-${seq++}`,
        args: [{}],
      });
    };
    const measure = async (name: string, call: () => Promise<void>, count: number) => {
      for (let i = 0; i < 5; i++) await call(); // warm-up: bundles, caches, the first replica
      const ms: number[] = [];
      const started = Date.now();
      for (let i = 0; i < count; i++) {
        const t = performance.now();
        await call();
        ms.push(performance.now() - t);
      }
      console.error(
        `[warm] ${name}: ${count} sequential calls in ${((Date.now() - started) / 1000).toFixed(1)} s`,
      );
      return ms;
    };
    const base = await measure('bare Temporal workflow + 1 activity', bare, n);
    const warm = await measure('pontoon warm (local replica)', () => pontoon('warm-greeter'), n);
    const onDemand = await measure(
      'pontoon on-demand (local process)',
      () => pontoon('hello'),
      Math.ceil(n / 2),
    );
    const row = (what: string, v: number[]) => ({
      path: what,
      calls: v.length,
      p50_ms: percentile(v, 50).toFixed(1),
      p99_ms: percentile(v, 99).toFixed(1),
      ratio_p50: (percentile(v, 50) / percentile(base, 50)).toFixed(2),
      ratio_p99: (percentile(v, 99) / percentile(base, 99)).toFixed(2),
    });
    const rows = [
      row('baseline: bare workflow + 1 activity', base),
      row('pontoon warm (local replica)', warm),
      row('pontoon on-demand (local process)', onDemand),
    ];
    printTable(rows);
    console.error(`[warm] wrote ${saveResult('warm', { rows })}`);
    return rows;
  } finally {
    baseline.shutdown();
    await baselineRun;
    await stack.stop();
  }
}
