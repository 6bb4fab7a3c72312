/**
 * The REST API (Fastify). `buildApi()` makes the app without listening (tests use inject());
 * `api/main.ts` listens. Every error is an ApiError with a stable code (api/errors.ts).
 *
 * This file is the plumbing only, in the order Fastify needs it: one plugin per concern
 * (api/plugins/), then one route file per resource (api/routes/), each binding handlers to the
 * route table (api/route-table.ts), which the OpenAPI document and the CLI's client read too.
 */
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';
import { DEFAULT_LOG_MAX_BYTES, DEFAULT_LOG_RETENTION_MS } from '../core/log-limits.ts';
import { MAX_SPEC_BYTES } from '../core/parse.ts';
import { createDirLogStore } from '../logs/dir.ts';
import { localLogSource } from '../logs/source.ts';
import { createMetrics } from '../platform/metrics.ts';
import type { ApiDeps } from './deps.ts';
import { ApiError } from './errors.ts';
import { registerFunctionMetrics } from './function-metrics.ts';
import { registerAuth } from './plugins/auth.ts';
import { registerBrowserGuard } from './plugins/browser-guard.ts';
import { registerHandlerTimeouts, registerTemporalDeadline } from './plugins/deadlines.ts';
import { registerRequestParsing } from './plugins/request-parsing.ts';
import { registerRouteErrors } from './plugins/route-errors.ts';
import { registerTelemetry } from './plugins/telemetry.ts';
import { createRouteContext } from './route-context.ts';
import { CODEC_PREFIX, registerCodecCors, registerCodecRoutes } from './routes/codec.ts';
import { registerDeadLetterRoutes } from './routes/dead-letters.ts';
import { registerDocRoutes } from './routes/docs.ts';
import { registerExecutionRoutes } from './routes/executions.ts';
import { registerFunctionRoutes } from './routes/functions.ts';
import { registerHealthRoutes } from './routes/health.ts';
import { registerInvocationRoutes } from './routes/invocations.ts';
import { registerScheduleRoutes } from './routes/schedules.ts';

export type { ApiDeps, AuthSettings } from './deps.ts';

export async function buildApi(deps: ApiDeps): Promise<FastifyInstance> {
  const { client } = deps;
  const logs =
    deps.logs ??
    localLogSource(
      createDirLogStore(deps.dataDir, {
        maxBytes: DEFAULT_LOG_MAX_BYTES,
        retentionMs: DEFAULT_LOG_RETENTION_MS,
      }),
      deps.dataDir,
    );
  const metrics = deps.metrics ?? createMetrics();
  registerFunctionMetrics(metrics.registry, client, { taskQueue: deps.taskQueue });
  const app = Fastify({
    loggerInstance: deps.logger,
    bodyLimit: MAX_SPEC_BYTES,
    trustProxy: deps.trustProxy ?? false,
    // Execution ids hold colons and UUIDs; keep them readable in URLs.
    routerOptions: { maxParamLength: 500 },
    // A path segment over that length, or one that does not decode: 400 in our error shape.
    frameworkErrors: (err, _req, reply) => {
      (reply as FastifyReply).status(400).send(new ApiError('bad_request', err.message).toJSON());
    },
  }) as unknown as FastifyInstance;

  // Hooks run in the order they are added: NUL bytes, browser guard, codec CORS, span, key and role.
  registerRequestParsing(app);
  registerHandlerTimeouts(app);
  // Web pages (cross-origin, DNS rebinding, form posts) are refused before routing and auth.
  const codecCrossOrigin = {
    pathPrefix: CODEC_PREFIX,
    origins: (deps.codecCorsOrigins ?? []).map((o) => o.toLowerCase()),
  };
  registerBrowserGuard(app, {
    allowedHosts: deps.allowedHosts ?? [],
    open: deps.auth.mode === 'open',
    crossOrigin: codecCrossOrigin,
  });
  registerCodecCors(app, codecCrossOrigin);
  registerRouteErrors(app);
  registerTelemetry(app, metrics, deps.tracer);
  registerTemporalDeadline(app, client);
  await registerAuth(app, deps.auth, deps.authFailuresPerMinute);

  // Routes, after the error handler (routes keep the handler set before them).
  const ctx = createRouteContext(deps, metrics, logs);
  await registerDocRoutes(app, deps.auth);
  // For the Web UI and the `temporal` CLI: this client's payload keys (api/routes/codec.ts).
  registerCodecRoutes(app, {
    codecs: client.options.loadedDataConverter.payloadCodecs,
    namespace: client.options.namespace,
    crossOrigin: codecCrossOrigin,
  });
  registerHealthRoutes(app, ctx);
  registerFunctionRoutes(app, ctx);
  registerScheduleRoutes(app, ctx);
  registerDeadLetterRoutes(app, ctx);
  registerInvocationRoutes(app, ctx);
  registerExecutionRoutes(app, ctx);
  return app;
}
