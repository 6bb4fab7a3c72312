/** Backoff between attempts, from the spec's retry policy. Pure. */
import { parseDuration } from './duration.ts';
import type { RetrySpec } from './schema.ts';

/** Wait after attempt `n` failed (n ≥ 1): initialInterval × coefficient^(n−1), capped at maxInterval. */
export function backoffMs(retry: RetrySpec, failedAttempt: number): number {
  const initial = parseDuration(retry.initialInterval);
  const max = parseDuration(retry.maxInterval);
  return Math.min(max, Math.round(initial * retry.backoffCoefficient ** (failedAttempt - 1)));
}
