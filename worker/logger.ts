/** pino, with credentials redacted, and the adapter that makes Temporal's runtime log through it. */
import { DefaultLogger, type LogLevel, Runtime } from '@temporalio/worker';
import pino, { type Logger } from 'pino';

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
      const { sdkComponent, ...meta } = entry.meta ?? {};
      logger[LEVELS[entry.level]]({ ...meta, component: sdkComponent }, entry.message);
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
