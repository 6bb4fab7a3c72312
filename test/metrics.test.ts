/**
 * Prometheus metrics after known executions: a real worker (local runtime) on the real Temporal dev
 * server with its /metrics listener (our series plus the Temporal runtime's own), and the API's
 * /metrics (started executions by trigger, request counters). Values are checked exactly.
 */
import { fileURLToPath } from 'node:url';
import { bundleWorkflowCode, Worker } from '@temporalio/worker';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createActivities } from '../activities/index.ts';
import { buildApi } from '../api/app.ts';
import { newApiKey } from '../api/auth.ts';
import { waitForResult } from '../client/functions.ts';
import { createLogger, installTemporalRuntime } from '../platform/logger.ts';
import { createMetrics, type PontoonMetrics, temporalRuntimeMetrics } from '../platform/metrics.ts';
import { freeLoopbackPort, type MetricsServer, startMetricsServer } from '../worker/metrics-server.ts';
import { createPontoonWorker, type PontoonWorker } from '../worker/worker.ts';
import { admissionQuery, progressQuery } from '../workflows/definitions.ts';
import { apply, fixtureSpec, testConfig, uniqueName, VISIBILITY_WAIT_MS, waitFor } from './helpers.ts';
import { parseMetrics, series } from './ops-helpers.ts';

const config = testConfig();
const logger = createLogger(config.logLevel);
const viewer = newApiKey('prometheus', 'viewer');
const invoker = newApiKey('ci', 'invoker');
let runtimeAddress: string;
let workerMetrics: PontoonMetrics;
let apiMetrics: PontoonMetrics;
let w: PontoonWorker;
let running: Promise<void>;
let server: MetricsServer;
let app: FastifyInstance;

beforeAll(async () => {
  // Before any connection: the Temporal runtime serves its metrics on a loopback port.
  runtimeAddress = `127.0.0.1:${await freeLoopbackPort()}`;
  const installed = installTemporalRuntime(logger, { metricsBindAddress: runtimeAddress });
  expect(installed.metricsBindAddress).toBe(runtimeAddress);
  workerMetrics = createMetrics({ processMetrics: true });
  apiMetrics = createMetrics();
  w = await createPontoonWorker({
    config,
    logger,
    metrics: workerMetrics,
    workflowBundle: { codePath: inject('workflowBundlePath') },
  });
  running = w.worker.run();
  server = await startMetricsServer({
    host: '127.0.0.1',
    port: 0,
    metrics: workerMetrics,
    extra: temporalRuntimeMetrics(runtimeAddress),
  });
  app = await buildApi({
    client: w.client,
    logger: createLogger('silent'),
    taskQueue: config.taskQueue,
    dataDir: config.dataDir,
    auth: { mode: 'keys', keys: [viewer.entry, invoker.entry] },
    metrics: apiMetrics,
  });
});
afterAll(async () => {
  await app?.close();
  await server?.close();
  if (w?.worker.getState() === 'RUNNING') w.worker.shutdown();
  await running;
  await w?.client.connection.close();
  await w?.connection.close();
});

