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
 *
 * This file holds the pools of every function and the warm attempt; warm-pool.ts one function's
 * pool; replica.ts one replica's process.
 */
import type { Logger } from 'pino';
import { invokeWarmReplica, WARM_HEALTH_CHECK } from '../../contract/warm-invoke.ts';
import { localCommand, localCwd } from '../../core/build.ts';
import { type AttemptOutcome, type AttemptRequest, failure } from '../../core/execution.ts';
import type { FunctionSpec } from '../../core/schema.ts';
import type { AttemptControl } from '../runtime.ts';
import type { RunAs } from './env.ts';
import type { Replica } from './replica.ts';
import { replicaUrl } from './replica.ts';
import { WarmPool } from './warm-pool.ts';

export interface LocalWarmConfig {
  dataDir: string;
  localRoot: string;
  /** Longest a new replica may take to answer /healthz (default REPLICA_START_TIMEOUT_MS, replica.ts). */
  startTimeoutMs?: number;
  /** SIGTERM → SIGKILL grace whenever a replica is stopped (PONTOON_KILL_GRACE). */
  killGraceMs: number;
  /** Health checks of started replicas (default WARM_HEALTH_CHECK; tests shorten it). */
  healthCheck?: { periodMs: number; timeoutMs: number; failureThreshold: number };
  /** Where secretRef values are read (env.ts). */
  secretsDir: string;
  /** The user replicas run as (PONTOON_LOCAL_RUN_AS); unset: the worker's. */
  runAs?: RunAs;
}

export interface LocalWarmPools {
  /** One warm attempt: a call on a replica of the function's pool (started if none is free). */
  runWarmAttempt(req: AttemptRequest, control: AttemptControl): Promise<AttemptOutcome>;
  /** Replica processes of a function (tests and describe). */
  replicas(fn: string): { pid: number; port: number; inFlight: number }[];
  /** Stops every replica (SIGTERM, SIGKILL after the grace) and resolves once all have exited. */
  close(): Promise<void>;
}

export function createLocalWarmPools(config: LocalWarmConfig, logger: Logger): LocalWarmPools {
  const pools = new Map<string, WarmPool>();
  let closed = false;
  /** Every replica process not yet exited, in a pool or being stopped: close() waits for them all. */
  const live = new Set<Replica>();
  const parts = {
    replica: {
      dataDir: config.dataDir,
      localRoot: config.localRoot,
      secretsDir: config.secretsDir,
      ...(config.runAs ? { runAs: config.runAs } : {}),
    },
    startTimeoutMs: config.startTimeoutMs,
    killGraceMs: config.killGraceMs,
    health: config.healthCheck ?? WARM_HEALTH_CHECK,
    logger,
    live,
    closed: () => closed,
    current: (pool: WarmPool) => pools.get(pool.spec.metadata.name) === pool,
  };

  /** The function's pool, a new one when its command or working directory changed. */
  function poolFor(spec: FunctionSpec): WarmPool {
    const key = `${spec.metadata.name}:${JSON.stringify([localCommand(spec.spec), localCwd(spec.spec)])}`;
    let pool = pools.get(spec.metadata.name);
    if (pool && pool.key !== key) {
      // The spec's command changed: replace the replicas.
      pool.dispose('the spec changed its command');
      pool = undefined;
    }
    if (!pool) {
      pool = new WarmPool(key, spec, parts);
      pools.set(spec.metadata.name, pool);
    }
    pool.spec = spec;
    return pool;
  }

  async function runWarmAttempt(req: AttemptRequest, control: AttemptControl): Promise<AttemptOutcome> {
    return callReplica(poolFor(req.spec), req, control, config.killGraceMs);
  }

  function replicas(fn: string): { pid: number; port: number; inFlight: number }[] {
    return (pools.get(fn)?.replicas ?? []).map((r) => ({ pid: r.pid, port: r.port, inFlight: r.inFlight }));
  }

  async function close(): Promise<void> {
    closed = true;
    for (const pool of pools.values()) pool.dispose('the worker is stopping');
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

/**
 * One warm attempt on `pool`: a replica acquired (started if none is free, up to maxReplicas), the
 * call (contract/warm-invoke.ts), and a replica that let the attempt time out replaced. A replica
 * that cannot be had or never became healthy is LaunchFailed.
 */
async function callReplica(
  pool: WarmPool,
  req: AttemptRequest,
  control: AttemptControl,
  killGraceMs: number,
): Promise<AttemptOutcome> {
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
    replica = await pool.acquire(control.signal);
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
        url: replicaUrl(replica.port),
        servedBy: `warm replica pid ${replica.pid} (port ${replica.port})`,
      },
      req,
      control,
      { replicaPid: replica.pid },
    );
    if (outcome.failure?.type === 'AttemptTimedOut') {
      // Its server may be stuck (a busy loop answers nothing, ever): never hand it another call.
      pool.replaceReplica(replica, `an attempt got no answer within its timeout of ${req.timeoutMs} ms`);
      outcome.logTail += `\nthe replica did not answer within the timeout: replaced (SIGTERM, SIGKILL after ${killGraceMs} ms)\n`;
    }
    return done(outcome);
  } finally {
    pool.release(replica);
  }
}
