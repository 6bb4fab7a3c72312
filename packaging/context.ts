/**
 * Reads a build context (the function's source folder) and writes its code layer: a tar of the
 * files left after the ignore rules, under app/, reproducible (sorted entries, times zeroed, uid
 * and gid 0, modes normalised to 0644/0755 by node-tar's portable mode), so the same source always
 * gives the same bytes and the same digest.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, readdir, readFile, readlink, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import dockerignoreModule from '@balena/dockerignore';
import * as tar from 'tar';
import type { BuildRuntime } from '../core/build.ts';
import { PackagingError } from './errors.ts';

/** Largest single file of a context (a function's source, not its data). */
export const MAX_CONTEXT_FILE_BYTES = 64 * 1024 * 1024;
/** Largest context in all, after ignores. */
export const MAX_CONTEXT_BYTES = 256 * 1024 * 1024;
/** The ignore file read from the context's root, .dockerignore syntax. */
export const IGNORE_FILE = '.pontoonignore';

/** Always left out: VCS data, the ignore file itself, and per runtime what the deps layer provides. */
export function defaultIgnores(runtime: BuildRuntime): string[] {
  const always = ['.git', IGNORE_FILE];
  if (runtime === 'node') return [...always, 'node_modules'];
  if (runtime === 'python') return [...always, '__pycache__', '**/__pycache__', '.venv'];
  return always;
}

export interface ContextEntry {
  /** Path relative to the context, with / separators. */
  rel: string;
  type: 'file' | 'dir' | 'symlink';
  size: number;
}

export interface ContextListing {
  root: string;
  entries: ContextEntry[];
  files: number;
  bytes: number;
}

const CONTEXT_FIELD = ['spec', 'build', 'context'];
// A CommonJS module (module.exports = factory) whose types declare an ES default export.
const dockerignore = ((dockerignoreModule as unknown as { default?: unknown }).default ??
  dockerignoreModule) as unknown as typeof dockerignoreModule.default;

/**
 * Lists the files of a context after ignore rules (spec patterns, .pontoonignore, defaults), in
 * sorted order, and checks them: regular files, folders and symlinks that stay inside the context.
 * @throws PackagingError (field spec.build.context) for a missing or unreadable folder, a symlink
 *   leaving the context, a special file, or a file or total over MAX_CONTEXT_FILE_BYTES / MAX_CONTEXT_BYTES.
 */
