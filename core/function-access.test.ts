import { describe, expect, it } from 'vitest';
import { parseConfig } from '../worker/config.ts';
import { type FunctionAccess, functionAccessProblems, parseFunctionAccess } from './function-access.ts';
import { functionSpecSchema } from './schema.ts';

function spec(s: Record<string, unknown>) {
  return functionSpecSchema().parse({
    apiVersion: 'pontoon.dev/v1',
    kind: 'Function',
    metadata: { name: 'acc' },
    spec: { image: 'example.invalid/acc:1', ...s },
  });
}

const access: FunctionAccess = parseFunctionAccess(
  {
    PONTOON_FUNCTION_SERVICE_ACCOUNTS: 'reporter, fns/k8s-reader:token, other/elsewhere',
    PONTOON_FUNCTION_SECRETS: 'db-readonly,reports-*,other/theirs',
    PONTOON_FUNCTION_EGRESS_ALLOW_CIDRS: '10.20.0.0/16',
  },
  'fns',
  { neverServiceAccounts: ['my-worker'], neverSecrets: ['warm-temporal'] },
);
const problems = (s: Record<string, unknown>) =>
  functionAccessProblems(spec(s), access).map((p) => [p.path.join('.'), p.message]);

describe('what a spec may use in the functions namespace', () => {
  it('the default ServiceAccount without a token, no Secrets, public egress: always', () => {
    expect(problems({})).toEqual([]);
    expect(problems({ serviceAccountName: 'default' })).toEqual([]);
    expect(problems({ network: { egress: [{ cidr: '0.0.0.0/0', ports: [443] }] } })).toEqual([]);
  });

  it('listed ServiceAccounts and Secrets (names and prefixes) of this namespace', () => {
    expect([...access.serviceAccounts.keys()]).toEqual(['reporter', 'k8s-reader']);
    expect(access.secrets).toEqual(['db-readonly', 'reports-*']);
    expect(
      problems({
        serviceAccountName: 'k8s-reader',
        automountServiceAccountToken: true,
        env: [
          { name: 'A', secretRef: { name: 'db-readonly', key: 'password' } },
          { name: 'B', secretRef: { name: 'reports-2026', key: 'token' } },
        ],
        network: { egress: [{ cidr: '10.20.3.0/24', ports: [5432] }] },
      }),
    ).toEqual([]);
  });

  it('never Pontoon’s own ServiceAccounts or Secrets, each refused at its field', () => {
    expect(
      problems({
        serviceAccountName: 'pontoon-worker',
        env: [
          { name: 'A', value: 'x' },
          { name: 'T', secretRef: { name: 'pontoon-secrets', key: 'TEMPORAL_API_KEY' } },
          { name: 'L', secretRef: { name: 'pontoon-log-0123456789abcdef-1', key: 'log' } },
          { name: 'W', secretRef: { name: 'warm-temporal', key: 'TEMPORAL_API_KEY' } },
        ],
      }),
    ).toEqual([
      [
        'spec.serviceAccountName',
        '"pontoon-worker" is a ServiceAccount of Pontoon itself; a function never runs as the worker or the API',
      ],
      [
        'spec.env.1.secretRef.name',
        'Secret "pontoon-secrets" holds credentials of Pontoon itself; functions never read it',
      ],
      ['spec.env.2.secretRef.name', expect.stringMatching(/pontoon-log-.* holds credentials of Pontoon/)],
      ['spec.env.3.secretRef.name', expect.stringMatching(/"warm-temporal" holds credentials of Pontoon/)],
    ]);
    expect(problems({ serviceAccountName: 'pontoon-api' })[0]![1]).toMatch(/of Pontoon itself/);
    expect(problems({ serviceAccountName: 'my-worker' })[0]![1]).toMatch(/of Pontoon itself/);
  });

  it('anything unlisted, the token of a ServiceAccount listed without :token, entries of other namespaces', () => {
    expect(
      problems({
        serviceAccountName: 'elsewhere',
        env: [{ name: 'S', secretRef: { name: 'theirs', key: 'k' } }],
      }),
    ).toEqual([
      [
        'spec.serviceAccountName',
        'ServiceAccount "elsewhere" is not one functions may run as in namespace fns; an operator allows it with PONTOON_FUNCTION_SERVICE_ACCOUNTS (allowed now: reporter, k8s-reader)',
      ],
      [
        'spec.env.0.secretRef.name',
        'Secret "theirs" is not one functions may read in namespace fns; an operator allows it with PONTOON_FUNCTION_SECRETS (allowed now: db-readonly, reports-*)',
      ],
    ]);
    expect(problems({ serviceAccountName: 'reporter', automountServiceAccountToken: true })).toEqual([
      [
        'spec.automountServiceAccountToken',
        'the token of ServiceAccount "reporter" may not be mounted; an operator allows it with "reporter:token" in PONTOON_FUNCTION_SERVICE_ACCOUNTS',
      ],
    ]);
    expect(problems({ automountServiceAccountToken: true })[0]![0]).toBe('spec.automountServiceAccountToken');
    expect(problems({ network: { egress: [{ cidr: '169.254.169.254/32' }] } })[0]![0]).toBe(
      'spec.network.egress.0.cidr',
    );
  });

  it('an allowlist naming Pontoon’s own is a configuration error', () => {
    expect(() => parseFunctionAccess({ PONTOON_FUNCTION_SERVICE_ACCOUNTS: 'pontoon-worker' }, 'fns')).toThrow(
      /names pontoon-worker, a ServiceAccount of Pontoon itself/,
    );
    expect(() => parseFunctionAccess({ PONTOON_FUNCTION_SECRETS: 'fns/pontoon-secrets' }, 'fns')).toThrow(
      /names pontoon-secrets, a Secret of Pontoon itself/,
    );
    expect(() => parseFunctionAccess({ PONTOON_FUNCTION_SECRETS: 'pontoon-log-*' }, 'fns')).toThrow(
      /a Secret of Pontoon itself/,
    );
    expect(() => parseFunctionAccess({ PONTOON_FUNCTION_SERVICE_ACCOUNTS: 'Bad_Name' }, 'fns')).toThrow(
      /is not \[namespace\/\]name\[:token\]/,
    );
    // Another namespace's entries are not this one's business.
    expect(
      parseFunctionAccess({ PONTOON_FUNCTION_SERVICE_ACCOUNTS: 'other/pontoon-worker' }, 'fns')
        .serviceAccounts.size,
    ).toBe(0);
    // A prefix may cover Pontoon's names; those stay refused at apply.
    const wide = parseFunctionAccess({ PONTOON_FUNCTION_SECRETS: 'pontoon-*' }, 'fns');
    expect(
      functionAccessProblems(
        spec({ env: [{ name: 'T', secretRef: { name: 'pontoon-secrets', key: 'k' } }] }),
        wide,
      ),
    ).toHaveLength(1);
  });
});

