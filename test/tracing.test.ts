/**
 * Traces: one execution started through the API, run by a real worker (workflow bundle built with
 * the OpenTelemetry workflow interceptors) on the real Temporal dev server, exported to an
 * in-memory exporter; the test checks the span tree from the HTTP request through the workflow to
 * its activities. Plus: the OTLP/HTTP exporter sends to OTEL_EXPORTER_OTLP_ENDPOINT.
 */
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApi } from '../api/app.ts';
import { createLogger, installTemporalRuntime } from '../platform/logger.ts';
import { createTracing, type Tracing } from '../platform/tracing.ts';
import { bundleWorkflows, createPontoonWorker, type PontoonWorker } from '../worker/worker.ts';
import { apply, fixtureSpec, testConfig, uniqueName, waitFor } from './helpers.ts';
import { findSpan, spanTree, startReceiver } from './ops-helpers.ts';

const config = testConfig();
const logger = createLogger(config.logLevel);
const exporter = new InMemorySpanExporter();
let tracing: Tracing;
let w: PontoonWorker;
let running: Promise<void>;
let app: FastifyInstance;

beforeAll(async () => {
  installTemporalRuntime(logger);
  tracing = createTracing({ serviceName: 'pontoon-test', exporter, simple: true });
  w = await createPontoonWorker({
    config,
    logger,
    tracing,
    workflowBundle: await bundleWorkflows(logger, { tracing: true }),
  });
  running = w.worker.run();
  app = await buildApi({
    client: w.client,
    logger: createLogger('silent'),
    taskQueue: config.taskQueue,
    dataDir: config.dataDir,
    auth: { mode: 'open' },
    tracer: tracing.tracer,
  });
});
afterAll(async () => {
  await app?.close();
  if (w?.worker.getState() === 'RUNNING') w.worker.shutdown();
  await running;
  await w?.client.connection.close();
  await w?.connection.close();
  await tracing?.shutdown();
});

const tree = spanTree;
const find = findSpan;

describe('traces', () => {
  it('one trace runs from the API request through the workflow to every activity', async () => {
    const spec = fixtureSpec(uniqueName('traced'), 'behave.mjs', {
      parameters: [
        { name: 'mode', default: 'fail-until' },
        { name: 'until', type: 'integer', default: 2 },
      ],
      execution: { retry: { maxAttempts: 2, initialInterval: '1s' } },
    });
    await apply(w.client, spec, config.taskQueue);
    const res = await app.inject({
      method: 'POST',
      url: `/v1/functions/${spec.metadata.name}/invocations?wait=30`,
      headers: { 'content-type': 'application/json' },
      payload: '{}',
    });
    expect(res.statusCode).toBe(200);
    const executionId = res.json().executionId as string;

    // Workflow spans leave the sandbox through the sink when the workflow task completes.
    const spans = await waitFor('the RunWorkflow span', () => {
      const all = exporter.getFinishedSpans();
      return all.some((s) => s.name === 'RunWorkflow:executeFunction') ? all : undefined;
    });
    const root = spans.find((s) => s.name === 'POST /v1/functions/:name/invocations');
    expect(root).toBeDefined();
    expect(root!.parentSpanId).toBeUndefined();
    expect(root!.attributes['http.status_code']).toBe(200);
    const traceId = root!.spanContext().traceId;
    const inTrace = spans.filter((s) => s.spanContext().traceId === traceId);
    const t = tree(inTrace, root!);

    // The execution's part of the trace, exactly: start → run → (spec lookup, attempt 1, attempt 2, end).
    // (The execution retried once: two runAttempt activities.)
    const start = find(t, 'StartWorkflow:executeFunction');
    expect(start).toEqual({
      name: 'StartWorkflow:executeFunction',
      children: [
        {
          name: 'RunWorkflow:executeFunction',
          children: [
            {
              name: 'StartActivity:getFunctionSpec',
              children: [
                {
                  // The spec lookup reads the function controller's memo (no query, no workflow task).
                  name: 'RunActivity:getFunctionSpec',
                  children: [{ name: 'DescribeWorkflow', children: [] }],
                },
              ],
            },
            {
              name: 'StartActivity:runAttempt',
              children: [{ name: 'RunActivity:runAttempt', children: [] }],
            },
            {
              name: 'StartActivity:runAttempt',
              children: [{ name: 'RunActivity:runAttempt', children: [] }],
            },
          ],
        },
      ],
    });
    // The request span's children: the spec read (the controller's memo), the start, and the
    // describe after ?wait.
    expect(t.children.map((c) => c.name)).toEqual([
      'DescribeWorkflow',
      'StartWorkflow:executeFunction',
      'DescribeWorkflow',
    ]);
    // Activity spans name their workflow, so a trace finds its execution and back.
    const attempts = inTrace.filter((s) => s.name === 'RunActivity:runAttempt');
    expect(attempts.map((s) => s.attributes.temporalWorkflowId)).toEqual([executionId, executionId]);
    expect(attempts.map((s) => s.attributes.temporalActivityId).sort()).toEqual(['attempt-1', 'attempt-2']);
    // Every span of the trace carries the service name.
    expect(new Set(inTrace.map((s) => s.resource.attributes['service.name']))).toEqual(
      new Set(['pontoon-test']),
    );
  });

  it('exports over OTLP/HTTP to OTEL_EXPORTER_OTLP_ENDPOINT', async () => {
    const receiver = await startReceiver();
    const saved = process.env.OTEL_EXPORTER_OTLP_ENDPOINT;
    process.env.OTEL_EXPORTER_OTLP_ENDPOINT = receiver.url;
    try {
      const otlp = createTracing({ serviceName: 'pontoon-otlp-test' });
      otlp.tracer.startSpan('hello-otlp').end();
      await otlp.forceFlush();
      await otlp.shutdown();
      const got = receiver.on('/v1/traces');
      expect(got).toHaveLength(1);
      expect(got[0]!.method).toBe('POST');
      expect(got[0]!.headers['content-type']).toBe('application/json');
      expect(got[0]!.body).toContain('"hello-otlp"');
      expect(got[0]!.body).toContain('pontoon-otlp-test');
    } finally {
      if (saved === undefined) delete process.env.OTEL_EXPORTER_OTLP_ENDPOINT;
      else process.env.OTEL_EXPORTER_OTLP_ENDPOINT = saved;
      await receiver.close();
    }
  });
});
