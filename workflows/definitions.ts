/**
 * Messages of Pontoon's workflows: queries and updates, shared by the workflows (which handle them)
 * and by clients (CLI, API, activities) that send them. Definitions only.
 */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { AttemptRecord } from '../core/execution.ts';
import type { ParameterValues } from '../core/parameters.ts';
import type { FunctionSpec } from '../core/schema.ts';

export interface SpecVersion {
  version: number;
  appliedAt: string;
  spec: FunctionSpec;
}

export interface ApplyResult {
  name: string;
  version: number;
  /** false when the spec equals the current one (applying is idempotent). */
  changed: boolean;
  appliedAt: string;
  /** Temporal Schedules created, updated and deleted to match the spec (absent when unchanged). */
  schedules?: { created: string[]; updated: string[]; deleted: string[] };
}

/** Stores a new spec version (validated by the update's validator before it is accepted). */
export const applyUpdate = defineUpdate<ApplyResult, [unknown]>('apply');
export interface DeleteResult {
  name: string;
  /** Version that was current when the function was deleted (0 if none was applied). */
  version: number;
}

/**
 * Memo key under which a function controller publishes its current spec (`{current}`, the value of
 * the spec query, null before the first apply and after delete), so readers get it from
 * DescribeWorkflowExecution without a query, i.e. without a workflow task of the controller.
 * A controller that has no such key predates it (readers fall back to the spec query).
 */
export const SPEC_MEMO_KEY = 'pontoonSpec';
export interface SpecMemo {
  current: SpecVersion | null;
}

/** Removes the function: the controller forgets its spec and completes. Applying again starts afresh. */
export const deleteUpdate = defineUpdate<DeleteResult, []>('delete');
/** The current spec, or null before the first apply and after delete. */
export const specQuery = defineQuery<SpecVersion | null>('spec');
/** Earlier versions, newest first (the last CONTROLLER_HISTORY_LIMIT of them). */
export const specHistoryQuery = defineQuery<SpecVersion[]>('specHistory');

export type ExecutionPhase =
  | 'starting'
  | 'queued'
  | 'running'
  | 'backoff'
  | 'succeeded'
  | 'failed'
  | 'timed_out'
  | 'cancelled'
  | 'terminated';

export interface ExecutionProgress {
  phase: ExecutionPhase;
  /** Attempt running or last run (0 before the first). */
  attempt: number;
  maxAttempts: number;
  /** When the next attempt starts, during backoff. */
  nextAttemptAt?: string;
  parameters: ParameterValues;
  attempts: AttemptRecord[];
}

export interface ScheduleOutcome {
  schedule: string;
  executionId: string;
  succeeded: boolean;
  message?: string;
}

/** Sent by schedule-started executions of schedules with pauseAfterFailures, when they end. */
export const scheduleOutcomeSignal = defineSignal<[ScheduleOutcome]>('scheduleOutcome');

/** Live progress of an execution, for progress lines and `describe`. */
export const progressQuery = defineQuery<ExecutionProgress>('progress');

// ------------------------------------------------------------------ admission (concurrency limits)

export interface SlotRequest {
  executionId: string;
  priority: number;
}

/** An execution of a function with a concurrency limit asks its controller for a slot. */
export const requestSlotSignal = defineSignal<[SlotRequest]>('requestSlot');
/** The execution is done with its slot (or gives up waiting for one). */
export const releaseSlotSignal = defineSignal<[{ executionId: string }]>('releaseSlot');
/** The execution is alive and keeps its slot for another lease period. */
export const renewSlotSignal = defineSignal<[{ executionId: string }]>('renewSlot');
/** Sent by the controller to the execution it admits. */
export const slotGrantedSignal = defineSignal<[{ grantedAt: string }]>('slotGranted');

export interface AdmissionState {
  /** null when the function has no concurrency limit (executions skip admission). */
  concurrency: number | null;
  running: { executionId: string; priority: number; admittedAt: string; leaseExpiresAt: string }[];
  /**
   * waitingMs and oldestWaitMs are as of the controller's last step (a query sees workflow time,
   * which stands still between its tasks); readers compute current waits from enqueuedAt.
   */
  queued: {
    executionId: string;
    priority: number;
    effectivePriority: number;
    enqueuedAt: string;
    waitingMs: number;
  }[];
  queuedByPriority: Record<'1' | '2' | '3' | '4' | '5', number>;
  oldestWaitMs: number;
  /** Admission decisions of the current run (most recent last, at most 50). */
  recent: {
    at: string;
    executionId: string;
    event: 'queued' | 'admitted' | 'released' | 'lease-expired' | 'gone';
  }[];
}

/** Running, queued per priority, oldest wait: `pontoon describe function` and the API show it. */
export const admissionQuery = defineQuery<AdmissionState>('admission');

// ------------------------------------------------------------------ warm pools (the Scalar)

export interface WarmPoolState {
  /** false: the runtime sizes its own warm pools (local) and the controller runs no Scalar. */
  managed: boolean;
  /** Replicas the Scalar has set the Deployment to. */
  replicas: number;
  /** Ready replicas at the last observation. */
  readyReplicas: number;
  /** Open executions at the last observation. */
  demand: number;
  observedAt?: string;
  /** Since when demand has been below the current size (a scale-down is pending), if it is. */
  lowSince?: string;
  /** Scaling decisions, most recent last (at most 50, across continue-as-new). */
  decisions: { at: string; from: number; to: number; demand: number; reason: string }[];
}

/** The warm pool as the Scalar sees it; null for functions that are not warm. */
export const warmPoolQuery = defineQuery<WarmPoolState | null>('warmPool');
