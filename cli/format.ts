/** Human output of the CLI: aligned tables and short durations. */
import { createRequire } from 'node:module';

/**
 * Rows under their headers, columns padded to their widest cell (empty cells as `-`). With no rows,
 * `empty` (e.g. "no dead letters match") instead of a lone header line, when given.
 */
export function table(
  headers: string[],
  rows: (string | number | null | undefined)[][],
  empty?: string,
): string {
  if (!rows.length && empty !== undefined) return empty;
  const cells = rows.map((r) => r.map((c) => (c === null || c === undefined || c === '' ? '-' : String(c))));
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => r[i]!.length)));
  const line = (r: string[]) =>
    r
      .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(headers), ...cells.map(line)].join('\n');
}

export function ago(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return '-';
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86400)}d ago`;
}

export function span(from: string | null | undefined, to: string | null | undefined): string {
  if (!from) return '-';
  const ms = (to ? Date.parse(to) : Date.now()) - Date.parse(from);
  if (ms < 1000) return `${ms}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  return `${Math.floor(ms / 60_000)}m${Math.round((ms % 60_000) / 1000)}s`;
}

export type OutputFormat = 'text' | 'json' | 'yaml';

export function render(value: unknown, format: Exclude<OutputFormat, 'text'>): string {
  if (format === 'json') return JSON.stringify(value, null, 2);
  // yaml is loaded on first use (its CommonJS build, synchronously): text and JSON output never pay
  // its ~40 ms of module loading.
  const { stringify } = createRequire(import.meta.url)('yaml') as typeof import('yaml');
  return stringify(value).trimEnd();
}
