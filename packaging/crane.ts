/**
 * A thin adapter over go-containerregistry's `crane` (built from the Go module proxy by
 * dev/registry/build.sh and cached in ~/.cache/pontoon/crane/<version>/bin): image format, layer
 * compression, registry protocol (blob existence checks, cross-repository mounts, auth from a Docker
 * config.json) are crane's. Pontoon only prepares layer tarballs and calls it.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { cacheDir } from '../platform/cache-dir.ts';
import { runRegistryScript } from './registry-script.ts';

const execFileAsync = promisify(execFile);
export const CRANE_VERSION = 'v0.22.1';

export class CraneError extends Error {
  override name = 'CraneError';
}

/**
 * Path of the crane binary: PONTOON_CRANE, else the cached build, else built now (go install, ~20 s
 * once). @throws CraneError when it cannot be found or built (the message says how to fix it).
 */
export async function ensureCrane(progress: (line: string) => void = () => {}): Promise<string> {
  if (process.env.PONTOON_CRANE) return process.env.PONTOON_CRANE;
  const cached = path.join(cacheDir(), 'crane', CRANE_VERSION, 'bin', 'crane');
  if (existsSync(cached)) return cached;
  progress(
    `building crane ${CRANE_VERSION} from the Go module proxy (once; cached in ${path.dirname(cached)})`,
  );
  await runRegistryScript(
    'build.sh',
    (m) =>
      new CraneError(
        `could not build crane (${m}). Install Go (it builds crane from the Go module proxy) or set PONTOON_CRANE to a crane binary`,
      ),
  );
  return cached;
}

export interface CraneRunner {
  bin: string;
  /** Environment of crane processes (DOCKER_CONFIG for registry credentials). */
  env: NodeJS.ProcessEnv;
  /** Runs crane with args; resolves stdout (trimmed). @throws CraneError with crane's message. */
  run(args: string[], opts?: { timeoutMs?: number }): Promise<string>;
}

export function craneRunner(bin: string, env: NodeJS.ProcessEnv = process.env): CraneRunner {
  return {
    bin,
    env,
    async run(args, opts = {}) {
      try {
        const { stdout } = await execFileAsync(bin, args, {
          env,
          maxBuffer: 64 * 1024 * 1024,
          timeout: opts.timeoutMs ?? 15 * 60_000,
        });
        return stdout.trim();
      } catch (err) {
        const e = err as { stderr?: string; message: string };
        const detail = (e.stderr ?? '').trim().split('\n').slice(-3).join(' | ') || e.message;
        throw new CraneError(`crane ${args[0]}: ${detail}`);
      }
    },
  };
}

/**
 * Encodes one argument for crane's list flags (--entrypoint, --cmd), which pflag reads as CSV: a
 * value with a comma or a quote is quoted, quotes doubled.
 */
export function csvArg(value: string): string {
  return /[",\n]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}
