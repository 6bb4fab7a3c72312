/**
 * Finds or installs Schemathesis (PyPI), the OpenAPI fuzzer that test/schemathesis.test.ts runs
 * against a real API. Pinned: its checks and generators change between releases, and the test's
 * expectations are for this one. Installed once into a virtualenv in the cache
 * (~/.cache/pontoon/schemathesis/<version>/), by `npm run provision` or on the test's first run.
 */
import { execFile } from 'node:child_process';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { cacheDir } from '../platform/cache-dir.ts';
import { ProvisionError } from './temporal.ts';

const run = promisify(execFile);

export const SCHEMATHESIS_VERSION = '4.32.5';

/** Path of the `st` CLI of the pinned Schemathesis, installing it into the cache when needed. */
export async function ensureSchemathesis(progress: (line: string) => void = () => {}): Promise<string> {
  const dir = path.join(cacheDir(), 'schemathesis', SCHEMATHESIS_VERSION);
  const st = path.join(dir, 'bin', 'st');
  // Written last: a venv without it is a broken install (interrupted, or pip failed) to redo.
  const complete = path.join(dir, '.complete');
  if (existsSync(complete) && existsSync(st)) return st;
  rmSync(dir, { recursive: true, force: true });
  const fix =
    `Fix: install Python 3.9+ with its venv module (Debian/Ubuntu: apt-get install python3-venv) and access to PyPI, ` +
    `then run \`npm run provision\`; or install it by hand: python3 -m venv ${dir} && ${dir}/bin/pip install schemathesis==${SCHEMATHESIS_VERSION} && touch ${complete}`;
  const step = async (what: string, file: string, args: string[]) => {
    try {
      await run(file, args, { maxBuffer: 16 * 1024 * 1024 });
    } catch (err) {
      rmSync(dir, { recursive: true, force: true });
      const detail = (err as { stderr?: string }).stderr?.trim() || (err as Error).message;
      throw new ProvisionError(
        `cannot install Schemathesis ${SCHEMATHESIS_VERSION}: ${what} failed: ${detail}\n${fix}`,
      );
    }
  };
  progress(`installing Schemathesis ${SCHEMATHESIS_VERSION} from PyPI into ${dir} …`);
  const started = Date.now();
  await step('python3 -m venv', 'python3', ['-m', 'venv', dir]);
  await step('pip install', path.join(dir, 'bin', 'python'), [
    '-m',
    'pip',
    'install',
    '--quiet',
    '--disable-pip-version-check',
    `schemathesis==${SCHEMATHESIS_VERSION}`,
  ]);
  if (!existsSync(st)) throw new ProvisionError(`pip installed schemathesis but ${st} is missing\n${fix}`);
  writeFileSync(complete, `${SCHEMATHESIS_VERSION}\n`);
  progress(`installed Schemathesis in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return st;
}
