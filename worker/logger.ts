/** pino, with credentials redacted, and the adapter that makes Temporal's runtime log through it. */
import { DefaultLogger, type LogLevel, Runtime } from '@temporalio/worker';
import pino, { type Logger } from 'pino';
import { parseExecutionWorkflowId } from '../spec/names.ts';

export const REDACT_PATHS = [
  'apiKey',
  '*.apiKey',
  'token',
  '*.token',
  'password',
  '*.password',
  'authorization',
  'headers.authorization',
  'req.headers.authorization',
  '*.TEMPORAL_API_KEY',
];

export function createLogger(level: string, name = 'pontoon'): Logger {
  return pino({ name, level, redact: { paths: REDACT_PATHS, censor: '[redacted]' } });
}

const LEVELS: Record<LogLevel, 'trace' | 'debug' | 'info' | 'warn' | 'error'> = {
  TRACE: 'trace',
  DEBUG: 'debug',
  INFO: 'info',
  WARN: 'warn',
  ERROR: 'error',
};

let installed: { metricsBindAddress?: string } | undefined;

/**
 * The fields of a Temporal SDK log line, with those every line of an execution carries:
 * `executionId` and `function` (from the workflow id `exec:<function>:<key>`) and, on the lines of
 * a `runAttempt` activity (activity id `attempt-<n>`), the function's `attempt`. Temporal's own
 * `attempt` of an activity counts its infrastructure retries: it is renamed `activityAttempt`.
 */
export function executionFields(meta: Record<string, unknown>): Record<string, unknown> {
  const { sdkComponent, ...rest } = meta;
  const out: Record<string, unknown> = { ...rest, component: sdkComponent };
  const exec = typeof rest.workflowId === 'string' ? parseExecutionWorkflowId(rest.workflowId) : undefined;
  if (exec) {
    out.executionId = rest.workflowId;
    out.function ??= exec.function;
  }
  if (typeof rest.activityId === 'string') {
    if ('attempt' in rest) {
      out.activityAttempt = rest.attempt;
      delete out.attempt;
    }
    const m = /^attempt-(\d+)$/.exec(rest.activityId);
    if (m) out.attempt = Number(m[1]);
  }
  return out;
}

export interface TemporalRuntimeOptions {
  /**
   * Loopback host:port where the Temporal SDK runtime (Core) serves its own Prometheus metrics
   * (worker slots, poll latencies, task failures, …), with Prometheus naming: `_total` counters,
   * unit suffixes, seconds. The worker's /metrics appends them to Pontoon's own series.
   */
  metricsBindAddress?: string;
}

/**
 * Routes the Temporal runtime's logs (worker, workflow `log`, activity context logger) through pino,
 * and turns on the runtime's Prometheus metrics when asked. Must run before any connection or worker
 * is created; later calls are no-ops (one runtime per process). Returns the metrics address in effect.
 */
export function installTemporalRuntime(
  logger: Logger,
  opts: TemporalRuntimeOptions = {},
): { metricsBindAddress?: string } {
  if (installed) return installed;
  installed = opts.metricsBindAddress ? { metricsBindAddress: opts.metricsBindAddress } : {};
  const level = (logger.level.toUpperCase() === 'FATAL' ? 'ERROR' : logger.level.toUpperCase()) as LogLevel;
  Runtime.install({
    logger: new DefaultLogger(level in LEVELS ? level : 'INFO', (entry) => {
      logger[LEVELS[entry.level]](executionFields(entry.meta ?? {}), entry.message);
    }),
    ...(opts.metricsBindAddress
      ? {
          telemetryOptions: {
            metrics: {
              prometheus: {
                bindAddress: opts.metricsBindAddress,
                countersTotalSuffix: true,
                unitSuffix: true,
                useSecondsForDurations: true,
              },
            },
          },
        }
      : {}),
  });
  return installed;
}
