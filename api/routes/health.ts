/** Liveness (/healthz), readiness (/readyz: Temporal reachable, a worker polling) and the Prometheus scrape (/metrics). */
import type { FastifyInstance } from 'fastify';
import { PONTOON_VERSION } from '../../core/names.ts';
import { renderMetrics } from '../../platform/metrics.ts';
import { ApiError } from '../errors.ts';
import type { RouteContext } from '../route-context.ts';
import { ROUTES } from '../route-table.ts';
import { bindRoute } from './bind.ts';

export function registerHealthRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const { client } = ctx;
  bindRoute(app, ROUTES.health, async () => ({ status: 'ok', version: PONTOON_VERSION }));
  bindRoute(app, ROUTES.ready, async (_req, reply) => {
    try {
      await client.withDeadline(Date.now() + 2000, () => client.workflowService.getSystemInfo({}));
    } catch (err) {
      const e = new ApiError('temporal_unavailable', `Temporal is unreachable: ${(err as Error).message}`);
      return reply.status(503).send(e.toJSON());
    }
    const w = await client.withDeadline(Date.now() + 2000, ctx.workerPresence);
    if (!w.polling) return reply.status(503).send(ctx.workerUnavailable(w).toJSON());
    return { status: 'ready', temporal: 'reachable', worker: 'polling', workerLastSeen: w.lastSeen };
  });

  // Prometheus scrape endpoint. Role viewer: series carry function names and traffic, which a
  // viewer may see anyway (Prometheus sends the key with `authorization: {credentials_file: …}`).
  bindRoute(app, ROUTES.metrics, async (_req, reply) => {
    reply.header('content-type', ctx.metrics.registry.contentType);
    return renderMetrics(ctx.metrics);
  });
}
