/**
 * What a function on the local runtime receives and whom it runs as: one rule for on-demand
 * attempts and warm replicas alike.
 *
 * Environment, in this order (later wins):
 * 1. the worker's own environment minus what looks like a credential (core/secret-env.ts
 *    `inheritable`: Pontoon's and Temporal's settings, credential words in names, known token
 *    formats and URLs with passwords in values, agent sockets);
 * 2. `spec.env[].value` and `spec.local.env` as written (apply refuses literals that look secret);
 * 3. `spec.env[].secretRef` from the file `<secretsDir>/<name>/<key>`: the local stand-in for a
 *    Kubernetes Secret, never the worker's environment;
 * 4. the contract's variables (PONTOON_*), set by the caller.
 *
 * User: the worker's own, or `PONTOON_LOCAL_RUN_AS` when the worker runs as root. Another user
 * cannot read the worker's /proc/<pid>/environ or memory, signal it, or read root's files; its
 * attempt folder is `root:<its group>` mode 1770 (it may create files, it may not replace the
 * worker's `log`, `pid` and `input.json`), and the worker never follows its links.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, type Stats, statSync } from 'node:fs';
import { chmod, chown, mkdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { readRegularFile } from '../../contract/output.ts';
import type { FunctionSpec } from '../../core/schema.ts';
import { inheritable } from '../../core/secret-env.ts';
import { PARAMETER_LIMITS } from '../../core/values.ts';

/** The user local functions run as (PONTOON_LOCAL_RUN_AS), resolved once at start. */
export interface RunAs {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

export class LocalRunAsError extends Error {
  override name = 'LocalRunAsError';
}

const HOW_TO_CREATE =
  'create one with `useradd --system --user-group --no-create-home --shell /usr/sbin/nologin pontoon-fn`';

/** One passwd entry (getent, so NSS users count too; /etc/passwd when getent is missing). */
function passwdEntry(key: string): { name: string; uid: number; gid: number; home: string } | undefined {
  let line: string | undefined;
  try {
    line = execFileSync('getent', ['passwd', key], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
      .split('\n')
      .find(Boolean);
  } catch (err) {
    // getent exits 2 for "no such key"; only a missing getent falls back to the file.
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') return undefined;
    line = readFileSync('/etc/passwd', 'utf8')
      .split('\n')
      .find((l) => {
        const [name, , uid] = l.split(':');
        return name === key || uid === key;
      });
  }
  const f = line?.split(':');
  if (!f || f.length < 7) return undefined;
  return { name: f[0]!, uid: Number(f[2]), gid: Number(f[3]), home: f[5] || '/' };
}

/**
 * Resolves PONTOON_LOCAL_RUN_AS: a user name, a uid, or uid:gid. The worker must run as root to
 * start processes as another user; root itself is refused (it would isolate nothing).
 */
export function resolveRunAs(setting: string, workerUid: number = process.getuid?.() ?? -1): RunAs {
  const where = `PONTOON_LOCAL_RUN_AS=${setting}`;
  const m = /^(\d+)(?::(\d+))?$/.exec(setting.trim());
  let who: RunAs | undefined;
  if (m) {
    const entry = passwdEntry(m[1]!);
    const uid = Number(m[1]);
    const gid = m[2] !== undefined ? Number(m[2]) : entry?.gid;
    if (gid === undefined)
      throw new LocalRunAsError(`${where}: uid ${uid} has no passwd entry; give its group too (uid:gid)`);
    who = { name: entry?.name ?? String(uid), uid, gid, home: entry?.home ?? '/' };
  } else {
    const entry = passwdEntry(setting.trim());
    if (!entry) throw new LocalRunAsError(`${where}: no such user; ${HOW_TO_CREATE}`);
    who = entry;
  }
  if (who.uid === 0)
    throw new LocalRunAsError(`${where} is root: name an unprivileged user of its own (${HOW_TO_CREATE})`);
  if (workerUid !== 0 && workerUid !== who.uid) {
    throw new LocalRunAsError(
      `${where}: only a worker running as root can start functions as another user (this one runs as uid ${workerUid}); unset it to run them as the worker's user`,
    );
  }
  return who;
}

/** Whether `who` (uid and primary group: spawn drops supplementary groups) has `bits` (r=4, w=2, x=1) on it. */
function permits(st: Stats, who: RunAs, bits: number): boolean {
  if (who.uid === 0) return true;
  const shift = st.uid === who.uid ? 6 : st.gid === who.gid ? 3 : 0;
  return ((st.mode >> shift) & bits) === bits;
}

function describe(file: string, st: Stats): string {
  return `${file} is mode ${(st.mode & 0o7777).toString(8).padStart(4, '0')}, owner ${st.uid}:${st.gid}`;
}

/**
 * Why `who` cannot use `target` (every folder above it searchable, and `bits` on it), or undefined
 * when it can. Symbolic links are followed, as the kernel would.
 */
export function blockedFor(target: string, who: RunAs, bits: number): string | undefined {
  const abs = path.resolve(target);
  const parts = abs.split(path.sep).filter(Boolean);
  let dir: string = path.sep;
  for (const part of parts.slice(0, -1)) {
    dir = path.join(dir, part);
    let st: Stats;
    try {
      st = statSync(dir);
    } catch {
      return `${dir} does not exist`;
    }
    if (!permits(st, who, 1)) return describe(dir, st);
  }
  let st: Stats;
  try {
    st = statSync(abs);
  } catch {
    return `${abs} does not exist`;
  }
  return permits(st, who, bits) ? undefined : describe(abs, st);
}

/**
 * A folder a function writes in (an attempt folder, a warm pool's folder), made private: 0700 for
 * the worker's own user; with another user, root:<its group> 1770 — the function may create files,
 * no one else may look in, and the sticky bit keeps the worker's own files from being replaced.
 */
export async function functionDir(dir: string, runAs: RunAs | undefined): Promise<void> {
  await mkdir(dir, { recursive: true });
  if (runAs) {
    await chown(dir, process.getuid?.() ?? 0, runAs.gid);
    await chmod(dir, 0o1770);
  } else {
    await chmod(dir, 0o700);
  }
}

/** A file the worker makes in a function's folder that the function may read (input.json, its log). */
export async function functionReadable(file: string, runAs: RunAs | undefined): Promise<void> {
  if (!runAs) return;
  await chown(file, process.getuid?.() ?? 0, runAs.gid);
  await chmod(file, 0o640);
}

const SECRET_NAME_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const SECRET_KEY_RE = /^[-._a-zA-Z0-9]+$/;

/** A secretRef's value on the local runtime: the file <secretsDir>/<name>/<key>, its exact bytes. */
export async function readLocalSecret(
  secretsDir: string,
  ref: { name: string; key: string },
): Promise<{ value: string } | { problem: string }> {
  // The Kubernetes rules for names and keys, which also keep the path inside the folder.
  if (!SECRET_NAME_RE.test(ref.name) || ref.name.length > 253)
    return {
      problem: `secretRef.name ${JSON.stringify(ref.name)} is not a Secret name (DNS-1123 subdomain)`,
    };
  if (!SECRET_KEY_RE.test(ref.key) || ref.key === '.' || ref.key === '..' || ref.key.length > 253)
    return { problem: `secretRef.key ${JSON.stringify(ref.key)} is not a Secret key ([-._a-zA-Z0-9]+)` };
  const file = path.join(secretsDir, ref.name, ref.key);
  const where =
    'the local runtime reads secretRef from PONTOON_LOCAL_SECRETS_DIR/<name>/<key>, never from its own environment';
  let st: Stats;
  try {
    st = await stat(file);
  } catch {
    return { problem: `no secret file ${file} (${where})` };
  }
  if (!st.isFile()) return { problem: `${file} is not a regular file (${where})` };
  const read = await readRegularFile(file, PARAMETER_LIMITS.valueBytes, { follow: true });
  if ('problem' in read) return { problem: `${file}: ${read.problem}` };
  if ('missing' in read) return { problem: `no secret file ${file} (${where})` };
  const value = read.bytes.toString('utf8');
  if (value.includes('\u0000'))
    return { problem: `${file} holds a NUL byte, which no environment value can` };
  return { value };
}

export interface FunctionEnvOptions {
  /** PONTOON_LOCAL_SECRETS_DIR. */
  secretsDir: string;
  runAs?: RunAs | undefined;
  /** The worker's environment (default process.env). */
  workerEnv?: NodeJS.ProcessEnv;
}

/**
 * A function's environment before the contract's variables: the one rule above. A secret that
 * cannot be read is a problem naming the entry (the attempt fails to launch), never a silent gap.
 */
export async function functionEnv(
  spec: FunctionSpec,
  opts: FunctionEnvOptions,
): Promise<{ env: Record<string, string> } | { problem: string }> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(opts.workerEnv ?? process.env))
    if (v !== undefined && inheritable(k, v)) env[k] = v;
  if (opts.runAs) {
    env.HOME = opts.runAs.home;
    env.USER = opts.runAs.name;
    env.LOGNAME = opts.runAs.name;
  }
  for (const [i, e] of spec.spec.env.entries()) {
    if (e.value !== undefined) env[e.name] = e.value;
    else if (e.secretRef) {
      const secret = await readLocalSecret(opts.secretsDir, e.secretRef);
      if ('problem' in secret) return { problem: `spec.env[${i}] (${e.name}): ${secret.problem}` };
      env[e.name] = secret.value;
    }
  }
  Object.assign(env, spec.spec.local?.env ?? {});
  return { env };
}
