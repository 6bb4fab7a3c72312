/**
 * Offline fire-time preview across DST changes, against hand-computed instants.
 * 2026: London BST from 29 Mar 01:00 UTC to 25 Oct 01:00 UTC; New York EDT from 8 Mar 07:00 UTC
 * to 1 Nov 06:00 UTC. Temporal's rules (reproduced): a wall time in the spring gap is skipped that
 * day; a repeated autumn wall time resolves like Go's time.Date (London: the GMT copy; New York: the
 * EDT copy, and the EST copy too when the search walks through the repeated hour).
 */
import { describe, expect, it } from 'vitest';
import { previewFireTimes } from './schedule-times.ts';
import { functionSpecSchema, type ScheduleSpec } from './schema.ts';

function schedule(s: Record<string, unknown>): ScheduleSpec {
  const spec = functionSpecSchema().parse({
    apiVersion: 'pontoon.dev/v1',
    kind: 'Function',
    metadata: { name: 'p' },
    spec: { image: 'x', schedules: [{ name: 's', ...s }] },
  });
  return spec.spec.schedules[0]!;
}

const cases: [string, Record<string, unknown>, string, string[]][] = [
  [
    'London 01:30 daily across spring forward: the 29th has no 01:30',
    { cron: '30 1 * * *', timezone: 'Europe/London' },
    '2026-03-27T00:00:00Z',
    [
      '2026-03-27T01:30:00.000Z',
      '2026-03-28T01:30:00.000Z',
      '2026-03-30T00:30:00.000Z',
      '2026-03-31T00:30:00.000Z',
    ],
  ],
  [
    'London 01:30 daily across fall back: once, at 01:30 GMT',
    { cron: '30 1 * * *', timezone: 'Europe/London' },
    '2026-10-23T00:00:00Z',
    [
      '2026-10-23T00:30:00.000Z',
      '2026-10-24T00:30:00.000Z',
      '2026-10-25T01:30:00.000Z',
      '2026-10-26T01:30:00.000Z',
    ],
  ],
  [
    'London 02:30 daily on the spring-forward day exists (02:30 BST)',
    { cron: '30 2 * * *', timezone: 'Europe/London' },
    '2026-03-28T00:00:00Z',
    ['2026-03-28T02:30:00.000Z', '2026-03-29T01:30:00.000Z', '2026-03-30T01:30:00.000Z'],
  ],
  [
    'London hourly across fall back: the repeated hour fires once',
    { cron: '0 * * * *', timezone: 'Europe/London' },
    '2026-10-24T23:30:00Z',
    ['2026-10-25T00:00:00.000Z', '2026-10-25T02:00:00.000Z', '2026-10-25T03:00:00.000Z'],
  ],
  [
    'New York 02:30 daily across spring forward: the 8th has no 02:30',
    { cron: '30 2 * * *', timezone: 'America/New_York' },
    '2026-03-06T00:00:00Z',
    [
      '2026-03-06T07:30:00.000Z',
      '2026-03-07T07:30:00.000Z',
      '2026-03-09T06:30:00.000Z',
      '2026-03-10T06:30:00.000Z',
    ],
  ],
  [
    'New York 01:30 daily across fall back: both 01:30 EDT and 01:30 EST',
    { cron: '30 1 * * *', timezone: 'America/New_York' },
    '2026-10-30T00:00:00Z',
    [
      '2026-10-30T05:30:00.000Z',
      '2026-10-31T05:30:00.000Z',
      '2026-11-01T05:30:00.000Z',
      '2026-11-01T06:30:00.000Z',
      '2026-11-02T06:30:00.000Z',
    ],
  ],
  [
    'New York hourly across fall back: the repeated hour fires twice',
    { cron: '0 * * * *', timezone: 'America/New_York' },
    '2026-11-01T04:30:00Z',
    ['2026-11-01T05:00:00.000Z', '2026-11-01T06:00:00.000Z', '2026-11-01T07:00:00.000Z'],
  ],
  [
    'weekdays at 09:00 in London, around a weekend',
    { cron: '0 9 * * MON-FRI', timezone: 'Europe/London' },
    '2026-11-27T10:00:00Z',
    ['2026-11-30T09:00:00.000Z', '2026-12-01T09:00:00.000Z'],
  ],
  [
    'day-of-month AND day-of-week (Friday the 13th)',
    { cron: '0 0 13 * FRI', timezone: 'UTC' },
    '2026-01-01T00:00:00Z',
    ['2026-02-13T00:00:00.000Z', '2026-03-13T00:00:00.000Z', '2026-11-13T00:00:00.000Z'],
  ],
  [
    '@monthly on the first, month ends and leap day aside',
    { cron: '@monthly', timezone: 'UTC' },
    '2028-01-31T12:00:00Z',
    ['2028-02-01T00:00:00.000Z', '2028-03-01T00:00:00.000Z'],
  ],
  [
    '31st of the month skips short months',
    { cron: '0 12 31 * *', timezone: 'UTC' },
    '2026-01-31T13:00:00Z',
    ['2026-03-31T12:00:00.000Z', '2026-05-31T12:00:00.000Z'],
  ],
  [
    'every 15m with a 5m offset, UTC-based whatever the zone',
    { every: '15m', offset: '5m', timezone: 'Asia/Kolkata' },
    '2026-06-01T10:06:00Z',
    ['2026-06-01T10:20:00.000Z', '2026-06-01T10:35:00.000Z', '2026-06-01T10:50:00.000Z'],
  ],
  [
    'startAt is inclusive and endAt stops the list',
    { cron: '0 0 * * *', startAt: '2026-05-01T00:00:00Z', endAt: '2026-05-03T00:00:00Z' },
    '2026-04-01T00:00:00Z',
    ['2026-05-01T00:00:00.000Z', '2026-05-02T00:00:00.000Z', '2026-05-03T00:00:00.000Z'],
  ],
];

describe('previewFireTimes', () => {
  it.each(cases)('%s', (_title, s, from, expected) => {
    const times = previewFireTimes(schedule(s), new Date(from), expected.length + 5).map((d) =>
      d.toISOString(),
    );
    expect(times.slice(0, expected.length)).toEqual(expected);
    if (s.endAt) expect(times).toEqual(expected);
  });
});
