/**
 * Warm pools on Kubernetes: one Deployment `pontoon-warm-<function>` per warm function. Each replica
 * runs the function in serve mode (`POST /invoke`, `GET /healthz` on PONTOON_PORT) beside the
 * observer in warm mode, a Temporal worker on the task queue `pontoon-warm-<function>` that runs
 * the warm attempt activity by calling the function on localhost (observer/warm.ts).
 *
 * A replica that stops answering is restarted by the kubelet, as the local runtime replaces one:
 * the function container's liveness probe is the health check of the local pools
 * (WARM_HEALTH_CHECK: GET /healthz every 10 s, 5 s each, 3 failures in a row), and the restart
 * stops the container with SIGTERM, then SIGKILL after the kill grace (the probe's own
 * terminationGracePeriodSeconds, not the pod's, which is sized for draining a scale-down). Its
 * readiness probe takes it out of the ready count meanwhile; a startup probe gives a slow start a
 * minute before liveness counts.
 *
 * The Deployment's replica count belongs to the Scalar (the function controller workflow): a
 * changed spec updates the pod template but keeps the count the Scalar set. The manifest is built
 * by a pure function (unit-tested); the manager only sends it.
 */
import { createHash } from 'node:crypto';
import type { KubeConfig, V1Container, V1Deployment, V1EnvVar, V1Probe } from '@kubernetes/client-node';
import { ApplicationFailure } from '@temporalio/common';
import type { Logger } from 'pino';
import { WARM_PORT, warmContractEnv } from '../../contract/env.ts';
import { DEFAULT_KILL_GRACE_MS } from '../../contract/exit.ts';
import { WARM_HEALTH_CHECK } from '../../contract/warm-invoke.ts';
import { containerCommand, functionImage } from '../../core/build.ts';
import { parseDuration } from '../../core/duration.ts';
import { APPLY_FAILURES } from '../../core/failures.ts';
import {
  accessProblemsText,
  type FunctionAccess,
  functionAccessProblems,
  strictFunctionAccess,
} from '../../core/function-access.ts';
import { Label, warmDeploymentName, warmTaskQueue } from '../../core/names.ts';
import { egressRules } from '../../core/network.ts';
import type { FunctionSpec } from '../../core/schema.ts';
import { WARM_DEFAULTS } from '../../core/warm.ts';
import { makePooledApiClient } from '../../kube/client.ts';
import { AppsV1Api } from '../../kube/client-node.ts';
import { EGRESS_LABEL, FUNCTION_CONTAINER, MANAGED_BY, OBSERVER_CONTAINER } from '../../kube/names.ts';
import { apiError, type RequestCounter } from '../../kube/requests.ts';
import { createEgressPolicies } from './network.ts';
import {
  functionPodSettings,
  functionResources,
  OBSERVER_RESOURCES,
  type PodPlacement,
  RESTRICTED,
  userEnvVars,
} from './pod.ts';

/** Port of the function's server inside a warm replica (contract/env.ts). */
export { WARM_PORT };
export const SPEC_HASH_ANNOTATION = 'pontoon.dev/spec-hash';
/** Longest a scaled-down replica may take to finish its in-flight invocations. */
const MAX_DRAIN_SECONDS = 3600;
/** Longest a replica may take from container start to its first 2xx from /healthz (startup probe). */
export const WARM_START_SECONDS = 60;

/**
 * The function container's probes, all on GET /healthz. Liveness = the local pools' health check
 * (same numbers), ending in SIGTERM then SIGKILL after `killGraceSeconds`. Pure.
 */
export function warmProbes(killGraceSeconds: number): {
  startupProbe: V1Probe;
  livenessProbe: V1Probe;
  readinessProbe: V1Probe;
} {
  const httpGet = { path: '/healthz', port: WARM_PORT };
  const timeoutSeconds = Math.ceil(WARM_HEALTH_CHECK.timeoutMs / 1000);
  return {
    startupProbe: { httpGet, periodSeconds: 2, timeoutSeconds: 2, failureThreshold: WARM_START_SECONDS / 2 },
    livenessProbe: {
      httpGet,
      periodSeconds: Math.ceil(WARM_HEALTH_CHECK.periodMs / 1000),
      timeoutSeconds,
      failureThreshold: WARM_HEALTH_CHECK.failureThreshold,
      // The pod's grace is sized to drain a scale-down (a whole attempt timeout); a stuck container
      // gets the kill grace of every other process Pontoon stops. Minimum 1 (the API refuses 0).
      terminationGracePeriodSeconds: Math.max(1, Math.ceil(killGraceSeconds)),
    },
    readinessProbe: { httpGet, periodSeconds: 5, timeoutSeconds, failureThreshold: 2 },
  };
}

