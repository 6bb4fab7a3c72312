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
import { createLocalRuntime } from '../activities/local-runtime.ts';
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
  const runtime = createLocalRuntime(
    { dataDir: config.dataDir, localRoot: config.localRoot, killGraceMs: config.killGraceMs },
    logger.child({ component: 'local-runtime' }),
  );
  const worker = await Worker.create({
    connection,
    namespace: config.temporal.namespace,
    taskQueue: config.taskQueue,
    workflowBundle:
      opts.workflowBundle ??
      (config.workflowBundlePath ? { codePath: config.workflowBundlePath } : await bundleWorkflows(logger)),
    activities: createActivities({ client, logger, runtime }),
    ...(opts.identity ? { identity: opts.identity } : {}),
    // Heartbeats carry cancellation: send them at least every second so a cancel lands within seconds.
    maxHeartbeatThrottleInterval: '1s',
    defaultHeartbeatThrottleInterval: '1s',
    shutdownGraceTime: '10s',
  });
  return {
    worker,
    client,
    connection,
    async shutdown() {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await client.connection.close();
    },
  };
}
