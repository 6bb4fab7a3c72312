/**
 * Finish: what happens to an attempt after its activity has returned the outcome — its log and its
 * record (the outcome a retried activity adopts) stored in the log store (logs/), then, only once
 * the record is stored, the pod deleted after PONTOON_POD_DELETE_DELAY (or kept: a failed pod with
 * PONTOON_KEEP_FAILED_PODS). Also the read side of the record: `recordedOutcome` for a retried
 * activity. Until its record is stored a pod is the record, and the sweeper (sweep.ts) stores it.
 */
import type { Logger } from 'pino';
import { exitFailure, exitMessage } from '../../contract/exit.ts';
import type { AttemptOutcome, AttemptRequest } from '../../core/execution.ts';
import { apiError, isTransient } from '../../kube/requests.ts';
import {
  type AttemptLogKey,
  type AttemptRecord,
  type LogStore,
  recordOfAnotherRun,
} from '../../logs/store.ts';
import { sleep } from '../../util/sleep.ts';
import type { PodCalls } from './pods.ts';
import type { AttemptPodTrace } from './trace.ts';

/** What becomes of the pod once the record is stored: deleted (this uid), kept, or nothing (none left). */
export type PodAction = { delete: string | undefined; graceSeconds?: number } | 'keep' | 'none';

/** `stored`: durable; `retry`: a transient failure, a later try may succeed; `failed`: refused. */
export type StoreResult = 'stored' | 'retry' | 'failed';

export interface Finisher {
  /** Pods an attempt of this process is awaiting, collecting or finishing: never swept. */
  readonly active: Set<string>;
  /**
   * Keeps an attempt's log and its record. Only `stored` lets the pod go: until then the pod is the
   * record. Without a log store: `stored`.
   */
  storeLog(
    key: AttemptLogKey,
    log: { text: string; partial: boolean },
    record?: AttemptRecord,
  ): Promise<StoreResult>;
  /**
   * The outcome recorded for this attempt by a worker that was lost, if any (the record of another
   * run of the same execution id is not this attempt's). Exit codes are classified again with this
   * request's spec: the sweeper records pods without knowing their spec.
   */
  recordedOutcome(
    req: AttemptRequest,
    key: AttemptLogKey,
    runId: string | undefined,
  ): Promise<AttemptOutcome | undefined>;
  /**
   * After the outcome is returned: the log and the record into the store, then the pod deleted (or
   * kept) — never before the record is stored, so a retry always finds one or the other. The pod
   * stays active (not swept) until this is done; close() waits for it.
   */
  finishLater(
    attempt: {
      name: string;
      key: AttemptLogKey;
      runId: string | undefined;
      log: Logger;
      trace: AttemptPodTrace;
    },
    logText: { text: string; partial: boolean },
    podAction: PodAction,
    outcome: AttemptOutcome,
  ): void;
  /** Resolves when every finishing started so far is done. */
  settled(): Promise<void>;
}

export function createFinisher(o: {
  logStore: LogStore | undefined;
  logger: Logger;
  calls: Pick<PodCalls, 'retrying' | 'deletePod'>;
  keepFailedPodsMs: number;
  deleteDelayMs: number;
  /** Aborted at close(): delayed deletions happen at once (the worker's completions were sent). */
  closing: AbortSignal;
  closed: () => boolean;
}): Finisher {
  const { logStore, logger, calls } = o;
  const active = new Set<string>();
  /** Log stores and pod deletions still running after their activity returned (close() awaits them). */
  const finishing = new Set<Promise<void>>();

  async function storeLog(
    key: AttemptLogKey,
    log: { text: string; partial: boolean },
    record?: AttemptRecord,
  ): Promise<StoreResult> {
    if (!logStore) return 'stored';
    try {
      await calls.retrying(`store the log of ${key.executionId} attempt ${key.attempt}`, () =>
        logStore.put(key, log.text, { partial: log.partial, ...(record ? { record } : {}) }),
      );
      return 'stored';
    } catch (err) {
      const transient = isTransient(err) && !o.closed();
      logger.warn(
        { ...key, store: logStore.where, err: apiError(err).message },
        transient
          ? 'could not store the attempt log and record; the pod stays for the sweeper to try again'
          : 'could not store the attempt log and record (check the worker may create Secrets in the log namespace, or write the log folder); the pod stays for the sweeper',
      );
      return transient ? 'retry' : 'failed';
    }
  }

  async function recordedOutcome(
    req: AttemptRequest,
    key: AttemptLogKey,
    runId: string | undefined,
  ): Promise<AttemptOutcome | undefined> {
    if (!logStore) return undefined;
    const record = await calls.retrying(`read the record of ${key.executionId} attempt ${key.attempt}`, () =>
      logStore.getRecord(key),
    );
    if (!record) return undefined;
    if (recordOfAnotherRun(record, runId)) return undefined;
    const out = record.outcome;
    const codes = req.spec.spec.execution.retry.nonRetryableExitCodes;
    if (
      out.failure?.type === 'FunctionExit' &&
      out.exitCode !== null &&
      out.failure.message === exitMessage(out.exitCode) &&
      codes.includes(out.exitCode)
    ) {
      return { ...out, failure: exitFailure(out.exitCode, codes) };
    }
    return out;
  }

  /** Work left after the activity has returned its outcome: the result never waits for it. */
  function afterAttempt(name: string, log: Logger, work: () => Promise<void>): void {
    active.add(name);
    const p: Promise<void> = work()
      .catch((err: unknown) =>
        log.warn(
          { pod: name, err: (err as Error).message },
          'finishing an attempt pod failed; the sweeper will',
        ),
      )
      .finally(() => {
        finishing.delete(p);
        active.delete(name);
      });
    finishing.add(p);
  }

  function finishLater(
    attempt: {
      name: string;
      key: AttemptLogKey;
      runId: string | undefined;
      log: Logger;
      trace: AttemptPodTrace;
    },
    logText: { text: string; partial: boolean },
    podAction: PodAction,
    outcome: AttemptOutcome,
  ): void {
    const { name, key, runId, log, trace } = attempt;
    const record: AttemptRecord = { outcome, ...(runId ? { runId } : {}) };
    afterAttempt(name, log, async () => {
      const stored = await trace.after('StoreAttemptLog', () => storeLog(key, logText, record));
      if (podAction === 'none') return;
      if (podAction === 'keep') {
        log.info({ keepForMs: o.keepFailedPodsMs }, 'keeping the failed pod for debugging');
        return;
      }
      // Until its record is stored the pod is the record: the sweeper stores it, then deletes it.
      if (stored !== 'stored') return;
      await sleep(o.deleteDelayMs, o.closing);
      await trace.after('DeletePod', () =>
        calls.deletePod(name, podAction.delete, podAction.graceSeconds, log),
      );
    });
  }

  return {
    active,
    storeLog,
    recordedOutcome,
    finishLater,
    async settled() {
      await Promise.allSettled([...finishing]);
    },
  };
}
