/**
 * The Pontoon worker: workflows and activities on one task queue. `createPontoonWorker()` builds it
 * (tests use this too); `worker/main.ts` runs it as a process.
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { Client, isGrpcServiceError } from '@temporalio/client';
import proto from '@temporalio/proto';
import {
  bundleWorkflowCode,
  type NativeConnection,
  Worker,
  type WorkflowBundleWithSourceMap,
} from '@temporalio/worker';
import type { Logger } from 'pino';
import { executionMetricsSink } from '../activities/execution-metrics.ts';
import { createActivities } from '../activities/index.ts';
import { createLocalRuntime } from '../activities/local/runtime.ts';
import type { FunctionRuntime } from '../activities/runtime.ts';
import { createDirLogStore } from '../logs/dir.ts';
import { componentLogger } from '../platform/logger.ts';
import { createMetrics, type PontoonMetrics } from '../platform/metrics.ts';
import { RUNS_COMPILED } from '../platform/package-root.ts';
import {
  checkSearchAttributes,
  connectClient,
  connectNative,
  dataConverterOf,
} from '../platform/temporal.ts';
import type { Tracing } from '../platform/tracing.ts';
import type { WorkerConfig } from './config.ts';
import { createFaultInjection } from './faults.ts';
import type { KubernetesWorkerRuntimeOptions } from './kubernetes-runtime.ts';
import { PRELOADED_WORKFLOW_MODULE_NAMES } from './preloaded-workflow-modules.ts';

/**
 * The modules' extension in this process: `.ts` from the sources (tsx, vitest), `.js` from the
 * compiled tree in dist/. Paths of modules the SDK loads by file name use it: the compiler rewrites
 * import specifiers, not these strings.
 */
const EXT = RUNS_COMPILED ? '.js' : '.ts';

export const WORKFLOWS_PATH = fileURLToPath(new URL(`../workflows/index${EXT}`, import.meta.url));

/**
 * Loaded once per workflow thread and shared by every workflow run in it (the SDK's
 * `preloadModules`); otherwise each run — and each replay of an evicted run — evaluates them again
 * in its own module cache. Everything an execution needs is here (luxon through template.ts among
 * it). Only pure modules belong here: the SDK deep-freezes what they export, so no per-run state,
 * no workflow API at module scope, no objects mutated later (zod is not preloadable for that
 * reason: it defines properties lazily and resets regex lastIndex; executions never load it).
 * Derived, not chosen: every module the two workflows load statically (outside workflows/) whose own
 * graph uses no package beyond @temporalio/workflow, @temporalio/common and luxon, generated into
 * preloaded-workflow-modules.ts by `npm run preload-list` (dev/workflow-graph.ts); test/repo.test.ts
 * fails when that file is stale.
 */
export const PRELOADED_WORKFLOW_MODULES = PRELOADED_WORKFLOW_MODULE_NAMES.map((m) =>
  fileURLToPath(new URL(`../${m}${EXT}`, import.meta.url)),
);

/** The OpenTelemetry workflow interceptors (RunWorkflow and StartActivity spans, inside the sandbox). */
export const TRACING_WORKFLOW_INTERCEPTORS = createRequire(import.meta.url).resolve(
  '@temporalio/interceptors-opentelemetry/lib/workflow-interceptors',
);

/**
 * Bundles the workflow code once (tests share one bundle across files). `tracing: true` bundles the
 * OpenTelemetry workflow interceptors too; such a bundle also runs with tracing off (its spans go to
 * a no-op sink), so a prebuilt image bundle may always include them.
 */
export function bundleWorkflows(
  logger?: Logger,
  opts: { tracing?: boolean } = {},
): Promise<WorkflowBundleWithSourceMap> {
  return bundleWorkflowCode({
    workflowsPath: WORKFLOWS_PATH,
    preloadModules: PRELOADED_WORKFLOW_MODULES,
    ...(opts.tracing ? { workflowInterceptorModules: [TRACING_WORKFLOW_INTERCEPTORS] } : {}),
    ...(logger
      ? {
          logger: {
            trace() {},
            debug() {},
            info() {},
            warn: (m) => logger.warn(m),
            error: (m) => logger.error(m),
            log() {},
          },
        }
      : {}),
  });
}

