/**
 * The kubernetes runtime: one pod per attempt, composed from parts with one duty each —
 *   launch.ts   create the attempt's pod (pod.ts builds it), or adopt the one that exists
 *   await.ts    watch it until the attempt ends, through the worker's shared watch (pod-watcher.ts)
 *   collect.ts  classify the finished pod (classify.ts) and read the observer's report and pods/log
 *   finish.ts   after the activity has returned its outcome: its log and its outcome (the attempt's
 *               record) kept in the log store (logs/), and only then the pod deleted
 *   sweep.ts    finished pods nobody collected; the log store's retention
 *   attempt.ts  one attempt through those parts (runAttempt); pods.ts the pod calls they share
 * This file wires them and holds what spans attempts: the shared watch, cancellation, close.
 *
 * Exactly-once by construction, not by a time window: at every moment the finished attempt's pod
 * or its record exists (the record is stored before the pod is deleted; a pod whose record could not
 * be stored is left for the sweeper, which stores it first, and deletes it unrecorded only once its
 * execution has closed). A retried activity (Temporal's activity
 * attempt > 1: its worker was lost, perhaps between the outcome and Temporal recording it) reads the
 * pod first (a consistent GET), then the record, and only then creates anything: a pod is adopted,
 * a record's outcome reported, and the function runs again only when neither exists. Reading the pod
 * first closes the race with a predecessor still alive (stalled past its heartbeat timeout, then
 * finishing): if the GET finds no pod, its deletion came after its record, so the record read after
 * it sees that record. The first try of an activity (activity attempt 1) has no predecessor and
 * reads nothing, so the record costs no request on the common path (it rides in the log Secret).
 *
 * apiserver requests per attempt: create, one pods/log read of the function container (the log tail
 * in the result and the stored log come from the same read; a second read only for a log over
 * PONTOON_LOG_MAX_BYTES, or an output too large for the termination message), the log Secret with
 * the record (secret log store only), delete — plus the shared watch, per worker and not per
 * attempt. A retried activity adds two reads (the pod, the record).
 *
 * Why a bare Pod and not a Job per attempt: the deterministic pod name is the idempotency key
 * (AlreadyExists → adopt), the watch sees our pods directly, and no Job controller sits between
 * the worker and the pod (one object and fewer apiserver writes per attempt). What a Job's TTL
 * would give — no leaked pods — comes from the worker deleting every pod it finishes, a sweeper
 * that deletes finished Pontoon pods nobody collected (from the watch cache, no extra reads), and
 * activeDeadlineSeconds, which makes the kubelet stop a pod whose worker is gone.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import type { Tracer } from '@opentelemetry/api';
import type { Logger } from 'pino';
import { cancelGraceMs, DEFAULT_KILL_GRACE_MS } from '../../contract/exit.ts';
import type { AttemptFailure, AttemptRequest } from '../../core/execution.ts';
import { type FunctionAccess, strictFunctionAccess } from '../../core/function-access.ts';
import { DEFAULT_LOG_MAX_BYTES, DEFAULT_LOG_SWEEP_INTERVAL_MS } from '../../core/log-limits.ts';
import { makePooledApiClient } from '../../kube/client.ts';
import { CoreV1Api, PatchStrategy, setHeaderOptions } from '../../kube/client-node.ts';
import { KUBERNETES_RUNTIME_DEFAULTS } from '../../kube/defaults.ts';
import { attemptPodName, CANCELLED_ANNOTATION, EXECUTION_ID_ANNOTATION } from '../../kube/names.ts';
import { apiError, RequestCounter } from '../../kube/requests.ts';
import type { LogStore } from '../../logs/store.ts';
import { componentLogger } from '../../platform/logger.ts';
import { sleep } from '../../util/sleep.ts';
import type { FunctionRuntime } from '../runtime.ts';
import { createAttemptRunner } from './attempt.ts';
import { waitGone } from './await.ts';
import { createFinisher } from './finish.ts';
import { createLauncher } from './launch.ts';
import { createEgressPolicies, type EgressPolicies } from './network.ts';
import type { PodPlacement } from './pod.ts';
import { PodWatcher } from './pod-watcher.ts';
import { createPodCalls } from './pods.ts';
import { createSweeper } from './sweep.ts';
import { globalTracer } from './trace.ts';

export interface KubernetesRuntimeOptions {
  kubeConfig: KubeConfig;
  /** Namespace the attempt pods run in (the worker's Role must cover it). */
  namespace: string;
  /** Image of the observer, the attempt pod's second container (observer/Dockerfile). */
  observerImage: string;
  /** Node selector and tolerations of every attempt pod (PONTOON_POD_NODE_SELECTOR / _TOLERATIONS). */
  placement?: PodPlacement;
  logger: Logger;
  /** Keep failed pods this long for debugging (0: delete at once). The sweeper deletes them later. */
  keepFailedPodsMs?: number;
  /** How long an image pull may keep failing (ErrImagePull, ImagePullBackOff) before ImageUnavailable. */
  imagePullGraceMs?: number;
  /** How long a pod may stay unschedulable before the attempt fails (retryable). */
  unschedulableTimeoutMs?: number;
  /** terminationGracePeriodSeconds of the pods (SIGTERM → SIGKILL), in ms. */
  killGraceMs?: number;
  /** How often the sweeper looks for finished pods nobody collected. */
  sweepIntervalMs?: number;
  /**
   * A finished pod no attempt awaits is swept this long after it finished (plus keepFailedPodsMs).
   * Long enough for the retry of an attempt whose worker was lost to come and adopt it (default 5 min).
   */
  sweepAfterMs?: number;
  /**
   * How long a collected pod stays after its record was stored, before it is deleted (default 5 s:
   * a moment to look at it with kubectl; PONTOON_POD_DELETE_DELAY). Correctness does not depend on
   * it: a retried activity adopts the record once the pod is gone (see the top of this file).
   */
  deleteDelayMs?: number;
  /**
   * Where the logs and records of finished attempts are kept. None (embedders only; the worker
   * always has one): no record, so a retry that comes after the pod was deleted (deleteDelayMs
   * after the outcome) runs the attempt again.
   */
  logStore?: LogStore;
  /** Bytes of a function's log read and kept per attempt (the tail, PONTOON_LOG_MAX_BYTES). */
  logMaxBytes?: number;
  /** How often the log store's retention sweep runs (on every worker; it is idempotent). */
  logSweepIntervalMs?: number;
  /** Spans of each attempt's pod (trace.ts); default: the global tracer (a no-op unless registered). */
  tracer?: Tracer;
  /** Where apiserver requests are counted (shared with the log store); default: a new counter. */
  requests?: RequestCounter;
  /**
   * ServiceAccounts, Secrets and address ranges specs may use (core/function-access.ts): a pod whose
   * spec asks for more is never created (LaunchFailed). Default: none allowed, no range opened.
   */
  access?: FunctionAccess;
  /**
   * Whether the execution (workflow id, run id when the pod names one) may still run an attempt:
   * true while it is open, false once it is closed or gone; throws when Temporal cannot say. The
   * sweeper never deletes a finished pod whose record could not be stored while its execution is
   * open (a retry of the lost attempt would find neither and run the function again). Default: every
   * execution counts as open, so such a pod stays until its record is stored.
   */
  executionOpen?: (executionId: string, runId: string | undefined) => Promise<boolean>;
}

