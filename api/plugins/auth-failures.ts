/**
 * Repeated wrong API keys from one client address answer 429 with Retry-After (@fastify/rate-limit,
 * counting failures only). Keys are 192 random bits, so guessing is hopeless anyway; the limit keeps
 * a guessing client from costing a hash per try without end, and shows up in metrics as 429s.
 *
 * Only a key that matches nothing counts (no key at all is a client that forgot one, answered 401
 * as often as it asks). Past the limit, every request of that address that needs a key is 429 until
 * the window ends, before any key is checked — a correct key too, so guessing cannot go on by
 * telling 429 from 200. Other addresses are not affected.
 */
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ApiError } from '../errors.ts';

/** Default wrong keys per client address per minute (PONTOON_API_AUTH_FAILURES_PER_MINUTE). */
export const AUTH_FAILURES_PER_MINUTE = 20;
const WINDOW_MS = 60_000;

export interface AuthFailureLimit {
  /** Throws 429 (with Retry-After set) when the client is over the limit; counts nothing. */
  check(req: FastifyRequest, reply: FastifyReply): Promise<void>;
  /** Counts a wrong key; throws 429 when this one went over the limit. */
  failed(req: FastifyRequest, reply: FastifyReply): Promise<void>;
}

export async function registerAuthFailureLimit(
  app: FastifyInstance,
  perMinute: number = AUTH_FAILURES_PER_MINUTE,
): Promise<AuthFailureLimit> {
  // global: false — no route is limited as such; only the calls below count.
  await app.register(rateLimit, { global: false });
  const limiter = app.createRateLimit({ max: perMinute, timeWindow: WINDOW_MS });
  const refuse = (reply: FastifyReply, ttlSeconds: number) => {
    const after = Math.max(1, ttlSeconds);
    reply.header('retry-after', String(after));
    return new ApiError(
      'too_many_requests',
      `more than ${perMinute} wrong API keys from this address within a minute; try again in ${after} s`,
    );
  };
  return {
    async check(req, reply) {
      const s = await limiter(req, { increment: false });
      if (!s.isAllowed && s.isExceeded) throw refuse(reply, s.ttlInSeconds);
    },
    async failed(req, reply) {
      const s = await limiter(req);
      if (!s.isAllowed && s.isExceeded) throw refuse(reply, s.ttlInSeconds);
    },
  };
}
