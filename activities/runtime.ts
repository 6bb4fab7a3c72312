/**
 * The runtime interface: where an attempt runs. The local runtime (child processes) and the
 * kubernetes runtime (a pod per attempt, the observer beside the function) implement it; the `runAttempt`
 * activity calls whichever the worker was configured with.
 */
import type { AttemptOutcome, AttemptRequest } from '../core/execution.ts';
import type { WarmPoolManager } from './kubernetes/warm.ts';

export interface AttemptControl {
  /** Called about once a second while the attempt runs; details show in the Web UI's pending activity. */
  heartbeat(details: unknown): void;
  /** Aborts when the attempt must stop now (cancellation or worker shutdown). */
  signal: AbortSignal;
  /**
   * Temporal's attempt number of this activity: 1 the first time, more when Temporal retries it (a
   * lost worker). Only a retried activity can have a predecessor whose outcome it must adopt, so
   * only it looks for the attempt's record (activities/kubernetes/runtime.ts: that lookup costs
   * apiserver requests). Unset: treated as 1.
   */
  activityAttempt?: number;
  /** Temporal run id of the execution: a record of another run of the same execution id is not adopted. */
  runId?: string;
}

export interface FunctionRuntime {
  readonly kind: 'local' | 'kubernetes';
  /**
   * Runs one attempt to its end. Function failures (exit codes, timeouts, limits) are outcomes, not
   * exceptions; throw only for infrastructure errors worth retrying the same attempt (Temporal does).
   * Must be idempotent per (executionId, attempt): a retry after a lost worker adopts or replaces
   * what the lost one started, never runs beside it, and adopts the outcome it produced, whenever
   * the worker was lost (the outcome is recorded with the attempt before anything that would let a
   * retry run the function again: kubernetes, before the pod is deleted; local, in its folder).
   */
  runAttempt(req: AttemptRequest, control: AttemptControl): Promise<AttemptOutcome>;
  /**
   * Stops an attempt whose execution was cancelled, ahead of its own activity hearing of it (which
   * waits for a heartbeat's answer). Optional; resolves whether something was stopped.
   */
  abortAttempt?(key: { function: string; executionId: string; attempt: number }): Promise<boolean>;
  /**
   * Resolves when the work each runtime does after an attempt's outcome went back (kubernetes: the
   * record and log stored, the pod deleted) is done for every attempt that has returned so far.
   * Used by fault injection (worker/faults.ts) to die at the latest point before Temporal records.
   */
  settled?(): Promise<void>;
  /**
   * Kubernetes: warm functions run in Deployments whose observers serve the task queue
   * `pontoon-warm-<function>`; the function controller sizes them through this. Absent on the local
   * runtime, whose warm pools live inside the worker and size themselves (activities/local/warm.ts).
   */
  readonly warmPools?: WarmPoolManager;
  /** Releases watches and connections at worker shutdown. */
  close?(): Promise<void>;
}

/** The activity a warm replica's observer runs on `pontoon-warm-<function>` (observer/warm.ts). */
export interface WarmActivities {
  runWarmAttempt(req: AttemptRequest): Promise<AttemptOutcome>;
}
