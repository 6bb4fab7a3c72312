/**
 * deploy/ against the simulated cluster: the kustomize output passes a server-side dry-run apply,
 * and SubjectAccessReviews show the worker's ServiceAccount can do what the runtime needs in its
 * namespace and nothing elsewhere or cluster-wide.
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
beforeAll(async () => {
  ns = await createNamespace('pontoon-rbac');
});
afterAll(async () => {
  await ns?.remove();
});

describe('deploy/', () => {
  it('applies cleanly with a server-side dry run', async () => {
    // The dry run creates nothing, so the namespaced objects need their namespace to exist.
    await coreApi()
      .createNamespace({ body: { metadata: { name: 'pontoon' } } })
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
      'deployment.apps/pontoon-worker',
      'deployment.apps/pontoon-api',
      'service/pontoon-api',
    ])
      expect(stdout).toContain(`${what} serverside-applied (server dry run)`);
  });

  it("gives the worker's ServiceAccount what it needs in its namespace and nothing else", async () => {
    const { stdout } = await run(kubectl(), ['kustomize', path.join(REPO_ROOT, 'deploy')]);
    const docs = parseAllDocuments(stdout).map((d) => d.toJS());
    const role = docs.find((d) => d.kind === 'Role');
    const binding = docs.find((d) => d.kind === 'RoleBinding');
    expect(docs.filter((d) => /^Cluster/.test(d.kind))).toEqual([]);
    const rbac = kubeConfig().makeApiClient(RbacAuthorizationV1Api);
    await coreApi().createNamespacedServiceAccount({
      namespace: ns.name,
      body: { metadata: { name: 'pontoon-worker' } },
    });
    await rbac.createNamespacedRole({
      namespace: ns.name,
      body: { ...role, metadata: { name: role.metadata.name } },
    });
    await rbac.createNamespacedRoleBinding({
      namespace: ns.name,
      body: {
        ...binding,
        metadata: { name: binding.metadata.name },
        subjects: [{ kind: 'ServiceAccount', name: 'pontoon-worker', namespace: ns.name }],
      },
    });
    const authz = kubeConfig().makeApiClient(AuthorizationV1Api);
    const user = `system:serviceaccount:${ns.name}:pontoon-worker`;
    const can = async (
      verb: string,
      resource: string,
      o: { group?: string; sub?: string; namespace?: string } = {},
    ) => {
      const r = await authz.createSubjectAccessReview({
        body: {
          spec: {
            user,
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
    const needed: Array<Parameters<typeof can>> = [
      ['create', 'pods'],
      ['get', 'pods'],
      ['list', 'pods'],
      ['watch', 'pods'],
      ['delete', 'pods'],
      ['get', 'pods', { sub: 'log' }],
      ['list', 'events'],
      ['create', 'deployments', { group: 'apps' }],
      ['patch', 'deployments', { group: 'apps' }],
      ['update', 'deployments', { group: 'apps', sub: 'scale' }],
    ];
    for (const args of needed) expect([args, await can(...args)]).toEqual([args, true]);
    const denied: Array<Parameters<typeof can>> = [
      ['list', 'pods', { namespace: '' }], // cluster-wide
      ['watch', 'pods', { namespace: 'default' }], // another namespace
      ['create', 'pods', { namespace: 'kube-system' }],
      ['get', 'secrets'],
      ['list', 'secrets'],
      ['update', 'pods'],
      ['create', 'pods', { sub: 'exec' }],
      ['list', 'nodes', { namespace: '' }],
      ['create', 'roles', { group: 'rbac.authorization.k8s.io' }],
      ['create', 'rolebindings', { group: 'rbac.authorization.k8s.io' }],
      ['create', 'clusterrolebindings', { group: 'rbac.authorization.k8s.io', namespace: '' }],
      ['list', 'namespaces', { namespace: '' }],
    ];
    for (const args of denied) expect([args, await can(...args)]).toEqual([args, false]);
  });
});
