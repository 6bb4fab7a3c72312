/**
 * One attempt on the kubernetes runtime, end to end: launch (launch.ts), await (await.ts), collect
 * (collect.ts), finish (finish.ts), with the heartbeat that keeps a live worker from being taken for
 * a lost one, and the two paths a retried activity or a cancellation adds (adopt a record; delete
 * the pod). The rules of exactly-once are at the top of runtime.ts.
 */
import type { V1Pod } from '@kubernetes/client-node';
import type { Tracer } from '@opentelemetry/api';
import type { Logger } from 'pino';
import { cancelGraceMs } from '../../contract/exit.ts';
import { type AttemptOutcome, type AttemptRequest, failure } from '../../core/execution.ts';
import { attemptPodName, EXECUTION_ID_ANNOTATION } from '../../kube/names.ts';
import { type AttemptLogKey, type AttemptRecord, attemptRecord } from '../../logs/store.ts';
import type { AttemptControl } from '../runtime.ts';
import {
  type AttemptState,
  awaitPod,
  HEARTBEAT_MS,
  type PodVerdict,
  PodWaiter,
  untilStarted,
  waitGone,
} from './await.ts';
import { collect, collectGone, iso, logOf, missingLog, tail, toMs } from './collect.ts';
import type { Finisher, PodAction } from './finish.ts';
import { type LaunchAttemptPod, ofAnotherRun, type Recorded } from './launch.ts';
import type { PodWatcher } from './pod-watcher.ts';
import type { FunctionLog, PodCalls } from './pods.ts';
import { AttemptPodTrace } from './trace.ts';

/** What an attempt uses of the runtime: its settings and its other parts. */
export interface AttemptParts {
  namespace: string;
  observerImage: string;
  logger: Logger;
  tracer: Tracer;
  settings: {
    keepFailedPodsMs: number;
    imagePullGraceMs: number;
    unschedulableTimeoutMs: number;
    killGraceMs: number;
  };
  watcher: () => PodWatcher;
  calls: PodCalls;
  launch: LaunchAttemptPod;
  finisher: Finisher;
}

/** `runAttempt` of the kubernetes runtime (FunctionRuntime.runAttempt), over its parts. */
export function createAttemptRunner(
  parts: AttemptParts,
): (req: AttemptRequest, control: AttemptControl) => Promise<AttemptOutcome> {
  return (req, control) => new PodAttempt(parts, req, control).run();
}

/** One attempt's pod, from launch to the outcome (its finishing goes on in finish.ts). */
class PodAttempt {
  private readonly name: string;
  private readonly key: AttemptLogKey;
  private readonly log: Logger;
  private readonly signal: AbortSignal;
  private readonly w: PodWatcher;
  private readonly launchedAt: number;
  private readonly waiter: PodWaiter;
  private readonly trace: AttemptPodTrace;
  private readonly state: AttemptState = { phase: 'Launching' };
  /** Set once the pod's log store and deletion are handed to the finisher (which owns `active` then). */
  private handedOff = false;
  private lastBeatAt = 0;

  constructor(
    private readonly parts: AttemptParts,
    private readonly req: AttemptRequest,
    private readonly control: AttemptControl,
  ) {
    this.name = attemptPodName(req.function, req.executionId, req.attempt);
    this.key = { executionId: req.executionId, function: req.function, attempt: req.attempt };
    this.log = parts.logger.child({ ...this.key, pod: this.name });
    this.signal = control.signal;
    this.w = parts.watcher();
    this.launchedAt = Date.now();
    this.waiter = new PodWaiter(this.w, this.name);
    this.trace = new AttemptPodTrace(parts.tracer, {
      'k8s.pod.name': this.name,
      'k8s.namespace.name': parts.namespace,
      'pontoon.execution_id': req.executionId,
      'pontoon.function': req.function,
      'pontoon.attempt': req.attempt,
    });
    parts.finisher.active.add(this.name);
  }

  /** Heartbeat, throttled to one per HEARTBEAT_MS: the pod, its phase and node. */
  private readonly beat = () => {
    const now = Date.now();
    if (now - this.lastBeatAt < HEARTBEAT_MS) return;
    this.lastBeatAt = now;
    this.control.heartbeat({ pod: this.name, phase: this.state.phase, node: this.state.podNode });
  };

  private recordOf(outcome: AttemptOutcome): AttemptRecord {
    return attemptRecord(outcome, this.control.runId);
  }

  /** Hands the outcome's log and record, and the pod, to the finisher (finish.ts). */
  private finishLater(
    logText: { text: string; partial: boolean },
    podAction: PodAction,
    outcome: AttemptOutcome,
  ) {
    this.handedOff = true;
    this.parts.finisher.finishLater(
      { name: this.name, key: this.key, runId: this.control.runId, log: this.log, trace: this.trace },
      logText,
      podAction,
      outcome,
    );
  }

  /** An outcome that failed before or without the function: `failure`, ending `endedAt`. */
  private failedOutcome(f: AttemptOutcome['failure'] & object, endedAt: number): AttemptOutcome {
    return {
      exitCode: null,
      startedAt: iso(this.launchedAt),
      endedAt: iso(endedAt),
      logTail: '',
      failure: f,
    };
  }

