/**
 * The local runtime's hands on processes: the process group each attempt runs in (killed whole on a
 * timeout or cancellation), and the reap of a lost worker's attempt — freeze the group, tell whether
 * the function had ended by itself, kill the rest — through /proc (Linux). Counterpart of the
 * kubernetes runtime's pods.ts: the process calls the other parts share (attempts and warm replicas).
 */
import { existsSync } from 'node:fs';
import { lstat, readdir, readFile } from 'node:fs/promises';
import { readRegularFile } from '../../contract/output.ts';

export function alive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Waits (bounded) until nothing of a killed group is left, zombies included: its members are
 * children of the attempt's sh, which dies with them, so init reaps them, not this process.
 */
export async function groupGone(pgid: number, timeoutMs = 3000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (alive(pgid) && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
}

/** A process of a group as /proc shows it: its parent, and its state (`Z`: exited, not yet reaped). */
interface GroupMember {
  pid: number;
  ppid: number;
  state: string;
}

/** The members of a process group, from /proc (Linux); undefined where there is no /proc. */
export async function groupMembers(pgid: number): Promise<GroupMember[] | undefined> {
  let entries: string[];
  try {
    entries = await readdir('/proc');
  } catch {
    return undefined;
  }
  const members: GroupMember[] = [];
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    let stat: string;
    try {
      stat = await readFile(`/proc/${e}/stat`, 'utf8');
    } catch {
      continue; // gone meanwhile
    }
    // "pid (comm) state ppid pgrp …": comm may hold spaces and parentheses; the last ')' ends it.
    const [state, ppid, pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(pgrp) === pgid && state) members.push({ pid: Number(e), ppid: Number(ppid), state });
  }
  return members;
}

const EXITED = new Set(['Z', 'X', 'x']);
const STOPPED = new Set(['T', 't']);

/**
 * Kills a lost attempt's process group and tells whether its function had already ended by itself
 * (`finished`: the exit status its sh records is the function's own) or was killed here
 * (`interrupted`). The group is frozen first (SIGSTOP) so nothing can end between the look and the
 * kill; then everything but its leader (the attempt's sh) is killed, and sh, let go, records the
 * status and exits. Without this, killing sh in the instant between the function's end and sh's
 * write would lose a finished attempt's status, and the retry would run it a second time.
 * `unknown`: no /proc (not Linux): the whole group is killed at once, as before.
 */
export async function reapGroup(pgid: number): Promise<'finished' | 'interrupted' | 'unknown'> {
  killGroup(pgid, 'SIGSTOP');
  let members = await groupMembers(pgid);
  if (!members) {
    killGroup(pgid, 'SIGKILL');
    await groupGone(pgid);
    return 'unknown';
  }
  // SIGSTOP lands when each process next runs: wait (bounded) until every member is stopped or has exited.
  for (let i = 0; i < 50 && members.some((m) => !STOPPED.has(m.state) && !EXITED.has(m.state)); i++) {
    await new Promise((r) => setTimeout(r, 20));
    members = (await groupMembers(pgid)) ?? [];
  }
  // The function is sh's child (`(exec "$@")`); alive now means it had not ended by itself.
  const fn = members.find((m) => m.ppid === pgid);
  const interrupted = fn !== undefined && !EXITED.has(fn.state);
  for (const m of members) {
    if (m.pid === pgid) continue;
    try {
      process.kill(m.pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  try {
    process.kill(pgid, 'SIGCONT');
  } catch {
    // sh had already exited
  }
  await groupGone(pgid, 5000);
  if (alive(pgid)) {
    killGroup(pgid, 'SIGKILL');
    await groupGone(pgid);
  }
  return interrupted ? 'interrupted' : 'finished';
}

/** The name (`$0`) an attempt's sh runs under (launch.ts): argv[3] of its process. */
export const ATTEMPT_SH_NAME = 'pontoon-attempt';

/**
 * Whether process `pgid` is the sh this runtime started for the attempt whose exit file is
 * `exitFile` (its argv: /bin/sh -c <script> pontoon-attempt <exitFile> …), read from
 * /proc/<pgid>/cmdline. A pid file outlives its process: after a reboot, or once the number is
 * reused, it names somebody else's process, which the reap must never freeze or kill. undefined:
 * no /proc to tell (not Linux).
 */
export async function isAttemptLeader(pgid: number, exitFile: string): Promise<boolean | undefined> {
  if (!existsSync('/proc/self/cmdline')) return undefined;
  try {
    const argv = (await readFile(`/proc/${pgid}/cmdline`, 'utf8')).split('\0');
    return argv[3] === ATTEMPT_SH_NAME && argv[4] === exitFile;
  } catch {
    return false; // gone, or not ours to read
  }
}

/** Sends `signal` to process group `pgid` (an attempt's or a warm replica's); gone already: nothing. */
export function killGroup(pgid: number, signal: NodeJS.Signals): void {
  // Never process.kill(-1) or (-0): those signal every process of the user or this process's group.
  if (!(pgid > 1)) return;
  try {
    process.kill(-pgid, signal);
  } catch {
    // already gone
  }
}

/**
 * The pgid in an attempt's pid file, if the worker wrote it: a regular file of the worker's own uid
 * (never one a function made in its folder — it could name any process group for the reap to kill).
 */
export async function recordedPgid(pidFile: string): Promise<number | undefined> {
  try {
    const st = await lstat(pidFile);
    if (!st.isFile() || st.uid !== (process.getuid?.() ?? st.uid)) return undefined;
  } catch {
    return undefined;
  }
  const read = await readRegularFile(pidFile, 32);
  if (!('bytes' in read)) return undefined;
  const pgid = Number(read.bytes.toString('utf8').trim());
  return Number.isInteger(pgid) ? pgid : undefined;
}

const SIGNALS: Partial<Record<NodeJS.Signals, number>> = {
  SIGHUP: 1,
  SIGINT: 2,
  SIGKILL: 9,
  SIGSEGV: 11,
  SIGTERM: 15,
  SIGABRT: 6,
};
/** The number of a signal (an exit by signal n is reported as 128 + n, as a shell would). */
export function signalNumber(signal: NodeJS.Signals): number | undefined {
  return SIGNALS[signal];
}
