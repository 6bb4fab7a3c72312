/**
 * The simulated cluster as benchmarks use it: component pids (for CPU accounting), a namespace per
 * scenario, extra kwok nodes reserved for the bench (for 1,000 pods at once), the bare-pod
 * baseline (create → Succeeded → delete, through one shared watch), and the apiserver's own request
 * counter.
 */
import { existsSync, readFileSync } from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import {
  CoreV1Api,
  KubeConfig,
  PatchStrategy,
  setHeaderOptions,
  type V1Pod,
  type V1Toleration,
  Watch,
} from '@kubernetes/client-node';
import { reportFor } from '../contract/termination.ts';

export function clusterStateDir(): string {
  const cache = process.env.PONTOON_CACHE_DIR ?? path.join(os.homedir(), '.cache', 'pontoon');
  return process.env.PONTOON_CLUSTER_DIR ?? path.join(cache, 'cluster');
}

/** Pid of a running cluster component (etcd, kube-apiserver, …), from up.sh's pid files. */
export function clusterPid(component: string): number | undefined {
  try {
    const pid = Number(readFileSync(path.join(clusterStateDir(), 'run', `${component}.pid`), 'utf8').trim());
    if (!pid || !existsSync(`/proc/${pid}`)) return undefined;
    return /^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8')) ? undefined : pid;
  } catch {
    return undefined;
  }
}

/** Versions of the cluster's binaries, as build.sh recorded them. */
export function clusterVersions(): Record<string, string> {
  const cache = process.env.PONTOON_CACHE_DIR ?? path.join(os.homedir(), '.cache', 'pontoon');
  try {
    const env = readFileSync(path.join(cache, 'cluster-bins.env'), 'utf8');
    const get = (k: string) => new RegExp(`^${k}=(.*)$`, 'm').exec(env)?.[1] ?? 'unknown';
    return { kubernetes: get('K8S_VERSION'), etcd: get('ETCD_VERSION'), kwok: get('KWOK_VERSION') };
  } catch {
    return {};
  }
}

export interface KubeEnv {
  kubeconfig: string;
  kc: KubeConfig;
  core: CoreV1Api;
  /** Puts a pod on the bench's own nodes. */
  nodeSelector: Record<string, string>;
  /** Lets a pod onto them (they are tainted so that nothing else lands there). */
  tolerations: V1Toleration[];
  /** Environment of a Pontoon worker with the kubernetes runtime in `namespace`. */
  workerEnv(namespace: string, extra?: Record<string, string>): Record<string, string>;
}

export function kubeClients(kubeconfig: string) {
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfig);
  return { kc, core: kc.makeApiClient(CoreV1Api) };
}

const RESTRICTED = { 'pod-security.kubernetes.io/enforce': 'restricted' };

