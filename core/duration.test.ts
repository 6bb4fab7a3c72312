/** Go-style durations: "500ms", "30s", "5m", "1h30m", "2d". */
import { describe, expect, it } from 'vitest';
import { DURATION_HELP, formatDuration, isDuration, parseDuration } from './duration.ts';

const S = 1000;
const M = 60 * S;
const H = 60 * M;
const D = 24 * H;

describe('valid durations', () => {
  it.each([
    ['0s', 0],
    ['500ms', 500],
    ['1ms', 1],
    ['30s', 30 * S],
    ['5m', 5 * M],
    ['90m', 90 * M],
    ['1h', H],
    ['1h30m', H + 30 * M],
    ['2d', 2 * D],
    ['1m30s', M + 30 * S],
    ['1s500ms', 1500],
    ['1d2h3m4s5ms', D + 2 * H + 3 * M + 4 * S + 5],
    ['10ms5m', 5 * M + 10],
    ['007s', 7 * S],
  ])('%s is %d ms', (text, ms) => {
    expect(isDuration(text)).toBe(true);
    expect(parseDuration(text)).toBe(ms);
  });
});

describe('invalid durations', () => {
  it.each([
    '',
    '5',
    '30',
    '5 m',
    ' 5m',
    '5m ',
    '1h 30m',
    '-5s',
    '+5s',
    '1.5h',
    '5M',
    '5S',
    '5min',
    '5sec',
    '10 minutes',
    '1w',
    '1y',
    '5us',
    'ms',
    's5',
    'PT5M',
    '5m-',
  ])('%j is refused', (text) => {
    expect(isDuration(text)).toBe(false);
    expect(() => parseDuration(text)).toThrow(`"${text}" is not ${DURATION_HELP}`);
  });
});

describe('formatDuration', () => {
  it.each([
    [0, '0s'],
    [1, '1ms'],
    [500, '500ms'],
    [S, '1s'],
    [1500, '1s500ms'],
    [90 * S, '1m30s'],
    [H + 30 * M, '1h30m'],
    [2 * D, '2d'],
    [D + H + M + S + 1, '1d1h1m1s1ms'],
    [999.6, '1s'],
    [10.4, '10ms'],
  ])('%d ms is %s', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });

  it.each([1, 500, 1500, 90 * S, H + 30 * M, 2 * D, D + H + M + S + 1, 36 * D])(
    'round-trips %d ms through parseDuration',
    (ms) => {
      expect(parseDuration(formatDuration(ms))).toBe(ms);
    },
  );
});
