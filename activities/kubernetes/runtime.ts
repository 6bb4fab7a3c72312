/**
 * The kubernetes runtime: one pod per attempt (activities/kubernetes/pod.ts), awaited through the
 * worker's shared pod watch (pod-watcher.ts), classified (classify.ts), collected from the
 * observer's termination message and pods/log, then — after the activity has returned its outcome —
 * its log and its outcome (the attempt's record) kept in the log store (logs/), and only then the
 * pod deleted.
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
import { text } from 'node:stream/consumers';
import {
  CoreV1Api,
  type KubeConfig,
  PatchStrategy,
  setHeaderOptions,
  type V1Pod,
} from '@kubernetes/client-node';
import type { Tracer } from '@opentelemetry/api';
import type { Logger } from 'pino';
import { readPodLogTail } from '../../logs/pod-log.ts';
import {
  type AttemptLogKey,
  type AttemptRecord,
  DEFAULT_LOG_MAX_BYTES,
  type LogStore,
} from '../../logs/store.ts';
import { startLogSweeper } from '../../logs/sweeper.ts';
import { extractOutput, parseReport } from '../../observer/termination.ts';
import { imageNotBuiltMessage } from '../../spec/build.ts';
import {
  type AttemptFailure,
  type AttemptOutcome,
  type AttemptRequest,
  failure,
  LIMITS,
} from '../../spec/execution.ts';
import {
  accessProblemsText,
  type FunctionAccess,
  functionAccessProblems,
  strictFunctionAccess,
} from '../../spec/function-access.ts';
import { Label } from '../../spec/names.ts';
import { egressRules } from '../../spec/network.ts';
import type { AttemptControl, FunctionRuntime } from '../runtime.ts';
import { classifyPod, type PendingProblem, type PodState } from './classify.ts';
import { makePooledApiClient } from './kubeconfig.ts';
import { createEgressPolicies, type EgressPolicies } from './network.ts';
import {
  attemptPodName,
  buildAttemptPod,
  CANCELLED_ANNOTATION,
  EXECUTION_ID_ANNOTATION,
  executionHash,
  FUNCTION_CONTAINER,
  OBSERVER_CONTAINER,
  type PodPlacement,
  RUN_ID_ANNOTATION,
} from './pod.ts';
import { type PodEvent, PodWatcher } from './pod-watcher.ts';
import { apiError, isTransient, RequestCounter } from './requests.ts';
import { AttemptPodTrace, globalTracer } from './trace.ts';

export interface KubernetesRuntimeOptions {
  kubeConfig: KubeConfig;
  /** Namespace the attempt pods run in (the worker's Role must cover it). */
  namespace: string;
  /** Image of the observer sidecar (observer/Dockerfile). */
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
   * ServiceAccounts, Secrets and address ranges specs may use (spec/function-access.ts): a pod whose
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

/**
 * Heartbeat period of a pod attempt (the SDK throttles to 1 s; pod events do not beat more often).
 * Every beat is a write on the Temporal server: with 1,000 pods in flight, beating on each pod event
 * and every 2 s made heartbeats the server's largest load. Cancellation arrives with a beat's
 * answer, so a cancelled pod attempt notices within this period; a lost worker is noticed after
 * ATTEMPT_HEARTBEAT_TIMEOUT (10 s).
 */
const HEARTBEAT_MS = 3000;
/** A pod deleted from outside is waited for this long beyond its grace period before the attempt is reported. */
const DELETED_POD_SLACK_MS = 15_000;
/** How long the watch may not show a pod we launched before one GET checks on it. */
const UNSEEN_CHECK_MS = 30_000;
/** How long transient apiserver failures are retried inside one call before the activity fails. */
const TRANSIENT_RETRY_MS = 60_000;

