/**
 * B6 schedule jitter: N schedules that all fire in the same second, in two shapes: N functions with
 * one schedule each, and one function with N schedules. Measures the delay from each nominal fire
 * time to (a) the executeFunction workflow's start (its StartTime in the history) and (b) its first
 * attempt's process start. Baseline: N bare Temporal Schedules in the same run and stack, all
 * firing in a second of their own right after Pontoon's (fired together, both would share one queue
 * in Temporal's scheduler and the p50s would say only who was served first), each starting a bare
 * workflow with one no-op activity that the baseline worker runs (as B1 and B3), measured the same
 * way (nominal → the started workflow's StartTime).
 *
 * Where the time goes, per fire (medians in `details.breakdown`): nominal → the schedule's action
 * taken (Temporal's scheduler, `takenAt`), workflow StartTime, first workflow task started (a worker
 * slot and the task queue), first workflow task completed (the spec read and the execution's first
 * commands), first attempt's process start.
 */
import type { Client } from '@temporalio/client';
import { waitForResult } from '../client/functions.ts';
import { scheduleId } from '../core/names.ts';
import {
  BASELINE_TASK_QUEUE,
  percentile,
  type ScenarioContext,
  type ScenarioResult,
  type Stack,
  sleep,
  summaryRow,
} from './lib.ts';
import { apply, localNoop } from './specs.ts';

const PERIOD_MS = 60_000;
/** A history event's time (protobuf Timestamp) in ms since the epoch. */
const tsToMs = (t: { seconds?: { toNumber(): number } | number | null; nanos?: number | null }) =>
  Number(typeof t.seconds === 'number' ? t.seconds : (t.seconds?.toNumber() ?? 0)) * 1000 +
  (t.nanos ?? 0) / 1e6;
/** Per-fire milestones, in ms since the epoch. */
interface Fire {
  nominal: number;
  takenAt: number;
  started: number;
  firstTaskStarted?: number;
  firstTaskCompleted?: number;
  /** The spec read (a local activity in the first workflow task): scheduled, completed. */
  specReadScheduled?: number;
  specReadCompleted?: number;
  attemptStarted?: number;
}

/** What one schedule fired: its nominal time, when Temporal took the action, the workflow it started. */
async function firedOnce(client: Client, id: string, deadline: number) {
  for (;;) {
    const d = await client.schedule.getHandle(id).describe();
    const a = d.info.recentActions[0];
    if (a && a.action.type === 'startWorkflow')
      return {
        nominal: a.scheduledAt.getTime(),
        takenAt: a.takenAt.getTime(),
        workflowId: a.action.workflow.workflowId,
      };
    if (Date.now() > deadline) throw new Error(`schedule ${id} did not fire`);
    await sleep(500);
  }
}

/** Start, first workflow task started and completed, from the workflow's history. */
async function milestones(client: Client, workflowId: string) {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  const at = (type: string) => {
    const e = history.events?.find((x) => x[type as keyof typeof x] != null);
    return e?.eventTime ? tsToMs(e.eventTime) : undefined;
  };
  // The spec read is a local activity: its marker's data holds when it was scheduled and completed
  // (the worker's clock, the same machine here).
  let specRead: { scheduled: number; completed: number } | undefined;
  for (const e of history.events ?? []) {
    const data = e.markerRecordedEventAttributes?.details?.data?.payloads?.[0]?.data;
    if (!data) continue;
    const m = JSON.parse(Buffer.from(data).toString('utf8')) as {
      activity_type?: string;
      complete_time?: { seconds: number; nanos: number };
      original_schedule_time?: { seconds: number; nanos: number };
    };
    if (m.activity_type === 'getFunctionSpec' && m.complete_time && m.original_schedule_time) {
      specRead = { scheduled: tsToMs(m.original_schedule_time), completed: tsToMs(m.complete_time) };
      break;
    }
  }
  return {
    started: at('workflowExecutionStartedEventAttributes')!,
    firstTaskStarted: at('workflowTaskStartedEventAttributes'),
    firstTaskCompleted: at('workflowTaskCompletedEventAttributes'),
    ...(specRead ? { specReadScheduled: specRead.scheduled, specReadCompleted: specRead.completed } : {}),
  };
}

/** Some schedule did not list the fire as its next action in time: the lead time was too short. */
class NotReady extends Error {}

