/**
 * Issue 17 §1–§2 on the real apiserver: what a spec may use in the functions' namespace.
 *
 * A worker with the kubernetes runtime runs functions in a namespace of their own, with an operator
 * allowlist (ServiceAccount `reporter`, Secrets `db-readonly` and `reports-*`, the range 10.20.0.0/16
 * opened). The API refuses a spec asking for more with a 400 `spec_invalid` at the field's line and
 * applies nothing; a spec that reaches Temporal without the API (an SDK client) is stopped by the
 * worker: a warm apply is refused by the controller with the same fields and the previous version
 * stays, an on-demand attempt fails LaunchFailed without a pod. An allowed spec runs as its
 * ServiceAccount, without a token, with a NetworkPolicy holding exactly its declared egress minus
 * the non-public ranges. What the pods' ServiceAccounts may do is in kubernetes-deploy.test.ts.
 */
import { AppsV1Api, NetworkingV1Api, type V1NetworkPolicy } from '@kubernetes/client-node';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { EGRESS_LABEL, egressPolicyName } from '../activities/kubernetes/network.ts';
import { SPEC_HASH_ANNOTATION } from '../activities/kubernetes/warm.ts';
import { buildApi } from '../api/app.ts';
import { applySpec, getSpec, startExecution, waitForResult } from '../client/functions.ts';
import { Label, warmDeploymentName } from '../core/names.ts';
import type { FunctionSpec, FunctionSpecInput } from '../core/schema.ts';
import { createLogger } from '../platform/logger.ts';
import { uniqueName, waitFor } from './helpers.ts';
import {
  coreApi,
  createNamespace,
  type KubeWorker,
  kubeConfig,
  kubeSpec,
  podsOf,
  recordPods,
  simReport,
  startKubeWorker,
} from './kube-helpers.ts';

let fns: Awaited<ReturnType<typeof createNamespace>>;
let w: KubeWorker;
let app: Awaited<ReturnType<typeof buildApi>>;
const net = () => kubeConfig().makeApiClient(NetworkingV1Api);
const apps = () => kubeConfig().makeApiClient(AppsV1Api);

beforeAll(async () => {
  fns = await createNamespace('fn-access');
  for (const name of ['reporter', 'pontoon-worker'])
    await coreApi().createNamespacedServiceAccount({ namespace: fns.name, body: { metadata: { name } } });
  for (const name of ['db-readonly', 'pontoon-secrets', 'other'])
    await coreApi().createNamespacedSecret({
      namespace: fns.name,
      body: { metadata: { name }, stringData: { password: 'p', TEMPORAL_API_KEY: 'k' } },
    });
  w = await startKubeWorker(fns.name, {
    PONTOON_FUNCTION_SERVICE_ACCOUNTS: 'reporter',
    PONTOON_FUNCTION_SECRETS: 'db-readonly,reports-*',
    PONTOON_FUNCTION_EGRESS_ALLOW_CIDRS: '10.20.0.0/16',
  });
  app = await buildApi({
    client: w.client,
    logger: createLogger('silent'),
    taskQueue: w.config.taskQueue,
    dataDir: w.config.dataDir,
    auth: { mode: 'open' },
    functionAccess: w.config.kubernetes.access,
  });
}, 120_000);
afterAll(async () => {
  await app?.close();
  await w?.stop();
  await fns?.remove();
});

function spec(name: string, s: Partial<FunctionSpecInput['spec']>, sim: Record<string, string> = {}) {
  return kubeSpec(name, { duration: '200ms', 'termination-message': simReport('ok'), ...sim }, s);
}

/** The spec as a user writes it (no defaults), as YAML so the refusal can name lines. */
function yamlOf(name: string, s: Partial<FunctionSpecInput['spec']>): string {
  return stringify({
    apiVersion: 'pontoon.dev/v1',
    kind: 'Function',
    metadata: { name },
    spec: { image: 'example.invalid/functions/test:1', ...s },
  });
}

