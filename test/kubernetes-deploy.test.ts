/**
 * deploy/ against the simulated cluster: the kustomize output passes a server-side dry-run apply,
 * and SubjectAccessReviews show the worker's and the API's ServiceAccounts can do what they need in
 * their namespaces (the API: read log Secrets and pods/log; the worker: its pods, and store and sweep
 * log Secrets in the logs namespace) and nothing elsewhere or cluster-wide.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { AuthorizationV1Api, RbacAuthorizationV1Api } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { REPO_ROOT } from './helpers.ts';
import { coreApi, createNamespace, kubeConfig, kubeconfigPath } from './kube-helpers.ts';

const run = promisify(execFile);

function kubectl(): string {
  const env = path.join(
    process.env.PONTOON_CACHE_DIR ?? path.join(os.homedir(), '.cache', 'pontoon'),
    'cluster-bins.env',
  );
  const m = /^KUBECTL_BIN=(.+)$/m.exec(readFileSync(env, 'utf8'));
  if (!m) throw new Error(`no KUBECTL_BIN in ${env}: run npm run cluster:up`);
  return m[1]!.trim();
}

let ns: Awaited<ReturnType<typeof createNamespace>>;
let logsNs: Awaited<ReturnType<typeof createNamespace>>;
beforeAll(async () => {
  ns = await createNamespace('pontoon-rbac');
  logsNs = await createNamespace('pontoon-rbac-logs');
});
afterAll(async () => {
  await ns?.remove();
  await logsNs?.remove();
});

describe('deploy/', () => {
  it('applies cleanly with a server-side dry run', async () => {
    // The dry run creates nothing, so the namespaced objects need their namespace to exist.
    for (const name of ['pontoon', 'pontoon-logs'])
      await coreApi()
        .createNamespace({ body: { metadata: { name } } })
        .catch(() => {});
    const { stdout } = await run(
      kubectl(),
      [
        '--kubeconfig',
        kubeconfigPath(),
        'apply',
        '-k',
        path.join(REPO_ROOT, 'deploy'),
        '--dry-run=server',
        '--server-side',
      ],
      { timeout: 60_000 },
    );
    for (const what of [
      'serviceaccount/pontoon-worker',
      'role.rbac.authorization.k8s.io/pontoon-worker',
      'rolebinding.rbac.authorization.k8s.io/pontoon-worker',
      'configmap/pontoon-config',
      'role.rbac.authorization.k8s.io/pontoon-worker-logs',
      'rolebinding.rbac.authorization.k8s.io/pontoon-api-logs',
      'deployment.apps/pontoon-worker',
      'deployment.apps/pontoon-api',
      'service/pontoon-api',
    ])
      expect(stdout).toContain(`${what} serverside-applied (server dry run)`);
  });

  it('gives the worker and the API what they need in their namespaces and nothing else', async () => {
    const { stdout } = await run(kubectl(), ['kustomize', path.join(REPO_ROOT, 'deploy')]);
    const docs = parseAllDocuments(stdout).map((d) => d.toJS());
    expect(docs.filter((d) => /^Cluster/.test(d.kind))).toEqual([]);
    // The manifests' namespaces, played by this test's: pontoon → ns, pontoon-logs → logsNs.
    const where: Record<string, string> = { pontoon: ns.name, 'pontoon-logs': logsNs.name };
    const rbac = kubeConfig().makeApiClient(RbacAuthorizationV1Api);
    for (const name of ['pontoon-worker', 'pontoon-api'])
      await coreApi().createNamespacedServiceAccount({ namespace: ns.name, body: { metadata: { name } } });
    for (const d of docs.filter((x) => x.kind === 'Role')) {
      await rbac.createNamespacedRole({
        namespace: where[d.metadata.namespace]!,
        body: { ...d, metadata: { name: d.metadata.name } },
      });
    }
    for (const d of docs.filter((x) => x.kind === 'RoleBinding')) {
      await rbac.createNamespacedRoleBinding({
        namespace: where[d.metadata.namespace]!,
        body: {
          ...d,
          metadata: { name: d.metadata.name },
          subjects: d.subjects.map((sub: { name: string; namespace: string }) => ({
            ...sub,
            namespace: where[sub.namespace],
          })),
        },
      });
    }
    const authz = kubeConfig().makeApiClient(AuthorizationV1Api);
    const can = async (
      sa: 'pontoon-worker' | 'pontoon-api',
      verb: string,
      resource: string,
      o: { group?: string; sub?: string; namespace?: string } = {},
    ) => {
      const r = await authz.createSubjectAccessReview({
        body: {
          spec: {
            user: `system:serviceaccount:${ns.name}:${sa}`,
            groups: ['system:serviceaccounts', `system:serviceaccounts:${ns.name}`, 'system:authenticated'],
            resourceAttributes: {
              verb,
              resource,
              group: o.group ?? '',
              ...(o.sub ? { subresource: o.sub } : {}),
              ...(o.namespace !== '' ? { namespace: o.namespace ?? ns.name } : {}),
            },
          },
        },
      });
      return r.status?.allowed ?? false;
    };
    const logs = { namespace: logsNs.name };
    const needed: Array<Parameters<typeof can>> = [
      ['pontoon-worker', 'create', 'pods'],
      ['pontoon-worker', 'get', 'pods'],
      ['pontoon-worker', 'list', 'pods'],
      ['pontoon-worker', 'watch', 'pods'],
      ['pontoon-worker', 'delete', 'pods'],
      ['pontoon-worker', 'get', 'pods', { sub: 'log' }],
      ['pontoon-worker', 'list', 'events'],
      ['pontoon-worker', 'create', 'deployments', { group: 'apps' }],
      ['pontoon-worker', 'patch', 'deployments', { group: 'apps' }],
      ['pontoon-worker', 'update', 'deployments', { group: 'apps', sub: 'scale' }],
      ['pontoon-worker', 'create', 'secrets', logs],
      ['pontoon-worker', 'deletecollection', 'secrets', logs],
      ['pontoon-api', 'get', 'secrets', logs],
      ['pontoon-api', 'get', 'pods', { sub: 'log' }],
    ];
    for (const args of needed) expect([args, await can(...args)]).toEqual([args, true]);
    const denied: Array<Parameters<typeof can>> = [
      ['pontoon-worker', 'list', 'pods', { namespace: '' }], // cluster-wide
      ['pontoon-worker', 'watch', 'pods', { namespace: 'default' }], // another namespace
      ['pontoon-worker', 'create', 'pods', { namespace: 'kube-system' }],
      ['pontoon-worker', 'get', 'secrets'], // the functions' and Pontoon's own Secrets
      ['pontoon-worker', 'list', 'secrets'],
      ['pontoon-worker', 'list', 'secrets', logs],
      ['pontoon-worker', 'update', 'pods'],
      ['pontoon-worker', 'create', 'pods', { sub: 'exec' }],
      ['pontoon-worker', 'list', 'nodes', { namespace: '' }],
      ['pontoon-worker', 'create', 'roles', { group: 'rbac.authorization.k8s.io' }],
      ['pontoon-worker', 'create', 'rolebindings', { group: 'rbac.authorization.k8s.io' }],
      [
        'pontoon-worker',
        'create',
        'clusterrolebindings',
        { group: 'rbac.authorization.k8s.io', namespace: '' },
      ],
      ['pontoon-worker', 'list', 'namespaces', { namespace: '' }],
      ['pontoon-api', 'get', 'secrets'],
      ['pontoon-api', 'list', 'secrets', logs],
      ['pontoon-api', 'create', 'secrets', logs],
      ['pontoon-api', 'get', 'pods'],
      ['pontoon-api', 'list', 'pods'],
      ['pontoon-api', 'create', 'pods'],
      ['pontoon-api', 'get', 'pods', { sub: 'log', namespace: 'default' }],
    ];
    for (const args of denied) expect([args, await can(...args)]).toEqual([args, false]);
  });
});