/** Tries per fire: one not ready in time is set up again with twice the lead (so at most 2 re-setups). */
const LEAD_TRIES = 3;

/**
 * A schedule fires only once its scheduler workflow has run (it counts from its first task): waits
 * until every one lists the fire as its next action; throws NotReady when one does not by a third
 * of the lead before the fire (at least 0.5 s), which leaves time to remove them before they fire.
 */
async function ready(
  ctx: ScenarioContext,
  client: Client,
  label: string,
  ids: string[],
  at: number,
  lead: number,
) {
  for (const id of ids) {
    for (;;) {
      const next = (await client.schedule.getHandle(id).describe()).info.nextActionTimes[0];
      if (next?.getTime() === at) break;
      if (Date.now() > at - Math.max(500, lead / 3))
        throw new NotReady(
          `schedule ${id} was not ready before the fire (next action ${next?.toISOString()}; lead time ${lead} ms)`,
        );
      await sleep(100);
    }
  }
  ctx.log(
    `[schedules] ${label}: ${ids.length} ready ${((at - Date.now()) / 1000).toFixed(1)} s before the fire; waiting …`,
  );
}

const median = (fires: Fire[], f: (x: Fire) => number | undefined) => {
  const v = fires.map(f).filter((x): x is number => x !== undefined && Number.isFinite(x));
  return v.length ? percentile(v, 50) : null;
};

/**
 * Sets up schedules that fire at one second `lead` ms or more from now, and waits until all are
 * ready. Readiness takes longer on a loaded machine (every schedule's scheduler workflow must run
 * first), so a fire that is not ready in time is torn down and set up again under fresh schedule
 * ids with twice the lead, LEAD_TRIES tries in all; the last one's schedules are torn down too
 * before NotReady is thrown. `setUp(fireAt, attempt)` returns the schedule ids.
 */
async function arm(
  ctx: ScenarioContext,
  client: Client,
  label: string,
  firstLead: number,
  setUp: (fireAt: number, attempt: number) => Promise<string[]>,
  tearDown: (ids: string[]) => Promise<void>,
): Promise<{ ids: string[]; fireAt: number; leadMs: number; tries: number }> {
  for (let attempt = 0, lead = firstLead; ; attempt++, lead *= 2) {
    const fireAt = Math.ceil((Date.now() + lead) / 1000) * 1000;
    const ids = await setUp(fireAt, attempt);
    try {
      await ready(ctx, client, label, ids, fireAt, lead);
      return { ids, fireAt, leadMs: lead, tries: attempt + 1 };
    } catch (err) {
      if (!(err instanceof NotReady)) throw err;
      const last = attempt + 1 >= LEAD_TRIES;
      ctx.log(
        `[schedules] ${label}: ${err.message}; ${last ? 'giving up' : `setting it up again with a lead of ${(2 * lead) / 1000} s`}`,
      );
      // Removed so that those already ready do not fire into what runs next; a failed removal is
      // reported, not thrown, so the NotReady stays the error.
      await tearDown(ids).catch((e: unknown) =>
        ctx.log(`[schedules] ${label}: could not remove the schedules: ${String(e)}`),
      );
      if (last) throw err;
    }
  }
}

/**
 * Two fires in the same run and stack: `functions` functions with `perFunction` schedules each, all
 * firing in the same second; then as many bare schedules, all firing in a later second of their own.
 */
