/** IANA time zone validation through the runtime's ICU data (no bundled database). Pure module. */
const cache = new Map<string, boolean>();

export function isTimeZone(zone: string): boolean {
  const known = cache.get(zone);
  if (known !== undefined) return known;
  let ok = false;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    // Intl accepts offsets such as "+01:00"; schedules and templates want a named zone.
    ok = /^[A-Za-z_]+(?:\/[A-Za-z0-9_+-]+)*$/.test(zone);
  } catch {
    ok = false;
  }
  cache.set(zone, ok);
  return ok;
}
