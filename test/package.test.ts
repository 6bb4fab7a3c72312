/**
 * Pontoon outside its repository (issue 22): `npm pack` the package, install the tarball into an
 * empty folder, and use it from there as a user would — `--help`, `--version`, `validate` and
 * `schedules preview` on the bundled examples, `pontoon dev` until an invocation of `hello`
 * succeeds, `pontoon worker` and `pontoon api` as production runs them, and the client API exactly
 * as the README shows it. Nothing here runs the repository's
 * files: the children's working folder is the empty one, and the repository's sources are not in
 * the tarball (checked).
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../dev/temporal.ts';
import { REPO_ROOT, waitFor } from './helpers.ts';

const run = promisify(execFile);
const dir = mkdtempSync(path.join(os.tmpdir(), 'pontoon-installed-'));
const app = path.join(dir, 'app');
let tarball: { filename: string; size: number; unpackedSize: number; entryCount: number; files: string[] };
let dev: ChildProcess | undefined;
let devLog = '';

/** The environment of a user's shell: no npm script variables, no vitest or loader settings. */
function userEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^(npm_|VITEST|NODE_OPTIONS$|TSX|INIT_CWD$)/i.test(k)) continue;
    env[k] = v;
  }
  // npm and npx put the repository's node_modules/.bin first on PATH; a user's shell has none of it.
  env.PATH = (env.PATH ?? '')
    .split(path.delimiter)
    .filter((d) => !d.includes(`node_modules${path.sep}.bin`))
    .join(path.delimiter);
  return { ...env, NO_COLOR: '1', ...extra };
}

/** Signals a child started with `detached: true` and everything in its process group (npx's children). */
function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  try {
    if (child.pid) process.kill(-child.pid, signal);
  } catch {
    // already gone
  }
}