  async run(): Promise<AttemptOutcome> {
    const { req, control, signal, trace, log, name } = this;
    const retried = (control.activityAttempt ?? 1) > 1;
    // Every await below (a create retried through an apiserver outage, a slow log read, the timeout
    // path's store and delete) beats too: a live worker is never taken for a lost one, whose retry
    // would adopt the pod from under it. beat() is throttled, so the loop's own beats are not doubled.
    const keepAlive = setInterval(this.beat, HEARTBEAT_MS);
    keepAlive.unref();
    try {
      this.beat();
      await untilStarted(this.w, signal);
      if (signal.aborted) return await this.onAbort(undefined);
      const launched = await trace.span('CreatePod', () =>
        this.parts.launch(
          req,
          signal,
          retried ? () => this.adoptRecordIfPodGone() : undefined,
          control.runId,
        ),
      );
      if ('recorded' in launched) return launched.recorded;
      if ('failure' in launched) {
        trace.finished({ failure: launched.failure.type });
        const outcome = this.failedOutcome(launched.failure, Date.now());
        this.finishLater(
          missingLog(`the attempt's pod could not be created: ${launched.failure.message}`),
          'none',
          outcome,
        );
        return outcome;
      }
      const uid = launched.pod.metadata?.uid;
      // A pod created now: a deletion the waiter saw before was of an earlier pod of this name (one
      // swept, or left by another run, that launch waited out), and only a list started after the
      // create returned must show this one.
      const watchedSince = launched.created ? Date.now() : this.launchedAt;
      if (launched.created) this.waiter.deleted = false;
      trace.launched(name, launched.created);
      log.info(
        { created: launched.created },
        launched.created ? 'attempt pod created' : 'attempt pod adopted',
      );
      const created = toMs(launched.pod.metadata?.creationTimestamp);
      // A fresh pod's clock starts now; an adopted one's at its creation (whole seconds: the
      // apiserver truncates creationTimestamp, which would cost a fresh attempt up to 1 s).
      const deadlineAt =
        (launched.created ? this.launchedAt : Math.min(created ?? this.launchedAt, this.launchedAt)) +
        req.timeoutMs;
      const verdict = await awaitPod({
        name,
        uid,
        pod: launched.pod,
        watcher: this.w,
        waiter: this.waiter,
        signal,
        watchedSince,
        deadlineAt,
        nonRetryableExitCodes: req.spec.spec.execution.retry.nonRetryableExitCodes,
        imagePullGraceMs: this.parts.settings.imagePullGraceMs,
        unschedulableTimeoutMs: this.parts.settings.unschedulableTimeoutMs,
        state: this.state,
        beat: this.beat,
        log,
        trace,
        calls: this.parts.calls,
        recordedIfGone: retried
          ? () => this.parts.finisher.recordedOutcome(req, this.key, control.runId)
          : undefined,
      });
      return await this.conclude(verdict, uid);
    } finally {
      clearInterval(keepAlive);
      this.waiter.dispose();
      trace.end();
      if (!this.handedOff) this.parts.finisher.active.delete(name);
    }
  }

  /** The outcome of what ended the wait (await.ts), collected, and its finishing handed on. */
  private async conclude(verdict: PodVerdict, uid: string | undefined): Promise<AttemptOutcome> {
    const { name, log, trace, launchedAt } = this;
    const { phase } = this.state;
    const { calls, finisher, settings } = this.parts;
    switch (verdict.kind) {
      case 'aborted':
        return await this.onAbort(verdict.pod);
      case 'adopted':
        log.warn(
          { exitCode: verdict.outcome.exitCode },
          'adopted the outcome of this attempt recorded by another worker',
        );
        return verdict.outcome;
      case 'finished': {
        const { st, pod } = verdict;
        if (verdict.gone) {
          const outcome = { ...collectGone(name, st, launchedAt), exitCode: st.exitCode };
          trace.finished({ phase, exitCode: outcome.exitCode, failure: outcome.failure?.type });
          this.finishLater(
            missingLog('the pod was deleted before its log was read', st.functionMessage),
            'none',
            outcome,
          );
          log.info({ exitCode: outcome.exitCode, failure: outcome.failure?.type }, 'attempt ended');
          return outcome;
        }
        const { functionLog, outcome } = await trace.span('CollectPodLog', async () => {
          this.state.logRead ??= calls.readFunctionLog(name, log);
          const read = await this.state.logRead;
          return {
            functionLog: read,
            outcome: await collect(calls, this.parts.observerImage, name, pod, st, launchedAt, read),
          };
        });
        trace.finished({ phase, exitCode: outcome.exitCode, failure: outcome.failure?.type });
        this.finishLater(
          logOf(functionLog, st.functionMessage),
          outcome.failure && settings.keepFailedPodsMs > 0 ? 'keep' : { delete: uid },
          outcome,
        );
        log.info({ exitCode: outcome.exitCode, failure: outcome.failure?.type }, 'attempt ended');
        return outcome;
      }
      case 'deleted': {
        log.warn({ phase }, 'attempt pod deleted from outside before it finished');
        const why = `pod ${name} was deleted or evicted from outside (or its node was removed) while ${phase}`;
        trace.finished({ phase, failure: 'KubernetesTransient' });
        const outcome = this.failedOutcome(failure('KubernetesTransient', why), verdict.now);
        this.finishLater(missingLog(`${why}; its log went with it`), 'none', outcome);
        return outcome;
      }
      case 'cannot-start': {
        const f = verdict.failure;
        const outcome = this.failedOutcome(f, verdict.now);
        trace.finished({ phase, failure: f.type });
        this.finishLater(
          missingLog(`the function never started: ${f.message}`),
          settings.keepFailedPodsMs > 0 ? 'keep' : { delete: uid },
          outcome,
        );
        log.warn({ reason: verdict.reason }, 'attempt pod cannot start');
        return outcome;
      }
      case 'timed-out': {
        const functionLog = await trace.span('CollectPodLog', () => calls.readFunctionLog(name, log));
        const f = failure(
          'AttemptTimedOut',
          `attempt ran past its timeout of ${this.req.timeoutMs} ms; pod ${name} deleted`,
        );
        const outcome: AttemptOutcome = {
          ...this.failedOutcome(f, verdict.now),
          logTail: 'text' in functionLog ? tail(functionLog.text) : '',
        };
        // The pod must stop now, so its record is stored first, on the result's path (timeouts only).
        const stored = await trace.span('StoreAttemptLog', () =>
          finisher.storeLog(this.key, logOf(functionLog), this.recordOf(outcome)),
        );
        if (stored !== 'stored') log.warn('deleting a timed-out pod whose record could not be stored');
        await trace.span('DeletePod', () =>
          calls.deletePod(name, uid, Math.ceil(settings.killGraceMs / 1000), log),
        );
        trace.finished({ phase, failure: f.type });
        return outcome;
      }
    }
  }

