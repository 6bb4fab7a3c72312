/**
 * Schedules on the real dev server: reconcile to Temporal Schedules, real fires with the nominal
 * scheduledTime, overlap policies, backfill dates, pause/unpause through the API, pause after N
 * failures, and the offline preview against the server's own next action times.
 */
import { ScheduleNotFoundError } from '@temporalio/client';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildSchedule } from '../activities/schedules.ts';
import { buildApi } from '../api/app.ts';
import { listExecutions } from '../client/executions.ts';
import { waitForResult } from '../client/functions.ts';
import { listScheduleIds } from '../client/list-ids.ts';
import { controllerWorkflowId, scheduleId } from '../core/names.ts';
import { previewFireTimes } from '../core/schedule-times.ts';
import { functionSpecSchema } from '../core/schema.ts';
import { createLogger } from '../platform/logger.ts';
import { deleteUpdate } from '../workflows/definitions.ts';
import {
  apply,
  fixtureSpec,
  type RunningWorker,
  startWorker,
  uniqueName,
  VISIBILITY_WAIT_MS,
  waitFor,
  waitForListed,
} from './helpers.ts';

let w: RunningWorker;
let app: FastifyInstance;
beforeAll(async () => {
  w = await startWorker();
  app = await buildApi({
    client: w.client,
    logger: createLogger('silent'),
    taskQueue: w.config.taskQueue,
    dataDir: w.config.dataDir,
    auth: { mode: 'open' },
  });
});
afterAll(async () => {
  await app?.close();
  await w?.stop();
});

/** This function's schedules (ids only: the SDK's list decodes every schedule's memo, and the
 * namespace may hold schedules encrypted with keys this worker lacks; client/list-ids.ts). */
async function scheduleIds(fn: string): Promise<string[]> {
  return (await listScheduleIds(w.client, `fn:${fn}:`)).sort();
}

async function exists(id: string): Promise<boolean> {
  try {
    await w.client.schedule.getHandle(id).describe();
    return true;
  } catch (err) {
    if (err instanceof ScheduleNotFoundError) return false;
    throw err;
  }
}

/** The function's executions, from visibility (eventually consistent: wait with waitForListed). */
async function executionsOf(fn: string) {
  return (await listExecutions(w.client, { function: fn, limit: 100 })).executions;
}

/** The function's succeeded executions, from visibility. */
async function succeededOf(fn: string) {
  return (await executionsOf(fn)).filter((e) => e.status === 'succeeded');
}

const post = (url: string, body: unknown) =>
  app.inject({
    method: 'POST',
    url,
    payload: JSON.stringify(body),
    headers: { 'content-type': 'application/json' },
  });

describe('reconcile', () => {
  it('creates, changes, removes schedules and deletes them with the function', async () => {
    const fn = uniqueName('rec');
    const v1 = fixtureSpec(fn, 'behave.mjs', {
      parameters: [{ name: 'mode', default: 'ok' }],
      schedules: [
        { name: 'nightly', cron: '0 2 * * *', timezone: 'Europe/London', parameters: { mode: 'ok' } },
        { name: 'hourly', every: '1h' },
      ],
    });
    const r1 = await apply(w.client, v1, w.config.taskQueue);
    expect(r1.schedules).toEqual({ created: ['nightly', 'hourly'], updated: [], deleted: [] });
    // Listing schedules reads visibility: wait until it holds both.
    const both = [scheduleId(fn, 'hourly'), scheduleId(fn, 'nightly')];
    await waitForListed('both schedules listed', () => scheduleIds(fn), {
      ids: both,
      count: 2,
      idOf: (id) => id,
    });
    expect(await scheduleIds(fn)).toEqual(both);
    const d1 = await w.client.schedule.getHandle(scheduleId(fn, 'nightly')).describe();
    expect(d1.spec.timezone).toBe('Europe/London');
    expect(d1.info.nextActionTimes[0]!.toISOString()).toBe(
      previewFireTimes(v1.spec.schedules[0]!, new Date(), 1)[0]!.toISOString(),
    );
    expect(d1.action).toMatchObject({
      workflowType: 'executeFunction',
      args: [{ function: fn, parameters: { mode: 'ok' } }],
    });

    const v2 = fixtureSpec(fn, 'behave.mjs', {
      parameters: [{ name: 'mode', default: 'ok' }],
      schedules: [
        { name: 'nightly', cron: '15 3 * * *', timezone: 'America/New_York', parameters: { mode: 'fail' } },
        { name: 'weekly', cron: '@weekly' },
      ],
    });
    const r2 = await apply(w.client, v2, w.config.taskQueue);
    expect(r2.schedules).toEqual({ created: ['weekly'], updated: ['nightly'], deleted: ['hourly'] });
    expect(await exists(scheduleId(fn, 'hourly'))).toBe(false);
    const d2 = await w.client.schedule.getHandle(scheduleId(fn, 'nightly')).describe();
    expect(d2.spec.timezone).toBe('America/New_York');
    expect(d2.action).toMatchObject({ args: [{ parameters: { mode: 'fail' } }] });
    expect(d2.info.nextActionTimes[0]!.toISOString()).toBe(
      previewFireTimes(v2.spec.schedules[0]!, new Date(), 1)[0]!.toISOString(),
    );

    // Re-applying the same spec changes nothing, and applying is idempotent.
    expect((await apply(w.client, v2, w.config.taskQueue)).changed).toBe(false);

    await w.client.workflow.getHandle(controllerWorkflowId(fn)).executeUpdate(deleteUpdate);
    expect(await exists(scheduleId(fn, 'nightly'))).toBe(false);
    expect(await exists(scheduleId(fn, 'weekly'))).toBe(false);
  });
});

