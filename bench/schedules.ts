/**
 * B6 schedule jitter: N functions whose schedules all fire in the same second. Measures the delay
 * from each nominal fire time to (a) the executeFunction workflow start and (b) its first attempt's
 * process start; baseline: N bare Temporal Schedules starting a plain workflow in the same run
 * (Temporal's own dispatch delay).
 */
import { listExecutions } from '../client/executions.ts';
import { waitForResult } from '../client/functions.ts';
import { percentile, type ScenarioContext, type ScenarioResult, sleep, summaryRow } from './lib.ts';
import { apply, localNoop } from './specs.ts';

/** The schedule's name, which is the trigger of its executions (how they are listed apart). */
const TICK = 'b6-tick';

export async function benchSchedules(ctx: ScenarioContext): Promise<ScenarioResult> {
  const n = ctx.quick ? 20 : 100;
  const period = 60_000;
  const lease = await ctx.stacks.local();
  const { stack } = lease;
  const { client, taskQueue } = stack;
  try {
    const names = Array.from({ length: n }, (_, i) => `sched-${i}`);
    // First the functions alone (their controllers start); the time that took sets the lead time
    // for the second apply, which adds the schedules, so every schedule exists before the fire.
    const t0 = Date.now();
    await Promise.all(names.map((name) => apply(client, taskQueue, localNoop(name))));
    // Adding schedules costs more than the first apply (each one is created by an activity).
    const firstApplyMs = Date.now() - t0;
    const lead = Math.max(ctx.quick ? 5000 : 10_000, 4 * firstApplyMs);
    const fireAt = Math.ceil((Date.now() + lead) / 1000) * 1000;
    const offset = `${(fireAt % period) / 1000}s`;
    const window = { startAt: new Date(fireAt).toISOString(), endAt: new Date(fireAt + 1000).toISOString() };
    ctx.log(
      `[schedules] ${n} functions applied in ${(firstApplyMs / 1000).toFixed(1)} s; adding a schedule to each, all firing at ${window.startAt} …`,
    );
    await Promise.all(
      names.map((name) =>
        apply(
          client,
          taskQueue,
          localNoop(name, { schedules: [{ name: TICK, every: `${period / 1000}s`, offset, ...window }] }),
        ),
      ),
    );
    const baselineIds = names.map((_, i) => `baseline-${i}`);
    await Promise.all(
      baselineIds.map((scheduleId) =>
        client.schedule.create({
          scheduleId,
          spec: {
            intervals: [{ every: period, offset: fireAt % period }],
            startAt: new Date(fireAt),
            endAt: new Date(fireAt + 1000),
          },
          action: {
            type: 'startWorkflow',
            workflowType: 'benchBaselineNoop',
            taskQueue: 'bench-baseline-none',
            args: [],
          },
        }),
      ),
    );
    if (Date.now() > fireAt - 500)
      throw new Error(
        `creating the schedules took longer than the lead time (${lead} ms) before the fire: raise it`,
      );
    ctx.log(
      `[schedules] all created ${((fireAt - Date.now()) / 1000).toFixed(1)} s before the fire; waiting …`,
    );

    let executions: Awaited<ReturnType<typeof listExecutions>>['executions'] = [];
    await ctx.cpu.phase(`${n} schedules fire`, stack.processes, async () => {
      await sleep(Math.max(0, fireAt - Date.now()) + 2000);
      for (let i = 0; i < 60; i++) {
        executions = [];
        let token: string | undefined;
        do {
          const page = await listExecutions(client, {
            trigger: TICK,
            since: new Date(fireAt - 1000).toISOString(),
            limit: 500,
            ...(token ? { pageToken: token } : {}),
          });
          executions.push(...page.executions);
          token = page.nextPageToken ?? undefined;
        } while (token);
        const finished = executions.filter((e) => e.status !== 'running').length;
        if (finished >= n) break;
        if (i % 5 === 0) ctx.log(`[schedules] ${executions.length} executions listed, ${finished} finished`);
        await sleep(1000);
      }
    });
    const startDelays: number[] = [];
    const attemptDelays: number[] = [];
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
    if (startDelays.length < n)
      throw new Error(`only ${startDelays.length} of ${n} scheduled executions succeeded`);
    const row = (figure: string, p: number, v: number[]) =>
      summaryRow({
        scenario: 'B6',
        figure,
        unit: 'ms',
        pontoon: percentile(v, p),
        baseline: percentile(baselineDelays, p),
        baselineName: 'bare Temporal schedule',
      });
    return {
      scenario: 'schedules',
      title: 'B6 schedule jitter',
      summary: [
        row(`${n} schedules, nominal → execution start p50`, 50, startDelays),
        row(`${n} schedules, nominal → execution start p99`, 99, startDelays),
        row(`${n} schedules, nominal → first attempt process start p99`, 99, attemptDelays),
      ],
      details: {
        schedules: n,
        delaysMs: {
          executionStart: { p50: percentile(startDelays, 50), p99: percentile(startDelays, 99) },
          attemptStart: { p50: percentile(attemptDelays, 50), p99: percentile(attemptDelays, 99) },
          bareSchedule: {
            p50: percentile(baselineDelays, 50),
            p99: percentile(baselineDelays, 99),
            count: baselineDelays.length,
          },
        },
      },
    };
  } finally {
    await lease.release();
  }
}