export interface PontoonWorker {
  worker: Worker;
  client: Client;
  connection: NativeConnection;
  runtime: FunctionRuntime;
  /** Stops polling, lets in-flight work finish within the grace period, closes connections. */
  shutdown(): Promise<void>;
}

export async function createPontoonWorker(opts: {
  config: WorkerConfig;
  logger: Logger;
  workflowBundle?: { code: string } | { codePath: string };
  identity?: string;
  /** Where attempt and execution series are counted; default: a registry nobody scrapes. */
  metrics?: PontoonMetrics;
  /**
   * Traces: activity spans here, workflow spans through the `exporter` sink (the workflow bundle
   * must hold the interceptors: see bundleWorkflows), StartWorkflow spans on this worker's client.
   */
  tracing?: Tracing;
  /**
   * Check the namespace's search attributes before polling (checkSearchAttributes; default true).
   * Off only to reproduce an operator's setup mistake on purpose (test/apply-refusals.test.ts).
   */
  checkSearchAttributes?: boolean;
}): Promise<PontoonWorker> {
  const { config, logger, tracing } = opts;
  const metrics = opts.metrics ?? createMetrics();
  const baseClient = await connectClient(config.temporal);
  try {
    if (opts.checkSearchAttributes !== false) {
      await checkSearchAttributes(baseClient.connection, config.temporal.namespace, logger);
    }
  } catch (err) {
    await baseClient.connection.close();
    throw err;
  }
  const connection = await connectNative(config.temporal);
  // OpenTelemetry's SDK and the Temporal interceptors are loaded only when tracing is on.
  const otel = tracing
    ? {
        ...(await import('@temporalio/interceptors-opentelemetry')),
        ...(await import('../platform/tracing.ts')),
      }
    : undefined;
  const client =
    tracing && otel
      ? new Client({
          connection: baseClient.connection,
          namespace: config.temporal.namespace,
          dataConverter: dataConverterOf(config.temporal),
          interceptors: otel.tracingClientInterceptors(tracing),
        })
      : baseClient;
  const runtime = await createRuntime(config, logger, {
    ...(tracing ? { tracer: tracing.tracer } : {}),
    executionOpen: (executionId, runId) => executionOpen(client, executionId, runId),
  });
  if (tracing && !opts.workflowBundle && config.workflowBundlePath) {
    const code = await readFile(config.workflowBundlePath, 'utf8');
    if (!code.includes('OpenTelemetryInboundInterceptor')) {
      logger.warn(
        { bundle: config.workflowBundlePath },
        'tracing is on but the prebuilt workflow bundle has no tracing interceptors: no workflow spans; build it with bundleWorkflows(logger, { tracing: true })',
      );
    }
  }
  if ('requests' in runtime) {
    const counter = (runtime as { requests: { snapshot(): Record<string, number> } }).requests;
    metrics.observeKubernetesRequests(() => counter.snapshot());
  }
  const worker = await Worker.create({
    connection,
    namespace: config.temporal.namespace,
    taskQueue: config.taskQueue,
    // Payloads encrypted at rest when keys are set (platform/payload-codec.ts), outside the sandbox.
    dataConverter: dataConverterOf(config.temporal),
    workflowBundle:
      opts.workflowBundle ??
      (config.workflowBundlePath
        ? { codePath: config.workflowBundlePath }
        : await bundleWorkflows(logger, { tracing: Boolean(tracing) })),
    activities: createActivities({
      client,
      logger,
      runtime,
      taskQueue: config.taskQueue,
      metrics,
      faults: createFaultInjection(config.faults.killAfterOutcome, runtime),
    }),
    interceptors: {
      activity:
        tracing && otel
          ? [
              (ctx) => ({
                inbound: new otel.OpenTelemetryActivityInboundInterceptor(ctx, { tracer: tracing.tracer }),
                outbound: new otel.OpenTelemetryActivityOutboundInterceptor(ctx),
              }),
            ]
          : [],
    },
    // Workflow spans leave the sandbox through the exporter sink; a no-op when tracing is off, so a
    // bundle built with the interceptors runs either way.
    sinks: {
      // Execution ends counted in the metrics (activities/execution-metrics.ts).
      executionMetrics: executionMetricsSink(metrics),
      exporter:
        tracing && otel
          ? otel.makeWorkflowExporter(tracing.spanProcessor, tracing.resource)
          : { export: { fn: () => undefined } },
    },
    ...(opts.identity ? { identity: opts.identity } : {}),
    // Heartbeats carry cancellation: send them at least every second so a cancel lands within seconds.
    maxHeartbeatThrottleInterval: '1s',
    defaultHeartbeatThrottleInterval: '1s',
    shutdownGraceTime: '10s',
    maxConcurrentActivityTaskExecutions: config.maxConcurrentAttempts,
    maxCachedWorkflows: config.maxCachedWorkflows,
  });
  // The runtime's watches outlive polling: release them when run() ends, however it is awaited.
  const run = worker.run.bind(worker);
  worker.run = () => run().finally(() => runtime.close?.());
  return {
    worker,
    client,
    connection,
    runtime,
    async shutdown() {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await client.connection.close();
      await runtime.close?.();
    },
  };
}

