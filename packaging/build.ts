/**
 * Builds a function's image from `spec.build` and pushes it: base (the runtime's, or build.base) |
 * dependencies (cached by lockfile digest) | code (the context after ignores, at /app). Reproducible:
 * the same source, dependencies and base give the same image digest, and a registry that already
 * holds a layer receives nothing for it (crane checks blobs before uploading).
 */
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { APP_DIR, buildCommand } from '../core/build.ts';
import type { FunctionSpec } from '../core/schema.ts';
import { cacheDir } from '../platform/cache-dir.ts';
import { listContext, writeReproducibleTar } from './context.ts';
import { CraneError, type CraneRunner, csvArg } from './crane.ts';
import { type DepsLayer, ensureDepsLayer, PYTHON_DEPS_DIR } from './deps.ts';
import { PackagingError } from './errors.ts';
import { functionRepository, type RegistryConfig } from './registry.ts';
import { BaseImageError, ensureBaseImage } from './runtimes.ts';

/** Image labels Pontoon sets (OCI config labels). */
export const IMAGE_LABELS = {
  function: 'pontoon.dev/function',
  /** sha256 of the code layer's tar: changes exactly when the context's files (after ignores) change. */
  sourceDigest: 'pontoon.dev/source-digest',
  runtime: 'pontoon.dev/runtime',
} as const;

export interface LayerReport {
  role: 'base' | 'dependencies' | 'code';
  /** Compressed digest in the registry (sha256:…). */
  digest: string;
  /** Compressed size in bytes. */
  size: number;
}

export interface BuiltImage {
  function: string;
  /** <registry>/pontoon/<function>@sha256:… — what the applied spec records and pods run. */
  reference: string;
  digest: string;
  /** The tag also pushed: <registry>/pontoon/<function>:src-<12 hex of the source digest>. */
  tag: string;
  base: string;
  sourceDigest: string;
  files: number;
  layers: LayerReport[];
  dependencies: Pick<DepsLayer, 'declaredBy' | 'cached' | 'key'> | null;
  seconds: number;
}

export interface BuildOptions {
  registry: RegistryConfig;
  crane: CraneRunner;
  progress?: (line: string) => void;
}

/**
 * Builds and pushes one function's image. `fn.spec.build.context` must be absolute (the loader
 * resolves it against the spec file).
 * @throws PackagingError naming the spec field involved (context, runtime/base, registry) and the fix
 */