async function invoke(name: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await app.inject({
    method: 'POST',
    url: `/v1/functions/${name}/invocations`,
    headers: { 'content-type': 'application/json', authorization: `Bearer ${invoker.token}`, ...headers },
    payload: JSON.stringify(body),
  });
  expect(res.statusCode).toBe(202);
  return res.json() as { executionId: string; created: boolean };
}
async function scrapeWorker() {
  const res = await fetch(`${server.url}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toContain('text/plain');
  return res.text();
}

describe('/metrics', () => {
  it('counts attempts by function, outcome and runtime, and executions started by trigger', async () => {
    const ok = fixtureSpec(uniqueName('m-ok'), 'behave.mjs', {
      parameters: [{ name: 'mode', default: 'ok' }],
    });
    const flaky = fixtureSpec(uniqueName('m-flaky'), 'behave.mjs', {
      parameters: [
        { name: 'mode', default: 'fail-until' },
        { name: 'until', type: 'integer', default: 2 },
        { name: 'code', type: 'integer', default: 1 },
      ],
      execution: {
        retry: { maxAttempts: 3, initialInterval: '1s', nonRetryableExitCodes: [3] },
      },
    });
    await apply(w.client, ok, config.taskQueue);
    await apply(w.client, flaky, config.taskQueue);
    const A = ok.metadata.name;
    const B = flaky.metadata.name;

    const started = [
      await invoke(A, {}),
      await invoke(A, {}),
      await invoke(A, { idempotencyKey: 'k1' }, { 'x-pontoon-client': 'cli' }),
      await invoke(B, {}), // FunctionExit on attempt 1, succeeds on attempt 2
      await invoke(B, { parameters: { mode: 'fail', code: 3 } }), // FunctionExitNonRetryable
    ];
    // The same idempotency key again: the same execution, not counted twice.
    const again = await invoke(A, { idempotencyKey: 'k1' }, { 'x-pontoon-client': 'cli' });
    expect(again).toMatchObject({ executionId: started[2]!.executionId, created: false });
    const results = await Promise.all(started.map((s) => waitForResult(w.client, s.executionId)));
    expect(results.map((r) => r.status)).toEqual([
      'succeeded',
      'succeeded',
      'succeeded',
      'succeeded',
      'failed',
    ]);

    const m = parseMetrics(await scrapeWorker());
    const local = { runtime: 'local' };
    expect(m.get(series('pontoon_attempts_started_total', { function: A, ...local }))).toBe(3);
    expect(m.get(series('pontoon_attempts_started_total', { function: B, ...local }))).toBe(3);
    const finished = (fn: string, outcome: string) =>
      m.get(series('pontoon_attempts_finished_total', { function: fn, outcome, ...local }));
    expect(finished(A, 'succeeded')).toBe(3);
    expect(finished(B, 'succeeded')).toBe(1);
    expect(finished(B, 'FunctionExit')).toBe(1);
    expect(finished(B, 'FunctionExitNonRetryable')).toBe(1);
    // Exactly these series and no others (no cancelled, no error outcomes).
    const ours = [...m.keys()].filter(
      (k) => k.startsWith('pontoon_attempts_finished_total{') && (k.includes(A) || k.includes(B)),
    );
    expect(ours).toHaveLength(4);
    // Histogram: one observation per attempt, a plausible sum, cumulative buckets, +Inf = count.
    const hist = (suffix: string, extra: Record<string, string> = {}) =>
      m.get(
        series(`pontoon_attempt_duration_seconds_${suffix}`, {
          function: A,
          outcome: 'succeeded',
          ...local,
          ...extra,
        }),
      );
    expect(hist('count')).toBe(3);
    expect(hist('bucket', { le: '+Inf' })).toBe(3);
    expect(hist('sum')).toBeGreaterThan(0);
    expect(hist('sum')).toBeLessThan(30);
    expect(hist('bucket', { le: '0.1' })).toBeLessThanOrEqual(hist('bucket', { le: '30' })!);
    // Execution ends, by trigger and status: counted through the executionMetrics sink (these
    // executions have the execution-end-sink patch), once each, by the time their results are in.
    const ended = (fn: string, trigger: string, status: string) =>
      m.get(series('pontoon_executions_finished_total', { function: fn, trigger, status }));
    expect(ended(A, 'api', 'succeeded')).toBe(2);
    expect(ended(A, 'cli', 'succeeded')).toBe(1);
    expect(ended(B, 'api', 'succeeded')).toBe(1);
    expect(ended(B, 'api', 'failed')).toBe(1);
    expect(
      [...m.keys()].filter(
        (k) => k.startsWith('pontoon_executions_finished_total{') && (k.includes(A) || k.includes(B)),
      ),
    ).toHaveLength(4);
    // A query of a finished execution replays its whole history on this live worker (finished
    // runs leave its cache): the end is not counted again.
    for (const { executionId } of started) {
      expect((await w.client.workflow.getHandle(executionId).query(progressQuery)).phase).toMatch(
        /^(succeeded|failed)$/,
      );
    }
    const replayed = parseMetrics(await scrapeWorker());
    expect(
      replayed.get(
        series('pontoon_executions_finished_total', { function: A, trigger: 'api', status: 'succeeded' }),
      ),
    ).toBe(2);
    expect(
      replayed.get(
        series('pontoon_executions_finished_total', { function: B, trigger: 'api', status: 'failed' }),
      ),
    ).toBe(1);
    expect(
      m.get(
        series('pontoon_execution_duration_seconds_count', {
          function: A,
          trigger: 'api',
          status: 'succeeded',
        }),
      ),
    ).toBe(2);
    // Node process series are there too.
    expect(m.get('process_cpu_user_seconds_total')).toBeGreaterThan(0);

    // The Temporal SDK runtime's own series, appended to ours, with Prometheus naming.
    const q = { namespace: 'default', task_queue: config.taskQueue };
    const temporalKeys = [...m.keys()].filter((k) => k.startsWith('temporal_'));
    expect(temporalKeys.length).toBeGreaterThan(10);
    const completed = temporalKeys.filter(
      (k) =>
        k.startsWith('temporal_workflow_completed_total{') &&
        k.includes('workflow_type="executeFunction"') &&
        k.includes(`task_queue="${q.task_queue}"`),
    );
    expect(completed.map((k) => m.get(k)).reduce((a, b) => a! + b!, 0)).toBe(4);
    const failed = temporalKeys.filter(
      (k) =>
        k.startsWith('temporal_workflow_failed_total{') &&
        k.includes('workflow_type="executeFunction"') &&
        k.includes(`task_queue="${q.task_queue}"`),
    );
    expect(failed.map((k) => m.get(k)).reduce((a, b) => a! + b!, 0)).toBe(1);
    expect(
      temporalKeys.some((k) => k.startsWith('temporal_activity_execution_latency_seconds_bucket{')),
    ).toBe(true);

    // The API: executions it started, by function and trigger; requests by route template.
    const unauth = await app.inject({ method: 'GET', url: '/metrics' });
    expect(unauth.statusCode).toBe(401);
    const res = await app.inject({
      method: 'GET',
      url: '/metrics',
      headers: { authorization: `Bearer ${viewer.token}` },
    });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toContain('text/plain; version=0.0.4');
    const api = parseMetrics(res.body);
    const startedBy = (fn: string, trigger: string) =>
      api.get(series('pontoon_executions_started_total', { function: fn, trigger }));
    expect(startedBy(A, 'api')).toBe(2);
    expect(startedBy(A, 'cli')).toBe(1);
    expect(startedBy(B, 'api')).toBe(2);
    expect(
      api.get(
        series('pontoon_api_requests_total', {
          method: 'POST',
          route: '/v1/functions/:name/invocations',
          status_code: '202',
        }),
      ),
    ).toBe(6);
    expect(
      api.get(series('pontoon_api_requests_total', { method: 'GET', route: '/metrics', status_code: '401' })),
    ).toBe(1);
    expect(
      api.get(
        series('pontoon_api_request_duration_seconds_count', {
          method: 'POST',
          route: '/v1/functions/:name/invocations',
        }),
      ),
    ).toBe(6);
  });

  it('counts execution ends through recordExecutionEnd, the local activity of executions from before the execution-end-sink patch', async () => {
    const queue = `${config.taskQueue}-probe`;
    const probeWorker = await Worker.create({
      connection: w.connection,
      taskQueue: queue,
      workflowBundle: await bundleWorkflowCode({
        workflowsPath: fileURLToPath(new URL('./workflows/metrics-probe.ts', import.meta.url)),
        logger: { trace() {}, debug() {}, info() {}, warn() {}, error() {}, log() {} },
      }),
      activities: createActivities({
        client: w.client,
        logger,
        runtime: w.runtime,
        taskQueue: queue,
        metrics: workerMetrics,
      }),
    });
    const fn = uniqueName('m-end');
    await probeWorker.runUntil(
      w.client.workflow.execute('recordEndProbe', {
        taskQueue: queue,
        workflowId: uniqueName('probe'),
        args: [
          [
            { function: fn, trigger: 'api', status: 'succeeded', durationMs: 1500 },
            { function: fn, trigger: 'api', status: 'succeeded', durationMs: 500 },
            { function: fn, trigger: 'nightly', status: 'failed', durationMs: 70_000 },
            { function: fn, trigger: 'cli', status: 'cancelled', durationMs: 10 },
          ],
        ],
      }),
    );
    const m = parseMetrics(await scrapeWorker());
    const s = (name: string, labels: Record<string, string>) =>
      m.get(series(name, { function: fn, ...labels }));
    expect(s('pontoon_executions_finished_total', { trigger: 'api', status: 'succeeded' })).toBe(2);
    expect(s('pontoon_executions_finished_total', { trigger: 'nightly', status: 'failed' })).toBe(1);
    expect(s('pontoon_executions_finished_total', { trigger: 'cli', status: 'cancelled' })).toBe(1);
    expect(s('pontoon_execution_duration_seconds_sum', { trigger: 'api', status: 'succeeded' })).toBe(2);
    expect(
      s('pontoon_execution_duration_seconds_bucket', { trigger: 'api', status: 'succeeded', le: '1' }),
    ).toBe(1);
    expect(
      s('pontoon_execution_duration_seconds_bucket', { trigger: 'nightly', status: 'failed', le: '60' }),
    ).toBe(0);
    expect(
      s('pontoon_execution_duration_seconds_bucket', { trigger: 'nightly', status: 'failed', le: '120' }),
    ).toBe(1);
  });
  it('shows queue depth and oldest wait per priority and slots in use, from the function controllers', async () => {
    const fn = uniqueName('m-queue');
    await apply(
      w.client,
      fixtureSpec(fn, 'behave.mjs', {
        parameters: [
          { name: 'mode', default: 'marker' },
          { name: 'marker', default: '/dev/null' },
          { name: 'seconds', type: 'number', default: 30 },
        ],
        execution: { concurrency: 1, retry: { maxAttempts: 1 } },
      }),
      config.taskQueue,
    );
    // One holds the slot for 30 s; then two wait at priority 1 and one at priority 5.
    const holder = await invoke(fn, {});
    await waitFor('the slot to be taken', async () => {
      const a = await w.client.workflow.getHandle(`fn:${fn}`).query(admissionQuery);
      return a.running.length === 1;
    });
    const waiting = [
      await invoke(fn, { priority: 1 }),
      await invoke(fn, { priority: 1 }),
      await invoke(fn, { priority: 5 }),
    ];
    await waitFor('three to queue', async () => {
      const a = await w.client.workflow.getHandle(`fn:${fn}`).query(admissionQuery);
      return a.queued.length === 3;
    });
    await new Promise((r) => setTimeout(r, 2100)); // past the collector's 2 s cache
    // The collector finds the controllers through visibility: wait until it lists this one.
    const m = await waitFor(
      "the function's controller in /metrics",
      async () => {
        const res = await app.inject({
          method: 'GET',
          url: '/metrics',
          headers: { authorization: `Bearer ${viewer.token}` },
        });
        const parsed = parseMetrics(res.body);
        return parsed.has(series('pontoon_slots_limit', { function: fn })) ? parsed : undefined;
      },
      VISIBILITY_WAIT_MS,
    );
    const s = (name: string, labels: Record<string, string> = {}) =>
      m.get(series(name, { function: fn, ...labels }));
    expect(s('pontoon_queue_depth', { priority: '1' })).toBe(2);
    expect(s('pontoon_queue_depth', { priority: '3' })).toBe(0);
    expect(s('pontoon_queue_depth', { priority: '5' })).toBe(1);
    expect(s('pontoon_queue_oldest_wait_seconds', { priority: '1' })).toBeGreaterThanOrEqual(1);
    expect(s('pontoon_queue_oldest_wait_seconds', { priority: '2' })).toBe(0);
    expect(s('pontoon_slots_in_use')).toBe(1);
    expect(s('pontoon_slots_limit')).toBe(1);
    for (const e of [holder, ...waiting]) await w.client.workflow.getHandle(e.executionId).cancel();
  });
});
