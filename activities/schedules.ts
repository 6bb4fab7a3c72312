/**
 * Reconciles a function's schedules with Temporal Schedules (ids fn:<function>:<schedule>):
 * create, update, delete, idempotently. Called by the function controller on apply and delete.
 */
import {
  type Client,
  ScheduleNotFoundError,
  type ScheduleOptions,
  type ScheduleUpdateOptions,
} from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { Logger } from 'pino';
import { listScheduleIds } from '../client/list-ids.ts';
import { parseDuration } from '../core/duration.ts';
import { APPLY_FAILURES } from '../core/failures.ts';
import { executionWorkflowId, SearchAttr, scheduleId, WorkflowType } from '../core/names.ts';
import { overlapPolicy } from '../core/schedule-policy.ts';
import type { ScheduleSpec } from '../core/schema.ts';

export interface ReconcileInput {
  function: string;
  schedules: ScheduleSpec[];
  /** The schedules of the version being replaced: a runtime pause survives re-applies that leave `paused` as it was. */
  previous: ScheduleSpec[];
  priority: number;
}

export interface ReconcileResult {
  created: string[];
  updated: string[];
  deleted: string[];
}

/** The Temporal Schedule for one schedule of a function (pure). */
export function buildSchedule(
  fn: string,
  s: ScheduleSpec,
  taskQueue: string,
  priority: number,
): Omit<ScheduleOptions, 'scheduleId'> & { scheduleId: string } {
  const jitter = parseDuration(s.jitter);
  return {
    scheduleId: scheduleId(fn, s.name),
    spec: {
      ...(s.cron
        ? { cronExpressions: [s.cron], timezone: s.timezone }
        : {
            intervals: [
              { every: parseDuration(s.every!), ...(s.offset ? { offset: parseDuration(s.offset) } : {}) },
            ],
          }),
      ...(jitter ? { jitter } : {}),
      ...(s.startAt ? { startAt: new Date(s.startAt) } : {}),
      ...(s.endAt ? { endAt: new Date(s.endAt) } : {}),
    },
    action: {
      type: 'startWorkflow',
      workflowType: WorkflowType.execute,
      // Temporal appends the nominal time: exec:<function>:<schedule>-2026-11-24T02:30:00Z.
      workflowId: executionWorkflowId(fn, s.name),
      taskQueue,
      args: [{ function: fn, parameters: s.parameters }],
      typedSearchAttributes: [
        { key: SearchAttr.function, value: fn },
        { key: SearchAttr.trigger, value: s.name },
        { key: SearchAttr.priority, value: priority },
      ],
      memo: { function: fn, schedule: s.name },
      staticSummary: `${fn} (schedule ${s.name})`,
    },
    policies: {
      overlap: overlapPolicy(s.overlap),
      catchupWindow: parseDuration(s.catchupWindow),
      pauseOnFailure: false,
    },
    state: { paused: s.paused, ...(s.note || s.paused ? { note: s.note ?? 'paused in the spec' } : {}) },
    memo: { function: fn, schedule: s.name },
  };
}

/**
 * The server's reason when it refused a schedule as such: gRPC INVALID_ARGUMENT (3) anywhere in the
 * error's cause chain, or the TypeError the TypeScript SDK turns an "Invalid schedule spec" into
 * (e.g. "unknown time zone PST"). Undefined for anything else (worth retrying).
 */
function refusedByServer(err: unknown): string | undefined {
  if (err instanceof TypeError) return err.message;
  for (
    let e = err as { code?: unknown; details?: unknown; message?: string; cause?: unknown } | undefined;
    e;
  ) {
    if (e.code === 3) return typeof e.details === 'string' && e.details ? e.details : (e.message ?? '');
    e = e.cause as typeof e;
  }
  return undefined;
}

/** The spec field a server refusal of schedule `index` is about, from the server's message. */
function refusedField(index: number, message: string): string {
  const base = `spec.schedules[${index}]`;
  if (/time ?zone/i.test(message)) return `${base}.timezone`;
  if (/cron|calendar/i.test(message)) return `${base}.cron`;
  if (/interval/i.test(message)) return `${base}.every`;
  return base;
}

