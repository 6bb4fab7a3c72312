/** Binds a handler to an entry of the route table (api/route-table.ts): method, URL, role, budget. */
import type { FastifyInstance, FastifyReply, FastifyRequest, RouteShorthandOptions } from 'fastify';
import { fastifyUrl, type PathParams, type RouteDef } from '../route-table.ts';

/** A handler of `route`: its path parameters typed from the URL template. */
export type RouteHandler<R extends RouteDef> = (
  req: FastifyRequest<{ Params: PathParams<R['url']> }>,
  reply: FastifyReply,
) => Promise<unknown>;

/**
 * Serves `route` with `handler`: the table's role and `reconciles` become the route's config (the
 * auth hook and the deadlines read them), a hidden route stays out of Swagger; `options` adds
 * Fastify's own (handlerTimeout, bodyLimit).
 */
export function bindRoute<R extends RouteDef>(
  app: FastifyInstance,
  route: R,
  handler: RouteHandler<R>,
  options: Pick<RouteShorthandOptions, 'handlerTimeout' | 'bodyLimit'> = {},
): void {
  app.route<{ Params: PathParams<R['url']> }>({
    method: route.method,
    url: fastifyUrl(route.url),
    config: {
      ...(route.role ? { role: route.role } : {}),
      ...(route.reconciles ? { reconciles: true } : {}),
    },
    ...(route.hidden ? { schema: { hide: true } } : {}),
    ...options,
    handler,
  });
}
