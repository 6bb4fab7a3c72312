/**
 * The log store and the API's log source the configuration asks for (PONTOON_LOG_*), and the
 * retention sweeper each worker runs.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { loadKubeConfig, makePooledApiClient } from '../kube/client.ts';
import { CoreV1Api } from '../kube/client-node.ts';
import type { RequestCounter } from '../kube/requests.ts';
import type { ProcessConfig } from '../platform/config.ts';
import { componentLogger } from '../platform/logger.ts';
import { createDirLogStore } from './dir.ts';
import { createSecretLogStore } from './secret.ts';
import { type AttemptLogSource, kubernetesLogSource, localLogSource } from './source.ts';
import type { LogStore } from './store.ts';

export function createLogStore(
  config: ProcessConfig,
  logger: Logger,
  kube?: { kubeConfig: KubeConfig; requests?: RequestCounter },
): LogStore {
  const c = config.logs;
  const limits = { maxBytes: c.maxBytes, retentionMs: c.retentionMs };
  if (c.store === 'dir') return createDirLogStore(c.dir, limits);
  const kubeConfig = kube?.kubeConfig ?? loadKubeConfig(config.kubernetes.kubeconfigPath);
  return createSecretLogStore({
    ...limits,
    core: makePooledApiClient(kubeConfig, CoreV1Api),
    namespace: c.namespace,
    logger: componentLogger(logger, 'log-store', { namespace: c.namespace }),
    ...(kube?.requests ? { requests: kube.requests } : {}),
  });
}

/** What the API reads logs from: the store, and the live logs of the configured runtime. */
export function createLogSource(config: ProcessConfig, logger: Logger): AttemptLogSource {
  if (config.runtime === 'local') {
    const store = createLogStore(config, logger);
    return localLogSource(store, config.logs.dir);
  }
  const kubeConfig = loadKubeConfig(config.kubernetes.kubeconfigPath);
  const store = createLogStore(config, logger, { kubeConfig });
  return kubernetesLogSource({
    store,
    kubeConfig,
    core: makePooledApiClient(kubeConfig, CoreV1Api),
    namespace: config.kubernetes.namespace,
    maxBytes: config.logs.maxBytes,
    logger: componentLogger(logger, 'log-source'),
  });
}

export { startLogSweeper } from './sweeper.ts';
