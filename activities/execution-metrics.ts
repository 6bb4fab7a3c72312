/**
 * The execution-level metrics hook. Only the workflow knows when and how an execution ends, and a
 * workflow cannot touch a metrics registry, so executeFunction calls `recordExecutionEnd` once at
 * its end (a local activity, no retries: a lost count is better than a double one).
 */
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

const STATUSES = new Set(['succeeded', 'failed', 'timed_out', 'cancelled']);

export function createExecutionMetricsActivities({ metrics }: { metrics: PontoonMetrics }) {
  return {
    /** Counts one ended execution in pontoon_executions_finished_total and its duration histogram. */
    async recordExecutionEnd(end: ExecutionEnd): Promise<void> {
      // Labels stay bounded whatever a caller sends.
      const status = STATUSES.has(end.status) ? end.status : 'failed';
      const labels = { function: end.function, trigger: end.trigger, status };
      metrics.executionsFinished.inc(labels);
      metrics.executionDuration.observe(labels, Math.max(0, end.durationMs) / 1000);
    },
  };
}
