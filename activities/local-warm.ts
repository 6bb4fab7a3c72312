/**
 * Warm mode on the local runtime: long-lived function server processes (replicas) per function,
 * each serving `POST /invoke` and `GET /healthz` on PONTOON_PORT (the warm contract in the README),
 * with the observer's checks done in-process. A replica is started on first demand, reused across
 * executions (same process, no start-up per call), kept at `warm.minReplicas` when idle, grown up to
 * `warm.maxReplicas` while all replicas are busy (`concurrencyPerReplica` calls each), and stopped
 * after `warm.scaleDownDelay` of idleness.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import { freePort } from '../dev/temporal.ts';
import { localCommand, localCwd } from '../spec/build.ts';
import { parseDuration } from '../spec/duration.ts';
import { type AttemptOutcome, type AttemptRequest, failure } from '../spec/execution.ts';
import type { FunctionSpec } from '../spec/schema.ts';
import type { AttemptControl } from './runtime.ts';
import { invokeWarmReplica } from './warm-invoke.ts';

interface Replica {
  pid: number;
  port: number;
  process: ChildProcess;
  inFlight: number;
  idleSince: number;
  ready: Promise<void>;
  dead: boolean;
}

interface Pool {
  key: string;
  spec: FunctionSpec;
  replicas: Replica[];
  /** Replicas being started: counted against maxReplicas before they exist (no over-scaling race). */
  starting: number;
  waiters: (() => void)[];
  reaper?: NodeJS.Timeout;
}

export interface LocalWarmConfig {
  dataDir: string;
  localRoot: string;
  /** Longest a new replica may take to answer /healthz. */
  startTimeoutMs?: number;
}

