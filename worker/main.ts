/** `pontoon worker`: runs the Pontoon worker until SIGTERM or SIGINT, then drains and exits. */
import { ConfigError, parseConfig } from './config.ts';
import { createLogger, installTemporalRuntime } from './logger.ts';
import { createMetrics, temporalRuntimeMetrics } from './metrics.ts';
import { freeLoopbackPort, startMetricsServer } from './metrics-server.ts';
import { createTracing } from './tracing.ts';
import { createPontoonWorker } from './worker.ts';

export async function runWorker(): Promise<void> {
  const config = parseConfig();
  const logger = createLogger(config.logLevel);
  // With a metrics port, the Temporal runtime also serves its own series on a loopback port, and our
  // /metrics appends them: one scrape target per worker.
  const runtimeMetrics = config.metrics ? `127.0.0.1:${await freeLoopbackPort()}` : undefined;
  installTemporalRuntime(logger, runtimeMetrics ? { metricsBindAddress: runtimeMetrics } : {});
  const metrics = createMetrics({ processMetrics: true });
  const tracing = config.tracing
    ? createTracing({ serviceName: config.tracing.serviceName ?? 'pontoon-worker', registerGlobal: true })
    : undefined;
  const w = await createPontoonWorker({ config, logger, metrics, ...(tracing ? { tracing } : {}) });
  const metricsServer = config.metrics
    ? await startMetricsServer({
        ...config.metrics,
        metrics,
        ...(runtimeMetrics ? { extra: temporalRuntimeMetrics(runtimeMetrics) } : {}),
      })
    : undefined;
  const stop = () => {
    logger.info('shutting down: finishing in-flight work');
    w.worker.shutdown();
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  logger.info(
    {
      address: config.temporal.address,
      namespace: config.temporal.namespace,
      taskQueue: config.taskQueue,
      metrics: metricsServer ? `${metricsServer.url}/metrics` : 'off',
      tracing: tracing ? 'otlp' : 'off',
    },
    'worker running',
  );
  await w.worker.run();
  await w.client.connection.close();
  await w.connection.close();
  await metricsServer?.close();
  await tracing?.shutdown();
  logger.info('worker stopped');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  runWorker().catch((err) => {
    if (err instanceof ConfigError) console.error(err.message);
    else console.error('worker failed:', err);
    process.exit(1);
  });
}
