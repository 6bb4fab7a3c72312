/**
 * Every answer within a bound, whatever the Temporal client's retries do: a handler timeout per
 * route (Fastify answers 503 temporal_unavailable and aborts request.signal; the work is
 * cooperative and ends on its own) and one Temporal call deadline shared by a request's calls.
 * Log streams and invocations that wait set their own bounds.
 */
import type { Client } from '@temporalio/client';
import type { FastifyInstance } from 'fastify';
import { ApiError } from '../errors.ts';

/** Budget for the Temporal calls of one request (plus the ?wait time). */
const REQUEST_DEADLINE_MS = 8_000;
/** Every request is answered within this (plus ?wait): 503 temporal_unavailable when Temporal is slow. */
export const ANSWER_WITHIN_MS = 9_000;
/** Budget of a request that waits for a controller to reconcile (apply, delete). */
export const RECONCILE_WITHIN_MS = 30_000;
/** The longest ?wait of an invocation (s). */
export const MAX_WAIT_S = 300;

/** The work's answer, or a 503 temporal_unavailable after `ms` (the work goes on and ends on its own). */
export async function answerWithin<T>(ms: number, work: () => Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new ApiError(
            'temporal_unavailable',
            `no answer within ${ms / 1000} s: Temporal is slow or unreachable`,
          ),
        ),
      ms,
    );
  });
  const running = work();
  running.catch(() => undefined);
  try {
    return await Promise.race([running, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** Handler timeouts for the routes registered after this (onRoute). */
export function registerHandlerTimeouts(app: FastifyInstance): void {
  // Every answer within 10 s, whatever the Temporal client's retries do past the call deadline
  // (Fastify answers 503 and aborts request.signal; the work is cooperative and ends on its own).
  // Log streams and invocations that wait set their own bounds.
  app.addHook('onRoute', (r) => {
    if (r.handlerTimeout !== undefined || r.url.endsWith('/logs')) return;
    r.handlerTimeout = r.config?.reconciles ? RECONCILE_WITHIN_MS : ANSWER_WITHIN_MS;
  });
}

/** The shared Temporal call deadline of each request (preHandler). */
export function registerTemporalDeadline(app: FastifyInstance, client: Client): void {
  // Every Temporal call made while handling a request shares one deadline, so a Temporal outage
  // answers 503 in seconds instead of retrying for a minute. Long polls (?wait) extend it.
  app.addHook('preHandler', (req, _reply, done) => {
    const wait = Number((req.query as { wait?: unknown } | undefined)?.wait) || 0;
    const follow = (req.query as { follow?: unknown } | undefined)?.follow === 'true';
    if (follow) return done();
    const ms = req.routeOptions.config?.reconciles
      ? RECONCILE_WITHIN_MS - 2_000
      : REQUEST_DEADLINE_MS + Math.min(Math.max(wait, 0), 300) * 1000;
    void client.withDeadline(
      Date.now() + ms,
      () =>
        new Promise<void>((resolve) => {
          done();
          resolve();
        }),
    );
  });
}