function toMs(v: Date | string | undefined | null): number | undefined {
  if (!v) return undefined;
  const n = v instanceof Date ? v.getTime() : Date.parse(v);
  return Number.isNaN(n) ? undefined : n;
}
function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/** The last `maxBytes` of a text, starting at a line boundary when one is near. */
export function tail(text: string, maxBytes: number = LIMITS.logTailBytes): string {
  const buf = Buffer.from(text, 'utf8');
  if (buf.length <= maxBytes) return text;
  let out = buf.subarray(buf.length - maxBytes).toString('utf8');
  const nl = out.indexOf('\n');
  out = nl >= 0 && nl < 200 ? out.slice(nl + 1) : out.replace(/^\uFFFD+/, '');
  return out;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** Wakes an awaiting attempt on each watch event of its pod. */
class PodWaiter {
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

export function createKubernetesRuntime(opts: KubernetesRuntimeOptions): KubernetesRuntime {
  const { kubeConfig, namespace, observerImage, logger } = opts;
  const keepFailedPodsMs = opts.keepFailedPodsMs ?? 0;
  const imagePullGraceMs = opts.imagePullGraceMs ?? 60_000;
  const unschedulableTimeoutMs = opts.unschedulableTimeoutMs ?? 5 * 60_000;
  const killGraceMs = opts.killGraceMs ?? 5000;
  const sweepAfterMs = opts.sweepAfterMs ?? 5 * 60_000;
  const executionOpen = opts.executionOpen ?? (async () => true);
  /** Finished pods kept because they are their attempt's only record (warned once each). */
  const keptUnrecorded = new Set<string>();
  const deleteDelayMs = opts.deleteDelayMs ?? 5000;
  /** Aborted at close(): delayed deletions happen at once (the worker's completions were sent). */
  const closing = new AbortController();
  const logStore = opts.logStore;
  const logMaxBytes = opts.logMaxBytes ?? DEFAULT_LOG_MAX_BYTES;
  const tracer = opts.tracer ?? globalTracer();
  const core = makePooledApiClient(kubeConfig, CoreV1Api);
  const requests = opts.requests ?? new RequestCounter();
  const access = opts.access ?? strictFunctionAccess(namespace);
  const egress = createEgressPolicies(
    kubeConfig,
    namespace,
    logger.child({ component: 'egress-policies' }),
    requests,
  );
  const launches = { created: 0, adopted: 0 };
  /** Pods an attempt of this process is awaiting, collecting or finishing: never swept. */
  const active = new Set<string>();
  /** Log stores and pod deletions still running after their activity returned (close() awaits them). */
  const finishing = new Set<Promise<void>>();
  let podWatcher: PodWatcher | undefined;
  let sweepTimer: NodeJS.Timeout | undefined;
  const logSweeper =
    logStore &&
    startLogSweeper(
      logStore,
      opts.logSweepIntervalMs ?? 10 * 60_000,
      logger.child({ component: 'log-sweeper' }),
    );
  let closed = false;

  function watcher(): PodWatcher {
    if (!podWatcher) {
      podWatcher = new PodWatcher(
        kubeConfig,
        core,
        namespace,
        logger.child({ component: 'pod-watcher' }),
        requests,
      );
      void podWatcher.start();
      void egress.checkIsolation();
      sweepTimer = setInterval(() => void sweep(), opts.sweepIntervalMs ?? 30_000);
      sweepTimer.unref();
    }
    return podWatcher;
  }

  /** Retries a call on transient apiserver failures (apiserver restarting, throttling) for a while. */
  async function retrying<T>(what: string, fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    const start = Date.now();
    let backoff = 200;
    for (;;) {
      try {
        return await fn();
      } catch (err) {
        if (!isTransient(err) || Date.now() - start > TRANSIENT_RETRY_MS || signal?.aborted || closed)
          throw err;
        logger.warn(
          { what, err: apiError(err).message, retryInMs: backoff },
          'apiserver call failed; retrying',
        );
        await sleep(backoff, signal);
        backoff = Math.min(backoff * 2, 3000);
      }
    }
  }

  async function getPod(name: string): Promise<V1Pod | undefined> {
    try {
      return await retrying(`get pod ${name}`, () => {
        requests.count('get');
        return core.readNamespacedPod({ name, namespace });
      });
    } catch (err) {
      if (apiError(err).code === 404) return undefined;
      throw err;
    }
  }

  /** Deletes a pod (only the one with this uid); true when it is gone or going. */
  async function deletePod(
    name: string,
    uid: string | undefined,
    graceSeconds?: number,
    log: Logger = logger,
  ): Promise<boolean> {
    try {
      await retrying(`delete pod ${name}`, () => {
        requests.count('delete');
        return core.deleteNamespacedPod({
          name,
          namespace,
          ...(graceSeconds !== undefined ? { gracePeriodSeconds: graceSeconds } : {}),
          body: { ...(uid ? { preconditions: { uid } } : {}) },
        });
      });
      return true;
    } catch (err) {
      const { code } = apiError(err);
      if (code === 404 || code === 409) return true; // gone already, or another pod by that name now
      log.warn({ pod: name, err: apiError(err).message }, 'could not delete the pod; the sweeper will');
      return false;
    }
  }

  async function readLogText(
    name: string,
    container: string,
    opts2: { tailLines?: number; limitBytes: number },
  ) {
    requests.count('log');
    return core.readNamespacedPodLog({ name, namespace, container, ...opts2 });
  }

  /**
   * Creates the attempt's pod or adopts it. `recorded` (a retried activity): asked before every
   * create; a live pod of the attempt it finds is adopted without a create (a predecessor still
   * alive could store its record and delete the pod between that read and a create), and a pod
   * found gone or going is never created again when its attempt left a record.
   */
  async function launchAttemptPod(
    req: AttemptRequest,
    signal?: AbortSignal,
    recorded?: () => Promise<{ outcome: AttemptOutcome } | { pod: V1Pod } | undefined>,
    runId?: string,
  ): Promise<
    | { name: string; created: boolean; pod: V1Pod }
    | { failure: AttemptFailure }
    | { recorded: AttemptOutcome }
  > {
    // Not retryable: another attempt would find the same spec.
    if (!req.spec.spec.image) return { failure: failure('ImageUnavailable', imageNotBuiltMessage(req.spec)) };
    // What the spec may use here (the API refused it at apply; a spec that reached Temporal another
    // way, or an allowlist narrowed since, stops here). Not retryable: the same spec would ask again.
    const refused = functionAccessProblems(req.spec, access);
    if (refused.length) {
      return {
        failure: failure(
          'LaunchFailed',
          `the spec asks for what functions may not use in namespace ${namespace}: ${accessProblemsText(refused)}`,
        ),
      };
    }
    let egressHash: string | undefined;
    const { rules } = egressRules(req.spec.spec.network, access.egressAllow);
    if (rules.length) {
      try {
        egressHash = await retrying('create the egress NetworkPolicy', () => egress.ensure(rules), signal);
      } catch (err) {
        if (isTransient(err)) throw err;
        return {
          failure: failure(
            'LaunchFailed',
            `could not create the NetworkPolicy of the function's egress: ${apiError(err).message}`,
          ),
        };
      }
    }
    const body = buildAttemptPod(req.spec, req, {
      namespace,
      observerImage,
      killGraceSeconds: killGraceMs / 1000,
      ...(opts.placement ? { placement: opts.placement } : {}),
      ...(egressHash ? { egress: egressHash } : {}),
      ...(runId ? { runId } : {}),
    });
    const name = body.metadata!.name!;
    for (;;) {
      const found = await recorded?.();
      if (found && 'outcome' in found) return { recorded: found.outcome };
      if (found) {
        launches.adopted++;
        return { name, created: false, pod: found.pod };
      }
      try {
        const pod = await retrying(
          `create pod ${name}`,
          () => {
            requests.count('create');
            return core.createNamespacedPod({ namespace, body });
          },
          signal,
        );
        launches.created++;
        return { name, created: true, pod };
      } catch (err) {
        const e = apiError(err);
        if (e.code === 409 && e.reason === 'AlreadyExists') {
          const existing = watcher().get(name) ?? (await getPod(name));
          if (!existing) continue; // deleted in between: create it again
          if (existing.metadata?.annotations?.[EXECUTION_ID_ANNOTATION] !== req.executionId) {
            return {
              failure: failure(
                'LaunchFailed',
                `pod ${name} exists but belongs to execution ${existing.metadata?.annotations?.[EXECUTION_ID_ANNOTATION] ?? '(unknown)'}`,
              ),
            };
          }
          if (ofAnotherRun(existing, runId)) {
            // Left by an earlier run of this execution id (only one run is open at a time, so that
            // one has closed): never this attempt's. Deleted, then this attempt's pod is created.
            logger.warn(
              { pod: name, runId, podRunId: existing.metadata?.annotations?.[RUN_ID_ANNOTATION] },
              'deleting a pod left by an earlier run of this execution',
            );
            await deletePod(name, existing.metadata?.uid, undefined, logger);
          }
          if (existing.metadata?.deletionTimestamp || ofAnotherRun(existing, runId)) {
            // A pod of this attempt being deleted (e.g. swept): wait until it is gone, then launch anew.
            await waitGone(name, 30_000, signal);
            if (signal?.aborted) throw err;
            continue;
          }
          launches.adopted++;
          return { name, created: false, pod: existing };
        }
        if (e.code === 422 || (e.code === 403 && /PodSecurity|violates/i.test(e.message))) {
          return { failure: failure('LaunchFailed', `the apiserver refused pod ${name}: ${e.message}`) };
        }
        throw err;
      }
    }
  }

  /** Whether a pod names a run of its execution other than `runId` (unknown on either side: no). */
  function ofAnotherRun(pod: V1Pod, runId: string | undefined): boolean {
    const podRunId = pod.metadata?.annotations?.[RUN_ID_ANNOTATION];
    return Boolean(podRunId && runId && podRunId !== runId);
  }

  async function waitGone(name: string, timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
    const w = watcher();
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

  type FunctionLog = { text: string; partial: boolean } | { error: string };

  /** The function container's log: at most its last logMaxBytes (logs/pod-log.ts). */
  async function readFunctionLog(name: string, log: Logger = logger): Promise<FunctionLog> {
    try {
      return await readPodLogTail(
        core,
        { namespace, pod: name, container: FUNCTION_CONTAINER },
        logMaxBytes,
        () => requests.count('log'),
      );
    } catch (err) {
      log.debug({ pod: name, err: apiError(err).message }, 'pods/log unavailable');
      return { error: apiError(err).message };
    }
  }

  /** What is stored when the function's own log cannot be: why, and the kubelet's tail if it left one. */
  function missingLog(why: string, functionMessage?: string): { text: string; partial: boolean } {
    const kubelet = functionMessage
      ? `[pontoon] the function container's termination message (the kubelet's copy of the end of its log):\n${functionMessage}`
      : '';
    return { text: `[pontoon] ${why}\n${kubelet}`, partial: false };
  }

  function logOf(read: FunctionLog, functionMessage?: string): { text: string; partial: boolean } {
    return 'text' in read
      ? read
      : missingLog(
          `the function container's log could not be read (pods/log: ${read.error})`,
          functionMessage,
        );
  }

  /**
   * Keeps an attempt's log and its record (the outcome a retried activity adopts). `stored`: both
   * are durable; `retry`: a transient failure, a later try may succeed; `failed`: this store refuses
   * them (a permission, a size). Only `stored` lets the pod go: until then the pod is the record.
   */
  async function storeLog(
    key: AttemptLogKey,
    log: { text: string; partial: boolean },
    record?: AttemptRecord,
  ): Promise<'stored' | 'retry' | 'failed'> {
    if (!logStore) return 'stored';
    try {
      await retrying(`store the log of ${key.executionId} attempt ${key.attempt}`, () =>
        logStore.put(key, log.text, { partial: log.partial, ...(record ? { record } : {}) }),
      );
      return 'stored';
    } catch (err) {
      const transient = isTransient(err) && !closed;
      logger.warn(
        { ...key, store: logStore.where, err: apiError(err).message },
        transient
          ? 'could not store the attempt log and record; the pod stays for the sweeper to try again'
          : 'could not store the attempt log and record (check the worker may create Secrets in the log namespace, or write the log folder); the pod stays for the sweeper',
      );
      return transient ? 'retry' : 'failed';
    }
  }

  /**
   * The outcome recorded for this attempt by a worker that was lost, if any (the record of another
   * run of the same execution id is not this attempt's). Exit codes are classified again with this
   * request's spec: the sweeper records pods without knowing their spec.
   */
  async function recordedOutcome(
    req: AttemptRequest,
    key: AttemptLogKey,
    control: AttemptControl,
  ): Promise<AttemptOutcome | undefined> {
    if (!logStore) return undefined;
    const record = await retrying(`read the record of ${key.executionId} attempt ${key.attempt}`, () =>
      logStore.getRecord(key),
    );
    if (!record) return undefined;
    if (record.runId && control.runId && record.runId !== control.runId) return undefined;
    const o = record.outcome;
    const codes = req.spec.spec.execution.retry.nonRetryableExitCodes;
    if (
      o.failure?.type === 'FunctionExit' &&
      o.exitCode !== null &&
      o.failure.message === `exited with code ${o.exitCode}` &&
      codes.includes(o.exitCode)
    ) {
      return { ...o, failure: failure('FunctionExitNonRetryable', o.failure.message) };
    }
    return o;
  }

  /**
   * Work left after the activity has returned its outcome: the result never waits for it. The pod
   * stays "active" (not swept) until it is done; close() waits for it.
   */
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

  /** Turns a finished pod's state and its function log into the attempt's outcome (not deleting yet). */
  async function collect(
    name: string,
    pod: V1Pod,
    st: Extract<PodState, { state: 'finished' }>,
    launchedAt: number,
    log: FunctionLog,
  ): Promise<AttemptOutcome> {
    const fn = pod.status?.containerStatuses?.find((c) => c.name === FUNCTION_CONTAINER);
    const startedAt =
      toMs(fn?.state?.terminated?.startedAt) ??
      toMs(pod.status?.startTime) ??
      toMs(pod.metadata?.creationTimestamp) ??
      launchedAt;
    const endedAt = toMs(fn?.state?.terminated?.finishedAt) ?? Date.now();
    const logTail =
      'text' in log ? tail(log.text) : st.failure && st.functionMessage ? tail(st.functionMessage) : '';
    const base = { exitCode: st.exitCode, startedAt: iso(startedAt), endedAt: iso(endedAt), logTail };
    if (st.failure) return { ...base, failure: st.failure };
    const report = parseReport(st.report);
    if (!report) {
      return {
        ...base,
        failure: failure(
          'KubernetesTransient',
          `the observer sidecar left no report in its termination message (pod ${name}); is PONTOON_OBSERVER_IMAGE (${observerImage}) right?`,
        ),
      };
    }
    if ('failure' in report)
      return { ...base, failure: failure(report.failure.type, report.failure.message) };
    if ('output' in report) return { ...base, output: report.output };
    try {
      const observerLog = await readLogText(name, OBSERVER_CONTAINER, {
        limitBytes: LIMITS.outputBytes * 2 + 64 * 1024,
      });
      const got = extractOutput(observerLog, report.outputRef);
      if ('output' in got) return { ...base, output: got.output };
      return {
        ...base,
        failure: failure('KubernetesTransient', `cannot collect the output of pod ${name}: ${got.error}`),
      };
    } catch (err) {
      return {
        ...base,
        failure: failure(
          'KubernetesTransient',
          `cannot read the output of pod ${name} (${report.outputRef.bytes} bytes) from the observer's log: ${apiError(err).message}`,
        ),
      };
    }
  }

  async function runAttempt(req: AttemptRequest, control: AttemptControl): Promise<AttemptOutcome> {
    const name = attemptPodName(req.function, req.executionId, req.attempt);
    const key: AttemptLogKey = { executionId: req.executionId, function: req.function, attempt: req.attempt };
    const log = logger.child({ ...key, pod: name });
    const { signal } = control;
    const w = watcher();
    const launchedAt = Date.now();
    const waiter = new PodWaiter(w, name);
    const podTrace = new AttemptPodTrace(tracer, {
      'k8s.pod.name': name,
      'k8s.namespace.name': namespace,
      'pontoon.execution_id': req.executionId,
      'pontoon.function': req.function,
      'pontoon.attempt': req.attempt,
    });
    active.add(name);
    /** Set once the pod's log store and deletion are handed to afterAttempt (which owns `active` then). */
    let handedOff = false;
    /** Started as soon as the function container has exited: it overlaps the observer's report. */
    let logRead: Promise<FunctionLog> | undefined;
    let phase = 'Launching';
    let lastBeatAt = 0;
    const beat = () => {
      const now = Date.now();
      if (now - lastBeatAt < HEARTBEAT_MS) return;
      lastBeatAt = now;
      control.heartbeat({ pod: name, phase, node: podNode });
    };
    let podNode: string | undefined;
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
    /**
     * After the outcome is returned: the log and the record into the store, then the pod deleted
     * (or kept) — never before the record is stored, so a retry always finds one or the other.
     */
    const finishLater = (
      logText: { text: string; partial: boolean },
      podAction: { delete: string | undefined; graceSeconds?: number } | 'keep' | 'none',
      outcome: AttemptOutcome,
    ) => {
      handedOff = true;
      afterAttempt(name, log, async () => {
        const stored = await podTrace.after('StoreAttemptLog', () =>
          storeLog(key, logText, recordOf(outcome)),
        );
        if (podAction === 'none') return;
        if (podAction === 'keep') {
          log.info({ keepForMs: keepFailedPodsMs }, 'keeping the failed pod for debugging');
          return;
        }
        // Until its record is stored the pod is the record: the sweeper stores it, then deletes it.
        if (stored !== 'stored') return;
        await sleep(deleteDelayMs, closing.signal);
        await podTrace.after('DeletePod', () =>
          deletePod(name, podAction.delete, podAction.graceSeconds, log),
        );
      });
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
        launchAttemptPod(req, signal, retried ? adoptRecordIfPodGone : undefined, control.runId),
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
      let pod = launched.pod;
      const uid = pod.metadata?.uid;
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
      const created = toMs(pod.metadata?.creationTimestamp);
      // A fresh pod's clock starts now; an adopted one's at its creation (whole seconds: the
      // apiserver truncates creationTimestamp, which would cost a fresh attempt up to 1 s).
      const deadlineAt =
        (launched.created ? launchedAt : Math.min(created ?? launchedAt, launchedAt)) + req.timeoutMs;
      const problemSince = new Map<PendingProblem['kind'], number>();
      /** When the pod was first seen deleted (deletionTimestamp) by someone else before it finished. */
      let deletedOutsideAt: number | undefined;
      let deletionGraceMs = 0;
      let lastSeenAt = Date.now();

      for (;;) {
        const now = Date.now();
        const cached = w.get(name);
        if (cached && cached.metadata?.uid === uid) {
          pod = cached;
          lastSeenAt = now;
        }
        if (signal.aborted || pod.metadata?.annotations?.[CANCELLED_ANNOTATION]) return await onAbort(pod);
        phase = pod.status?.phase ?? 'Pending';
        podNode = pod.spec?.nodeName;
        beat();

        const gone = !cached && (waiter.deleted || w.lastListStartedAt > watchedSince);
        const fnExited = pod.status?.containerStatuses?.some(
          (c) => c.name === FUNCTION_CONTAINER && c.state?.terminated,
        );
        if (fnExited && !gone) logRead ??= readFunctionLog(name, log);
        const st = classifyPod(pod, req.spec.spec.execution.retry.nonRetryableExitCodes);
        podTrace.observe(pod, st.state);
        if (
          deletedOutsideAt === undefined &&
          !gone &&
          cached?.metadata?.deletionTimestamp &&
          cached.metadata.uid === uid &&
          st.state !== 'finished'
        ) {
          deletedOutsideAt = now;
          deletionGraceMs = (cached.metadata.deletionGracePeriodSeconds ?? 30) * 1000;
          log.warn(
            { phase },
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
        if (gone && retried) {
          // A predecessor still alive (stalled past its heartbeat timeout) may have collected the
          // pod, recorded it and deleted it under us: its record is the outcome.
          const adopted = await recordedOutcome(req, key, control);
          if (adopted) {
            log.warn(
              { exitCode: adopted.exitCode },
              'adopted the outcome of this attempt recorded by another worker',
            );
            return adopted;
          }
        }
        if (st.state === 'finished' && deletedOutsideAt === undefined) {
          if (gone) {
            const outcome = { ...(await collectGone(st)), exitCode: st.exitCode };
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
            logRead ??= readFunctionLog(name, log);
            const read = await logRead;
            return { functionLog: read, outcome: await collect(name, pod, st, launchedAt, read) };
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
        if (gone || deletedOutsideAt !== undefined) {
          log.warn({ phase }, 'attempt pod deleted from outside before it finished');
          const why = `pod ${name} was deleted or evicted from outside (or its node was removed) while ${phase}`;
          podTrace.finished({ phase, failure: 'KubernetesTransient' });
          const outcome: AttemptOutcome = {
            exitCode: null,
            startedAt: iso(launchedAt),
            endedAt: iso(now),
            logTail: '',
            failure: failure('KubernetesTransient', why),
          };
          finishLater(missingLog(`${why}; its log went with it`), 'none', outcome);
          return outcome;
        }
        if (st.state === 'pending' && st.problem) {
          const p = st.problem;
          const since = problemSince.get(p.kind) ?? now;
          problemSince.set(p.kind, since);
          const grace = p.kind === 'unschedulable' ? unschedulableTimeoutMs : imagePullGraceMs;
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
            const outcome = {
              exitCode: null,
              startedAt: iso(launchedAt),
              endedAt: iso(now),
              logTail: '',
              failure: f,
            };
            podTrace.finished({ phase, failure: f.type });
            finishLater(
              missingLog(`the function never started: ${f.message}`),
              keepFailedPodsMs > 0 ? 'keep' : { delete: uid },
              outcome,
            );
            log.warn({ reason: p.reason }, 'attempt pod cannot start');
            return outcome;
          }
        } else {
          problemSince.clear();
        }
        if (now >= deadlineAt) {
          const functionLog = await podTrace.span('CollectPodLog', () => readFunctionLog(name, log));
          const f = failure(
            'AttemptTimedOut',
            `attempt ran past its timeout of ${req.timeoutMs} ms; pod ${name} deleted`,
          );
          const outcome: AttemptOutcome = {
            exitCode: null,
            startedAt: iso(launchedAt),
            endedAt: iso(now),
            logTail: 'text' in functionLog ? tail(functionLog.text) : '',
            failure: f,
          };
          // The pod must stop now, so its record is stored first, on the result's path (timeouts only).
          const stored = await podTrace.span('StoreAttemptLog', () =>
            storeLog(key, logOf(functionLog), recordOf(outcome)),
          );
          if (stored !== 'stored') log.warn('deleting a timed-out pod whose record could not be stored');
          await podTrace.span('DeletePod', () => deletePod(name, uid, Math.ceil(killGraceMs / 1000), log));
          podTrace.finished({ phase, failure: f.type });
          return outcome;
        }
        if (!cached && now - lastSeenAt > UNSEEN_CHECK_MS) {
          // Safety net only: the watch has not shown the pod for a long time.
          lastSeenAt = now;
          const fresh = await getPod(name);
          if (!fresh || fresh.metadata?.uid !== uid) waiter.deleted = true;
          else pod = fresh;
          continue;
        }
        await waiter.next(Math.min(HEARTBEAT_MS, deadlineAt - now), signal);
      }
    } finally {
      clearInterval(keepAlive);
      waiter.dispose();
      podTrace.end();
      if (!handedOff) active.delete(name);
    }

    /**
     * A retried activity, before it creates anything: the pod first (a consistent GET), adopted as
     * it is when it is this execution's and not being deleted (never followed by a create: a
     * predecessor still alive may store its record and delete the pod right after this read); then,
     * when there is none or it is being deleted, the record (whoever deletes a collected pod stored
     * its record before asking).
     */
    async function adoptRecordIfPodGone(): Promise<{ outcome: AttemptOutcome } | { pod: V1Pod } | undefined> {
      const existing = await getPod(name);
      if (
        existing?.metadata?.annotations?.[EXECUTION_ID_ANNOTATION] === req.executionId &&
        !existing.metadata.deletionTimestamp &&
        !ofAnotherRun(existing, control.runId)
      ) {
        return { pod: existing };
      }
      const adopted = await recordedOutcome(req, key, control);
      if (adopted) {
        podTrace.finished({ phase: 'Recorded', exitCode: adopted.exitCode, failure: adopted.failure?.type });
        log.warn(
          { exitCode: adopted.exitCode, failure: adopted.failure?.type },
          'adopted the outcome of this attempt recorded by a lost worker',
        );
      }
      return adopted ? { outcome: adopted } : undefined;
    }

    async function collectGone(st: Extract<PodState, { state: 'finished' }>): Promise<AttemptOutcome> {
      // Finished, then deleted before we read it (by a person or a sweeper): only the status is left.
      const report = parseReport(st.report);
      const base = {
        exitCode: st.exitCode,
        startedAt: iso(launchedAt),
        endedAt: iso(Date.now()),
        logTail: '',
      };
      if (st.failure) return { ...base, failure: st.failure };
      if (report && 'output' in report) return { ...base, output: report.output };
      if (report && 'failure' in report)
        return { ...base, failure: failure(report.failure.type, report.failure.message) };
      return {
        ...base,
        failure: failure('KubernetesTransient', `pod ${name} was deleted before its output was collected`),
      };
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
        pod ? readFunctionLog(name, log) : Promise.resolve<FunctionLog>({ error: 'no pod yet' }),
        deletePod(name, target, Math.min(2, Math.ceil(killGraceMs / 1000)), log),
      ]);
      await waitGone(name, 5000);
      podTrace.finished({ phase, failure: 'cancelled' });
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
  }

  /**
   * Waits for the shared watch's first list (at most TRANSIENT_RETRY_MS, or until aborted), without
   * leaving a timer or an abort listener behind per attempt.
   */
  async function untilStarted(w: PodWatcher, signal: AbortSignal): Promise<void> {
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

  /** Deletes finished Pontoon pods no attempt of this process is collecting, once old enough. */
  async function sweep(): Promise<void> {
    if (!podWatcher || closed) return;
    for (const n of keptUnrecorded) if (!podWatcher.get(n)) keptUnrecorded.delete(n);
    const now = Date.now();
    for (const pod of podWatcher.all()) {
      const name = pod.metadata?.name;
      const phase = pod.status?.phase;
      if (!name || active.has(name) || pod.metadata?.deletionTimestamp) continue;
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
            const read = await readFunctionLog(name, logger.child(where));
            const st = classifyPod(pod, []);
            const record =
              st.state === 'finished'
                ? {
                    outcome: await collect(name, pod, st, toMs(pod.metadata?.creationTimestamp) ?? now, read),
                    ...(runId ? { runId } : {}),
                  }
                : undefined;
            stored = await storeLog(key, logOf(read), record);
            if (stored === 'retry' && now - finished < keep + 4 * sweepAfterMs) continue; // next sweep
          }
          if (stored !== 'stored') {
            // No record: while the execution is open, a retry of its lost attempt may still come, and
            // would find neither pod nor record and run the function again. The pod is the record
            // until the execution closes (or a later sweep stores it).
            let open = true;
            try {
              open = await executionOpen(key.executionId, runId);
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
        await deletePod(name, pod.metadata?.uid, undefined, logger.child(where));
      }
    }
  }

  /** The attempt a pod belongs to, from its labels and annotation. */
  function podKey(pod: V1Pod): AttemptLogKey | undefined {
    const executionId = pod.metadata?.annotations?.[EXECUTION_ID_ANNOTATION];
    const fn = pod.metadata?.labels?.[Label.function];
    const attempt = Number(pod.metadata?.labels?.[Label.attempt]);
    if (!executionId || !fn || !Number.isInteger(attempt)) return undefined;
    return { executionId, function: fn, attempt };
  }

  async function readLog(executionId: string, attempt: number): Promise<string | undefined> {
    const hash = executionHash(executionId);
    const stored = await logStore?.get({ executionId, function: '', attempt }).catch(() => undefined);
    if (stored) return Buffer.isBuffer(stored.body) ? stored.body.toString('utf8') : await text(stored.body);
    const pod = [...watcher().all()].find(
      (p) =>
        p.metadata?.labels?.[Label.execution] === hash &&
        p.metadata.labels[Label.attempt] === String(attempt),
    );
    if (!pod?.metadata?.name) return undefined;
    const read = await readFunctionLog(pod.metadata.name);
    return 'text' in read ? read.text : undefined;
  }

  return {
    kind: 'kubernetes',
    namespace,
    requests,
    launches,
    watcher,
    egress,
    runAttempt,
    readLog,
    async settled() {
      await Promise.allSettled([...finishing]);
    },
    async abortAttempt(key) {
      const name = attemptPodName(key.function, key.executionId, key.attempt);
      const pod = watcher().get(name) ?? (await getPod(name));
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
      await deletePod(name, pod.metadata?.uid, Math.min(2, Math.ceil(killGraceMs / 1000)));
      logger.info(
        { pod: name, executionId: key.executionId, attempt: key.attempt },
        'execution cancelled: attempt pod deleted',
      );
      return true;
    },
    async launchAttemptPod(req) {
      watcher();
      await podWatcher!.start();
      const r = await launchAttemptPod(req);
      if ('recorded' in r) throw new Error('unreachable: no record is asked for');
      return 'failure' in r ? r : { name: r.name, created: r.created };
    },
    async close() {
      closed = true;
      closing.abort();
      if (sweepTimer) clearInterval(sweepTimer);
      logSweeper?.stop();
      // Logs being stored and pods being deleted get a few seconds; what is left, another worker's sweeper finishes.
      await Promise.race([Promise.allSettled([...finishing]), sleep(10_000)]);
      await podWatcher?.close();
    },
  };
}
