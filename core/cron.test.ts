/** Cron expressions a schedule may hold: five fields or a macro; every refusal names the field. */
import { describe, expect, it } from 'vitest';
import { CRON_HELP, CRON_MACROS, cronError } from './cron.ts';

describe('valid cron expressions', () => {
  it.each([
    '0 2 * * *',
    '*/15 9-17 * * MON-FRI',
    '30 2 * * *',
    '0 0 1 1 *',
    '59 23 31 12 7',
    '0 0 * * 0',
    '0 0 * * 7',
    '0 0 * * SUN',
    '0 0 * * sun',
    '0 0 * JAN,JUL *',
    '0 0 1 jan-mar *',
    '5,10,15 * * * *',
    '0-59/5 * * * *',
    '0 0 1-31/2 * *',
    '0 0 ? * MON',
    '0 0 1 * ?',
    '0 */2 * * *',
    '  0 2 * * *  ',
    '0  2\t*  *  *',
    ...CRON_MACROS,
  ])('%j', (expr) => {
    expect(cronError(expr)).toBeUndefined();
  });
});

describe('invalid cron expressions', () => {
  it.each([
    // field count
    ['0 0 2 * * *', 'has 6 fields, expected 5'],
    ['0 2 * *', 'has 4 fields, expected 5'],
    ['*', 'has 1 field, expected 5'],
    // out of range
    ['60 * * * *', 'minute field: 60 is out of range 0-59'],
    ['0 24 * * *', 'hour field: 24 is out of range 0-23'],
    ['0 0 0 * *', 'day-of-month field: 0 is out of range 1-31'],
    ['0 0 32 * *', 'day-of-month field: 32 is out of range 1-31'],
    ['0 0 * 0 *', 'month field: 0 is out of range 1-12'],
    ['0 0 * 13 *', 'month field: 13 is out of range 1-12'],
    ['0 0 * * 8', 'day-of-week field: 8 is out of range 0-7'],
    ['0 0-24 * * *', 'hour field: 24 is out of range 0-23'],
    // backwards ranges
    ['0 9 * * FRI-MON', 'day-of-week field: range "FRI-MON" runs backwards'],
    ['0 17-9 * * *', 'hour field: range "17-9" runs backwards'],
    ['0 0 * DEC-JAN *', 'month field: range "DEC-JAN" runs backwards'],
    // names and numbers
    [
      '0 0 * JANUARY *',
      'month field: "JANUARY" is not a number or name (JAN,FEB,MAR,APR,MAY,JUN,JUL,AUG,SEP,OCT,NOV,DEC)',
    ],
    ['0 0 * * MONDAY', 'day-of-week field: "MONDAY" is not a number or name (SUN,MON,TUE,WED,THU,FRI,SAT)'],
    ['0 MON * * *', 'hour field: "MON" is not a number'],
    ['1.5 * * * *', 'minute field: "1.5" is not a number'],
    ['? * * * *', 'minute field: "?" is not a number'],
    ['0 0 L * *', 'day-of-month field: "L" is not a number'],
    // steps and lists
    ['*/0 * * * *', 'minute field: step "/0" must be a positive integer'],
    ['*/x * * * *', 'minute field: step "/x" must be a positive integer'],
    ['5/ * * * *', 'minute field: step "/" must be a positive integer'],
    ['*/5/2 * * * *', 'minute field: "*/5/2" is malformed'],
    [',5 * * * *', 'minute field: "" is malformed'],
    ['1-2-3 * * * *', 'minute field: "1-2-3" is malformed'],
    ['/5 * * * *', 'minute field: "/5" is malformed'],
    // macros and prefixes
    ['@fortnightly', 'unknown macro "@fortnightly"'],
    ['@every 5m', 'unknown macro "@every 5m"'],
    ['@DAILY', 'unknown macro "@DAILY"'],
    ['@reboot', 'unknown macro "@reboot"'],
    [
      'CRON_TZ=Europe/London 0 2 * * *',
      'time zone prefixes are not allowed here; use the schedule\'s "timezone" field',
    ],
    ['TZ=UTC 0 2 * * *', 'time zone prefixes are not allowed here; use the schedule\'s "timezone" field'],
  ])('%j: %s', (expr, problem) => {
    expect(cronError(expr)).toBe(problem);
  });

  // BUG (core/cron.ts cronError): ''.split(/\s+/) is [''], so an empty expression "has 1 field".
  it.each(['', '   '])('%j has no fields', (expr) => {
    expect(cronError(expr)).toBe('has 0 fields, expected 5');
  });
});

describe('CRON_HELP', () => {
  it('shows the five fields, an example and every macro', () => {
    expect(CRON_HELP).toContain('minute hour day-of-month month day-of-week');
    expect(CRON_HELP).toContain('"0 2 * * *"');
    for (const macro of CRON_MACROS) expect(CRON_HELP).toContain(macro);
  });
});