describe('worker and API configuration', () => {
  const base = { PONTOON_RUNTIME: 'kubernetes', PONTOON_KUBE_NAMESPACE: 'pontoon-functions' };
  it('functions never share the process’s own namespace, nor use its ServiceAccount or the warm observers’ Secret', () => {
    expect(() => parseConfig({ ...base, PONTOON_POD_NAMESPACE: 'pontoon-functions' })).toThrow(
      /PONTOON_KUBE_NAMESPACE is pontoon-functions, this process's own namespace/,
    );
    const c = parseConfig({
      ...base,
      PONTOON_POD_NAMESPACE: 'pontoon',
      PONTOON_POD_SERVICE_ACCOUNT: 'my-worker',
      PONTOON_WARM_TEMPORAL_SECRET: 'warm-temporal',
      PONTOON_FUNCTION_SERVICE_ACCOUNTS: 'reporter',
    });
    expect(c.kubernetes.access.neverServiceAccounts).toContain('my-worker');
    expect(c.kubernetes.access.neverSecrets).toContain('warm-temporal');
    expect(() =>
      parseConfig({
        ...base,
        PONTOON_WARM_TEMPORAL_SECRET: 'warm-temporal',
        PONTOON_FUNCTION_SECRETS: 'warm-temporal',
      }),
    ).toThrow(/PONTOON_FUNCTION_SECRETS: "warm-temporal" names warm-temporal, a Secret of Pontoon itself/);
    expect(() => parseConfig({ ...base, PONTOON_FUNCTION_EGRESS_ALLOW_CIDRS: '169.254.169.254/32' })).toThrow(
      /invalid|overlaps 169\.254\.0\.0\/16/,
    );
  });
});

describe('opened ranges and the control plane', () => {
  it('a range holding Temporal, the apiserver or the process’s own address is a configuration error', () => {
    const open = { PONTOON_FUNCTION_EGRESS_ALLOW_CIDRS: '10.20.0.0/16' };
    expect(() =>
      parseFunctionAccess(open, 'fns', {
        controlPlane: [{ address: '10.20.3.4', what: 'TEMPORAL_ADDRESS' }],
      }),
    ).toThrow(
      'PONTOON_FUNCTION_EGRESS_ALLOW_CIDRS: 10.20.0.0/16 holds 10.20.3.4 (TEMPORAL_ADDRESS); functions must never reach the control plane, so open narrower ranges',
    );
    expect(
      parseFunctionAccess(open, 'fns', {
        controlPlane: [
          { address: '10.96.0.1', what: 'the apiserver' },
          { address: 'temporal.example', what: 'TEMPORAL_ADDRESS' },
        ],
      }).egressAllow,
    ).toHaveLength(1);
    expect(() =>
      parseConfig({
        PONTOON_RUNTIME: 'kubernetes',
        TEMPORAL_ADDRESS: '[fd00::7]:7233',
        PONTOON_FUNCTION_EGRESS_ALLOW_CIDRS: 'fd00::/64',
      }),
    ).toThrow(/fd00::\/64 holds fd00::7 \(TEMPORAL_ADDRESS\)/);
    expect(() =>
      parseConfig({
        PONTOON_RUNTIME: 'kubernetes',
        KUBERNETES_SERVICE_HOST: '10.96.0.1',
        PONTOON_FUNCTION_EGRESS_ALLOW_CIDRS: '10.96.0.0/12',
      }),
    ).toThrow(/10\.96\.0\.0\/12 holds 10\.96\.0\.1 \(the apiserver\)/);
  });
});