export interface WarmBuildOptions {
  namespace: string;
  observerImage: string;
  /** How the observer reaches Temporal from inside the cluster. */
  temporal: { address: string; namespace: string };
  /** Secret whose keys become the observer's environment (TEMPORAL_API_KEY, TLS paths…), if any. */
  temporalSecret?: string;
  placement?: PodPlacement;
  /** SIGTERM → SIGKILL grace when the liveness probe restarts a stuck function (PONTOON_KILL_GRACE); default DEFAULT_KILL_GRACE_MS (contract/exit.ts). */
  killGraceSeconds?: number;
  /** What specs may use (core/function-access.ts); default: nothing beyond the namespace default. */
  access?: FunctionAccess;
}

/** The failure type of a warm apply whose spec asks for what functions may not use (details: field, message). */
export const ACCESS_REFUSED = APPLY_FAILURES.accessRefused;

export interface WarmPoolStatus {
  function: string;
  deployment: string;
  /** Replicas the Deployment asks for. */
  replicas: number;
  readyReplicas: number;
  updatedReplicas: number;
}

/** The Deployment of a warm function, with `replicas` replicas. Pure. */
export function buildWarmDeployment(
  spec: FunctionSpec,
  replicas: number,
  opts: WarmBuildOptions,
  egressHash?: string,
): V1Deployment {
  const s = spec.spec;
  const fn = spec.metadata.name;
  const warm = s.warm;
  const perReplica = warm?.concurrencyPerReplica ?? WARM_DEFAULTS.concurrencyPerReplica;
  const timeoutSeconds = Math.ceil(parseDuration(s.execution.timeout) / 1000);
  const selector = { [Label.function]: fn, [Label.role]: 'warm' };
  const labels = { ...selector, [Label.managedBy]: MANAGED_BY };
  const contract: V1EnvVar[] = warmContractEnv(fn, WARM_PORT);
  const reserved = new Set(contract.map((e) => e.name));
  const userEnv = userEnvVars(spec, reserved);
  const resources = functionResources(spec);
  const functionContainer: V1Container = {
    name: FUNCTION_CONTAINER,
    image: functionImage(spec),
    ...containerCommand(s),
    ...(s.args ? { args: s.args } : {}),
    env: [...userEnv, ...contract],
    ports: [{ name: 'http', containerPort: WARM_PORT }],
    ...warmProbes(opts.killGraceSeconds ?? DEFAULT_KILL_GRACE_MS / 1000),
    ...(resources ? { resources } : {}),
    securityContext: RESTRICTED,
  };
  const observer: V1Container = {
    name: OBSERVER_CONTAINER,
    image: opts.observerImage,
    args: ['warm'],
    env: [
      { name: 'TEMPORAL_ADDRESS', value: opts.temporal.address },
      { name: 'TEMPORAL_NAMESPACE', value: opts.temporal.namespace },
      { name: 'PONTOON_FUNCTION', value: fn },
      { name: 'PONTOON_WARM_TASK_QUEUE', value: warmTaskQueue(fn) },
      { name: 'PONTOON_PORT', value: String(WARM_PORT) },
      { name: 'PONTOON_CONCURRENCY', value: String(perReplica) },
      { name: 'PONTOON_POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
    ],
    ...(opts.temporalSecret ? { envFrom: [{ secretRef: { name: opts.temporalSecret } }] } : {}),
    resources: OBSERVER_RESOURCES,
    securityContext: { ...RESTRICTED, readOnlyRootFilesystem: true },
  };
  const template = {
    metadata: {
      labels: { ...labels, ...(egressHash ? { [EGRESS_LABEL]: egressHash } : {}) },
      annotations: { ...(s.podAnnotations ?? {}) },
    },
    spec: {
      // A scaled-down replica stops polling at SIGTERM and finishes what it runs: up to one timeout.
      terminationGracePeriodSeconds: Math.min(MAX_DRAIN_SECONDS, timeoutSeconds + 5),
      ...functionPodSettings(spec, opts.placement),
      containers: [functionContainer, observer],
    },
  };
  const hash = createHash('sha256').update(JSON.stringify(template)).digest('hex').slice(0, 16);
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {
      name: warmDeploymentName(fn),
      namespace: opts.namespace,
      labels,
      annotations: { [SPEC_HASH_ANNOTATION]: hash },
    },
    spec: {
      replicas,
      selector: { matchLabels: selector },
      // Never fewer ready replicas than asked for during a rollout of a new spec.
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
      template,
    },
  };
}

