/**
 * The spec store: a function's spec versions, the controller's system of record. `apply` validates
 * a spec, stores it as a new version when it differs from the current one (schedules and warm pool
 * reconciled first, so nothing is half-applied), and `delete` forgets it. The current spec is
 * published in the workflow's memo (patch `spec-memo`) so executions read it without a query.
 */
import { ActivityFailure, ApplicationFailure, patched, upsertMemo } from '@temporalio/workflow';
import { APPLY_FAILURES, FailureType } from '../../core/failures.ts';
import { formatPath } from '../../core/parse-path.ts';
import { type FunctionSpec, functionSpecSchema } from '../../core/schema.ts';
import { literalSecretProblems } from '../../core/secret-env.ts';
import { type ApplyResult, type DeleteResult, SPEC_MEMO_KEY, type SpecMemo } from '../definitions.ts';
import type { ControllerState } from './state.ts';

/** Versions kept for `specHistory`; older ones are dropped (the history of Temporal keeps all). */
export const CONTROLLER_HISTORY_LIMIT = 20;

/**
 * The controller publishes its current spec in its memo (SPEC_MEMO_KEY) at the start of each run
 * and on every apply and delete, so executions read it through DescribeWorkflowExecution instead of
 * a query (no workflow task of the controller on their path; see client/spec-reader.ts).
 * Controllers started before replay without it, and publish from their next apply or run on.
 */
const SPEC_MEMO_PATCH = 'spec-memo';

/** What an apply or delete brings in line with the spec, before the spec store records it. */
export interface Reconcilers {
  /** Temporal Schedules (the schedule guard). */
  schedules(spec: FunctionSpec | null, previous: FunctionSpec | null): Promise<ApplyResult['schedules']>;
  /** The warm pool (the Scalar loop). */
  warm(spec: FunctionSpec | null, previous: FunctionSpec | null): Promise<void>;
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

/** The spec an apply carries, parsed with the schema; SpecInvalid with `{field, message}` details if not. */
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

export class SpecStore {
  /** Set once `delete` has run: the controller then completes. */
  deleted = false;

  constructor(private readonly state: ControllerState) {}

  /** Publishes the current spec in the memo (in the same workflow task as the change it follows). */
  publish(): void {
    if (patched(SPEC_MEMO_PATCH))
      upsertMemo({ [SPEC_MEMO_KEY]: { current: this.state.current } satisfies SpecMemo });
  }

  /**
   * The `apply` Update's validator: refuses literal secrets (SpecInvalid naming each field). Here,
   * never in the handler: the handler runs again on replay, and a spec accepted before the rule
   * existed must replay as it ran.
   */
  refuseLiteralSecrets(raw: unknown): void {
    const problems = literalSecretProblems(validate(this.state.name, raw));
    if (problems.length === 0) return;
    const details = problems.map((p) => ({ field: formatPath(p.path), message: p.message }));
    throw ApplicationFailure.create({
      type: APPLY_FAILURES.invalid,
      message: `spec invalid: ${details.map((d) => `${d.field}: ${d.message}`).join('; ')}`,
      nonRetryable: true,
      details,
    });
  }

  /**
   * Stores `raw` as the next version unless it equals the current one (applying is idempotent).
   * Schedules first: if Temporal refuses them, the spec stays as it was (nothing half-applied); then
   * the warm pool (its failure puts the schedules back too). Refusals the same spec would meet again
   * are thrown as SpecRefused.
   */
  async apply(raw: unknown, reconcile: Reconcilers): Promise<ApplyResult> {
    const state = this.state;
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
    let schedules: ApplyResult['schedules'];
    try {
      schedules = await reconcile.schedules(spec, before?.spec ?? null);
    } catch (err) {
      await reconcile.schedules(before?.spec ?? null, spec).catch(() => undefined);
      throw refusal(err);
    }
    // Then the warm pool: created or updated for a warm spec, deleted when it stops being warm.
    try {
      await reconcile.warm(spec, before?.spec ?? null);
    } catch (err) {
      await reconcile.schedules(before?.spec ?? null, spec).catch(() => undefined);
      throw refusal(err);
    }
    if (before) state.previous = [before, ...state.previous].slice(0, CONTROLLER_HISTORY_LIMIT);
    state.current = { version: (before?.version ?? 0) + 1, appliedAt: now, spec };
    this.publish();
    return { name: state.name, version: state.current.version, changed: true, appliedAt: now, schedules };
  }

  /** Removes the function's schedules and warm pool, then forgets its spec (kept among the previous). */
  async delete(reconcile: Reconcilers): Promise<DeleteResult> {
    const state = this.state;
    const version = state.current?.version ?? 0;
    await reconcile.schedules(null, state.current?.spec ?? null);
    await reconcile.warm(null, state.current?.spec ?? null);
    if (state.current) state.previous = [state.current, ...state.previous].slice(0, CONTROLLER_HISTORY_LIMIT);
    state.current = null;
    this.publish();
    this.deleted = true;
    return { name: state.name, version };
  }

  /**
   * The memo the next run starts with (Temporal does not carry a memo across continue-as-new), so a
   * reader between this run's end and the next one's first task still finds the spec; undefined
   * for controllers started before the `spec-memo` patch.
   */
  memoForNextRun(): Record<string, unknown> | undefined {
    if (!patched(SPEC_MEMO_PATCH)) return undefined;
    return { [SPEC_MEMO_KEY]: { current: this.state.current } satisfies SpecMemo };
  }
}
