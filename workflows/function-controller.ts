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
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import { formatPath } from '../spec/parse-path.ts';
import { type FunctionSpec, FunctionSpecSchema } from '../spec/schema.ts';
import {
  type ApplyResult,
  applyUpdate,
  deleteUpdate,
  type SpecVersion,
  specHistoryQuery,
  specQuery,
} from './definitions.ts';

/** Versions kept for `specHistory`; older ones are dropped (the history of Temporal keeps all). */
export const CONTROLLER_HISTORY_LIMIT = 20;

export interface ControllerState {
  name: string;
  current: SpecVersion | null;
  previous: SpecVersion[];
}

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
  setHandler(
    applyUpdate,
    (raw): ApplyResult => {
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
      if (state.current)
        state.previous = [state.current, ...state.previous].slice(0, CONTROLLER_HISTORY_LIMIT);
      state.current = { version: (state.current?.version ?? 0) + 1, appliedAt: now, spec };
      return { name: state.name, version: state.current.version, changed: true, appliedAt: now };
    },
    { validator: (raw) => void validate(state.name, raw) },
  );

  let deleted = false;
  setHandler(deleteUpdate, () => {
    const version = state.current?.version ?? 0;
    if (state.current) state.previous = [state.current, ...state.previous].slice(0, CONTROLLER_HISTORY_LIMIT);
    state.current = null;
    deleted = true;
    return { name: state.name, version };
  });

  await condition(() => deleted || workflowInfo().continueAsNewSuggested);
  await condition(allHandlersFinished);
  if (deleted) return;
  await continueAsNew<typeof functionController>({ name: state.name, state });
}
