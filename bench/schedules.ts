/**
 * B6 schedule jitter: N functions whose schedules all fire in the same second. Measures the delay
 * from each nominal fire time to (a) the executeFunction workflow start and (b) its first attempt's
 * process start; baseline: N bare Temporal Schedules starting a plain workflow in the same run
 * (Temporal's own dispatch delay).
 */

import { listExecutions } from '../client/executions.ts';
import { applySpec, waitForResult } from '../client/functions.ts';
import { FunctionSpecSchema } from '../spec/schema.ts';
import { percentile, printTable, saveResult, startStack } from './lib.ts';

export async function benchSchedules(opts: { quick: boolean }) {
  const n = opts.quick ? 30 : 100;
  const period = 20_000;
  const stack = await startStack();
  const { client } = stack.worker;
  try {
    console.error(`[schedules] applying ${n} functions with a schedule every ${period / 1000}s …`);
    const names = Array.from({ length: n }, (_, i) => `sched-${i}`);
    // Fire at the next period boundary at least 8 s away, so every schedule exists before it.
    const fireAt = Math.ceil((Date.now() + 8000) / period) * period;
    await Promise.all(
      names.map((name) =>
        applySpec(
          client,
          FunctionSpecSchema.parse({
            apiVersion: 'pontoon.dev/v1',
            kind: 'Function',
            metadata: { name },
            spec: {
              image: 'x',
              local: { command: ['node', '-e', '0'] },
              schedules: [
                {
                  name: 'tick',
                  every: `${period / 1000}s`,
                  startAt: new Date(fireAt).toISOString(),
                  endAt: new Date(fireAt + 1000).toISOString(),
                },
              ],
            },
          }),
          stack.config.taskQueue,
        ),
      ),
    );
    const baselineIds = names.map((_, i) => `baseline-${i}`);
    await Promise.all(
      baselineIds.map((scheduleId) =>
        client.schedule.create({
          scheduleId,
          spec: { intervals: [{ every: period }], startAt: new Date(fireAt), endAt: new Date(fireAt + 1000) },
          action: {
            type: 'startWorkflow',
            workflowType: 'benchBaselineNoop',
            taskQueue: 'bench-baseline-none',
            args: [],
          },
        }),
      ),
    );
    console.error(`[schedules] waiting for the fire at ${new Date(fireAt).toISOString()} …`);
    await new Promise((r) => setTimeout(r, Math.max(0, fireAt - Date.now()) + 5000));

    const startDelays: number[] = [];
    const attemptDelays: number[] = [];
    let executions: Awaited<ReturnType<typeof listExecutions>>['executions'] = [];
    for (let i = 0; i < 60; i++) {
      executions = [];
      let token: string | undefined;
      do {
        const page = await listExecutions(client, { limit: 500, ...(token ? { pageToken: token } : {}) });
        executions.push(...page.executions);
        token = page.nextPageToken ?? undefined;
      } while (token);
      const finished = executions.filter((e) => e.status !== 'running').length;
      if (i % 5 === 0)
        console.error(`[schedules] ${executions.length} executions listed, ${finished} finished`);
      if (finished >= n) break;
      await new Promise((r) => setTimeout(r, 1000));
    }
    for (const e of executions.filter((x) => x.status === 'succeeded')) {
      const r = await waitForResult(client, e.executionId);
      const nominal = Date.parse(r.scheduledTime);
      startDelays.push(Date.parse(e.startedAt!) - nominal);
      if (r.attempts[0]) attemptDelays.push(Date.parse(r.attempts[0].startedAt) - nominal);
    }
    const baselineDelays: number[] = [];
    for (const id of baselineIds) {
      const d = await client.schedule.getHandle(id).describe();
      for (const a of d.info.recentActions)
        baselineDelays.push(a.takenAt.getTime() - a.scheduledAt.getTime());
    }
    const row = (what: string, v: number[], base?: number[]) => ({
      measure: what,
      count: v.length,
      p50_ms: Math.round(percentile(v, 50)),
      p99_ms: Math.round(percentile(v, 99)),
      ratio_p99: base ? (percentile(v, 99) / Math.max(1, percentile(base, 99))).toFixed(2) : '-',
    });
    const rows = [
      row('baseline: bare Temporal schedule → workflow start', baselineDelays),
      row('pontoon: nominal → executeFunction start', startDelays, baselineDelays),
      row('pontoon: nominal → first attempt process start', attemptDelays, baselineDelays),
    ];
    printTable(rows);
    const file = saveResult('schedules', { schedules: n, rows });
    console.error(`[schedules] wrote ${file}`);
    return rows;
  } finally {
    await stack.stop();
  }
}
