/**
 * `schedules`: list a function's schedules with their next fire times, pause, unpause, trigger or
 * backfill one (through the API), or preview a spec file's fire times offline.
 */
import type { ApiClient } from '../api-client.ts';
import {
  api,
  type Command,
  guard,
  helpOption,
  outputFormat,
  outputOption,
  parseArgs,
  showHelp,
  specTools,
} from '../command.ts';
import { type OutputFormat, render } from '../format.ts';
import { Exit, type Io, UsageError } from '../output.ts';

/** The route (api/route-table.ts) of each action on one schedule. */
const SCHEDULE_ACTIONS = {
  pause: 'pauseSchedule',
  unpause: 'unpauseSchedule',
  trigger: 'triggerSchedule',
  backfill: 'backfillSchedule',
} as const;

/** The options of `schedules`, as parsed. */
interface ScheduleOptions {
  note?: string;
  overlap?: string;
  from?: string;
  to?: string;
  count?: string;
}

export const schedules: Command = {
  help: `Usage: pontoon schedules list <function> [-o json|yaml]
       pontoon schedules pause <function> <schedule> [--note text]
       pontoon schedules unpause <function> <schedule> [--note text]
       pontoon schedules trigger <function> <schedule> [--overlap policy]
       pontoon schedules backfill <function> <schedule> --from <time> --to <time> [--overlap policy]
       pontoon schedules preview <spec file> [--count 5] [--from <time>] [-o json]

trigger honours the schedule's overlap policy unless --overlap is given; backfill runs the fires the
schedule would have had between --from and --to (RFC 3339), each with that fire's scheduledTime.
Overlap policies: skip, buffer_one, buffer_all, cancel_other, terminate_other, allow_all.
preview works offline and computes DST like the Temporal server does.

Examples:
  pontoon schedules list daily-report
  pontoon schedules pause daily-report nightly --note "warehouse migration"
  pontoon schedules backfill daily-report nightly --from 2026-01-01T00:00:00Z --to 2026-01-08T00:00:00Z --overlap buffer_all
  pontoon schedules preview function-specs/daily-report.yaml --count 10`,
  async run(args, io) {
    const { positionals, values } = guard(() =>
      parseArgs({
        args,
        options: {
          ...helpOption,
          ...outputOption,
          note: { type: 'string' },
          overlap: { type: 'string' },
          from: { type: 'string' },
          to: { type: 'string' },
          count: { type: 'string' },
        },
        allowPositionals: true,
      }),
    );
    const [action, fn, schedule] = positionals;
    if (values.help || !action) return showHelp(schedules.help, io);
    const out = outputFormat(values.output);
    if (action === 'preview') {
      if (!fn) throw new UsageError('preview needs a spec file');
      return await previewSchedules(fn, values, out, io);
    }
    if (!fn) throw new UsageError(`schedules ${action} needs a function name`);
    const client = api();
    if (action === 'list' || action === 'get') return await listSchedules(client, fn, out, io);
    if (!schedule) throw new UsageError(`schedules ${action} needs a function and a schedule name`);
    return await scheduleAction(client, action, fn, schedule, values, out, io);
  },
};

/** `schedules preview <spec file>`: the next --count fire times of each schedule from --from, offline. */
async function previewSchedules(
  file: string,
  values: ScheduleOptions,
  out: OutputFormat,
  io: Io,
): Promise<number> {
  const count = Number(values.count ?? 5);
  if (!Number.isInteger(count) || count < 1 || count > 1000) throw new UsageError('--count must be 1-1000');
  const from = values.from ? new Date(values.from) : new Date();
  if (Number.isNaN(from.getTime())) throw new UsageError('--from must be an RFC 3339 time');
  const { loadSpecs, formatProblem } = await specTools();
  const loaded = await loadSpecs([file]);
  for (const p of loaded.problems) io.err(formatProblem(p));
  if (loaded.problems.length) return Exit.usage;
  const { previewFireTimes } = await import('../../core/schedule-times.ts');
  const rows = loaded.specs.flatMap((l) =>
    l.spec.spec.schedules.map((s) => ({
      function: l.spec.metadata.name,
      schedule: s.name,
      when: s.cron ? `${s.cron} (${s.timezone})` : `every ${s.every}${s.offset ? ` offset ${s.offset}` : ''}`,
      fireTimes: previewFireTimes(s, from, count).map((t) => t.toISOString()),
      zone: s.cron ? s.timezone : 'UTC',
    })),
  );
  if (out !== 'text') {
    io.out(
      render(
        rows.map(({ zone: _zone, ...r }) => r),
        out,
      ),
    );
    return Exit.ok;
  }
  if (rows.length === 0) io.out('no schedules in these specs');
  for (const r of rows) {
    io.out(`${r.function}/${r.schedule}: ${r.when}`);
    for (const line of await fireTimeLines(r.fireTimes, r.zone)) io.out(line);
  }
  return Exit.ok;
}

