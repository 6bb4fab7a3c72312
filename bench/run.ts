/**
 * `npm run bench -- [scenario…] [--quick] [--sample]`: runs benchmark scenarios, prints each one's
 * figures, then one summary table (figure, baseline, ratio, target) and CPU per process for every
 * phase, and writes everything to bench/results/<timestamp>.json. `--sample` also writes it to
 * bench/results/sample.json, the committed copy (take it from a full run on a quiet machine).
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ensureCluster } from '../dev/cluster/ensure.ts';
import { benchBurst } from './burst.ts';
import { benchCliStartup } from './cli-startup.ts';
import { benchNodes, type KubeEnv, kubeClients } from './cluster.ts';
import { CPU_GROUP_HELP, CPU_GROUPS, CpuMeter, loadAverage1m } from './cpu.ts';
import { benchKube } from './kube.ts';
import { benchKubeReal } from './kube-real.ts';
import {
  buildOnce,
  machine,
  prepareBundles,
  printTable,
  resultsDir,
  type ScenarioContext,
  type ScenarioResult,
  Stacks,
  type SummaryRow,
  workerRunsFrom,
} from './lib.ts';
import { benchPackaging } from './packaging.ts';
import { benchPriority } from './priority.ts';
import { type RealNodeEnv, realNodeEnv } from './real-node.ts';
import { benchScale } from './scale.ts';
import { benchSchedules } from './schedules.ts';
import { benchThroughput } from './throughput.ts';
import { benchThroughputReal } from './throughput-real.ts';
import { benchWarm } from './warm.ts';

/**
 * Where a scenario runs in `--quick`: in a **lane** (one per stack kind; a lane's scenarios run one
 * after another, side by side with the other lanes'), or **alone** (no other scenario runs meanwhile):
 * those whose figures are the machine's saturation (B3's ramps, B9's bursts) or CPU-bound builds (B7).
 * The full run runs every scenario alone.
 */
type Placement = 'local' | 'kube' | 'real' | 'alone';

const SCENARIOS: Record<
  string,
  { id: string; run: (ctx: ScenarioContext) => Promise<ScenarioResult>; quick: Placement }
> = {
  warm: { id: 'B1', run: benchWarm, quick: 'local' },
  kube: { id: 'B2', run: benchKube, quick: 'kube' },
  throughput: { id: 'B3', run: benchThroughput, quick: 'alone' },
  priority: { id: 'B4', run: benchPriority, quick: 'local' },
  scale: { id: 'B5', run: benchScale, quick: 'kube' },
  schedules: { id: 'B6', run: benchSchedules, quick: 'local' },
  packaging: { id: 'B7', run: benchPackaging, quick: 'alone' },
  'kube-real': { id: 'B2r', run: benchKubeReal, quick: 'real' },
  'throughput-real': { id: 'B3r', run: benchThroughputReal, quick: 'real' },
  cli: { id: 'B8', run: benchCliStartup, quick: 'local' },
  burst: { id: 'B9', run: benchBurst, quick: 'alone' },
};

/** The stacks each scenario leases (bench/lib.ts Stacks), started up front with --quick. */
const SHARED_STACKS: Record<string, string[]> = {
  warm: ['local'],
  kube: ['kube'],
  throughput: ['local', 'kube'],
  priority: ['local'],
  scale: ['kube'],
  schedules: ['local'],
  'kube-real': ['kube-real'],
  'throughput-real': ['kube-real'],
  cli: ['local'],
  burst: ['local'],
};

/** Bench nodes: 4 × 300 pods leaves room for B5's 1,000 pods at once plus stragglers. */
const BENCH_NODES = 4;
const PODS_PER_NODE = 300;

/** This process and its ancestors (npm, sh, tsx), which are not "other" activity. */
function ownPids(): Set<number> {
  const pids = new Set<number>();
  for (let pid = process.pid; pid > 1 && !pids.has(pid); ) {
    pids.add(pid);
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      pid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    } catch {
      break;
    }
  }
  return pids;
}

function otherActivity(): string[] {
  try {
    const own = ownPids();
    const out = execFileSync('ps', ['-eo', 'pid,args'], { encoding: 'utf8' });
    return out
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => /vitest|bench\/run\.ts|npm (run )?test/.test(l) && !own.has(Number(l.split(' ')[0])))
      .map((l) => l.slice(0, 120));
  } catch {
    return [];
  }
}

