/**
 * One attempt on the kubernetes runtime, end to end: launch (launch.ts), await (await.ts), collect
 * (collect.ts), finish (finish.ts), with the heartbeat that keeps a live worker from being taken for
 * a lost one, and the two paths a retried activity or a cancellation adds (adopt a record; delete
 * the pod). The rules of exactly-once are at the top of runtime.ts.
 */
import type { V1Pod } from '@kubernetes/client-node';
import type { Tracer } from '@opentelemetry/api';
import type { Logger } from 'pino';
import { attemptPodName, EXECUTION_ID_ANNOTATION } from '../../kube/names.ts';
import type { AttemptLogKey, AttemptRecord } from '../../logs/store.ts';
import { type AttemptOutcome, type AttemptRequest, failure } from '../../spec/execution.ts';
import type { AttemptControl } from '../runtime.ts';
import { type AttemptState, awaitPod, HEARTBEAT_MS, PodWaiter, untilStarted, waitGone } from './await.ts';
import { collect, collectGone, iso, logOf, missingLog, tail, toMs } from './collect.ts';
import type { Finisher, PodAction } from './finish.ts';
import { type LaunchAttemptPod, ofAnotherRun, type Recorded } from './launch.ts';
import type { PodWatcher } from './pod-watcher.ts';
import type { FunctionLog, PodCalls } from './pods.ts';
import { AttemptPodTrace } from './trace.ts';

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
  const { namespace, logger, tracer, settings, calls, finisher } = parts;
  const { keepFailedPodsMs, killGraceMs } = settings;

  return async function runAttempt(req, control) {
    const name = attemptPodName(req.function, req.executionId, req.attempt);
    const key: AttemptLogKey = { executionId: req.executionId, function: req.function, attempt: req.attempt };
    const log = logger.child({ ...key, pod: name });
    const { signal } = control;
    const w = parts.watcher();
    const launchedAt = Date.now();
    const waiter = new PodWaiter(w, name);
    const podTrace = new AttemptPodTrace(tracer, {
      'k8s.pod.name': name,
      'k8s.namespace.name': namespace,
      'pontoon.execution_id': req.executionId,
      'pontoon.function': req.function,
      'pontoon.attempt': req.attempt,
    });
    finisher.active.add(name);
    /** Set once the pod's log store and deletion are handed to the finisher (which owns `active` then). */
    let handedOff = false;
    const state: AttemptState = { phase: 'Launching' };
    let lastBeatAt = 0;
    const beat = () => {
      const now = Date.now();
      if (now - lastBeatAt < HEARTBEAT_MS) return;
      lastBeatAt = now;
      control.heartbeat({ pod: name, phase: state.phase, node: state.podNode });
    };
    const cancelledOutcome = (exitCode: number | null, logTail = ''): AttemptOutcome => ({
      exitCode,
      startedAt: iso(launchedAt),
      endedAt: iso(Date.now()),
      logTail,
      failure: failure('FunctionExit', 'cancelled'),
    });
    const retried = (control.activityAttempt ?? 1) > 1;
    const recordOf = (outcome: AttemptOutcome): AttemptRecord => ({
      outcome,
      ...(control.runId ? { runId: control.runId } : {}),
    });
    const finishLater = (
      logText: { text: string; partial: boolean },
      podAction: PodAction,
      outcome: AttemptOutcome,
    ) => {
      handedOff = true;
      finisher.finishLater(
        { name, key, runId: control.runId, log, trace: podTrace },
        logText,
        podAction,
        outcome,
      );
    };
    // Every await below (a create retried through an apiserver outage, a slow log read, the timeout
    // path's store and delete) beats too: a live worker is never taken for a lost one, whose retry
    // would adopt the pod from under it. beat() is throttled, so the loop's own beats are not doubled.
    const keepAlive = setInterval(beat, HEARTBEAT_MS);
    keepAlive.unref();
    try {
      beat();
      await untilStarted(w, signal);
      if (signal.aborted) return await onAbort(undefined);
      const launched = await podTrace.span('CreatePod', () =>
        parts.launch(req, signal, retried ? adoptRecordIfPodGone : undefined, control.runId),
      );
      if ('recorded' in launched) return launched.recorded;
      if ('failure' in launched) {
        podTrace.finished({ failure: launched.failure.type });
        const outcome: AttemptOutcome = {
          exitCode: null,
          startedAt: iso(launchedAt),
          endedAt: iso(Date.now()),
          logTail: '',
          failure: launched.failure,
        };
        finishLater(
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
      const watchedSince = launched.created ? Date.now() : launchedAt;
      if (launched.created) waiter.deleted = false;
      podTrace.launched(name, launched.created);
      log.info(
        { created: launched.created },
        launched.created ? 'attempt pod created' : 'attempt pod adopted',
      );
      const created = toMs(launched.pod.metadata?.creationTimestamp);
      // A fresh pod's clock starts now; an adopted one's at its creation (whole seconds: the
      // apiserver truncates creationTimestamp, which would cost a fresh attempt up to 1 s).
      const deadlineAt =
        (launched.created ? launchedAt : Math.min(created ?? launchedAt, launchedAt)) + req.timeoutMs;

      const verdict = await awaitPod({
        name,
        uid,
        pod: launched.pod,
        watcher: w,
        waiter,
        signal,
        watchedSince,
        deadlineAt,
        nonRetryableExitCodes: req.spec.spec.execution.retry.nonRetryableExitCodes,
        imagePullGraceMs: settings.imagePullGraceMs,
        unschedulableTimeoutMs: settings.unschedulableTimeoutMs,
        state,
        beat,
        log,
        trace: podTrace,
        calls,
        recordedIfGone: retried ? () => finisher.recordedOutcome(req, key, control.runId) : undefined,
      });
      const { phase } = state;
      switch (verdict.kind) {
        case 'aborted':
          return await onAbort(verdict.pod);
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
            podTrace.finished({ phase, exitCode: outcome.exitCode, failure: outcome.failure?.type });
            finishLater(
              missingLog('the pod was deleted before its log was read', st.functionMessage),
              'none',
              outcome,
            );
            log.info({ exitCode: outcome.exitCode, failure: outcome.failure?.type }, 'attempt ended');
            return outcome;
          }
          const { functionLog, outcome } = await podTrace.span('CollectPodLog', async () => {
            state.logRead ??= calls.readFunctionLog(name, log);
            const read = await state.logRead;
            return {
              functionLog: read,
              outcome: await collect(calls, parts.observerImage, name, pod, st, launchedAt, read),
            };
          });
          podTrace.finished({ phase, exitCode: outcome.exitCode, failure: outcome.failure?.type });
          finishLater(
            logOf(functionLog, st.functionMessage),
            outcome.failure && keepFailedPodsMs > 0 ? 'keep' : { delete: uid },
            outcome,
          );
          log.info({ exitCode: outcome.exitCode, failure: outcome.failure?.type }, 'attempt ended');
          return outcome;
        }
        case 'deleted': {
          log.warn({ phase }, 'attempt pod deleted from outside before it finished');
          const why = `pod ${name} was deleted or evicted from outside (or its node was removed) while ${phase}`;
          podTrace.finished({ phase, failure: 'KubernetesTransient' });
          const outcome: AttemptOutcome = {
            exitCode: null,
            startedAt: iso(launchedAt),
            endedAt: iso(verdict.now),
            logTail: '',
            failure: failure('KubernetesTransient', why),
          };
          finishLater(missingLog(`${why}; its log went with it`), 'none', outcome);
          return outcome;
        }
        case 'cannot-start': {
          const f = verdict.failure;
          const outcome = {
            exitCode: null,
            startedAt: iso(launchedAt),
            endedAt: iso(verdict.now),
            logTail: '',
            failure: f,
          };
          podTrace.finished({ phase, failure: f.type });
          finishLater(
            missingLog(`the function never started: ${f.message}`),
            keepFailedPodsMs > 0 ? 'keep' : { delete: uid },
            outcome,
          );
          log.warn({ reason: verdict.reason }, 'attempt pod cannot start');
          return outcome;
        }
        case 'timed-out': {
          const functionLog = await podTrace.span('CollectPodLog', () => calls.readFunctionLog(name, log));
          const f = failure(
            'AttemptTimedOut',
            `attempt ran past its timeout of ${req.timeoutMs} ms; pod ${name} deleted`,
          );
          const outcome: AttemptOutcome = {
            exitCode: null,
            startedAt: iso(launchedAt),
            endedAt: iso(verdict.now),
            logTail: 'text' in functionLog ? tail(functionLog.text) : '',
            failure: f,
          };
          // The pod must stop now, so its record is stored first, on the result's path (timeouts only).
          const stored = await podTrace.span('StoreAttemptLog', () =>
            finisher.storeLog(key, logOf(functionLog), recordOf(outcome)),
          );
          if (stored !== 'stored') log.warn('deleting a timed-out pod whose record could not be stored');
          await podTrace.span('DeletePod', () =>
            calls.deletePod(name, uid, Math.ceil(killGraceMs / 1000), log),
          );
          podTrace.finished({ phase, failure: f.type });
          return outcome;
        }
      }
    } finally {
      clearInterval(keepAlive);
      waiter.dispose();
      podTrace.end();
      if (!handedOff) finisher.active.delete(name);
    }

    /**
     * A retried activity, before it creates anything: the pod first (a consistent GET), adopted as
     * it is when it is this execution's and not being deleted (never followed by a create: a
     * predecessor still alive may store its record and delete the pod right after this read); then,
     * when there is none or it is being deleted, the record (whoever deletes a collected pod stored
     * its record before asking).
     */
    async function adoptRecordIfPodGone(): Promise<Recorded> {
      const existing = await calls.getPod(name);
      if (
        existing?.metadata?.annotations?.[EXECUTION_ID_ANNOTATION] === req.executionId &&
        !existing.metadata.deletionTimestamp &&
        !ofAnotherRun(existing, control.runId)
      ) {
        return { pod: existing };
      }
      const adopted = await finisher.recordedOutcome(req, key, control.runId);
      if (adopted) {
        podTrace.finished({ phase: 'Recorded', exitCode: adopted.exitCode, failure: adopted.failure?.type });
        log.warn(
          { exitCode: adopted.exitCode, failure: adopted.failure?.type },
          'adopted the outcome of this attempt recorded by a lost worker',
        );
      }
      return adopted ? { outcome: adopted } : undefined;
    }

    async function onAbort(pod: V1Pod | undefined): Promise<AttemptOutcome> {
      const reason = (signal.reason as Error | undefined)?.message ?? 'CANCELLED';
      if (reason === 'WORKER_SHUTDOWN' || reason === 'TIMED_OUT') {
        // Not a cancellation of the execution: leave the pod; the retried activity adopts it.
        log.info({ reason }, 'worker leaving the attempt pod running for the retried activity to adopt');
        throw new Error(`attempt interrupted (${reason}); pod ${name} left running for adoption`);
      }
      const uid = pod?.metadata?.uid;
      const target = uid ?? w.get(name)?.metadata?.uid;
      // The log so far is read while the pod is being deleted (its log stays readable until it is gone).
      const [functionLog] = await Promise.all([
        pod ? calls.readFunctionLog(name, log) : Promise.resolve<FunctionLog>({ error: 'no pod yet' }),
        calls.deletePod(name, target, Math.min(2, Math.ceil(killGraceMs / 1000)), log),
      ]);
      await waitGone(w, name, 5000);
      podTrace.finished({ phase: state.phase, failure: 'cancelled' });
      const outcome = cancelledOutcome(null, 'text' in functionLog ? tail(functionLog.text) : '');
      if (pod) {
        const kept = logOf(functionLog);
        finishLater(
          { text: `${kept.text}[pontoon] attempt cancelled: the pod was deleted\n`, partial: kept.partial },
          'none',
          outcome,
        );
      }
      log.info({ reason }, 'attempt cancelled; pod deleted');
      return outcome;
    }
  };
}
