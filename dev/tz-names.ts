/**
 * `npm run tz-names`: writes core/tz-names.ts, the time zone names Pontoon accepts, from the
 * IANA tz database as packaged by moment-timezone (zones and their links, e.g. `US/Eastern`).
 *
 * Why this set: Temporal schedules resolve zones with Go's `time.LoadLocation`, which reads the
 * IANA database (the host's zoneinfo, or the copy embedded in the server binary). That database has
 * these names, plus `Factory`, which is a placeholder without a meaning and refused here. Node's ICU
 * accepts more (abbreviations such as `PST`), which the server refuses, so ICU cannot be the check.
 * `test/timezone.test.ts` fails when this file and the installed moment-timezone disagree: run this
 * after upgrading it.
 */
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { tzDatabaseNames, tzNamesModule } from './tz-source.ts';

const out = fileURLToPath(new URL('../core/tz-names.ts', import.meta.url));
const { version, names } = tzDatabaseNames(createRequire(import.meta.url));
writeFileSync(out, tzNamesModule(version, names));
console.log(`wrote ${names.length} time zone names (tzdata ${version}) to ${out}`);
