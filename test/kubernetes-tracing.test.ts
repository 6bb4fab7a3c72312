/**
 * The span tree of tracing.test.ts on the kubernetes runtime: one trace from the API request through
 * the workflow and the runAttempt activity to the attempt's pod (create, pending with its
 * scheduling, running, log collection) and what follows the activity (log store, pod deletion), on
 * the real apiserver + kwok with a real worker whose workflow bundle holds the tracing interceptors.
 */
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApi } from '../api/app.ts';
import { executionWorkflowId } from '../core/names.ts';
import { attemptPodName } from '../kube/names.ts';
import { createLogger, installTemporalRuntime } from '../platform/logger.ts';
import { createTracing, type Tracing } from '../platform/tracing.ts';
import { bundleWorkflows, createPontoonWorker, type PontoonWorker } from '../worker/worker.ts';
import { apply, uniqueName, waitFor } from './helpers.ts';
import { createNamespace, kubeSpec, kubeTestConfig, simPodLog, simReport } from './kube-helpers.ts';
import { findSpan, spanTree } from './ops-helpers.ts';

const exporter = new InMemorySpanExporter();
let ns: Awaited<ReturnType<typeof createNamespace>>;
let tracing: Tracing;
let w: PontoonWorker;
let running: Promise<void>;
let app: FastifyInstance;
let config: ReturnType<typeof kubeTestConfig>;

beforeAll(async () => {
  ns = await createNamespace('pontoon-trace');
  config = kubeTestConfig(ns.name);
  const logger = createLogger(config.logLevel);
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
  await ns?.remove();
});

describe('traces on kubernetes', () => {
  it('one trace runs from the API request through the workflow and runAttempt to the attempt pod', async () => {
    const spec = kubeSpec(uniqueName('k-traced'), {
      'run-delay': '200ms',
      duration: '300ms',
      'termination-message': simReport({ traced: true }),
    });
    await apply(w.client, spec, config.taskQueue);
    const executionId = executionWorkflowId(spec.metadata.name, 'traced');
    await simPodLog(ns.name, attemptPodName(spec.metadata.name, executionId, 1), 'traced\n');
    const res = await app.inject({
      method: 'POST',
      url: `/v1/functions/${spec.metadata.name}/invocations?wait=30`,
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify({ idempotencyKey: 'traced' }),
    });
    expect(res.statusCode).toBe(200);
    expect(res.json().executionId).toBe(executionId);
    expect(res.json().execution.status).toBe('succeeded');

    // The pod is deleted after the activity returned: its span comes last.
    const spans = await waitFor('the DeletePod span', () => {
      const all = exporter.getFinishedSpans();
      return all.some((s) => s.name === 'DeletePod') &&
        all.some((s) => s.name === 'RunWorkflow:executeFunction')
        ? all
        : undefined;
    });
    const root = spans.find((s) => s.name === 'POST /v1/functions/:name/invocations');
    expect(root?.parentSpanId).toBeUndefined();
    const traceId = root!.spanContext().traceId;
    const inTrace = spans.filter((s) => s.spanContext().traceId === traceId);
    const t = spanTree(inTrace, root!);

    expect(findSpan(t, 'StartActivity:runAttempt')).toEqual({
      name: 'StartActivity:runAttempt',
      children: [
        {
          name: 'RunActivity:runAttempt',
          children: [
            {
              name: 'AttemptPod',
              children: [
                { name: 'CreatePod', children: [] },
                { name: 'PodPending', children: [] },
                { name: 'PodRunning', children: [] },
                { name: 'CollectPodLog', children: [] },
              ],
            },
            // After the outcome went back to the workflow:
            { name: 'StoreAttemptLog', children: [] },
            { name: 'DeletePod', children: [] },
          ],
        },
      ],
    });
    const pod = inTrace.find((s) => s.name === 'AttemptPod')!;
    expect(pod.attributes).toMatchObject({
      'k8s.pod.name': attemptPodName(spec.metadata.name, executionId, 1),
      'k8s.namespace.name': ns.name,
      // A node's name, whichever node of the shared cluster the scheduler chose (a bench's own kwok
      // nodes once took a test's pod: never assume which).
      'k8s.node.name': expect.stringMatching(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/),
      'pontoon.execution_id': executionId,
      'pontoon.function': spec.metadata.name,
      'pontoon.attempt': 1,
      'pontoon.pod.adopted': false,
    });
    expect(pod.events.map((e) => e.name)).toEqual(['created', 'running', 'finished']);
    expect(pod.events.at(-1)?.attributes).toMatchObject({
      'k8s.pod.phase': 'Succeeded',
      'pontoon.exit_code': 0,
    });
    const pending = inTrace.find((s) => s.name === 'PodPending')!;
    expect(pending.events.map((e) => e.name)).toEqual(['scheduled']);
    // PodRunning covers the simulated run time (300 ms), PodPending the start (run-delay 200 ms and more).
    const ms = (s: (typeof inTrace)[number]) => s.duration[0] * 1000 + s.duration[1] / 1e6;
    expect(ms(inTrace.find((s) => s.name === 'PodRunning')!)).toBeGreaterThanOrEqual(250);
    expect(ms(pending)).toBeGreaterThanOrEqual(200);
  });
});
