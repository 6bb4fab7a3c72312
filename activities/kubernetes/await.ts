/**
 * Await: an attempt's pod watched until something ends the attempt, through the worker's shared pod
 * watch (pod-watcher.ts: no request per attempt). `awaitPod` returns what happened — finished,
 * aborted, deleted from outside, unable to start, timed out, or adopted from a record — and the
 * attempt (attempt.ts) collects and finishes accordingly. Also the waits the other parts share:
 * `PodWaiter` (woken by the watch), `waitGone`, `untilStarted`.
 */
import type { V1Pod } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { type AttemptFailure, type AttemptOutcome, failure } from '../../core/execution.ts';
import { CANCELLED_ANNOTATION, FUNCTION_CONTAINER, OBSERVER_CONTAINER } from '../../kube/names.ts';
import { TRANSIENT_RETRY_MS } from '../../kube/requests.ts';
import { sleep } from '../../util/sleep.ts';
import { classifyPod, type PendingProblem } from './classify.ts';
import type { FinishedPod } from './collect.ts';
import type { PodEvent, PodWatcher } from './pod-watcher.ts';
import type { FunctionLog, PodCalls } from './pods.ts';
import type { AttemptPodTrace } from './trace.ts';

/**
 * Heartbeat period of a pod attempt (the SDK throttles to 1 s; pod events do not beat more often).
 * Every beat is a write on the Temporal server: with 1,000 pods in flight, beating on each pod event
 * and every 2 s made heartbeats the server's largest load. Cancellation arrives with a beat's
 * answer, so a cancelled pod attempt notices within this period; a lost worker is noticed after
 * ATTEMPT_HEARTBEAT_TIMEOUT (10 s).
 */
export const HEARTBEAT_MS = 3000;
/** A pod deleted from outside is waited for this long beyond its grace period before the attempt is reported. */
const DELETED_POD_SLACK_MS = 15_000;
/** How long the watch may not show a pod we launched before one GET checks on it. */
const UNSEEN_CHECK_MS = 30_000;
/**
 * How long an observer beside the function may go on running after the kubelet reported the function
 * exited, before the worker stops the pod so that the observer reports on its SIGTERM (it reports
 * within one /proc poll, ≤ 200 ms, of the function's exit and is seen within one kubelet relist, 1 s).
 * The safety net for what the observer cannot see (observer/function-exit.ts).
 */
export const OBSERVER_REPORT_GRACE_MS = 10_000;

/** The observer runs beside the function (an ordinary container) and has not ended. */
function besideObserverRunning(pod: V1Pod): boolean {
  const st = pod.status?.containerStatuses?.find((c) => c.name === OBSERVER_CONTAINER);
  return st !== undefined && st.state?.terminated === undefined;
}

/** Wakes an awaiting attempt on each watch event of its pod. */
export class PodWaiter {
  deleted = false;
  private pending = false;
  private wake: (() => void) | undefined;
  private readonly unsubscribe: () => void;

  constructor(watcher: PodWatcher, name: string) {
    this.unsubscribe = watcher.subscribe(name, (e: PodEvent) => {
      this.deleted = e.type === 'deleted';
      this.pending = true;
      this.wake?.();
    });
  }

  next(timeoutMs: number, signal: AbortSignal): Promise<void> {
    if (this.pending || signal.aborted) {
      this.pending = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(t);
        signal.removeEventListener('abort', done);
        this.wake = undefined;
        this.pending = false;
        resolve();
      };
      const t = setTimeout(done, Math.max(0, timeoutMs));
      signal.addEventListener('abort', done, { once: true });
      this.wake = done;
    });
  }

  dispose(): void {
    this.unsubscribe();
  }
}

/**
 * Resolves true once the watch shows no pod `name` (a deletion seen, or a list started since), false
 * after `timeoutMs` or when `signal` aborts.
 */
