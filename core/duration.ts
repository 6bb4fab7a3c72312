/**
 * Durations in specs are Go-style strings ("500ms", "30s", "5m", "1h30m", "2d"): the form Temporal,
 * Kubernetes and Argo users already write. Pure module.
 */
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const DURATION_RE = /^(?:\d+(?:ms|s|m|h|d))+$/;
const PART_RE = /(\d+)(ms|s|m|h|d)/g;

export const DURATION_HELP = 'a duration such as "500ms", "30s", "5m", "1h30m" or "2d"';

export function isDuration(value: string): boolean {
  return DURATION_RE.test(value);
}

/** Milliseconds in a duration string; throws on a malformed one (validate with isDuration first). */
export function parseDuration(value: string): number {
  if (!isDuration(value)) throw new Error(`"${value}" is not ${DURATION_HELP}`);
  let total = 0;
  for (const m of value.matchAll(PART_RE)) total += Number(m[1]) * UNIT_MS[m[2]!]!;
  return total;
}

/** Shortest Go-style rendering of milliseconds, for messages and tables. */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  let rest = Math.round(ms);
  let out = '';
  for (const [unit, size] of [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1000],
    ['ms', 1],
  ] as const) {
    if (rest >= size) {
      out += `${Math.floor(rest / size)}${unit}`;
      rest %= size;
    }
  }
  return out;
}