/** gRPC status NOT_FOUND (grpc.io status codes): no such workflow (or run). */
const GRPC_NOT_FOUND = 5;

/**
 * Whether an execution's run is open (RUNNING), from Temporal: false when it is closed or unknown to
 * the server; throws what the service throws otherwise (Temporal unreachable). Without a run id, the
 * latest run of the workflow id is asked. Reads the raw answer: the SDK's describe decodes the memo,
 * which a key this worker no longer holds would fail (and the sweeper would keep the pod for ever).
 */
export async function executionOpen(client: Client, executionId: string, runId?: string): Promise<boolean> {
  try {
    const res = await client.workflowService.describeWorkflowExecution({
      namespace: client.options.namespace,
      execution: { workflowId: executionId, ...(runId ? { runId } : {}) },
    });
    return (
      res.workflowExecutionInfo?.status ===
      proto.temporal.api.enums.v1.WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_RUNNING
    );
  } catch (err) {
    if (isGrpcServiceError(err) && err.code === GRPC_NOT_FOUND) return false;
    throw err;
  }
}

/**
 * The runtime the config asks for, with its log store (logs/) and, when tracing, pod spans.
 * `executionOpen` (kubernetes) lets the sweeper keep a pod that is its attempt's only record while
 * the execution is open (KubernetesRuntimeOptions.executionOpen). The kubernetes runtime's modules
 * are imported here, on first use: the Kubernetes client (kube/client-node.ts) is ~30 MiB of RSS
 * compiled (~84 MiB from the sources, which load all of @kubernetes/client-node's generated API
 * groups), which a local worker never needs.
 */
export async function createRuntime(
  config: WorkerConfig,
  logger: Logger,
  opts: KubernetesWorkerRuntimeOptions = {},
): Promise<FunctionRuntime> {
  if (config.runtime === 'kubernetes') {
    const { createKubernetesWorkerRuntime } = await import('./kubernetes-runtime.ts');
    return createKubernetesWorkerRuntime(config, logger, opts);
  }
  return createLocalRuntime(
    {
      dataDir: config.dataDir,
      localRoot: config.localRoot,
      killGraceMs: config.killGraceMs,
      logs: {
        // The local runtime keeps logs in files (config refuses PONTOON_LOG_STORE=secret for it).
        store: createDirLogStore(config.logs.dir, {
          maxBytes: config.logs.maxBytes,
          retentionMs: config.logs.retentionMs,
        }),
        sweepIntervalMs: config.logs.sweepIntervalMs,
      },
      ...(config.localRunAs ? { runAs: config.localRunAs } : {}),
      ...(config.localSecretsDir ? { secretsDir: config.localSecretsDir } : {}),
    },
    componentLogger(logger, 'local-runtime'),
  );
}
