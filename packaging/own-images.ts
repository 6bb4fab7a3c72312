/**
 * Pontoon's own images, built by the same daemonless path as functions (`npm run images`):
 *
 * - observer (<registry>/pontoon/observer:<version>): node base | the Temporal SDK packages warm
 *   mode needs (node_modules, cached by their versions) | observer.mjs (one esbuild bundle of
 *   observer/main.ts). Entrypoint `node /app/observer.mjs`, default argument `on-demand`.
 * - pontoon (<registry>/pontoon/pontoon:<version>): node base | production node_modules (npm ci
 *   --omit=dev of the repository's lockfile) | the compiled JavaScript (`npm run build`, run here
 *   first) with bin/, no TypeScript sources, tests, benchmarks or docs | the
 *   prebuilt workflow bundle (PONTOON_WORKFLOW_BUNDLE). Entrypoint `node /app/bin/pontoon.mjs`,
 *   default argument `worker` (`api` for the API Deployment).
 *
 * Both run as uid 65532 and are reproducible like function images.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { type OwnImage, ownImageRef, PONTOON_VERSION } from '../core/names.ts';
import { cacheDir } from '../platform/cache-dir.ts';
import { PACKAGE_ROOT } from '../platform/package-root.ts';
import { listContext, writeReproducibleTar } from './context.ts';
import type { CraneRunner } from './crane.ts';
import { ensureDepsLayer } from './deps.ts';
import type { RegistryConfig } from './registry.ts';
import { ensureBaseImage, walkAll } from './runtimes.ts';

const execFileAsync = promisify(execFile);
const REPO_ROOT = PACKAGE_ROOT;
/** The SDK packages observer/warm.ts loads at run time (kept out of the bundle: native core). */
const OBSERVER_EXTERNALS = [
  '@temporalio/worker',
  '@temporalio/activity',
  '@temporalio/client',
  '@temporalio/common',
];
/**
 * What the pontoon image leaves out of the repository: the TypeScript sources among the rest (it
 * runs the compiled tree in dist/, built just before; bin/entry.mjs runs dist/ when no source is
 * beside it), so the image never runs a stale build or transpiles at start.
 */
const PONTOON_IMAGE_IGNORES = [
  'test',
  'bench',
  'docs',
  '.ci',
  '.pontoon',
  '.scratch',
  '**/*.ts',
  'dist/.tsbuildinfo',
  '**/*.md',
  '!README.md',
  'function-specs/examples/node_modules',
  '.github',
];

export interface OwnImageResult {
  image: keyof typeof OwnImage;
  /** repo:version */
  tag: string;
  /** repo@sha256:… */
  reference: string;
  seconds: number;
}

async function pushImage(
  crane: CraneRunner,
  base: string,
  layers: string[],
  config: {
    entrypoint: string[];
    cmd: string[];
    env: Record<string, string>;
    labels: Record<string, string>;
  },
  tag: string,
): Promise<string> {
  const out = await crane.run([
    'mutate',
    base,
    ...layers.flatMap((l) => ['--append', l]),
    '--set-platform',
    'linux/amd64',
    '--workdir',
    '/app',
    '--user',
    '65532:65532',
    ...config.entrypoint.flatMap((c) => ['--entrypoint', c]),
    ...config.cmd.flatMap((c) => ['--cmd', c]),
    ...Object.entries(config.env).flatMap(([k, v]) => ['-e', `${k}=${v}`]),
    ...Object.entries(config.labels).flatMap(([k, v]) => ['-l', `${k}=${v}`]),
    '-t',
    tag,
  ]);
  const digest = out.split('@')[1] ?? (await crane.run(['digest', tag]));
  return `${tag.slice(0, tag.lastIndexOf(':'))}@${digest}`;
}

async function installedVersion(pkg: string): Promise<string> {
  const json = JSON.parse(await readFile(path.join(REPO_ROOT, 'node_modules', pkg, 'package.json'), 'utf8'));
  return json.version as string;
}

