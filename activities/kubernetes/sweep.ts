/**
 * Sweep: finished Pontoon pods no attempt of this process is collecting (their worker was lost, or
 * storing their record failed), found in the shared watch's cache (no extra reads), recorded and
 * then deleted once old enough — never deleted unrecorded while their execution is open, since the
 * pod is then the attempt's only record. And the log store's retention sweep (logs/sweeper.ts),
 * which runs on every worker.
 */
import type { V1Pod } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { Label } from '../../core/names.ts';
import { EXECUTION_ID_ANNOTATION, RUN_ID_ANNOTATION } from '../../kube/names.ts';
import type { AttemptLogKey, LogStore } from '../../logs/store.ts';
import { startLogSweeper } from '../../logs/sweeper.ts';
import { componentLogger } from '../../platform/logger.ts';
import { classifyPod } from './classify.ts';
import { collect, logOf, toMs } from './collect.ts';
import type { Finisher } from './finish.ts';
import type { PodWatcher } from './pod-watcher.ts';
import type { PodCalls } from './pods.ts';

/** The attempt a pod belongs to, from its labels and annotation. */
export function podKey(pod: V1Pod): AttemptLogKey | undefined {
  const executionId = pod.metadata?.annotations?.[EXECUTION_ID_ANNOTATION];
  const fn = pod.metadata?.labels?.[Label.function];
  const attempt = Number(pod.metadata?.labels?.[Label.attempt]);
  if (!executionId || !fn || !Number.isInteger(attempt)) return undefined;
  return { executionId, function: fn, attempt };
}

export interface PodSweeper {
  /** One pass (the timer runs it every sweepIntervalMs once started). */
  sweep(): Promise<void>;
  /** Starts the pod sweep's timer (with the shared watch: it reads the watch's cache). */
  start(): void;
  /** Stops both timers (pod sweep and log retention). */
  stop(): void;
}

export function createSweeper(o: {
  logger: Logger;
  logStore: LogStore | undefined;
  observerImage: string;
  calls: PodCalls;
  finisher: Pick<Finisher, 'active' | 'storeLog'>;
  /** The shared watch, once started (undefined before: nothing to sweep yet). */
  podWatcher: () => PodWatcher | undefined;
  closed: () => boolean;
  sweepIntervalMs: number;
  sweepAfterMs: number;
  keepFailedPodsMs: number;
  logSweepIntervalMs: number;
  executionOpen: (executionId: string, runId: string | undefined) => Promise<boolean>;
}): PodSweeper {
  const { logger, logStore, calls, finisher, sweepAfterMs, keepFailedPodsMs } = o;
  /** Finished pods kept because they are their attempt's only record (warned once each). */
  const keptUnrecorded = new Set<string>();
  let sweepTimer: NodeJS.Timeout | undefined;
  const logSweeper =
    logStore && startLogSweeper(logStore, o.logSweepIntervalMs, componentLogger(logger, 'log-sweeper'));

  /** Deletes finished Pontoon pods no attempt of this process is collecting, once old enough. */
  async function sweep(): Promise<void> {
    const podWatcher = o.podWatcher();
    if (!podWatcher || o.closed()) return;
    for (const n of keptUnrecorded) if (!podWatcher.get(n)) keptUnrecorded.delete(n);
    const now = Date.now();
    for (const pod of podWatcher.all()) {
      const name = pod.metadata?.name;
      const phase = pod.status?.phase;
      if (!name || finisher.active.has(name) || pod.metadata?.deletionTimestamp) continue;
      if (phase !== 'Succeeded' && phase !== 'Failed') continue;
      const finished = Math.max(
        0,
        ...[...(pod.status?.containerStatuses ?? []), ...(pod.status?.initContainerStatuses ?? [])].map(
          (c) => toMs(c.state?.terminated?.finishedAt) ?? 0,
        ),
      );
      const keep = sweepAfterMs + (phase === 'Failed' ? keepFailedPodsMs : 0);
      if (finished > 0 && now - finished > keep) {
        const key = podKey(pod);
        const runId = pod.metadata?.annotations?.[RUN_ID_ANNOTATION];
        const where = { ...key, pod: name, phase, ...(runId ? { runId } : {}) };
        if (key) {
          // A pod whose attempt was not finished by this worker (lost, or a store failed): its log
          // and its record first, so a retry that comes after the pod is gone still adopts it. The
          // spec is not known here: exit codes are classified again by whoever adopts the record.
          let stored: 'stored' | 'retry' | 'failed' | 'no store' = 'no store';
          if (logStore) {
            const read = await calls.readFunctionLog(name, logger.child(where));
            const st = classifyPod(pod, []);
            const record =
              st.state === 'finished'
                ? {
                    outcome: await collect(
                      calls,
                      o.observerImage,
                      name,
                      pod,
                      st,
                      toMs(pod.metadata?.creationTimestamp) ?? now,
                      read,
                    ),
                    ...(runId ? { runId } : {}),
                  }
                : undefined;
            stored = await finisher.storeLog(key, logOf(read), record);
            if (stored === 'retry' && now - finished < keep + 4 * sweepAfterMs) continue; // next sweep
          }
          if (stored !== 'stored') {
            // No record: while the execution is open, a retry of its lost attempt may still come, and
            // would find neither pod nor record and run the function again. The pod is the record
            // until the execution closes (or a later sweep stores it).
            let open = true;
            try {
              open = await o.executionOpen(key.executionId, runId);
            } catch (err) {
              logger.debug(
                { ...where, err: (err as Error).message },
                'cannot tell whether the execution is open',
              );
            }
            if (open) {
              if (!keptUnrecorded.has(name)) {
                keptUnrecorded.add(name);
                logger.warn(
                  where,
                  'keeping a finished pod whose record could not be stored: its execution is still open and the pod is the only record of the attempt',
                );
              }
              continue;
            }
            logger.warn(
              where,
              'deleting a finished pod whose record could not be stored: its execution is closed',
            );
          }
        }
        keptUnrecorded.delete(name);
        logger.info(where, 'sweeping a finished pod nobody collected');
        await calls.deletePod(name, pod.metadata?.uid, undefined, logger.child(where));
      }
    }
  }

  return {
    sweep,
    start() {
      sweepTimer = setInterval(() => void sweep(), o.sweepIntervalMs);
      sweepTimer.unref();
    },
    stop() {
      if (sweepTimer) clearInterval(sweepTimer);
      logSweeper?.stop();
    },
  };
}
