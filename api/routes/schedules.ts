/** Schedule routes: list with next fire times and recent results, pause/unpause, trigger now, backfill. */
import { ScheduleNotFoundError, WorkflowNotFoundError } from '@temporalio/client';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { scheduleId } from '../../core/names.ts';
import { MAX_BACKFILL_FIRES, overlapPolicy } from '../../core/schedule-policy.ts';
import { previewFireTimes } from '../../core/schedule-times.ts';
import type { ScheduleSpec } from '../../core/schema.ts';
import { closestName } from '../../util/suggest.ts';
import { ApiError } from '../errors.ts';
import type { RouteContext } from '../route-context.ts';
import { ROUTES } from '../route-table.ts';
import { ROUTE_SCHEMAS } from '../schemas.ts';
import { check, requireName } from '../validate.ts';
import { bindRoute } from './bind.ts';

/**
 * Fires of `schedule` from `from` to `to`, both inclusive as the server runs a backfill, counted
 * offline with the server's calendar rules (core/schedule-times.ts) up to one past the cap. Over the
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

export function registerScheduleRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const { client } = ctx;

  const findSchedule = async (fn: string, name: string) => {
    const current = await ctx.currentSpec(requireName(fn));
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

  bindRoute(app, ROUTES.listSchedules, async (req) => {
    const fn = requireName(req.params.name);
    const current = await ctx.currentSpec(fn);
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
  });

  type Action =
    | typeof ROUTES.pauseSchedule
    | typeof ROUTES.unpauseSchedule
    | typeof ROUTES.triggerSchedule
    | typeof ROUTES.backfillSchedule;
  /** An action on one schedule: 202 with its answer; a Temporal Schedule gone missing is a 404. */
  const act = (
    route: Action,
    fn: (req: { params: { name: string; schedule: string }; body: unknown }) => Promise<unknown>,
  ) =>
    bindRoute(
      app,
      route,
      async (req: FastifyRequest<{ Params: { name: string; schedule: string } }>, reply: FastifyReply) => {
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

  act(ROUTES.pauseSchedule, async (req) => {
    const { note } = check(ROUTE_SCHEMAS.pauseSchedule.body, req.body, 'body');
    const { handle } = await findSchedule(req.params.name, req.params.schedule);
    await handle.pause(note ?? 'paused through the Pontoon API');
    return { schedule: req.params.schedule, paused: true };
  });
  act(ROUTES.unpauseSchedule, async (req) => {
    const { note } = check(ROUTE_SCHEMAS.unpauseSchedule.body, req.body, 'body');
    const { handle } = await findSchedule(req.params.name, req.params.schedule);
    await handle.unpause(note ?? 'unpaused through the Pontoon API');
    return { schedule: req.params.schedule, paused: false };
  });
  act(ROUTES.triggerSchedule, async (req) => {
    const { overlap } = check(ROUTE_SCHEMAS.triggerSchedule.body, req.body, 'body');
    const { spec, handle } = await findSchedule(req.params.name, req.params.schedule);
    await handle.trigger(overlapPolicy(overlap ?? spec.overlap));
    return { schedule: req.params.schedule, triggered: true, overlap: overlap ?? spec.overlap };
  });
  act(ROUTES.backfillSchedule, async (req) => {
    const b = check(ROUTE_SCHEMAS.backfillSchedule.body, req.body, 'body');
    if (Date.parse(b.to) <= Date.parse(b.from))
      throw new ApiError('validation_failed', '"to" must be after "from"');
    const { spec, handle } = await findSchedule(req.params.name, req.params.schedule);
    const cap = ctx.deps.maxBackfillFires || MAX_BACKFILL_FIRES;
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
