/**
 * Bearer API keys with roles viewer < invoker < admin. Keys are stored as SHA-256 hashes only, from
 * PONTOON_API_KEYS ("name:role:sha256hex,…") and/or PONTOON_API_KEYS_FILE (JSON or YAML:
 * `{keys: [{name, role, sha256}]}`). `pontoon api-key create` prints a new key and its hash line.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';

export const ROLES = ['viewer', 'invoker', 'admin'] as const;
export type Role = (typeof ROLES)[number];

export interface ApiKey {
  name: string;
  role: Role;
  sha256: string;
}

export function roleAllows(have: Role, need: Role): boolean {
  return ROLES.indexOf(have) >= ROLES.indexOf(need);
}

export function hashKey(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** A new random key (shown once) and the line to store. */
export function newApiKey(name: string, role: Role): { token: string; entry: ApiKey } {
  const token = `pk_${randomBytes(24).toString('base64url')}`;
  return { token, entry: { name, role, sha256: hashKey(token) } };
}

const KeySchema = z.strictObject({
  name: z.string().min(1),
  role: z.enum(ROLES),
  sha256: z
    .string()
    .regex(/^[0-9a-f]{64}$/, { error: 'must be 64 lower-case hex characters (sha256 of the key)' }),
});

export class AuthConfigError extends Error {
  override name = 'AuthConfigError';
}

export function loadApiKeys(env: NodeJS.ProcessEnv): ApiKey[] {
  const keys: ApiKey[] = [];
  for (const item of (env.PONTOON_API_KEYS ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const [name, role, sha256] = item.split(':');
    const parsed = KeySchema.safeParse({ name, role, sha256 });
    if (!parsed.success) {
      throw new AuthConfigError(
        `PONTOON_API_KEYS entry "${name ?? item}": expected name:role:sha256 with role viewer|invoker|admin`,
      );
    }
    keys.push(parsed.data);
  }
  if (env.PONTOON_API_KEYS_FILE) {
    let data: unknown;
    try {
      data = parseYaml(readFileSync(env.PONTOON_API_KEYS_FILE, 'utf8'));
    } catch (err) {
      throw new AuthConfigError(
        `PONTOON_API_KEYS_FILE ${env.PONTOON_API_KEYS_FILE}: ${(err as Error).message}`,
      );
    }
    const parsed = z.strictObject({ keys: z.array(KeySchema) }).safeParse(data);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new AuthConfigError(
        `PONTOON_API_KEYS_FILE ${env.PONTOON_API_KEYS_FILE}: ${issue.path.join('.')}: ${issue.message}`,
      );
    }
    keys.push(...parsed.data.keys);
  }
  return keys;
}

/** The key whose hash matches the token, compared in constant time. */
export function findKey(keys: ApiKey[], token: string): ApiKey | undefined {
  const want = Buffer.from(hashKey(token), 'hex');
  return keys.find((k) => timingSafeEqual(Buffer.from(k.sha256, 'hex'), want));
}
