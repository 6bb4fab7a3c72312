/**
 * The dependencies layer: installed on the build host, cached by the digest of what declares them,
 * so an unchanged lockfile reuses the same tar (and the registry already holds its blob).
 *
 * - node: package.json + package-lock.json (or npm-shrinkwrap.json) in the context →
 *   `npm ci --omit=dev --ignore-scripts` → /app/node_modules. Install scripts do not run (native
 *   addons need a prebuilt binary, or your own base via build.base).
 * - python: requirements.txt → `pip install --target` of manylinux wheels for CPython 3.11 →
 *   /opt/pontoon/python (on PYTHONPATH). Wheels only, so nothing compiles on the build host.
 * - static: none.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, readFile, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import type { BuildRuntime } from '../core/build.ts';
import { cacheDir } from '../platform/cache-dir.ts';
import { sha256File, writeReproducibleTar } from './context.ts';
import { PackagingError } from './errors.ts';
import { walkAll } from './runtimes.ts';

const execFileAsync = promisify(execFile);
const CONTEXT_FIELD = ['spec', 'build', 'context'];
/** Where python dependencies live in the image (PYTHONPATH). */
export const PYTHON_DEPS_DIR = '/opt/pontoon/python';

export interface DepsLayer {
  /** Path of the uncompressed tar. */
  tar: string;
  sha256: string;
  bytes: number;
  /** What declared the dependencies, e.g. package-lock.json. */
  declaredBy: string;
  /** sha256 of the declaring files: the cache key. */
  key: string;
  cached: boolean;
  seconds: number;
}

/**
 * Builds (or reuses) the dependencies layer of a context. Resolves null when the context declares
 * no dependencies.
 * @throws PackagingError (spec.build.context) when package.json has no lockfile, or the install fails
 */
export async function ensureDepsLayer(contextDir: string, runtime: BuildRuntime): Promise<DepsLayer | null> {
  const started = Date.now();
  let files: string[];
  if (runtime === 'node') {
    if (!existsSync(path.join(contextDir, 'package.json'))) return null;
    const lock = ['package-lock.json', 'npm-shrinkwrap.json'].find((f) =>
      existsSync(path.join(contextDir, f)),
    );
    if (!lock) {
      throw new PackagingError(
        CONTEXT_FIELD,
        `${path.join(contextDir, 'package.json')} has no package-lock.json beside it: run \`npm install\` in ${contextDir} and keep the lockfile, so the dependency layer is reproducible`,
      );
    }
    files = ['package.json', lock];
  } else if (runtime === 'python') {
    if (!existsSync(path.join(contextDir, 'requirements.txt'))) return null;
    files = ['requirements.txt'];
  } else {
    return null;
  }
  const hash = createHash('sha256').update(`${runtime}\n`);
  for (const f of files) hash.update(`${f}\n`).update(await readFile(path.join(contextDir, f)));
  const key = hash.digest('hex');
  const dir = path.join(cacheDir(), 'build', 'deps');
  const out = path.join(dir, `${runtime}-${key}.tar`);
  const declaredBy = files[files.length - 1]!;
  if (existsSync(out)) {
    const { sha256, bytes } = await sha256File(out);
    return { tar: out, sha256, bytes, declaredBy, key, cached: true, seconds: (Date.now() - started) / 1000 };
  }
  const work = path.join(dir, `${runtime}-${key}.tmp-${process.pid}`);
  await rm(work, { recursive: true, force: true });
  await mkdir(work, { recursive: true });
  try {
    for (const f of files) await copyFile(path.join(contextDir, f), path.join(work, f));
    let prefix: string;
    let top: string;
    if (runtime === 'node') {
      await install(
        'npm',
        ['ci', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund', '--loglevel=error'],
        work,
        `${path.join(contextDir, declaredBy)} did not install (npm ci)`,
      );
      prefix = 'app';
      top = 'node_modules';
      await rm(path.join(work, 'node_modules', '.package-lock.json'), { force: true });
    } else {
      const python = process.env.PONTOON_PYTHON ?? 'python3';
      await install(
        python,
        [
          '-m',
          'pip',
          'install',
          '--quiet',
          '--no-cache-dir',
          '--disable-pip-version-check',
          '--no-compile',
          '--target',
          path.join(work, 'python'),
          '--only-binary=:all:',
          '--platform',
          'manylinux2014_x86_64',
          '--python-version',
          '3.11',
          '--implementation',
          'cp',
          '-r',
          path.join(work, 'requirements.txt'),
        ],
        work,
        `${path.join(contextDir, declaredBy)} did not install (pip install, wheels for CPython 3.11 on linux x86_64)`,
      );
      prefix = PYTHON_DEPS_DIR.slice(1, -'/python'.length);
      top = 'python';
    }
    if (!existsSync(path.join(work, top))) await mkdir(path.join(work, top));
    const entries = [top, ...(await walkAll(path.join(work, top))).map((e) => `${top}/${e}`)];
    const tmpTar = `${out}.tmp-${process.pid}`;
    const { sha256, bytes } = await writeReproducibleTar({ cwd: work, entries, prefix, out: tmpTar });
    await rename(tmpTar, out);
    return {
      tar: out,
      sha256,
      bytes,
      declaredBy,
      key,
      cached: false,
      seconds: (Date.now() - started) / 1000,
    };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

async function install(cmd: string, args: string[], cwd: string, what: string): Promise<void> {
  try {
    await execFileAsync(cmd, args, { cwd, maxBuffer: 64 * 1024 * 1024, timeout: 15 * 60_000 });
  } catch (err) {
    const e = err as { stderr?: string; stdout?: string; message: string; code?: string };
    const detail =
      e.code === 'ENOENT'
        ? `${cmd} is not installed on the build host`
        : (e.stderr || e.stdout || e.message)
            .split('\n')
            .map((l) => l.trim())
            // npm's usage text and log pointer say nothing about this failure.
            .filter(
              (l) =>
                l &&
                !/^npm error\s*$|aliases:|npm help|complete log|^npm error (Usage|Options|npm ci|\[)/.test(l),
            )
            .slice(0, 4)
            .join(' | ');
    throw new PackagingError(CONTEXT_FIELD, `${what}: ${detail}`);
  }
}
