/**
 * Await: an attempt's process waited for until it ends, with the heartbeat that keeps a live worker
 * from being taken for a lost one. Its timeout and a cancellation stop the whole process group
 * (SIGTERM, SIGKILL after the grace); once the main process is gone, whatever it left in its group
 * is killed too (no orphans) and the pid file goes: the attempt is over when its group is.
 */
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { cancelGraceMs } from '../../contract/exit.ts';
import { PID_FILE } from '../../logs/dir.ts';
import type { AttemptControl } from '../runtime.ts';
import type { LaunchedProcess, ProcessExit } from './launch.ts';
import { groupGone, killGroup } from './processes.ts';

/**
 * Heartbeat period of a process attempt. A beat carries the pid and the time so far (the Web UI's
 * pending activity); the SDK throttles what it sends to the server.
 */
export const HEARTBEAT_MS = 1000;

/** How the wait ended: the process's exit, and whether the runtime stopped it (and why). */
export interface ProcessVerdict extends ProcessExit {
  timedOut: boolean;
  cancelled: boolean;
}

/**
 * Waits for the attempt's process to exit. `timeoutMs` after `startedAt` it is stopped (timed
 * out); on `control.signal` it is stopped (cancelled) with at most the cancellation grace
 * (contract/exit.ts). Resolves once its process group is gone and its pid file removed.
 */
export async function awaitProcess(
  launched: LaunchedProcess,
  o: { dir: string; startedAt: string; timeoutMs: number; killGraceMs: number; control: AttemptControl },
): Promise<ProcessVerdict> {
  const { pgid } = launched;
  const { control } = o;
  let timedOut = false;
  let cancelled = false;
  let killTimer: NodeJS.Timeout | undefined;
  const stop = (why: 'timeout' | 'cancel') => {
    if (why === 'timeout') timedOut = true;
    else cancelled = true;
    killGroup(pgid, 'SIGTERM');
    killTimer ??= setTimeout(
      () => killGroup(pgid, 'SIGKILL'),
      why === 'cancel' ? cancelGraceMs(o.killGraceMs) : o.killGraceMs,
    );
  };
  const timeoutTimer = setTimeout(() => stop('timeout'), o.timeoutMs);
  const beat = setInterval(
    () => control.heartbeat({ pid: pgid, elapsedMs: Date.now() - Date.parse(o.startedAt) }),
    HEARTBEAT_MS,
  );
  const onAbort = () => stop('cancel');
  control.signal.addEventListener('abort', onAbort, { once: true });
  control.heartbeat({ pid: pgid, elapsedMs: 0 });

  const { code, signal } = await launched.exited;
  clearTimeout(timeoutTimer);
  clearInterval(beat);
  control.signal.removeEventListener('abort', onAbort);
  if (killTimer) clearTimeout(killTimer);
  // The main process is gone; anything it left in its group goes too (no orphans).
  killGroup(pgid, 'SIGKILL');
  await groupGone(pgid);
  await rm(path.join(o.dir, PID_FILE), { force: true });
  return { code, signal, timedOut, cancelled };
}
