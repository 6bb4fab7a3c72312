import { describe, expect, it } from 'vitest';
import { coerceParameter, isIsoDate, isIsoDateTime, isPriorityName, priorityNumber } from './values.ts';

it('priority names are the aliases only, never a name every object inherits', () => {
  for (const name of ['high', 'normal', 'low']) expect(isPriorityName(name), name).toBe(true);
  for (const name of ['toString', 'constructor', '__proto__', 'valueOf', 'HIGH', '', 1, null])
    expect(isPriorityName(name), String(name)).toBe(false);
  expect([priorityNumber('high'), priorityNumber('low'), priorityNumber(2)]).toEqual([1, 5, 2]);
  // An untyped caller's other strings map to nothing (NaN), not to an inherited function.
  expect(priorityNumber('toString' as 'high')).toBeNaN();
});

describe('parameter value checks (no zod: they run in every execution)', () => {
  it.each([
    ['2024-02-29', true],
    ['2000-02-29', true],
    ['0000-01-01', true],
    ['2026-12-31', true],
    ['2026-02-29', false],
    ['1900-02-29', false],
    ['2026-04-31', false],
    ['2026-13-01', false],
    ['2026-00-10', false],
    ['2026-01-00', false],
    ['2026-1-01', false],
    [' 2026-01-01', false],
    ['2026-01-01T00:00:00Z', false],
  ])('date %j → %s', (value, ok) => {
    expect(isIsoDate(value)).toBe(ok);
  });

  it.each([
    ['2026-01-01T00:00:00Z', true],
    ['2026-01-01T00:00:00.123+01:00', true],
    ['2026-01-01T00:00:00.123456789Z', true],
    ['2026-01-01T23:59:59-23:59', true],
    ['2026-01-01T00:00Z', false],
    ['2026-01-01T00:00:00+0100', false],
    ['2026-01-01T00:00:00+01', false],
    ['2026-01-01T00:00:00', false],
    ['2026-01-01 00:00:00Z', false],
    ['2026-01-01t00:00:00z', false],
    ['2026-02-30T00:00:00Z', false],
    ['2026-01-01T24:00:00Z', false],
    ['2026-01-01T23:59:60Z', false],
    ['2026-01-01T23:59:59+24:00', false],
    ['2026-01-01T00:00:00.Z', false],
  ])('date-time %j → %s', (value, ok) => {
    expect(isIsoDateTime(value)).toBe(ok);
  });

  it('coerces strings to the declared type and says what was wrong', () => {
    expect(coerceParameter({ type: 'integer' }, ' 42 ')).toEqual({ value: 42 });
    expect(coerceParameter({ type: 'date' }, '2026-02-29')).toEqual({
      error: '"2026-02-29" is not a date (YYYY-MM-DD)',
    });
    expect(coerceParameter({ type: 'datetime' }, '2026-01-01T00:00:00Z')).toEqual({
      value: '2026-01-01T00:00:00Z',
    });
  });
});
