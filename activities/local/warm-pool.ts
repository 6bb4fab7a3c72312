/**
 * One warm function's pool of replicas (replica.ts) on the local runtime: started on demand up to
 * `warm.maxReplicas`, `concurrencyPerReplica` calls each (`acquire`, `release`), kept at
 * `warm.minReplicas` when idle, stopped after `warm.scaleDownDelay` of idleness (`reap`), health
 * checked (`checkHealth`), and replaced when one stops answering (`replaceReplica`). Stopping a
 * replica is SIGTERM to its process group, SIGKILL after the kill grace whatever it does with
 * signals (a busy-looping server never runs its SIGTERM handler). Sized by `warmSettings`
 * (core/warm.ts), the Scalar's own reading of `spec.warm` and its defaults.
 */
import type { Logger } from 'pino';
import { replicaHealthy } from '../../contract/warm-invoke.ts';
import type { FunctionSpec } from '../../core/schema.ts';
import { warmSettings } from '../../core/warm.ts';
import { killGroup } from './processes.ts';
import {
  REPLICA_START_TIMEOUT_MS,
  type Replica,
  type ReplicaParts,
  replicaUrl,
  spawnReplica,
  untilHealthy,
} from './replica.ts';

/** What a pool shares with the other pools of the runtime (warm.ts). */
export interface PoolParts {
  replica: ReplicaParts;
  /** Longest a new replica may take to answer /healthz (default REPLICA_START_TIMEOUT_MS). */
  startTimeoutMs: number | undefined;
  /** SIGTERM → SIGKILL grace whenever a replica is stopped. */
  killGraceMs: number;
  health: { periodMs: number; timeoutMs: number; failureThreshold: number };
  logger: Logger;
  /** Every replica process not yet exited, in a pool or being stopped: close() waits for them all. */
  live: Set<Replica>;
  /** The worker is stopping: no replica starts. */
  closed(): boolean;
  /** Whether this pool is still its function's (a pool replaced by a spec change starts no replacements). */
  current(pool: WarmPool): boolean;
}

export class WarmPool {
  replicas: Replica[] = [];
  /** Replicas being started: counted against maxReplicas before they exist (no over-scaling race). */
  starting = 0;
  private readonly waiters: (() => void)[] = [];
  private readonly reaper: NodeJS.Timeout;
  private readonly health: NodeJS.Timeout;

  constructor(
    /** The function and its command and cwd: a spec that changes them gets a new pool. */
    readonly key: string,
    public spec: FunctionSpec,
    private readonly parts: PoolParts,
  ) {
    this.reaper = setInterval(() => this.reap(), 1000);
    this.reaper.unref();
    this.health = setInterval(() => this.checkHealth(), parts.health.periodMs);
    this.health.unref();
  }

  private get name(): string {
    return this.spec.metadata.name;
  }

  private wakeAll(): void {
    for (const wake of this.waiters.splice(0)) wake();
  }

