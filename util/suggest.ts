/** "Did you mean …?" for names that are not there: the closest one by edit distance, if close enough. */
import { distance } from 'fastest-levenshtein';

/** True when `b` is `a` with two neighbouring characters swapped ("wiat" and "wait"). */
function swapped(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  const diff = [...a].flatMap((ch, i) => (ch === b[i] ? [] : [i]));
  return (
    diff.length === 2 &&
    diff[1] === diff[0]! + 1 &&
    a[diff[0]!] === b[diff[1]!] &&
    a[diff[1]!] === b[diff[0]!]
  );
}

/**
 * The candidate closest to `name`, or undefined when none is close: at most a third of the longer
 * name's characters may differ (at least 1, at most 3), so "helo" finds "hello" but "report" does
 * not find "hello". Two neighbouring characters swapped count as one difference, the commonest typo
 * ("--wiat" finds "wait"; Levenshtein distance alone counts two). Ties go to the alphabetically
 * first, so the answer is stable.
 */
export function closestName(name: string, candidates: Iterable<string>): string | undefined {
  let best: { name: string; d: number } | undefined;
  for (const c of [...new Set(candidates)].sort()) {
    if (c === name) continue;
    const d = swapped(name, c) ? 1 : distance(name, c);
    const limit = Math.min(3, Math.max(1, Math.floor(Math.max(name.length, c.length) / 3)));
    if (d <= limit && (!best || d < best.d)) best = { name: c, d };
  }
  return best?.name;
}