export interface KubernetesRuntime extends FunctionRuntime {
  readonly kind: 'kubernetes';
  readonly namespace: string;
  /** apiserver requests sent by this runtime, by verb. */
  readonly requests: RequestCounter;
  /** Pods this runtime created, and pods it found existing and adopted. */
  readonly launches: { created: number; adopted: number };
  /** The shared pod watch of the namespace (started on first use). */
  watcher(): PodWatcher;
  /** The egress NetworkPolicies of specs (shared with the warm pools). */
  readonly egress: EgressPolicies;
  /** Creates the attempt's pod, or adopts it if it exists: the idempotent launch step of runAttempt. */
  launchAttemptPod(
    req: AttemptRequest,
  ): Promise<{ name: string; created: boolean } | { failure: AttemptFailure }>;
  close(): Promise<void>;
}

export function createKubernetesRuntime(opts: KubernetesRuntimeOptions): KubernetesRuntime {
  const { kubeConfig, namespace, observerImage, logger } = opts;
  const d = KUBERNETES_RUNTIME_DEFAULTS;
  const settings = {
    keepFailedPodsMs: opts.keepFailedPodsMs ?? d.keepFailedPodsMs,
    imagePullGraceMs: opts.imagePullGraceMs ?? d.imagePullGraceMs,
    unschedulableTimeoutMs: opts.unschedulableTimeoutMs ?? d.unschedulableTimeoutMs,
    killGraceMs: opts.killGraceMs ?? DEFAULT_KILL_GRACE_MS,
  };
  const { killGraceMs } = settings;
  /** Aborted at close(): delayed deletions happen at once (the worker's completions were sent). */
  const closing = new AbortController();
  let closed = false;
  const isClosed = () => closed;
  const logStore = opts.logStore;
  const core = makePooledApiClient(kubeConfig, CoreV1Api);
  const requests = opts.requests ?? new RequestCounter();
  const access = opts.access ?? strictFunctionAccess(namespace);
  const egress = createEgressPolicies(
    kubeConfig,
    namespace,
    componentLogger(logger, 'egress-policies'),
    requests,
  );
  const launches = { created: 0, adopted: 0 };
  const calls = createPodCalls({
    core,
    namespace,
    requests,
    logger,
    logMaxBytes: opts.logMaxBytes ?? DEFAULT_LOG_MAX_BYTES,
    closed: isClosed,
  });
  const finisher = createFinisher({
    logStore,
    logger,
    calls,
    keepFailedPodsMs: settings.keepFailedPodsMs,
    deleteDelayMs: opts.deleteDelayMs ?? d.deleteDelayMs,
    closing: closing.signal,
    closed: isClosed,
  });
  let podWatcher: PodWatcher | undefined;
  const sweeper = createSweeper({
    logger,
    logStore,
    observerImage,
    calls,
    finisher,
    podWatcher: () => podWatcher,
    closed: isClosed,
    sweepIntervalMs: opts.sweepIntervalMs ?? d.sweepIntervalMs,
    sweepAfterMs: opts.sweepAfterMs ?? d.sweepAfterMs,
    keepFailedPodsMs: settings.keepFailedPodsMs,
    logSweepIntervalMs: opts.logSweepIntervalMs ?? DEFAULT_LOG_SWEEP_INTERVAL_MS,
    executionOpen: opts.executionOpen ?? (async () => true),
  });

  /** The shared pod watch of the namespace, started on first use with the egress check and the sweeper. */
  function watcher(): PodWatcher {
    if (!podWatcher) {
      podWatcher = new PodWatcher(
        kubeConfig,
        core,
        namespace,
        componentLogger(logger, 'pod-watcher'),
        requests,
      );
      void podWatcher.start();
      void egress.checkIsolation();
      sweeper.start();
    }
    return podWatcher;
  }

  const launch = createLauncher({
    core,
    namespace,
    observerImage,
    placement: opts.placement,
    killGraceMs,
    access,
    egress,
    requests,
    logger,
    calls,
    watcher,
    waitGone: (name, timeoutMs, signal) => waitGone(watcher(), name, timeoutMs, signal),
    launches,
  });
  const runAttempt = createAttemptRunner({
    namespace,
    observerImage,
    logger,
    tracer: opts.tracer ?? globalTracer(),
    settings,
    watcher,
    calls,
    launch,
    finisher,
  });

  return {
    kind: 'kubernetes',
    namespace,
    requests,
    launches,
    watcher,
    egress,
    runAttempt,
    settled: () => finisher.settled(),
    async abortAttempt(key) {
      const name = attemptPodName(key.function, key.executionId, key.attempt);
      const pod = watcher().get(name) ?? (await calls.getPod(name));
      if (!pod || pod.metadata?.annotations?.[EXECUTION_ID_ANNOTATION] !== key.executionId) return false;
      try {
        requests.count('patch');
        await core.patchNamespacedPod(
          {
            name,
            namespace,
            body: { metadata: { annotations: { [CANCELLED_ANNOTATION]: new Date().toISOString() } } },
          },
          setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
        );
      } catch (err) {
        if (apiError(err).code === 404) return false;
        throw err;
      }
      await calls.deletePod(name, pod.metadata?.uid, Math.ceil(cancelGraceMs(killGraceMs) / 1000));
      logger.info(
        { pod: name, executionId: key.executionId, attempt: key.attempt },
        'execution cancelled: attempt pod deleted',
      );
      return true;
    },
    async launchAttemptPod(req) {
      await watcher().start();
      const r = await launch(req);
      if ('recorded' in r) throw new Error('unreachable: no record is asked for');
      return 'failure' in r ? r : { name: r.name, created: r.created };
    },
    async close() {
      closed = true;
      closing.abort();
      sweeper.stop();
      // Logs being stored and pods being deleted get a few seconds; what is left, another worker's sweeper finishes.
      await Promise.race([finisher.settled(), sleep(10_000)]);
      await podWatcher?.close();
    },
  };
}
