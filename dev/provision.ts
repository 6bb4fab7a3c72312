/** `npm run provision`: installs what the tests and `npm start` need outside npm (the Temporal CLI). */
import { execFileSync } from 'node:child_process';
import { ensureTemporalCli } from './temporal.ts';

const started = Date.now();
const cli = await ensureTemporalCli((line) => console.log(line));
const version = execFileSync(cli, ['--version'], { encoding: 'utf8' }).trim();
console.log(`Temporal CLI: ${cli} (${version}), ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);
