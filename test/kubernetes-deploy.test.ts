/**
 * deploy/ against the simulated cluster: the kustomize output passes a server-side dry-run apply,
 * and SubjectAccessReviews show what each ServiceAccount can do once the manifests' RBAC is in
 * place: the worker and the API what they need in the functions' and the logs' namespaces and
 * nothing in their own, elsewhere or cluster-wide; a function pod's ServiceAccount (the functions
 * namespace's default, or one the operator allows) nothing at all — no Secrets, no pods, no token
 * of the worker's ServiceAccount, nothing in the control plane's namespace. The cluster authorizes
 * with RBAC (`--authorization-mode=Node,RBAC`, dev/cluster/up.sh): every "denied" below is the
 * apiserver's own answer.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { AuthorizationV1Api, RbacAuthorizationV1Api } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { isolatesEgress } from '../activities/kubernetes/network.ts';
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
let fnNs: Awaited<ReturnType<typeof createNamespace>>;
let logsNs: Awaited<ReturnType<typeof createNamespace>>;
beforeAll(async () => {
  ns = await createNamespace('pontoon-rbac');
  fnNs = await createNamespace('pontoon-rbac-fn');
  logsNs = await createNamespace('pontoon-rbac-logs');
});
afterAll(async () => {
  await ns?.remove();
  await fnNs?.remove();
  await logsNs?.remove();
});

describe('deploy/', () => {
  it('applies cleanly with a server-side dry run', async () => {
    // The dry run creates nothing, so the namespaced objects need their namespace to exist.
    for (const name of ['pontoon', 'pontoon-functions', 'pontoon-logs'])
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
    // The functions' namespace denies all egress but DNS: what the worker checks for at start.
    const { stdout: built } = await run(kubectl(), ['kustomize', path.join(REPO_ROOT, 'deploy')]);
    const policies = parseAllDocuments(built)
      .map((d) => d.toJS())
      .filter((d) => d.kind === 'NetworkPolicy' && d.metadata.namespace === 'pontoon-functions');
    expect(isolatesEgress(policies)).toBe(true);
    expect(policies.find((p) => p.metadata.name === 'default-deny').spec).toEqual({
      podSelector: {},
      policyTypes: ['Ingress', 'Egress'],
    });
    for (const what of [
      'namespace/pontoon',
      'namespace/pontoon-functions',
      'namespace/pontoon-logs',
      'serviceaccount/pontoon-worker',
      'role.rbac.authorization.k8s.io/pontoon-worker',
      'rolebinding.rbac.authorization.k8s.io/pontoon-worker',
      'role.rbac.authorization.k8s.io/pontoon-api',
      'rolebinding.rbac.authorization.k8s.io/pontoon-api',
      'networkpolicy.networking.k8s.io/default-deny',
      'networkpolicy.networking.k8s.io/dns',
      'networkpolicy.networking.k8s.io/warm-temporal',
      'networkpolicy.networking.k8s.io/pontoon-worker',
      'configmap/pontoon-config',
      'role.rbac.authorization.k8s.io/pontoon-worker-logs',
      'rolebinding.rbac.authorization.k8s.io/pontoon-api-logs',
      'deployment.apps/pontoon-worker',
      'deployment.apps/pontoon-api',
      'service/pontoon-api',
    ])
      expect(stdout).toContain(`${what} serverside-applied (server dry run)`);
  });

  it('gives the worker and the API what they need in the functions and logs namespaces, functions nothing', async () => {
    const { stdout } = await run(kubectl(), ['kustomize', path.join(REPO_ROOT, 'deploy')]);
    const docs = parseAllDocuments(stdout).map((d) => d.toJS());
    expect(docs.filter((d) => /^Cluster/.test(d.kind))).toEqual([]);
    // Nothing binds a role in the control plane's namespace, and functions get no ServiceAccount of theirs.
    expect(docs.filter((d) => /^Role/.test(d.kind) && d.metadata.namespace === 'pontoon')).toEqual([]);
    expect(
      docs
        .filter((d) => d.kind === 'ServiceAccount')
        .map((d) => `${d.metadata.namespace}/${d.metadata.name}`),
    ).toEqual(['pontoon/pontoon-api', 'pontoon/pontoon-worker']);
    expect(
      docs.find((d) => d.kind === 'ConfigMap' && d.metadata.name === 'pontoon-config').data
        .PONTOON_KUBE_NAMESPACE,
    ).toBe('pontoon-functions');
    // The manifests' namespaces, played by this test's: pontoon → ns, pontoon-functions → fnNs,
    // pontoon-logs → logsNs.
    const where: Record<string, string> = {
      pontoon: ns.name,
      'pontoon-functions': fnNs.name,
      'pontoon-logs': logsNs.name,
    };
    const rbac = kubeConfig().makeApiClient(RbacAuthorizationV1Api);
    for (const name of ['pontoon-worker', 'pontoon-api'])
      await coreApi().createNamespacedServiceAccount({ namespace: ns.name, body: { metadata: { name } } });
    // A ServiceAccount an operator lets functions use (PONTOON_FUNCTION_SERVICE_ACCOUNTS), with no role yet.
    await coreApi().createNamespacedServiceAccount({
      namespace: fnNs.name,
      body: { metadata: { name: 'reporter' } },
    });
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
    type Who = 'pontoon-worker' | 'pontoon-api' | 'fn:default' | 'fn:reporter';
    const can = async (
      who: Who,
      verb: string,
      resource: string,
      o: { group?: string; sub?: string; namespace?: string; name?: string } = {},
    ) => {
      const [saNs, sa] = who.startsWith('fn:') ? [fnNs.name, who.slice(3)] : [ns.name, who];
      const r = await authz.createSubjectAccessReview({
        body: {
          spec: {
            user: `system:serviceaccount:${saNs}:${sa}`,
            groups: ['system:serviceaccounts', `system:serviceaccounts:${saNs}`, 'system:authenticated'],
            resourceAttributes: {
              verb,
              resource,
              group: o.group ?? '',
              ...(o.sub ? { subresource: o.sub } : {}),
              ...(o.name ? { name: o.name } : {}),
              ...(o.namespace !== '' ? { namespace: o.namespace ?? fnNs.name } : {}),
            },
          },
        },
      });
      return r.status?.allowed ?? false;
    };
    const logs = { namespace: logsNs.name };
    const cp = { namespace: ns.name };
    const net = { group: 'networking.k8s.io' };
    const needed: Array<Parameters<typeof can>> = [
      ['pontoon-worker', 'create', 'pods'],
      ['pontoon-worker', 'get', 'pods'],
      ['pontoon-worker', 'list', 'pods'],
      ['pontoon-worker', 'watch', 'pods'],
      ['pontoon-worker', 'delete', 'pods'],
      ['pontoon-worker', 'patch', 'pods'], // abortAttempt marks a cancelled attempt's pod first
      ['pontoon-worker', 'get', 'pods', { sub: 'log' }],
      ['pontoon-worker', 'list', 'events'],
      ['pontoon-worker', 'create', 'deployments', { group: 'apps' }],
      ['pontoon-worker', 'patch', 'deployments', { group: 'apps' }],
      ['pontoon-worker', 'update', 'deployments', { group: 'apps', sub: 'scale' }],
      ['pontoon-worker', 'create', 'networkpolicies', net], // a spec's egress
      ['pontoon-worker', 'list', 'networkpolicies', net], // the default deny, checked at start
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
      ['pontoon-worker', 'create', 'pods', cp], // nothing in its own namespace
      ['pontoon-worker', 'get', 'secrets', cp],
      ['pontoon-worker', 'create', 'deployments', { group: 'apps', ...cp }],
      ['pontoon-worker', 'get', 'secrets'], // the functions' Secrets: referenced, never read
      ['pontoon-worker', 'list', 'secrets'],
      ['pontoon-worker', 'list', 'secrets', logs],
      ['pontoon-worker', 'update', 'pods'],
      ['pontoon-worker', 'create', 'pods', { sub: 'exec' }],
      ['pontoon-worker', 'update', 'networkpolicies', net],
      ['pontoon-worker', 'delete', 'networkpolicies', net],
      ['pontoon-worker', 'create', 'networkpolicies', { ...net, ...cp }],
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
      ['pontoon-api', 'get', 'secrets', cp],
      ['pontoon-api', 'list', 'secrets', logs],
      ['pontoon-api', 'create', 'secrets', logs],
      ['pontoon-api', 'get', 'pods'],
      ['pontoon-api', 'list', 'pods'],
      ['pontoon-api', 'create', 'pods'],
      ['pontoon-api', 'get', 'pods', { sub: 'log', ...cp }],
      ['pontoon-api', 'get', 'pods', { sub: 'log', namespace: 'default' }],
    ];
    // A function pod's ServiceAccount, the namespace default or one the operator allows: nothing
    // in the control plane's namespace (its Secrets hold the Temporal API key: workflow access),
    // no token of the worker's ServiceAccount, no way into the worker's pods, nothing in its own
    // namespace or the logs' either.
    for (const fn of ['fn:default', 'fn:reporter'] as const) {
      denied.push(
        [fn, 'get', 'secrets', { ...cp, name: 'pontoon-secrets' }],
        [fn, 'list', 'secrets', cp],
        [fn, 'get', 'configmaps', { ...cp, name: 'pontoon-config' }],
        [fn, 'list', 'pods', cp],
        [fn, 'get', 'pods', cp],
        [fn, 'create', 'pods', cp],
        [fn, 'create', 'pods', { ...cp, sub: 'exec' }],
        [fn, 'create', 'pods', { ...cp, sub: 'portforward' }],
        [fn, 'get', 'pods', { ...cp, sub: 'log' }],
        [fn, 'create', 'serviceaccounts', { ...cp, sub: 'token', name: 'pontoon-worker' }],
        [fn, 'impersonate', 'serviceaccounts', { ...cp, name: 'pontoon-worker' }],
        [fn, 'update', 'deployments', { group: 'apps', ...cp }],
        [fn, 'get', 'secrets'],
        [fn, 'list', 'secrets'],
        [fn, 'list', 'pods'],
        [fn, 'create', 'pods'],
        [fn, 'create', 'networkpolicies', net],
        [fn, 'delete', 'networkpolicies', { ...net, name: 'default-deny' }],
        [fn, 'get', 'secrets', logs],
        [fn, 'list', 'secrets', logs],
        [fn, 'list', 'namespaces', { namespace: '' }],
        [fn, 'create', 'pods', { namespace: 'default' }],
      );
    }
    for (const args of denied) expect([args, await can(...args)]).toEqual([args, false]);
  });
});