async function inApp(cmd: string, args: string[], extra: Record<string, string> = {}) {
  try {
    const { stdout, stderr } = await run(cmd, args, { cwd: app, env: userEnv(extra), timeout: 120_000 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

beforeAll(async () => {
  // npm pack runs `prepare` (npm run build) first, so the tarball holds the compiled tree.
  const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', dir], {
    cwd: REPO_ROOT,
    env: userEnv(),
    maxBuffer: 64 * 1024 * 1024,
  });
  const packed = JSON.parse(stdout.slice(stdout.indexOf('['))) as {
    filename: string;
    size: number;
    unpackedSize: number;
    entryCount: number;
    files: { path: string }[];
  }[];
  tarball = { ...packed[0]!, files: packed[0]!.files.map((f) => f.path) };
  writeFileSync(path.join(dir, 'pack.json'), JSON.stringify(tarball, null, 2));
  console.log(
    `[package] ${tarball.filename}: ${tarball.size} bytes packed, ${tarball.unpackedSize} unpacked, ${tarball.entryCount} files`,
  );
  rmSync(app, { recursive: true, force: true });
  writeFileSync(path.join(dir, '.keep'), '');
  await run('mkdir', ['-p', app]);
  // On Node 20, @kubernetes/client-node 2's undici 8 (Node ≥ 22.19) is swapped for undici 7, as the
  // README's "Install the package" tells Node 20 users to do (overrides apply only at the top level).
  const [major, minor] = process.versions.node.split('.').map(Number) as [number, number];
  const node20 = major < 22 || (major === 22 && minor < 19);
  writeFileSync(
    path.join(app, 'package.json'),
    JSON.stringify({
      name: 'uses-pontoon',
      private: true,
      ...(node20 ? { overrides: { undici: '^7' } } : {}),
    }),
  );
  await run('npm', ['install', '--no-audit', '--no-fund', path.join(dir, tarball.filename)], {
    cwd: app,
    env: userEnv(),
    timeout: 600_000,
  });
}, 900_000);

afterAll(async () => {
  if (dev && dev.exitCode === null) {
    signalGroup(dev, 'SIGINT');
    await new Promise((resolve) => {
      const t = setTimeout(() => {
        if (dev) signalGroup(dev, 'SIGKILL');
        resolve(undefined);
      }, 20_000);
      dev?.once('exit', () => {
        clearTimeout(t);
        resolve(undefined);
      });
    });
  }
  rmSync(dir, { recursive: true, force: true });
});

describe('the npm package', () => {
  it('holds the compiled CLI, the examples and the schema, and no sources, tests or benchmarks', () => {
    const files = tarball.files;
    for (const f of [
      'package.json',
      'README.md',
      'LICENSE',
      'CHANGELOG.md',
      'bin/pontoon.mjs',
      'bin/temporal.mjs',
      'dist/cli/main.js',
      'dist/client/index.js',
      'dist/client/index.d.ts',
      'dist/workflows/index.js',
      'function-specs/hello.yaml',
      'function-specs/examples/hello.mjs',
      'function-specs/function.schema.json',
      'dev/registry/up.sh',
    ]) {
      expect(files, f).toContain(f);
    }
    expect(files.filter((f) => /\.ts$/.test(f) && !f.endsWith('.d.ts'))).toEqual([]);
    expect(files.filter((f) => /^(test|bench|docs)\/|\.test\.|tsbuildinfo/.test(f))).toEqual([]);
  });

  it('runs --help, --version, validate and schedules preview from an empty folder', async () => {
    const help = await inApp('npx', ['pontoon', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Usage: pontoon <command> [options]');
    const version = await inApp('npx', ['pontoon', '--version']);
    expect(version.stdout.trim()).toBe(
      `pontoon ${JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')).version}`,
    );
    const examples = path.join(app, 'node_modules', 'pontoon', 'function-specs');
    const valid = await inApp('npx', ['pontoon', 'validate', path.join(examples, 'hello.yaml')]);
    expect(valid).toMatchObject({ code: 0 });
    expect(valid.stdout).toContain('1 function spec valid: hello');
    const preview = await inApp('npx', [
      'pontoon',
      'schedules',
      'preview',
      path.join(examples, 'daily-report.yaml'),
      '--count',
      '3',
      '--from',
      '2026-03-28T00:00:00Z',
    ]);
    expect(preview.code).toBe(0);
    expect(preview.stdout).toMatch(/Europe\/London/);
    expect(preview.stdout.trim().split('\n').length).toBeGreaterThanOrEqual(3);
  }, 120_000);

  it('pontoon dev runs the bundled examples, and the client API starts and awaits hello', async () => {
    const [port, uiPort, apiPort] = [await freePort(), await freePort(), await freePort()];
    dev = spawn(
      'npx',
      ['pontoon', 'dev', '--port', String(port), '--ui-port', String(uiPort), '--api-port', String(apiPort)],
      { cwd: app, env: userEnv(), stdio: ['ignore', 'pipe', 'pipe'], detached: true },
    );
    dev.stdout!.on('data', (d: Buffer) => {
      devLog += d.toString();
    });
    dev.stderr!.on('data', (d: Buffer) => {
      devLog += d.toString();
    });
    const api = `http://127.0.0.1:${apiPort}`;
    // The examples are applied once the API answers and lists hello.
    await waitFor(
      'pontoon dev to list hello',
      async () => {
        if (dev!.exitCode !== null) throw new Error(`pontoon dev exited ${dev!.exitCode}:\n${devLog}`);
        const r = await fetch(`${api}/v1/functions`).catch(() => undefined);
        if (!r?.ok) return undefined;
        const body = (await r.json()) as { functions: { name: string }[] };
        return body.functions.some((f) => f.name === 'hello') ? true : undefined;
      },
      240_000,
    );
    const invoked = await inApp('npx', ['pontoon', 'invoke', 'hello', '--param', 'name=Ada', '--wait'], {
      PONTOON_API: api,
    });
    expect(invoked.code, `${invoked.stdout}${invoked.stderr}\n${devLog}`).toBe(0);
    expect(JSON.parse(invoked.stdout)).toMatchObject({ status: 'succeeded' });

    // `pontoon worker` and `pontoon api` as production runs them (JSON logs), against the same server:
    // each says its version (the worker's first line, the API's /healthz).
    const version = JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')).version;
    const ownApiPort = await freePort();
    const procEnv = {
      TEMPORAL_ADDRESS: `127.0.0.1:${port}`,
      PONTOON_TASK_QUEUE: 'installed-worker',
      PONTOON_DATA_DIR: path.join(app, '.pontoon', 'installed-worker'),
      PONTOON_AUTH: 'none',
      PONTOON_API_PORT: String(ownApiPort),
    };
    const processes = ['worker', 'api'].map((role) => {
      // Own process group: npx's children are stopped with it.
      const child = spawn('npx', ['pontoon', role], {
        cwd: app,
        env: userEnv(procEnv),
        stdio: 'pipe',
        detached: true,
      });
      let out = '';
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
      });
      child.stderr.on('data', (d: Buffer) => {
        out += d.toString();
      });
      return { child, output: () => out };
    });
    try {
      const running = await waitFor(
        'the installed worker to log that it runs',
        () =>
          processes[0]!
            .output()
            .split('\n')
            .filter((l) => l.startsWith('{'))
            .map((l) => JSON.parse(l) as { msg?: string; version?: string })
            .find((r) => r.msg === 'worker running'),
        120_000,
      );
      expect(running.version).toBe(version);
      const health = await waitFor(
        'the installed API to answer /healthz',
        async () => {
          const r = await fetch(`http://127.0.0.1:${ownApiPort}/healthz`).catch(() => undefined);
          return r?.ok ? ((await r.json()) as { status: string; version: string }) : undefined;
        },
        120_000,
      );
      expect(health).toEqual({ status: 'ok', version });
    } finally {
      for (const p of processes) signalGroup(p.child, 'SIGTERM');
    }

    // The README's "From a program" example, as written there, from the user's folder.
    const readme = readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8');
    const snippet = /<!-- client-example -->\n```js\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(snippet, 'README.md has the client example block').toBeTruthy();
    writeFileSync(path.join(app, 'client-example.mjs'), snippet!);
    const program = await inApp('node', ['client-example.mjs'], { TEMPORAL_ADDRESS: `127.0.0.1:${port}` });
    expect(program.code, program.stderr).toBe(0);
    expect(program.stdout).toContain('succeeded');
    expect(program.stdout).toContain('Hello, Ada');
  }, 400_000);
});