const put = (fn: string, body: string) =>
  app.inject({
    method: 'PUT',
    url: `/v1/functions/${fn}`,
    headers: { 'content-type': 'application/yaml' },
    payload: body,
  });

async function policies(): Promise<V1NetworkPolicy[]> {
  return (await net().listNamespacedNetworkPolicy({ namespace: fns.name })).items;
}

describe('the API refuses what functions may not use (400 at the field, nothing applied)', () => {
  it('the worker’s ServiceAccount, Pontoon’s Secret, an unlisted one, a token, link-local and private egress', async () => {
    const fn = uniqueName('k-refused');
    const body = yamlOf(fn, {
      serviceAccountName: 'pontoon-worker',
      env: [
        { name: 'KEY', secretRef: { name: 'pontoon-secrets', key: 'TEMPORAL_API_KEY' } },
        { name: 'OTHER', secretRef: { name: 'other', key: 'password' } },
      ],
      network: {
        egress: [{ cidr: '169.254.169.254/32', ports: [80] }, { cidr: '10.0.0.0/8' }, { cidr: '0.0.0.0/0' }],
      },
    });
    const lines = body.split('\n');
    const lineOf = (text: string) => lines.findIndex((l) => l.includes(text)) + 1;
    const res = await put(fn, body);
    expect(res.statusCode).toBe(400);
    const answer = res.json();
    expect(answer.code).toBe('spec_invalid');
    expect(answer.details).toEqual([
      {
        field: 'spec.serviceAccountName',
        line: lineOf('serviceAccountName: pontoon-worker'),
        column: expect.any(Number),
        message:
          '"pontoon-worker" is a ServiceAccount of Pontoon itself; a function never runs as the worker or the API',
      },
      {
        field: 'spec.env.0.secretRef.name',
        line: lineOf('name: pontoon-secrets'),
        column: expect.any(Number),
        message: 'Secret "pontoon-secrets" holds credentials of Pontoon itself; functions never read it',
      },
      {
        field: 'spec.env.1.secretRef.name',
        line: lineOf('name: other'),
        column: expect.any(Number),
        message: `Secret "other" is not one functions may read in namespace ${fns.name}; an operator allows it with PONTOON_FUNCTION_SECRETS (allowed now: db-readonly, reports-*)`,
      },
      {
        field: 'spec.network.egress.0.cidr',
        line: lineOf('169.254.169.254/32'),
        column: expect.any(Number),
        message: '169.254.169.254/32 is link-local (cloud metadata); functions never reach 169.254.0.0/16',
      },
      {
        field: 'spec.network.egress.1.cidr',
        line: lineOf('cidr: 10.0.0.0/8'),
        column: expect.any(Number),
        message:
          '10.0.0.0/8 is a private range (10.0.0.0/8); functions reach public addresses only (an operator can open ranges with PONTOON_FUNCTION_EGRESS_ALLOW_CIDRS)',
      },
    ]);
    expect(answer.message).toMatch(/^the spec has 5 problems: spec\.serviceAccountName: /);

    const token = await put(
      fn,
      yamlOf(fn, { serviceAccountName: 'reporter', automountServiceAccountToken: true }),
    );
    expect(token.statusCode).toBe(400);
    expect(token.json().details).toEqual([
      expect.objectContaining({
        field: 'spec.automountServiceAccountToken',
        message:
          'the token of ServiceAccount "reporter" may not be mounted; an operator allows it with "reporter:token" in PONTOON_FUNCTION_SERVICE_ACCOUNTS',
      }),
    ]);
    const unlisted = await put(fn, yamlOf(fn, { serviceAccountName: 'builder' }));
    expect(unlisted.json().details[0].message).toBe(
      `ServiceAccount "builder" is not one functions may run as in namespace ${fns.name}; an operator allows it with PONTOON_FUNCTION_SERVICE_ACCOUNTS (allowed now: reporter)`,
    );

    // Nothing applied: no controller, no pod, no Deployment, no NetworkPolicy.
    expect((await app.inject({ method: 'GET', url: `/v1/functions/${fn}` })).statusCode).toBe(404);
    expect(await podsOf(fns.name, fn)).toEqual([]);
    expect((await policies()).length).toBe(0);
  });
});

