/**
 * functionController (workflow id `fn:<function>`): one per function, the system of record for its
 * spec. `apply` (an Update, validated before it is accepted) stores a new version; queries read the
 * current spec and its history. Continues as new when the history grows, after in-flight handlers
 * finish. For functions with a concurrency limit it admits executions by priority (with aging)
 * and frees the slots of executions that stop renewing their lease.
 */
import {
  ActivityFailure,
  ApplicationFailure,
  allHandlersFinished,
  CancellationScope,
  condition,
  continueAsNew,
  getExternalWorkflowHandle,
  isCancellation,
  log,
  makeContinueAsNewFunc,
  patched,
  proxyActivities,
  setHandler,
  sleep,
  upsertMemo,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities/index.ts';
import { ADMISSION_DEFAULTS, effectivePriority, nextToAdmit, type QueuedRequest } from '../spec/admission.ts';
import { parseDuration } from '../spec/duration.ts';
import { APPLY_FAILURES, FailureType, NOTIFY_NON_RETRYABLE } from '../spec/failures.ts';
import { formatPath } from '../spec/parse-path.ts';
import { type ScalarState, type ScalingDecision, scalarStep } from '../spec/scalar.ts';
import { type FunctionSpec, functionSpecSchema, priorityNumber } from '../spec/schema.ts';
import { literalSecretProblems } from '../spec/secret-env.ts';
import { warmSettings } from '../spec/warm.ts';
import {
  type AdmissionState,
  type ApplyResult,
  admissionQuery,
  applyUpdate,
  deleteUpdate,
  releaseSlotSignal,
  renewSlotSignal,
  requestSlotSignal,
  SPEC_MEMO_KEY,
  type SpecMemo,
  type SpecVersion,
  scheduleOutcomeSignal,
  slotGrantedSignal,
  specHistoryQuery,
  specQuery,
  type WarmPoolState,
  warmPoolQuery,
} from './definitions.ts';

/** Versions kept for `specHistory`; older ones are dropped (the history of Temporal keeps all). */
export const CONTROLLER_HISTORY_LIMIT = 20;

export interface ControllerState {
  name: string;
  current: SpecVersion | null;
  previous: SpecVersion[];
  /** Consecutive failed executions per schedule (for pauseAfterFailures). */
  scheduleFailures?: Record<string, number>;
  /** Admission under the concurrency limit: who holds a slot, who waits. */
  admission?: {
    running: { executionId: string; priority: number; admittedAt: number; leaseExpiresAt: number }[];
    queue: QueuedRequest[];
    seq: number;
  };
  /** The warm pool, for warm functions on a runtime whose pools the Scalar sizes (kubernetes). */
  warm?: {
    scalar: ScalarState;
    readyReplicas: number;
    demand: number;
    observedAt?: number;
    decisions: ScalingDecision[];
  };
}

/** Scaling decisions kept in the controller's state (all of them are in its history). */
const DECISIONS_KEPT = 50;
/** An idle pool's demand is looked at again at least this often (one activity in history each time). */
const OBSERVE_MAX_WAIT_MS = 60_000;

const { reconcileSchedules, pauseSchedule } = proxyActivities<Activities>({
  startToCloseTimeout: '1m',
  retry: { initialInterval: '1s', maximumAttempts: 5 },
});
const { ensureWarmPool, scaleWarmPool, removeWarmPool } = proxyActivities<Activities>({
  startToCloseTimeout: '1m',
  retry: { initialInterval: '1s', maximumAttempts: 5 },
});
const { observeWarmDemand } = proxyActivities<Activities>({
  startToCloseTimeout: OBSERVE_MAX_WAIT_MS + 30_000,
  heartbeatTimeout: '15s',
  retry: { initialInterval: '1s', maximumInterval: '30s' },
});
const { sendNotifications } = proxyActivities<Activities>({
  startToCloseTimeout: '1m',
  scheduleToCloseTimeout: '10m',
  retry: {
    initialInterval: '5s',
    backoffCoefficient: 2,
    maximumInterval: '5m',
    nonRetryableErrorTypes: NOTIFY_NON_RETRYABLE,
  },
});

/**
 * The controller publishes its current spec in its memo (SPEC_MEMO_KEY) at the start of each run
 * and on every apply and delete, so executions read it through DescribeWorkflowExecution instead of
 * a query (no workflow task of the controller on their path; see client/spec-reader.ts).
 * Controllers started before replay without it, and publish from their next apply or run on.
 */
const SPEC_MEMO_PATCH = 'spec-memo';

export interface FunctionControllerArgs {
  name: string;
  /** Carried across continue-as-new. */
  state?: ControllerState;
  /** Continue as new past this many history events (tests); otherwise when Temporal suggests it. */
  continueAsNewAfterEvents?: number;
}

function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

function validate(name: string, raw: unknown): FunctionSpec {
  const parsed = functionSpecSchema().safeParse(raw);
  if (!parsed.success) {
    const details = parsed.error.issues.map((i) => ({
      field: formatPath(i.path) || '(spec)',
      message: i.message,
    }));
    throw ApplicationFailure.create({
      type: APPLY_FAILURES.invalid,
      message: `spec invalid: ${details.map((d) => `${d.field}: ${d.message}`).join('; ')}`,
      nonRetryable: true,
      details,
    });
  }
  if (parsed.data.metadata.name !== name) {
    throw ApplicationFailure.create({
      type: APPLY_FAILURES.invalid,
      message: `metadata.name "${parsed.data.metadata.name}" does not match this controller's function "${name}"`,
      nonRetryable: true,
      details: [{ field: 'metadata.name', message: `must be "${name}"` }],
    });
  }
  return parsed.data;
}

/**
 * An apply's activity failure that the same spec would meet again (a schedule Temporal refuses, a
 * warm pool without an image or asking for what functions may not use) as `SpecRefused` with
 * `{field, message}` details: the API answers
 * it as a 400 naming the field. Anything else (worth retrying later) is returned as it was.
 */
function refusal(err: unknown): unknown {
  if (!(err instanceof ActivityFailure) || !(err.cause instanceof ApplicationFailure)) return err;
  const cause = err.cause;
  const details =
    cause.type === APPLY_FAILURES.scheduleRefused || cause.type === APPLY_FAILURES.accessRefused
      ? (cause.details ?? [])
      : cause.type === FailureType.ImageUnavailable
        ? [{ field: 'spec.image', message: cause.message }]
        : undefined;
  if (!details) return err;
  return ApplicationFailure.create({
    type: APPLY_FAILURES.refused,
    message: cause.message,
    nonRetryable: true,
    details,
  });
}

const isWarm = (spec: FunctionSpec | null | undefined): spec is FunctionSpec =>
  spec?.spec.execution.mode === 'warm';

export async function functionController(args: FunctionControllerArgs): Promise<void> {
  const state: ControllerState = args.state ?? { name: args.name, current: null, previous: [] };

  setHandler(specQuery, () => state.current);
  /** Publishes the current spec in the memo (in the same workflow task as the change it follows). */
  const publish = () => {
    if (patched(SPEC_MEMO_PATCH))
      upsertMemo({ [SPEC_MEMO_KEY]: { current: state.current } satisfies SpecMemo });
  };
  publish();
  setHandler(specHistoryQuery, () => state.previous);
  // One change at a time: applies and deletes reconcile schedules in the order they were accepted.
  let queue: Promise<unknown> = Promise.resolve();
  const serially = <T>(fn: () => Promise<T>): Promise<T> => {
    const run = queue.then(fn, fn);
    queue = run.catch(() => undefined);
    return run;
  };
  const reconcile = (spec: FunctionSpec | null, previous: FunctionSpec | null) =>
    reconcileSchedules({
      function: state.name,
      schedules: spec?.spec.schedules ?? [],
      previous: previous?.spec.schedules ?? [],
      priority: priorityNumber(spec?.spec.execution.priority ?? 'normal'),
    });

  /** Observation of demand in flight: cancelled when the spec changes, so new settings apply at once. */
  let observing: CancellationScope | undefined;
  const reconcileWarm = async (spec: FunctionSpec | null, previous: FunctionSpec | null) => {
    if (isWarm(spec)) {
      const settings = warmSettings(spec);
      const keep = state.warm?.scalar.replicas ?? settings.minReplicas;
      const replicas = Math.min(settings.maxReplicas, Math.max(settings.minReplicas, keep));
      const result = await ensureWarmPool({ spec, replicas });
      if (!result.managed) {
        state.warm = undefined;
        return;
      }
      const decisions = state.warm?.decisions ?? [];
      if (!state.warm || keep !== replicas) {
        decisions.push({
          at: new Date().toISOString(),
          from: state.warm ? keep : 0,
          to: replicas,
          demand: state.warm?.demand ?? 0,
          reason: state.warm
            ? `spec changed: bounds are ${settings.minReplicas}..${settings.maxReplicas}`
            : 'warm pool created at minReplicas',
        });
      }
      state.warm = {
        scalar: { replicas },
        readyReplicas: result.status?.readyReplicas ?? 0,
        demand: state.warm?.demand ?? 0,
        ...(state.warm?.observedAt !== undefined ? { observedAt: state.warm.observedAt } : {}),
        decisions: decisions.slice(-DECISIONS_KEPT),
      };
      observing?.cancel();
    } else if (isWarm(previous)) {
      await removeWarmPool({ function: state.name });
      state.warm = undefined;
      observing?.cancel();
    }
  };
  setHandler(warmPoolQuery, (): WarmPoolState | null => {
    if (!isWarm(state.current?.spec)) return null;
    const w = state.warm;
    if (!w) return { managed: false, replicas: 0, readyReplicas: 0, demand: 0, decisions: [] };
    return {
      managed: true,
      replicas: w.scalar.replicas,
      readyReplicas: w.readyReplicas,
      demand: w.demand,
      ...(w.observedAt !== undefined ? { observedAt: new Date(w.observedAt).toISOString() } : {}),
      ...(w.scalar.lowSince !== undefined ? { lowSince: new Date(w.scalar.lowSince).toISOString() } : {}),
      decisions: w.decisions,
    };
  });

  setHandler(
    applyUpdate,
    (raw): Promise<ApplyResult> =>
      serially(async () => {
        const spec = validate(state.name, raw);
        const now = new Date().toISOString();
        if (state.current && canonical(state.current.spec) === canonical(spec)) {
          return {
            name: state.name,
            version: state.current.version,
            changed: false,
            appliedAt: state.current.appliedAt,
          };
        }
        const before = state.current;
        // Schedules first: if Temporal refuses them, the spec stays as it was (nothing half-applied).
        let schedules: Awaited<ReturnType<typeof reconcile>>;
        try {
          schedules = await reconcile(spec, before?.spec ?? null);
        } catch (err) {
          await reconcile(before?.spec ?? null, spec).catch(() => undefined);
          throw refusal(err);
        }
        // Then the warm pool: created or updated for a warm spec, deleted when it stops being warm.
        try {
          await reconcileWarm(spec, before?.spec ?? null);
        } catch (err) {
          await reconcile(before?.spec ?? null, spec).catch(() => undefined);
          throw refusal(err);
        }
        if (before) state.previous = [before, ...state.previous].slice(0, CONTROLLER_HISTORY_LIMIT);
        state.current = { version: (before?.version ?? 0) + 1, appliedAt: now, spec };
        publish();
        return { name: state.name, version: state.current.version, changed: true, appliedAt: now, schedules };
      }),
    {
      // Literal secrets are refused here, never in the handler: it runs again on replay, and a spec
      // accepted before the rule existed must replay as it ran.
      validator: (raw) => {
        const problems = literalSecretProblems(validate(state.name, raw));
        if (problems.length === 0) return;
        const details = problems.map((p) => ({ field: formatPath(p.path), message: p.message }));
        throw ApplicationFailure.create({
          type: APPLY_FAILURES.invalid,
          message: `spec invalid: ${details.map((d) => `${d.field}: ${d.message}`).join('; ')}`,
          nonRetryable: true,
          details,
        });
      },
    },
  );

  setHandler(scheduleOutcomeSignal, (outcome) => {
    const schedule = state.current?.spec.spec.schedules.find((s) => s.name === outcome.schedule);
    if (!schedule?.pauseAfterFailures) return;
    state.scheduleFailures ??= {};
    const failures = state.scheduleFailures;
    failures[outcome.schedule] = outcome.succeeded ? 0 : (failures[outcome.schedule] ?? 0) + 1;
    if (failures[outcome.schedule]! >= schedule.pauseAfterFailures) {
      failures[outcome.schedule] = 0;
      const note = `paused by Pontoon after ${schedule.pauseAfterFailures} consecutive failed executions (last: ${outcome.executionId}: ${outcome.message ?? 'failed'})`;
      log.warn('pausing schedule', { schedule: outcome.schedule, note });
      const spec = state.current?.spec;
      void serially(async () => {
        await pauseSchedule({ function: state.name, schedule: outcome.schedule, note: note.slice(0, 1000) });
        if (spec?.spec.notify?.some((hook) => hook.on.includes('schedule-pause'))) {
          await sendNotifications({
            spec,
            event: 'schedule-pause',
            payload: {
              schedule: outcome.schedule,
              note,
              executionId: outcome.executionId,
              consecutiveFailures: schedule.pauseAfterFailures,
            },
          }).catch((err) => log.warn('webhook notification not delivered', { error: String(err) }));
        }
      });
    }
  });

  let deleted = false;
  setHandler(deleteUpdate, () =>
    serially(async () => {
      const version = state.current?.version ?? 0;
      await reconcile(null, state.current?.spec ?? null);
      await reconcileWarm(null, state.current?.spec ?? null);
      if (state.current)
        state.previous = [state.current, ...state.previous].slice(0, CONTROLLER_HISTORY_LIMIT);
      state.current = null;
      publish();
      deleted = true;
      return { name: state.name, version };
    }),
  );

  // ---------------------------------------------------------------- admission
  state.admission ??= { running: [], queue: [], seq: 0 };
  const adm = state.admission;
  const recent: AdmissionState['recent'] = [];
  const record = (executionId: string, event: AdmissionState['recent'][number]['event']) => {
    recent.push({ at: new Date().toISOString(), executionId, event });
    if (recent.length > 50) recent.shift();
  };
  let dirty = true;
  // Declared before the handlers: buffered signals are delivered as soon as a handler is set.
  const pendingGrants: string[] = [];
  const limit = () => state.current?.spec.spec.execution.concurrency ?? null;
  const leaseMs = () =>
    parseDuration(state.current?.spec.spec.execution.slotLease ?? ADMISSION_DEFAULTS.slotLease);
  const agingMs = () =>
    parseDuration(state.current?.spec.spec.execution.priorityAging ?? ADMISSION_DEFAULTS.priorityAging);

  setHandler(requestSlotSignal, (req) => {
    const holder = adm.running.find((r) => r.executionId === req.executionId);
    if (holder) {
      // Asked again (e.g. the grant was lost): grant again, idempotently.
      holder.leaseExpiresAt = Date.now() + leaseMs();
      pendingGrants.push(req.executionId);
    } else if (!adm.queue.some((q) => q.executionId === req.executionId)) {
      adm.queue.push({
        executionId: req.executionId,
        priority: req.priority,
        enqueuedAt: Date.now(),
        seq: adm.seq++,
      });
      record(req.executionId, 'queued');
    }
    dirty = true;
  });
  setHandler(releaseSlotSignal, ({ executionId }) => {
    const before = adm.running.length + adm.queue.length;
    adm.running = adm.running.filter((r) => r.executionId !== executionId);
    adm.queue = adm.queue.filter((q) => q.executionId !== executionId);
    if (adm.running.length + adm.queue.length !== before) record(executionId, 'released');
    dirty = true;
  });
  setHandler(renewSlotSignal, ({ executionId }) => {
    const holder = adm.running.find((r) => r.executionId === executionId);
    if (holder) holder.leaseExpiresAt = Date.now() + leaseMs();
  });
  setHandler(admissionQuery, (): AdmissionState => {
    const now = Date.now();
    const byPriority = { '1': 0, '2': 0, '3': 0, '4': 0, '5': 0 };
    for (const q of adm.queue) byPriority[String(q.priority) as keyof typeof byPriority]++;
    return {
      concurrency: limit(),
      running: adm.running.map((r) => ({
        executionId: r.executionId,
        priority: r.priority,
        admittedAt: new Date(r.admittedAt).toISOString(),
        leaseExpiresAt: new Date(r.leaseExpiresAt).toISOString(),
      })),
      queued: adm.queue.map((q) => ({
        executionId: q.executionId,
        priority: q.priority,
        effectivePriority: effectivePriority(q, now, agingMs()),
        enqueuedAt: new Date(q.enqueuedAt).toISOString(),
        waitingMs: now - q.enqueuedAt,
      })),
      queuedByPriority: byPriority,
      oldestWaitMs: adm.queue.reduce((m, q) => Math.max(m, now - q.enqueuedAt), 0),
      recent,
    };
  });

  const grant = async (executionId: string): Promise<boolean> => {
    try {
      await getExternalWorkflowHandle(executionId).signal(slotGrantedSignal, {
        grantedAt: new Date().toISOString(),
      });
      return true;
    } catch {
      // The execution is gone (terminated, timed out): its slot goes to the next one.
      record(executionId, 'gone');
      return false;
    }
  };
  const canContinueAsNew = () =>
    workflowInfo().continueAsNewSuggested ||
    (args.continueAsNewAfterEvents !== undefined &&
      workflowInfo().historyLength > args.continueAsNewAfterEvents);

  // ---------------------------------------------------------------- the Scalar (warm pools)
  let stopping = false;
  const scalar = async () => {
    for (;;) {
      await condition(() => stopping || deleted || (state.warm !== undefined && isWarm(state.current?.spec)));
      if (stopping || deleted) return;
      const spec = state.current!.spec;
      const warm = state.warm!;
      const settings = warmSettings(spec);
      const scope = new CancellationScope();
      observing = scope;
      let observed: Awaited<ReturnType<typeof observeWarmDemand>>;
      try {
        observed = await scope.run(() =>
          observeWarmDemand({
            function: state.name,
            state: warm.scalar,
            settings,
            maxWaitMs: OBSERVE_MAX_WAIT_MS,
          }),
        );
      } catch (err) {
        if (!isCancellation(err)) {
          log.warn('could not observe warm demand; trying again', { error: String(err) });
          await sleep('5s');
        }
        continue;
      } finally {
        observing = undefined;
      }
      // The spec may have changed while observing: decide with the current settings, on the current pool.
      if (state.warm !== warm || !isWarm(state.current?.spec)) continue;
      warm.demand = observed.demand;
      warm.observedAt = Date.now();
      if (observed.status) warm.readyReplicas = observed.status.readyReplicas;
      const step = scalarStep(warm.scalar, observed.demand, Date.now(), warmSettings(state.current!.spec));
      if (!step.decision) {
        warm.scalar = step.state;
        continue;
      }
      const decision = step.decision;
      try {
        // Serialised with apply/delete: a spec change never resets a count decided meanwhile.
        const status = await serially(() => scaleWarmPool({ function: state.name, decision }));
        if (state.warm !== warm) continue;
        warm.scalar = step.state;
        if (status) warm.readyReplicas = status.readyReplicas;
        warm.decisions.push(decision);
        if (warm.decisions.length > DECISIONS_KEPT) warm.decisions.shift();
        log.info('warm pool scaled', { ...decision });
      } catch (err) {
        log.warn('could not scale the warm pool; trying again', { error: String(err), ...decision });
        await sleep('5s');
      }
    }
  };
  const scalarDone = scalar();

  while (!deleted && !canContinueAsNew()) {
    const nextExpiry = adm.running.reduce((m, r) => Math.min(m, r.leaseExpiresAt), Number.POSITIVE_INFINITY);
    const wake = () => deleted || dirty || pendingGrants.length > 0 || canContinueAsNew();
    if (Number.isFinite(nextExpiry)) await condition(wake, Math.max(1, nextExpiry - Date.now()));
    else await condition(wake);
    dirty = false;
    const now = Date.now();
    for (const expired of adm.running.filter((r) => r.leaseExpiresAt <= now)) {
      log.warn('slot lease expired without renewal; freeing it', { executionId: expired.executionId });
      record(expired.executionId, 'lease-expired');
    }
    adm.running = adm.running.filter((r) => r.leaseExpiresAt > now);
    for (const id of pendingGrants.splice(0)) await grant(id);
    const max = limit() ?? Number.POSITIVE_INFINITY;
    while (adm.running.length < max && adm.queue.length > 0) {
      const idx = nextToAdmit(adm.queue, Date.now(), agingMs());
      const [next] = adm.queue.splice(idx, 1);
      if (!next) break;
      if (await grant(next.executionId)) {
        adm.running.push({
          executionId: next.executionId,
          priority: next.priority,
          admittedAt: Date.now(),
          leaseExpiresAt: Date.now() + leaseMs(),
        });
        record(next.executionId, 'admitted');
      }
    }
  }
  if (deleted) {
    // Deleting the function lets waiting executions run with the spec they already hold.
    for (const q of adm.queue.splice(0)) await grant(q.executionId);
  }
  stopping = true;
  observing?.cancel();
  await scalarDone;
  await condition(allHandlersFinished);
  if (deleted) return;
  const next = { ...args, name: state.name, state };
  // The new run starts with the memo (Temporal does not carry a memo across continue-as-new): a
  // reader between this run's end and the next one's first task still finds the spec.
  if (patched(SPEC_MEMO_PATCH)) {
    await makeContinueAsNewFunc<typeof functionController>({
      memo: { [SPEC_MEMO_KEY]: { current: state.current } satisfies SpecMemo },
    })(next);
  }
  await continueAsNew<typeof functionController>(next);
}