describe('fires', () => {
  it('an interval schedule starts executions with its name as trigger and the nominal scheduledTime', async () => {
    const fn = uniqueName('tick');
    const spec = fixtureSpec(fn, 'behave.mjs', {
      parameters: [
        { name: 'mode', default: 'ok' },
        { name: 'when', default: '{{ scheduledTime | iso }}' },
      ],
      schedules: [{ name: 'tick', every: '2s' }],
    });
    await apply(w.client, spec, w.config.taskQueue);
    const done = await waitFor(
      'two scheduled executions listed as succeeded',
      async () => {
        const list = await succeededOf(fn);
        return list.length >= 2 ? list : undefined;
      },
      VISIBILITY_WAIT_MS,
    );
    await w.client.workflow.getHandle(controllerWorkflowId(fn)).executeUpdate(deleteUpdate);
    for (const e of done) {
      expect(e.trigger).toBe('tick');
      expect(e.executionId).toMatch(new RegExp(`^exec:${fn}:tick-`));
      const r = await waitForResult(w.client, e.executionId);
      expect(r.trigger).toBe('tick');
      // Nominal fire time: on the 2 s grid (Temporal's TemporalScheduledStartTime), not the start time.
      expect(Date.parse(r.scheduledTime) % 2000).toBe(0);
      expect(new Date(r.parameters.when as string).toISOString()).toBe(r.scheduledTime);
    }
  });

  it('overlap: skip, buffer_one and allow_all give 1, 2 and 4 executions for 4 fires of a slow function', async () => {
    const counts: Record<string, number> = {};
    const fns: Record<string, string> = {};
    for (const overlap of ['skip', 'buffer_one', 'allow_all'] as const) {
      const fn = uniqueName(overlap.replace('_', ''));
      fns[overlap] = fn;
      await apply(
        w.client,
        fixtureSpec(fn, 'behave.mjs', {
          parameters: [
            { name: 'mode', default: 'marker' },
            { name: 'marker', default: '/dev/null' },
            { name: 'seconds', type: 'integer', default: 3 },
          ],
          // Yearly: it never fires during the test; the backfill below makes 4 fires at once.
          schedules: [{ name: 'yearly', cron: '0 0 1 1 *', overlap }],
        }),
        w.config.taskQueue,
      );
      const res = await post(`/v1/functions/${fn}/schedules/yearly/backfill`, {
        from: '2020-01-01T00:00:00Z',
        to: '2023-06-01T00:00:00Z',
      });
      expect(res.statusCode).toBe(202);
      expect(res.json()).toMatchObject({ overlap });
    }
    // Wait for each count (the buffered run starts once the first, 3 s, has ended; visibility lists
    // starts late under load), then a little longer: no extra one shows up.
    const want: Record<string, number> = { skip: 1, buffer_one: 2, allow_all: 4 };
    for (const [overlap, fn] of Object.entries(fns))
      await waitForListed(`${want[overlap]} ${overlap} executions`, () => executionsOf(fn), {
        count: want[overlap]!,
      });
    await new Promise((r) => setTimeout(r, 2000));
    for (const [overlap, fn] of Object.entries(fns)) counts[overlap] = (await executionsOf(fn)).length;
    expect(counts).toEqual(want);
  }, 120_000);

  it('a backfill of 1–7 January yields seven executions dated exactly those days', async () => {
    const fn = uniqueName('daily');
    await apply(
      w.client,
      fixtureSpec(fn, 'behave.mjs', {
        parameters: [
          { name: 'mode', default: 'ok' },
          { name: 'day', type: 'date', default: "{{ scheduledTime | tz('Europe/London') | date }}" },
        ],
        schedules: [{ name: 'nightly', cron: '0 2 * * *', timezone: 'Europe/London' }],
      }),
      w.config.taskQueue,
    );
    // A 503 (Temporal or the worker slow to answer on a loaded machine: a hog run got one) is
    // retried as a client should; a repeated backfill starts no second execution of a fire (same
    // workflow id), which the count of seven below also checks.
    let res = await post(`/v1/functions/${fn}/schedules/nightly/backfill`, {
      from: '2026-01-01T00:00:00Z',
      to: '2026-01-08T00:00:00Z',
      overlap: 'allow_all',
    });
    for (let retry = 0; res.statusCode === 503 && retry < 5; retry++) {
      console.log(`[schedules] backfill answered 503, retrying: ${res.body}`);
      await new Promise((r) => setTimeout(r, 2000));
      res = await post(`/v1/functions/${fn}/schedules/nightly/backfill`, {
        from: '2026-01-01T00:00:00Z',
        to: '2026-01-08T00:00:00Z',
        overlap: 'allow_all',
      });
    }
    expect(res.statusCode).toBe(202);
    const done = await waitForListed('seven executions listed as succeeded', () => succeededOf(fn), {
      count: 7,
    });
    const results = await Promise.all(done.map((e) => waitForResult(w.client, e.executionId)));
    expect(results.map((r) => r.parameters.day).sort()).toEqual([
      '2026-01-01',
      '2026-01-02',
      '2026-01-03',
      '2026-01-04',
      '2026-01-05',
      '2026-01-06',
      '2026-01-07',
    ]);
    expect(new Set(results.map((r) => r.trigger))).toEqual(new Set(['nightly']));
  });
});