  /**
   * A retried activity, before it creates anything: the pod first (a consistent GET), adopted as
   * it is when it is this execution's and not being deleted (never followed by a create: a
   * predecessor still alive may store its record and delete the pod right after this read); then,
   * when there is none or it is being deleted, the record (whoever deletes a collected pod stored
   * its record before asking).
   */
  private async adoptRecordIfPodGone(): Promise<Recorded> {
    const { req, control, log } = this;
    const existing = await this.parts.calls.getPod(this.name);
    if (
      existing?.metadata?.annotations?.[EXECUTION_ID_ANNOTATION] === req.executionId &&
      !existing.metadata.deletionTimestamp &&
      !ofAnotherRun(existing, control.runId)
    ) {
      return { pod: existing };
    }
    const adopted = await this.parts.finisher.recordedOutcome(req, this.key, control.runId);
    if (adopted) {
      this.trace.finished({ phase: 'Recorded', exitCode: adopted.exitCode, failure: adopted.failure?.type });
      log.warn(
        { exitCode: adopted.exitCode, failure: adopted.failure?.type },
        'adopted the outcome of this attempt recorded by a lost worker',
      );
    }
    return adopted ? { outcome: adopted } : undefined;
  }

  /** Cancelled: the pod deleted and its log so far kept. Interrupted (worker leaving): the pod left for the retry. */
  private async onAbort(pod: V1Pod | undefined): Promise<AttemptOutcome> {
    const { name, log, signal } = this;
    const { calls, settings } = this.parts;
    const reason = (signal.reason as Error | undefined)?.message ?? 'CANCELLED';
    if (reason === 'WORKER_SHUTDOWN' || reason === 'TIMED_OUT') {
      // Not a cancellation of the execution: leave the pod; the retried activity adopts it.
      log.info({ reason }, 'worker leaving the attempt pod running for the retried activity to adopt');
      throw new Error(`attempt interrupted (${reason}); pod ${name} left running for adoption`);
    }
    const uid = pod?.metadata?.uid;
    const target = uid ?? this.w.get(name)?.metadata?.uid;
    // The log so far is read while the pod is being deleted (its log stays readable until it is gone).
    const [functionLog] = await Promise.all([
      pod ? calls.readFunctionLog(name, log) : Promise.resolve<FunctionLog>({ error: 'no pod yet' }),
      calls.deletePod(name, target, Math.ceil(cancelGraceMs(settings.killGraceMs) / 1000), log),
    ]);
    await waitGone(this.w, name, 5000);
    this.trace.finished({ phase: this.state.phase, failure: 'cancelled' });
    const outcome: AttemptOutcome = {
      exitCode: null,
      startedAt: iso(this.launchedAt),
      endedAt: iso(Date.now()),
      logTail: 'text' in functionLog ? tail(functionLog.text) : '',
      failure: failure('FunctionExit', 'cancelled'),
    };
    if (pod) {
      const kept = logOf(functionLog);
      this.finishLater(
        { text: `${kept.text}[pontoon] attempt cancelled: the pod was deleted\n`, partial: kept.partial },
        'none',
        outcome,
      );
    }
    log.info({ reason }, 'attempt cancelled; pod deleted');
    return outcome;
  }
}
