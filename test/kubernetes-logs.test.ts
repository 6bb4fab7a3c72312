/**
 * Durable attempt logs on the real apiserver + kwok (which serves each pod's log from a file named
 * by a kwok Logs object: simPodLog) with real workers and real API servers: a finished attempt's log
 * comes from its log Secret after the pod is gone, from either of two API replicas and through the
 * CLI; the size cap keeps the end behind a marker; the retention sweep deletes expired logs only;
 * `pontoon logs` looks the same on the local runtime; 4 apiserver requests per execution; every
 * worker log line of an execution names it.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { Writable } from 'node:stream';
import { promisify } from 'node:util';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApi } from '../api/main.ts';
import type { ExecutionResult } from '../core/execution.ts';
import { Label } from '../core/names.ts';
import { freePort } from '../dev/temporal.ts';
import { attemptPodName } from '../kube/names.ts';
import { createLogSource } from '../logs/index.ts';
import { createSecretLogStore, LogLabel, logSecretName } from '../logs/secret.ts';
import { TRUNCATION_MARKER } from '../logs/store.ts';
import { createLogger } from '../platform/logger.ts';
import { createPontoonWorker, type PontoonWorker } from '../worker/worker.ts';
import {
  apply,
  fixtureSpec,
  REPO_ROOT,
  type RunningWorker,
  startWorker,
  uniqueName,
  waitFor,
} from './helpers.ts';
import {
  coreApi,
  createNamespace,
  type KubeWorker,
  kubeSpec,
  kubeTestConfig,
  podsOf,
  simPodLog,
  simReport,
  startKubeWorker,
} from './kube-helpers.ts';

const run = promisify(execFile);
const MAX_BYTES = 4096;

let ns: Awaited<ReturnType<typeof createNamespace>>;
let logsNs: Awaited<ReturnType<typeof createNamespace>>;
let w1: KubeWorker;
let w2: KubeWorker;
let local: RunningWorker;
type Api = Awaited<ReturnType<typeof startApi>>;
let api1: Api;
let api2: Api;
let localApi: Api;

async function serve(w: RunningWorker): Promise<Api> {
  const logger = createLogger('silent');
  return startApi({
    api: { host: '127.0.0.1', port: await freePort(), auth: { mode: 'open' } },
    logger,
    client: w.client,
    taskQueue: w.config.taskQueue,
    dataDir: w.config.dataDir,
    logs: createLogSource(w.config, logger),
  });
}

beforeAll(async () => {
  ns = await createNamespace('pontoon-logs');
  logsNs = await createNamespace('pontoon-logstore');
  const overrides = { PONTOON_LOG_NAMESPACE: logsNs.name, PONTOON_LOG_MAX_BYTES: String(MAX_BYTES) };
  w1 = await startKubeWorker(ns.name, overrides);
  // A second replica on the same task queue: attempts land on either.
  w2 = (await startWorker(
    kubeTestConfig(ns.name, { ...overrides, PONTOON_TASK_QUEUE: w1.config.taskQueue }),
  )) as KubeWorker;
  local = await startWorker();
  [api1, api2, localApi] = await Promise.all([serve(w1), serve(w2), serve(local)]);
});
afterAll(async () => {
  await Promise.all([api1?.close(), api2?.close(), localApi?.close()]);
  await Promise.all([w1?.stop(), w2?.stop(), local?.stop()]);
  await ns?.remove();
  await logsNs?.remove();
});

async function execute(spec: ReturnType<typeof kubeSpec>, podLog?: string) {
  const id = `k8s-${spec.metadata.name}`;
  if (podLog !== undefined) await simPodLog(ns.name, attemptPodName(spec.metadata.name, id, 1), podLog);
  await apply(w1.client, spec, w1.config.taskQueue);
  const handle = await w1.client.workflow.start('executeFunction', {
    taskQueue: w1.config.taskQueue,
    workflowId: id,
    args: [{ function: spec.metadata.name }],
  });
  const result = (await handle.result()) as ExecutionResult;
  return { id, result };
}

async function noPodsLeft(fn: string) {
  await waitFor('the pods gone', async () => (await podsOf(ns.name, fn)).length === 0 || undefined, 15_000);
}

async function getLog(api: Api, id: string, attempt = 1) {
  const res = await fetch(`${api.url}/v1/executions/${encodeURIComponent(id)}/logs?attempt=${attempt}`);
  return {
    status: res.status,
    body: await res.text(),
    headers: {
      contentType: res.headers.get('content-type'),
      attempt: res.headers.get('x-pontoon-attempt'),
      source: res.headers.get('x-pontoon-log-source'),
      truncated: res.headers.get('x-pontoon-log-truncated'),
    },
  };
}

async function pontoonLogs(api: Api, id: string, attempt = 1) {
  try {
    const { stdout } = await run(
      process.execPath,
      [path.join(REPO_ROOT, 'bin', 'pontoon.mjs'), 'logs', id, '--attempt', String(attempt)],
      { cwd: REPO_ROOT, env: { ...process.env, PONTOON_API: api.url } },
    );
    return { code: 0, stdout };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('attempt logs on kubernetes', () => {
  it('serves a finished attempt’s log from its Secret after the pod is gone, from any API replica and the CLI', async () => {
    const name = uniqueName('k-log');
    const text = 'hello from the pod\nsecond line: done\n';
    const { id, result } = await execute(
      kubeSpec(name, { duration: '300ms', 'termination-message': simReport({ ok: 1 }) }),
      text,
    );
    expect(result.status).toBe('succeeded');
    expect(result.attempts[0]!.logTail).toBe(text);
    await noPodsLeft(name);

    for (const api of [api1, api2]) {
      const got = await getLog(api, id);
      expect(got).toEqual({
        status: 200,
        body: text,
        headers: {
          contentType: 'text/plain; charset=utf-8',
          attempt: '1',
          source: 'stored',
          truncated: 'false',
        },
      });
    }
    expect(await pontoonLogs(api2, id)).toEqual({ code: 0, stdout: text });

    const secret = await coreApi().readNamespacedSecret({
      name: logSecretName(id, 1),
      namespace: logsNs.name,
    });
    expect(secret.type).toBe('pontoon.dev/attempt-log');
    expect(secret.immutable).toBe(true);
    expect(secret.metadata?.labels).toMatchObject({
      [Label.function]: name,
      [Label.attempt]: '1',
      [Label.managedBy]: 'pontoon',
      [LogLabel.component]: 'attempt-log',
      [LogLabel.expiresDay]: expect.stringMatching(/^\d{8}$/),
      [LogLabel.expiresHour]: expect.stringMatching(/^\d{10}$/),
    });
    // Nothing of the log in another Secret of the pods' namespace.
    const inPodsNs = await coreApi().listNamespacedSecret({
      namespace: ns.name,
      labelSelector: `${LogLabel.component}=attempt-log`,
    });
    expect(inPodsNs.items).toEqual([]);
  });

  it('keeps the end of a log longer than PONTOON_LOG_MAX_BYTES behind a truncation marker', async () => {
    const name = uniqueName('k-biglog');
    const lines = Array.from(
      { length: 400 },
      (_, i) => `line ${String(i).padStart(4, '0')} ${'x'.repeat(30)}`,
    );
    const { id, result } = await execute(
      kubeSpec(name, { duration: '200ms', 'termination-message': simReport(null) }),
      `${lines.join('\n')}\n`,
    );
    expect(result.status).toBe('succeeded');
    expect(result.attempts[0]!.logTail.endsWith(`${lines.at(-1)}\n`)).toBe(true);
    await noPodsLeft(name);
    const got = await getLog(api1, id);
    expect(got.status).toBe(200);
    expect(got.headers.truncated).toBe('true');
    expect(Buffer.byteLength(got.body)).toBeLessThanOrEqual(MAX_BYTES);
    const [first, ...rest] = got.body.split('\n');
    expect(first).toMatch(
      new RegExp(
        `^${TRUNCATION_MARKER.replace(/[[\]]/g, '\\$&')} earlier output was dropped; the last \\d+ bytes are kept \\(limit ${MAX_BYTES} bytes, PONTOON_LOG_MAX_BYTES\\)$`,
      ),
    );
    // Whole lines, in order, up to the very last one.
    expect(rest.join('\n')).toBe(`${lines.slice(lines.length - (rest.length - 1)).join('\n')}\n`);
    expect(rest.length - 1).toBeGreaterThan(50);
  });

  it('stores why there is no log when the pod never ran, and the pod log read failing does not fail the attempt', async () => {
    const name = uniqueName('k-nolog');
    const { id, result } = await execute(
      kubeSpec(name, { duration: '200ms', 'termination-message': simReport('no log object') }),
    );
    expect(result.status).toBe('succeeded'); // kwok has no Logs object for it: pods/log fails
    await noPodsLeft(name);
    const got = await getLog(api2, id);
    expect(got.status).toBe(200);
    expect(got.body).toMatch(
      /^\[pontoon\] the function container's log could not be read \(pods\/log: .*no logs found/,
    );
  });

  it('stores a small log and record (compressed inline) and a large one (on the thread pool) alike', async () => {
    const store = createSecretLogStore({
      core: coreApi(),
      namespace: logsNs.name,
      logger: createLogger('silent'),
      maxBytes: 512 * 1024,
      retentionMs: 60_000,
    });
    const small = { executionId: `exec:gz:${uniqueName('s')}`, function: 'gz', attempt: 1 };
    const large = { executionId: `exec:gz:${uniqueName('l')}`, function: 'gz', attempt: 1 };
    // Above logs/secret.ts's 64 KiB inline limit, and hard to compress (so it stays large).
    const big = Array.from(
      { length: 8000 },
      (_, i) => `${i} ${((i * 2654435761) >>> 0).toString(36)}\n`,
    ).join('');
    expect(Buffer.byteLength(big)).toBeGreaterThan(64 * 1024);
    const at = new Date().toISOString();
    const outcome = (output: unknown) => ({ exitCode: 0, output, startedAt: at, endedAt: at, logTail: '' });
    await store.put(small, 'a short log\n', { record: { outcome: outcome(1) } });
    await store.put(large, big, { record: { outcome: outcome({ text: big }) } });
    expect((await store.get(small))?.body.toString()).toBe('a short log\n');
    expect((await store.get(large))?.body.toString()).toBe(big);
    expect((await store.getRecord(small))?.outcome).toEqual(outcome(1));
    expect((await store.getRecord(large))?.outcome).toEqual(outcome({ text: big }));
  });

  it('the retention sweep deletes logs whose retention has passed, and only those', async () => {
    const logger = createLogger('silent');
    const core = coreApi();
    const short = createSecretLogStore({
      core,
      namespace: logsNs.name,
      logger,
      maxBytes: 1024,
      retentionMs: 60_000,
    });
    const long = createSecretLogStore({
      core,
      namespace: logsNs.name,
      logger,
      maxBytes: 1024,
      retentionMs: 48 * 3600_000,
    });
    const a = { executionId: `exec:sweep:${uniqueName('a')}`, function: 'sweep', attempt: 1 };
    const b = { executionId: `exec:sweep:${uniqueName('b')}`, function: 'sweep', attempt: 1 };
    await short.put(a, 'expires in a minute\n');
    await long.put(b, 'kept for two days\n');
    await short.put(a, 'a second put keeps the first\n');
    expect((await short.get(a))?.body.toString()).toBe('expires in a minute\n');

    await short.sweep(Date.now()); // nothing has expired yet
    expect(await short.get(a)).toBeDefined();
    // Two hours on: a's hour has passed, b has 46 hours to go.
    await short.sweep(Date.now() + 2 * 3600_000);
    expect(await short.get(a)).toBeUndefined();
    expect((await long.get(b))?.body.toString()).toBe('kept for two days\n');
    // Three days on: b goes too, and so do the logs the workers stored above (PONTOON_LOG_RETENTION 1d).
    await long.sweep(Date.now() + 3 * 24 * 3600_000);
    expect(await long.get(b)).toBeUndefined();
    const left = await core.listNamespacedSecret({
      namespace: logsNs.name,
      labelSelector: `${LogLabel.component}=attempt-log`,
    });
    expect(left.items).toEqual([]);
  });

  it('`pontoon logs` prints the same on the local runtime as on kubernetes', async () => {
    const text = 'behave mode=ok attempt=1\n';
    const kname = uniqueName('k-same');
    const k = await execute(
      kubeSpec(kname, { duration: '200ms', 'termination-message': simReport(null) }),
      text,
    );
    const lname = uniqueName('l-same');
    await apply(local.client, fixtureSpec(lname, 'behave.mjs'), local.config.taskQueue);
    const lid = `local-${lname}`;
    await local.client.workflow.execute('executeFunction', {
      taskQueue: local.config.taskQueue,
      workflowId: lid,
      args: [{ function: lname }],
    });
    await noPodsLeft(kname);

    const [kLog, lLog] = await Promise.all([getLog(api1, k.id), getLog(localApi, lid)]);
    expect(kLog).toEqual(lLog);
    expect(kLog.body).toBe(text);
    const [kCli, lCli] = await Promise.all([pontoonLogs(api1, k.id), pontoonLogs(localApi, lid)]);
    expect(kCli).toEqual(lCli);
    expect(kCli).toEqual({ code: 0, stdout: text });
    // The same answer for an attempt that never ran.
    const [kMissing, lMissing] = await Promise.all([getLog(api1, k.id, 5), getLog(localApi, lid, 5)]);
    expect(kMissing.status).toBe(404);
    expect(JSON.parse(kMissing.body).code).toBe('attempt_not_found');
    expect(JSON.parse(lMissing.body).code).toBe(JSON.parse(kMissing.body).code);
  });

  it('makes 4 apiserver requests per execution: create, pods/log, the log Secret, delete', async () => {
    const name = uniqueName('k-count');
    const spec = kubeSpec(name, { duration: '100ms', 'termination-message': simReport({ n: 1 }) });
    await apply(w1.client, spec, w1.config.taskQueue);
    const snap = () => {
      const a = w1.runtime.requests.snapshot();
      const b = w2.runtime.requests.snapshot();
      return Object.fromEntries(
        Object.keys(a).map((k) => [k, a[k as keyof typeof a] + b[k as keyof typeof b]]),
      );
    };
    const before = snap();
    const n = 6;
    for (let i = 0; i < n; i++) {
      const id = `k8s-${name}-${i}`;
      await simPodLog(ns.name, attemptPodName(name, id, 1), `run ${i}\n`);
      await w1.client.workflow.execute('executeFunction', {
        taskQueue: w1.config.taskQueue,
        workflowId: id,
        args: [{ function: name }],
      });
    }
    await noPodsLeft(name);
    // The last log Secret is written in the background, right before the last pod's deletion.
    await waitFor(
      'every log stored',
      async () => snap()['log-store']! - before['log-store']! === n || undefined,
    );
    const after = snap();
    const delta = Object.fromEntries(Object.keys(after).map((k) => [k, after[k]! - before[k]!]));
    console.log(
      `[k8s logs] ${n} executions: apiserver requests ${JSON.stringify(delta)} = ${(delta.total! / n).toFixed(2)} per execution`,
    );
    expect(delta).toMatchObject({ create: n, log: n, 'log-store': n, delete: n, get: 0 });
    // Six executions one after another, each waiting for kwok to serve its log (simPodLog).
  }, 180_000);

  it('every worker log line of an execution carries its execution id, function and attempt', async () => {
    const lines: Record<string, unknown>[] = [];
    const sink = new Writable({
      write(chunk, _enc, done) {
        for (const l of String(chunk).split('\n')) if (l.trim()) lines.push(JSON.parse(l));
        done();
      },
    });
    const config = kubeTestConfig(ns.name, {
      PONTOON_LOG_NAMESPACE: logsNs.name,
      PONTOON_LOG_LEVEL: 'debug',
    });
    const logger = pino({ level: 'debug' }, sink);
    const w: PontoonWorker = await createPontoonWorker({
      config,
      logger,
      workflowBundle: { codePath: (await import('vitest')).inject('workflowBundlePath') },
    });
    const running = w.worker.run();
    try {
      const name = uniqueName('k-fields');
      const id = `k8s-${name}`;
      await simPodLog(ns.name, attemptPodName(name, id, 1), 'a line\n');
      await apply(
        w.client,
        kubeSpec(name, { duration: '100ms', 'termination-message': simReport(1) }),
        config.taskQueue,
      );
      await w.client.workflow.execute('executeFunction', {
        taskQueue: config.taskQueue,
        workflowId: id,
        args: [{ function: name }],
      });
      await noPodsLeft(name);
      const pod = attemptPodName(name, id, 1);
      const mine = lines.filter((l) => l.executionId === id || l.workflowId === id || l.pod === pod);
      expect(mine.length).toBeGreaterThanOrEqual(2);
      for (const l of mine) expect([l.msg, l.executionId, l.function]).toEqual([l.msg, id, name]);
      // Lines of the attempt (the runtime's and the runAttempt activity's) name the attempt.
      const ofAttempt = mine.filter((l) => l.pod === pod || l.activityId === 'attempt-1');
      expect(ofAttempt.map((l) => l.msg)).toEqual(
        expect.arrayContaining(['attempt pod created', 'attempt ended']),
      );
      for (const l of ofAttempt) expect([l.msg, l.attempt]).toEqual([l.msg, 1]);
    } finally {
      w.worker.shutdown();
      await running;
      await w.client.connection.close();
      await w.connection.close();
    }
  });
});
