/**
 * CPU time per process, from /proc/<pid>/stat (utime + stime), so every phase of a benchmark can say
 * where the machine's 2 cores went: the Temporal dev server, the simulated cluster's components,
 * the Pontoon worker process (and separately the function processes it starts), the bench driver
 * (load generator, Temporal client, bare-pod watches), and everything else on the machine (from
 * /proc/stat's totals minus what is accounted for: other people's tests show up there).
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { clusterPid } from './cluster.ts';

const TICKS_PER_SECOND = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

interface ProcStat {
  ppid: number;
  /** utime + stime, ticks. */
  self: number;
  /** cutime + cstime: waited-for children, ticks. */
  children: number;
}

function readStat(pid: number): ProcStat | undefined {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name is in parentheses and may hold spaces: fields start after the last ')'.
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return {
      ppid: Number(f[1]),
      self: Number(f[11]) + Number(f[12]),
      children: Number(f[13]) + Number(f[14]),
    };
  } catch {
    return undefined;
  }
}

function allProcesses(): Map<number, ProcStat> {
  const out = new Map<number, ProcStat>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const st = readStat(Number(name));
    if (st) out.set(Number(name), st);
  }
  return out;
}

function machineTicks(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
  const [user, nice, system, idle, iowait, irq, softirq, steal] = line
    .trim()
    .split(/\s+/)
    .slice(1)
    .map(Number);
  const busy = user! + nice! + system! + irq! + softirq! + steal!;
  return { busy, total: busy + idle! + iowait! };
}

/** The 1-minute load average. */
export function loadAverage1m(): number {
  return Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);
}

/**
 * What a phase is measured against. Every getter is read at each snapshot, so a process that is
 * replaced mid-run (a restarted apiserver) is followed.
 */
export interface Processes {
  devServer?: () => number | undefined;
  worker?: () => number | undefined;
}

/** Groups in the order they are printed. */
export const CPU_GROUPS = [
  'temporal',
  'apiserver',
  'etcd',
  'kcm+sched',
  'kwok',
  'kubelet+ctrd',
  'pods',
  'worker',
  'functions',
  'driver',
  'other',
  'idle',
] as const;
export type CpuGroup = (typeof CPU_GROUPS)[number];

export const CPU_GROUP_HELP: Record<CpuGroup, string> = {
  temporal: 'Temporal dev server (temporal server start-dev)',
  apiserver: 'kube-apiserver',
  etcd: 'etcd',
  'kcm+sched': 'kube-controller-manager + kube-scheduler',
  kwok: 'kwok (the simulated kubelets)',
  'kubelet+ctrd':
    "the real node's kubelet and containerd (not the per-pod containerd-shims: they are in other)",
  pods: "containers of every pod on the real node (the kubepods cgroup's cpuacct.usage, exited containers included)",
  worker: 'the Pontoon worker process (and the bare-Temporal baseline worker, which lives in it)',
  functions: "function processes started by the worker (local runtime), its children's CPU",
  driver: 'the bench process: load generator, Temporal client, bare-pod watches',
  other: 'every other process on the machine (busy CPU not accounted above)',
  idle: 'idle CPU',
};

/** CPU nanoseconds of all pods' containers on the real node (cgroup v1 cpuacct, else v2 cpu.stat). */
function kubepodsNs(): number {
  try {
    return Number(readFileSync('/sys/fs/cgroup/cpuacct/kubepods/cpuacct.usage', 'utf8').trim());
  } catch {
    try {
      const stat = readFileSync('/sys/fs/cgroup/kubepods/cpu.stat', 'utf8');
      return Number(/^usage_usec (\d+)/m.exec(stat)?.[1] ?? 0) * 1000;
    } catch {
      return 0;
    }
  }
}

interface Snapshot {
  at: number;
  podsNs: number;
  machine: { busy: number; total: number };
  procs: Map<number, ProcStat>;
  roots: Partial<Record<Exclude<CpuGroup, 'functions' | 'other' | 'idle'>, number>>;
}

function snapshot(p: Processes): Snapshot {
  const roots: Snapshot['roots'] = {
    temporal: p.devServer?.(),
    apiserver: clusterPid('kube-apiserver'),
    etcd: clusterPid('etcd'),
    kwok: clusterPid('kwok'),
    worker: p.worker?.(),
    driver: process.pid,
  };
  const machine = machineTicks();
  const procs = allProcesses();
  return { at: performance.now(), podsNs: kubepodsNs(), machine, procs, roots };
}

function descendants(procs: Map<number, ProcStat>, root: number): Set<number> {
  const kids = new Map<number, number[]>();
  for (const [pid, st] of procs) {
    const list = kids.get(st.ppid) ?? [];
    list.push(pid);
    kids.set(st.ppid, list);
  }
  const out = new Set<number>();
  const stack = [...(kids.get(root) ?? [])];
  while (stack.length) {
    const pid = stack.pop()!;
    out.add(pid);
    stack.push(...(kids.get(pid) ?? []));
  }
  return out;
}