  /** Starts a replica and adds it to the pool; its `ready` settles once it answered /healthz. */
  async startReplica(): Promise<Replica> {
    const { logger, live } = this.parts;
    const { child, port, command } = await spawnReplica(this.spec, this.parts.replica, this.parts.closed);
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
      this.replicas = this.replicas.filter((r) => r !== replica);
      logger.info({ function: this.name, pid: replica.pid, ...fields }, 'warm replica exited');
      this.wakeAll();
      exited();
    };
    child.once('exit', (code, signal) => gone({ code, signal }));
    // Not spawned at all (e.g. ENOENT): no 'exit' follows; without a listener the worker would crash.
    child.once('error', (err) => {
      if (child.pid === undefined) gone({ err: err.message });
    });
    replica.ready = (async () => {
      await untilHealthy(replica, command, {
        startTimeoutMs: this.parts.startTimeoutMs ?? REPLICA_START_TIMEOUT_MS,
        probeTimeoutMs: this.parts.health.timeoutMs,
      });
      replica.started = true;
    })();
    // A replica that never became healthy is stopped, not left in the pool to fail every call.
    replica.ready.catch((err: Error) => void this.stopReplica(replica, err.message));
    this.replicas.push(replica);
    logger.info({ function: this.name, pid: replica.pid, port }, 'warm replica started');
    return replica;
  }

  /**
   * Takes a replica out of the pool and stops it: SIGTERM to its process group, SIGKILL after
   * killGraceMs if anything of it is still running. Resolves once its process has exited.
   */
  stopReplica(r: Replica, reason: string): Promise<void> {
    const { logger, killGraceMs } = this.parts;
    if (r.stopping) return r.exited;
    r.stopping = true;
    this.replicas = this.replicas.filter((x) => x !== r);
    this.wakeAll();
    if (r.dead) return r.exited;
    logger.info({ function: this.name, pid: r.pid, reason, graceMs: killGraceMs }, 'stopping a warm replica');
    killGroup(r.pid, 'SIGTERM');
    const escalate = setTimeout(() => {
      logger.warn(
        { function: this.name, pid: r.pid, graceMs: killGraceMs },
        'warm replica still running after the kill grace: SIGKILL',
      );
      killGroup(r.pid, 'SIGKILL');
    }, killGraceMs);
    void r.exited.then(() => clearTimeout(escalate));
    return r.exited;
  }

  /**
   * Replaces a replica that stopped answering: stops it, and starts a new one at once while the pool
   * is below minReplicas (so the next call finds a warm replica rather than paying a start).
   */
  replaceReplica(r: Replica, reason: string): void {
    const { logger } = this.parts;
    if (r.stopping) return;
    logger.warn({ function: this.name, pid: r.pid, reason }, 'replacing a warm replica');
    void this.stopReplica(r, reason);
    if (!this.parts.current(this)) return;
    const { minReplicas } = warmSettings(this.spec);
    if (this.replicas.length + this.starting >= minReplicas) return;
    this.starting++;
    this.startReplica()
      .then((n) => n.ready)
      .catch((err: Error) =>
        logger.warn({ function: this.name, err: err.message }, 'a replacement replica did not start'),
      )
      .finally(() => {
        this.starting--;
      });
  }

  /** One round of health checks: each started replica gets GET /healthz with a timeout. */
  checkHealth(): void {
    const { logger, health } = this.parts;
    for (const r of this.replicas) {
      if (!r.started || r.stopping || r.dead || r.checking) continue;
      r.checking = true;
      void replicaHealthy(replicaUrl(r.port), health.timeoutMs).then((ok) => {
        r.checking = false;
        if (r.stopping || r.dead) return;
        if (ok) {
          r.healthFailures = 0;
          return;
        }
        r.healthFailures++;
        logger.warn(
          { function: this.name, pid: r.pid, failures: r.healthFailures },
          'warm replica failed a health check',
        );
        if (r.healthFailures >= health.failureThreshold)
          this.replaceReplica(
            r,
            `${r.healthFailures} health checks in a row got no 2xx from /healthz within ${health.timeoutMs} ms`,
          );
      });
    }
  }

  /** Stops replicas idle for scaleDownDelay while the pool is above minReplicas. */
  reap(): void {
    const { minReplicas, scaleDownDelayMs } = warmSettings(this.spec);
    const now = Date.now();
    for (const r of [...this.replicas]) {
      if (this.replicas.length <= minReplicas) break;
      if (r.inFlight === 0 && now - r.idleSince >= scaleDownDelayMs) {
        void this.stopReplica(r, `idle for scaleDownDelay above minReplicas`);
      }
    }
  }

  /**
   * A replica with room for one more call (counted in its inFlight): a free one, else a new one
   * while under maxReplicas, else the first to come free. Throws when `signal` aborts meanwhile.
   */
  async acquire(signal: AbortSignal): Promise<Replica> {
    for (;;) {
      if (signal.aborted) throw new Error('cancelled while waiting for a warm replica');
      const { maxReplicas, concurrencyPerReplica } = warmSettings(this.spec);
      const free = this.replicas.find((r) => !r.dead && !r.stopping && r.inFlight < concurrencyPerReplica);
      if (free) {
        free.inFlight++;
        return free;
      }
      if (this.replicas.length + this.starting < maxReplicas) {
        this.starting++;
        let r: Replica;
        try {
          r = await this.startReplica();
        } finally {
          this.starting--;
        }
        r.inFlight++;
        return r;
      }
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        signal.addEventListener('abort', () => resolve(), { once: true });
      });
    }
  }

  /** A call on `r` is over: it counts one call less, and the next waiting call may have it. */
  release(r: Replica): void {
    r.inFlight = Math.max(0, r.inFlight - 1);
    if (r.inFlight === 0) r.idleSince = Date.now();
    this.waiters.shift()?.();
  }

  /** Ends the pool's timers and stops every replica for `reason` (without waiting for them). */
  dispose(reason: string): void {
    clearInterval(this.reaper);
    clearInterval(this.health);
    for (const r of [...this.replicas]) void this.stopReplica(r, reason);
  }
}
