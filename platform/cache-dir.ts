/**
 * Where Pontoon caches what it installs or builds outside the repository (the Temporal CLI, crane and
 * the registry, the cluster binaries, Node 24, base runtime layers): PONTOON_CACHE_DIR, default
 * `~/.cache/pontoon`. Shared by dev/ (provisioning) and packaging/ (image tools and layers).
 */
import os from 'node:os';
import path from 'node:path';

/** The cache folder (absolute when PONTOON_CACHE_DIR is; not created here). */
export function cacheDir(): string {
  return process.env.PONTOON_CACHE_DIR ?? path.join(os.homedir(), '.cache', 'pontoon');
}