export interface CpuUsage {
  wallSeconds: number;
  /** CPU seconds per group. */
  seconds: Record<CpuGroup, number>;
  /** Average cores busy per group (seconds / wall); the machine has `cores` of them. */
  cores: Record<CpuGroup, number>;
  machineCores: number;
}

function between(a: Snapshot, b: Snapshot): CpuUsage {
  const ticks = Object.fromEntries(CPU_GROUPS.map((g) => [g, 0])) as Record<CpuGroup, number>;
  const selfDelta = (pid: number | undefined) => {
    if (pid === undefined) return 0;
    const end = b.procs.get(pid);
    if (!end) return 0;
    return end.self - (a.procs.get(pid)?.self ?? 0);
  };
  for (const g of ['temporal', 'apiserver', 'etcd', 'kwok', 'driver'] as const) {
    ticks[g] = selfDelta(b.roots[g]);
    // A process replaced during the phase (restarted component): its predecessor's share is lost.
  }
  // The dev server may run helpers of its own; count its descendants with it.
  if (b.roots.temporal)
    for (const d of descendants(b.procs, b.roots.temporal)) ticks.temporal += selfDelta(d);
  for (const name of ['kube-controller-manager', 'kube-scheduler'])
    ticks['kcm+sched'] += selfDelta(clusterPid(name));
  for (const name of ['kubelet', 'containerd']) ticks['kubelet+ctrd'] += selfDelta(clusterPid(name));
  ticks.pods = Math.max(0, ((b.podsNs - a.podsNs) / 1e9) * TICKS_PER_SECOND);
  const worker = b.roots.worker ?? a.roots.worker;
  if (worker !== undefined) {
    ticks.worker = selfDelta(worker);
    // Function processes: live descendants' own CPU, plus what the worker reaped during the phase
    // (cutime), minus what those reaped ones had already used before the phase began.
    const now = descendants(b.procs, worker);
    const before = descendants(a.procs, worker);
    let fn = 0;
    for (const d of now) fn += selfDelta(d);
    const w0 = a.procs.get(worker);
    const w1 = b.procs.get(worker);
    if (w0 && w1) {
      fn += w1.children - w0.children;
      for (const d of before) {
        if (now.has(d)) continue;
        const st = a.procs.get(d)!;
        if (st.ppid === worker) fn -= st.self + st.children;
      }
    }
    ticks.functions = Math.max(0, fn);
  }
  const busy = b.machine.busy - a.machine.busy;
  const total = b.machine.total - a.machine.total;
  const accounted = CPU_GROUPS.filter((g) => g !== 'other' && g !== 'idle').reduce((s, g) => s + ticks[g], 0);
  ticks.other = Math.max(0, busy - accounted);
  ticks.idle = Math.max(0, total - busy);
  const wallSeconds = (b.at - a.at) / 1000;
  const seconds = Object.fromEntries(CPU_GROUPS.map((g) => [g, ticks[g] / TICKS_PER_SECOND])) as Record<
    CpuGroup,
    number
  >;
  const cores = Object.fromEntries(
    CPU_GROUPS.map((g) => [g, wallSeconds > 0 ? seconds[g] / wallSeconds : 0]),
  ) as Record<CpuGroup, number>;
  return {
    wallSeconds,
    seconds,
    cores,
    machineCores: total / TICKS_PER_SECOND / Math.max(wallSeconds, 1e-9),
  };
}

/** Measures CPU per group across one phase of a scenario. */
export class CpuMeter {
  /** `span`: start and end, milliseconds on this process's `performance.now()` clock. */
  readonly phases: { scenario: string; phase: string; usage: CpuUsage; span: [number, number] }[] = [];
  constructor(private readonly scenario: string) {}

  async phase<T>(name: string, processes: Processes, fn: () => Promise<T>): Promise<T> {
    const a = snapshot(processes);
    const t0 = performance.now();
    try {
      return await fn();
    } finally {
      const b = snapshot(processes);
      this.phases.push({
        scenario: this.scenario,
        phase: name,
        usage: between(a, b),
        span: [t0, performance.now()],
      });
    }
  }
}

/**
 * Waits until the given processes together use less than `cores` of CPU over half a second (a
 * server still working off the previous phase's backlog), at most `maxMs` (other people's load on a
 * shared cluster may never let it calm down).
 */
export async function waitForQuiet(
  pids: (number | undefined)[],
  cores = 0.25,
  maxMs = 3000,
): Promise<number> {
  const start = performance.now();
  const sum = () => pids.reduce<number>((s, pid) => s + (pid ? (readStat(pid)?.self ?? 0) : 0), 0);
  for (;;) {
    const a = sum();
    await new Promise((r) => setTimeout(r, 500));
    const used = (sum() - a) / TICKS_PER_SECOND / 0.5;
    if (used < cores || performance.now() - start > maxMs) return performance.now() - start;
  }
}
