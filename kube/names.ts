/**
 * Names Pontoon gives its objects in the cluster: pod names, container names, the labels and
 * annotations only Kubernetes code reads (the label keys shared with the API live in core/names.ts
 * `Label`). Pure; imported by the runtime (activities/kubernetes/), the log store and the API's log
 * source (logs/), so none of them reaches into another for a name.
 */
import { createHash } from 'node:crypto';

/** Value of the `app.kubernetes.io/managed-by` label on everything Pontoon creates. */
export const MANAGED_BY = 'pontoon';
export const FUNCTION_CONTAINER = 'function';
export const OBSERVER_CONTAINER = 'observer';
/** Pod label naming the egress NetworkPolicy of the spec (activities/kubernetes/network.ts). */
export const EGRESS_LABEL = 'pontoon.dev/egress';
/** The full execution id (labels hold only its hash: they are ≤ 63 characters and allow no ":"). */
export const EXECUTION_ID_ANNOTATION = 'pontoon.dev/execution-id';
/**
 * The Temporal run id of the execution that created the pod: a later run of the same execution id
 * (same pod name) never adopts the pod or its record, and the sweeper's record carries it.
 */
export const RUN_ID_ANNOTATION = 'pontoon.dev/run-id';
/**
 * The request JSON of an attempt pod whose observer runs beside the function (activities/kubernetes/
 * pod.ts): a downward API volume hands it to the function as $PONTOON_DIR/input.json.
 */
export const INPUT_ANNOTATION = 'pontoon.dev/input';
/** Set on an attempt pod by abortAttempt before deleting it: the execution was cancelled. */
export const CANCELLED_ANNOTATION = 'pontoon.dev/cancelled';

/** 16 hex characters (64 bits) of sha256(executionId): the execution label and part of the pod name. */
export function executionHash(executionId: string): string {
  return createHash('sha256').update(executionId).digest('hex').slice(0, 16);
}

/**
 * `<function>-<execution hash>-<attempt>`: deterministic, so a retried launch of the same attempt
 * adopts the pod instead of starting a second one. Function names are ≤ 40 characters and attempts
 * ≤ 100, so the name is at most 40 + 1 + 16 + 1 + 3 = 61 ≤ 63 characters.
 */
export function attemptPodName(fn: string, executionId: string, attempt: number): string {
  return `${fn}-${executionHash(executionId)}-${attempt}`;
}
