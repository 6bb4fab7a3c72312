/**
 * Sweep: process groups a lost worker left running for an execution (reaped before its next
 * attempt starts, so a retry never runs beside them), and the log store's retention timer
 * (logs/sweeper.ts) over the attempt folders. Counterpart of the kubernetes runtime's sweep.ts,
 * whose leftovers are finished pods.
 */
import { readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import { executionDir, PID_FILE } from '../../logs/dir.ts';
import type { LogStore } from '../../logs/store.ts';
import { startLogSweeper } from '../../logs/sweeper.ts';
import { componentLogger } from '../../platform/logger.ts';
import { EXIT_FILE } from './launch.ts';
import { alive, isAttemptLeader, reapGroup, recordedPgid } from './processes.ts';

export interface LocalSweeper {
  /**
   * Kills process groups left by earlier runs of this execution: a worker that died mid-attempt
   * leaves its child running, and the retried attempt must never run beside it. Resolves how many
   * groups were killed.
   */
  reapExecution(executionId: string): Promise<number>;
  /** Stops the log store's retention timer. */
  stop(): void;
}

export function createSweeper(o: {
  dataDir: string;
  logger: Logger;
  /** The log store over dataDir and how often its retention runs; unset: no retention. */
  logs: { store: LogStore; sweepIntervalMs: number } | undefined;
}): LocalSweeper {
  const { dataDir, logger } = o;
  const logSweeper =
    o.logs && startLogSweeper(o.logs.store, o.logs.sweepIntervalMs, componentLogger(logger, 'log-sweeper'));

  async function reapExecution(executionId: string): Promise<number> {
    const root = executionDir(dataDir, executionId);
    let reaped = 0;
    let entries: string[] = [];
    try {
      entries = await readdir(root);
    } catch {
      return 0;
    }
    for (const entry of entries) {
      const pidFile = path.join(root, entry, PID_FILE);
      const pgid = await recordedPgid(pidFile);
      if (pgid === undefined) continue;
      if (pgid > 1 && alive(pgid)) {
        if ((await isAttemptLeader(pgid, path.join(root, entry, EXIT_FILE))) === false) {
          logger.info(
            { executionId, pgid, folder: entry },
            'the pid file names a process that is not this attempt (reused pid, or after a reboot): left alone',
          );
          await rm(pidFile, { force: true });
          continue;
        }
        const how = await reapGroup(pgid);
        // The exit status sh records for a function we killed is ours, not the function's: gone,
        // so the attempt runs again. One the function reached by itself stays, and is adopted.
        if (how === 'interrupted') await rm(path.join(root, entry, EXIT_FILE), { force: true });
        reaped++;
        logger.warn(
          { executionId, pgid, folder: entry, function: how },
          'killed a process group left by a lost worker',
        );
      }
      await rm(pidFile, { force: true });
    }
    return reaped;
  }

  return {
    reapExecution,
    stop() {
      logSweeper?.stop();
    },
  };
}
