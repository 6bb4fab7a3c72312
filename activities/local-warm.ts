/**
 * Warm mode on the local runtime: long-lived function server processes (replicas) per function,
 * each serving `POST /invoke` and `GET /healthz` on PONTOON_PORT (the warm contract in the README),
 * with the observer's checks done in-process. A replica is started on first demand, reused across
 * executions (same process, no start-up per call), kept at `warm.minReplicas` when idle, grown up to
 * `warm.maxReplicas` while all replicas are busy (`concurrencyPerReplica` calls each), and stopped
 * after `warm.scaleDownDelay` of idleness.
 *
 * A replica that stops answering is replaced: after an attempt on it timed out (a hung request can
 * hang the whole server; returning it to the pool would time out every later call), or after
 * WARM_HEALTH_CHECK.failureThreshold failed health checks in a row. Replaced means stopped as every
 * replica is stopped (SIGTERM to its process group, SIGKILL after `killGraceMs` whatever it does
 * with signals; a busy-looping server never runs its SIGTERM handler) and a new one started in its
 * place while the pool is at or below minReplicas, so the next call finds a warm replica.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, fchownSync, openSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import { warmContractEnv } from '../contract/env.ts';
import { invokeWarmReplica, replicaHealthy, WARM_HEALTH_CHECK } from '../contract/warm-invoke.ts';
import { localCommand, localCwd } from '../core/build.ts';
import { parseDuration } from '../core/duration.ts';
import { type AttemptOutcome, type AttemptRequest, failure } from '../core/execution.ts';
import type { FunctionSpec } from '../core/schema.ts';
import { WARM_DEFAULTS } from '../core/warm.ts';
import { freePort } from '../util/free-port.ts';
import { blockedFor, functionDir, functionEnv, type RunAs } from './local-env.ts';
import type { AttemptControl } from './runtime.ts';

interface Replica {
  /** The replica's pid, also its process group id (spawned detached). -1: it could not be spawned. */
  pid: number;
  port: number;
  process: ChildProcess;
  inFlight: number;
  idleSince: number;
  /** Resolves once it answered /healthz at start; rejects (and the replica is stopped) otherwise. */
  ready: Promise<void>;
  /** It answered /healthz at start: from then on health checks judge it. */
  started: boolean;
  dead: boolean;
  /** Out of the pool and being stopped: takes no new calls. */
  stopping: boolean;
  /** Resolves when the process has exited (and whatever it left in its group was killed). */
  exited: Promise<void>;
  /** Failed health checks in a row. */
  healthFailures: number;
  checking: boolean;
}

interface Pool {
  key: string;
  spec: FunctionSpec;
  replicas: Replica[];
  /** Replicas being started: counted against maxReplicas before they exist (no over-scaling race). */
  starting: number;
  waiters: (() => void)[];
  reaper?: NodeJS.Timeout;
  health?: NodeJS.Timeout;
}

export interface LocalWarmConfig {
  dataDir: string;
  localRoot: string;
  /** Longest a new replica may take to answer /healthz. */
  startTimeoutMs?: number;
  /** SIGTERM → SIGKILL grace whenever a replica is stopped (PONTOON_KILL_GRACE). */
  killGraceMs: number;
  /** Health checks of started replicas (default WARM_HEALTH_CHECK; tests shorten it). */
  healthCheck?: { periodMs: number; timeoutMs: number; failureThreshold: number };
  /** Where secretRef values are read (activities/local-env.ts). */
  secretsDir: string;
  /** The user replicas run as (PONTOON_LOCAL_RUN_AS); unset: the worker's. */
  runAs?: RunAs;
}

function killGroup(pgid: number, signal: NodeJS.Signals): void {
  // Never process.kill(-1) or (-0): those signal every process of the user or this process's group.
  if (!(pgid > 1)) return;
  try {
    process.kill(-pgid, signal);
  } catch {
    // already gone
  }
}

