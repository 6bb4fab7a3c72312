/**
 * A process's memory from /proc, in a module of its own: bench/worker-host.ts reads its own with it,
 * and importing cpu.ts there would load the cluster helpers (and @kubernetes/client-node) into every
 * worker process measured, the local runtime's too.
 */
import { readFileSync } from 'node:fs';

/** Resident set size and its high-water mark of a process, in MiB (from /proc/<pid>/status). */
export function memoryOf(pid: number): { rssMiB: number; hwmMiB: number } | undefined {
  try {
    const s = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(s)?.[1] ?? Number.NaN);
    return { rssMiB: kb('VmRSS') / 1024, hwmMiB: kb('VmHWM') / 1024 };
  } catch {
    return undefined;
  }
}