/** The observer's runtime node_modules (the SDK packages at the repository's installed versions), cached. */
async function observerDepsLayer(progress: (line: string) => void): Promise<string> {
  const deps: Record<string, string> = {};
  for (const p of OBSERVER_EXTERNALS) deps[p] = await installedVersion(p);
  const key = createHash('sha256').update(JSON.stringify(deps)).digest('hex').slice(0, 16);
  const dir = path.join(cacheDir(), 'build', 'observer-deps');
  const out = path.join(dir, `${key}.tar`);
  if (existsSync(out)) return out;
  progress(
    `observer: installing ${Object.entries(deps)
      .map(([k, v]) => `${k}@${v}`)
      .join(' ')} (once; cached)`,
  );
  const work = path.join(dir, `${key}.tmp-${process.pid}`);
  await rm(work, { recursive: true, force: true });
  await mkdir(work, { recursive: true });
  try {
    await writeFile(
      path.join(work, 'package.json'),
      JSON.stringify({ private: true, type: 'module', dependencies: deps }),
    );
    await execFileAsync(
      'npm',
      ['install', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund', '--loglevel=error'],
      {
        cwd: work,
        maxBuffer: 64 * 1024 * 1024,
        timeout: 15 * 60_000,
      },
    );
    await rm(path.join(work, 'node_modules', '.package-lock.json'), { force: true });
    await writeFile(path.join(work, 'node_modules', '.keep'), '');
    const entries = [
      'node_modules',
      ...(await walkAll(path.join(work, 'node_modules'))).map((e) => `node_modules/${e}`),
    ];
    await writeReproducibleTar({ cwd: work, entries, prefix: 'app', out: `${out}.tmp` });
    await rename(`${out}.tmp`, out);
    return out;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** Builds and pushes the observer image. */
export async function buildObserverImage(
  reg: RegistryConfig,
  crane: CraneRunner,
  progress: (line: string) => void = () => {},
): Promise<OwnImageResult> {
  const started = Date.now();
  const { build } = await import('esbuild');
  const work = path.join(cacheDir(), 'build', 'work', 'observer');
  await rm(work, { recursive: true, force: true });
  await mkdir(path.join(work, 'app'), { recursive: true });
  await build({
    entryPoints: [path.join(REPO_ROOT, 'observer', 'main.ts')],
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    external: ['@temporalio/*'],
    // Warm mode's code (and the Temporal SDK it imports) in a chunk of its own: prepare, on-demand
    // and ready start three times per attempt pod and load only what they need (~0.06 s of CPU each
    // instead of ~0.5 s with the SDK, measured by bench B2r).
    splitting: true,
    outdir: path.join(work, 'app'),
    entryNames: 'observer',
    chunkNames: 'chunks/[name]-[hash]',
    outExtension: { '.js': '.mjs' },
    // Bundled CommonJS modules call require(): give the ESM bundle one.
    banner: {
      js: "import { createRequire as __pontoonCreateRequire } from 'node:module'; const require = __pontoonCreateRequire(import.meta.url);",
    },
    logLevel: 'error',
    legalComments: 'none',
  });
  const code = path.join(work, 'observer.tar');
  await writeReproducibleTar({
    cwd: path.join(work, 'app'),
    entries: await walkAll(path.join(work, 'app')),
    prefix: 'app',
    out: code,
  });
  const deps = await observerDepsLayer(progress);
  const base = await ensureBaseImage('node', reg, crane, progress);
  const tag = ownImageRef(reg.prefix, 'observer');
  const reference = await pushImage(
    crane,
    base.reference,
    [deps, code],
    {
      entrypoint: ['node', '/app/observer.mjs'],
      cmd: ['on-demand'],
      env: {},
      labels: {
        'org.opencontainers.image.version': PONTOON_VERSION,
        'org.opencontainers.image.title': 'pontoon-observer',
      },
    },
    tag,
  );
  progress(`observer: ${reference}`);
  return { image: 'observer', tag, reference, seconds: (Date.now() - started) / 1000 };
}

/** Builds and pushes the worker/API image. */
export async function buildPontoonImage(
  reg: RegistryConfig,
  crane: CraneRunner,
  progress: (line: string) => void = () => {},
): Promise<OwnImageResult> {
  const started = Date.now();
  const work = path.join(cacheDir(), 'build', 'work', 'pontoon');
  await rm(work, { recursive: true, force: true });
  await mkdir(path.join(work, 'dist'), { recursive: true });
  const deps = await ensureDepsLayer(REPO_ROOT, 'node');
  if (!deps) throw new Error('the repository has no package.json');
  progress(
    `pontoon: production node_modules ${deps.cached ? 'cached' : `installed in ${deps.seconds.toFixed(1)} s`}`,
  );
  if (existsSync(path.join(REPO_ROOT, 'tsconfig.build.json'))) {
    progress('pontoon: compiling (npm run build)');
    await execFileAsync('npm', ['run', 'build', '--silent'], { cwd: REPO_ROOT, maxBuffer: 16 * 1024 * 1024 });
  }
  if (!existsSync(path.join(REPO_ROOT, 'dist', 'cli', 'main.js'))) {
    throw new Error(`${REPO_ROOT} has no compiled tree (dist/cli/main.js): run npm run build`);
  }
  const listing = await listContext(REPO_ROOT, 'node', PONTOON_IMAGE_IGNORES);
  const src = path.join(work, 'src.tar');
  await writeReproducibleTar({
    cwd: REPO_ROOT,
    entries: listing.entries.map((e) => e.rel),
    prefix: 'app',
    out: src,
  });
  progress(`pontoon: ${listing.files} files (compiled, no sources)`);
  // The workflow bundle, so a worker starts in seconds (PONTOON_WORKFLOW_BUNDLE).
  const { bundleWorkflows } = await import('../worker/worker.ts');
  const { createLogger } = await import('../platform/logger.ts');
  const bundle = await bundleWorkflows(createLogger('warn'));
  await writeFile(path.join(work, 'dist', 'workflow-bundle.js'), bundle.code);
  const bundleTar = path.join(work, 'bundle.tar');
  await writeReproducibleTar({
    cwd: work,
    entries: ['dist', 'dist/workflow-bundle.js'],
    prefix: 'app',
    out: bundleTar,
  });
  const base = await ensureBaseImage('node', reg, crane, progress);
  const tag = ownImageRef(reg.prefix, 'pontoon');
  const reference = await pushImage(
    crane,
    base.reference,
    [deps.tar, src, bundleTar],
    {
      entrypoint: ['node', '/app/bin/pontoon.mjs'],
      cmd: ['worker'],
      env: { PONTOON_WORKFLOW_BUNDLE: '/app/dist/workflow-bundle.js', HOME: '/tmp' },
      labels: {
        'org.opencontainers.image.version': PONTOON_VERSION,
        'org.opencontainers.image.title': 'pontoon',
      },
    },
    tag,
  );
  progress(`pontoon: ${reference}`);
  return { image: 'pontoon', tag, reference, seconds: (Date.now() - started) / 1000 };
}
