/** "Did you mean …?" for names that are not there: the closest one by edit distance, if close enough. */
import { distance } from 'fastest-levenshtein';

/**
 * The candidate closest to `name`, or undefined when none is close: at most a third of the longer
 * name's characters may differ (at least 1, at most 3), so "helo" finds "hello" but "report" does
 * not find "hello". Ties go to the alphabetically first, so the answer is stable.
 */
export function closestName(name: string, candidates: Iterable<string>): string | undefined {
  let best: { name: string; d: number } | undefined;
  for (const c of [...new Set(candidates)].sort()) {
    if (c === name) continue;
    const d = distance(name, c);
    const limit = Math.min(3, Math.max(1, Math.floor(Math.max(name.length, c.length) / 3)));
    if (d <= limit && (!best || d < best.d)) best = { name: c, d };
  }
  return best?.name;
}
