/** Schedule routes: list with next fire times and recent results, pause/unpause, trigger now, backfill. */
import { type Client, ScheduleNotFoundError, WorkflowNotFoundError } from '@temporalio/client';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { overlapPolicy } from '../activities/schedules.ts';
import { scheduleId } from '../spec/names.ts';
import { previewFireTimes } from '../spec/schedule-times.ts';
import { OVERLAP_POLICIES, type ScheduleSpec } from '../spec/schema.ts';
import { ApiError } from './errors.ts';
import { closestName } from './suggest.ts';

export const NoteBodySchema = z.strictObject({
  note: z.string().max(1000).optional().describe('Why (shown in the Web UI).'),
});
export const TriggerBodySchema = z.strictObject({
  overlap: z
    .enum(OVERLAP_POLICIES)
    .optional()
    .describe("Overlap policy for this run; the schedule's own when unset."),
});
export const BackfillBodySchema = z.strictObject({
  from: z.iso.datetime({ offset: true }).describe('Start of the range (RFC 3339, inclusive).'),
  to: z.iso.datetime({ offset: true }).describe('End of the range (RFC 3339).'),
  overlap: z
    .enum(OVERLAP_POLICIES)
    .optional()
    .describe("Overlap policy for the backfilled runs; the schedule's own when unset."),
});

/**
 * Most fires one backfill request may start (PONTOON_API_MAX_BACKFILL_FIRES). Each fire is an
 * execution: a range of years on an hourly schedule would be hundreds of thousands of workflows from
 * one request. A thousand covers 41 days of an hourly schedule or 2.7 years of a daily one; longer
 * ranges are several requests, each refused or accepted whole.
 */
export const MAX_BACKFILL_FIRES = 1000;

/**
 * Fires of `schedule` from `from` to `to`, both inclusive as the server runs a backfill, counted
 * offline with the server's calendar rules (spec/schedule-times.ts) up to one past the cap. Over the
 * cap, the count is extrapolated from the pace of those fires (exact for evenly spaced schedules)
 * and `lastWithinCap` is where a backfill of exactly `cap` fires would end. A cron range shorter
 * than `cap` minutes cannot be over the cap and is not counted (a cron fire costs ~1 ms to find).
 */
export function backfillFires(
  schedule: ScheduleSpec,
  from: number,
  to: number,
  cap: number,
): { over: false } | { over: true; count: number; lastWithinCap: string } {
  if (schedule.cron && (to - from) / 60_000 + 1 <= cap) return { over: false };
  const times = previewFireTimes(schedule, new Date(from), cap + 1)
    .map((t) => t.getTime())
    .filter((t) => t <= to);
  if (times.length <= cap) return { over: false };
  const first = times[0]!;
  const pace = (times[cap]! - first) / cap;
  return {
    over: true,
    count: 1 + Math.floor((to - first) / pace),
    lastWithinCap: new Date(times[cap - 1]!).toISOString(),
  };
}

const STATUS: Record<string, string> = {
  RUNNING: 'running',
  COMPLETED: 'succeeded',
  FAILED: 'failed',
  CANCELLED: 'cancelled',
  TERMINATED: 'terminated',
  TIMED_OUT: 'timed_out',
  CONTINUED_AS_NEW: 'running',
};

export interface ScheduleRouteDeps {
  client: Client;
  /** Current spec of a function, or an ApiError function_not_found. */
  currentSpec(name: string): Promise<{ spec: { spec: { schedules: ScheduleSpec[] } } }>;
  check<T extends z.ZodType>(schema: T, data: unknown, where: string): z.output<T>;
  requireName(name: string): string;
  /** Most fires one backfill may start; default MAX_BACKFILL_FIRES. */
  maxBackfillFires?: number;
}

