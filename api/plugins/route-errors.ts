/**
 * Every failure answers `{code, message, details}` with the status of its code (api/errors.ts):
 * ApiErrors as thrown, Fastify's body and timeout errors and an unreachable Temporal mapped to their
 * codes, anything else a logged 500 internal_error. A path served with other methods is a 405 with
 * Allow, any other unknown route a 404 route_not_found.
 */
import { isGrpcServiceError } from '@temporalio/client';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { MAX_SPEC_BYTES } from '../../core/parse.ts';
import { ApiError } from '../errors.ts';
import { ANSWER_WITHIN_MS, RECONCILE_WITHIN_MS } from './deadlines.ts';

/** gRPC UNAVAILABLE (14) or DEADLINE_EXCEEDED (4) from the Temporal client, or a failed connection. */
function temporalUnavailable(err: Error): boolean {
  const code = (err as { code?: unknown }).code;
  if (isGrpcServiceError(err) && (err.code === 14 || err.code === 4)) return true;
  if (code === 14 || code === 4) return true;
  const cause = (err as { cause?: Error }).cause;
  if (err.name === 'ServiceError' && cause) return temporalUnavailable(cause);
  return err.name === 'TransportError' || /failed to connect/i.test(err.message);
}

/**
 * The error handler and the 404/405 answers. Register before the routes: routes keep the error
 * handler set before them, and only routes added after it are known to the 405 check (onRoute).
 */
export function registerRouteErrors(app: FastifyInstance): void {
  // Route patterns per method (onRoute sees every route, plugins' too): a path that exists with
  // other methods answers 405 with Allow, not 404.
  const routePatterns: { re: RegExp; method: string }[] = [];
  app.addHook('onRoute', (r) => {
    const re = new RegExp(
      `^${r.url
        .replace(/[.+?()|[\]{}^$\\]/g, '\\$&')
        .replace(/:[^/]+/g, '[^/]+')
        .replace(/\*/g, '.*')}$`,
    );
    for (const method of [r.method].flat()) routePatterns.push({ re, method });
  });
  const noRoute = (req: FastifyRequest, reply: FastifyReply) => {
    const path = req.url.split('?')[0] ?? '';
    const allow = [...new Set(routePatterns.filter((r) => r.re.test(path)).map((r) => r.method))];
    if (allow.length) {
      const e = new ApiError(
        'method_not_allowed',
        `${req.method} is not allowed on ${path}; use ${allow.join(', ')}`,
      );
      reply.status(405).header('allow', allow.join(', ')).send(e.toJSON());
    } else {
      const e = new ApiError('route_not_found', `no route ${req.method} ${req.url}; see /openapi.json`);
      reply.status(404).send(e.toJSON());
    }
  };

  app.setErrorHandler((raw, req, reply) => {
    const err = raw as Error;
    // A method Fastify parses a body for (QUERY without a content type, …) on no route.
    if (req.is404) {
      noRoute(req, reply);
      return;
    }
    let e: ApiError;
    const rawCode = (err as { code?: unknown }).code;
    const code = typeof rawCode === 'string' ? rawCode : undefined;
    if (err instanceof ApiError) e = err;
    else if (code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      e = new ApiError('payload_too_large', `body is over the ${MAX_SPEC_BYTES} byte limit`);
    } else if (code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
      e = new ApiError(
        'unsupported_media_type',
        `content type ${req.headers['content-type']} is not supported; use application/json (or application/yaml for specs)`,
      );
    } else if (code?.startsWith('FST_ERR_CTP') || (err as { statusCode?: number }).statusCode === 400) {
      e = new ApiError('bad_request', err.message);
    } else if (code === 'FST_ERR_HANDLER_TIMEOUT') {
      const within = req.routeOptions.config?.reconciles ? RECONCILE_WITHIN_MS : ANSWER_WITHIN_MS;
      e = new ApiError(
        'temporal_unavailable',
        `no answer within ${within / 1000} s: Temporal is slow or unreachable`,
      );
    } else if (temporalUnavailable(err)) {
      e = new ApiError('temporal_unavailable', `Temporal is unreachable: ${err.message}`);
    } else {
      req.log.error({ err }, 'request failed');
      e = new ApiError('internal_error', 'unexpected error; see the server log');
    }
    if (e.status >= 500) req.log.warn({ code: e.code }, e.message);
    reply.status(e.status).send(e.toJSON());
  });
  app.setNotFoundHandler(noRoute);
}
