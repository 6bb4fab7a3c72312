/**
 * How the observer notices that the function has exited, without waiting for the kubelet.
 *
 * Why: beside the function (an ordinary container) the observer is never signalled when the function
 * ends, so it must see it; as a native sidecar (the layout for a large request) it is, but with the
 * kubelet's generic PLEG (a container runtime relist every second, the default) a sidecar stopped by
 * the kubelet costs a pod a second relist: the first one sees the function exited, the kubelet then
 * sends the sidecar its SIGTERM, and the pod becomes Succeeded only once a later relist sees the
 * sidecar gone (measured on the real node: ~0.9 s more than a pod without a sidecar, README
 * Performance). An observer that exits on its own right after the function lets one relist see both
 * containers exited, and the pod ends at once.
 *
 * How: attempt pods share one process namespace (spec.shareProcessNamespace, set by
 * activities/kubernetes/pod.ts), so the observer sees the function container's processes in /proc.
 * A process belongs to another container when its cgroup and its mount namespace both differ from
 * the observer's own (every container has a cgroup and a root filesystem of its own; the sidecar's
 * postStart hook runs in the sidecar's): otherContainerPids says why both. PID 1 (the pod's pause
 * process) is never counted. As a sidecar, the function has exited once such processes were seen and
 * none is left; without a shared namespace (a pod built before it) none is ever seen, and the
 * kubelet's SIGTERM stays the signal.
 *
 * Beside the function (an ordinary container, not a native sidecar: the pod shape for requests that
 * fit in an annotation) the observer may start after the function has already come and gone, and
 * no SIGTERM ever comes. It tells "not started yet" from "already gone" by a file: the function
 * container mounts its input.json (a downward API file) over the shared folder, so the container
 * runtime creates an empty input.json there while it sets that container up, in a process of the
 * pod's process namespace that becomes the function (runc creates a missing mount target in the
 * container's own init; checked on the test cluster's real node: the file is there once the function
 * container was created, and absent while its image cannot be pulled). So once the file exists, the
 * function's process existed; if /proc, read after the file was seen, shows no process of the
 * function, it is gone. Process IDs would not do: the runtime's own processes take several in the
 * pod's namespace before each container's first (the observer got PID 7 with no function started).
 * Whatever the observer cannot see (a container runtime that leaves no mount target, a function that
 * never starts after creating it), the worker's safety net ends: when the kubelet reports the
 * function exited and the observer is still running, the worker stops the pod, and the observer
 * reports on its SIGTERM (activities/kubernetes/await.ts).
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

/** What tells the observer's own processes from others: its cgroup and its mount namespace. */
export interface OwnContainer {
  /** Contents of /proc/self/cgroup. */
  cgroup: string;
  /** Target of /proc/self/ns/mnt, e.g. "mnt:[4026532301]". */
  mnt: string;
  /** Real uid of the observer (/proc/self/status), read beside the function only. */
  uid?: number;
}

/** The real uid in a /proc/<pid>/status text, or undefined. */
export function statusUid(status: string): number | undefined {
  const m = /^Uid:\s+(\d+)/m.exec(status);
  return m ? Number(m[1]) : undefined;
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
 * `beside` (the observer beside the function, `own.uid` set): the function runs as the pod's uid, the
 * observer's own, so a process of another cgroup counts when its real uid (/proc/<pid>/status, which
 * anyone may read) is the observer's, or 0 (the runtime's init setting the function container up as
 * root, before it switches user and executes the function; its namespace cannot be read then), and
 * its mount namespace is not the observer's or cannot be read. A container of another user (a
 * service mesh's proxy injected into the pod: Pod Security "restricted" keeps them non-root) is not
 * the function and does not count: the observer must not wait for a proxy that outlives it.
 */
export function otherContainerPids(
  procRoot: string,
  own: OwnContainer,
  selfPid: number,
  beside = false,
): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync(procRoot)) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid === 1 || pid === selfPid) continue;
    let cgroup: string;
    let uid: number | undefined;
    try {
      cgroup = readFileSync(path.join(procRoot, entry, 'cgroup'), 'utf8');
      if (cgroup === own.cgroup) continue;
      if (beside) uid = statusUid(readFileSync(path.join(procRoot, entry, 'status'), 'utf8'));
    } catch {
      continue; // it ended meanwhile
    }
    if (beside && uid !== own.uid && uid !== 0) continue;
    let mnt: string;
    try {
      mnt = readlinkSync(path.join(procRoot, entry, 'ns', 'mnt'));
    } catch {
      // It ended meanwhile, or it is not ours to read (being set up by the runtime).
      if (beside && existsSync(path.join(procRoot, entry))) pids.push(pid);
      continue;
    }
    if (mnt !== own.mnt) pids.push(pid);
  }
  return pids;
}

export interface FunctionExitWatch {
  /** Stops watching; `onExit` is not called after it. */
  stop(): void;
}

/**
 * Calls `onExit` once, when processes of another container were seen in `procRoot` and none is
 * left. Reads `procRoot` at FUNCTION_EXIT_POLL's pace (`intervalMs` fixes one interval, for tests);
 * a read that fails (procfs missing or unreadable) stops the watch: the caller's other signal
 * (SIGTERM) still ends the observer.
 *
 * `createdMarker` (the observer beside the function): a file that exists once the function container
 * was created (its input.json mount target in the shared folder). Only it says the function started:
 * `onExit` is called once it has been seen, before a read of /proc that lists no process of the
 * function (`otherContainerPids`' `beside` rule). Processes seen before it only set the pace (a
 * `kubectl exec` into the observer, set up by the runtime in another cgroup, is not a function
 * that came and went).
 */
export function watchFunctionExit(
  onExit: () => void,
  opts: { procRoot?: string; intervalMs?: number; selfPid?: number; createdMarker?: string } = {},
): FunctionExitWatch {
  const procRoot = opts.procRoot ?? '/proc';
  const selfPid = opts.selfPid ?? process.pid;
  const beside = opts.createdMarker !== undefined;
  let created = false;
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
    if (beside) {
      own.uid = statusUid(readFileSync(path.join(procRoot, 'self', 'status'), 'utf8'));
      if (own.uid === undefined) throw new Error('no Uid line in /proc/self/status');
    }
  } catch {
    return { stop() {} };
  }
  const tick = () => {
    if (stopped) return;
    // The marker first, then /proc: a function whose marker was seen and whose processes are not
    // listed after it has ended, not yet to start.
    if (beside && !created && existsSync(opts.createdMarker!)) created = true;
    let others: number[];
    try {
      others = otherContainerPids(procRoot, own, selfPid, beside);
    } catch {
      return;
    }
    if (others.length > 0) seenAt ??= Date.now();
    else if (beside ? created : seenAt !== undefined) {
      stopped = true;
      onExit();
      return;
    }
    // unref: the observer's own keep-alive decides how long it lives, not this watch.
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
