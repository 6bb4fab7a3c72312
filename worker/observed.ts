/**
 * A worker process with its observability: pino logger, the Temporal runtime (with its own
 * Prometheus series on a loopback port when metrics are on), our metrics registry and listener,
 * and tracing when OTLP is configured. Shared by `pontoon worker` and `pontoon dev`.
 */

import { createLogger, installTemporalRuntime, type LoggerOptions } from '../platform/logger.ts';
import { createMetrics, temporalRuntimeMetrics } from '../platform/metrics.ts';
import type { WorkerConfig } from './config.ts';
import { freeLoopbackPort, startMetricsServer } from './metrics-server.ts';
import { createPontoonWorker } from './worker.ts';

/** `logOptions`: the command's defaults; PONTOON_LOG_FORMAT (config.logFormat) wins over its format. */
export async function startObservedWorker(
  config: WorkerConfig,
  serviceName: string,
  logOptions: LoggerOptions = {},
) {
  const logger = createLogger(config.logLevel, 'pontoon', {
    ...logOptions,
    format: config.logFormat ?? logOptions.format ?? 'json',
  });
  const runtimeMetrics = config.metrics ? `127.0.0.1:${await freeLoopbackPort()}` : undefined;
  installTemporalRuntime(logger, runtimeMetrics ? { metricsBindAddress: runtimeMetrics } : {});
  const metrics = createMetrics({ processMetrics: true });
  // OpenTelemetry's SDK is loaded only when traces are exported (~5 MiB of a worker at rest).
  const tracing = config.tracing
    ? (await import('../platform/tracing.ts')).createTracing({
        serviceName: config.tracing.serviceName ?? serviceName,
        registerGlobal: true,
      })
    : undefined;
  const worker = await createPontoonWorker({ config, logger, metrics, ...(tracing ? { tracing } : {}) });
  const metricsServer = config.metrics
    ? await startMetricsServer({
        ...config.metrics,
        metrics,
        ...(runtimeMetrics ? { extra: temporalRuntimeMetrics(runtimeMetrics) } : {}),
      })
    : undefined;
  return {
    logger,
    metrics,
    tracing,
    worker,
    metricsServer,
    /** After worker.run() has returned: close connections, the metrics listener and the tracer. */
    async close() {
      await worker.client.connection.close();
      await worker.connection.close();
      await metricsServer?.close();
      await tracing?.shutdown();
    },
  };
}
