/** Loads the worker's Kubernetes credentials: a kubeconfig file when given, else the defaults. */
import { KubeConfig } from '@kubernetes/client-node';

/**
 * `path` (KUBECONFIG) wins; otherwise @kubernetes/client-node's defaults: $KUBECONFIG, the
 * in-cluster service account (a worker running as a Deployment), then ~/.kube/config.
 */
export function loadKubeConfig(path?: string): KubeConfig {
  const kc = new KubeConfig();
  if (path) kc.loadFromFile(path);
  else kc.loadFromDefault();
  if (!kc.getCurrentCluster()) {
    throw new Error(
      `no Kubernetes cluster in ${path ?? 'the default kubeconfig'}: set KUBECONFIG, or run the worker in a pod with a service account`,
    );
  }
  return kc;
}
