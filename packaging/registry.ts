/**
 * Where images go: PONTOON_REGISTRY (default the embedded registry on 127.0.0.1:5001, started by
 * dev/registry/up.sh), with credentials from PONTOON_REGISTRY_USERNAME/PASSWORD or a Docker
 * config.json (DOCKER_CONFIG, else ~/.docker/config.json, read by crane). Plain HTTP is used for
 * loopback registries only.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DEFAULT_REGISTRY } from '../core/names.ts';
import { cacheDir } from '../platform/cache-dir.ts';
import { runRegistryScript } from './registry-script.ts';

export interface RegistryConfig {
  /** host[:port][/path prefix], e.g. 127.0.0.1:5001 or registry.example.com/team */
  prefix: string;
  /** host[:port] */
  host: string;
  loopback: boolean;
  /** Environment for crane (DOCKER_CONFIG pointing at generated credentials when given by env). */
  craneEnv: NodeJS.ProcessEnv;
}

export class RegistryConfigError extends Error {
  override name = 'RegistryConfigError';
}

const LOOPBACK_RE = /^(localhost|127(\.\d{1,3}){3}|\[::1\])(:\d+)?$/;
// go-containerregistry speaks plain HTTP to private IPv4 literals too; Pontoon refuses them so
// credentials and images never cross a network unencrypted.
const PRIVATE_IP_RE =
  /^(10(\.\d{1,3}){3}|192\.168(\.\d{1,3}){2}|172\.(1[6-9]|2\d|3[01])(\.\d{1,3}){2})(:\d+)?$/;

/**
 * Reads the registry settings from the environment.
 * @throws RegistryConfigError for a malformed PONTOON_REGISTRY, a private IP literal (would be plain
 *   HTTP), or a username without a password.
 */
export function registryFromEnv(env: NodeJS.ProcessEnv = process.env): RegistryConfig {
  const prefix = (env.PONTOON_REGISTRY ?? DEFAULT_REGISTRY).replace(/\/+$/, '');
  if (!/^[A-Za-z0-9.[\]:-]+(\/[a-z0-9]+([._-][a-z0-9]+)*)*$/.test(prefix)) {
    throw new RegistryConfigError(
      `PONTOON_REGISTRY=${JSON.stringify(prefix)} is not host[:port][/path], e.g. 127.0.0.1:5001 or registry.example.com/team`,
    );
  }
  const host = prefix.split('/')[0]!;
  const loopback = LOOPBACK_RE.test(host);
  if (!loopback && PRIVATE_IP_RE.test(host)) {
    throw new RegistryConfigError(
      `PONTOON_REGISTRY=${prefix}: a private IP address would be spoken to over plain HTTP; give the registry a name with a TLS certificate (plain HTTP is allowed on loopback only)`,
    );
  }
  const craneEnv: NodeJS.ProcessEnv = { ...env };
  const user = env.PONTOON_REGISTRY_USERNAME;
  const password = env.PONTOON_REGISTRY_PASSWORD;
  if ((user === undefined) !== (password === undefined)) {
    throw new RegistryConfigError(
      'set both PONTOON_REGISTRY_USERNAME and PONTOON_REGISTRY_PASSWORD, or neither',
    );
  }
  if (user !== undefined && password !== undefined) {
    // A private Docker config for crane, readable by this user only; the process env keeps no secret copy.
    const dir = mkdtempSync(path.join(os.tmpdir(), 'pontoon-docker-config-'));
    const auth = Buffer.from(`${user}:${password}`).toString('base64');
    writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ auths: { [host]: { auth } } }), {
      mode: 0o600,
    });
    craneEnv.DOCKER_CONFIG = dir;
  }
  delete craneEnv.PONTOON_REGISTRY_PASSWORD;
  return { prefix, host, loopback, craneEnv };
}

/** Repository of a function's images: <registry>/pontoon/<function>. */
export function functionRepository(reg: RegistryConfig, fn: string): string {
  return `${reg.prefix}/pontoon/${fn}`;
}

/** Whether the registry answers the OCI distribution API (/v2/; 200 or 401 both count). */
export async function registryAnswers(reg: RegistryConfig, timeoutMs = 3000): Promise<boolean> {
  const scheme = reg.loopback ? 'http' : 'https';
  try {
    const res = await fetch(`${scheme}://${reg.host}/v2/`, { signal: AbortSignal.timeout(timeoutMs) });
    return res.status === 200 || res.status === 401;
  } catch {
    return false;
  }
}

/**
 * The embedded default: when PONTOON_REGISTRY is unset (127.0.0.1:5001) and nothing answers there,
 * starts the project's registry (dev/registry/up.sh; builds it from the Go module proxy once).
 * Other registries are never started, only checked by the build itself.
 * @throws RegistryConfigError when the embedded registry cannot start (with up.sh's message).
 */
export async function ensureEmbeddedRegistry(
  reg: RegistryConfig,
  progress: (line: string) => void = () => {},
): Promise<void> {
  if (reg.prefix !== DEFAULT_REGISTRY) return;
  if (await registryAnswers(reg)) return;
  progress(`starting the embedded OCI registry on ${reg.prefix} (dev/registry/up.sh)`);
  await runRegistryScript(
    'up.sh',
    (m) => new RegistryConfigError(`the embedded registry did not start (${m})`),
  );
}

/** Version of CNCF distribution dev/registry/build.sh builds (keep equal to its default). */
export const REGISTRY_VERSION = 'v3.1.2';

/** State folder of the embedded registry (storage, config, registry.log with its access log). */
export function embeddedRegistryDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.PONTOON_REGISTRY_DIR ?? path.join(cacheDir(), 'registry-data');
}

/** Path of the registry binary dev/registry/build.sh caches. */
export function registryBinary(): string {
  return path.join(cacheDir(), 'registry', REGISTRY_VERSION, 'bin', 'registry');
}