/** A fresh namespace (Pod Security "restricted", like the tests') once its default ServiceAccount exists. */
export async function createNamespace(core: CoreV1Api, prefix: string): Promise<string> {
  const name = `${prefix}-${Date.now().toString(36)}`;
  await core.createNamespace({ body: { metadata: { name, labels: RESTRICTED } } });
  const until = Date.now() + 5000;
  for (;;) {
    try {
      await core.readNamespacedServiceAccount({ name: 'default', namespace: name });
      return name;
    } catch {
      if (Date.now() > until) {
        await core.createNamespacedServiceAccount({
          namespace: name,
          body: { metadata: { name: 'default' } },
        });
        return name;
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

/** Pod annotations that make kwok run a pod for `durationS` and end it with the observer's report. */
export function simAnnotations(durationS: number): Record<string, string> {
  return {
    'pontoon.dev/sim-run-delay': '0s',
    'pontoon.dev/sim-duration': `${durationS}s`,
    'pontoon.dev/sim-termination-message': reportFor({ output: { ok: true } }).report,
  };
}

function cordon(core: CoreV1Api, name: string, unschedulable: boolean) {
  return core.patchNode(
    { name, body: [{ op: 'add', path: '/spec/unschedulable', value: unschedulable }] },
    setHeaderOptions('Content-Type', PatchStrategy.JsonPatch),
  );
}

export const BENCH_NODE_LABEL = 'pontoon.dev/bench-node';
const BENCH_PID_ANNOTATION = 'pontoon.dev/bench-pid';

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Cordons the nodes, then deletes each once no pod is left on it (at most `ms`); returns those left. */
async function deleteWhenEmpty(core: CoreV1Api, names: string[], ms: number): Promise<string[]> {
  for (const name of names) await cordon(core, name, true).catch(() => undefined);
  const until = Date.now() + ms;
  const left = new Set(names);
  while (left.size) {
    for (const name of [...left]) {
      const pods = await core.listPodForAllNamespaces({ fieldSelector: `spec.nodeName=${name}` });
      if (pods.items.length === 0) {
        await core.deleteNode({ name }).catch(() => undefined);
        left.delete(name);
      }
    }
    if (!left.size || Date.now() > until) break;
    await new Promise((r) => setTimeout(r, 1000));
  }
  return [...left];
}

/**
 * Kwok nodes for this bench run alone (chosen with nodeSelector, and tainted so that no other pod
 * lands there: a test running beside a bench once had its pod scheduled onto a bench node), so 1,000
 * pods fit without touching the shared nodes' capacity (3 × 110 pods) and two bench runs never share
 * nodes. Nodes
 * left behind by a bench run that died are removed first. `release()` cordons this run's nodes and
 * deletes each once no pod is left on it (a test's pod that landed there finishes first).
 */
export async function benchNodes(core: CoreV1Api, count: number, podsPerNode: number) {
  // Left by a bench run that is gone: deleted if empty (a node with pods is left alone).
  for (const n of (await core.listNode({ labelSelector: BENCH_NODE_LABEL })).items) {
    const pid = Number(n.metadata?.annotations?.[BENCH_PID_ANNOTATION] ?? 0);
    const name = n.metadata?.name;
    if (!name || (pid > 0 && processAlive(pid))) continue;
    const pods = await core.listPodForAllNamespaces({ fieldSelector: `spec.nodeName=${name}` });
    if (pods.items.length === 0) await core.deleteNode({ name }).catch(() => undefined);
  }
  const run = `${process.pid.toString(36)}${Date.now().toString(36).slice(-4)}`;
  const names = Array.from({ length: count }, (_, i) => `pontoon-bench-${run}-${i}`);
  for (const name of names) {
    await core.createNode({
      body: {
        metadata: {
          name,
          annotations: {
            'kwok.x-k8s.io/node': 'fake',
            'node.alpha.kubernetes.io/ttl': '0',
            [BENCH_PID_ANNOTATION]: String(process.pid),
          },
          labels: {
            'kubernetes.io/hostname': name,
            'kubernetes.io/os': 'linux',
            'kubernetes.io/arch': 'amd64',
            type: 'kwok',
            [BENCH_NODE_LABEL]: run,
          },
        },
        spec: { taints: [{ key: BENCH_NODE_LABEL, value: run, effect: 'NoSchedule' }] },
        status: {
          allocatable: { cpu: '64', memory: '256Gi', pods: String(podsPerNode) },
          capacity: { cpu: '64', memory: '256Gi', pods: String(podsPerNode) },
        },
      },
    });
  }
  const deadline = Date.now() + 60_000;
  for (;;) {
    const nodes = await core.listNode({ labelSelector: `${BENCH_NODE_LABEL}=${run}` });
    const ready = nodes.items.filter((n) =>
      n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
    );
    if (ready.length >= count) break;
    if (Date.now() > deadline) throw new Error(`kwok did not make the ${count} bench nodes Ready in 60 s`);
    await new Promise((r) => setTimeout(r, 300));
  }
  return {
    nodeSelector: { [BENCH_NODE_LABEL]: run },
    /** What this run's pods must tolerate (the taint above), as the API takes it. */
    tolerations: [
      { key: BENCH_NODE_LABEL, operator: 'Equal', value: run, effect: 'NoSchedule' },
    ] as V1Toleration[],
    /** The same for the worker's PONTOON_POD_TOLERATIONS (kubectl taint syntax). */
    podTolerationsEnv: `${BENCH_NODE_LABEL}=${run}:NoSchedule`,
    async release() {
      const left = await deleteWhenEmpty(core, names, 60_000);
      if (left.length)
        console.error(`[bench] left cordoned bench nodes with pods on them: ${left.join(', ')}`);
    },
  };
}

/**
 * Keeps one list+watch of pods matching a label selector in a namespace and calls `onPod` for
 * every event; re-lists when the watch ends (the client ends watches on its own after a while).
 */
export async function watchPods(
  kc: KubeConfig,
  core: CoreV1Api,
  namespace: string,
  labelSelector: string,
  onPod: (type: string, pod: V1Pod) => void,
): Promise<{ stop(): void }> {
  let stopped = false;
  let abort: (() => void) | undefined;
  const start = async (): Promise<void> => {
    const list = await core.listNamespacedPod({ namespace, labelSelector });
    for (const p of list.items) onPod('ADDED', p);
    if (stopped) return;
    let ended = false;
    const restart = () => {
      if (ended || stopped) return;
      ended = true;
      void again();
    };
    const req = await new Watch(kc).watch(
      `/api/v1/namespaces/${namespace}/pods`,
      { labelSelector, resourceVersion: list.metadata?.resourceVersion, allowWatchBookmarks: true },
      (type: string, pod: V1Pod) => onPod(type, pod),
      restart,
    );
    abort = () => req.abort();
  };
  // The watch ends on its own now and then, and fails while the apiserver restarts (other people's
  // tests restart it): list and watch again until it works.
  const again = async (): Promise<void> => {
    for (let delay = 100; !stopped; delay = Math.min(delay * 2, 2000)) {
      await new Promise((r) => setTimeout(r, delay));
      try {
        await start();
        return;
      } catch {
        // apiserver unavailable: try again
      }
    }
  };
  await start();
  return {
    stop() {
      stopped = true;
      abort?.();
    },
  };
}

/**
 * The bare-pod baseline: a plain pod (one container, restricted security context, no sidecar)
 * created, seen Succeeded through a shared watch, then deleted, on the same cluster and stages as
 * Pontoon's pods.
 */
export async function barePods(
  kc: KubeConfig,
  core: CoreV1Api,
  namespace: string,
  opts: { nodeSelector?: Record<string, string>; tolerations?: V1Toleration[] } = {},
) {
  const waiting = new Map<string, () => void>();
  let running = 0;
  let peakRunning = 0;
  const phases = new Map<string, string>();
  const watch = await watchPods(kc, core, namespace, 'app.kubernetes.io/managed-by=bench', (type, pod) => {
    const name = pod.metadata?.name ?? '';
    const before = phases.get(name);
    const phase = type === 'DELETED' ? 'Gone' : (pod.status?.phase ?? 'Pending');
    if (before === phase) return;
    if (phase === 'Gone') phases.delete(name);
    else phases.set(name, phase);
    if (before === 'Running') running--;
    if (phase === 'Running') peakRunning = Math.max(peakRunning, ++running);
    if (phase === 'Succeeded' || phase === 'Failed') {
      const done = waiting.get(name);
      waiting.delete(name);
      done?.();
    }
  });
  let seq = 0;
  const prefix = `bare-${Date.now().toString(36)}`;
  return {
    /** Creates the pod; the returned function waits for Succeeded, then deletes it; `abandon()` deletes it. */
    async start(durationS: number): Promise<(() => Promise<void>) & { abandon(): Promise<void> }> {
      const name = `${prefix}-${seq++}`;
      const done = new Promise<void>((resolve) => waiting.set(name, resolve));
      await core.createNamespacedPod({
        namespace,
        body: {
          metadata: {
            name,
            annotations: simAnnotations(durationS),
            labels: { 'app.kubernetes.io/managed-by': 'bench' },
          },
          spec: {
            restartPolicy: 'Never',
            automountServiceAccountToken: false,
            ...(opts.nodeSelector ? { nodeSelector: opts.nodeSelector } : {}),
            ...(opts.tolerations ? { tolerations: opts.tolerations } : {}),
            securityContext: {
              runAsNonRoot: true,
              runAsUser: 65532,
              seccompProfile: { type: 'RuntimeDefault' },
            },
            containers: [
              {
                name: 'main',
                image: 'example.invalid/functions/bench:1',
                securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
              },
            ],
          },
        },
      });
      const remove = async () => {
        await core.deleteNamespacedPod({ name, namespace, gracePeriodSeconds: 0 });
      };
      return Object.assign(
        async () => {
          await done;
          await remove();
        },
        {
          async abandon() {
            waiting.get(name)?.();
            await remove();
          },
        },
      );
    },
    /** create → Succeeded → delete; resolves when the delete is accepted. */
    async run(durationS: number): Promise<void> {
      await (await this.start(durationS))();
    },
    peakRunning: () => peakRunning,
    stop: () => watch.stop(),
  };
}

/** Pods in a namespace by phase, counted by a watch (for in-flight peaks). */
export async function podCounter(kc: KubeConfig, core: CoreV1Api, namespace: string, labelSelector: string) {
  const phases = new Map<string, string>();
  let running = 0;
  let peakRunning = 0;
  let peakExisting = 0;
  const watch = await watchPods(kc, core, namespace, labelSelector, (type, pod) => {
    const name = pod.metadata?.name ?? '';
    const before = phases.get(name);
    const phase = type === 'DELETED' ? 'Gone' : (pod.status?.phase ?? 'Pending');
    if (before === phase) return;
    if (phase === 'Gone') phases.delete(name);
    else phases.set(name, phase);
    if (before === 'Running') running--;
    if (phase === 'Running') peakRunning = Math.max(peakRunning, ++running);
    peakExisting = Math.max(peakExisting, phases.size);
  });
  return {
    running: () => running,
    peakRunning: () => peakRunning,
    peakExisting: () => peakExisting,
    stop: () => watch.stop(),
  };
}

/** The apiserver's own count of requests it served (all clients), from its /metrics. */
export async function apiserverRequests(kc: KubeConfig): Promise<number> {
  const cluster = kc.getCurrentCluster();
  if (!cluster) return Number.NaN;
  const opts: https.RequestOptions = {};
  await kc.applyToHTTPSOptions(opts);
  const body = await new Promise<string>((resolve, reject) => {
    const req = https.request(`${cluster.server}/metrics`, { ...opts, method: 'GET' }, (res) => {
      let data = '';
      res.setEncoding('utf8');
      res.on('data', (c) => {
        data += c;
      });
      res.on('end', () => resolve(data));
    });
    req.on('error', reject);
    req.end();
  });
  let total = 0;
  for (const line of body.split('\n')) {
    if (!line.startsWith('apiserver_request_total{')) continue;
    total += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return total;
}
