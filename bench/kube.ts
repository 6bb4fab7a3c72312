/**
 * B2 on-demand overhead on the simulated cluster: end-to-end latency of a kubernetes-runtime
 * execution minus the pod's own simulated run time (kwok stage delays), for pods running 0 s and
 * 2 s; baseline: a bare pod create → Succeeded (seen by a watch) → delete on the same cluster, with
 * the same stage delays, measured in the same run. Also prints apiserver requests per execution.
 */
import { CoreV1Api, KubeConfig, type V1Pod, Watch } from '@kubernetes/client-node';
import { applySpec, startExecution, waitForResult } from '../client/functions.ts';
import { ensureCluster } from '../dev/cluster/ensure.ts';
import { reportFor } from '../observer/termination.ts';
import { FunctionSpecSchema } from '../spec/schema.ts';
import { percentile, printTable, saveResult, startStack } from './lib.ts';

const RESTRICTED = { 'pod-security.kubernetes.io/enforce': 'restricted' };

async function namespace(core: CoreV1Api, name: string) {
  await core.createNamespace({ body: { metadata: { name, labels: RESTRICTED } } });
  const until = Date.now() + 5000;
  for (;;) {
    try {
      await core.readNamespacedServiceAccount({ name: 'default', namespace: name });
      return;
    } catch {
      if (Date.now() > until) {
        await core.createNamespacedServiceAccount({
          namespace: name,
          body: { metadata: { name: 'default' } },
        });
        return;
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

export async function benchKube(opts: { quick: boolean }) {
  const n = opts.quick ? 15 : 60;
  const kubeconfig = await ensureCluster((l) => console.error(l));
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfig);
  const core = kc.makeApiClient(CoreV1Api);
  const ns = `bench-${Date.now().toString(36)}`;
  await namespace(core, ns);
  const stack = await startStack({
    PONTOON_RUNTIME: 'kubernetes',
    KUBECONFIG: kubeconfig,
    PONTOON_KUBE_NAMESPACE: ns,
    PONTOON_OBSERVER_IMAGE: 'example.invalid/pontoon-observer:bench',
  });
  const { client } = stack.worker;
  const runtime = stack.worker.runtime as unknown as { requests?: { snapshot(): { total: number } } };
  const report = reportFor({ output: { ok: true } }).report;
  const sims = (durationS: number) => ({
    'pontoon.dev/sim-run-delay': '0s',
    'pontoon.dev/sim-duration': `${durationS}s`,
    'pontoon.dev/sim-termination-message': report,
  });
  try {
    const rows = [];
    for (const durationS of [0, 2]) {
      const name = `bench-d${durationS}`;
      await applySpec(
        client,
        FunctionSpecSchema.parse({
          apiVersion: 'pontoon.dev/v1',
          kind: 'Function',
          metadata: { name },
          spec: { image: 'example.invalid/functions/bench:1', podAnnotations: sims(durationS) },
        }),
        stack.config.taskQueue,
      );
      const pontoon: number[] = [];
      const before = runtime.requests?.snapshot().total ?? Number.NaN;
      for (let i = 0; i < n; i++) {
        const t = performance.now();
        const s = await startExecution(
          client,
          { function: name },
          { trigger: 'sdk', taskQueue: stack.config.taskQueue },
        );
        const r = await waitForResult(client, s.executionId);
        if (r.status !== 'succeeded') throw new Error(`execution failed: ${r.failure?.message}`);
        pontoon.push(performance.now() - t - durationS * 1000);
      }
      const perExecution = ((runtime.requests?.snapshot().total ?? Number.NaN) - before) / n;

      // Baseline: a bare pod through the same stages, watched to Succeeded, then deleted.
      const bare: number[] = [];
      for (let i = 0; i < n; i++) {
        const podName = `bare-${durationS}-${i}`;
        const t = performance.now();
        const done = new Promise<void>((resolve, reject) => {
          let stop: (() => void) | undefined;
          new Watch(kc)
            .watch(
              `/api/v1/namespaces/${ns}/pods`,
              { fieldSelector: `metadata.name=${podName}` },
              (_type: string, pod: V1Pod) => {
                if (pod.status?.phase === 'Succeeded') {
                  stop?.();
                  resolve();
                }
              },
              (err) => err && reject(err),
            )
            .then((req) => {
              stop = () => req.abort();
            }, reject);
        });
        await core.createNamespacedPod({
          namespace: ns,
          body: {
            metadata: {
              name: podName,
              annotations: sims(durationS),
              labels: { 'app.kubernetes.io/managed-by': 'bench' },
            },
            spec: {
              restartPolicy: 'Never',
              automountServiceAccountToken: false,
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
        await done;
        await core.deleteNamespacedPod({ name: podName, namespace: ns, gracePeriodSeconds: 0 });
        bare.push(performance.now() - t - durationS * 1000);
      }
      const row = (what: string, v: number[], base?: number[]) => ({
        path: what,
        pod_run_s: durationS,
        n: v.length,
        overhead_p50_ms: Math.round(percentile(v, 50)),
        overhead_p99_ms: Math.round(percentile(v, 99)),
        ratio_p99: base ? (percentile(v, 99) / percentile(base, 99)).toFixed(2) : '-',
        api_requests_per_execution: Number.isFinite(perExecution) && base ? perExecution.toFixed(2) : '-',
      });
      rows.push(
        row('baseline: bare pod create → Succeeded → delete', bare),
        row('pontoon on-demand execution', pontoon, bare),
      );
    }
    printTable(rows);
    console.error(`[kube] wrote ${saveResult('kube', { rows })}`);
    return rows;
  } finally {
    await stack.stop();
    await core.deleteNamespace({ name: ns }).catch(() => undefined);
  }
}