/** The commit measured, and files that differ from it (others' work in progress changes results). */
function codeVersion() {
  const git = (...a: string[]) => {
    try {
      return execFileSync('git', a, {
        cwd: path.resolve(import.meta.dirname, '..'),
        encoding: 'utf8',
      }).trimEnd();
    } catch {
      return '';
    }
  };
  return {
    commit: git('rev-parse', 'HEAD'),
    uncommitted: git('status', '--porcelain', '--untracked-files=no')
      .split('\n')
      .filter(Boolean)
      .map((l) => l.slice(3)),
  };
}

function fmt(n: number | undefined, unit: string): string {
  if (n === undefined || !Number.isFinite(n)) return '-';
  const digits = unit === 'ms' || Math.abs(n) >= 100 ? 0 : Math.abs(n) >= 10 ? 1 : 2;
  return `${n.toFixed(digits)} ${unit}`;
}

/** The printed summary; scenarios in `marked` (ids) get a `*`: they ran side by side with others. */
function summaryTable(rows: SummaryRow[], marked: Set<string> = new Set()) {
  return rows.map((r) => ({
    scenario: `${r.scenario}${marked.has(r.scenario) ? '*' : ''}`,
    figure: r.figure,
    pontoon: fmt(r.pontoon, r.unit),
    baseline: r.baseline === undefined ? '-' : `${fmt(r.baseline, r.unit)} (${r.baselineName})`,
    ratio: r.ratio === undefined || !Number.isFinite(r.ratio) ? '-' : `${r.ratio.toFixed(2)}×`,
    target: r.target ?? 'none set',
    met: r.met === undefined ? '-' : r.met ? 'met' : 'NOT MET',
  }));
}

/**
 * A scenario that fails leaves calls in flight (e.g. result long polls) whose retries throw once
 * its connection is closed; those must not end the other scenarios' run. They are printed and
 * kept with the results.
 */
const stray: string[] = [];
function keepGoing(err: unknown) {
  const text = String((err as Error)?.stack ?? err)
    .split('\n')
    .slice(0, 3)
    .join(' | ');
  stray.push(text);
  console.error(`[bench] an error no scenario caught (ignored; measurements go on): ${text}`);
}
process.on('uncaughtException', keepGoing);
process.on('unhandledRejection', keepGoing);

