/**
 * The worker's configuration: the shared settings every process reads (platform/config.ts) plus
 * what only the worker reads (the runtimes: pods, placement, local processes, limits). Parsed once at
 * start-up from the environment.
 */
import path from 'node:path';
import { z } from 'zod';
import { DEFAULT_KILL_GRACE_MS } from '../contract/exit.ts';
import { DEFAULT_REGISTRY, ownImageRef } from '../core/names.ts';
import { KUBERNETES_RUNTIME_DEFAULTS } from '../kube/defaults.ts';
import {
  duration,
  parseEnv,
  SharedEnv,
  type SharedEnvValues,
  setting,
  sharedFrom,
  TemporalEnv,
} from '../platform/config.ts';

/**
 * Temporal's own default sizes the cache from the V8 heap limit (~2,300 runs with a 4 GiB heap),
 * which let 1,000 executions in flight take 1.8 GiB. Executions wait most of their life on one
 * activity, so an evicted run costs one replay of a short history when its attempt ends. Since the
 * workflow modules are preloaded once per thread, a cached run is small: 300 executions in flight
 * (local runtime, dist/) peaked at 339 and 350 MiB of worker RSS with 200 cached and 321 MiB with 25:
 * ~0.1–0.2 MiB per cached run (2026-12-04), so 200 cost 20–35 MiB and a smaller default would buy little.
 */
const CACHED_WORKFLOWS_DEFAULT = 200;

/**
 * The observer image matching this version of Pontoon, in the registry `npm run images` pushes to:
 * PONTOON_REGISTRY (default the embedded 127.0.0.1:5001), repository pontoon/observer.
 */
export function defaultObserverImage(env: NodeJS.ProcessEnv = process.env): string {
  return ownImageRef(env.PONTOON_REGISTRY ?? DEFAULT_REGISTRY, 'observer');
}

/** A toleration as the Kubernetes API takes it (Equal with a value, Exists without). */
export interface PlacementToleration {
  key: string;
  operator: 'Equal' | 'Exists';
  value?: string;
  effect: 'NoSchedule' | 'PreferNoSchedule' | 'NoExecute';
}

const LABEL_KEY_RE =
  /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const LABEL_VALUE_RE = /^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/;

/** "k=v,k2=v2" → { k: 'v', k2: 'v2' } (kubectl's label syntax). */
function parseNodeSelector(v: string, ctx: z.RefinementCtx): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of v
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)) {
    const [key, value, extra] = part.split('=');
    if (
      extra !== undefined ||
      value === undefined ||
      !LABEL_KEY_RE.test(key!) ||
      !LABEL_VALUE_RE.test(value)
    ) {
      ctx.addIssue({
        code: 'custom',
        message: `"${part}" is not key=value (a label key and value), e.g. pontoon.dev/functions=true`,
      });
      continue;
    }
    out[key!] = value;
  }
  return out;
}

/** "key[=value]:Effect,…" (kubectl taint syntax) → tolerations. */
function parseTolerations(v: string, ctx: z.RefinementCtx): PlacementToleration[] {
  const out: PlacementToleration[] = [];
  for (const part of v
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)) {
    const m = /^([^=:]+)(?:=([^:]*))?:(NoSchedule|PreferNoSchedule|NoExecute)$/.exec(part);
    if (!m || !LABEL_KEY_RE.test(m[1]!) || (m[2] !== undefined && !LABEL_VALUE_RE.test(m[2]))) {
      ctx.addIssue({
        code: 'custom',
        message: `"${part}" is not key[=value]:NoSchedule|PreferNoSchedule|NoExecute, e.g. pontoon.dev/functions=true:NoSchedule`,
      });
      continue;
    }
    out.push(
      m[2] === undefined
        ? { key: m[1]!, operator: 'Exists', effect: m[3] as PlacementToleration['effect'] }
        : { key: m[1]!, operator: 'Equal', value: m[2], effect: m[3] as PlacementToleration['effect'] },
    );
  }
  return out;
}

