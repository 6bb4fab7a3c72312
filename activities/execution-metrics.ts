/**
 * The execution-level metrics hook. Only the workflow knows when and how an execution ends, and a
 * workflow cannot touch a metrics registry, so executeFunction hands each end to the worker:
 *
 * - through the `executionMetrics` workflow sink (ExecutionMetricsSinks): every execution that
 *   reaches its end on a worker with the `execution-end-sink` patch (patched() is true whenever the
 *   code is not replaying, so executions started on an earlier version use it too). A sink call is
 *   no command and no activation; the worker runs it right after the activation, before it sends
 *   the workflow task's completion, and not when the history is replayed (callDuringReplay false:
 *   after an eviction, for a query). A workflow task that fails or times out after the call runs the
 *   end again and counts it again, as the local activity did;
 * - through the `recordExecutionEnd` local activity (no retries: a lost count is better than a
 *   double one), for histories that already hold its marker (ended on an earlier version; replayed).
 *   It stays registered while such histories can still be replayed, until the patch is deprecated
 *   (deprecatePatch) in a later version.
 *
 * Both count in pontoon_executions_finished_total and its duration histogram (recordEnd).
 */
import type { Sinks } from '@temporalio/workflow';
import type { ExecutionStatus } from '../core/execution.ts';
import type { PontoonMetrics } from '../platform/metrics.ts';

export interface ExecutionEnd {
  function: string;
  /** api, cli, sdk or the schedule name (the PontoonTrigger search attribute). */
  trigger: string;
  status: ExecutionStatus | 'cancelled';
  /** Workflow start to end: all attempts and backoff waits. */
  durationMs: number;
}

/** The sink executeFunction calls at its end (the worker injects it: executionMetricsSink). */
export interface ExecutionMetricsSinks extends Sinks {
  executionMetrics: {
    ended(end: ExecutionEnd): void;
  };
}

const STATUSES = new Set(['succeeded', 'failed', 'timed_out', 'cancelled']);

/** Counts one ended execution. Labels stay bounded whatever a caller sends (an unknown status counts as failed). */
export function recordEnd(metrics: PontoonMetrics, end: ExecutionEnd): void {
  const status = STATUSES.has(end.status) ? end.status : 'failed';
  const labels = { function: end.function, trigger: end.trigger, status };
  metrics.executionsFinished.inc(labels);
  metrics.executionDuration.observe(labels, Math.max(0, end.durationMs) / 1000);
}

/**
 * The worker's side of ExecutionMetricsSinks (Worker.create's `sinks`): never called during replay,
 * so a history read again on another worker is not counted twice.
 */
export function executionMetricsSink(metrics: PontoonMetrics) {
  return {
    ended: { fn: (_info: unknown, end: ExecutionEnd) => recordEnd(metrics, end), callDuringReplay: false },
  };
}

export function createExecutionMetricsActivities({ metrics }: { metrics: PontoonMetrics }) {
  return {
    /** Counts one ended execution (executions from before the `execution-end-sink` patch). */
    async recordExecutionEnd(end: ExecutionEnd): Promise<void> {
      recordEnd(metrics, end);
    },
  };
}
