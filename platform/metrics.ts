/**
 * Prometheus metrics of one process (worker, API, or both under `npm start`). One registry per
 * `createMetrics()` call, passed down like any other dependency: no module-level registry, so tests
 * and embedded setups never share counters by accident.
 *
 * Names follow Prometheus conventions: `pontoon_` prefix, base units (seconds), counters end in
 * `_total`. Labels are bounded: function names, failure types, triggers (api, cli, sdk or a schedule
 * name), runtimes, route templates — never execution ids.
 */
import { Counter, collectDefaultMetrics, Histogram, Registry } from 'prom-client';
import { validatorStats } from '../core/io-schema.ts';

/** Attempts run from a fraction of a second to hours (timeout default 10m). */
const ATTEMPT_BUCKETS = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600];
/** Executions include retries and backoff waits. */
const EXECUTION_BUCKETS = [0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 4 * 3600, 24 * 3600];
const HTTP_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export interface MetricsOptions {
  /** Node process metrics (process_*, nodejs_*); on for real processes, off in most tests. */
  processMetrics?: boolean;
}

export function createMetrics(opts: MetricsOptions = {}) {
  const registry = new Registry();
  if (opts.processMetrics) collectDefaultMetrics({ register: registry });
  const registers = [registry];

  const attemptLabels = ['function', 'runtime'] as const;
  const finishedLabels = ['function', 'outcome', 'runtime'] as const;
  const executionLabels = ['function', 'trigger'] as const;
  const executionEndLabels = ['function', 'trigger', 'status'] as const;

  const metrics = {
    registry,
    /** Counted when the runAttempt activity starts (a retried activity after a lost worker counts again). */
    attemptsStarted: new Counter({
      name: 'pontoon_attempts_started_total',
      help: 'Attempts started by the runAttempt activity, by function and runtime.',
      labelNames: attemptLabels,
      registers,
    }),
    /**
     * outcome: `succeeded`, a failure type of core/execution.ts (FunctionExit, AttemptTimedOut, …),
     * `cancelled`, or `error` (an infrastructure error Temporal retries as the same attempt).
     */
    attemptsFinished: new Counter({
      name: 'pontoon_attempts_finished_total',
      help: 'Attempts finished, by function, outcome (succeeded, a failure type, cancelled, error) and runtime.',
      labelNames: finishedLabels,
      registers,
    }),
    attemptDuration: new Histogram({
      name: 'pontoon_attempt_duration_seconds',
      help: 'Wall time of one attempt in the runAttempt activity (launch to exit, kill grace included).',
      labelNames: finishedLabels,
      buckets: ATTEMPT_BUCKETS,
      registers,
    }),
    /**
     * How executions got their function's spec: `memory` (the version the starter pinned, held by
     * this worker), `memo` (the controller's memo through DescribeWorkflowExecution: no workflow
     * task of the controller) or `query` (asked a controller started before it published its memo).
     */
    specReads: new Counter({
      name: 'pontoon_spec_reads_total',
      help: "Spec reads by executions starting, by source: memory (a pinned version held), memo (the controller's memo through DescribeWorkflowExecution), query (a controller without the memo).",
      labelNames: ['source'] as const,
      registers,
    }),
    /**
     * DescribeWorkflowExecution calls sent for `memo` spec reads: concurrent reads of one function
     * share one (see client/spec-reader.ts), so this grows slower than `memo` reads under a burst.
     */
    specDescribes: new Counter({
      name: 'pontoon_spec_describes_total',
      help: 'DescribeWorkflowExecution calls to function controllers for spec reads (shared by concurrent reads).',
      registers,
    }),
    /**
     * Typed inputs and results (core/io-schema.ts): schemas compiled by this process, read from its
     * process-wide cache at each scrape. Grows once per distinct schema, never per execution.
     */
    schemaCompiles: new Counter({
      name: 'pontoon_schema_compiles_total',
      help: 'JSON Schemas of typed inputs and results compiled by this process (once per distinct schema, never per execution).',
      registers,
      collect() {
        this.reset();
        this.inc(validatorStats.compiled);
      },
    }),
    /** Counted by the starter (the API for api and cli triggers); schedules start on the server. */
    executionsStarted: new Counter({
      name: 'pontoon_executions_started_total',
      help: 'Executions started through the Pontoon API (trigger api or cli), by function and trigger. Repeated idempotency keys are not counted.',
      labelNames: executionLabels,
      registers,
    }),
    /** Counted by the recordExecutionEnd activity, which the executeFunction workflow calls once at its end. */
    executionsFinished: new Counter({
      name: 'pontoon_executions_finished_total',
      help: 'Executions ended, by function, trigger and status (succeeded, failed, timed_out, cancelled).',
      labelNames: executionEndLabels,
      registers,
    }),
    executionDuration: new Histogram({
      name: 'pontoon_execution_duration_seconds',
      help: 'Wall time of whole executions (all attempts and backoff waits), by function, trigger and status.',
      labelNames: executionEndLabels,
      buckets: EXECUTION_BUCKETS,
      registers,
    }),
    apiRequests: new Counter({
      name: 'pontoon_api_requests_total',
      help: 'HTTP requests served by the Pontoon API, by method, route template and status code.',
      labelNames: ['method', 'route', 'status_code'] as const,
      registers,
    }),
    apiRequestDuration: new Histogram({
      name: 'pontoon_api_request_duration_seconds',
      help: 'Duration of HTTP requests served by the Pontoon API, by method and route template.',
      labelNames: ['method', 'route'] as const,
      buckets: HTTP_BUCKETS,
      registers,
    }),
    /**
     * Exposes a running count of apiserver requests by verb (the kubernetes runtime's RequestCounter)
     * as `pontoon_kubernetes_requests_total{verb}`, read at scrape time.
     */
    observeKubernetesRequests(snapshot: () => Record<string, number>): void {
      const seen: Record<string, number> = {};
      new Counter({
        name: 'pontoon_kubernetes_requests_total',
        help: 'Requests sent to the Kubernetes apiserver by the kubernetes runtime, by verb.',
        labelNames: ['verb'] as const,
        registers,
        collect() {
          for (const [verb, n] of Object.entries(snapshot())) {
            if (verb === 'total') continue;
            const delta = n - (seen[verb] ?? 0);
            seen[verb] = n;
            // Zero increments still create the series, so dashboards see every verb from the start.
            this.inc({ verb }, Math.max(0, delta));
          }
        },
      });
    },
  };
  return metrics;
}

export type PontoonMetrics = ReturnType<typeof createMetrics>;

/**
 * The text exposition of the registry, followed by extra text (the Temporal SDK runtime's own
 * Prometheus output, fetched from its loopback listener) when given.
 */
export async function renderMetrics(
  metrics: PontoonMetrics,
  extra?: () => Promise<string | undefined>,
): Promise<string> {
  const own = await metrics.registry.metrics();
  const more = extra ? await extra().catch(() => undefined) : undefined;
  return more ? `${own.trimEnd()}\n${more.trimEnd()}\n` : own;
}

/** Fetches the Temporal Core runtime's Prometheus text from its loopback bind address. */
export function temporalRuntimeMetrics(bindAddress: string): () => Promise<string | undefined> {
  return async () => {
    const res = await fetch(`http://${bindAddress}/metrics`, { signal: AbortSignal.timeout(2000) });
    return res.ok ? await res.text() : undefined;
  };
}
