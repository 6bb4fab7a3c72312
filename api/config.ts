/** API process settings from the environment (parsed once at start). */
import ipaddr from 'ipaddr.js';
import { z } from 'zod';
import { MAX_BACKFILL_FIRES } from '../core/schedule-policy.ts';
import { type AllowCidrs, AllowCidrsError, parseAllowCidrs } from '../core/webhook-destination.ts';
import { setting } from '../platform/config.ts';
import { type ApiKey, loadApiKeys } from './auth.ts';
import { AUTH_FAILURES_PER_MINUTE } from './plugins/auth-failures.ts';

/** Default most running executions one DELETE ?cancelRunning=true cancels (PONTOON_API_MAX_DELETE_CANCELS). */
export const MAX_DELETE_CANCELS = 1000;

const EnvSchema = z.object({
  PONTOON_API_HOST: setting(z.string().default('127.0.0.1'), 'API', 'address to listen on'),
  PONTOON_API_PORT: setting(
    z.coerce.number().int().min(0).max(65535).default(8080),
    'API',
    'port to listen on',
  ),
  PONTOON_AUTH: setting(
    z.enum(['keys', 'none']).default('keys'),
    'API',
    '`keys`: bearer API keys required; `none`: open, for local development only (binds 127.0.0.1)',
  ),
  PONTOON_API_KEYS: setting(
    z.string().optional(),
    'API',
    'API keys as SHA-256 hashes, `name:role:sha256,…` (role viewer, invoker or admin; `pontoon api-key create` makes one)',
  ),
  PONTOON_API_KEYS_FILE: setting(
    z.string().optional(),
    'API',
    'a YAML or JSON file of API keys, `{keys: [{name, role, sha256}]}` (a Secret volume)',
  ),
  PONTOON_API_ALLOWED_HOSTS: setting(
    z.string().default(''),
    'API',
    'Host header values besides its own address and `localhost` (`name` or `name:port`, comma-separated); see Security',
  ),
  PONTOON_API_MAX_BACKFILL_FIRES: setting(
    z.coerce.number().int().min(1).default(MAX_BACKFILL_FIRES),
    'API',
    'most fires one backfill request may start',
  ),
  PONTOON_API_AUTH_FAILURES_PER_MINUTE: setting(
    z.coerce.number().int().min(1).default(AUTH_FAILURES_PER_MINUTE),
    'API',
    'wrong API keys per client address per minute before 429',
  ),
  PONTOON_API_MAX_DELETE_CANCELS: setting(
    z.coerce.number().int().min(1).default(MAX_DELETE_CANCELS),
    'API',
    'most running executions one `DELETE ?cancelRunning=true` cancels',
  ),
  PONTOON_API_TRUST_PROXY: setting(
    z.string().default('false'),
    'API',
    'proxies whose `X-Forwarded-For` names the client (`10.0.0.0/8,127.0.0.1`, `loopback`, or `true` for every hop); see Security',
  ),
  PONTOON_NOTIFY_ALLOW_CIDRS: setting(
    z.string().default(''),
    'worker, API',
    'address ranges webhooks may reach besides public ones (`10.20.0.0/16,127.0.0.1/32`)',
    '',
  ),
  PONTOON_CODEC_CORS_ORIGINS: setting(
    z.string().default(''),
    'API',
    "origins of the Temporal Web UI that may call the codec server `/codec/*` from a browser (`https://temporal.example.com,…`); `pontoon dev` sets its UI's when keys are set",
    '',
  ),
});

/** The API's own variables with their documentation (the README's configuration table). */
export const API_SETTINGS: Readonly<Record<string, z.ZodType>> = EnvSchema.shape;

export interface ApiConfig {
  host: string;
  port: number;
  auth: { mode: 'open' } | { mode: 'keys'; keys: ApiKey[] };
  /** Extra Host header values (api/plugins/browser-guard.ts); default none. */
  allowedHosts?: string[];
  /** Most fires one backfill request may start; default MAX_BACKFILL_FIRES. */
  maxBackfillFires?: number;
  /** Wrong API keys per client address per minute before 429; default AUTH_FAILURES_PER_MINUTE. */
  authFailuresPerMinute?: number;
  /** Webhook ranges the operator opened (core/webhook-destination.ts), checked at apply; default none. */
  notifyAllowCidrs?: AllowCidrs;
  /** Most running executions one DELETE ?cancelRunning=true cancels; default MAX_DELETE_CANCELS. */
  maxDeleteCancels?: number;
  /** Which proxies' X-Forwarded-For is believed (Fastify trustProxy); default false: none. */
  trustProxy?: TrustProxy;
  /** Web UI origins the codec server answers (api/routes/codec.ts; PONTOON_CODEC_CORS_ORIGINS); default none. */
  codecCorsOrigins?: string[];
}

/**
 * PONTOON_CODEC_CORS_ORIGINS: each item an origin exactly as a browser sends it in `Origin`
 * (http or https, host, optional port; no path, no trailing slash), lower-cased.
 */
export function parseCodecOrigins(value: string): string[] {
  return value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((item) => {
      let url: URL | undefined;
      try {
        url = new URL(item);
      } catch {}
      if (!url || !['http:', 'https:'].includes(url.protocol) || url.origin !== item.toLowerCase()) {
        throw new ApiConfigError(
          `PONTOON_CODEC_CORS_ORIGINS: "${item}" is not an origin; give the Web UI's address as the browser shows it, scheme://host[:port] with no path, e.g. https://temporal.example.com or http://localhost:8233`,
        );
      }
      return url.origin;
    });
}

/**
 * PONTOON_API_TRUST_PROXY as Fastify's trustProxy: false (default: the client is the socket's
 * peer), the proxies' addresses and ranges (also proxy-addr's loopback, linklocal, uniquelocal),
 * or true (every hop: only when nothing but the proxy can reach the API). A hop count is not
 * offered: Fastify trusts no hop for one, as it cannot tell the proxy from a direct client.
 */
export type TrustProxy = boolean | string[];

const PROXY_NAMES = new Set(['loopback', 'linklocal', 'uniquelocal']);

export function parseTrustProxy(value: string): TrustProxy {
  const v = value.trim().toLowerCase();
  if (v === '' || v === 'false') return false;
  if (v === 'true') return true;
  const list = v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const item of list) {
    const [address = '', bits, extra] = item.split('/');
    const ok =
      PROXY_NAMES.has(item) ||
      (extra === undefined &&
        (ipaddr.IPv4.isValidFourPartDecimal(address) || ipaddr.IPv6.isValid(address)) &&
        (bits === undefined ||
          (/^\d{1,3}$/.test(bits) && Number(bits) <= (address.includes(':') ? 128 : 32))));
    if (!ok) {
      throw new ApiConfigError(
        `PONTOON_API_TRUST_PROXY: "${item}" is not an address or range; use false (the default), the proxies' addresses (e.g. 10.0.0.0/8,127.0.0.1), or true (only when nothing but the proxy reaches the API)`,
      );
    }
  }
  return list;
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
    maxDeleteCancels: e.PONTOON_API_MAX_DELETE_CANCELS,
    trustProxy: parseTrustProxy(e.PONTOON_API_TRUST_PROXY),
    codecCorsOrigins: parseCodecOrigins(e.PONTOON_CODEC_CORS_ORIGINS),
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
