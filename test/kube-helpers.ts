/** Helpers for tests on the simulated cluster (dev/cluster) started by global-setup.ts. */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { CoreV1Api, CustomObjectsApi, KubeConfig, type V1Pod, Watch } from '@kubernetes/client-node';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { expect, inject } from 'vitest';
import type { KubernetesRuntime } from '../activities/kubernetes/runtime.ts';
import { reportFor } from '../contract/termination.ts';
import type { ExecutionResult } from '../core/execution.ts';
import { Label } from '../core/names.ts';
import { type FunctionSpec, type FunctionSpecInput, functionSpecSchema } from '../core/schema.ts';
import type { WorkerConfig } from '../worker/config.ts';
import { type RunningWorker, startWorker, testConfig } from './helpers.ts';

export const TEST_OBSERVER_IMAGE = 'example.invalid/pontoon-observer:test';

export function kubeconfigPath(): string {
  const p = inject('kubeconfig');
  if (!p)
    throw new Error(
      'global-setup did not start the simulated cluster (no kubernetes test matched its filters)',
    );
  return p;
}

export function kubeConfig(): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfigPath());
  return kc;
}

export function coreApi(): CoreV1Api {
  return kubeConfig().makeApiClient(CoreV1Api);
}

let nsCounter = 0;
/**
 * A fresh namespace labelled pod-security.kubernetes.io/enforce=restricted (so every pod a test
 * launches proves the builder's pods pass "restricted"), once its default ServiceAccount exists.
 */
