/**
 * How the on-demand sidecar notices that the function has exited, without waiting for the kubelet.
 *
 * Why: with the kubelet's generic PLEG (a container runtime relist every second, the default), a
 * sidecar stopped by the kubelet costs a pod a second relist: the first one sees the function
 * exited, the kubelet then sends the sidecar its SIGTERM, and the pod becomes Succeeded only once a
 * later relist sees the sidecar gone (measured on the real node: ~0.9 s more than a pod without a
 * sidecar, README Performance). A sidecar that exits on its own right after the function lets one
 * relist see both containers exited, and the pod ends at once.
 *
 * How: attempt pods share one process namespace (spec.shareProcessNamespace, set by
 * activities/kubernetes/pod.ts), so the sidecar sees the function container's processes in /proc.
 * A process belongs to another container when its cgroup and its mount namespace both differ from
 * the sidecar's own (every container has a cgroup and a root filesystem of its own; the postStart
 * hook runs in the sidecar's): otherContainerPids says why both. PID 1 (the pod's pause process) is
 * never counted. The function has exited once such processes were seen and
 * none is left. Without a shared namespace (a pod built before this) none is ever seen, and the
 * kubelet's SIGTERM stays the signal, as before.
 *
 * Beside the function (an ordinary container, not a native sidecar: the pod shape for requests that
 * fit in an annotation) the observer may start after the function has already come and gone, and
 * no SIGTERM ever comes. It tells "not started yet" from "already gone" by process IDs: the pod's
 * process namespace hands them out in order from 1 (the pause process), and the kubelet starts the
 * function container before the observer, so the observer's container got a PID above 2 exactly
 * when some process was created in the pod before it (`startedBefore`). A function container that
 * could not start at all (its image is still being pulled) used none, and is waited for.
 */
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import path from 'node:path';

/**
 * How often /proc is read, in ms: every 25 ms for the function's first 10 s (most functions are
 * short, and the delay it adds is half the interval on average), then every 200 ms. One read costs
 * ~0.013 ms of CPU per process listed (synchronous reads; measured on the test machine: 1.1 ms for 82
 * processes), ~0.1 ms in a pod, so 0.4 % of a core at first and 0.05 % after.
 */
export const FUNCTION_EXIT_POLL = { fastMs: 25, fastForMs: 10_000, slowMs: 200 } as const;

/** What tells the sidecar's own processes from others: its cgroup and its mount namespace. */
export interface OwnContainer {
  /** Contents of /proc/self/cgroup. */
  cgroup: string;
  /** Target of /proc/self/ns/mnt, e.g. "mnt:[4026532301]". */
  mnt: string;
}

/**
 * PIDs in `procRoot` (a procfs mount) that belong to another container: a cgroup other than the
 * sidecar's AND a readable mount namespace other than its own. PID 1 and `selfPid` are left out. The
 * second test leaves out processes caught between two places: a process the runtime is still
 * setting up (runc's init, e.g. for the kubelet's exec of the sidecar's own postStart hook) may sit
 * in another cgroup for a moment, but it is not dumpable and not the pod's user, so its namespace
 * cannot be read; counting it would make the sidecar think a function came and went. A process that
 * ends while it is read is skipped. Synchronous: the sidecar has nothing else to do, and one pass
 * costs far less than its promises would. Throws only when `procRoot` cannot be listed.
 *
 * `countUnreadable`: count a process in another cgroup whose namespace cannot be read as another
 * container's too (the observer beside the function: it runs no hook, so nothing of its own is ever
 * caught half set up, and a function running as another user is unreadable but still running).
 */
export function otherContainerPids(
  procRoot: string,
  own: OwnContainer,
  selfPid: number,
  countUnreadable = false,
): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync(procRoot)) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid === 1 || pid === selfPid) continue;
    let cgroup: string;
    try {
      cgroup = readFileSync(path.join(procRoot, entry, 'cgroup'), 'utf8');
    } catch {
      continue; // it ended meanwhile
    }
    if (cgroup === own.cgroup) continue;
    let mnt: string;
    try {
      mnt = readlinkSync(path.join(procRoot, entry, 'ns', 'mnt'));
    } catch {
      // It ended meanwhile, or it is not ours to read (being set up by the runtime, another user).
      if (countUnreadable && existsSync(path.join(procRoot, entry))) pids.push(pid);
      continue;
    }
    if (mnt !== own.mnt) pids.push(pid);
  }
  return pids;
}

/**
 * Whether some process was created in the pod's process namespace before the observer's own
 * container: the lowest PID in the observer's mount namespace (its container's first process, or
 * `selfPid`) is above 2, PID 1 being the pause process. Linux hands PIDs out in increasing order in
 * a new namespace (pid_namespaces(7); they wrap only at pid_max), and every container start takes one
 * (runc's init becomes the container's process). Throws only when `procRoot` cannot be listed.
 */
export function startedBefore(procRoot: string, own: OwnContainer, selfPid: number): boolean {
  let first = selfPid;
  for (const entry of readdirSync(procRoot)) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid >= first) continue;
    try {
      if (readlinkSync(path.join(procRoot, entry, 'ns', 'mnt')) === own.mnt) first = pid;
    } catch {
      // ended, or not ours to read: not the observer's own
    }
  }
  return first > 2;
}

export interface FunctionExitWatch {
  /** Stops watching; `onExit` is not called after it. */
  stop(): void;
}

/**
 * Calls `onExit` once, when processes of another container were seen in `procRoot` and none is
 * left. Reads `procRoot` at FUNCTION_EXIT_POLL's pace (`intervalMs` fixes one interval, for tests);
 * a read that fails (procfs missing or unreadable) stops the watch: the caller's other signal
 * (SIGTERM) still ends the sidecar.
 *
 * `beside`: the observer runs beside the function, not before it: a function that started before
 * the observer (`startedBefore`) counts as seen from the first read, and processes whose namespace
 * cannot be read count (`otherContainerPids`' `countUnreadable`).
 */
export function watchFunctionExit(
  onExit: () => void,
  opts: { procRoot?: string; intervalMs?: number; selfPid?: number; beside?: boolean } = {},
): FunctionExitWatch {
  const procRoot = opts.procRoot ?? '/proc';
  const selfPid = opts.selfPid ?? process.pid;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let seenAt: number | undefined;
  const interval = () =>
    opts.intervalMs ??
    (seenAt === undefined || Date.now() - seenAt < FUNCTION_EXIT_POLL.fastForMs
      ? FUNCTION_EXIT_POLL.fastMs
      : FUNCTION_EXIT_POLL.slowMs);
  let own: OwnContainer;
  try {
    own = {
      cgroup: readFileSync(path.join(procRoot, 'self', 'cgroup'), 'utf8'),
      mnt: readlinkSync(path.join(procRoot, 'self', 'ns', 'mnt')),
    };
    if (opts.beside && startedBefore(procRoot, own, selfPid)) seenAt = Date.now();
  } catch {
    return { stop() {} };
  }
  const tick = () => {
    if (stopped) return;
    let others: number[];
    try {
      others = otherContainerPids(procRoot, own, selfPid, opts.beside);
    } catch {
      return;
    }
    if (others.length > 0) seenAt ??= Date.now();
    else if (seenAt !== undefined) {
      stopped = true;
      onExit();
      return;
    }
    // unref: the sidecar's own keep-alive decides how long it lives, not this watch.
    timer = setTimeout(tick, interval());
    timer.unref();
  };
  timer = setTimeout(tick, 0);
  timer.unref();
  return {
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
    },
  };
}
