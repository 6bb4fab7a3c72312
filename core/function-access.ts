/**
 * What a spec may use of the functions' namespace (kubernetes runtime): which ServiceAccount its pods
 * run as (and whether its token is mounted), which Secrets `env[].secretRef` may name, and where its
 * pods may connect to (core/network.ts). A spec author chooses these, and a pod can read every
 * Secret it references and act with every permission its ServiceAccount has, so the operator lists
 * what specs may use:
 *
 *   PONTOON_FUNCTION_SERVICE_ACCOUNTS  [namespace/]name[:token],…  ("reporter,etl:token")
 *   PONTOON_FUNCTION_SECRETS           [namespace/]name or prefix*,… ("db-readonly,reports-*")
 *   PONTOON_FUNCTION_EGRESS_ALLOW_CIDRS  non-public ranges specs may declare (core/network.ts)
 *
 * An entry with a namespace counts only where functions run in that namespace
 * (PONTOON_KUBE_NAMESPACE), so one ConfigMap can serve several; an entry without one means the
 * functions' namespace. `:token` lets specs mount that ServiceAccount's token
 * (`automountServiceAccountToken: true`); without it no token is mounted. The namespace's `default`
 * ServiceAccount (what a spec without serviceAccountName runs as) needs no entry, but its token does.
 *
 * Never allowed, whatever the lists say: Pontoon's own ServiceAccounts (pontoon-worker, pontoon-api,
 * and the worker's own when it runs in a pod) and Secrets (pontoon-secrets, the warm observers'
 * PONTOON_WARM_TEMPORAL_SECRET, the attempt logs pontoon-log-*). The API checks a spec at apply
 * (400 spec_invalid at the field's line); the worker checks again before it creates a pod or a
 * warm Deployment, so a spec that reached Temporal another way still cannot use them.
 *
 * Pure module.
 */
import type { NetworkSpec } from './network.ts';
import {
  cidrText,
  EGRESS_ALLOW_CIDRS_ENV,
  type EgressAllowCidrs,
  EgressAllowCidrsError,
  egressRules,
  parseCidr,
  parseEgressAllowCidrs,
  within,
} from './network.ts';

export const SERVICE_ACCOUNTS_ENV = 'PONTOON_FUNCTION_SERVICE_ACCOUNTS';
export const SECRETS_ENV = 'PONTOON_FUNCTION_SECRETS';

/** The ServiceAccounts of deploy/: a function never runs as the worker or the API. */
export const CONTROL_PLANE_SERVICE_ACCOUNTS = ['pontoon-worker', 'pontoon-api'] as const;
/**
 * Secrets of the control plane (deploy/README.md: the Temporal API key and API keys go in
 * pontoon-secrets) and attempt logs (logs/secret.ts): never readable by a function, even in a
 * cluster where they share its namespace.
 */
export const CONTROL_PLANE_SECRETS = ['pontoon-secrets', 'pontoon-log-*'] as const;

export interface FunctionAccess {
  /** Where functions run (PONTOON_KUBE_NAMESPACE): entries of other namespaces are left out. */
  namespace: string;
  /** ServiceAccounts specs may name, and whether their token may be mounted. */
  serviceAccounts: ReadonlyMap<string, { token: boolean }>;
  /** Secrets specs may reference: names, or prefixes ending in "*". */
  secrets: readonly string[];
  /** Non-public ranges specs may declare in network.egress. */
  egressAllow: EgressAllowCidrs;
  /** ServiceAccounts never allowed (the control plane's). */
  neverServiceAccounts: readonly string[];
  /** Secrets never allowed (names or prefixes ending in "*"). */
  neverSecrets: readonly string[];
}

export class FunctionAccessConfigError extends Error {
  override name = 'FunctionAccessConfigError';
}

const NAME_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const NAMESPACE_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

function matches(name: string, pattern: string): boolean {
  return pattern.endsWith('*') ? name.startsWith(pattern.slice(0, -1)) : name === pattern;
}