describe('trigger', () => {
  it('runs a schedule now with its overlap policy, and the list shows the result', async () => {
    const fn = uniqueName('trig');
    await apply(
      w.client,
      fixtureSpec(fn, 'behave.mjs', {
        parameters: [{ name: 'mode', default: 'ok' }],
        schedules: [{ name: 'yearly', cron: '0 0 1 1 *', overlap: 'skip' }],
      }),
      w.config.taskQueue,
    );
    const res = await post(`/v1/functions/${fn}/schedules/yearly/trigger`, {});
    expect(res.statusCode).toBe(202);
    expect(res.json()).toMatchObject({ triggered: true, overlap: 'skip' });
    const done = await waitForListed('the triggered execution listed as succeeded', () => succeededOf(fn), {
      count: 1,
    });
    expect(done[0]).toMatchObject({ trigger: 'yearly' });
    const listed = await waitFor('the recent result in the schedule list', async () => {
      const r = (await app.inject({ method: 'GET', url: `/v1/functions/${fn}/schedules` })).json();
      return r.schedules[0].recent?.[0]?.status === 'succeeded' ? r.schedules[0] : undefined;
    });
    expect(listed.recent[0].executionId).toBe(done[0]!.executionId);
  });
});

describe('pause', () => {
  it('pauses and unpauses with a note through the API, and lists next fire times', async () => {
    const fn = uniqueName('pause');
    await apply(
      w.client,
      fixtureSpec(fn, 'behave.mjs', { schedules: [{ name: 'nightly', cron: '0 2 * * *' }] }),
      w.config.taskQueue,
    );
    const paused = await post(`/v1/functions/${fn}/schedules/nightly/pause`, { note: 'warehouse migration' });
    expect(paused.statusCode).toBe(202);
    const d = await w.client.schedule.getHandle(scheduleId(fn, 'nightly')).describe();
    expect(d.state).toMatchObject({ paused: true, note: 'warehouse migration' });
    const list = await app.inject({ method: 'GET', url: `/v1/functions/${fn}/schedules` });
    expect(list.json().schedules[0]).toMatchObject({
      name: 'nightly',
      paused: true,
      note: 'warehouse migration',
    });
    expect(list.json().schedules[0].nextFireTimes).toHaveLength(5);
    // A runtime pause survives re-applying a spec whose `paused` did not change.
    await apply(
      w.client,
      fixtureSpec(fn, 'behave.mjs', { schedules: [{ name: 'nightly', cron: '0 4 * * *' }] }),
      w.config.taskQueue,
    );
    expect((await w.client.schedule.getHandle(scheduleId(fn, 'nightly')).describe()).state.paused).toBe(true);
    await post(`/v1/functions/${fn}/schedules/nightly/unpause`, { note: 'done' });
    expect((await w.client.schedule.getHandle(scheduleId(fn, 'nightly')).describe()).state).toMatchObject({
      paused: false,
      note: 'done',
    });
    expect((await post(`/v1/functions/${fn}/schedules/nope/pause`, {})).json().code).toBe(
      'schedule_not_found',
    );
    expect((await post(`/v1/functions/${fn}/schedules/nightly/backfill`, { from: 'x' })).json().code).toBe(
      'validation_failed',
    );
  });

  it('pauses itself after N consecutive failed executions, with the reason in its note', async () => {
    const fn = uniqueName('pof');
    await apply(
      w.client,
      fixtureSpec(fn, 'behave.mjs', {
        parameters: [{ name: 'mode', default: 'fail' }],
        execution: { retry: { maxAttempts: 1 } },
        schedules: [{ name: 'yearly', cron: '0 0 1 1 *', overlap: 'buffer_all', pauseAfterFailures: 2 }],
      }),
      w.config.taskQueue,
    );
    await post(`/v1/functions/${fn}/schedules/yearly/backfill`, {
      from: '2020-01-01T00:00:00Z',
      to: '2022-06-01T00:00:00Z',
    });
    const state = await waitFor('the schedule to pause itself', async () => {
      const d = await w.client.schedule.getHandle(scheduleId(fn, 'yearly')).describe();
      return d.state.paused ? d.state : undefined;
    });
    expect(state.note).toContain('paused by Pontoon after 2 consecutive failed executions');
    expect(state.note).toContain(`exec:${fn}:yearly-`);
  });
});