/** Read by the worker only: the API starts whatever these hold. */
const WorkerEnv = {
  PONTOON_OBSERVER_IMAGE: setting(
    z.string().min(1).optional(),
    'worker',
    'kubernetes: observer image, the second container of attempt pods and warm replicas (`npm run images` builds and pushes it)',
    '`$PONTOON_REGISTRY/pontoon/observer:<version>`',
  ),
  PONTOON_POD_NODE_SELECTOR: setting(
    z
      .string()
      .default('')
      .transform((v, ctx) => parseNodeSelector(v, ctx)),
    'worker',
    'kubernetes: node labels every function pod must match, `key=value,…`',
    '',
  ),
  PONTOON_POD_TOLERATIONS: setting(
    z
      .string()
      .default('')
      .transform((v, ctx) => parseTolerations(v, ctx)),
    'worker',
    'kubernetes: taints every function pod tolerates, `key[=value]:NoSchedule|PreferNoSchedule|NoExecute,…`',
    '',
  ),
  PONTOON_KEEP_FAILED_PODS: setting(
    duration.default(KUBERNETES_RUNTIME_DEFAULTS.keepFailedPodsMs),
    'worker',
    'kubernetes: keep failed pods this long for debugging',
    '`0s`',
  ),
  PONTOON_POD_DELETE_DELAY: setting(
    duration.default(KUBERNETES_RUNTIME_DEFAULTS.deleteDelayMs),
    'worker',
    'kubernetes: a collected pod stays this long after its outcome was recorded (to look at it; exactly-once does not depend on it, `0s` is safe)',
    '`5s`',
  ),
  PONTOON_IMAGE_PULL_GRACE: setting(
    duration.default(KUBERNETES_RUNTIME_DEFAULTS.imagePullGraceMs),
    'worker',
    'kubernetes: image pulls may fail this long before ImageUnavailable',
    '`60s`',
  ),
  PONTOON_UNSCHEDULABLE_TIMEOUT: setting(
    duration.default(KUBERNETES_RUNTIME_DEFAULTS.unschedulableTimeoutMs),
    'worker',
    'kubernetes: a pod may stay unschedulable this long (retryable)',
    '`5m`',
  ),
  PONTOON_FAULT_KILL_AFTER_OUTCOME: setting(
    z.coerce.number().min(0).max(1).default(0),
    'worker',
    "tests only: probability that the worker SIGKILLs itself right after an attempt's outcome, before Temporal records it (`worker/faults.ts`)",
  ),
  PONTOON_LOCAL_ROOT: setting(
    z.string().optional(),
    'worker',
    'local runtime: base of relative commands and `local.cwd`',
    'cwd',
  ),
  PONTOON_LOCAL_RUN_AS: setting(
    z.string().min(1).optional(),
    'worker',
    'local runtime: user functions run as (`name`, `uid` or `uid:gid`; the worker must be root); see Security',
    "the worker's user",
  ),
  PONTOON_LOCAL_SECRETS_DIR: setting(
    z.string().optional(),
    'worker',
    'local runtime: `env[].secretRef` values, one file per key: `<dir>/<secret name>/<key>`',
    '`PONTOON_DATA_DIR/secrets`',
  ),
  PONTOON_KILL_GRACE: setting(
    duration.default(DEFAULT_KILL_GRACE_MS),
    'worker',
    'SIGTERM → SIGKILL grace on timeout and for warm replicas (cancellation: at most 2 s)',
    '`5s`',
  ),
  PONTOON_MAX_CONCURRENT_ATTEMPTS: setting(
    z.coerce.number().int().min(1).default(100),
    'worker',
    'attempts (activity tasks) one worker runs at once; a pod attempt costs the worker little',
  ),
  PONTOON_MAX_CACHED_WORKFLOWS: setting(
    z.coerce.number().int().min(0).default(CACHED_WORKFLOWS_DEFAULT),
    'worker',
    "workflow runs kept in memory between tasks (Temporal's sticky cache; 0 = off); an evicted run is replayed from its short history on its next task. ~0.1–0.2 MiB per cached run (measured)",
  ),
  PONTOON_WORKFLOW_BUNDLE: setting(
    z.string().optional(),
    'worker',
    'prebuilt workflow bundle (skips bundling at start)',
  ),
  PONTOON_METRICS_PORT: setting(
    z.coerce.number().int().min(0).max(65535).optional(),
    'worker',
    'serve Prometheus `GET /metrics` on this port',
    'off',
  ),
  PONTOON_METRICS_HOST: setting(
    z.string().min(1).default('127.0.0.1'),
    'worker',
    'address of the metrics listener (`0.0.0.0` in a pod so Prometheus can reach it)',
  ),
};