function items(text: string | undefined): string[] {
  return (text ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

/** `[namespace/]rest` → rest when it concerns `namespace`, else undefined. */
function forNamespace(item: string, namespace: string, env: string): string | undefined {
  const slash = item.indexOf('/');
  if (slash < 0) return item;
  const ns = item.slice(0, slash);
  if (!NAMESPACE_RE.test(ns)) {
    throw new FunctionAccessConfigError(`${env}: "${item}": "${ns}" is not a namespace name`);
  }
  return ns === namespace ? item.slice(slash + 1) : undefined;
}

/**
 * The operator's lists from the environment. `ownServiceAccount` and `ownSecrets` add to the never
 * lists (the worker's in-cluster ServiceAccount, PONTOON_WARM_TEMPORAL_SECRET). An entry that names
 * something never allowed is a configuration error, so a mistake shows at start, not at apply.
 */
export function parseFunctionAccess(
  env: Record<string, string | undefined>,
  namespace: string,
  extra: {
    neverServiceAccounts?: string[];
    neverSecrets?: string[];
    /** Addresses of the control plane this process knows (its own, Temporal's, the apiserver's). */
    controlPlane?: { address: string; what: string }[];
  } = {},
): FunctionAccess {
  const neverServiceAccounts = [...CONTROL_PLANE_SERVICE_ACCOUNTS, ...(extra.neverServiceAccounts ?? [])];
  const neverSecrets = [...CONTROL_PLANE_SECRETS, ...(extra.neverSecrets ?? [])];
  const serviceAccounts = new Map<string, { token: boolean }>();
  for (const item of items(env[SERVICE_ACCOUNTS_ENV])) {
    const here = forNamespace(item, namespace, SERVICE_ACCOUNTS_ENV);
    const m = /^([^:]+)(?::(token))?$/.exec(here ?? item.slice(item.indexOf('/') + 1));
    if (!m || !NAME_RE.test(m[1]!)) {
      throw new FunctionAccessConfigError(
        `${SERVICE_ACCOUNTS_ENV}: "${item}" is not [namespace/]name[:token], e.g. reporter or ${namespace}/etl:token`,
      );
    }
    if (here === undefined) continue;
    if (neverServiceAccounts.includes(m[1]!)) {
      throw new FunctionAccessConfigError(
        `${SERVICE_ACCOUNTS_ENV}: "${item}" names ${m[1]}, a ServiceAccount of Pontoon itself; functions never run as it`,
      );
    }
    serviceAccounts.set(m[1]!, { token: m[2] === 'token' || serviceAccounts.get(m[1]!)?.token === true });
  }
  const secrets: string[] = [];
  for (const item of items(env[SECRETS_ENV])) {
    const here = forNamespace(item, namespace, SECRETS_ENV);
    const name = here ?? item.slice(item.indexOf('/') + 1);
    const bare = name.endsWith('*') ? name.slice(0, -1) : name;
    if (!(name.endsWith('*') ? bare === '' || /^[a-z0-9][-a-z0-9.]*$/.test(bare) : NAME_RE.test(bare))) {
      throw new FunctionAccessConfigError(
        `${SECRETS_ENV}: "${item}" is not [namespace/]name or [namespace/]prefix*, e.g. db-readonly or reports-*`,
      );
    }
    if (here === undefined) continue;
    const never = neverSecrets.find((n) => matches(name, n));
    if (never) {
      throw new FunctionAccessConfigError(
        `${SECRETS_ENV}: "${item}" names ${never}, a Secret of Pontoon itself; functions never read it`,
      );
    }
    secrets.push(name);
  }
  let egressAllow: EgressAllowCidrs;
  try {
    egressAllow = parseEgressAllowCidrs(env[EGRESS_ALLOW_CIDRS_ENV]);
  } catch (err) {
    if (err instanceof EgressAllowCidrsError) throw new FunctionAccessConfigError(err.message);
    throw err;
  }
  // An opened range holding a control-plane address would let specs declare the control plane.
  for (const { address, what } of extra.controlPlane ?? []) {
    const c = parseCidr(address);
    if (typeof c === 'string') continue; // a name: not judged here
    const holder = egressAllow.find((o) => within(c, o));
    if (holder) {
      throw new FunctionAccessConfigError(
        `${EGRESS_ALLOW_CIDRS_ENV}: ${cidrText(holder)} holds ${address} (${what}); functions must never reach the control plane, so open narrower ranges`,
      );
    }
  }
  return { namespace, serviceAccounts, secrets, egressAllow, neverServiceAccounts, neverSecrets };
}

/** No ServiceAccount or Secret allowed, no range opened: what a worker without the variables allows. */
export function strictFunctionAccess(namespace: string): FunctionAccess {
  return parseFunctionAccess({}, namespace);
}

export interface AccessProblem {
  path: (string | number)[];
  message: string;
}

/** The parts of a spec this worker's cluster may run, as the fields they need. */
export interface AccessSpec {
  spec: {
    serviceAccountName?: string | undefined;
    automountServiceAccountToken?: boolean | undefined;
    env: readonly { name: string; secretRef?: { name: string; key: string } | undefined }[];
    network?: NetworkSpec | undefined;
  };
}

function listed(names: Iterable<string>): string {
  const all = [...names];
  return all.length ? all.join(', ') : 'none';
}

/** Why a spec may not run in the functions' namespace, each problem at its field; [] when it may. */
export function functionAccessProblems(spec: AccessSpec, access: FunctionAccess): AccessProblem[] {
  const s = spec.spec;
  const problems: AccessProblem[] = [];
  const ns = access.namespace;
  const sa = s.serviceAccountName ?? 'default';
  if (access.neverServiceAccounts.includes(sa)) {
    problems.push({
      path: ['spec', 'serviceAccountName'],
      message: `"${sa}" is a ServiceAccount of Pontoon itself; a function never runs as the worker or the API`,
    });
  } else if (sa !== 'default' && !access.serviceAccounts.has(sa)) {
    problems.push({
      path: ['spec', 'serviceAccountName'],
      message: `ServiceAccount "${sa}" is not one functions may run as in namespace ${ns}; an operator allows it with ${SERVICE_ACCOUNTS_ENV} (allowed now: ${listed(access.serviceAccounts.keys())})`,
    });
  } else if (s.automountServiceAccountToken === true && !access.serviceAccounts.get(sa)?.token) {
    problems.push({
      path: ['spec', 'automountServiceAccountToken'],
      message: `the token of ServiceAccount "${sa}" may not be mounted; an operator allows it with "${sa}:token" in ${SERVICE_ACCOUNTS_ENV}`,
    });
  }
  s.env.forEach((e, i) => {
    if (!e.secretRef) return;
    const name = e.secretRef.name;
    const path = ['spec', 'env', i, 'secretRef', 'name'];
    if (access.neverSecrets.some((n) => matches(name, n))) {
      problems.push({
        path,
        message: `Secret "${name}" holds credentials of Pontoon itself; functions never read it`,
      });
    } else if (!access.secrets.some((p) => matches(name, p))) {
      problems.push({
        path,
        message: `Secret "${name}" is not one functions may read in namespace ${ns}; an operator allows it with ${SECRETS_ENV} (allowed now: ${listed(access.secrets)})`,
      });
    }
  });
  problems.push(...egressRules(s.network, access.egressAllow).problems);
  return problems;
}

/** One line naming every problem, for messages and logs. */
export function accessProblemsText(problems: readonly AccessProblem[]): string {
  return problems.map((p) => `${p.path.join('.')}: ${p.message}`).join('; ');
}