export async function buildFunctionImage(fn: FunctionSpec, opts: BuildOptions): Promise<BuiltImage> {
  const b = fn.spec.build;
  const name = fn.metadata.name;
  if (!b) throw new PackagingError(['spec', 'build'], 'has no build section');
  const progress = (line: string) => opts.progress?.(`${name}: ${line}`);
  const started = Date.now();
  const context = b.context;
  if (!path.isAbsolute(context)) {
    throw new PackagingError(
      ['spec', 'build', 'context'],
      `${context} is relative: build specs from files (pontoon build/apply resolve it against the spec file)`,
    );
  }

  // Code layer.
  const listing = await listContext(context, b.runtime, b.ignore);
  const work = path.join(cacheDir(), 'build', 'work', name);
  await mkdir(work, { recursive: true });
  const codeTar = path.join(work, `code-${process.pid}.tar`);
  const code = await writeReproducibleTar({
    cwd: context,
    entries: listing.entries.map((e) => e.rel),
    prefix: APP_DIR.slice(1),
    out: codeTar,
  });
  const sourceDigest = `sha256:${code.sha256}`;
  progress(
    `code layer: ${listing.files} file${listing.files === 1 ? '' : 's'}, ${kib(listing.bytes)} from ${context} → ${APP_DIR} (source digest ${sourceDigest.slice(0, 19)}…, the layer's uncompressed digest)`,
  );

  // Dependencies layer.
  const deps = await ensureDepsLayer(context, b.runtime);
  if (deps)
    progress(
      `dependencies layer: ${deps.declaredBy} → ${kib(deps.bytes)}, ${deps.cached ? 'cached' : `installed in ${deps.seconds.toFixed(1)} s`} (key ${deps.key.slice(0, 12)})`,
    );
  else progress('dependencies layer: none declared');

  // Base.
  let base: string;
  const configured = b.base ?? baseFromEnv(b.runtime);
  if (configured) {
    base = configured;
    progress(`base: ${base} (${b.base ? 'build.base' : baseEnvName(b.runtime)})`);
  } else {
    try {
      const got = await ensureBaseImage(b.runtime, opts.registry, opts.crane, progress);
      base = got.reference;
      progress(`base: ${b.runtime} ${got.pushed ? 'pushed' : 'present'} ${base}`);
    } catch (err) {
      if (err instanceof BaseImageError) throw new PackagingError(['spec', 'build', 'runtime'], err.message);
      throw registryProblem(err, opts.registry);
    }
  }

  // Assemble and push: one crane mutate appends the layers and sets the config.
  const repo = functionRepository(opts.registry, name);
  const tag = `${repo}:src-${code.sha256.slice(0, 12)}`;
  const command = buildCommand(b);
  const env: Record<string, string> = {};
  if (b.runtime === 'python') env.PYTHONPATH = PYTHON_DEPS_DIR;
  const args = [
    'mutate',
    base,
    ...(deps ? ['--append', deps.tar] : []),
    '--append',
    codeTar,
    '--set-platform',
    'linux/amd64',
    '--workdir',
    APP_DIR,
    ...command.flatMap((c) => ['--entrypoint', csvArg(c)]),
    ...Object.entries(env).flatMap(([k, v]) => ['-e', `${k}=${v}`]),
    '-l',
    `${IMAGE_LABELS.function}=${name}`,
    '-l',
    `${IMAGE_LABELS.sourceDigest}=${sourceDigest}`,
    '-l',
    `${IMAGE_LABELS.runtime}=${b.runtime}`,
    '-t',
    tag,
  ];
  let out: string;
  try {
    out = await opts.crane.run(args);
  } catch (err) {
    // crane names the image it could not pull: the base, not the registry Pontoon pushes to.
    if (configured && err instanceof CraneError && err.message.includes(`pulling ${configured}`)) {
      throw new PackagingError(
        b.base ? ['spec', 'build', 'base'] : ['spec', 'build', 'runtime'],
        `base image ${configured} (${b.base ? 'build.base' : baseEnvName(b.runtime)}) could not be pulled: ${err.message}; check the reference, that this machine reaches its registry, and its credentials`,
      );
    }
    throw registryProblem(err, opts.registry);
  } finally {
    await rm(codeTar, { force: true });
  }
  const digest = out.split('@')[1] ?? (await opts.crane.run(['digest', tag]));
  const reference = `${repo}@${digest}`;
  const manifest = JSON.parse(await opts.crane.run(['manifest', reference])) as {
    layers: { digest: string; size: number }[];
  };
  const n = manifest.layers.length;
  const layers: LayerReport[] = manifest.layers.map((l, i) => ({
    role: i === n - 1 ? 'code' : deps && i === n - 2 ? 'dependencies' : 'base',
    digest: l.digest,
    size: l.size,
  }));
  for (const l of layers.filter((x) => x.role !== 'base'))
    progress(`${l.role} layer in the registry ${l.digest.slice(0, 19)}… (${kib(l.size)} compressed)`);
  progress(`image ${reference}`);
  return {
    function: name,
    reference,
    digest,
    tag,
    base,
    sourceDigest,
    files: listing.files,
    layers,
    dependencies: deps ? { declaredBy: deps.declaredBy, cached: deps.cached, key: deps.key } : null,
    seconds: (Date.now() - started) / 1000,
  };
}

/** PONTOON_BASE_NODE, PONTOON_BASE_PYTHON, PONTOON_BASE_STATIC: a team's default base per runtime. */
export function baseEnvName(runtime: string): string {
  return `PONTOON_BASE_${runtime.toUpperCase()}`;
}
function baseFromEnv(runtime: string): string | undefined {
  return process.env[baseEnvName(runtime)] || undefined;
}

/** Turns a crane failure into a located problem that says what to fix. */
export function registryProblem(err: unknown, reg: RegistryConfig): Error {
  if (!(err instanceof CraneError)) return err as Error;
  const m = err.message;
  // Unreachable first: a registry never reached cannot have refused anything. Status codes only as
  // crane words them ("status code 401"), never bare digits, which a port such as :40307 contains.
  if (/connection refused|no such host|i\/o timeout|dial tcp|server gave HTTP response|EOF/i.test(m)) {
    return new PackagingError(
      ['spec', 'build'],
      `registry ${reg.host} is unreachable (${m}); start it (npm run registry:up for the embedded one on 127.0.0.1:5001) or set PONTOON_REGISTRY`,
    );
  }
  if (/UNAUTHORIZED|DENIED|status(?: code)?:? 40[13]\b|authentication required/i.test(m)) {
    return new PackagingError(
      ['spec', 'build'],
      `registry ${reg.host} refused the credentials (${m}); set PONTOON_REGISTRY_USERNAME and PONTOON_REGISTRY_PASSWORD, or log in so ~/.docker/config.json (DOCKER_CONFIG) holds them`,
    );
  }
  return new PackagingError(['spec', 'build'], `pushing the image failed: ${m}`);
}

function kib(bytes: number): string {
  return bytes >= 1024 * 1024
    ? `${(bytes / 1024 / 1024).toFixed(1)} MiB`
    : `${(bytes / 1024).toFixed(1)} KiB`;
}