describe('preview matches the server', () => {
  it.each([
    ['London spring', '30 1 * * *', 'Europe/London', '2027-03-26T00:00:00Z'],
    ['London autumn', '30 1 * * *', 'Europe/London', '2027-10-29T00:00:00Z'],
    ['London hourly autumn', '0 * * * *', 'Europe/London', '2027-10-31T00:00:00Z'],
    ['New York spring', '30 2 * * *', 'America/New_York', '2027-03-12T00:00:00Z'],
    ['New York autumn', '30 1 * * *', 'America/New_York', '2027-11-05T00:00:00Z'],
    ['New York hourly autumn', '0 * * * *', 'America/New_York', '2027-11-07T04:00:00Z'],
    ['Friday 13th', '0 0 13 * FRI', 'UTC', '2027-01-01T00:00:00Z'],
  ])('%s', async (_title, cron, timezone, startAt) => {
    const fn = uniqueName('pv');
    const spec = functionSpecSchema().parse({
      apiVersion: 'pontoon.dev/v1',
      kind: 'Function',
      metadata: { name: fn },
      spec: { image: 'x', schedules: [{ name: 's', cron, timezone, startAt }] },
    });
    const s = spec.spec.schedules[0]!;
    const options = buildSchedule(fn, s, w.config.taskQueue, 3);
    const handle = await w.client.schedule.create(options);
    try {
      const server = (await handle.describe()).info.nextActionTimes.map((t) => t.toISOString());
      expect(server.length).toBeGreaterThanOrEqual(5);
      const ours = previewFireTimes(s, new Date(), server.length).map((t) => t.toISOString());
      expect(ours).toEqual(server);
    } finally {
      await handle.delete();
    }
  });
});