const WorkerEnvSchema = z.object({ ...TemporalEnv, ...SharedEnv, ...WorkerEnv });
type WorkerEnvValues = z.output<typeof WorkerEnvSchema> & SharedEnvValues;

/**
 * The variables a process reads, in the README table's order: Temporal's, then the shared ones,
 * then the worker's (api/config.ts adds the API's own).
 */
export const CONFIG_SETTINGS: Readonly<Record<string, z.ZodType>> = {
  ...TemporalEnv,
  ...SharedEnv,
  ...WorkerEnv,
};

function workerFrom(e: WorkerEnvValues, env: NodeJS.ProcessEnv) {
  const shared = sharedFrom(e, env);
  return {
    ...shared,
    kubernetes: {
      ...shared.kubernetes,
      observerImage: e.PONTOON_OBSERVER_IMAGE ?? defaultObserverImage(env),
      /** Node selector and tolerations of every function pod (attempts and warm replicas). */
      placement: { nodeSelector: e.PONTOON_POD_NODE_SELECTOR, tolerations: e.PONTOON_POD_TOLERATIONS },
      keepFailedPodsMs: e.PONTOON_KEEP_FAILED_PODS,
      /** PONTOON_POD_DELETE_DELAY: a collected pod stays this long after its record was stored. */
      deleteDelayMs: e.PONTOON_POD_DELETE_DELAY,
      imagePullGraceMs: e.PONTOON_IMAGE_PULL_GRACE,
      unschedulableTimeoutMs: e.PONTOON_UNSCHEDULABLE_TIMEOUT,
      /** How warm replicas' observers reach Temporal from inside the cluster. */
      warm: {
        temporalAddress: e.PONTOON_WARM_TEMPORAL_ADDRESS ?? e.TEMPORAL_ADDRESS,
        ...(e.PONTOON_WARM_TEMPORAL_SECRET ? { temporalSecret: e.PONTOON_WARM_TEMPORAL_SECRET } : {}),
      },
    },
    localRoot: path.resolve(e.PONTOON_LOCAL_ROOT ?? process.cwd()),
    /** Local runtime: the user functions run as (PONTOON_LOCAL_RUN_AS); unset: the worker's. */
    ...(e.PONTOON_LOCAL_RUN_AS ? { localRunAs: e.PONTOON_LOCAL_RUN_AS } : {}),
    /** Local runtime: where secretRef values are read (PONTOON_LOCAL_SECRETS_DIR). */
    localSecretsDir: path.resolve(e.PONTOON_LOCAL_SECRETS_DIR ?? path.join(e.PONTOON_DATA_DIR, 'secrets')),
    killGraceMs: e.PONTOON_KILL_GRACE,
    /** Activity tasks (attempts) run at once by this worker. */
    maxConcurrentAttempts: e.PONTOON_MAX_CONCURRENT_ATTEMPTS,
    /** Workflow runs cached between tasks (Temporal's sticky cache); 0 turns the cache off. */
    maxCachedWorkflows: e.PONTOON_MAX_CACHED_WORKFLOWS,
    /** Path of a workflow bundle built ahead of time (container images); bundled at start when unset. */
    ...(e.PONTOON_WORKFLOW_BUNDLE ? { workflowBundlePath: path.resolve(e.PONTOON_WORKFLOW_BUNDLE) } : {}),
    /** Worker metrics listener; undefined: off. */
    ...(e.PONTOON_METRICS_PORT !== undefined
      ? { metrics: { host: e.PONTOON_METRICS_HOST, port: e.PONTOON_METRICS_PORT } }
      : {}),
    /** Fault injection for tests (worker/faults.ts); 0 in production. */
    faults: { killAfterOutcome: e.PONTOON_FAULT_KILL_AFTER_OUTCOME },
  };
}

/** Everything the worker reads (`parseConfig`): the process config plus the runtimes' settings. */
export type WorkerConfig = ReturnType<typeof workerFrom>;
/** The kubernetes runtime's settings in a worker config. */
export type KubernetesConfig = WorkerConfig['kubernetes'];

/** The worker's whole configuration. Throws ConfigError naming every invalid variable. */
export function parseConfig(env: NodeJS.ProcessEnv = process.env): WorkerConfig {
  return workerFrom(parseEnv(WorkerEnvSchema, env), env);
}
