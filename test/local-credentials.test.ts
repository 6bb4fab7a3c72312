/**
 * Issue 17, finding 5: the worker's credentials never reach a function on the local runtime. Real
 * `pontoon worker` processes hold canary credentials in their environment (as a worker holds its
 * Temporal, registry and database secrets); a probe function (fixtures/functions/credential-probe.mjs)
 * looks for them in its environment, through secretRef, in /proc/<pid>/environ of every process
 * above it, through a link planted as its output, and by tampering with the worker's files, on
 * demand and as a warm replica.
 *
 * One worker runs functions as another user (PONTOON_LOCAL_RUN_AS): it must reveal nothing. The
 * other runs them as root, like itself: the environment rule holds there too, and its functions
 * reading the worker's /proc environ is the positive control that shows the probe would find a
 * leak (what the README says the local runtime does not isolate without a separate user).
 *
 * Needs root and the user `pontoon-fn`; the test creates it when it is missing and fails, saying
 * how, when it cannot. It is never skipped.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { LocalRunAsError, resolveRunAs } from '../activities/local/env.ts';
import { createLocalRuntime } from '../activities/local/runtime.ts';
import { startExecution, waitForResult } from '../client/functions.ts';
import type { ExecutionResult } from '../core/execution.ts';
import type { FunctionSpec } from '../core/schema.ts';
import { attemptDir } from '../logs/dir.ts';
import { createLogger } from '../platform/logger.ts';
import { connectClient } from '../platform/temporal.ts';
import { apply, fixtureSpec, pidAlive, REPO_ROOT, uniqueName, waitFor } from './helpers.ts';

const RUN_AS = 'pontoon-fn';
const HOW_TO = `run the tests as root, or create the user first: useradd --system --user-group --no-create-home --shell /usr/sbin/nologin ${RUN_AS}`;

/** The user functions run as: created when missing (we are root in CI); a failure says how. */
function ensureRunAsUser(): { uid: number; gid: number } {
  const id = () => ({
    uid: Number(execFileSync('id', ['-u', RUN_AS], { encoding: 'utf8' }).trim()),
    gid: Number(execFileSync('id', ['-g', RUN_AS], { encoding: 'utf8' }).trim()),
  });
  try {
    return id();
  } catch {
    // missing: create it below
  }
  if (process.getuid?.() !== 0) {
    throw new Error(`this test runs functions as user ${RUN_AS}, which does not exist: ${HOW_TO}`);
  }
  try {
    execFileSync(
      'useradd',
      ['--system', '--user-group', '--no-create-home', '--shell', '/usr/sbin/nologin', RUN_AS],
      { stdio: 'pipe' },
    );
  } catch (err) {
    throw new Error(`could not create user ${RUN_AS} (${(err as Error).message.trim()}): ${HOW_TO}`);
  }
  return id();
}

const CANARY = `canary-${randomUUID()}`;
/** Credentials of every kind a worker holds, each carrying the canary. */
const WORKER_CREDENTIALS = {
  GITHUB_TOKEN: `${CANARY}-github`,
  OPENAI_API_KEY: `${CANARY}-openai`,
  DB_PASSWORD: `${CANARY}-db`,
  PAYMENTS_SECRET: `${CANARY}-payments`,
  DATABASE_URL: `postgres://app:${CANARY}@db.internal:5432/app`,
  PONTOON_REGISTRY_PASSWORD: `${CANARY}-registry`,
  // Pontoon's own settings never reach functions either (TLS stays off: no key or certificate).
  TEMPORAL_TLS_SERVER_NAME: `${CANARY}-temporal`,
};
const SECRET_FROM_FOLDER = 'from-the-secret-folder';

interface Worker {
  process: ChildProcess;
  taskQueue: string;
  dataDir: string;
  runAs: boolean;
  stderr: string;
}

let user: { uid: number; gid: number };
let client: Client;
let root: string;
let secretsDir: string;
const workers: Worker[] = [];

