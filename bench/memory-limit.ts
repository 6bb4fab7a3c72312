/**
 * The kubernetes-runtime worker measured as deploy/ runs it: in a memory cgroup with the memory
 * limit of deploy/worker-deployment.yaml's `worker` container. Node sizes V8's heaps from that
 * limit (Node 20 on this machine: in a 1 GiB cgroup, a 524 MiB heap limit and an 8 MiB new space,
 * against 4,144 MiB and 32 MiB on the 24 GiB host), so a worker measured outside it collects
 * garbage far later than a deployed one and reports memory no deployment sees.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';

const MANIFEST = path.resolve(import.meta.dirname, '..', 'deploy', 'worker-deployment.yaml');
const BINARY_SUFFIX: Record<string, number> = { '': 1, Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40 };

/** Bytes of a Kubernetes memory quantity with a binary suffix or none ("1Gi", "512Mi"); throws on others. */
export function memoryBytes(quantity: string): number {
  const m = /^([0-9]+)(Ki|Mi|Gi|Ti)?$/.exec(quantity);
  if (!m) throw new Error(`memory quantity ${JSON.stringify(quantity)}: expected <integer>[Ki|Mi|Gi|Ti]`);
  return Number(m[1]) * BINARY_SUFFIX[m[2] ?? '']!;
}

/** The `worker` container's `resources.limits.memory` in deploy/worker-deployment.yaml, in bytes. */
export function deployedWorkerMemoryLimit(): { quantity: string; bytes: number } {
  for (const doc of parseAllDocuments(readFileSync(MANIFEST, 'utf8'))) {
    const d = doc.toJS() as {
      kind?: string;
      spec?: {
        template?: {
          spec?: { containers?: { name: string; resources?: { limits?: { memory?: string } } }[] };
        };
      };
    };
    if (d?.kind !== 'Deployment') continue;
    const c = d.spec?.template?.spec?.containers?.find((x) => x.name === 'worker');
    const quantity = c?.resources?.limits?.memory;
    if (quantity) return { quantity, bytes: memoryBytes(quantity) };
  }
  throw new Error(`${MANIFEST}: no worker container with resources.limits.memory`);
}

export interface MemoryCgroup {
  /** Its directory; a process joins it by writing its pid to `cgroup.procs` there. */
  dir: string;
  /** Removes it (once its processes have exited). */
  remove(): void;
}

/** Where memory cgroups are made: the unified hierarchy (v2), or v1's memory controller. */
function memoryHierarchy(): { v2: boolean; root: string } {
  const v2 = existsSync('/sys/fs/cgroup/cgroup.controllers');
  return { v2, root: v2 ? '/sys/fs/cgroup' : '/sys/fs/cgroup/memory' };
}

/**
 * A new memory cgroup limited to `bytes` (cgroup v2 `memory.max`, or v1 `memory.limit_in_bytes`
 * under the memory controller's hierarchy). Needs root; throws with the reason otherwise.
 */
export function createMemoryCgroup(name: string, bytes: number): MemoryCgroup {
  const { v2, root } = memoryHierarchy();
  const dir = path.join(root, name);
  try {
    if (v2 && !readFileSync(path.join(root, 'cgroup.subtree_control'), 'utf8').includes('memory'))
      writeFileSync(path.join(root, 'cgroup.subtree_control'), '+memory');
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, v2 ? 'memory.max' : 'memory.limit_in_bytes'), String(bytes));
  } catch (err) {
    throw new Error(
      `cannot create the memory cgroup ${dir} (${(err as Error).message}): run the benchmark as root on a host with the cgroup memory controller`,
    );
  }
  return {
    dir,
    remove() {
      try {
        rmdirSync(dir);
      } catch {
        // still has a process, or already gone: a later run removes it (removeStaleCgroups)
      }
    },
  };
}

/**
 * The memory limit kubernetes-runtime workers run under: PONTOON_BENCH_WORKER_MEMORY_LIMIT when set
 * (a quantity, or `none` for no cgroup: the host's defaults, as before 2026-12-05), else the
 * deployed worker's. undefined: none.
 */
export function benchWorkerMemoryLimit(
  env: NodeJS.ProcessEnv = process.env,
): { quantity: string; bytes: number; from: string } | undefined {
  const set = env.PONTOON_BENCH_WORKER_MEMORY_LIMIT;
  if (set === 'none') return undefined;
  if (set) return { quantity: set, bytes: memoryBytes(set), from: 'PONTOON_BENCH_WORKER_MEMORY_LIMIT' };
  return { ...deployedWorkerMemoryLimit(), from: 'deploy/worker-deployment.yaml' };
}

let created = 0;

/**
 * Removes the worker cgroups of bench runs that are gone (a run killed before its workers exited):
 * `pontoon-bench-<pid>-<n>` whose <pid> no longer runs. One that still holds a process stays.
 */
function removeStaleCgroups(): void {
  const { root } = memoryHierarchy();
  let names: string[];
  try {
    names = readdirSync(root);
  } catch {
    return;
  }
  for (const name of names) {
    const pid = /^pontoon-bench-(\d+)-\d+$/.exec(name)?.[1];
    if (!pid || existsSync(`/proc/${pid}`)) continue;
    try {
      rmdirSync(path.join(root, name));
    } catch {
      // a process of that run still lives in it
    }
  }
}

/** A cgroup of its own for one worker process (named after this process), limited to `bytes`. */
export function workerCgroup(bytes: number): MemoryCgroup {
  if (created === 0) removeStaleCgroups();
  return createMemoryCgroup(`pontoon-bench-${process.pid}-${++created}`, bytes);
}