function statusOf(fn: string, d: V1Deployment): WarmPoolStatus {
  return {
    function: fn,
    deployment: warmDeploymentName(fn),
    replicas: d.spec?.replicas ?? 0,
    readyReplicas: d.status?.readyReplicas ?? 0,
    updatedReplicas: d.status?.updatedReplicas ?? 0,
  };
}

export interface WarmPoolManager {
  /** Creates the Deployment, or updates its template and labels (keeping `replicas`, the Scalar's count). */
  ensure(spec: FunctionSpec, replicas: number): Promise<WarmPoolStatus>;
  /** Sets the replica count (the scale subresource). */
  scale(fn: string, replicas: number): Promise<WarmPoolStatus>;
  /** Deletes the Deployment; false when there was none. */
  remove(fn: string): Promise<boolean>;
  /** The Deployment's counts; null when it does not exist. */
  status(fn: string): Promise<WarmPoolStatus | null>;
}

export function createKubernetesWarmPools(
  kubeConfig: KubeConfig,
  opts: WarmBuildOptions,
  logger: Logger,
  requests: RequestCounter,
): WarmPoolManager {
  const apps = makePooledApiClient(kubeConfig, AppsV1Api);
  const { namespace } = opts;
  const access = opts.access ?? strictFunctionAccess(namespace);
  const egress = createEgressPolicies(kubeConfig, namespace, logger, requests);

  async function read(fn: string): Promise<V1Deployment | null> {
    try {
      requests.count('get');
      return await apps.readNamespacedDeployment({ name: warmDeploymentName(fn), namespace });
    } catch (err) {
      if (apiError(err).code === 404) return null;
      throw err;
    }
  }

  return {
    async ensure(spec, replicas) {
      const fn = spec.metadata.name;
      // Refused before anything is created: the apply fails and the controller keeps the spec it had.
      const refused = functionAccessProblems(spec, access);
      if (refused.length) {
        throw ApplicationFailure.create({
          type: ACCESS_REFUSED,
          message: `the spec asks for what functions may not use in namespace ${namespace}: ${accessProblemsText(refused)}`,
          nonRetryable: true,
          details: refused.map((p) => ({ field: p.path.join('.'), message: p.message })),
        });
      }
      const { rules } = egressRules(spec.spec.network, access.egressAllow);
      const egressHash = rules.length ? await egress.ensure(rules) : undefined;
      const body = buildWarmDeployment(spec, replicas, opts, egressHash);
      for (let tries = 0; ; tries++) {
        const existing = await read(fn);
        try {
          if (!existing) {
            requests.count('create');
            const created = await apps.createNamespacedDeployment({ namespace, body });
            logger.info({ function: fn, replicas }, 'warm pool created');
            return statusOf(fn, created);
          }
          const same =
            existing.metadata?.annotations?.[SPEC_HASH_ANNOTATION] ===
              body.metadata?.annotations?.[SPEC_HASH_ANNOTATION] && existing.spec?.replicas === replicas;
          if (same) return statusOf(fn, existing);
          body.metadata = { ...body.metadata, resourceVersion: existing.metadata?.resourceVersion };
          requests.count('update');
          const updated = await apps.replaceNamespacedDeployment({
            name: warmDeploymentName(fn),
            namespace,
            body,
          });
          logger.info({ function: fn, replicas }, 'warm pool updated');
          return statusOf(fn, updated);
        } catch (err) {
          const { code } = apiError(err);
          // Someone changed it between read and write (409), or created it (AlreadyExists): read again.
          if (code === 409 && tries < 5) continue;
          throw err;
        }
      }
    },
    async scale(fn, replicas) {
      requests.count('update');
      await apps.replaceNamespacedDeploymentScale({
        name: warmDeploymentName(fn),
        namespace,
        body: { metadata: { name: warmDeploymentName(fn), namespace }, spec: { replicas } },
      });
      logger.info({ function: fn, replicas }, 'warm pool scaled');
      const d = await read(fn);
      if (!d) throw new Error(`the warm pool Deployment ${warmDeploymentName(fn)} disappeared`);
      return statusOf(fn, d);
    },
    async remove(fn) {
      try {
        requests.count('delete');
        await apps.deleteNamespacedDeployment({
          name: warmDeploymentName(fn),
          namespace,
          propagationPolicy: 'Background',
        });
        logger.info({ function: fn }, 'warm pool deleted');
        return true;
      } catch (err) {
        if (apiError(err).code === 404) return false;
        throw err;
      }
    },
    async status(fn) {
      const d = await read(fn);
      return d ? statusOf(fn, d) : null;
    },
  };
}
