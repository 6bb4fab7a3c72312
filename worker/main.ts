/** `pontoon worker`: runs the Pontoon worker until SIGTERM or SIGINT, then drains and exits. */
import { PONTOON_VERSION } from '../core/names.ts';
import { ConfigError } from '../platform/config.ts';
import { parseConfig } from './config.ts';
import { startObservedWorker } from './observed.ts';

export async function runWorker(): Promise<void> {
  const config = parseConfig();
  const {
    logger,
    worker: w,
    metricsServer,
    tracing,
    close,
  } = await startObservedWorker(config, 'pontoon-worker');
  const stop = () => {
    logger.info('shutting down: finishing in-flight work');
    w.worker.shutdown();
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  logger.info(
    {
      version: PONTOON_VERSION,
      address: config.temporal.address,
      namespace: config.temporal.namespace,
      taskQueue: config.taskQueue,
      metrics: metricsServer ? `${metricsServer.url}/metrics` : 'off',
      tracing: tracing ? 'otlp' : 'off',
    },
    'worker running',
  );
  await w.worker.run();
  await close();
  logger.info('worker stopped');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  runWorker().catch((err) => {
    if (err instanceof ConfigError) console.error(err.message);
    else console.error('worker failed:', err);
    process.exit(1);
  });
}
