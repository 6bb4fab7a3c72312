/**
 * Roles: a route's least role (its `role` in api/route-table.ts) checked against the API key sent
 * as `Authorization: Bearer <key>` (api/auth.ts); public routes and open mode take no key. Wrong
 * keys are counted per client address (api/plugins/auth-failures.ts).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { findKey, roleAllows } from '../auth.ts';
import type { AuthSettings } from '../deps.ts';
import { ApiError } from '../errors.ts';
import { registerAuthFailureLimit } from './auth-failures.ts';

function bearer(req: FastifyRequest): string | undefined {
  const h = req.headers.authorization;
  if (!h) return undefined;
  const m = /^Bearer\s+(\S+)$/i.exec(h);
  return m?.[1];
}

/** The wrong-key limit (a Fastify plugin: register before the routes) and the role check hook. */
export async function registerAuth(
  app: FastifyInstance,
  auth: AuthSettings,
  failuresPerMinute?: number,
): Promise<void> {
  const authFailures = await registerAuthFailureLimit(app, failuresPerMinute);
  app.addHook('onRequest', async (req, reply) => {
    const need = req.routeOptions.config?.role;
    if (!need || auth.mode === 'open') return;
    const token = bearer(req);
    if (!token) throw new ApiError('unauthorized', 'send an API key as "Authorization: Bearer <key>"');
    await authFailures.check(req, reply);
    const key = findKey(auth.keys, token);
    if (!key) {
      await authFailures.failed(req, reply);
      throw new ApiError('unauthorized', 'the API key is not valid');
    }
    if (!roleAllows(key.role, need)) {
      throw new ApiError(
        'forbidden',
        `the key "${key.name}" has role ${key.role}; this needs ${need} or higher`,
      );
    }
    req.apiKey = key;
  });
}
