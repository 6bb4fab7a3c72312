/**
 * Packaging against the real OCI registry (CNCF distribution started by the global setup): what
 * `pontoon build` pushes is read back from the registry's own API (manifest, config, layer tars),
 * blob uploads are counted in the registry's access log, and every bad input is a located error
 * with exit 2. Specs and contexts are copied to a temporary folder per test, so edits stay local.
 */
import { execFile, spawn } from 'node:child_process';
import {
  cpSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  symlinkSync,
  truncateSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { gunzipSync } from 'node:zlib';
import * as tar from 'tar';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { freePort } from '../dev/temporal.ts';
import { MAX_CONTEXT_FILE_BYTES } from '../packaging/context.ts';
import { embeddedRegistryDir, registryBinary } from '../packaging/registry.ts';
import { REPO_ROOT, uniqueName } from './helpers.ts';

const run = promisify(execFile);
const FIXTURES = path.join(REPO_ROOT, 'test', 'fixtures', 'packaging');

async function pontoon(args: string[], env: Record<string, string> = {}, cwd = REPO_ROOT) {
  try {
    const { stdout, stderr } = await run(
      process.execPath,
      [path.join(REPO_ROOT, 'bin', 'pontoon.mjs'), ...args],
      {
        cwd,
        env: { ...process.env, ...env },
        maxBuffer: 16 * 1024 * 1024,
      },
    );
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

/** A copy of a fixture context beside a spec file; returns the spec path. `build` is YAML under build:. */
function project(
  fixture: string,
  name: string,
  build: string,
  extraSpec = '',
): { dir: string; spec: string } {
  const dir = mkdtempSync(path.join(inject('testDir'), 'pkg-'));
  if (fixture) cpSync(path.join(FIXTURES, fixture), path.join(dir, 'src'), { recursive: true });
  const spec = path.join(dir, 'fn.yaml');
  writeFileSync(
    spec,
    [
      'apiVersion: pontoon.dev/v1',
      'kind: Function',
      'metadata:',
      `  name: ${name}`,
      'spec:',
      '  build:',
      ...build
        .trim()
        .split('\n')
        .map((l) => `    ${l}`),
      ...(extraSpec ? extraSpec.trimEnd().split('\n') : []),
      '',
    ].join('\n'),
  );
  return { dir, spec };
}

const registry = () => inject('registry');
const registryUrl = (p: string) => `http://${registry()}${p}`;

interface Manifest {
  config: { digest: string };
  layers: { digest: string; size: number; mediaType: string }[];
}
async function manifestOf(repo: string, ref: string): Promise<Manifest> {
  const res = await fetch(registryUrl(`/v2/${repo}/manifests/${ref}`), {
    headers: {
      accept:
        'application/vnd.oci.image.manifest.v1+json,application/vnd.docker.distribution.manifest.v2+json',
    },
  });
  expect(res.status).toBe(200);
  return (await res.json()) as Manifest;
}
async function blob(repo: string, digest: string): Promise<Buffer> {
  const res = await fetch(registryUrl(`/v2/${repo}/blobs/${digest}`));
  expect(res.status).toBe(200);
  return Buffer.from(await res.arrayBuffer());
}
let tarCount = 0;
/** Entry paths of a gzip layer blob (folders end with /). */
function tarPaths(gz: Buffer): string[] {
  const file = path.join(inject('testDir'), `layer-${process.pid}-${++tarCount}.tar`);
  writeFileSync(file, gunzipSync(gz));
  const paths: string[] = [];
  tar.list({
    file,
    sync: true,
    onReadEntry: (e) => paths.push(`${e.path}${e.type === 'Directory' && !e.path.endsWith('/') ? '/' : ''}`),
  });
  return paths;
}
/** Blob uploads (PUT …/blobs/uploads/…?digest=) of one repository so far, from the registry's access log. */
function uploadsOf(repo: string): string[] {
  const log = readFileSync(path.join(embeddedRegistryDir(), 'registry.log'), 'utf8');
  const re = new RegExp(
    `"PUT /v2/${repo.replaceAll('/', '\\/')}/blobs/uploads/[^ ]*digest=sha256%3A([0-9a-f]{64})`,
    'g',
  );
  return [...log.matchAll(re)].map((m) => `sha256:${m[1]}`);
}

interface Built {
  function: string;
  reference: string;
  digest: string;
  sourceDigest: string;
  layers: { role: string; digest: string }[];
}
async function build(spec: string, env: Record<string, string> = {}): Promise<Built> {
  const r = await pontoon(['build', spec, '-o', 'json'], env);
  expect(r.stderr + r.stdout).not.toMatch(/error/i);
  expect(r.code).toBe(0);
  const out = JSON.parse(r.stdout) as Built[];
  expect(out).toHaveLength(1);
  return out[0]!;
}

describe('pontoon build (node runtime) against the real registry', () => {
  const name = uniqueName('pkg-node');
  const repo = `pontoon/${name}`;
  let p: { dir: string; spec: string };
  let first: Built;

  beforeAll(async () => {
    p = project('node-fn', name, 'context: src\nruntime: node\ncommand: [node, main.mjs]');
    // Left out by the rules: *.log and secret.txt (.pontoonignore), node_modules (always, for node).
    writeFileSync(path.join(p.dir, 'src', 'debug.log'), 'noise\n');
    mkdirSync(path.join(p.dir, 'src', 'node_modules', 'stale'), { recursive: true });
    writeFileSync(path.join(p.dir, 'src', 'node_modules', 'stale', 'index.js'), '');
    first = await build(p.spec);
  });

  it('pushes <registry>/pontoon/<function>@sha256 with the command, env and labels in its config', async () => {
    expect(first.reference).toBe(`${registry()}/${repo}@${first.digest}`);
    expect(first.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    const manifest = await manifestOf(repo, first.digest);
    const config = JSON.parse((await blob(repo, manifest.config.digest)).toString()) as {
      architecture: string;
      os: string;
      config: { Entrypoint: string[]; Env: string[]; Labels: Record<string, string>; WorkingDir: string };
      rootfs: { diff_ids: string[] };
    };
    expect(config.os).toBe('linux');
    expect(config.architecture).toBe('amd64');
    expect(config.config.Entrypoint).toEqual(['node', 'main.mjs']);
    expect(config.config.WorkingDir).toBe('/app');
    expect(config.config.Env).toContain('NODE_ENV=production');
    expect(config.config.Env.some((e) => e.startsWith('PATH=') && e.includes('/usr/local/bin'))).toBe(true);
    expect(config.config.Labels['pontoon.dev/function']).toBe(name);
    expect(config.config.Labels['pontoon.dev/source-digest']).toBe(first.sourceDigest);
    // The source digest is the code layer's uncompressed digest (its diff_id): the last layer.
    expect(config.rootfs.diff_ids.at(-1)).toBe(first.sourceDigest);
    expect(first.layers.map((l) => l.role).slice(-2)).toEqual(['dependencies', 'code']);
  });

  it('the code layer holds exactly the context files after ignores, under /app', async () => {
    const code = first.layers.at(-1)!;
    const paths = tarPaths(await blob(repo, code.digest));
    expect(paths.sort()).toEqual([
      'app/lib/',
      'app/lib/util.mjs',
      'app/main.mjs',
      'app/package-lock.json',
      'app/package.json',
    ]);
    const deps = tarPaths(await blob(repo, first.layers.at(-2)!.digest));
    expect(deps).toContain('app/node_modules/is-number/package.json');
    expect(deps.some((d) => d.includes('stale'))).toBe(false);
  });

  it('building twice gives the same digest and uploads no layer, even after every file was touched', async () => {
    // Times and the checkout's umask are not part of the image: touch everything a minute ahead.
    const later = new Date(Date.now() + 60_000);
    for (const f of ['main.mjs', 'lib/util.mjs', 'lib', 'package.json', '.'])
      utimesSync(path.join(p.dir, 'src', f), later, later);
    const before = uploadsOf(repo);
    const again = await build(p.spec);
    expect(again.digest).toBe(first.digest);
    const layerDigests = new Set(again.layers.map((l) => l.digest));
    expect(
      uploadsOf(repo)
        .slice(before.length)
        .filter((d) => layerDigests.has(d)),
    ).toEqual([]);
  });

  it('changing one file uploads exactly one new layer: the code layer', async () => {
    writeFileSync(
      path.join(p.dir, 'src', 'lib', 'util.mjs'),
      "export const shout = (s) => s.toUpperCase() + '!!';\n",
    );
    const before = uploadsOf(repo);
    const changed = await build(p.spec);
    expect(changed.digest).not.toBe(first.digest);
    expect(changed.sourceDigest).not.toBe(first.sourceDigest);
    // base and dependency layers are the same blobs
    expect(changed.layers.slice(0, -1).map((l) => l.digest)).toEqual(
      first.layers.slice(0, -1).map((l) => l.digest),
    );
    const layerDigests = new Set(changed.layers.map((l) => l.digest));
    const uploadedLayers = uploadsOf(repo)
      .slice(before.length)
      .filter((d) => layerDigests.has(d));
    expect(uploadedLayers).toEqual([changed.layers.at(-1)!.digest]);
  });
});

describe('a base image of your own', () => {
  it('PONTOON_BASE_NODE replaces the runtime base for specs without build.base', async () => {
    const name = uniqueName('pkg-base');
    const p = project('node-fn', name, 'context: src\nruntime: node\ncommand: [node, main.mjs]');
    // Any image the registry holds: here the python runtime's base, to tell it apart.
    const py = await build(project('python-fn', uniqueName('pkg-py'), 'context: src\nruntime: python').spec);
    const base = `${registry()}/pontoon/${py.function}@${py.digest}`;
    const built = await build(p.spec, { PONTOON_BASE_NODE: base });
    const manifest = await manifestOf(`pontoon/${name}`, built.digest);
    const pyManifest = await manifestOf(`pontoon/${py.function}`, py.digest);
    expect(manifest.layers.slice(0, pyManifest.layers.length).map((l) => l.digest)).toEqual(
      pyManifest.layers.map((l) => l.digest),
    );
  });
});

describe('pontoon build (python runtime)', () => {
  it('installs requirements.txt into their own layer on PYTHONPATH', async () => {
    const name = uniqueName('pkg-py');
    const p = project('python-fn', name, 'context: src\nruntime: python');
    const built = await build(p.spec);
    const repo = `pontoon/${name}`;
    const manifest = await manifestOf(repo, built.digest);
    const config = JSON.parse((await blob(repo, manifest.config.digest)).toString());
    expect(config.config.Entrypoint).toEqual(['python3', 'main.py']);
    expect(config.config.Env).toContain('PYTHONPATH=/opt/pontoon/python');
    const deps = tarPaths(await blob(repo, built.layers.at(-2)!.digest));
    expect(deps).toContain('opt/pontoon/python/six.py');
    const code = tarPaths(await blob(repo, built.layers.at(-1)!.digest));
    expect(code.sort()).toEqual(['app/main.py', 'app/requirements.txt']);
  });
});

describe('bad input: a located error, exit 2, nothing pushed', () => {
  // In every spec written by project(), `build:` is line 6 and its first field line 7, column 5.
  const expectProblem = (r: { code: number; stderr: string }, spec: string, at: string, message: RegExp) => {
    expect(r.code).toBe(2);
    const line = r.stderr.split('\n').find((l) => l.startsWith(`${spec}:`));
    expect(line, r.stderr).toBeDefined();
    expect(line!.startsWith(`${spec}:${at}`), line).toBe(true);
    expect(line).toMatch(message);
  };

  it('a context folder that does not exist', async () => {
    const p = project('', uniqueName('pkg-bad'), 'context: nowhere\nruntime: node');
    const r = await pontoon(['build', p.spec]);
    expectProblem(
      r,
      p.spec,
      '7:5 spec.build.context:',
      /context folder .*nowhere does not exist; build.context is relative to the spec file/,
    );
  });

  it('image and build in one spec file', async () => {
    const p = project(
      'node-fn',
      uniqueName('pkg-bad'),
      'context: src\nruntime: node',
      '  image: busybox:1.36',
    );
    const r = await pontoon(['validate', p.spec]);
    expectProblem(r, p.spec, '9:3 spec.image:', /set either image \(a prebuilt image\) or build/);
  });

  it('a context that is a file, not a folder', async () => {
    const p = project('node-fn', uniqueName('pkg-bad'), 'context: src/main.mjs\nruntime: node');
    const r = await pontoon(['build', p.spec]);
    expectProblem(r, p.spec, '7:5 spec.build.context:', /src\/main.mjs is not a folder/);
  });

  it('a symlink that leaves the context', async () => {
    const p = project('node-fn', uniqueName('pkg-bad'), 'context: src\nruntime: node');
    symlinkSync('/etc/passwd', path.join(p.dir, 'src', 'passwd'));
    const r = await pontoon(['build', p.spec]);
    expectProblem(
      r,
      p.spec,
      '7:5 spec.build.context:',
      /src\/passwd: symlink leaves the context \(→ \/etc\/passwd\)/,
    );
  });

  it('a file above the size limit', async () => {
    const p = project('node-fn', uniqueName('pkg-bad'), 'context: src\nruntime: node');
    const big = path.join(p.dir, 'src', 'data.bin');
    writeFileSync(big, '');
    truncateSync(big, MAX_CONTEXT_FILE_BYTES + 1); // sparse: no disk used
    const r = await pontoon(['build', p.spec]);
    expectProblem(
      r,
      p.spec,
      '7:5 spec.build.context:',
      new RegExp(
        `data.bin: file is ${MAX_CONTEXT_FILE_BYTES + 1} bytes; the limit is ${MAX_CONTEXT_FILE_BYTES} bytes`,
      ),
    );
  });

  it('an unknown runtime', async () => {
    const p = project('node-fn', uniqueName('pkg-bad'), 'context: src\nruntime: ruby');
    const r = await pontoon(['build', p.spec]);
    expectProblem(
      r,
      p.spec,
      '8:14 spec.build.runtime:',
      /the string "ruby" is not allowed; allowed: node, python, static/,
    );
  });

  it('a lockfile that does not install', async () => {
    const p = project('node-fn', uniqueName('pkg-bad'), 'context: src\nruntime: node');
    const pkg = path.join(p.dir, 'src', 'package.json');
    // A dependency the lockfile does not hold: npm ci refuses the pair.
    writeFileSync(
      pkg,
      readFileSync(pkg, 'utf8').replace('"is-number": "7.0.0"', '"is-number": "7.0.0", "left-pad": "1.3.0"'),
    );
    const r = await pontoon(['build', p.spec]);
    expectProblem(
      r,
      p.spec,
      '7:5 spec.build.context:',
      /package-lock.json did not install \(npm ci\): .*(in sync|Missing)/,
    );
  });

  it('a package.json without a lockfile', async () => {
    const p = project('node-fn', uniqueName('pkg-bad'), 'context: src\nruntime: node');
    writeFileSync(path.join(p.dir, 'src', 'package-lock.json'), '');
    const { rmSync } = await import('node:fs');
    rmSync(path.join(p.dir, 'src', 'package-lock.json'));
    const r = await pontoon(['build', p.spec]);
    expectProblem(
      r,
      p.spec,
      '7:5 spec.build.context:',
      /has no package-lock.json beside it: run `npm install`/,
    );
  });

  it('a registry that is unreachable', async () => {
    const p = project('node-fn', uniqueName('pkg-bad'), 'context: src\nruntime: node');
    const port = await freePort();
    const r = await pontoon(['build', p.spec], { PONTOON_REGISTRY: `127.0.0.1:${port}` });
    expectProblem(r, p.spec, '6:3 spec.build:', new RegExp(`registry 127.0.0.1:${port} is unreachable`));
  });

  it('a registry is unreachable whatever its port holds: 127.0.0.1:40307 contains "403" (seen in CI)', async () => {
    const { registryProblem } = await import('../packaging/build.ts');
    const { CraneError } = await import('../packaging/crane.ts');
    const refused = new CraneError(
      'crane append: Error: pushing image 127.0.0.1:40307/pontoon/base/node:24: Get "http://127.0.0.1:40307/v2/": dial tcp 127.0.0.1:40307: connect: connection refused',
    );
    const reg = { host: '127.0.0.1:40307', prefix: '127.0.0.1:40307', insecure: true } as never;
    expect(registryProblem(refused, reg).message).toMatch(/^registry 127\.0\.0\.1:40307 is unreachable/);
    const denied = new CraneError(
      'PUT https://reg:40307/v2/x/manifests/y: UNAUTHORIZED: authentication required',
    );
    expect(registryProblem(denied, reg).message).toMatch(
      /^registry 127\.0\.0\.1:40307 refused the credentials/,
    );
    const status = new CraneError(
      'GET https://reg/v2/: unexpected status code 401 Unauthorized (HEAD responses have no body)',
    );
    expect(registryProblem(status, reg).message).toMatch(/refused the credentials/);
  });

  it('a registry that refuses the credentials', async () => {
    const dir = mkdtempSync(path.join(inject('testDir'), 'auth-registry-'));
    const port = await freePort();
    // bcrypt of "s3cret" for user "pontoon" (htpasswd format the registry reads), cost 4: the
    // registry checks it on every request, and at cost 12 a loaded machine took over 60 s to build.
    writeFileSync(
      path.join(dir, 'htpasswd'),
      'pontoon:$2b$04$CK4DRL3YTjgSvuy2WthZKOMkjdaxeSg4aDwcWOfsN6N9MmM/1bE6u\n',
    );
    writeFileSync(
      path.join(dir, 'config.yml'),
      `version: 0.1\nlog: {level: error}\nstorage: {filesystem: {rootdirectory: ${dir}/storage}}\nhttp: {addr: 127.0.0.1:${port}}\nauth: {htpasswd: {realm: pontoon-test, path: ${dir}/htpasswd}}\n`,
    );
    const child = spawn(registryBinary(), ['serve', path.join(dir, 'config.yml')], { stdio: 'ignore' });
    try {
      for (let i = 0; i < 100; i++) {
        const ok = await fetch(`http://127.0.0.1:${port}/v2/`).then(
          (r) => r.status === 401,
          () => false,
        );
        if (ok) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      const p = project('node-fn', uniqueName('pkg-bad'), 'context: src\nruntime: node');
      const r = await pontoon(['build', p.spec], {
        PONTOON_REGISTRY: `127.0.0.1:${port}`,
        PONTOON_REGISTRY_USERNAME: 'pontoon',
        PONTOON_REGISTRY_PASSWORD: 'wrong',
      });
      expectProblem(
        r,
        p.spec,
        '6:3 spec.build:',
        new RegExp(`registry 127.0.0.1:${port} refused the credentials`),
      );
      // The right password is accepted by the same registry.
      const ok = await pontoon(['build', p.spec, '-o', 'json'], {
        PONTOON_REGISTRY: `127.0.0.1:${port}`,
        PONTOON_REGISTRY_USERNAME: 'pontoon',
        PONTOON_REGISTRY_PASSWORD: 's3cret',
      });
      expect(ok.stderr).not.toMatch(/refused/);
      expect(ok.code).toBe(0);
      expect(JSON.parse(ok.stdout)[0].reference).toMatch(new RegExp(`^127.0.0.1:${port}/pontoon/`));
    } finally {
      child.kill();
    }
  }, 180_000);

  it('a private IP registry is refused before anything is sent (plain HTTP only on loopback)', async () => {
    const p = project('node-fn', uniqueName('pkg-bad'), 'context: src\nruntime: node');
    const r = await pontoon(['build', p.spec], { PONTOON_REGISTRY: '10.1.2.3:5000' });
    expectProblem(r, p.spec, '6:3 spec.build:', /plain HTTP is allowed on loopback only/);
  });
});