describe('an allowed spec', () => {
  it('runs as its ServiceAccount without a token, reads its Secret, and gets exactly its declared egress', async () => {
    const fn = uniqueName('k-allowed');
    const res = await put(
      fn,
      yamlOf(fn, {
        podAnnotations: {
          'pontoon.dev/sim-duration': '200ms',
          'pontoon.dev/sim-termination-message': simReport('ok'),
        },
        serviceAccountName: 'reporter',
        env: [
          { name: 'DB', secretRef: { name: 'db-readonly', key: 'password' } },
          { name: 'R', secretRef: { name: 'reports-2026', key: 'token' } },
        ],
        network: {
          egress: [
            { cidr: '0.0.0.0/0', ports: [443] },
            { cidr: '10.20.5.0/24', ports: ['5432'] },
          ],
        },
      }),
    );
    expect(res.statusCode).toBe(201);
    const pods = await recordPods(fns.name);
    const started = await startExecution(
      w.client,
      { function: fn },
      { trigger: 'cli', taskQueue: w.config.taskQueue },
    );
    const result = await waitForResult(w.client, started.executionId);
    pods.stop();
    expect(result.status).toBe('succeeded');
    const pod = [...pods.seen.values()].find((p) => p.metadata?.labels?.[Label.function] === fn)!;
    expect(pod.spec?.serviceAccountName).toBe('reporter');
    expect(pod.spec?.automountServiceAccountToken).toBe(false);
    expect(pod.spec?.volumes?.some((v) => v.projected)).toBe(false);
    const hash = pod.metadata?.labels?.[EGRESS_LABEL];
    expect(hash).toMatch(/^[0-9a-f]{16}$/);

    const policy = await net().readNamespacedNetworkPolicy({
      name: egressPolicyName(hash!),
      namespace: fns.name,
    });
    expect(policy.spec?.podSelector).toEqual({
      matchLabels: { [Label.managedBy]: 'pontoon', [EGRESS_LABEL]: hash },
    });
    expect(policy.spec?.policyTypes).toEqual(['Egress']);
    expect(policy.spec?.egress).toEqual([
      {
        to: [
          {
            ipBlock: {
              cidr: '0.0.0.0/0',
              except: [
                '0.0.0.0/8',
                '10.0.0.0/8',
                '100.64.0.0/10',
                '127.0.0.0/8',
                '169.254.0.0/16',
                '172.16.0.0/12',
                '192.0.0.0/24',
                '192.168.0.0/16',
                '198.18.0.0/15',
                '224.0.0.0/4',
                '240.0.0.0/4',
              ],
            },
          },
        ],
        ports: [{ protocol: 'TCP', port: 443 }],
      },
      { to: [{ ipBlock: { cidr: '10.20.5.0/24' } }], ports: [{ protocol: 'TCP', port: 5432 }] },
    ]);
    // The same declaration again: the same policy, not a second one.
    const again = await startExecution(
      w.client,
      { function: fn },
      { trigger: 'cli', taskQueue: w.config.taskQueue },
    );
    expect((await waitForResult(w.client, again.executionId)).status).toBe('succeeded');
    expect((await policies()).map((p) => p.metadata?.name)).toEqual([egressPolicyName(hash!)]);
  });
});