export async function waitGone(
  w: PodWatcher,
  name: string,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<boolean> {
  const waiter = new PodWaiter(w, name);
  const since = Date.now();
  try {
    const until = Date.now() + timeoutMs;
    for (;;) {
      if (!w.get(name) && (waiter.deleted || w.lastListStartedAt > since)) return true;
      if (Date.now() >= until) return false;
      await waiter.next(Math.min(1000, until - Date.now()), signal ?? new AbortController().signal);
      if (signal?.aborted) return false;
    }
  } finally {
    waiter.dispose();
  }
}

/**
 * Waits for the shared watch's first list (at most TRANSIENT_RETRY_MS, or until aborted), without
 * leaving a timer or an abort listener behind per attempt.
 */
export async function untilStarted(w: PodWatcher, signal: AbortSignal): Promise<void> {
  const stop = new AbortController();
  const onAbort = () => stop.abort();
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    await Promise.race([w.start(), sleep(TRANSIENT_RETRY_MS, stop.signal)]);
  } finally {
    signal.removeEventListener('abort', onAbort);
    stop.abort();
  }
}

/** What an attempt's pod is doing, as its heartbeat shows it; `logRead` starts once the function has exited. */
export interface AttemptState {
  phase: string;
  podNode?: string | undefined;
  /** Started as soon as the function container has exited: it overlaps the observer's report. */
  logRead?: Promise<FunctionLog> | undefined;
}

/** Why awaiting ended. `now`: when it was decided (the outcome's end time). */
export type PodVerdict =
  /** The attempt was cancelled (signal, or the pod's cancelled annotation) or the worker is leaving. */
  | { kind: 'aborted'; pod: V1Pod }
  /** The pod is gone and another worker's record of this attempt is its outcome (retried activity). */
  | { kind: 'adopted'; outcome: AttemptOutcome }
  /** Finished; `gone`: deleted before it could be read, only its last status is left. */
  | { kind: 'finished'; pod: V1Pod; st: FinishedPod; gone: boolean }
  /** Deleted, evicted or its node removed before it finished. */
  | { kind: 'deleted'; now: number }
  /** Never started: image, configuration, or unschedulable past its grace. */
  | { kind: 'cannot-start'; failure: AttemptFailure; reason: string; now: number }
  /** Ran past the attempt's timeout. */
  | { kind: 'timed-out'; now: number };

/**
 * Watches pod `name` (uid `uid`, as launched) until the attempt ends, beating through `beat` and
 * keeping `state` current. Reads nothing per event: the shared watch's cache is the pod; one GET only
 * when the watch has not shown the pod for UNSEEN_CHECK_MS, and the record (through
 * `recordedIfGone`, a retried activity only) when the pod is gone.
 */
