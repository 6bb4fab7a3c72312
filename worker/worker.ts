/**
 * The Pontoon worker: workflows and activities on one task queue. `createPontoonWorker()` builds it
 * (tests use this too); `worker/main.ts` runs it as a process.
 */
import { fileURLToPath } from 'node:url';
import type { Client } from '@temporalio/client';
import {
  bundleWorkflowCode,
  type NativeConnection,
  Worker,
  type WorkflowBundleWithSourceMap,
} from '@temporalio/worker';
import type { Logger } from 'pino';
import { createActivities } from '../activities/index.ts';
import { loadKubeConfig } from '../activities/kubernetes/kubeconfig.ts';
import { createKubernetesRuntime } from '../activities/kubernetes/runtime.ts';
import { createLocalRuntime } from '../activities/local-runtime.ts';
import type { FunctionRuntime } from '../activities/runtime.ts';
import type { WorkerConfig } from './config.ts';
import { connectClient, connectNative } from './temporal.ts';

export const WORKFLOWS_PATH = fileURLToPath(new URL('../workflows/index.ts', import.meta.url));

/** Bundles the workflow code once (tests share one bundle across files). */
export function bundleWorkflows(logger?: Logger): Promise<WorkflowBundleWithSourceMap> {
  return bundleWorkflowCode({
    workflowsPath: WORKFLOWS_PATH,
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
}): Promise<PontoonWorker> {
  const { config, logger } = opts;
  const connection = await connectNative(config.temporal);
  const client = await connectClient(config.temporal);
  const runtime = createRuntime(config, logger);
  const worker = await Worker.create({
    connection,
    namespace: config.temporal.namespace,
    taskQueue: config.taskQueue,
    workflowBundle:
      opts.workflowBundle ??
      (config.workflowBundlePath ? { codePath: config.workflowBundlePath } : await bundleWorkflows(logger)),
    activities: createActivities({ client, logger, runtime, taskQueue: config.taskQueue }),
    ...(opts.identity ? { identity: opts.identity } : {}),
    // Heartbeats carry cancellation: send them at least every second so a cancel lands within seconds.
    maxHeartbeatThrottleInterval: '1s',
    defaultHeartbeatThrottleInterval: '1s',
    shutdownGraceTime: '10s',
    maxConcurrentActivityTaskExecutions: config.maxConcurrentAttempts,
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

/** The runtime the config asks for. */
export function createRuntime(config: WorkerConfig, logger: Logger): FunctionRuntime {
  if (config.runtime === 'kubernetes') {
    const k = config.kubernetes;
    return createKubernetesRuntime({
      kubeConfig: loadKubeConfig(k.kubeconfigPath),
      namespace: k.namespace,
      observerImage: k.observerImage,
      keepFailedPodsMs: k.keepFailedPodsMs,
      imagePullGraceMs: k.imagePullGraceMs,
      unschedulableTimeoutMs: k.unschedulableTimeoutMs,
      killGraceMs: config.killGraceMs,
      logger: logger.child({ component: 'kubernetes-runtime', namespace: k.namespace }),
    });
  }
  return createLocalRuntime(
    { dataDir: config.dataDir, localRoot: config.localRoot, killGraceMs: config.killGraceMs },
    logger.child({ component: 'local-runtime' }),
  );
}