async function main() {
  const args = process.argv.slice(2);
  const quick = args.includes('--quick');
  const sample = args.includes('--sample');
  const wanted = args.filter((a) => !a.startsWith('--'));
  const unknown = wanted.filter((w) => !(w in SCENARIOS));
  if (unknown.length) {
    console.error(
      `unknown scenario(s) ${unknown.join(', ')}; available: ${Object.keys(SCENARIOS).join(', ')}`,
    );
    process.exit(2);
  }
  const names = wanted.length ? wanted : Object.keys(SCENARIOS);
  const startedAt = new Date();
  const t0 = performance.now();
  const busy = otherActivity();
  if (busy.length)
    console.error(`[bench] other test or bench runs share the machine:\n  ${busy.join('\n  ')}`);
  const loads: number[] = [loadAverage1m()];
  const loadTimer = setInterval(() => loads.push(loadAverage1m()), 5000);
  console.error(`[bench] load average (1 min) at start: ${loads[0]}; bundling workflows …`);
  const bundles = await prepareBundles();

  let kube: Promise<KubeEnv> | undefined;
  let stacks: Stacks;
  let releaseNodes: (() => Promise<void>) | undefined;
  const kubeEnv = () => {
    kube ??= (async () => {
      const kubeconfig = await ensureCluster((l) => console.error(l));
      const { kc, core } = kubeClients(kubeconfig);
      const nodes = await benchNodes(core, BENCH_NODES, PODS_PER_NODE);
      releaseNodes = nodes.release;
      return {
        kubeconfig,
        kc,
        core,
        nodeSelector: nodes.nodeSelector,
        tolerations: nodes.tolerations,
        workerEnv: (namespace: string, extra: Record<string, string> = {}) => ({
          PONTOON_RUNTIME: 'kubernetes',
          KUBECONFIG: kubeconfig,
          PONTOON_KUBE_NAMESPACE: namespace,
          PONTOON_OBSERVER_IMAGE: 'example.invalid/pontoon-observer:bench',
          PONTOON_POD_TOLERATIONS: nodes.podTolerationsEnv,
          ...extra,
        }),
      };
    })();
    return kube;
  };

  let real: Promise<RealNodeEnv> | undefined;
  const realNode = () => {
    real ??= kubeEnv().then((k) => realNodeEnv(k, (l) => console.error(l)));
    return real;
  };

  stacks = new Stacks(quick, bundles, kubeEnv);
  const limit = stacks.workerMemoryLimit;
  console.error(
    `[bench] kubernetes-runtime workers run ${limit ? `in a memory cgroup of ${limit.quantity} (${limit.from})` : 'without a memory limit (PONTOON_BENCH_WORKER_MEMORY_LIMIT=none)'}`,
  );
  if (quick) {
    // --quick shares one stack of each kind among its scenarios: start the ones this run needs
    // together, before any measurement (up to ~15 s saved against starting them one by one).
    const t = performance.now();
    const needs = (kind: string) => names.some((n) => SHARED_STACKS[n]?.includes(kind));
    // One that fails fails the scenarios that lease it (they get the same rejected lease), not the run.
    const started = await Promise.allSettled([
      // B8 times the compiled CLI: built now, not while other lanes measure (a worker from dist/
      // builds it anyway; PONTOON_BENCH_WORKER_FROM=source would leave it to B8).
      names.includes('cli') && buildOnce(),
      needs('local') && stacks.local(),
      needs('kube') && stacks.kube('bench-quick'),
      needs('kube-real') && realNode().then((env) => stacks.kubeReal('bench-quick-real', env.workerEnv)),
    ]);
    for (const s of started)
      if (s.status === 'rejected') console.error(`[bench] a shared stack did not start: ${s.reason}`);
    console.error(`[bench] shared stacks started in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  }

  type Outcome = ScenarioResult & {
    wallSeconds: number;
    error?: string;
    /** Scenarios (ids) that ran at some time during this one (--quick lanes); absent when none did. */
    alongside?: string[];
  };
  const outcomes = new Map<string, Outcome>();
  const spans = new Map<string, [number, number]>();
  const phasesOf = new Map<string, CpuMeter['phases']>();
  const runOne = async (name: string, sideBySide: boolean) => {
    const { id, run } = SCENARIOS[name]!;
    console.log(`\n== ${id} ${name}${quick ? ' (quick)' : ''}${sideBySide ? ': started, side by side' : ''}`);
    const cpu = new CpuMeter(id);
    const started = performance.now();
    const ctx: ScenarioContext = {
      quick,
      bundles,
      cpu,
      log: (l) => console.error(l),
      kube: kubeEnv,
      stacks,
      realNode,
    };
    try {
      const r = await run(ctx);
      const wallSeconds = (performance.now() - started) / 1000;
      outcomes.set(name, { ...r, wallSeconds });
      if (sideBySide) console.log(`\n== ${id} ${name}: results`);
      printTable(summaryTable(r.summary));
      console.log(`(${id} took ${wallSeconds.toFixed(0)} s)`);
    } catch (err) {
      const wallSeconds = (performance.now() - started) / 1000;
      console.error(`[bench] ${id} ${name} failed:`, err);
      outcomes.set(name, {
        scenario: name,
        title: id,
        summary: [],
        details: {},
        wallSeconds,
        error: String((err as Error)?.stack ?? err),
      });
    }
    spans.set(name, [started, performance.now()]);
    phasesOf.set(name, cpu.phases);
  };
  const lanes = new Map<Placement, string[]>();
  if (quick) {
    for (const name of names) {
      const at = SCENARIOS[name]!.quick;
      if (at !== 'alone') lanes.set(at, [...(lanes.get(at) ?? []), name]);
    }
  }
  if (lanes.size > 1) {
    // --quick: the lanes side by side (each in its own order), then the scenarios that run alone.
    const ids = (l: string[]) => l.map((n) => SCENARIOS[n]!.id).join(', ');
    console.log(
      `\n[bench] --quick: side by side, one lane per stack kind: ${[...lanes].map(([k, l]) => `${k} (${ids(l)})`).join('; ')}; then alone: ${ids(names.filter((n) => SCENARIOS[n]!.quick === 'alone')) || 'none'}`,
    );
    await Promise.all(
      [...lanes.values()].map(async (lane) => {
        for (const name of lane) await runOne(name, true);
      }),
    );
    for (const name of names) if (SCENARIOS[name]!.quick === 'alone') await runOne(name, false);
  } else {
    for (const name of names) await runOne(name, false);
  }
  /** Ids of the other scenarios that ran at some time within [a, b] (performance.now() ms). */
  const alongside = (name: string, [a, b]: [number, number]) =>
    names
      .filter((o) => o !== name && spans.get(o)![0] < b && spans.get(o)![1] > a)
      .map((o) => SCENARIOS[o]!.id);
  const results: Outcome[] = names.map((name) => {
    const o = outcomes.get(name)!;
    const with_ = alongside(name, spans.get(name)!);
    return with_.length ? { ...o, alongside: with_ } : o;
  });
  // A phase is marked by what overlapped the phase itself, not the whole scenario.
  const cpuPhases = names.flatMap((name) =>
    phasesOf.get(name)!.map(({ span, ...p }) => {
      const with_ = alongside(name, span);
      return with_.length ? { ...p, alongside: with_ } : p;
    }),
  );
  await stacks.close();
  await releaseNodes?.();
  clearInterval(loadTimer);
  loads.push(loadAverage1m());
  rmSync(bundles.dir, { recursive: true, force: true });
  const wallSeconds = (performance.now() - t0) / 1000;

  const summary = results.flatMap((r) => r.summary);
  console.log(`\n== summary (${quick ? 'quick' : 'full'} run, ${wallSeconds.toFixed(0)} s)`);
  const sideBySide = new Set(results.flatMap((r, i) => (r.alongside ? [SCENARIOS[names[i]!]!.id] : [])));
  if (summary.length) printTable(summaryTable(summary, sideBySide));
  if (sideBySide.size)
    console.log(
      '* ran side by side with other scenarios (--quick lanes): their figures and CPU are indicative only; take figures from a full run, where every scenario runs alone',
    );
  for (const r of results.filter((x) => x.error)) console.log(`${r.title} ${r.scenario}: FAILED (see above)`);
  const missed = summary
    .filter((r) => r.met === false && r.offBy !== undefined && Number.isFinite(r.offBy))
    .sort((a, b) => b.offBy! - a.offBy!);
  const met = summary.filter((r) => r.met === true).length;
  const targets = summary.filter((r) => r.met !== undefined).length;
  console.log(
    `targets met: ${met} of ${targets}${missed[0] ? `; furthest from its target: ${missed[0].scenario} ${missed[0].figure} (${fmt(missed[0].pontoon, missed[0].unit)}${missed[0].ratio !== undefined ? `, ${missed[0].ratio.toFixed(2)}× baseline` : ''}; target ${missed[0].target}: off by ${missed[0].offBy!.toFixed(1)}×)` : ''}`,
  );
  console.log(
    '\n== CPU per process: average cores busy during each phase (the machine has',
    machine().cores,
    ')',
  );
  printTable(
    cpuPhases.map((p) => ({
      phase: `${p.scenario}${'alongside' in p ? '*' : ''} ${p.phase}`,
      wall_s: p.usage.wallSeconds.toFixed(1),
      ...Object.fromEntries(CPU_GROUPS.map((g) => [g, p.usage.cores[g].toFixed(2)])),
    })),
  );
  console.log(
    `load average (1 min): start ${loads[0]}, max ${Math.max(...loads)}, end ${loads[loads.length - 1]}`,
  );

  const file = path.join(resultsDir(), `${startedAt.toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(
    file,
    `${JSON.stringify(
      {
        startedAt: startedAt.toISOString(),
        mode: quick ? 'quick' : 'full',
        wallSeconds,
        machine: machine(),
        code: codeVersion(),
        // dist: worker processes ran the compiled tree; source: the sources through tsx (lib.ts).
        workerRunsFrom: workerRunsFrom(),
        // The memory cgroup kubernetes-runtime workers ran in (memory-limit.ts); none: unconstrained.
        workerMemoryLimit: stacks.workerMemoryLimit ?? 'none',
        load: {
          oneMinuteAtStart: loads[0],
          oneMinuteMax: Math.max(...loads),
          oneMinuteAtEnd: loads[loads.length - 1],
          sampledEvery5s: loads,
          otherTestOrBenchProcessesAtStart: busy,
        },
        summary,
        cpu: { groups: CPU_GROUP_HELP, phases: cpuPhases },
        scenarios: results,
        errorsOutsideMeasurements: stray,
      },
      null,
      2,
    )}\n`,
  );
  console.error(`[bench] wrote ${file}`);
  if (sample) {
    copyFileSync(file, path.join(resultsDir(), 'sample.json'));
    console.error('[bench] and bench/results/sample.json');
  }
  process.exit(results.some((r) => r.error) ? 1 : 0);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