export async function createNamespace(prefix: string): Promise<{ name: string; remove(): Promise<void> }> {
  const core = coreApi();
  const name = `${prefix}-${process.pid.toString(36)}-${Date.now().toString(36)}${++nsCounter}`.slice(0, 63);
  await core.createNamespace({
    body: {
      metadata: {
        name,
        labels: {
          'pod-security.kubernetes.io/enforce': 'restricted',
          'pod-security.kubernetes.io/enforce-version': 'latest',
        },
      },
    },
  });
  // The controller-manager creates the default ServiceAccount (pods are refused without it). After
  // the apiserver-restart test its serviceaccount controller was seen to stop doing so (v1.37.2), so
  // after 5 s the helper creates it, as that controller would.
  const until = Date.now() + 5_000;
  for (;;) {
    try {
      await core.readNamespacedServiceAccount({ name: 'default', namespace: name });
      break;
    } catch {
      if (Date.now() > until) {
        await core.createNamespacedServiceAccount({
          namespace: name,
          body: { metadata: { name: 'default' } },
        });
        break;
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  return {
    name,
    async remove() {
      await core.deleteNamespace({ name }).catch(() => {});
    },
  };
}

export interface KubeWorker extends RunningWorker {
  runtime: KubernetesRuntime;
}

export function kubeTestConfig(namespace: string, overrides: Record<string, string> = {}): WorkerConfig {
  return testConfig({
    PONTOON_RUNTIME: 'kubernetes',
    KUBECONFIG: kubeconfigPath(),
    PONTOON_KUBE_NAMESPACE: namespace,
    PONTOON_OBSERVER_IMAGE: TEST_OBSERVER_IMAGE,
    PONTOON_IMAGE_PULL_GRACE: '2s',
    ...overrides,
  });
}

/** A real Pontoon worker with the kubernetes runtime on the simulated cluster. */
export async function startKubeWorker(
  namespace: string,
  overrides: Record<string, string> = {},
): Promise<KubeWorker> {
  const w = await startWorker(kubeTestConfig(namespace, overrides));
  return w as KubeWorker;
}

/** The termination message the real observer would write for this output (set through the stage). */
export function simReport(output: unknown): string {
  return reportFor({ output }).report;
}

/** A spec for the kubernetes runtime whose pods' simulated outcome is chosen by pontoon.dev/sim-* annotations. */
export function kubeSpec(
  name: string,
  sim: Record<string, string>,
  spec: Partial<FunctionSpecInput['spec']> = {},
): FunctionSpec {
  const podAnnotations: Record<string, string> = {};
  for (const [k, v] of Object.entries(sim)) podAnnotations[`pontoon.dev/sim-${k}`] = v;
  return functionSpecSchema().parse({
    apiVersion: 'pontoon.dev/v1',
    kind: 'Function',
    metadata: { name },
    spec: { image: 'example.invalid/functions/test:1', podAnnotations, ...spec },
  });
}

export async function podsOf(namespace: string, fn?: string): Promise<V1Pod[]> {
  const list = await coreApi().listNamespacedPod({
    namespace,
    labelSelector: fn ? `${Label.function}=${fn}` : `${Label.managedBy}=pontoon`,
  });
  return list.items;
}

/** Records every pod name the apiserver shows in a namespace (a watch of the test's own). */
export async function recordPods(namespace: string): Promise<{ seen: Map<string, V1Pod>; stop(): void }> {
  const seen = new Map<string, V1Pod>();
  const controller = await new Watch(kubeConfig()).watch(
    `/api/v1/namespaces/${namespace}/pods`,
    {},
    (_type: string, pod: V1Pod) => {
      if (pod.metadata?.name) seen.set(pod.metadata.name, pod);
    },
    () => {},
  );
  return { seen, stop: () => controller.abort() };
}

/**
 * Gives a pod a function log: kwok (dev/cluster, --enable-crds=Logs) serves pods/log of the pod's
 * `function` container from a CRI-format file named by a kwok Logs object. Call it before the pod
 * finishes (the pod need not exist yet); it returns once kwok serves the log.
 */
export async function simPodLog(namespace: string, pod: string, text: string): Promise<void> {
  const file = path.join(inject('testDir'), `podlog-${namespace}-${pod}.log`);
  const at = new Date().toISOString().replace('Z', '000000Z');
  // One full ("F") stdout record per line: the log reads back as the lines, each ending in a newline.
  const lines = (text.endsWith('\n') ? text.slice(0, -1) : text).split('\n');
  writeFileSync(file, lines.map((line) => `${at} stdout F ${line}\n`).join(''));
  await kubeConfig()
    .makeApiClient(CustomObjectsApi)
    .createNamespacedCustomObject({
      group: 'kwok.x-k8s.io',
      version: 'v1alpha1',
      namespace,
      plural: 'logs',
      body: {
        apiVersion: 'kwok.x-k8s.io/v1alpha1',
        kind: 'Logs',
        metadata: { name: pod },
        spec: { logs: [{ containers: ['function'], logsFile: file }] },
      },
    });
  // kwok learns of the Logs object through its watch: wait until its server (plain HTTP on the same
  // port, not checking that the pod exists) serves the log, so the worker's pods/log finds it. Well
  // under a second on a quiet machine; a clean-clone CI run under heavy load once saw more than 15 s
  // (kwok busy deleting a killed run's pods), so the wait allows 40 s (under the 60 s test timeout).
  const kwok = `http://127.0.0.1:${process.env.PONTOON_KWOK_PORT ?? 10247}`;
  const until = Date.now() + 40_000;
  for (;;) {
    const res = await fetch(`${kwok}/containerLogs/${namespace}/${pod}/function`).catch(() => undefined);
    if (res?.ok) return;
    if (Date.now() > until) throw new Error(`kwok does not serve the log of ${namespace}/${pod} after 40 s`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The ApplicationFailure a failed execution ended with, and its result (the failure's first detail). */
export async function failureOf(
  p: Promise<unknown>,
): Promise<{ failure: ApplicationFailure; result: ExecutionResult }> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(WorkflowFailedError);
  const cause = (err as WorkflowFailedError).cause as ApplicationFailure;
  expect(cause).toBeInstanceOf(ApplicationFailure);
  return { failure: cause, result: cause.details?.[0] as ExecutionResult };
}
