/**
 * The kubernetes runtime as the worker builds it from its configuration: the pod runtime with its
 * log store, apiserver request counter and warm pools. Imported by worker.ts only when
 * PONTOON_RUNTIME=kubernetes, so a local worker never loads @kubernetes/client-node.
 */
import type { Tracer } from '@opentelemetry/api';
import type { Logger } from 'pino';
import { createKubernetesRuntime } from '../activities/kubernetes/runtime.ts';
import { createKubernetesWarmPools } from '../activities/kubernetes/warm.ts';
import type { FunctionRuntime } from '../activities/runtime.ts';
import { loadKubeConfig } from '../kube/client.ts';
import { RequestCounter } from '../kube/requests.ts';
import { createLogStore } from '../logs/index.ts';
import { componentLogger } from '../platform/logger.ts';
import type { WorkerConfig } from './config.ts';

export interface KubernetesWorkerRuntimeOptions {
  /** Pod spans (activities/kubernetes/trace.ts) when tracing is on. */
  tracer?: Tracer;
  /** Whether an execution's run is open (worker.ts executionOpen): the sweeper keeps such a pod's record. */
  executionOpen?: (executionId: string, runId: string | undefined) => Promise<boolean>;
}

/** The kubernetes runtime of `config` (PONTOON_KUBE_*, PONTOON_LOG_*), with its warm pools. */
export function createKubernetesWorkerRuntime(
  config: WorkerConfig,
  logger: Logger,
  opts: KubernetesWorkerRuntimeOptions = {},
): FunctionRuntime {
  const k = config.kubernetes;
  const kubeConfig = loadKubeConfig(k.kubeconfigPath);
  const requests = new RequestCounter();
  const runtime = createKubernetesRuntime({
    kubeConfig,
    requests,
    logStore: createLogStore(config, logger, { kubeConfig, requests }),
    logMaxBytes: config.logs.maxBytes,
    logSweepIntervalMs: config.logs.sweepIntervalMs,
    ...(opts.tracer ? { tracer: opts.tracer } : {}),
    namespace: k.namespace,
    observerImage: k.observerImage,
    placement: k.placement,
    keepFailedPodsMs: k.keepFailedPodsMs,
    deleteDelayMs: k.deleteDelayMs,
    imagePullGraceMs: k.imagePullGraceMs,
    unschedulableTimeoutMs: k.unschedulableTimeoutMs,
    killGraceMs: config.killGraceMs,
    access: k.access,
    ...(opts.executionOpen ? { executionOpen: opts.executionOpen } : {}),
    logger: componentLogger(logger, 'kubernetes-runtime', { namespace: k.namespace }),
  });
  const warmPools = createKubernetesWarmPools(
    kubeConfig,
    {
      namespace: k.namespace,
      observerImage: k.observerImage,
      placement: k.placement,
      temporal: { address: k.warm.temporalAddress, namespace: config.temporal.namespace },
      ...(k.warm.temporalSecret ? { temporalSecret: k.warm.temporalSecret } : {}),
      killGraceSeconds: config.killGraceMs / 1000,
      access: k.access,
    },
    componentLogger(logger, 'warm-pools', { namespace: k.namespace }),
    runtime.requests,
  );
  return Object.assign(runtime, { warmPools });
}
