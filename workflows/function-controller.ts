/**
 * functionController (workflow id `fn:<function>`): one per function, the system of record for its
 * spec. `apply` (an Update, validated before it is accepted) stores a new version; queries read the
 * current spec and its history. Continues as new when the history grows, after in-flight handlers
 * finish. The controller issue grows this into admission by priority and the warm pool Scalar.
 */
import {
  allHandlersFinished,
  condition,
  continueAsNew,
  log,
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities/index.ts';
import { formatPath } from '../spec/parse-path.ts';
import { type FunctionSpec, FunctionSpecSchema, priorityNumber } from '../spec/schema.ts';
import {
  type ApplyResult,
  applyUpdate,
  deleteUpdate,
  type SpecVersion,
  scheduleOutcomeSignal,
  specHistoryQuery,
  specQuery,
} from './definitions.ts';

/** Versions kept for `specHistory`; older ones are dropped (the history of Temporal keeps all). */
export const CONTROLLER_HISTORY_LIMIT = 20;

export interface ControllerState {
  name: string;
  current: SpecVersion | null;
  previous: SpecVersion[];
  /** Consecutive failed executions per schedule (for pauseAfterFailures). */
  scheduleFailures?: Record<string, number>;
}

const { reconcileSchedules, pauseSchedule } = proxyActivities<Activities>({
  startToCloseTimeout: '1m',
  retry: { initialInterval: '1s', maximumAttempts: 5 },
});

export interface FunctionControllerArgs {
  name: string;
  /** Carried across continue-as-new. */
  state?: ControllerState;
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
  const parsed = FunctionSpecSchema.safeParse(raw);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `${formatPath(i.path) || '(spec)'}: ${i.message}`);
    throw new Error(`spec invalid: ${lines.join('; ')}`);
  }
  if (parsed.data.metadata.name !== name) {
    throw new Error(
      `metadata.name "${parsed.data.metadata.name}" does not match this controller's function "${name}"`,
    );
  }
  return parsed.data;
}

export async function functionController(args: FunctionControllerArgs): Promise<void> {
  const state: ControllerState = args.state ?? { name: args.name, current: null, previous: [] };

  setHandler(specQuery, () => state.current);
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
          throw err;
        }
        if (before) state.previous = [before, ...state.previous].slice(0, CONTROLLER_HISTORY_LIMIT);
        state.current = { version: (before?.version ?? 0) + 1, appliedAt: now, spec };
        return { name: state.name, version: state.current.version, changed: true, appliedAt: now, schedules };
      }),
    { validator: (raw) => void validate(state.name, raw) },
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
      void serially(() =>
        pauseSchedule({ function: state.name, schedule: outcome.schedule, note: note.slice(0, 1000) }),
      );
    }
  });

  let deleted = false;
  setHandler(deleteUpdate, () =>
    serially(async () => {
      const version = state.current?.version ?? 0;
      await reconcile(null, state.current?.spec ?? null);
      if (state.current)
        state.previous = [state.current, ...state.previous].slice(0, CONTROLLER_HISTORY_LIMIT);
      state.current = null;
      deleted = true;
      return { name: state.name, version };
    }),
  );

  await condition(() => deleted || workflowInfo().continueAsNewSuggested);
  await condition(allHandlersFinished);
  if (deleted) return;
  await continueAsNew<typeof functionController>({ name: state.name, state });
}
