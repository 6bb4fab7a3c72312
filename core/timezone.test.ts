/**
 * Time zone names: exactly the IANA tz database (what the Temporal server resolves with Go's
 * time.LoadLocation), not everything ICU accepts. The server side of this is in
 * test/apply-refusals.test.ts.
 */
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { tzDatabaseNames, tzNamesModule } from '../dev/tz-source.ts';
import { isTimeZone, timeZoneProblem } from './timezone.ts';
import { TZ_NAMES, TZDATA_VERSION } from './tz-names.ts';

describe('the accepted names', () => {
  it('are the tz database of the installed moment-timezone (run `npm run tz-names` after upgrading it)', async () => {
    const { version, names } = tzDatabaseNames(createRequire(import.meta.url));
    expect(TZDATA_VERSION).toBe(version);
    expect(TZ_NAMES).toEqual(names);
    const { readFile } = await import('node:fs/promises');
    const text = await readFile(new URL('./tz-names.ts', import.meta.url), 'utf8');
    expect(text).toBe(tzNamesModule(version, names));
  });

  it('are all known to Node’s ICU too (templates and previews compute with it)', () => {
    const refused = TZ_NAMES.filter((zone) => {
      try {
        new Intl.DateTimeFormat('en-US', { timeZone: zone });
        return false;
      } catch {
        return true;
      }
    });
    expect(refused).toEqual([]);
  });

  it.each([
    ['UTC', true],
    ['Etc/UTC', true],
    ['Europe/London', true],
    ['US/Eastern', true], // a link (tzdata "backward")
    ['EST5EDT', true],
    ['Asia/Calcutta', true], // an old name kept as a link
    ['PST', false], // ICU knows it; the server does not (../shared/cases/tz-pst.yaml)
    ['europe/london', false], // names are case-sensitive on the server
    ['+01:00', false],
    ['Local', false], // Go's alias for the server's own zone: not a portable name
    ['Factory', false], // in the database, but a placeholder
    ['', false],
  ])('%s → %s', (zone, ok) => {
    expect(isTimeZone(zone)).toBe(ok);
  });
});

describe('messages', () => {
  it('suggest the right case', () => {
    expect(timeZoneProblem('america/new_york')).toBe(
      'unknown time zone "america/new_york": names are case-sensitive, did you mean "America/New_York"?',
    );
  });
  it('explain abbreviations', () => {
    expect(timeZoneProblem('PST')).toBe(
      'unknown time zone "PST": use an IANA tz database name such as UTC, Europe/London or America/Los_Angeles (not an abbreviation such as PST)',
    );
  });
});
