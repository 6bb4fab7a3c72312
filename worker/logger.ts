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

let installed = false;

/**
 * Routes the Temporal runtime's logs (worker, workflow `log`, activity context logger) through pino.
 * Must run before any connection or worker is created; later calls are no-ops (one runtime per process).
 */
export function installTemporalRuntime(logger: Logger): void {
  if (installed) return;
  installed = true;
  const level = (logger.level.toUpperCase() === 'FATAL' ? 'ERROR' : logger.level.toUpperCase()) as LogLevel;
  Runtime.install({
    logger: new DefaultLogger(level in LEVELS ? level : 'INFO', (entry) => {
      const { sdkComponent, ...meta } = entry.meta ?? {};
      logger[LEVELS[entry.level]]({ ...meta, component: sdkComponent }, entry.message);
    }),
  });
}
