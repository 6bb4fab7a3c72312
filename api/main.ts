/** `pontoon api`: serves the REST API until SIGTERM/SIGINT. */
import type { Tracer } from '@opentelemetry/api';
import { Client } from '@temporalio/client';
import type { Logger } from 'pino';
import type { FunctionAccess } from '../core/function-access.ts';
import { createLogSource } from '../logs/index.ts';
import type { AttemptLogSource } from '../logs/source.ts';
import { parseProcessConfig } from '../platform/config.ts';
import { createLogger } from '../platform/logger.ts';
import { createMetrics, type PontoonMetrics } from '../platform/metrics.ts';
import { connectClient, dataConverterOf } from '../platform/temporal.ts';
import { createTracing, tracingClientInterceptors } from '../platform/tracing.ts';
import { buildApi } from './app.ts';
import { type ApiConfig, parseApiConfig } from './config.ts';

export const OPEN_WARNING =
  'AUTHENTICATION IS OFF: anyone who can reach this port can apply, invoke and delete functions. ' +
  'Use PONTOON_AUTH=keys with API keys outside local development.';

/** Starts the API on an existing Temporal client; returns a stop function. */
export async function startApi(opts: {
  api: ApiConfig;
  logger: Logger;
  client: Awaited<ReturnType<typeof connectClient>>;
  taskQueue: string;
  dataDir: string;
  /** Where attempt logs are read; default: the local runtime's files under dataDir. */
  logs?: AttemptLogSource;
  metrics?: PontoonMetrics;
  /** Give with a client built with the tracing client interceptors. */
  tracer?: Tracer;
  /** Kubernetes runtime: what specs may use (checked at apply, like the workers do). */
  functionAccess?: FunctionAccess;
}): Promise<{ url: string; close(): Promise<void> }> {
  const app = await buildApi({
    client: opts.client,
    logger: opts.logger,
    taskQueue: opts.taskQueue,
    dataDir: opts.dataDir,
    ...(opts.logs ? { logs: opts.logs } : {}),
    auth: opts.api.auth,
    ...(opts.api.allowedHosts ? { allowedHosts: opts.api.allowedHosts } : {}),
    ...(opts.api.maxBackfillFires ? { maxBackfillFires: opts.api.maxBackfillFires } : {}),
    ...(opts.api.authFailuresPerMinute ? { authFailuresPerMinute: opts.api.authFailuresPerMinute } : {}),
    ...(opts.api.notifyAllowCidrs ? { notifyAllowCidrs: opts.api.notifyAllowCidrs } : {}),
    ...(opts.api.maxDeleteCancels ? { maxDeleteCancels: opts.api.maxDeleteCancels } : {}),
    ...(opts.api.trustProxy !== undefined ? { trustProxy: opts.api.trustProxy } : {}),
    ...(opts.api.codecCorsOrigins ? { codecCorsOrigins: opts.api.codecCorsOrigins } : {}),
    ...(opts.metrics ? { metrics: opts.metrics } : {}),
    ...(opts.tracer ? { tracer: opts.tracer } : {}),
    ...(opts.functionAccess ? { functionAccess: opts.functionAccess } : {}),
  });
  if (opts.api.auth.mode === 'open') opts.logger.warn(OPEN_WARNING);
  const address = await app.listen({ host: opts.api.host, port: opts.api.port });
  return { url: address, close: () => app.close() };
}

export async function runApi(): Promise<void> {
  const config = parseProcessConfig();
  const api = parseApiConfig();
  const logger = createLogger(config.logLevel, 'pontoon-api', { format: config.logFormat ?? 'json' });
  const tracing = config.tracing
    ? createTracing({ serviceName: config.tracing.serviceName ?? 'pontoon-api', registerGlobal: true })
    : undefined;
  const base = await connectClient(config.temporal);
  const client = tracing
    ? new Client({
        connection: base.connection,
        namespace: config.temporal.namespace,
        dataConverter: dataConverterOf(config.temporal),
        interceptors: tracingClientInterceptors(tracing),
      })
    : base;
  const server = await startApi({
    api,
    logger,
    metrics: createMetrics({ processMetrics: true }),
    ...(tracing ? { tracer: tracing.tracer } : {}),
    client,
    taskQueue: config.taskQueue,
    dataDir: config.dataDir,
    logs: createLogSource(config, logger),
    ...(config.runtime === 'kubernetes' ? { functionAccess: config.kubernetes.access } : {}),
  });
  logger.info({ url: server.url, temporal: config.temporal.address }, 'API listening');
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
  });
  logger.info('API stopping: finishing in-flight requests');
  await server.close();
  await client.connection.close();
  await tracing?.shutdown();
}
