/** API process settings from the environment (parsed once at start). */
import { z } from 'zod';
import { type AllowCidrs, AllowCidrsError, parseAllowCidrs } from '../spec/webhook-destination.ts';
import { type ApiKey, loadApiKeys } from './auth.ts';
import { AUTH_FAILURES_PER_MINUTE } from './auth-failures.ts';
import { MAX_BACKFILL_FIRES } from './schedules.ts';

const EnvSchema = z.object({
  PONTOON_API_HOST: z.string().default('127.0.0.1').describe('address to listen on'),
  PONTOON_API_PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  PONTOON_AUTH: z
    .enum(['keys', 'none'])
    .default('keys')
    .describe('keys: bearer API keys required (default); none: open, for local development only'),
  PONTOON_API_ALLOWED_HOSTS: z
    .string()
    .default('')
    .describe(
      'Host header values besides 127.0.0.1/localhost:<port> ("name" or "name:port", comma-separated)',
    ),
  PONTOON_API_MAX_BACKFILL_FIRES: z.coerce.number().int().min(1).default(MAX_BACKFILL_FIRES),
  PONTOON_API_AUTH_FAILURES_PER_MINUTE: z.coerce.number().int().min(1).default(AUTH_FAILURES_PER_MINUTE),
  PONTOON_NOTIFY_ALLOW_CIDRS: z.string().default(''),
});

export interface ApiConfig {
  host: string;
  port: number;
  auth: { mode: 'open' } | { mode: 'keys'; keys: ApiKey[] };
  /** Extra Host header values (api/browser-guard.ts); default none. */
  allowedHosts?: string[];
  /** Most fires one backfill request may start; default MAX_BACKFILL_FIRES. */
  maxBackfillFires?: number;
  /** Wrong API keys per client address per minute before 429; default AUTH_FAILURES_PER_MINUTE. */
  authFailuresPerMinute?: number;
  /** Webhook ranges the operator opened (spec/webhook-destination.ts), checked at apply; default none. */
  notifyAllowCidrs?: AllowCidrs;
}

export class ApiConfigError extends Error {
  override name = 'ApiConfigError';
}

export function parseApiConfig(
  env: NodeJS.ProcessEnv = process.env,
  defaults: { auth?: 'none' } = {},
): ApiConfig {
  const parsed = EnvSchema.safeParse({ PONTOON_AUTH: defaults.auth, ...stripEmpty(env) });
  if (!parsed.success) {
    throw new ApiConfigError(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('\n'));
  }
  const e = parsed.data;
  let notifyAllowCidrs: AllowCidrs;
  try {
    notifyAllowCidrs = parseAllowCidrs(e.PONTOON_NOTIFY_ALLOW_CIDRS);
  } catch (err) {
    if (err instanceof AllowCidrsError) throw new ApiConfigError(err.message);
    throw err;
  }
  const common = {
    host: e.PONTOON_API_HOST,
    port: e.PONTOON_API_PORT,
    allowedHosts: e.PONTOON_API_ALLOWED_HOSTS.split(',')
      .map((h) => h.trim())
      .filter(Boolean),
    maxBackfillFires: e.PONTOON_API_MAX_BACKFILL_FIRES,
    authFailuresPerMinute: e.PONTOON_API_AUTH_FAILURES_PER_MINUTE,
    notifyAllowCidrs,
  };
  if (e.PONTOON_AUTH === 'none') return { ...common, auth: { mode: 'open' } };
  const keys = loadApiKeys(env);
  if (keys.length === 0) {
    throw new ApiConfigError(
      'no API keys configured: set PONTOON_API_KEYS ("name:role:sha256,…") or PONTOON_API_KEYS_FILE ' +
        '(create a key with `pontoon api-key create --name NAME --role admin`), or PONTOON_AUTH=none for an open local server',
    );
  }
  return { ...common, auth: { mode: 'keys', keys } };
}

function stripEmpty(env: NodeJS.ProcessEnv): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== '')) as Record<
    string,
    string
  >;
}
