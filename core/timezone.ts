/**
 * Time zone names: exactly the IANA tz database names (zones and links such as `US/Eastern`), which
 * is what the Temporal server resolves schedules with (Go's `time.LoadLocation`), and which Node's
 * ICU also knows. ICU alone is not the check: it accepts abbreviations such as `PST` that the server
 * refuses ("unknown time zone PST"). Names are case-sensitive, as on the server. Pure module.
 */
import { TZ_NAMES } from './tz-names.ts';

const NAMES: ReadonlySet<string> = new Set(TZ_NAMES);
let byLowerCase: Map<string, string> | undefined;

/** True when `zone` is a tz database name (case-sensitive), e.g. `Europe/London`, `US/Eastern`, `UTC`. */
export function isTimeZone(zone: string): boolean {
  return NAMES.has(zone);
}

/**
 * The problem with a time zone name, for a validation message, or undefined when it is valid.
 * Suggests the right spelling for a case mistake (`europe/london` → `Europe/London`).
 */
export function timeZoneProblem(zone: string): string | undefined {
  if (isTimeZone(zone)) return undefined;
  byLowerCase ??= new Map(TZ_NAMES.map((n) => [n.toLowerCase(), n]));
  const spelt = byLowerCase.get(zone.toLowerCase());
  if (spelt) return `unknown time zone "${zone}": names are case-sensitive, did you mean "${spelt}"?`;
  return `unknown time zone "${zone}": use an IANA tz database name such as UTC, Europe/London or America/Los_Angeles (not an abbreviation such as PST)`;
}
