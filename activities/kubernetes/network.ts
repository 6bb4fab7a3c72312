/**
 * A function's declared egress (spec.network.egress, core/network.ts) as a NetworkPolicy. The
 * functions' namespace denies all traffic but DNS (deploy/functions.yaml); this adds what one
 * spec declares, for the pods that carry its label.
 *
 * One policy per distinct egress declaration, named and selected by a hash of its rules:
 * `pontoon-egress-<hash>` allows the rules to pods labelled `pontoon.dev/egress=<hash>`. A policy's
 * content is a function of its name, so an attempt of an older spec version keeps exactly what
 * its own spec declared while a newer one runs beside it, two functions declaring the same egress
 * share one policy, and a policy nobody uses any more grants nothing to anyone else (they are
 * few — one per distinct declaration — and deleting one is harmless: the next launch creates it).
 *
 * The worker creates the policy before the pod (attempt or warm Deployment): one create per
 * declaration per minute per worker (AlreadyExists is the common answer), nothing for specs that
 * declare no egress.
 */
import { createHash } from 'node:crypto';
import type { KubeConfig, V1NetworkPolicy } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { Label } from '../../core/names.ts';
import type { EgressRule } from '../../core/network.ts';
import { makePooledApiClient } from '../../kube/client.ts';
import { NetworkingV1Api } from '../../kube/client-node.ts';
import { EGRESS_LABEL, MANAGED_BY } from '../../kube/names.ts';
import { apiError, type RequestCounter } from '../../kube/requests.ts';

export { EGRESS_LABEL } from '../../kube/names.ts';

const ENSURED_FOR_MS = 60_000;

/** 16 hex characters of sha256 over the rules: the label value and the policy's name. */
export function egressHash(rules: readonly EgressRule[]): string {
  return createHash('sha256').update(JSON.stringify(rules)).digest('hex').slice(0, 16);
}

export function egressPolicyName(hash: string): string {
  return `pontoon-egress-${hash}`;
}

/** The NetworkPolicy allowing `rules` to the pods labelled with their hash. Pure. */
export function buildEgressPolicy(rules: readonly EgressRule[], namespace: string): V1NetworkPolicy {
  const hash = egressHash(rules);
  const selector = { [Label.managedBy]: MANAGED_BY, [EGRESS_LABEL]: hash };
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name: egressPolicyName(hash), namespace, labels: selector },
    spec: {
      podSelector: { matchLabels: selector },
      policyTypes: ['Egress'],
      egress: rules.map((r) => ({
        to: r.to.map((t) => ({ ipBlock: { ...t.ipBlock } })),
        ...(r.ports ? { ports: r.ports.map((p) => ({ ...p })) } : {}),
      })),
    },
  };
}

/**
 * True when a NetworkPolicy in the list isolates every pod's egress (an empty podSelector with
 * Egress among its policy types): the namespace denies by default, as deploy/functions.yaml does.
 */
export function isolatesEgress(policies: readonly V1NetworkPolicy[]): boolean {
  return policies.some((p) => {
    const sel = p.spec?.podSelector;
    const all = !sel?.matchLabels && !sel?.matchExpressions?.length;
    const types = p.spec?.policyTypes ?? (p.spec?.egress ? ['Ingress', 'Egress'] : ['Ingress']);
    return all && types.includes('Egress');
  });
}

export interface EgressPolicies {
  /** Creates the policy for `rules` unless this worker did within the last minute; returns its hash. */
  ensure(rules: readonly EgressRule[]): Promise<string>;
  /**
   * Whether the namespace denies egress by default (one list, once per worker); logs a warning
   * when it does not (functions can then reach everything, the control plane included).
   */
  checkIsolation(): Promise<boolean | undefined>;
}

export function createEgressPolicies(
  kubeConfig: KubeConfig,
  namespace: string,
  logger: Logger,
  requests: RequestCounter,
): EgressPolicies {
  const net = makePooledApiClient(kubeConfig, NetworkingV1Api);
  const ensured = new Map<string, number>();
  let isolation: Promise<boolean | undefined> | undefined;
  return {
    async ensure(rules) {
      const body = buildEgressPolicy(rules, namespace);
      const hash = body.metadata!.labels![EGRESS_LABEL]!;
      if ((ensured.get(hash) ?? 0) > Date.now()) return hash;
      try {
        requests.count('create');
        await net.createNamespacedNetworkPolicy({ namespace, body });
        logger.info({ policy: body.metadata!.name }, 'egress NetworkPolicy created');
      } catch (err) {
        const e = apiError(err);
        if (!(e.code === 409 && e.reason === 'AlreadyExists')) throw err;
      }
      ensured.set(hash, Date.now() + ENSURED_FOR_MS);
      return hash;
    },
    checkIsolation() {
      isolation ??= (async () => {
        try {
          requests.count('list');
          const list = await net.listNamespacedNetworkPolicy({ namespace });
          const ok = isolatesEgress(list.items);
          if (!ok) {
            logger.warn(
              { namespace },
              'no NetworkPolicy denies egress by default in the functions namespace: function pods can reach everything the cluster network reaches, the control plane included (deploy/functions.yaml has one)',
            );
          }
          return ok;
        } catch (err) {
          logger.warn(
            { namespace, err: apiError(err).message },
            "could not list the functions namespace's NetworkPolicies to check that egress is denied by default",
          );
          return undefined;
        }
      })();
      return isolation;
    },
  };
}