export function registerScheduleRoutes(app: FastifyInstance, deps: ScheduleRouteDeps): void {
  const { client } = deps;

  const findSchedule = async (fn: string, name: string) => {
    const current = await deps.currentSpec(deps.requireName(fn));
    const s = current.spec.spec.schedules.find((x) => x.name === name);
    if (!s) {
      const names = current.spec.spec.schedules.map((x) => x.name);
      const suggestion = closestName(name, names);
      throw new ApiError(
        'schedule_not_found',
        `function "${fn}" has no schedule "${name}"${suggestion ? ` (did you mean "${suggestion}"?)` : ''}${names.length ? `; it has ${names.join(', ')}` : ''}`,
        { function: fn, schedule: name, schedules: names, ...(suggestion ? { suggestion } : {}) },
      );
    }
    return { spec: s, handle: client.schedule.getHandle(scheduleId(fn, name)) };
  };
  const temporalMissing = (fn: string, name: string) =>
    new ApiError(
      'schedule_not_found',
      `the Temporal Schedule ${scheduleId(fn, name)} is missing; re-apply the function to recreate it`,
    );

  app.get<{ Params: { name: string } }>(
    '/v1/functions/:name/schedules',
    { config: { role: 'viewer' } },
    async (req) => {
      const fn = deps.requireName(req.params.name);
      const current = await deps.currentSpec(fn);
      const schedules = await Promise.all(
        current.spec.spec.schedules.map(async (s) => {
          const base = {
            name: s.name,
            scheduleId: scheduleId(fn, s.name),
            ...(s.cron
              ? { cron: s.cron, timezone: s.timezone }
              : { every: s.every, ...(s.offset ? { offset: s.offset } : {}) }),
            overlap: s.overlap,
          };
          try {
            const d = await client.schedule.getHandle(scheduleId(fn, s.name)).describe();
            const recent = await Promise.all(
              d.info.recentActions.slice(-5).map(async (a) => {
                const id = a.action.workflow.workflowId;
                let status = 'unknown';
                try {
                  const w = await client.workflow
                    .getHandle(id, a.action.workflow.firstExecutionRunId)
                    .describe();
                  status = STATUS[w.status.name] ?? w.status.name.toLowerCase();
                } catch (err) {
                  if (!(err instanceof WorkflowNotFoundError)) throw err;
                }
                return {
                  scheduledAt: a.scheduledAt.toISOString(),
                  startedAt: a.takenAt.toISOString(),
                  executionId: id,
                  status,
                };
              }),
            );
            return {
              ...base,
              paused: d.state.paused,
              note: d.state.note ?? null,
              nextFireTimes: d.info.nextActionTimes.slice(0, 5).map((t) => t.toISOString()),
              recent: recent.reverse(),
              actions: d.info.numActionsTaken,
              skippedForOverlap: d.info.numActionsSkippedOverlap,
            };
          } catch (err) {
            if (!(err instanceof ScheduleNotFoundError)) throw err;
            return { ...base, missing: true };
          }
        }),
      );
      return { function: fn, schedules };
    },
  );

  const act = (
    path: string,
    role: 'invoker',
    fn: (req: { params: { name: string; schedule: string }; body: unknown }) => Promise<unknown>,
  ) =>
    app.post<{ Params: { name: string; schedule: string } }>(
      `/v1/functions/:name/schedules/:schedule/${path}`,
      { config: { role } },
      async (req, reply) => {
        try {
          const out = await fn(req);
          reply.status(202);
          return out;
        } catch (err) {
          if (err instanceof ScheduleNotFoundError)
            throw temporalMissing(req.params.name, req.params.schedule);
          throw err;
        }
      },
    );

  act('pause', 'invoker', async (req) => {
    const { note } = deps.check(NoteBodySchema, req.body, 'body');
    const { handle } = await findSchedule(req.params.name, req.params.schedule);
    await handle.pause(note ?? 'paused through the Pontoon API');
    return { schedule: req.params.schedule, paused: true };
  });
  act('unpause', 'invoker', async (req) => {
    const { note } = deps.check(NoteBodySchema, req.body, 'body');
    const { handle } = await findSchedule(req.params.name, req.params.schedule);
    await handle.unpause(note ?? 'unpaused through the Pontoon API');
    return { schedule: req.params.schedule, paused: false };
  });
  act('trigger', 'invoker', async (req) => {
    const { overlap } = deps.check(TriggerBodySchema, req.body, 'body');
    const { spec, handle } = await findSchedule(req.params.name, req.params.schedule);
    await handle.trigger(overlapPolicy(overlap ?? spec.overlap));
    return { schedule: req.params.schedule, triggered: true, overlap: overlap ?? spec.overlap };
  });
  act('backfill', 'invoker', async (req) => {
    const b = deps.check(BackfillBodySchema, req.body, 'body');
    if (Date.parse(b.to) <= Date.parse(b.from))
      throw new ApiError('validation_failed', '"to" must be after "from"');
    const { spec, handle } = await findSchedule(req.params.name, req.params.schedule);
    const cap = deps.maxBackfillFires ?? MAX_BACKFILL_FIRES;
    const fires = backfillFires(spec, Date.parse(b.from), Date.parse(b.to), cap);
    if (fires.over) {
      const message = `the range holds about ${fires.count} fires of schedule "${spec.name}"; one backfill starts at most ${cap} (PONTOON_API_MAX_BACKFILL_FIRES): split it, e.g. from ${b.from} to ${fires.lastWithinCap}`;
      throw new ApiError('backfill_too_large', message, [
        { field: 'body.to', message, cap, fires: fires.count },
      ]);
    }
    const overlap = b.overlap ?? spec.overlap;
    await handle.backfill({ start: new Date(b.from), end: new Date(b.to), overlap: overlapPolicy(overlap) });
    return { schedule: req.params.schedule, from: b.from, to: b.to, overlap };
  });
}
