/**
 * Fire times of a schedule, computed without a server (`pontoon schedules preview`). Follows
 * Temporal's own calendar rules so the preview is what the server will do:
 * - day-of-month and day-of-week must BOTH match;
 * - a wall time that does not exist (spring-forward gap) is skipped that day;
 * - a wall time that exists twice (autumn fall-back) is resolved like Go's time.Date (the offset in
 *   force at the wall time read as UTC), and times inside the repeated hour fire again in its second
 *   copy when the search walks through it;
 * - `every` intervals count from the Unix epoch in UTC, whatever the time zone.
 * The server test in test/schedules.test.ts compares these with Temporal's nextActionTimes.
 * Pure module.
 */
import { DateTime } from 'luxon';
import { parseDuration } from './duration.ts';
import type { ScheduleSpec } from './schema.ts';

const HOUR = 3_600_000;
const MAX_YEAR = 2100;
const MACROS: Record<string, string> = {
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
  '@monthly': '0 0 1 * *',
  '@weekly': '0 0 * * 0',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@hourly': '0 * * * *',
};
const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
const DAYS = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];

interface Compiled {
  minute: Set<number>;
  hour: Set<number>;
  dom: Set<number>;
  month: Set<number>;
  dow: Set<number>;
}

function field(text: string, min: number, max: number, names?: string[], namesStart = 0): Set<number> {
  const out = new Set<number>();
  const value = (t: string) => {
    const idx = names?.indexOf(t.toUpperCase()) ?? -1;
    return idx >= 0 ? idx + namesStart : Number(t);
  };
  for (const part of text.split(',')) {
    const [range, stepText] = part.split('/');
    const step = stepText ? Number(stepText) : 1;
    let lo = min;
    let hi = max;
    if (range !== '*' && range !== '?') {
      const [a, b] = range!.split('-');
      lo = value(a!);
      hi = b !== undefined ? value(b) : stepText ? max : lo;
    }
    for (let v = lo; v <= hi; v += step) out.add(v);
  }
  return out;
}

/** Compiles a (validated) 5-field cron expression or macro. */
export function compileCron(expr: string): Compiled {
  const text = MACROS[expr.trim()] ?? expr.trim();
  const [mi, h, dom, mo, dow] = text.split(/\s+/) as [string, string, string, string, string];
  const days = field(dow, 0, 7, DAYS);
  if (days.has(7)) days.add(0);
  return {
    minute: field(mi, 0, 59),
    hour: field(h, 0, 23),
    dom: field(dom, 1, 31),
    month: field(mo, 1, 12, MONTHS, 1),
    dow: days,
  };
}

const offsetAt = (ms: number, zone: string) => DateTime.fromMillis(ms, { zone }).offset * 60_000;

/** Instant of a wall time in a zone, resolving gaps and repeats like Go's time.Date. */
function wallToInstant(y: number, mo: number, d: number, h: number, mi: number, zone: string): number {
  const wall = Date.UTC(y, mo - 1, d, h, mi);
  const first = offsetAt(wall, zone);
  const utc = wall - first;
  const actual = offsetAt(utc, zone);
  return actual === first ? utc : wall - actual;
}

function local(ms: number, zone: string) {
  const dt = DateTime.fromMillis(ms, { zone });
  return {
    y: dt.year,
    mo: dt.month,
    d: dt.day,
    h: dt.hour,
    mi: dt.minute,
    s: dt.second,
    dow: dt.weekday % 7,
  };
}

const daysIn = (mo: number, y: number) => new Date(Date.UTC(y, mo, 0)).getUTCDate();

/** The first fire time strictly after `after` (epoch ms), or undefined past 2100. */
export function nextCronTime(c: Compiled, zone: string, after: number): number | undefined {
  const start = local(after, zone);
  let { y, mo, d, h, mi } = start;
  // Minute resolution: the next candidate is the next whole minute.
  mi++;
  // Already in the second copy of a repeated hour?
  let extra = local(after - HOUR, zone).h === h ? HOUR : 0;
  for (;;) {
    if (mi >= 60) {
      const before = wallToInstant(y, mo, d, h, 0, zone);
      h++;
      mi = 0;
      const later = wallToInstant(y, mo, d, h, 0, zone);
      // Two hours between consecutive wall hours: we just walked over a repeated hour. Walk it again.
      if (extra === 0 && later - before > HOUR) {
        h--;
        extra = HOUR;
      } else {
        extra = 0;
      }
    }
    if (h >= 24) {
      d++;
      h = 0;
    }
    if (d > daysIn(mo, y)) {
      mo++;
      d = 1;
    }
    if (mo > 12) {
      y++;
      mo = 1;
    }
    if (y > MAX_YEAR) return undefined;
    if (!c.month.has(mo)) {
      mo++;
      d = 1;
      h = 0;
      mi = 0;
      extra = 0;
      continue;
    }
    if (!c.dom.has(d) || !c.dow.has(local(wallToInstant(y, mo, d, h, mi, zone), zone).dow)) {
      d++;
      h = 0;
      mi = 0;
      extra = 0;
      continue;
    }
    if (!c.hour.has(h)) {
      h++;
      mi = 0;
      extra = 0;
      if (h >= 24) continue;
      continue;
    }
    if (!c.minute.has(mi)) {
      mi++;
      continue;
    }
    const at = wallToInstant(y, mo, d, h, mi, zone);
    // A wall time inside a spring-forward gap lands in another hour: it does not exist today.
    if (local(at, zone).h !== h) {
      h++;
      mi = 0;
      continue;
    }
    return at + extra;
  }
}

/** The next `count` nominal fire times (jitter not applied) at or after `from`, within startAt/endAt. */
export function previewFireTimes(schedule: ScheduleSpec, from: Date, count: number): Date[] {
  const out: Date[] = [];
  const startAt = schedule.startAt ? Date.parse(schedule.startAt) : Number.NEGATIVE_INFINITY;
  const endAt = schedule.endAt ? Date.parse(schedule.endAt) : Number.POSITIVE_INFINITY;
  // Inclusive of `from` (and of startAt), like the server's first action time.
  let cursor = Math.max(from.getTime(), startAt) - 1000;
  if (schedule.every) {
    const every = parseDuration(schedule.every);
    const offset = schedule.offset ? parseDuration(schedule.offset) : 0;
    while (out.length < count) {
      const next = (Math.floor((cursor - offset) / every) + 1) * every + offset;
      if (next > endAt) break;
      out.push(new Date(next));
      cursor = next;
    }
    return out;
  }
  const compiled = compileCron(schedule.cron!);
  while (out.length < count) {
    const next = nextCronTime(compiled, schedule.timezone, cursor);
    if (next === undefined || next > endAt) break;
    out.push(new Date(next));
    cursor = next;
  }
  return out;
}
