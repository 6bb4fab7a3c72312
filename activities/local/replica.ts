/**
 * One warm replica's process: spawned with the same environment and user as an on-demand attempt
 * (env.ts) plus the warm contract's variables (contract/env.ts `warmContractEnv`: PONTOON_PORT on a
 * free port), in a process group of its own, its output to `<dataDir>/warm/<function>/replica-<port>.log`;
 * then waited for until it answers `GET /healthz`. The pool (warm-pool.ts) owns what happens to it.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, fchownSync, openSync } from 'node:fs';
import path from 'node:path';
import { warmContractEnv } from '../../contract/env.ts';
import { replicaHealthy } from '../../contract/warm-invoke.ts';
import { localCommand, localCwd } from '../../core/build.ts';
import type { FunctionSpec } from '../../core/schema.ts';
import { freePort } from '../../util/free-port.ts';
import { blockedFor, functionDir, functionEnv, type RunAs } from './env.ts';

/** Longest a new replica may take to answer /healthz, unless configured (LocalWarmConfig.startTimeoutMs). */
export const REPLICA_START_TIMEOUT_MS = 30_000;

export interface Replica {
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

/** What starting a replica uses of the runtime. */
export interface ReplicaParts {
  dataDir: string;
  localRoot: string;
  /** Where secretRef values are read (env.ts). */
  secretsDir: string;
  /** The user replicas run as (PONTOON_LOCAL_RUN_AS); unset: the worker's. */
  runAs?: RunAs;
}

/** The base URL of a replica's function server. */
export function replicaUrl(port: number): string {
  return `http://127.0.0.1:${port}`;
}

/**
 * Spawns a replica process of `spec`. Throws when it cannot be started (a secret that cannot be
 * read, an unreachable working directory, `closed()` meanwhile); a spawn error (e.g. ENOENT) comes
 * as the child's 'error' event instead.
 */
export async function spawnReplica(
  spec: FunctionSpec,
  parts: ReplicaParts,
  closed: () => boolean,
): Promise<{ child: ChildProcess; port: number; command: string[] }> {
  const command = localCommand(spec.spec);
  const port = await freePort();
  const dir = path.join(parts.dataDir, 'warm', spec.metadata.name);
  const runAs = parts.runAs;
  const cwd = path.resolve(parts.localRoot, localCwd(spec.spec));
  // The same environment and user as an on-demand attempt (env.ts).
  const built = await functionEnv(spec, { secretsDir: parts.secretsDir, runAs });
  if ('problem' in built) throw new Error(built.problem);
  const unreachable = runAs && blockedFor(cwd, runAs, 1);
  if (unreachable) {
    throw new Error(
      `working directory ${cwd} is not reachable by user ${runAs.name} (PONTOON_LOCAL_RUN_AS): ${unreachable}`,
    );
  }
  await functionDir(dir, runAs);
  if (closed()) throw new Error('the worker is stopping');
  const fd = openSync(path.join(dir, `replica-${port}.log`), 'a', 0o600);
  const env = built.env;
  for (const { name, value } of warmContractEnv(spec.metadata.name, port, dir)) env[name] = value;
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
  return { child, port, command };
}

/**
 * Resolves once the replica answers /healthz (each try bounded by `probeTimeoutMs`), rejects when it
 * exits or is stopped first, or does not answer within `startTimeoutMs`.
 */
export async function untilHealthy(
  replica: Replica,
  command: string[],
  o: { startTimeoutMs: number; probeTimeoutMs: number },
): Promise<void> {
  const deadline = Date.now() + o.startTimeoutMs;
  for (;;) {
    if (replica.dead)
      throw new Error(`warm replica exited during start-up (command ${JSON.stringify(command)})`);
    if (replica.stopping) throw new Error('warm replica stopped during start-up');
    const left = deadline - Date.now();
    // Bounded per try: a server that accepts the connection but never answers must not hang us.
    if (await replicaHealthy(replicaUrl(replica.port), Math.max(100, Math.min(o.probeTimeoutMs, left))))
      break;
    if (Date.now() > deadline)
      throw new Error(`warm replica did not answer /healthz on port ${replica.port} in time`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