function startWorker(runAs: boolean): Worker {
  const dataDir = path.join(root, runAs ? 'run-as' : 'as-root');
  mkdirSync(dataDir, { recursive: true });
  const taskQueue = `creds-${runAs ? 'user' : 'root'}-${process.pid}-${Date.now().toString(36)}`;
  const child = spawn(process.execPath, [path.join(REPO_ROOT, 'bin', 'pontoon.mjs'), 'worker'], {
    cwd: REPO_ROOT,
    env: {
      ...process.env,
      ...WORKER_CREDENTIALS,
      TEMPORAL_ADDRESS: inject('temporalAddress'),
      PONTOON_TASK_QUEUE: taskQueue,
      PONTOON_DATA_DIR: dataDir,
      PONTOON_LOCAL_ROOT: REPO_ROOT,
      PONTOON_LOCAL_SECRETS_DIR: secretsDir,
      PONTOON_WORKFLOW_BUNDLE: inject('workflowBundlePath'),
      PONTOON_KILL_GRACE: '1s',
      PONTOON_LOG_LEVEL: 'warn',
      ...(runAs ? { PONTOON_LOCAL_RUN_AS: RUN_AS } : {}),
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const w: Worker = { process: child, taskQueue, dataDir, runAs, stderr: '' };
  child.stderr!.on('data', (d) => {
    w.stderr += d;
  });
  workers.push(w);
  return w;
}

beforeAll(async () => {
  user = ensureRunAsUser();
  // Outside the test folder (mode 0700): the function's user must reach its attempt folders.
  root = mkdtempSync(path.join(os.tmpdir(), 'pontoon-credentials-'));
  chmodSync(root, 0o711);
  secretsDir = path.join(root, 'secrets');
  mkdirSync(path.join(secretsDir, 'db'), { recursive: true, mode: 0o700 });
  chmodSync(secretsDir, 0o700);
  writeFileSync(path.join(secretsDir, 'db', 'password'), SECRET_FROM_FOLDER, { mode: 0o600 });
  client = await connectClient({ address: inject('temporalAddress'), namespace: 'default' });
  startWorker(true);
  startWorker(false);
}, 60_000);

afterAll(async () => {
  for (const w of workers) {
    if (w.process.exitCode === null) {
      w.process.kill('SIGTERM');
      await new Promise((r) => {
        const t = setTimeout(() => {
          w.process.kill('SIGKILL');
          r(undefined);
        }, 10_000);
        w.process.once('exit', () => {
          clearTimeout(t);
          r(undefined);
        });
      });
    }
  }
  await client?.connection.close();
  if (root) rmSync(root, { recursive: true, force: true });
});

const byUser = () => workers.find((w) => w.runAs)!;
const byRoot = () => workers.find((w) => !w.runAs)!;

async function run(w: Worker, spec: FunctionSpec, parameters: Record<string, unknown> = {}) {
  await apply(client, spec, w.taskQueue);
  const s = await startExecution(
    client,
    { function: spec.metadata.name, parameters },
    { trigger: 'cli', taskQueue: w.taskQueue },
  );
  const result = await waitForResult(client, s.executionId);
  return { result, executionId: s.executionId };
}

const probe = (extra: Partial<Parameters<typeof fixtureSpec>[2]> = {}) =>
  fixtureSpec(uniqueName('creds'), 'credential-probe.mjs', {
    parameters: [
      { name: 'mode', default: 'probe' },
      { name: 'secrets', default: '' },
    ],
    execution: { timeout: '30s', retry: { maxAttempts: 1 } },
    ...extra,
  });

interface Report {
  uid: number;
  gid: number;
  env: Record<string, string>;
  ancestors: { pid: number; uid: number; environ: string[] | string }[];
  secretsFolder: unknown;
  attempt: Record<string, unknown>;
}

/** Everything a run left where a user of Pontoon can see it: result, output, failure, log tail. */
const visible = (r: ExecutionResult) => JSON.stringify(r);
/** The same without what the probe read in /proc (which a function run as root can: the control below). */
const visibleButProc = (r: ExecutionResult) =>
  JSON.stringify({ ...r, output: r.output && { ...(r.output as Report), ancestors: [] } });

describe('a function run as another user (PONTOON_LOCAL_RUN_AS)', () => {
  it('finds no credential in its environment, in /proc of the worker, or in the secrets folder, and cannot touch the worker’s files', async () => {
    const w = byUser();
    const { result, executionId } = await run(w, probe(), { secrets: secretsDir });
    expect(result.status, `${visible(result)}\n${w.stderr}`).toBe('succeeded');
    const report = result.output as Report;
    expect(report.uid).toBe(user.uid);
    expect(report.gid).toBe(user.gid);
    expect(visible(result)).not.toContain(CANARY);
    for (const name of Object.keys(WORKER_CREDENTIALS)) expect(report.env[name]).toBeUndefined();
    expect(report.env.HOME).toBeDefined();
    expect(report.env.USER).toBe(RUN_AS);
    // The sh of the attempt is its own; every root process above it keeps its environment to itself.
    const rootAncestors = report.ancestors.filter((a) => a.uid === 0);
    expect(rootAncestors.length).toBeGreaterThan(0);
    for (const a of rootAncestors) expect(a.environ).toBe('EACCES');
    expect(report.secretsFolder).toBe('EACCES');
    // Its input is readable; the worker's files are neither writable nor replaceable (sticky folder).
    expect(report.attempt.readInput).toBe('done');
    expect(report.attempt.writeInput).toBe('EACCES');
    expect(report.attempt.removeLog).toBe('EPERM');
    expect(report.attempt.replacePid).toBe('EPERM');
    // Its folder: writable by the function's group, closed to everyone else.
    const st = statSync(attemptDir(w.dataDir, executionId, 1));
    expect(st.uid).toBe(0);
    expect(st.gid).toBe(user.gid);
    expect((st.mode & 0o7777).toString(8)).toBe('1770');
  });

  it('a warm replica finds nothing either', async () => {
    const w = byUser();
    const spec = probe({
      execution: { mode: 'warm', timeout: '30s', retry: { maxAttempts: 1 } },
      warm: { minReplicas: 1, maxReplicas: 1 },
    });
    const { result } = await run(w, spec);
    expect(result.status, `${visible(result)}\n${w.stderr}`).toBe('succeeded');
    const report = result.output as Report;
    expect(report.uid).toBe(user.uid);
    expect(visible(result)).not.toContain(CANARY);
    for (const a of report.ancestors.filter((x) => x.uid === 0)) expect(a.environ).toBe('EACCES');
  });
});

describe('one rule for every way a variable reaches a function, whoever it runs as', () => {
  for (const [who, worker] of [
    ['as another user', byUser],
    ['as root', byRoot],
  ] as const) {
    it(`${who}: the worker's environment passes on no credential, on demand and warm`, async () => {
      const onDemand = (await run(worker(), probe())).result;
      const warm = (
        await run(
          worker(),
          probe({
            execution: { mode: 'warm', timeout: '30s', retry: { maxAttempts: 1 } },
            warm: { minReplicas: 1, maxReplicas: 1 },
          }),
        )
      ).result;
      for (const r of [onDemand, warm]) {
        expect(r.status, `${visibleButProc(r)}\n${worker().stderr}`).toBe('succeeded');
        const env = (r.output as Report).env;
        expect(JSON.stringify(env)).not.toContain(CANARY);
        for (const name of Object.keys(WORKER_CREDENTIALS)) expect(env[name]).toBeUndefined();
        // What is not a credential still reaches it.
        expect(env.PATH).toBe(process.env.PATH);
      }
    });

    it(`${who}: secretRef reads the secrets folder, never the worker's variable of that name`, async () => {
      const found = await run(
        worker(),
        probe({ env: [{ name: 'DB_PASSWORD', secretRef: { name: 'db', key: 'password' } }] }),
      );
      expect(found.result.status, visible(found.result)).toBe('succeeded');
      expect((found.result.output as Report).env.DB_PASSWORD).toBe(SECRET_FROM_FOLDER);
      expect(visibleButProc(found.result)).not.toContain(CANARY);

      // A Secret the folder does not hold: the attempt does not start; the worker's GITHUB_TOKEN stays its own.
      const missing = await run(
        worker(),
        probe({ env: [{ name: 'GITHUB_TOKEN', secretRef: { name: 'github', key: 'token' } }] }),
      );
      expect(missing.result.status).toBe('failed');
      expect(missing.result.attempts[0]!.failure).toMatchObject({ type: 'LaunchFailed' });
      expect(missing.result.attempts[0]!.failure!.message).toBe(
        `spec.env[0] (GITHUB_TOKEN): no secret file ${path.join(secretsDir, 'github', 'token')} (the local runtime reads secretRef from PONTOON_LOCAL_SECRETS_DIR/<name>/<key>, never from its own environment)`,
      );
      expect(visible(missing.result)).not.toContain(CANARY);

      // A name that would leave the folder is not a Secret name.
      const outside = await run(
        worker(),
        probe({ env: [{ name: 'X', secretRef: { name: '../../etc', key: 'passwd' } }] }),
      );
      expect(outside.result.attempts[0]!.failure!.message).toContain('is not a Secret name');
    });

    it(`${who}: an output.json linked to the worker's /proc environ is not followed`, async () => {
      const { result } = await run(worker(), probe(), { mode: 'link-output' });
      expect(result.status).toBe('failed');
      expect(result.attempts[0]!.failure).toMatchObject({
        type: 'OutputInvalid',
        message: 'output.json is a symbolic link, which is not followed; write a regular file',
      });
      expect(visible(result)).not.toContain(CANARY);
    });
  }

  it('as root: the function can read the worker’s /proc environ (positive control: what a separate user prevents)', async () => {
    const w = byRoot();
    const { result, executionId } = await run(w, probe());
    expect(result.status, visible(result)).toBe('succeeded');
    const report = result.output as Report;
    expect(report.uid).toBe(0);
    const leaked = report.ancestors.some(
      (a) => Array.isArray(a.environ) && a.environ.some((kv) => kv.includes(CANARY)),
    );
    expect(leaked).toBe(true);
    // Its folder is the worker's user's alone.
    const st = statSync(attemptDir(w.dataDir, executionId, 1));
    expect((st.mode & 0o7777).toString(8)).toBe('700');
  });
});

describe('PONTOON_LOCAL_RUN_AS settings', () => {
  it('refuses an unknown user, root, and a worker that is not root, each saying what to do', () => {
    expect(() => resolveRunAs('no-such-user-pontoon')).toThrow(
      /PONTOON_LOCAL_RUN_AS=no-such-user-pontoon: no such user; create one with `useradd --system/,
    );
    expect(() => resolveRunAs('root')).toThrow(/is root: name an unprivileged user/);
    expect(() => resolveRunAs(RUN_AS, 1000)).toThrow(
      /only a worker running as root can start functions as another user \(this one runs as uid 1000\)/,
    );
    expect(resolveRunAs(RUN_AS)).toMatchObject({ name: RUN_AS, uid: user.uid, gid: user.gid });
    expect(resolveRunAs(`${user.uid}:${user.gid}`)).toMatchObject({ name: RUN_AS, uid: user.uid });
  });

  it('refuses a data folder the user cannot reach, at start', () => {
    const closed = mkdtempSync(path.join(os.tmpdir(), 'pontoon-closed-'));
    try {
      chmodSync(closed, 0o700);
      expect(() =>
        createLocalRuntime(
          { dataDir: path.join(closed, 'data'), localRoot: REPO_ROOT, killGraceMs: 1000, runAs: RUN_AS },
          createLogger('silent'),
        ),
      ).toThrow(LocalRunAsError);
      expect(() =>
        createLocalRuntime(
          { dataDir: path.join(closed, 'data'), localRoot: REPO_ROOT, killGraceMs: 1000, runAs: RUN_AS },
          createLogger('silent'),
        ),
      ).toThrow(
        `cannot reach PONTOON_DATA_DIR ${path.join(closed, 'data')} (${closed} is mode 0700, owner 0:0)`,
      );
    } finally {
      rmSync(closed, { recursive: true, force: true });
    }
  });

  it("the reap after a lost worker kills only process groups the worker recorded itself, and only an attempt's own", async () => {
    const dataDir = path.join(root, 'reap');
    mkdirSync(dataDir, { recursive: true });
    const runtime = createLocalRuntime(
      { dataDir, localRoot: REPO_ROOT, killGraceMs: 1000, runAs: RUN_AS },
      createLogger('silent'),
    );
    // A process group of our own, named in a pid file the function's user made in its folder.
    const victim = spawn('sleep', ['60'], { detached: true, stdio: 'ignore' });
    try {
      const dir = attemptDir(dataDir, 'exec:forged:1', 1);
      mkdirSync(dir, { recursive: true });
      writeFileSync(path.join(dir, 'pid'), String(victim.pid));
      chownSync(path.join(dir, 'pid'), user.uid, user.gid);
      expect(await runtime.reapExecution('exec:forged:1')).toBe(0);
      expect(pidAlive(victim.pid!)).toBe(true);
      // Written by the worker's user but naming a process that is not this attempt's sh (a pid reused,
      // or a file left from before a reboot): left alone too.
      chownSync(path.join(dir, 'pid'), 0, 0);
      expect(await runtime.reapExecution('exec:forged:1')).toBe(0);
      expect(pidAlive(victim.pid!)).toBe(true);
      // The attempt's own sh (argv: -c <script> pontoon-attempt <exit file>), recorded by the worker: reaped.
      const attempt = spawn(
        '/bin/sh',
        ['-c', 'sleep 60; :', 'pontoon-attempt', path.join(dir, '.pontoon-exit')],
        {
          detached: true,
          stdio: 'ignore',
        },
      );
      try {
        writeFileSync(path.join(dir, 'pid'), String(attempt.pid));
        expect(await runtime.reapExecution('exec:forged:1')).toBe(1);
        await waitFor('the recorded group to be gone', () => !pidAlive(attempt.pid!) || undefined, 5_000);
        expect(pidAlive(victim.pid!)).toBe(true);
      } finally {
        attempt.kill('SIGKILL');
      }
    } finally {
      victim.kill('SIGKILL');
      await runtime.close?.();
    }
  });
});
