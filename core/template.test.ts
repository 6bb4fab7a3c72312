/**
 * Start-time templates. Every expected value below is worked out by hand from the time-zone rules
 * (noted per row) and, where a zone is involved, cross-checked against Intl.DateTimeFormat, never
 * against the code under test.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { renderTemplate, TemplateError, type TemplateVariables, templateError } from './template.ts';

const START = '2030-01-01T00:00:00Z';

function vars(scheduledTime: string, overrides: Partial<TemplateVariables> = {}): TemplateVariables {
  return {
    scheduledTime: new Date(scheduledTime),
    // Deliberately far from scheduledTime: templates must use the nominal time they name.
    startTime: new Date(START),
    executionId: 'exec:daily-report:2026-03-29',
    function: 'daily-report',
    attempt: 2,
    trigger: 'nightly',
    ...overrides,
  };
}

const render = (template: string, scheduledTime: string) => renderTemplate(template, vars(scheduledTime));

// ------------------------------------------------------------ independent oracle (Intl, not luxon)

function intlParts(iso: string, timeZone: string): Record<string, string> {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
    timeZoneName: 'longOffset',
  }).formatToParts(new Date(iso));
  return Object.fromEntries(parts.map((p) => [p.type, p.value]));
}

/** `yyyy-MM-dd HH:mm ±hh:mm` of an instant in a zone, by Intl. */
function intlLocal(iso: string, timeZone: string): string {
  const p = intlParts(iso, timeZone);
  const offset = p.timeZoneName === 'GMT' ? '+00:00' : p.timeZoneName!.replace('GMT', '');
  return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute} ${offset}`;
}

/** The calendar day before the instant's local day in a zone, by Intl and plain UTC date arithmetic. */
function intlYesterday(iso: string, timeZone: string): string {
  const p = intlParts(iso, timeZone);
  return new Date(Date.UTC(Number(p.year), Number(p.month) - 1, Number(p.day) - 1))
    .toISOString()
    .slice(0, 10);
}

// ------------------------------------------------------------ "yesterday" in a zone

const YESTERDAY = (zone: string) => `{{ scheduledTime | tz('${zone}') | minus('1d') | date }}`;

// [zone, scheduled time (UTC), expected yesterday, why]
const YESTERDAY_ROWS: [string, string, string, string][] = [
  // Europe/London: BST starts 2026-03-29 01:00Z (01:00 GMT -> 02:00 BST), ends 2026-10-25 01:00Z.
  ['Europe/London', '2026-03-28T23:30:00Z', '2026-03-27', 'Sat 28 Mar 23:30 GMT'],
  ['Europe/London', '2026-03-29T00:30:00Z', '2026-03-28', 'Sun 29 Mar 00:30 GMT, before the change'],
  ['Europe/London', '2026-03-29T01:30:00Z', '2026-03-28', 'Sun 29 Mar 02:30 BST, after the change'],
  ['Europe/London', '2026-03-29T22:59:00Z', '2026-03-28', 'Sun 29 Mar 23:59 BST'],
  [
    'Europe/London',
    '2026-03-29T23:00:00Z',
    '2026-03-29',
    'Mon 30 Mar 00:00 BST: London is a day ahead of UTC',
  ],
  ['Europe/London', '2026-03-29T23:30:00Z', '2026-03-29', 'Mon 30 Mar 00:30 BST'],
  ['Europe/London', '2026-07-15T23:30:00Z', '2026-07-15', 'summer: Thu 16 Jul 00:30 BST'],
  ['Europe/London', '2026-10-24T23:30:00Z', '2026-10-24', 'Sun 25 Oct 00:30 BST'],
  ['Europe/London', '2026-10-25T00:30:00Z', '2026-10-24', 'Sun 25 Oct 01:30 BST (the first 01:30)'],
  ['Europe/London', '2026-10-25T01:30:00Z', '2026-10-24', 'Sun 25 Oct 01:30 GMT (the second 01:30)'],
  ['Europe/London', '2026-10-25T23:30:00Z', '2026-10-24', 'Sun 25 Oct 23:30 GMT: no longer a day ahead'],
  ['Europe/London', '2026-10-26T00:30:00Z', '2026-10-25', 'Mon 26 Oct 00:30 GMT'],
  ['Europe/London', '2026-01-15T23:30:00Z', '2026-01-14', 'winter: Thu 15 Jan 23:30 GMT'],
  // America/New_York: EDT from 2026-03-08 07:00Z (02:00 EST -> 03:00 EDT) to 2026-11-01 06:00Z.
  ['America/New_York', '2026-03-08T04:30:00Z', '2026-03-06', 'Sat 7 Mar 23:30 EST'],
  ['America/New_York', '2026-03-08T05:30:00Z', '2026-03-07', 'Sun 8 Mar 00:30 EST'],
  ['America/New_York', '2026-03-08T07:30:00Z', '2026-03-07', 'Sun 8 Mar 03:30 EDT'],
  ['America/New_York', '2026-03-09T03:30:00Z', '2026-03-07', 'Sun 8 Mar 23:30 EDT'],
  ['America/New_York', '2026-03-09T04:30:00Z', '2026-03-08', 'Mon 9 Mar 00:30 EDT'],
  ['America/New_York', '2026-11-01T03:30:00Z', '2026-10-30', 'Sat 31 Oct 23:30 EDT'],
  ['America/New_York', '2026-11-01T04:30:00Z', '2026-10-31', 'Sun 1 Nov 00:30 EDT'],
  ['America/New_York', '2026-11-02T04:30:00Z', '2026-10-31', 'Sun 1 Nov 23:30 EST'],
  ['America/New_York', '2026-11-02T05:30:00Z', '2026-11-01', 'Mon 2 Nov 00:30 EST'],
  // Asia/Kolkata: +05:30 all year.
  ['Asia/Kolkata', '2026-01-31T18:29:00Z', '2026-01-30', 'Sat 31 Jan 23:59 IST'],
  ['Asia/Kolkata', '2026-01-31T18:30:00Z', '2026-01-31', 'Sun 1 Feb 00:00 IST'],
  ['Asia/Kolkata', '2026-03-01T18:29:00Z', '2026-02-28', 'Sun 1 Mar 23:59 IST'],
  // Australia/Sydney: AEDT (+11) until 2026-04-04 16:00Z, AEST (+10), AEDT again from 2026-10-03 16:00Z.
  ['Australia/Sydney', '2026-01-15T13:30:00Z', '2026-01-15', 'Fri 16 Jan 00:30 AEDT'],
  ['Australia/Sydney', '2026-07-15T13:30:00Z', '2026-07-14', 'Wed 15 Jul 23:30 AEST'],
  ['Australia/Sydney', '2026-07-15T14:30:00Z', '2026-07-15', 'Thu 16 Jul 00:30 AEST'],
  // Pacific/Chatham: +13:45 in its summer, +12:45 in its winter.
  ['Pacific/Chatham', '2026-01-15T10:14:00Z', '2026-01-14', 'Thu 15 Jan 23:59 +13:45'],
  ['Pacific/Chatham', '2026-01-15T10:15:00Z', '2026-01-15', 'Fri 16 Jan 00:00 +13:45'],
  ['Pacific/Chatham', '2026-07-15T11:15:00Z', '2026-07-15', 'Thu 16 Jul 00:00 +12:45'],
];

describe('yesterday in a time zone', () => {
  it.each(YESTERDAY_ROWS)('%s at %s is %s (%s)', (zone, at, want) => {
    expect(render(YESTERDAY(zone), at)).toBe(want);
  });

  it.each(YESTERDAY_ROWS)('table check with Intl: %s at %s is %s', (zone, at, want) => {
    expect(intlYesterday(at, zone)).toBe(want);
  });

  it('renders the daily-report default: the London day before the scheduled time', () => {
    const template = "{{ scheduledTime | tz('Europe/London') | minus('1d') | date }}";
    expect(render(template, '2026-03-29T01:30:00Z')).toBe('2026-03-28');
  });
});

// ------------------------------------------------------------ local time and offset

const LOCAL = (zone: string) => `{{ scheduledTime | tz('${zone}') | format('yyyy-MM-dd HH:mm ZZ') }}`;

// [zone, scheduled time (UTC), expected local time with offset]
const LOCAL_ROWS: [string, string, string][] = [
  ['Europe/London', '2026-03-29T00:59:00Z', '2026-03-29 00:59 +00:00'],
  ['Europe/London', '2026-03-29T01:00:00Z', '2026-03-29 02:00 +01:00'],
  ['Europe/London', '2026-10-25T00:59:00Z', '2026-10-25 01:59 +01:00'],
  ['Europe/London', '2026-10-25T01:00:00Z', '2026-10-25 01:00 +00:00'],
  ['America/New_York', '2026-03-08T06:59:00Z', '2026-03-08 01:59 -05:00'],
  ['America/New_York', '2026-03-08T07:00:00Z', '2026-03-08 03:00 -04:00'],
  ['America/New_York', '2026-11-01T05:30:00Z', '2026-11-01 01:30 -04:00'],
  ['America/New_York', '2026-11-01T06:30:00Z', '2026-11-01 01:30 -05:00'],
  ['Asia/Kolkata', '2026-01-31T18:29:00Z', '2026-01-31 23:59 +05:30'],
  ['Asia/Kolkata', '2026-01-31T18:30:00Z', '2026-02-01 00:00 +05:30'],
  ['Australia/Sydney', '2026-01-15T13:30:00Z', '2026-01-16 00:30 +11:00'],
  ['Australia/Sydney', '2026-07-15T13:30:00Z', '2026-07-15 23:30 +10:00'],
  ['Australia/Sydney', '2026-04-04T15:59:00Z', '2026-04-05 02:59 +11:00'],
  ['Australia/Sydney', '2026-04-04T16:00:00Z', '2026-04-05 02:00 +10:00'],
  ['Australia/Sydney', '2026-10-03T15:59:00Z', '2026-10-04 01:59 +10:00'],
  ['Australia/Sydney', '2026-10-03T16:00:00Z', '2026-10-04 03:00 +11:00'],
  ['Pacific/Chatham', '2026-01-15T10:15:00Z', '2026-01-16 00:00 +13:45'],
  ['Pacific/Chatham', '2026-07-15T11:14:00Z', '2026-07-15 23:59 +12:45'],
  ['Pacific/Chatham', '2026-07-15T11:15:00Z', '2026-07-16 00:00 +12:45'],
  ['Pacific/Chatham', '2026-04-04T13:59:00Z', '2026-04-05 03:44 +13:45'],
  ['Pacific/Chatham', '2026-04-04T14:00:00Z', '2026-04-05 02:45 +12:45'],
  ['Pacific/Chatham', '2026-09-26T13:59:00Z', '2026-09-27 02:44 +12:45'],
  ['Pacific/Chatham', '2026-09-26T14:00:00Z', '2026-09-27 03:45 +13:45'],
  ['Asia/Tokyo', '2026-12-31T15:00:00Z', '2027-01-01 00:00 +09:00'],
  ['Pacific/Honolulu', '2027-01-01T09:59:00Z', '2026-12-31 23:59 -10:00'],
  ['UTC', '2026-12-31T23:59:00Z', '2026-12-31 23:59 +00:00'],
];

describe('local time in a time zone', () => {
  it.each(LOCAL_ROWS)('%s at %s is %s', (zone, at, want) => {
    expect(render(LOCAL(zone), at)).toBe(want);
  });

  it.each(LOCAL_ROWS)('table check with Intl: %s at %s is %s', (zone, at, want) => {
    expect(intlLocal(at, zone)).toBe(want);
  });
});

// ------------------------------------------------------------ calendar arithmetic

// [template, scheduled time (UTC), expected, why]
const ARITHMETIC_ROWS: [string, string, string, string][] = [
  // Calendar days keep the wall-clock time across DST; hours do not.
  [
    "{{ scheduledTime | tz('Europe/London') | minus('1d') | iso }}",
    '2026-03-29T12:00:00Z',
    '2026-03-28T13:00:00+00:00',
    '13:00 BST -> 13:00 GMT the day before',
  ],
  [
    "{{ scheduledTime | tz('Europe/London') | minus('24h') | iso }}",
    '2026-03-29T12:00:00Z',
    '2026-03-28T12:00:00+00:00',
    '24 real hours',
  ],
  [
    "{{ scheduledTime | tz('Europe/London') | plus('1d') | iso }}",
    '2026-03-28T12:00:00Z',
    '2026-03-29T12:00:00+01:00',
    'noon GMT -> noon BST',
  ],
  [
    "{{ scheduledTime | tz('Europe/London') | plus('24h') | iso }}",
    '2026-03-28T12:00:00Z',
    '2026-03-29T13:00:00+01:00',
    'the 29th has 23 hours',
  ],
  [
    "{{ scheduledTime | tz('Europe/London') | minus('1d') | iso }}",
    '2026-10-25T12:00:00Z',
    '2026-10-24T12:00:00+01:00',
    'noon GMT -> noon BST the day before',
  ],
  [
    "{{ scheduledTime | tz('Europe/London') | minus('24h') | iso }}",
    '2026-10-25T12:00:00Z',
    '2026-10-24T13:00:00+01:00',
    'the 25th has 25 hours',
  ],
  [
    "{{ scheduledTime | tz('America/New_York') | minus('1d') | iso }}",
    '2026-03-09T13:00:00Z',
    '2026-03-08T09:00:00-04:00',
    '09:00 EDT the 9th -> 09:00 EDT the 8th',
  ],
  ["{{ scheduledTime | plus('1h30m') | iso }}", '2026-03-29T00:30:00Z', '2026-03-29T02:00:00Z', 'compound'],
  ["{{ scheduledTime | minus('1w') | date }}", '2026-03-01T00:00:00Z', '2026-02-22', 'a week'],
  ["{{ scheduledTime | minus('90s') | iso }}", '2026-01-01T00:00:30Z', '2025-12-31T23:59:00Z', 'seconds'],
  // Month ends and leap years.
  ["{{ scheduledTime | minus('1d') | date }}", '2028-03-01T00:00:00Z', '2028-02-29', 'leap year'],
  ["{{ scheduledTime | minus('1d') | date }}", '2027-03-01T00:00:00Z', '2027-02-28', 'common year'],
  ["{{ scheduledTime | plus('1mo') | date }}", '2026-01-31T12:00:00Z', '2026-02-28', 'clamped to February'],
  ["{{ scheduledTime | plus('1mo') | date }}", '2028-01-31T12:00:00Z', '2028-02-29', 'clamped, leap year'],
  ["{{ scheduledTime | plus('1mo') | date }}", '2026-01-30T12:00:00Z', '2026-02-28', 'clamped from the 30th'],
  ["{{ scheduledTime | plus('2mo') | date }}", '2026-01-31T12:00:00Z', '2026-03-31', 'no clamp needed'],
  ["{{ scheduledTime | minus('1mo') | date }}", '2026-03-31T12:00:00Z', '2026-02-28', 'clamped backwards'],
  ["{{ scheduledTime | minus('1mo') | date }}", '2026-05-31T12:00:00Z', '2026-04-30', '30-day month'],
  ["{{ scheduledTime | plus('1y') | date }}", '2028-02-29T12:00:00Z', '2029-02-28', 'leap day + 1 year'],
  ["{{ scheduledTime | plus('1mo1d') | date }}", '2026-01-31T12:00:00Z', '2026-03-01', 'clamp, then a day'],
  // Year end.
  ["{{ scheduledTime | minus('1d') | date }}", '2027-01-01T00:30:00Z', '2026-12-31', 'into the old year'],
  ["{{ scheduledTime | plus('1d') | date }}", '2026-12-31T12:00:00Z', '2027-01-01', 'into the new year'],
  ["{{ scheduledTime | tz('Europe/Berlin') | format('yyyy') }}", '2026-12-31T23:30:00Z', '2027', 'CET +1'],
  ["{{ scheduledTime | tz('Europe/London') | format('yyyy') }}", '2026-12-31T23:30:00Z', '2026', 'GMT'],
  [
    "{{ scheduledTime | tz('Europe/London') | minus('1mo') | startOf('month') | date }}",
    '2026-03-01T00:30:00Z',
    '2026-02-01',
    'first day of the previous London month',
  ],
];

describe('calendar arithmetic', () => {
  it.each(ARITHMETIC_ROWS)('%s at %s is %s (%s)', (template, at, want) => {
    expect(render(template, at)).toBe(want);
  });
});

// ------------------------------------------------------------ startOf / endOf

const START_END_ROWS: [string, string, string][] = [
  ["{{ scheduledTime | startOf('day') | iso }}", '2026-07-15T23:30:00Z', '2026-07-15T00:00:00Z'],
  [
    "{{ scheduledTime | tz('Europe/London') | startOf('day') | iso }}",
    '2026-07-15T23:30:00Z',
    '2026-07-16T00:00:00+01:00',
  ],
  [
    "{{ scheduledTime | tz('Europe/London') | startOf('day') | iso }}",
    '2026-03-29T12:00:00Z',
    '2026-03-29T00:00:00+00:00',
  ],
  [
    "{{ scheduledTime | tz('Europe/London') | endOf('day') | iso }}",
    '2026-03-29T12:00:00Z',
    '2026-03-29T23:59:59.999+01:00',
  ],
  ["{{ scheduledTime | startOf('month') | iso }}", '2026-02-15T10:00:00Z', '2026-02-01T00:00:00Z'],
  ["{{ scheduledTime | endOf('month') | iso }}", '2028-02-10T10:00:00Z', '2028-02-29T23:59:59.999Z'],
  ["{{ scheduledTime | endOf('month') | date }}", '2027-02-10T10:00:00Z', '2027-02-28'],
  // 2026-03-29 is a Sunday; ISO weeks start on Monday.
  ["{{ scheduledTime | startOf('week') | date }}", '2026-03-29T12:00:00Z', '2026-03-23'],
  ["{{ scheduledTime | endOf('week') | date }}", '2026-03-23T12:00:00Z', '2026-03-29'],
  ["{{ scheduledTime | startOf('quarter') | date }}", '2026-05-20T12:00:00Z', '2026-04-01'],
  ["{{ scheduledTime | endOf('quarter') | date }}", '2026-05-20T12:00:00Z', '2026-06-30'],
  ["{{ scheduledTime | startOf('year') | date }}", '2026-05-20T12:00:00Z', '2026-01-01'],
  ["{{ scheduledTime | endOf('year') | iso }}", '2026-05-20T12:00:00Z', '2026-12-31T23:59:59.999Z'],
  [
    "{{ scheduledTime | tz('Asia/Kolkata') | startOf('hour') | iso }}",
    '2026-01-15T10:45:00Z',
    '2026-01-15T16:00:00+05:30',
  ],
  ["{{ scheduledTime | startOf('minute') | iso }}", '2026-01-15T10:45:30Z', '2026-01-15T10:45:00Z'],
  ["{{ scheduledTime | startOf('second') | iso }}", '2026-01-15T10:45:30.250Z', '2026-01-15T10:45:30Z'],
];

describe('startOf and endOf', () => {
  it.each(START_END_ROWS)('%s at %s is %s', (template, at, want) => {
    expect(render(template, at)).toBe(want);
  });
});

// ------------------------------------------------------------ formats, unix, iso, strings

const AT = '2026-03-29T14:05:09Z'; // a Sunday, day 88 of the year, ISO week 13
const AT_SECONDS = Date.UTC(2026, 2, 29, 14, 5, 9) / 1000;

const FORMAT_ROWS: [string, string][] = [
  ['yyyy-MM-dd', '2026-03-29'],
  ['yyyyMMdd', '20260329'],
  ['HH:mm:ss', '14:05:09'],
  ['h:mm a', '2:05 PM'],
  ['d/M/yy', '29/3/26'],
  ['EEE', 'Sun'],
  ['EEEE', 'Sunday'],
  ['MMM', 'Mar'],
  ['MMMM', 'March'],
  ['ooo', '088'],
  ["'Q'q yyyy", 'Q1 2026'],
  ["yyyy-MM-dd'T'HH", '2026-03-29T14'],
  ['kkkk-WW-c', '2026-13-7'],
  ['ZZ', '+00:00'],
  ['X', String(AT_SECONDS)],
];

describe('format', () => {
  it.each(FORMAT_ROWS)('format(%j) is %j', (pattern, want) => {
    // Double quotes: luxon's literal text is single-quoted, and template strings have no escapes.
    expect(render(`{{ scheduledTime | format("${pattern}") }}`, AT)).toBe(want);
  });

  it('takes single-quoted patterns', () => {
    expect(render("{{ scheduledTime | format('yyyy') }}", AT)).toBe('2026');
  });

  // 2026 has 53 ISO weeks (1 Jan 2026 is a Thursday): week 53 runs Mon 28 Dec 2026 - Sun 3 Jan 2027.
  it.each([
    ['2026-12-28T12:00:00Z', '2026-W53'],
    ['2027-01-01T12:00:00Z', '2026-W53'],
    ['2027-01-03T12:00:00Z', '2026-W53'],
    ['2027-01-04T12:00:00Z', '2027-W01'],
  ])('ISO week of %s is %s', (at, want) => {
    expect(render('{{ scheduledTime | format("kkkk-\'W\'WW") }}', at)).toBe(want);
  });
});

describe('unix, iso, date and plain values', () => {
  it.each([
    ['{{ scheduledTime | unix }}', AT, String(AT_SECONDS)],
    ['{{ scheduledTime | unix }}', '2026-03-29T14:05:09.999Z', String(AT_SECONDS)],
    ["{{ scheduledTime | tz('Asia/Kolkata') | unix }}", AT, String(AT_SECONDS)],
    ["{{ scheduledTime | minus('1d') | unix }}", AT, String(AT_SECONDS - 86_400)],
    ['{{ scheduledTime | unix }}', '1969-12-31T23:59:59.500Z', '-1'],
    ['{{ scheduledTime | unix }}', '1970-01-01T00:00:00Z', '0'],
    ['{{ scheduledTime | iso }}', '2026-03-29T00:30:00Z', '2026-03-29T00:30:00Z'],
    ['{{ scheduledTime | iso }}', '2026-03-29T00:30:00.123Z', '2026-03-29T00:30:00.123Z'],
    ["{{ scheduledTime | tz('Asia/Kolkata') | iso }}", '2026-03-29T00:30:00Z', '2026-03-29T06:00:00+05:30'],
    [
      "{{ scheduledTime | tz('America/New_York') | iso }}",
      '2026-07-04T16:00:00Z',
      '2026-07-04T12:00:00-04:00',
    ],
    ['{{ scheduledTime }}', '2026-03-29T00:30:00Z', '2026-03-29T00:30:00Z'],
    ['{{ scheduledTime | date }}', '2026-03-29T23:59:59Z', '2026-03-29'],
    ['{{ startTime | iso }}', AT, '2030-01-01T00:00:00Z'],
    ['{{ startTime | date }}', AT, '2030-01-01'],
  ])('%s at %s is %s', (template, at, want) => {
    expect(render(template, at)).toBe(want);
  });

  it.each([
    ['{{ function }}', 'daily-report'],
    ['{{ function | upper }}', 'DAILY-REPORT'],
    ['{{ function | upper() }}', 'DAILY-REPORT'],
    ['{{ trigger | upper | lower }}', 'nightly'],
    ["{{ 'Hello World' | upper }}", 'HELLO WORLD'],
    ["{{ 'Hello World' | lower }}", 'hello world'],
    ["{{ scheduledTime | format('MMM') | upper }}", 'MAR'],
    ['{{ executionId }}', 'exec:daily-report:2026-03-29'],
    ['{{ attempt }}', '2'],
    ['{{ 42 }}', '42'],
    ['{{ -1.5 }}', '-1.5'],
    ['{{function|upper}}', 'DAILY-REPORT'],
    ['{{\n  function\n  | upper\n}}', 'DAILY-REPORT'],
    ['reports/{{ function }}/{{ scheduledTime | date }}.csv', 'reports/daily-report/2026-03-29.csv'],
    ['{{ trigger }}-{{ attempt }}', 'nightly-2'],
    ["{{ 'a}b' }}", 'a}b'],
  ])('%j renders %j', (template, want) => {
    expect(render(template, AT)).toBe(want);
  });

  it.each([
    '',
    'plain text',
    'Europe/London',
    'a { b } c',
    '{ single }',
    '}} closing only',
    'one { brace',
    '{"json": true}',
    "scheduledTime | tz('Europe/London')",
    // biome-ignore lint/suspicious/noTemplateCurlyInString: shell-style placeholders are plain text here
    '$HOME ${HOME} %s',
  ])('leaves the non-template %j unchanged', (text) => {
    expect(renderTemplate(text, vars(AT))).toBe(text);
    expect(templateError(text)).toBeUndefined();
  });

  describe('under a different process time zone', () => {
    const saved = process.env.TZ;
    afterEach(() => {
      if (saved === undefined) delete process.env.TZ;
      else process.env.TZ = saved;
    });

    it('reads scheduledTime in UTC unless tz() says otherwise', () => {
      process.env.TZ = 'Pacific/Chatham';
      expect(render('{{ scheduledTime | date }}', '2026-03-29T23:30:00Z')).toBe('2026-03-29');
      expect(render("{{ scheduledTime | format('HH:mm') }}", '2026-03-29T23:30:00Z')).toBe('23:30');
    });
  });
});

// ------------------------------------------------------------ errors

const VARIABLES = 'scheduledTime, startTime, executionId, function, attempt, trigger';
const FILTERS = 'tz, plus, minus, startOf, endOf, format, date, iso, unix, upper, lower';
const UNITS = 'year, quarter, month, week, day, hour, minute, second';

const ERROR_ROWS: [string, string][] = [
  // unknown names, including the prototype's: no property access on anything
  ['{{ now }}', `unknown variable "now"; allowed: ${VARIABLES}`],
  ['{{ constructor }}', `unknown variable "constructor"; allowed: ${VARIABLES}`],
  ['{{ __proto__ }}', `unknown variable "__proto__"; allowed: ${VARIABLES}`],
  ['{{ toString }}', `unknown variable "toString"; allowed: ${VARIABLES}`],
  ['{{ hasOwnProperty }}', `unknown variable "hasOwnProperty"; allowed: ${VARIABLES}`],
  ['{{ ScheduledTime | date }}', `unknown variable "ScheduledTime"; allowed: ${VARIABLES}`],
  ['{{ scheduledTime | yesterday }}', `unknown filter "yesterday"; allowed: ${FILTERS}`],
  ['{{ scheduledTime | constructor }}', `unknown filter "constructor"; allowed: ${FILTERS}`],
  ['{{ scheduledTime | __proto__ }}', `unknown filter "__proto__"; allowed: ${FILTERS}`],
  ['{{ scheduledTime | toString }}', `unknown filter "toString"; allowed: ${FILTERS}`],
  ['{{ function | valueOf }}', `unknown filter "valueOf"; allowed: ${FILTERS}`],
  ['{{ scheduledTime.year }}', 'unexpected "." at column 17'],
  ["{{ scheduledTime['constructor'] }}", 'unexpected "[" at column 17'],
  // wrong types
  ['{{ scheduledTime | upper }}', 'filter "upper" takes a string, got a datetime (e.g. upper)'],
  ['{{ attempt | upper }}', 'filter "upper" takes a string, got a number (e.g. upper)'],
  ['{{ function | date }}', 'filter "date" takes a datetime, got a string (e.g. date)'],
  ["{{ 'x' | tz('UTC') }}", `filter "tz" takes a datetime, got a string (e.g. tz('Europe/London'))`],
  [
    "{{ scheduledTime | date | minus('1d') }}",
    `filter "minus" takes a datetime, got a string (e.g. minus('1d'))`,
  ],
  ['{{ scheduledTime | unix | lower }}', 'filter "lower" takes a string, got a number (e.g. lower)'],
  // bad arguments
  ['{{ scheduledTime | minus(1) }}', `filter "minus": argument 1 must be a string (e.g. minus('1d'))`],
  [
    "{{ scheduledTime | minus('1x') }}",
    'filter "minus": "1x" is not an amount such as "1d", "2h", "1mo", "1y2mo"',
  ],
  [
    "{{ scheduledTime | minus('-1d') }}",
    'filter "minus": "-1d" is not an amount such as "1d", "2h", "1mo", "1y2mo"',
  ],
  ["{{ scheduledTime | plus('') }}", 'filter "plus": "" is not an amount such as "1d", "2h", "1mo", "1y2mo"'],
  [
    "{{ scheduledTime | plus('1 d') }}",
    'filter "plus": "1 d" is not an amount such as "1d", "2h", "1mo", "1y2mo"',
  ],
  ["{{ scheduledTime | startOf('fortnight') }}", `filter "startOf": unit "fortnight" is not one of ${UNITS}`],
  ["{{ scheduledTime | endOf('days') }}", `filter "endOf": unit "days" is not one of ${UNITS}`],
  ["{{ scheduledTime | format('') }}", 'filter "format": the pattern is empty'],
  ['{{ scheduledTime | tz() }}', `filter "tz" takes 1 argument, got 0 (e.g. tz('Europe/London'))`],
  ['{{ scheduledTime | tz }}', `filter "tz" takes 1 argument, got 0 (e.g. tz('Europe/London'))`],
  ["{{ scheduledTime | date('x') }}", 'filter "date" takes 0 arguments, got 1 (e.g. date)'],
  ["{{ scheduledTime | minus('1d', '2h') }}", `filter "minus" takes 1 argument, got 2 (e.g. minus('1d'))`],
  [
    "{{ scheduledTime | tz('Europe/Londn') }}",
    'filter "tz": unknown time zone "Europe/Londn": use an IANA tz database name such as UTC, Europe/London or America/Los_Angeles (not an abbreviation such as PST)',
  ],
  [
    "{{ scheduledTime | tz('+01:00') }}",
    'filter "tz": unknown time zone "+01:00": use an IANA tz database name such as UTC, Europe/London or America/Los_Angeles (not an abbreviation such as PST)',
  ],
  [
    "{{ scheduledTime | tz('constructor') }}",
    'filter "tz": unknown time zone "constructor": use an IANA tz database name such as UTC, Europe/London or America/Los_Angeles (not an abbreviation such as PST)',
  ],
  ['{{ scheduledTime | tz(UTC) }}', 'filter tz: arguments must be quoted strings or numbers, found "UTC"'],
  ['{{ scheduledTime | tz(Europe/London) }}', 'unexpected "/" at column 29'],
  ["{{ scheduledTime | tz('Europe/London' }}", 'filter tz: expected "," or ")"'],
  ["{{ scheduledTime | minus('1d' '2d') }}", 'filter minus: expected "," or ")"'],
  // syntax
  ['{{ scheduledTime', '"{{" at column 1 is never closed with "}}"'],
  ['{{ scheduledTime | date }', '"{{" at column 1 is never closed with "}}"'],
  ['report-{{ function }}-{{ scheduledTime | date', '"{{" at column 23 is never closed with "}}"'],
  ["{{ scheduledTime | tz('Europe/London }}", 'unterminated string starting at column 23'],
  ['{{ }}', 'empty expression "{{ }}"'],
  ['{{}}', 'empty expression "{{ }}"'],
  ['{{ | date }}', 'expected a variable at column 4, found "|"'],
  ['{{ scheduledTime date }}', 'expected "|" at column 18, found "date"'],
  ['{{ scheduledTime | }}', 'expected a filter name after "|" at column 18'],
  ['{{ scheduledTime | 5 }}', 'expected a filter name after "|" at column 18'],
];

describe('errors', () => {
  it.each(ERROR_ROWS)('%j: %s', (template, message) => {
    expect(templateError(template)).toBe(message);
    expect(() => renderTemplate(template, vars(AT))).toThrow(new TemplateError(message));
  });

  it('throws TemplateError, not a plain Error', () => {
    expect(() => renderTemplate('{{ now }}', vars(AT))).toThrow(TemplateError);
  });

  it.each([
    "{{ scheduledTime | tz('Europe/London') | minus('1d') | date }}",
    "{{ scheduledTime | format('yyyy-MM-dd') }}",
    '{{ function | upper }}-{{ attempt }}',
  ])('finds nothing wrong with %j', (template) => {
    expect(templateError(template)).toBeUndefined();
  });

  // BUG (core/template.ts renderTemplate): an amount that leaves luxon's range gives an invalid DateTime,
  // rendered silently as "" (iso), "NaN" (unix) or "Invalid DateTime" (date/format). It should fail.
  it.each([
    "{{ scheduledTime | plus('300000y') | iso }}",
    "{{ scheduledTime | plus('300000y') | unix }}",
    "{{ scheduledTime | minus('99999999999999999999d') | date }}",
  ])('refuses %j, whose date-time is out of range', (template) => {
    expect(templateError(template)).toBeUndefined();
    expect(() => renderTemplate(template, vars(AT))).toThrow(TemplateError);
  });
});
