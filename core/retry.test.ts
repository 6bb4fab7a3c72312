/** Backoff between attempts: initialInterval × coefficient^(n−1), capped at maxInterval. */
import { describe, expect, it } from 'vitest';
import { backoffMs } from './retry.ts';
import { functionSpecSchema, type RetrySpec } from './schema.ts';

function retry(input: Record<string, unknown> = {}): RetrySpec {
  return functionSpecSchema().parse({
    apiVersion: 'pontoon.dev/v1',
    kind: 'Function',
    metadata: { name: 'retry' },
    spec: { image: 'pontoon/examples:0.1', execution: { retry: input } },
  }).spec.execution.retry;
}

const sequence = (r: RetrySpec, attempts: number) =>
  Array.from({ length: attempts }, (_, i) => backoffMs(r, i + 1));

describe('backoffMs', () => {
  it('doubles from 1s and stops at maxInterval: 1s, 2s, 4s, 8s, 10s, 10s', () => {
    const r = retry({ initialInterval: '1s', backoffCoefficient: 2, maxInterval: '10s' });
    expect(sequence(r, 6)).toEqual([1000, 2000, 4000, 8000, 10_000, 10_000]);
  });

  it('uses the defaults: 3 attempts, 1s doubling, capped at 5m', () => {
    const r = retry();
    expect(r).toEqual({
      maxAttempts: 3,
      initialInterval: '1s',
      backoffCoefficient: 2,
      maxInterval: '5m',
      nonRetryableExitCodes: [],
    });
    // 2^8 s = 256s is the last below 300s.
    expect(sequence(r, 11)).toEqual([1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300].map((s) => s * 1000));
  });

  it('waits the same with coefficient 1', () => {
    const r = retry({ initialInterval: '30s', backoffCoefficient: 1, maxInterval: '1m' });
    expect(sequence(r, 4)).toEqual([30_000, 30_000, 30_000, 30_000]);
  });

  it('rounds fractional coefficients to whole milliseconds', () => {
    const r = retry({ initialInterval: '1s', backoffCoefficient: 1.5, maxInterval: '1h' });
    // 1000, 1500, 2250, 3375, 5062.5 -> 5063
    expect(sequence(r, 5)).toEqual([1000, 1500, 2250, 3375, 5063]);
  });

  it('never waits longer than maxInterval, even when the first wait equals it', () => {
    const r = retry({ initialInterval: '10s', maxInterval: '10s' });
    expect(sequence(r, 3)).toEqual([10_000, 10_000, 10_000]);
  });

  it('stays at maxInterval for very late attempts (no overflow to Infinity or NaN)', () => {
    const r = retry({ initialInterval: '1s', backoffCoefficient: 10, maxInterval: '1h' });
    expect(backoffMs(r, 100)).toBe(3_600_000);
    expect(backoffMs(r, 5000)).toBe(3_600_000);
  });

  it('takes sub-second and compound durations', () => {
    const r = retry({ initialInterval: '250ms', backoffCoefficient: 2, maxInterval: '1m30s' });
    expect(sequence(r, 10)).toEqual([250, 500, 1000, 2000, 4000, 8000, 16_000, 32_000, 64_000, 90_000]);
  });
});

describe('retry policy validation', () => {
  const check = (input: Record<string, unknown>) =>
    functionSpecSchema().safeParse({
      apiVersion: 'pontoon.dev/v1',
      kind: 'Function',
      metadata: { name: 'retry' },
      spec: { image: 'pontoon/examples:0.1', execution: { retry: input } },
    });

  it.each([
    [{ maxAttempts: 1 }],
    [{ maxAttempts: 100 }],
    [{ backoffCoefficient: 1 }],
    [{ backoffCoefficient: 10 }],
    [{ initialInterval: '5m', maxInterval: '5m' }],
    [{ nonRetryableExitCodes: [1, 255] }],
  ])('accepts %j', (input) => {
    expect(check(input).success).toBe(true);
  });

  it.each([
    [{ maxAttempts: 0 }, 'maxAttempts'],
    [{ maxAttempts: 101 }, 'maxAttempts'],
    [{ maxAttempts: 2.5 }, 'maxAttempts'],
    [{ backoffCoefficient: 0.5 }, 'backoffCoefficient'],
    [{ backoffCoefficient: 11 }, 'backoffCoefficient'],
    [{ initialInterval: '1m', maxInterval: '10s' }, 'maxInterval'],
    [{ nonRetryableExitCodes: [0] }, 'nonRetryableExitCodes'],
    [{ nonRetryableExitCodes: [256] }, 'nonRetryableExitCodes'],
  ])('refuses %j at %s', (input, field) => {
    const result = check(input);
    expect(result.success).toBe(false);
    expect(result.error?.issues.map((i) => i.path.slice(0, 4))).toEqual([
      ['spec', 'execution', 'retry', field],
    ]);
  });

  // BUG (core/schema.ts retry superRefine): a malformed interval reaches parseDuration, which throws
  // instead of letting the field's own "must be a duration" issue through.
  it.each([[{ initialInterval: '1 second' }], [{ maxInterval: '5 min' }]])(
    'reports %j as a problem instead of throwing',
    (input) => {
      expect(() => check(input)).not.toThrow();
      expect(check(input).success).toBe(false);
    },
  );
});
