/**
 * The local runtime: each attempt is a child process under the function contract, in its own
 * process group so a timeout or a cancellation kills everything it started. The observer's logic
 * (output.json, size limit, log tail) runs in-process. Used by `npm start`, `pontoon dev` and tests.
 * Composed from parts with one duty each, named as in the kubernetes runtime (activities/kubernetes/):
 *   launch.ts   the attempt's folder and input.json, the checks, the process spawned with the
 *               contract's environment (env.ts: the function's environment and user)
 *   await.ts    wait for it to end: timeout, cancellation, heartbeat; its leftovers killed
 *   collect.ts  how it ended → the outcome (output.json, exit code, signal), also from the exit
 *               status a lost worker's attempt left
 *   finish.ts   the outcome recorded in the attempt folder before it goes back; reading a record
 *   sweep.ts    process groups a lost worker left; the log store's retention
 *   attempt.ts  one attempt through those parts (runAttempt); processes.ts the process calls they share
 *   warm.ts     warm pools (warm-pool.ts, replica.ts): long-lived function servers per function
 * This file wires them and holds what spans attempts: whom functions run as, close.
 *
 * Exactly-once by construction: every outcome is recorded in the attempt's folder
 * (`.pontoon-outcome.json`, logs/dir.ts) before it goes back, and the attempt's sh records the
 * function's exit status there the moment it ends (launch.ts). A retried activity (Temporal's
 * activity attempt > 1: its worker was lost, perhaps between the outcome and Temporal recording it)
 * first reaps what its predecessor left running (sweep.ts: a function still running is killed and
 * runs again; one that had ended keeps its status), then adopts the record, else the exit status,
 * and runs the function again only when neither exists. The first try reads nothing.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import type { LogStore } from '../../logs/store.ts';
import { componentLogger } from '../../platform/logger.ts';
import type { FunctionRuntime } from '../runtime.ts';
import { createAttemptRunner } from './attempt.ts';
import { blockedFor, LocalRunAsError, type RunAs, resolveRunAs } from './env.ts';
import { createSweeper } from './sweep.ts';
import { createLocalWarmPools } from './warm.ts';

export interface LocalRuntimeConfig {
  /** Attempt folders and logs live here. */
  dataDir: string;
  /** Relative `local.cwd` and commands are taken from here. */
  localRoot: string;
  /** SIGTERM → SIGKILL grace on timeout or cancellation, and whenever a warm replica is stopped. */
  killGraceMs: number;
  /** Health checks of warm replicas (default WARM_HEALTH_CHECK in contract/warm-invoke.ts; tests shorten it). */
  warmHealthCheck?: { periodMs: number; timeoutMs: number; failureThreshold: number };
  /**
   * The dir log store over dataDir (logs/dir.ts: the same `runs/` folders), swept for retention
   * every `sweepIntervalMs`; unset: attempt folders are kept until removed by hand.
   */
  logs?: { store: LogStore; sweepIntervalMs: number };
  /**
   * PONTOON_LOCAL_RUN_AS: the user functions run as (name, uid or uid:gid; the worker must be
   * root). Unset: the worker's own user.
   */
  runAs?: string;
  /** PONTOON_LOCAL_SECRETS_DIR: where secretRef values are read (<name>/<key>); default dataDir/secrets. */
  secretsDir?: string;
}

export interface LocalRuntime extends FunctionRuntime {
  /**
   * Kills process groups left by earlier runs of this execution (sweep.ts); resolves how many.
   * runAttempt does it before each on-demand attempt.
   */
  reapExecution(executionId: string): Promise<number>;
  /** Replica processes of a warm function (tests and describe). */
  warmReplicas(fn: string): { pid: number; port: number; inFlight: number }[];
}

export function createLocalRuntime(config: LocalRuntimeConfig, logger: Logger): LocalRuntime {
  const runAs = config.runAs ? checkedRunAs(config, config.runAs, logger) : undefined;
  if (!runAs && process.getuid?.() === 0) {
    logger.warn(
      'local functions run as root, like this worker: they can read its environment (/proc) and every file; set PONTOON_LOCAL_RUN_AS to an unprivileged user',
    );
  }
  const secretsDir = config.secretsDir ?? path.join(config.dataDir, 'secrets');
  const warm = createLocalWarmPools(
    {
      dataDir: config.dataDir,
      localRoot: config.localRoot,
      killGraceMs: config.killGraceMs,
      ...(config.warmHealthCheck ? { healthCheck: config.warmHealthCheck } : {}),
      secretsDir,
      ...(runAs ? { runAs } : {}),
    },
    componentLogger(logger, 'local-warm'),
  );
  const sweeper = createSweeper({ dataDir: config.dataDir, logger, logs: config.logs });
  const runAttempt = createAttemptRunner({
    dataDir: config.dataDir,
    localRoot: config.localRoot,
    secretsDir,
    runAs,
    killGraceMs: config.killGraceMs,
    logger,
    warm,
    sweeper,
  });

  return {
    kind: 'local',
    runAttempt,
    reapExecution: sweeper.reapExecution,
    warmReplicas: warm.replicas,
    async close() {
      sweeper.stop();
      await warm.close();
    },
  };
}

/**
 * PONTOON_LOCAL_RUN_AS resolved (env.ts), once the user is known to reach PONTOON_DATA_DIR, where
 * its attempt folders live. Throws LocalRunAsError otherwise.
 */
function checkedRunAs(config: LocalRuntimeConfig, setting: string, logger: Logger): RunAs {
  const runAs = resolveRunAs(setting);
  mkdirSync(config.dataDir, { recursive: true });
  const blocked = blockedFor(config.dataDir, runAs, 1);
  if (blocked) {
    throw new LocalRunAsError(
      `PONTOON_LOCAL_RUN_AS=${setting}: user ${runAs.name} cannot reach PONTOON_DATA_DIR ${config.dataDir} (${blocked}); let others search it (chmod o+x) or choose another folder`,
    );
  }
  logger.info({ user: runAs.name, uid: runAs.uid, gid: runAs.gid }, 'local functions run as another user');
  return runAs;
}