/** `schedules list <function>`: each schedule, its state, next fire times and recent results. */
async function listSchedules(client: ApiClient, fn: string, out: OutputFormat, io: Io): Promise<number> {
  const r = await client
    .route('listSchedules', { name: fn })
    .json<{ schedules: Record<string, unknown>[] }>();
  if (out !== 'text') {
    io.out(render(r.schedules, out));
    return Exit.ok;
  }
  // Like `schedules preview`: a header per schedule, then one fire time per line, UTC and local.
  if (r.schedules.length === 0) io.out(`function/${fn} has no schedules`);
  for (const s of r.schedules) {
    const when = s.cron
      ? `${s.cron} (${s.timezone})`
      : `every ${s.every}${s.offset ? ` offset ${s.offset}` : ''}`;
    const state = s.missing
      ? 'MISSING in Temporal (re-apply the function)'
      : s.paused
        ? `PAUSED${s.note ? `: ${s.note}` : ''}`
        : 'active';
    io.out(`${fn}/${String(s.name)}: ${when}, overlap ${String(s.overlap)}, ${state}`);
    const zone = s.cron ? String(s.timezone) : 'UTC';
    for (const line of await fireTimeLines((s.nextFireTimes as string[] | undefined) ?? [], zone))
      io.out(line);
    const recent = (s.recent as { scheduledAt: string; status: string; executionId: string }[]) ?? [];
    if (recent.length) {
      io.out('  recent:');
      for (const x of recent) io.out(`    ${x.scheduledAt}  ${x.status.padEnd(10)} ${x.executionId}`);
    }
  }
  return Exit.ok;
}

/** `schedules pause|unpause|trigger|backfill <function> <schedule>`: one action on one schedule. */
async function scheduleAction(
  client: ApiClient,
  action: string,
  fn: string,
  schedule: string,
  values: ScheduleOptions,
  out: OutputFormat,
  io: Io,
): Promise<number> {
  let body: Record<string, unknown>;
  if (action === 'pause' || action === 'unpause') body = values.note ? { note: values.note } : {};
  else if (action === 'trigger') body = values.overlap ? { overlap: values.overlap } : {};
  else if (action === 'backfill') {
    if (!values.from || !values.to) throw new UsageError('backfill needs --from and --to (RFC 3339)');
    body = { from: values.from, to: values.to, ...(values.overlap ? { overlap: values.overlap } : {}) };
  } else
    throw new UsageError(
      `unknown schedules action "${action}"; use list, pause, unpause, trigger, backfill or preview`,
    );
  const r = await client
    .route(SCHEDULE_ACTIONS[action as keyof typeof SCHEDULE_ACTIONS], { name: fn, schedule })
    .json<Record<string, unknown>>({ body });
  io.out(
    out === 'text'
      ? `${action}: ${fn}/${schedule}${r.overlap ? ` (overlap ${r.overlap})` : ''}`
      : render(r, out),
  );
  return Exit.ok;
}

/** A fire time as UTC and in the schedule's own zone: `  2026-01-01T02:30:00.000Z  Thu 2026-01-01 02:30 GMT`. */
async function fireTimeLines(times: string[], zone: string): Promise<string[]> {
  const { DateTime } = await import('luxon');
  return times.map((t) => `  ${t}  ${DateTime.fromISO(t, { zone }).toFormat('ccc yyyy-MM-dd HH:mm ZZZZ')}`);
}
