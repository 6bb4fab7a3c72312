/**
 * What a function controller carries across continue-as-new: the function's spec versions, the
 * schedule guard's failure counts, the admission desk's slots and queue, and the warm pool as the
 * Scalar sees it. Each part of the controller owns its field; the workflow passes the whole object on.
 */
import type { QueuedRequest } from '../../core/admission.ts';
import type { ScalarState, ScalingDecision } from '../../core/scalar.ts';
import type { SpecVersion } from '../definitions.ts';

export interface ControllerState {
  name: string;
  /** The spec store (spec-store.ts): the current version, null before the first apply and after delete. */
  current: SpecVersion | null;
  /** Earlier versions, newest first (at most CONTROLLER_HISTORY_LIMIT). */
  previous: SpecVersion[];
  /** The schedule guard (schedule-guard.ts): consecutive failed executions per schedule (pauseAfterFailures). */
  scheduleFailures?: Record<string, number>;
  /** The admission desk (admission-desk.ts): who holds a slot under the concurrency limit, who waits. */
  admission?: {
    running: { executionId: string; priority: number; admittedAt: number; leaseExpiresAt: number }[];
    queue: QueuedRequest[];
    seq: number;
  };
  /** The Scalar loop (scalar-loop.ts): the warm pool, for warm functions on a runtime whose pools it sizes (kubernetes). */
  warm?: {
    scalar: ScalarState;
    readyReplicas: number;
    demand: number;
    observedAt?: number;
    decisions: ScalingDecision[];
  };
}