async function fire(
  ctx: ScenarioContext,
  stack: Stack,
  label: string,
  functions: number,
  perFunction: number,
) {
  const { client, taskQueue } = stack;
  const n = functions * perFunction;
  const names = Array.from({ length: functions }, (_, i) => `b6-${label}-${i}`);
  // A try after the first names its schedules afresh (`r1-tick-0`, …), so nothing of an earlier
  // try is mistaken for this one's fire.
  const ticksOf = (attempt: number) =>
    Array.from({ length: perFunction }, (_, j) => `${attempt ? `r${attempt}-` : ''}tick-${j}`);
  // First the functions alone (their controllers start); the time that took sets the lead time
  // for the second apply, which adds the schedules, so every schedule exists before the fire.
  const t0 = Date.now();
  await Promise.all(names.map((name) => apply(client, taskQueue, localNoop(name))));
  const firstApplyMs = Date.now() - t0;
  ctx.log(`[schedules] ${label}: ${functions} function(s) applied in ${(firstApplyMs / 1000).toFixed(1)} s`);
  // Each schedule is created by the controller's activity, one after another within a function.
  const armed = await arm(
    ctx,
    client,
    label,
    Math.max(ctx.quick ? 3000 : 6000, 4 * firstApplyMs, 150 * perFunction),
    async (fireAt, attempt) => {
      const window = {
        startAt: new Date(fireAt).toISOString(),
        endAt: new Date(fireAt + 1000).toISOString(),
      };
      const offset = `${(fireAt % PERIOD_MS) / 1000}s`;
      const ticks = ticksOf(attempt);
      ctx.log(
        `[schedules] ${label}: adding ${perFunction} schedule(s) to each of ${functions} function(s), all ${n} firing at ${window.startAt} …`,
      );
      await Promise.all(
        names.map((name) =>
          apply(
            client,
            taskQueue,
            localNoop(name, {
              schedules: ticks.map((t) => ({ name: t, every: `${PERIOD_MS / 1000}s`, offset, ...window })),
            }),
          ),
        ),
      );
      return names.flatMap((name) => ticks.map((t) => scheduleId(name, t)));
    },
    // Applied again without schedules, a function's controller deletes them.
    async () => {
      await Promise.all(names.map((name) => apply(client, taskQueue, localNoop(name))));
    },
  );
  const pontoon: Fire[] = [];
  await ctx.cpu.phase(`${label}: ${n} Pontoon schedules fire`, stack.processes, async () => {
    await sleep(Math.max(0, armed.fireAt - Date.now()) + 1000);
    const deadline = Date.now() + 180_000;
    await Promise.all(
      armed.ids.map(async (id) => {
        const f = await firedOnce(client, id, deadline);
        const r = await waitForResult(client, f.workflowId);
        if (r.status !== 'succeeded') throw new Error(`${f.workflowId} ${r.status}`);
        const m = await milestones(client, f.workflowId);
        const attempt = r.attempts[0]?.startedAt;
        pontoon.push({ ...f, ...m, ...(attempt ? { attemptStarted: Date.parse(attempt) } : {}) });
      }),
    );
  });

  // Then as many bare schedules, alone in their second: firing together with Pontoon's, both would
  // share one queue in Temporal's scheduler and the p50s would only say who was served first.
  const bareArmed = await arm(
    ctx,
    client,
    `${label} (bare)`,
    Math.max(ctx.quick ? 3000 : 6000, 50 * n),
    async (bareAt, attempt) => {
      const ids = Array.from(
        { length: n },
        (_, i) => `baseline-${label}${attempt ? `-r${attempt}` : ''}-${i}`,
      );
      await Promise.all(
        ids.map((id) =>
          client.schedule.create({
            scheduleId: id,
            spec: {
              intervals: [{ every: PERIOD_MS, offset: bareAt % PERIOD_MS }],
              startAt: new Date(bareAt),
              endAt: new Date(bareAt + 1000),
            },
            // A workflow that runs and ends, like Pontoon's: a scheduler whose workflow never
            // runs does less (no completion to watch for its overlap policy, no load behind it).
            action: {
              type: 'startWorkflow',
              workflowType: 'baselineNoop',
              taskQueue: BASELINE_TASK_QUEUE,
              args: [null],
            },
          }),
        ),
      );
      return ids;
    },
    async (ids) => {
      await Promise.all(ids.map((id) => client.schedule.getHandle(id).delete()));
    },
  );
  const bare: Fire[] = [];
  await ctx.cpu.phase(`${label}: ${n} bare schedules fire`, stack.processes, async () => {
    await sleep(Math.max(0, bareArmed.fireAt - Date.now()) + 1000);
    const deadline = Date.now() + 180_000;
    await Promise.all(
      bareArmed.ids.map(async (id) => {
        const f = await firedOnce(client, id, deadline);
        await client.workflow.getHandle(f.workflowId).result();
        const m = await milestones(client, f.workflowId);
        bare.push({ ...f, ...m });
        await client.schedule.getHandle(id).delete();
      }),
    );
  });
  const leads = { pontoon: armed, bare: bareArmed };
  return {
    pontoon,
    bare,
    // The lead time each fire was set up with, and how many tries that took.
    leads: Object.fromEntries(
      Object.entries(leads).map(([k, a]) => [k, { leadMs: a.leadMs, tries: a.tries }]),
    ),
  };
}