export async function listContext(
  root: string,
  runtime: BuildRuntime,
  patterns: string[],
): Promise<ContextListing> {
  let info: Awaited<ReturnType<typeof stat>>;
  try {
    info = await stat(root);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new PackagingError(
      CONTEXT_FIELD,
      code === 'ENOENT'
        ? `context folder ${root} does not exist; build.context is relative to the spec file`
        : `cannot read context folder ${root}: ${(err as Error).message}`,
    );
  }
  if (!info.isDirectory()) throw new PackagingError(CONTEXT_FIELD, `${root} is not a folder`);
  const realRoot = await realpath(root);
  let fromFile: string[] = [];
  try {
    fromFile = (await readFile(path.join(root, IGNORE_FILE), 'utf8')).split(/\r?\n/);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT')
      throw new PackagingError(
        CONTEXT_FIELD,
        `cannot read ${path.join(root, IGNORE_FILE)}: ${(err as Error).message}`,
      );
  }
  const rules = [...defaultIgnores(runtime), ...patterns, ...fromFile].map((r) => r.trim());
  const ig = dockerignore().add(rules);
  const hasExceptions = rules.some((r) => r.startsWith('!'));
  const entries: ContextEntry[] = [];
  let bytes = 0;
  let files = 0;

  async function walk(relDir: string): Promise<void> {
    const abs = path.join(root, relDir);
    let names: string[];
    try {
      names = (await readdir(abs)).sort();
    } catch (err) {
      throw new PackagingError(CONTEXT_FIELD, `cannot read ${abs}: ${(err as Error).message}`);
    }
    for (const name of names) {
      const rel = relDir ? `${relDir}/${name}` : name;
      const st = await lstat(path.join(root, rel));
      // A folder is walked even when ignored: a later "!pattern" may bring back something inside it.
      if (st.isDirectory()) {
        if (!hasExceptions && ig.ignores(rel)) continue;
        const before = entries.length;
        await walk(rel);
        if (!ig.ignores(rel) || entries.length > before) {
          entries.splice(before, 0, { rel, type: 'dir', size: 0 });
        }
        continue;
      }
      if (ig.ignores(rel)) continue;
      if (st.isSymbolicLink()) {
        const target = await readlink(path.join(root, rel));
        const resolved = path.resolve(path.dirname(path.join(realRoot, rel)), target);
        if (resolved !== realRoot && !resolved.startsWith(realRoot + path.sep)) {
          throw new PackagingError(
            CONTEXT_FIELD,
            `${path.join(root, rel)}: symlink leaves the context (→ ${target}); copy the file into the context or ignore the link in ${IGNORE_FILE}`,
          );
        }
        entries.push({ rel, type: 'symlink', size: 0 });
        continue;
      }
      if (!st.isFile()) {
        throw new PackagingError(
          CONTEXT_FIELD,
          `${path.join(root, rel)}: not a regular file, folder or symlink; ignore it in ${IGNORE_FILE}`,
        );
      }
      if (st.size > MAX_CONTEXT_FILE_BYTES) {
        throw new PackagingError(
          CONTEXT_FIELD,
          `${path.join(root, rel)}: file is ${st.size} bytes; the limit is ${MAX_CONTEXT_FILE_BYTES} bytes (64 MiB) per file. Keep data out of the image (ignore it in ${IGNORE_FILE}) and fetch it at run time`,
        );
      }
      bytes += st.size;
      files++;
      if (bytes > MAX_CONTEXT_BYTES) {
        throw new PackagingError(
          CONTEXT_FIELD,
          `context ${root} holds more than ${MAX_CONTEXT_BYTES} bytes (256 MiB) after ignores; ignore what the function does not need in ${IGNORE_FILE}`,
        );
      }
      entries.push({ rel, type: 'file', size: st.size });
    }
  }
  await walk('');
  return { root, entries, files, bytes };
}

/**
 * Writes a reproducible tar of `entries` (paths relative to `cwd`) under `prefix` to `out`.
 * node-tar's portable mode drops uid/gid/uname/atime/ctime and normalises modes; every mtime is
 * the Unix epoch. `modeOverrides` keeps special modes node-tar would normalise away (e.g. /tmp 1777).
 * @returns sha256 of the tar (hex) and its size in bytes
 */
export async function writeReproducibleTar(opts: {
  cwd: string;
  entries: string[];
  prefix: string;
  out: string;
  gzip?: boolean;
  modeOverrides?: Record<string, number>;
}): Promise<{ sha256: string; bytes: number }> {
  const overrides = opts.modeOverrides ?? {};
  await tar.create(
    {
      cwd: opts.cwd,
      file: opts.out,
      portable: true,
      mtime: new Date(0),
      noDirRecurse: true,
      follow: false,
      gzip: opts.gzip ? { portable: true, level: 6 } : false,
      ...(opts.prefix ? { prefix: opts.prefix } : {}),
      onWriteEntry: (entry) => {
        const mode = overrides[entry.path.replace(/\/$/, '')];
        if (mode !== undefined) {
          // Not portable for this one entry: keep the mode as given; owner root.
          // Every other field non-portable mode writes is pinned too: times, owner and owner name.
          Object.assign(entry as unknown as Record<string, unknown>, {
            portable: false,
            myuid: 0,
            myuser: 'root',
          });
          const epoch = new Date(0);
          Object.assign(entry.stat!, {
            mode: (entry.stat!.mode & ~0o7777) | mode,
            uid: 0,
            gid: 0,
            atime: epoch,
            ctime: epoch,
            mtime: epoch,
          });
        }
      },
    },
    opts.entries,
  );
  return sha256File(opts.out);
}

/** sha256 (hex) and size of a file, streamed. */
export async function sha256File(file: string): Promise<{ sha256: string; bytes: number }> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of createReadStream(file)) {
    hash.update(chunk as Buffer);
    bytes += (chunk as Buffer).length;
  }
  return { sha256: hash.digest('hex'), bytes };
}