export function createLocalWarmPools(
  config: LocalWarmConfig,
  logger: Logger,
  baseEnv: () => Record<string, string>,
) {
  const pools = new Map<string, Pool>();

  const settings = (spec: FunctionSpec) => ({
    min: spec.spec.warm?.minReplicas ?? 1,
    max: spec.spec.warm?.maxReplicas ?? 3,
    perReplica: spec.spec.warm?.concurrencyPerReplica ?? 1,
    scaleDownMs: parseDuration(spec.spec.warm?.scaleDownDelay ?? '5m'),
  });

  async function startReplica(pool: Pool): Promise<Replica> {
    const spec = pool.spec.spec;
    const command = localCommand(spec);
    const port = await freePort();
    const dir = path.join(config.dataDir, 'warm', pool.spec.metadata.name);
    await mkdir(dir, { recursive: true });
    const fd = openSync(path.join(dir, `replica-${port}.log`), 'a');
    const env: Record<string, string> = { ...baseEnv() };
    for (const e of spec.env) if (e.value !== undefined) env[e.name] = e.value;
    Object.assign(env, spec.local?.env ?? {}, {
      PONTOON_PORT: String(port),
      PONTOON_FUNCTION: pool.spec.metadata.name,
      PONTOON_DIR: dir,
    });
    let child: ChildProcess;
    try {
      child = spawn(command[0]!, command.slice(1), {
        cwd: path.resolve(config.localRoot, localCwd(spec)),
        env,
        detached: true,
        stdio: ['ignore', fd, fd],
      });
    } finally {
      closeSync(fd);
    }
    const replica: Replica = {
      pid: child.pid ?? -1,
      port,
      process: child,
      inFlight: 0,
      idleSince: Date.now(),
      dead: false,
      ready: Promise.resolve(),
    };
    child.once('exit', (code, signal) => {
      replica.dead = true;
      pool.replicas = pool.replicas.filter((r) => r !== replica);
      logger.info(
        { function: pool.spec.metadata.name, pid: replica.pid, code, signal },
        'warm replica exited',
      );
      for (const wake of pool.waiters.splice(0)) wake();
    });
    replica.ready = (async () => {
      const deadline = Date.now() + (config.startTimeoutMs ?? 30_000);
      for (;;) {
        if (replica.dead)
          throw new Error(`warm replica exited during start-up (command ${JSON.stringify(command)})`);
        try {
          const res = await fetch(`http://127.0.0.1:${port}/healthz`);
          if (res.ok) return;
        } catch {
          // not listening yet
        }
        if (Date.now() > deadline)
          throw new Error(`warm replica did not answer /healthz on port ${port} in time`);
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    pool.replicas.push(replica);
    logger.info({ function: pool.spec.metadata.name, pid: replica.pid, port }, 'warm replica started');
    return replica;
  }

  function stopReplica(pool: Pool, r: Replica): void {
    pool.replicas = pool.replicas.filter((x) => x !== r);
    try {
      process.kill(-r.pid, 'SIGTERM');
    } catch {
      // gone
    }
  }

  function reap(pool: Pool): void {
    const { min, scaleDownMs } = settings(pool.spec);
    const now = Date.now();
    for (const r of [...pool.replicas]) {
      if (pool.replicas.length <= min) break;
      if (r.inFlight === 0 && now - r.idleSince >= scaleDownMs) {
        logger.info({ function: pool.spec.metadata.name, pid: r.pid }, 'scaling down an idle warm replica');
        stopReplica(pool, r);
      }
    }
  }

  function poolFor(spec: FunctionSpec): Pool {
    const key = `${spec.metadata.name}:${JSON.stringify([localCommand(spec.spec), localCwd(spec.spec)])}`;
    let pool = pools.get(spec.metadata.name);
    if (pool && pool.key !== key) {
      // The spec's command changed: replace the replicas.
      for (const r of [...pool.replicas]) stopReplica(pool, r);
      clearInterval(pool.reaper);
      pool = undefined;
    }
    if (!pool) {
      pool = { key, spec, replicas: [], starting: 0, waiters: [] };
      const p = pool;
      p.reaper = setInterval(() => reap(p), 1000);
      p.reaper.unref();
      pools.set(spec.metadata.name, pool);
    }
    pool.spec = spec;
    return pool;
  }

  async function acquire(pool: Pool, signal: AbortSignal): Promise<Replica> {
    for (;;) {
      if (signal.aborted) throw new Error('cancelled while waiting for a warm replica');
      const { max, perReplica } = settings(pool.spec);
      const free = pool.replicas.find((r) => !r.dead && r.inFlight < perReplica);
      if (free) {
        free.inFlight++;
        return free;
      }
      if (pool.replicas.length + pool.starting < max) {
        pool.starting++;
        let r: Replica;
        try {
          r = await startReplica(pool);
        } finally {
          pool.starting--;
        }
        r.inFlight++;
        return r;
      }
      await new Promise<void>((resolve) => {
        pool.waiters.push(resolve);
        signal.addEventListener('abort', () => resolve(), { once: true });
      });
    }
  }

  function release(pool: Pool, r: Replica): void {
    r.inFlight = Math.max(0, r.inFlight - 1);
    if (r.inFlight === 0) r.idleSince = Date.now();
    pool.waiters.shift()?.();
  }

  async function runWarmAttempt(req: AttemptRequest, control: AttemptControl): Promise<AttemptOutcome> {
    const pool = poolFor(req.spec);
    const startedAt = new Date().toISOString();
    const done = (o: Omit<AttemptOutcome, 'startedAt' | 'endedAt'>): AttemptOutcome => ({
      ...o,
      startedAt,
      endedAt: new Date().toISOString(),
    });
    let replica: Replica;
    try {
      replica = await acquire(pool, control.signal);
      await replica.ready;
    } catch (err) {
      return done({ exitCode: null, logTail: '', failure: failure('LaunchFailed', (err as Error).message) });
    }
    try {
      return done(
        await invokeWarmReplica(
          {
            url: `http://127.0.0.1:${replica.port}`,
            servedBy: `warm replica pid ${replica.pid} (port ${replica.port})`,
          },
          req,
          control,
          { replicaPid: replica.pid },
        ),
      );
    } finally {
      release(pool, replica);
    }
  }

  /** Replica processes of a function (tests and describe). */
  function replicas(fn: string): { pid: number; port: number; inFlight: number }[] {
    return (pools.get(fn)?.replicas ?? []).map((r) => ({ pid: r.pid, port: r.port, inFlight: r.inFlight }));
  }

  async function close(): Promise<void> {
    for (const pool of pools.values()) {
      clearInterval(pool.reaper);
      for (const r of [...pool.replicas]) stopReplica(pool, r);
    }
    pools.clear();
  }

  return { runWarmAttempt, replicas, close };
}