export async function benchSchedules(ctx: ScenarioContext): Promise<ScenarioResult> {
  const n = ctx.quick ? 20 : 100;
  const shapes = [
    { label: 'fns', title: `${n} functions × 1 schedule`, functions: n, perFunction: 1 },
    { label: 'one', title: `1 function × ${n} schedules`, functions: 1, perFunction: n },
  ];
  const summary: ScenarioResult['summary'] = [];
  const details: Record<string, unknown> = { schedules: n };
  for (const shape of shapes) {
    const lease = await ctx.stacks.local({ baseline: true });
    try {
      const { pontoon, bare, leads } = await fire(
        ctx,
        lease.stack,
        shape.label,
        shape.functions,
        shape.perFunction,
      );
      const start = pontoon.map((f) => f.started - f.nominal);
      const bareStart = bare.map((f) => f.started - f.nominal);
      const attempt = pontoon.flatMap((f) => (f.attemptStarted ? [f.attemptStarted - f.nominal] : []));
      const row = (figure: string, p: number, v: number[]) =>
        summaryRow(
          {
            scenario: 'B6',
            figure,
            unit: 'ms',
            pontoon: percentile(v, p),
            baseline: percentile(bareStart, p),
            baselineName: 'bare Temporal schedule',
            target: '≤ 1.25× bare',
          },
          { better: 'lower', of: 'ratio', limit: 1.25 },
        );
      summary.push(
        row(`${shape.title}, nominal → execution start p50`, 50, start),
        row(`${shape.title}, nominal → execution start p99`, 99, start),
        summaryRow({
          scenario: 'B6',
          figure: `${shape.title}, nominal → first attempt process start p50 / p99 (p99 shown)`,
          unit: 'ms',
          pontoon: percentile(attempt, 99),
          baseline: percentile(bareStart, 99),
          baselineName: 'bare Temporal schedule (workflow start)',
        }),
      );
      details[shape.label] = {
        shape: shape.title,
        leads,
        delaysMs: {
          executionStart: { p50: percentile(start, 50), p99: percentile(start, 99) },
          attemptStart: { p50: percentile(attempt, 50), p99: percentile(attempt, 99) },
          bareWorkflowStart: {
            p50: percentile(bareStart, 50),
            p99: percentile(bareStart, 99),
            count: bare.length,
          },
          bareTakenAt: {
            p50: percentile(
              bare.map((f) => f.takenAt - f.nominal),
              50,
            ),
            p99: percentile(
              bare.map((f) => f.takenAt - f.nominal),
              99,
            ),
          },
        },
        // Every fire's delay in the order Temporal started them (P: Pontoon's, B: bare).
        order: [pontoon, bare]
          .map((fires) =>
            [...fires]
              .sort((a, b) => a.started - b.started)
              .map((f) => Math.round(f.started - f.nominal))
              .join(' '),
          )
          .map((line, i) => `${i ? 'B' : 'P'}: ${line}`),
        // Medians of each step, Pontoon's fires: where the time goes.
        breakdownMs: {
          nominalToStarted: median(pontoon, (f) => f.started - f.nominal),
          startedToTaken: median(pontoon, (f) => f.takenAt - f.started),
          startedToFirstTask: median(pontoon, (f) => (f.firstTaskStarted ?? Number.NaN) - f.started),
          // From the marker's complete_time (the schedule time it records is not usable: it can be later).
          firstTaskToSpecReadDone: median(
            pontoon,
            (f) => (f.specReadCompleted ?? Number.NaN) - (f.firstTaskStarted ?? Number.NaN),
          ),
          specReadToTaskCompleted: median(
            pontoon,
            (f) => (f.firstTaskCompleted ?? Number.NaN) - (f.specReadCompleted ?? Number.NaN),
          ),
          firstTask: median(
            pontoon,
            (f) => (f.firstTaskCompleted ?? Number.NaN) - (f.firstTaskStarted ?? Number.NaN),
          ),
          firstTaskToAttempt: median(
            pontoon,
            (f) => (f.attemptStarted ?? Number.NaN) - (f.firstTaskCompleted ?? Number.NaN),
          ),
        },
      };
      ctx.log(`[schedules] ${shape.label}: ${JSON.stringify(details[shape.label])}`);
    } finally {
      await lease.release();
    }
  }
  return { scenario: 'schedules', title: 'B6 schedule jitter', summary, details };
}