describe('a spec that reaches Temporal without the API is stopped by the worker', () => {
  it('on demand: the attempt fails LaunchFailed (not retried) and no pod is created', async () => {
    const fn = uniqueName('k-bypass');
    const bad: FunctionSpec = spec(fn, {
      serviceAccountName: 'pontoon-worker',
      env: [{ name: 'KEY', secretRef: { name: 'pontoon-secrets', key: 'TEMPORAL_API_KEY' } }],
      execution: { retry: { maxAttempts: 3 } },
    });
    await applySpec(w.client, bad, w.config.taskQueue);
    const pods = await recordPods(fns.name);
    const started = await startExecution(
      w.client,
      { function: fn },
      { trigger: 'cli', taskQueue: w.config.taskQueue },
    );
    const result = await waitForResult(w.client, started.executionId);
    await new Promise((r) => setTimeout(r, 500));
    pods.stop();
    expect(result.status).toBe('failed');
    expect(result.attempts).toHaveLength(1);
    expect(result.failure).toMatchObject({ type: 'LaunchFailed' });
    expect(result.failure?.message).toContain(
      'spec.serviceAccountName: "pontoon-worker" is a ServiceAccount of Pontoon itself',
    );
    expect(result.failure?.message).toContain(
      'spec.env.0.secretRef.name: Secret "pontoon-secrets" holds credentials',
    );
    expect([...pods.seen.values()].filter((p) => p.metadata?.labels?.[Label.function] === fn)).toEqual([]);
  });

  it('warm: the controller refuses the apply with the fields, and the previous version stays', async () => {
    const fn = uniqueName('k-warm-bypass');
    const warm = { mode: 'warm' as const, timeout: '30s' };
    const good = spec(fn, {
      execution: warm,
      warm: { minReplicas: 1, maxReplicas: 1, fallback: 'none' },
      network: { egress: [{ cidr: '8.8.8.8/32', ports: ['53/udp'] }] },
    });
    await applySpec(w.client, good, w.config.taskQueue);
    const deployment = await waitFor('the warm Deployment', () =>
      apps()
        .readNamespacedDeployment({ name: warmDeploymentName(fn), namespace: fns.name })
        .catch(() => undefined),
    );
    const egress = deployment.spec?.template.metadata?.labels?.[EGRESS_LABEL];
    expect(egress).toMatch(/^[0-9a-f]{16}$/);
    expect(deployment.spec?.selector.matchLabels?.[EGRESS_LABEL]).toBeUndefined();
    await net().readNamespacedNetworkPolicy({ name: egressPolicyName(egress!), namespace: fns.name });

    const bad = spec(fn, {
      execution: warm,
      warm: { minReplicas: 1, maxReplicas: 1, fallback: 'none' },
      serviceAccountName: 'reporter',
      automountServiceAccountToken: true,
      env: [{ name: 'S', secretRef: { name: 'other', key: 'password' } }],
    });
    const err = await applySpec(w.client, bad, w.config.taskQueue).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkflowUpdateFailedError);
    const cause = (err as WorkflowUpdateFailedError).cause as ApplicationFailure;
    expect(cause).toBeInstanceOf(ApplicationFailure);
    expect(cause.type).toBe('SpecRefused');
    expect(cause.details).toEqual([
      {
        field: 'spec.automountServiceAccountToken',
        message:
          'the token of ServiceAccount "reporter" may not be mounted; an operator allows it with "reporter:token" in PONTOON_FUNCTION_SERVICE_ACCOUNTS',
      },
      {
        field: 'spec.env.0.secretRef.name',
        message: `Secret "other" is not one functions may read in namespace ${fns.name}; an operator allows it with PONTOON_FUNCTION_SECRETS (allowed now: db-readonly, reports-*)`,
      },
    ]);
    // Nothing half-applied: version 1 is current and the Deployment is the one it made.
    const current = await getSpec(w.client, fn);
    expect(current?.version).toBe(1);
    expect(current?.spec.spec.serviceAccountName).toBeUndefined();
    const after = await apps().readNamespacedDeployment({
      name: warmDeploymentName(fn),
      namespace: fns.name,
    });
    // Pontoon's annotation and the spec's generation, not the whole map: the deployment controller
    // adds deployment.kubernetes.io/revision on its own time (a loaded run read it only the second time).
    expect(after.metadata?.annotations?.[SPEC_HASH_ANNOTATION]).toBe(
      deployment.metadata?.annotations?.[SPEC_HASH_ANNOTATION],
    );
    expect(after.metadata?.generation).toBe(deployment.metadata?.generation);
    expect(after.spec?.template.spec?.serviceAccountName).toBeUndefined();
  });
});