/** `details` of a `ScheduleRefused` failure: what the API answers as a located 400. */
export interface ScheduleRefusal {
  field: string;
  message: string;
}

export function createScheduleActivities({
  client,
  taskQueue,
  logger,
}: {
  client: Client;
  taskQueue: string;
  logger: Logger;
}) {
  /** Creates or updates one schedule of `input.function`. */
  async function reconcileOne(
    input: ReconcileInput,
    s: ScheduleSpec,
    result: ReconcileResult,
  ): Promise<void> {
    const options = buildSchedule(input.function, s, taskQueue, input.priority);
    const handle = client.schedule.getHandle(options.scheduleId);
    const before = input.previous.find((p) => p.name === s.name);
    try {
      await handle.update((current) => {
        // Keep a pause or unpause made at run time unless the spec's own `paused` changed.
        const keepState =
          before !== undefined && before.paused === s.paused && (before.note ?? '') === (s.note ?? '');
        return {
          ...current,
          spec: options.spec,
          action: options.action,
          policies: options.policies,
          state: keepState
            ? current.state
            : { ...current.state, ...options.state, note: options.state?.note ?? '' },
        } as ScheduleUpdateOptions;
      });
      result.updated.push(s.name);
    } catch (err) {
      if (!(err instanceof ScheduleNotFoundError)) throw err;
      try {
        await client.schedule.create(options);
      } catch (createErr) {
        // Created meanwhile by a retried attempt of this activity: update it next time round.
        if ((createErr as Error).name !== 'ScheduleAlreadyRunning') throw createErr;
      }
      result.created.push(s.name);
    }
  }

  return {
    async reconcileSchedules(input: ReconcileInput): Promise<ReconcileResult> {
      const result: ReconcileResult = { created: [], updated: [], deleted: [] };
      const wanted = new Set(input.schedules.map((s) => scheduleId(input.function, s.name)));
      for (const [index, s] of input.schedules.entries()) {
        try {
          await reconcileOne(input, s, result);
        } catch (err) {
          const refused = refusedByServer(err);
          if (refused === undefined) throw err;
          // Deterministic: the same request is refused again, so never retried. The controller
          // rolls back and the API answers 400 spec_invalid naming the field.
          const refusal: ScheduleRefusal = {
            field: refusedField(index, refused),
            message: `Temporal refused schedule "${s.name}": ${refused}`,
          };
          throw ApplicationFailure.create({
            type: APPLY_FAILURES.scheduleRefused,
            message: `${refusal.field}: ${refusal.message}`,
            nonRetryable: true,
            details: [refusal],
          });
        }
      }
      // Delete what the previous version had, and any stray fn:<function>:* schedule.
      const stale = new Set(
        input.previous.map((p) => scheduleId(input.function, p.name)).filter((id) => !wanted.has(id)),
      );
      // Ids only, undecoded: a schedule another process encrypted with a key this worker does not
      // hold (client/list-ids.ts) must not stop this function's reconcile.
      for (const id of await listScheduleIds(client, `fn:${input.function}:`)) {
        if (!wanted.has(id)) stale.add(id);
      }
      for (const id of stale) {
        try {
          await client.schedule.getHandle(id).delete();
          result.deleted.push(id.slice(`fn:${input.function}:`.length));
        } catch (err) {
          if (!(err instanceof ScheduleNotFoundError)) throw err;
        }
      }
      logger.info({ function: input.function, ...result }, 'schedules reconciled');
      return result;
    },

    async pauseSchedule(input: { function: string; schedule: string; note: string }): Promise<void> {
      try {
        await client.schedule.getHandle(scheduleId(input.function, input.schedule)).pause(input.note);
        logger.warn(
          { function: input.function, schedule: input.schedule, note: input.note },
          'schedule paused',
        );
      } catch (err) {
        if (!(err instanceof ScheduleNotFoundError)) throw err;
      }
    },
  };
}