export function createLocalWarmPools(config: LocalWarmConfig, logger: Logger) {
  const pools = new Map<string, Pool>();
  let closed = false;
  /** Every replica process not yet exited, in a pool or being stopped: close() waits for them all. */
  const live = new Set<Replica>();
  const health = config.healthCheck ?? WARM_HEALTH_CHECK;

  const settings = (spec: FunctionSpec) => ({
    min: spec.spec.warm?.minReplicas ?? WARM_DEFAULTS.minReplicas,
    max: spec.spec.warm?.maxReplicas ?? WARM_DEFAULTS.maxReplicas,
    perReplica: spec.spec.warm?.concurrencyPerReplica ?? WARM_DEFAULTS.concurrencyPerReplica,
    scaleDownMs: parseDuration(spec.spec.warm?.scaleDownDelay ?? WARM_DEFAULTS.scaleDownDelay),
  });

  async function startReplica(pool: Pool): Promise<Replica> {
    const spec = pool.spec.spec;
    const command = localCommand(spec);
    const port = await freePort();
    const dir = path.join(config.dataDir, 'warm', pool.spec.metadata.name);
    const runAs = config.runAs;
    const cwd = path.resolve(config.localRoot, localCwd(spec));
    // The same environment and user as an on-demand attempt (activities/local-env.ts).
    const built = await functionEnv(pool.spec, { secretsDir: config.secretsDir, runAs });
    if ('problem' in built) throw new Error(built.problem);
    const unreachable = runAs && blockedFor(cwd, runAs, 1);
    if (unreachable) {
      throw new Error(
        `working directory ${cwd} is not reachable by user ${runAs.name} (PONTOON_LOCAL_RUN_AS): ${unreachable}`,
      );
    }
    await functionDir(dir, runAs);
    if (closed) throw new Error('the worker is stopping');
    const fd = openSync(path.join(dir, `replica-${port}.log`), 'a', 0o600);
    const env = built.env;
    for (const { name, value } of warmContractEnv(pool.spec.metadata.name, port, dir)) env[name] = value;
    let child: ChildProcess;
    try {
      if (runAs) fchownSync(fd, process.getuid?.() ?? 0, runAs.gid);
      // detached: its own process group, so stopping it stops whatever it started too.
      child = spawn(command[0]!, command.slice(1), {
        cwd,
        env,
        detached: true,
        stdio: ['ignore', fd, fd],
        ...(runAs ? { uid: runAs.uid, gid: runAs.gid } : {}),
      });
    } finally {
      closeSync(fd);
    }
    let exited!: () => void;
    const replica: Replica = {
      pid: child.pid ?? -1,
      port,
      process: child,
      inFlight: 0,
      idleSince: Date.now(),
      started: false,
      dead: false,
      stopping: false,
      exited: new Promise<void>((resolve) => {
        exited = resolve;
      }),
      healthFailures: 0,
      checking: false,
      ready: Promise.resolve(),
    };
    live.add(replica);
    const gone = (fields: Record<string, unknown>) => {
      if (replica.dead) return;
      replica.dead = true;
      // The main process is gone; anything it left in its group goes too (no orphans).
      killGroup(replica.pid, 'SIGKILL');
      live.delete(replica);
      pool.replicas = pool.replicas.filter((r) => r !== replica);
      logger.info({ function: pool.spec.metadata.name, pid: replica.pid, ...fields }, 'warm replica exited');
      for (const wake of pool.waiters.splice(0)) wake();
      exited();
    };
    child.once('exit', (code, signal) => gone({ code, signal }));
    // Not spawned at all (e.g. ENOENT): no 'exit' follows; without a listener the worker would crash.
    child.once('error', (err) => {
      if (child.pid === undefined) gone({ err: err.message });
    });
    replica.ready = (async () => {
      const deadline = Date.now() + (config.startTimeoutMs ?? 30_000);
      for (;;) {
        if (replica.dead)
          throw new Error(`warm replica exited during start-up (command ${JSON.stringify(command)})`);
        if (replica.stopping) throw new Error('warm replica stopped during start-up');
        const left = deadline - Date.now();
        // Bounded per try: a server that accepts the connection but never answers must not hang us.
        if (await replicaHealthy(`http://127.0.0.1:${port}`, Math.max(100, Math.min(health.timeoutMs, left))))
          break;
        if (Date.now() > deadline)
          throw new Error(`warm replica did not answer /healthz on port ${port} in time`);
        await new Promise((r) => setTimeout(r, 50));
      }
      replica.started = true;
    })();
    // A replica that never became healthy is stopped, not left in the pool to fail every call.
    replica.ready.catch((err: Error) => void stopReplica(pool, replica, err.message));
    pool.replicas.push(replica);
    logger.info({ function: pool.spec.metadata.name, pid: replica.pid, port }, 'warm replica started');
    return replica;
  }

  /**
   * Takes a replica out of the pool and stops it: SIGTERM to its process group, SIGKILL after
   * killGraceMs if anything of it is still running. Resolves once its process has exited.
   */
  function stopReplica(pool: Pool, r: Replica, reason: string): Promise<void> {
    if (r.stopping) return r.exited;
    r.stopping = true;
    pool.replicas = pool.replicas.filter((x) => x !== r);
    for (const wake of pool.waiters.splice(0)) wake();
    if (r.dead) return r.exited;
    logger.info(
      { function: pool.spec.metadata.name, pid: r.pid, reason, graceMs: config.killGraceMs },
      'stopping a warm replica',
    );
    killGroup(r.pid, 'SIGTERM');
    const escalate = setTimeout(() => {
      logger.warn(
        { function: pool.spec.metadata.name, pid: r.pid, graceMs: config.killGraceMs },
        'warm replica still running after the kill grace: SIGKILL',
      );
      killGroup(r.pid, 'SIGKILL');
    }, config.killGraceMs);
    void r.exited.then(() => clearTimeout(escalate));
    return r.exited;
  }

  /**
   * Replaces a replica that stopped answering: stops it, and starts a new one at once while the pool
   * is below minReplicas (so the next call finds a warm replica rather than paying a start).
   */
  function replaceReplica(pool: Pool, r: Replica, reason: string): void {
    if (r.stopping) return;
    logger.warn({ function: pool.spec.metadata.name, pid: r.pid, reason }, 'replacing a warm replica');
    void stopReplica(pool, r, reason);
    if (pools.get(pool.spec.metadata.name) !== pool) return;
    const { min } = settings(pool.spec);
    if (pool.replicas.length + pool.starting >= min) return;
    pool.starting++;
    startReplica(pool)
      .then((n) => n.ready)
      .catch((err: Error) =>
        logger.warn(
          { function: pool.spec.metadata.name, err: err.message },
          'a replacement replica did not start',
        ),
      )
      .finally(() => {
        pool.starting--;
      });
  }

  /** One round of health checks: each started replica gets GET /healthz with a timeout. */
  function checkHealth(pool: Pool): void {
    for (const r of pool.replicas) {
      if (!r.started || r.stopping || r.dead || r.checking) continue;
      r.checking = true;
      void replicaHealthy(`http://127.0.0.1:${r.port}`, health.timeoutMs).then((ok) => {
        r.checking = false;
        if (r.stopping || r.dead) return;
        if (ok) {
          r.healthFailures = 0;
          return;
        }
        r.healthFailures++;
        logger.warn(
          { function: pool.spec.metadata.name, pid: r.pid, failures: r.healthFailures },
          'warm replica failed a health check',
        );
        if (r.healthFailures >= health.failureThreshold)
          replaceReplica(
            pool,
            r,
            `${r.healthFailures} health checks in a row got no 2xx from /healthz within ${health.timeoutMs} ms`,
          );
      });
    }
  }

  function reap(pool: Pool): void {
    const { min, scaleDownMs } = settings(pool.spec);
    const now = Date.now();
    for (const r of [...pool.replicas]) {
      if (pool.replicas.length <= min) break;
      if (r.inFlight === 0 && now - r.idleSince >= scaleDownMs) {
        void stopReplica(pool, r, `idle for scaleDownDelay above minReplicas`);
      }
    }
  }

  function poolFor(spec: FunctionSpec): Pool {
    const key = `${spec.metadata.name}:${JSON.stringify([localCommand(spec.spec), localCwd(spec.spec)])}`;
    let pool = pools.get(spec.metadata.name);
    if (pool && pool.key !== key) {
      // The spec's command changed: replace the replicas.
      for (const r of [...pool.replicas]) void stopReplica(pool, r, 'the spec changed its command');
      clearInterval(pool.reaper);
      clearInterval(pool.health);
      pool = undefined;
    }
    if (!pool) {
      pool = { key, spec, replicas: [], starting: 0, waiters: [] };
      const p = pool;
      p.reaper = setInterval(() => reap(p), 1000);
      p.reaper.unref();
      p.health = setInterval(() => checkHealth(p), health.periodMs);
      p.health.unref();
      pools.set(spec.metadata.name, pool);
    }
    pool.spec = spec;
    return pool;
  }

  async function acquire(pool: Pool, signal: AbortSignal): Promise<Replica> {
    for (;;) {
      if (signal.aborted) throw new Error('cancelled while waiting for a warm replica');
      const { max, perReplica } = settings(pool.spec);
      const free = pool.replicas.find((r) => !r.dead && !r.stopping && r.inFlight < perReplica);
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
    const launchFailed = (err: unknown) =>
      done({ exitCode: null, logTail: '', failure: failure('LaunchFailed', (err as Error).message) });
    let replica: Replica;
    try {
      replica = await acquire(pool, control.signal);
    } catch (err) {
      return launchFailed(err);
    }
    try {
      try {
        await replica.ready;
      } catch (err) {
        return launchFailed(err);
      }
      const outcome = await invokeWarmReplica(
        {
          url: `http://127.0.0.1:${replica.port}`,
          servedBy: `warm replica pid ${replica.pid} (port ${replica.port})`,
        },
        req,
        control,
        { replicaPid: replica.pid },
      );
      if (outcome.failure?.type === 'AttemptTimedOut') {
        // Its server may be stuck (a busy loop answers nothing, ever): never hand it another call.
        replaceReplica(pool, replica, `an attempt got no answer within its timeout of ${req.timeoutMs} ms`);
        outcome.logTail += `\nthe replica did not answer within the timeout: replaced (SIGTERM, SIGKILL after ${config.killGraceMs} ms)\n`;
      }
      return done(outcome);
    } finally {
      release(pool, replica);
    }
  }

  /** Replica processes of a function (tests and describe). */
  function replicas(fn: string): { pid: number; port: number; inFlight: number }[] {
    return (pools.get(fn)?.replicas ?? []).map((r) => ({ pid: r.pid, port: r.port, inFlight: r.inFlight }));
  }

  /** Stops every replica (SIGTERM, SIGKILL after the grace) and resolves once all have exited. */
  async function close(): Promise<void> {
    closed = true;
    for (const pool of pools.values()) {
      clearInterval(pool.reaper);
      clearInterval(pool.health);
      for (const r of [...pool.replicas]) void stopReplica(pool, r, 'the worker is stopping');
    }
    pools.clear();
    const all = [...live].map((r) => r.exited);
    // Bounded: SIGKILL has gone out by then; a process stuck in the kernel must not hang shutdown.
    let bound: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(all),
      new Promise((r) => {
        bound = setTimeout(r, config.killGraceMs + 5000);
      }),
    ]);
    clearTimeout(bound);
  }

  return { runWarmAttempt, replicas, close };
}
