/** API process settings from the environment (parsed once at start). */
import { z } from 'zod';
import { type ApiKey, loadApiKeys } from './auth.ts';

const EnvSchema = z.object({
  PONTOON_API_HOST: z.string().default('127.0.0.1').describe('address to listen on'),
  PONTOON_API_PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  PONTOON_AUTH: z
    .enum(['keys', 'none'])
    .default('keys')
    .describe('keys: bearer API keys required (default); none: open, for local development only'),
});

export interface ApiConfig {
  host: string;
  port: number;
  auth: { mode: 'open' } | { mode: 'keys'; keys: ApiKey[] };
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
  if (e.PONTOON_AUTH === 'none')
    return { host: e.PONTOON_API_HOST, port: e.PONTOON_API_PORT, auth: { mode: 'open' } };
  const keys = loadApiKeys(env);
  if (keys.length === 0) {
    throw new ApiConfigError(
      'no API keys configured: set PONTOON_API_KEYS ("name:role:sha256,…") or PONTOON_API_KEYS_FILE ' +
        '(create a key with `pontoon api-key create --name NAME --role admin`), or PONTOON_AUTH=none for an open local server',
    );
  }
  return { host: e.PONTOON_API_HOST, port: e.PONTOON_API_PORT, auth: { mode: 'keys', keys } };
}

function stripEmpty(env: NodeJS.ProcessEnv): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== '')) as Record<
    string,
    string
  >;
}