export async function awaitPod(a: {
  name: string;
  uid: string | undefined;
  pod: V1Pod;
  watcher: PodWatcher;
  waiter: PodWaiter;
  signal: AbortSignal;
  /** Only a list started after this may prove the pod gone. */
  watchedSince: number;
  deadlineAt: number;
  nonRetryableExitCodes: number[];
  imagePullGraceMs: number;
  unschedulableTimeoutMs: number;
  state: AttemptState;
  beat: () => void;
  log: Logger;
  trace: AttemptPodTrace;
  calls: Pick<PodCalls, 'getPod' | 'readFunctionLog' | 'deletePod'>;
  recordedIfGone: (() => Promise<AttemptOutcome | undefined>) | undefined;
}): Promise<PodVerdict> {
  const { name, uid, watcher: w, waiter, signal, state, log } = a;
  let pod = a.pod;
  const problemSince = new Map<PendingProblem['kind'], number>();
  /** When the pod was first seen deleted (deletionTimestamp) by someone else before it finished. */
  let deletedOutsideAt: number | undefined;
  let deletionGraceMs = 0;
  let lastSeenAt = Date.now();
  /** When the function was first seen exited while the observer beside it still ran. */
  let observerLateSince: number | undefined;
  /** The worker deleted the pod itself, for the observer's report (OBSERVER_REPORT_GRACE_MS). */
  let stoppedForReport = false;

  for (;;) {
    const now = Date.now();
    const cached = w.get(name);
    if (cached && cached.metadata?.uid === uid) {
      pod = cached;
      lastSeenAt = now;
    }
    if (signal.aborted || pod.metadata?.annotations?.[CANCELLED_ANNOTATION]) return { kind: 'aborted', pod };
    state.phase = pod.status?.phase ?? 'Pending';
    state.podNode = pod.spec?.nodeName;
    a.beat();

    const gone = !cached && (waiter.deleted || w.lastListStartedAt > a.watchedSince);
    const fnExited = pod.status?.containerStatuses?.some(
      (c) => c.name === FUNCTION_CONTAINER && c.state?.terminated,
    );
    if (fnExited && !gone) state.logRead ??= a.calls.readFunctionLog(name, log);
    const st = classifyPod(pod, a.nonRetryableExitCodes);
    a.trace.observe(pod, st.state);
    if (
      deletedOutsideAt === undefined &&
      !stoppedForReport &&
      !gone &&
      cached?.metadata?.deletionTimestamp &&
      cached.metadata.uid === uid &&
      st.state !== 'finished'
    ) {
      deletedOutsideAt = now;
      deletionGraceMs = (cached.metadata.deletionGracePeriodSeconds ?? 30) * 1000;
      log.warn(
        { phase: state.phase },
        'attempt pod deleted from outside before it finished; waiting until it is gone',
      );
    }
    if (
      deletedOutsideAt !== undefined &&
      !gone &&
      now < deletedOutsideAt + deletionGraceMs + DELETED_POD_SLACK_MS
    ) {
      // The retry's pod must never run beside this one: wait for the kubelet to stop it (within
      // its grace period; a lost node never confirms, hence the bound), then report.
      await waiter.next(
        Math.min(HEARTBEAT_MS, deletedOutsideAt + deletionGraceMs + DELETED_POD_SLACK_MS - now),
        signal,
      );
      continue;
    }
    if (gone && a.recordedIfGone) {
      // A predecessor still alive (stalled past its heartbeat timeout) may have collected the
      // pod, recorded it and deleted it under us: its record is the outcome.
      const adopted = await a.recordedIfGone();
      if (adopted) return { kind: 'adopted', outcome: adopted };
    }
    if (st.state === 'finished' && deletedOutsideAt === undefined) return { kind: 'finished', pod, st, gone };
    if (gone || deletedOutsideAt !== undefined) return { kind: 'deleted', now };
    if (st.state === 'pending' && st.problem) {
      const p = st.problem;
      const since = problemSince.get(p.kind) ?? now;
      problemSince.set(p.kind, since);
      const grace = p.kind === 'unschedulable' ? a.unschedulableTimeoutMs : a.imagePullGraceMs;
      if (p.immediate || now - since >= grace) {
        const f =
          p.kind === 'image'
            ? failure('ImageUnavailable', p.message)
            : p.kind === 'config'
              ? failure('LaunchFailed', p.message)
              : failure(
                  'KubernetesTransient',
                  `pod ${name} unschedulable for ${Math.round((now - since) / 1000)} s: ${p.message}`,
                );
        return { kind: 'cannot-start', failure: f, reason: p.reason, now };
      }
    } else {
      problemSince.clear();
    }
    if (now >= a.deadlineAt) return { kind: 'timed-out', now };
    if (fnExited && st.state === 'running' && !stoppedForReport && besideObserverRunning(pod)) {
      observerLateSince ??= now;
      if (now - observerLateSince >= OBSERVER_REPORT_GRACE_MS) {
        log.warn(
          { waitedMs: now - observerLateSince },
          'the function exited but the observer beside it is still running; stopping the pod so that it reports',
        );
        stoppedForReport = true;
        await a.calls.deletePod(name, uid, undefined, log);
        continue;
      }
      await waiter.next(Math.min(HEARTBEAT_MS, observerLateSince + OBSERVER_REPORT_GRACE_MS - now), signal);
      continue;
    }
    if (!cached && now - lastSeenAt > UNSEEN_CHECK_MS) {
      // Safety net only: the watch has not shown the pod for a long time.
      lastSeenAt = now;
      const fresh = await a.calls.getPod(name);
      if (!fresh || fresh.metadata?.uid !== uid) waiter.deleted = true;
      else pod = fresh;
      continue;
    }
    await waiter.next(Math.min(HEARTBEAT_MS, a.deadlineAt - now), signal);
  }
}
