/**
 * Process configuration, parsed once at start-up from the environment. Temporal's own variable
 * names (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS_*) so existing setups
 * just work; Pontoon's own settings are PONTOON_*.
 */
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { DURATION_HELP, isDuration, parseDuration } from '../core/duration.ts';
import {
  type FunctionAccess,
  FunctionAccessConfigError,
  parseFunctionAccess,
  SECRETS_ENV,
  SERVICE_ACCOUNTS_ENV,
} from '../core/function-access.ts';
import { ownImageRef, TASK_QUEUE } from '../core/names.ts';
import { EGRESS_ALLOW_CIDRS_ENV } from '../core/network.ts';
import { KUBERNETES_RUNTIME_DEFAULTS } from '../kube/defaults.ts';
import {
  DEFAULT_LOG_MAX_BYTES,
  DEFAULT_LOG_RETENTION_MS,
  DEFAULT_LOG_SWEEP_INTERVAL_MS,
  MAX_LOG_MAX_BYTES,
} from '../logs/store.ts';
import { DEFAULT_REGISTRY } from '../packaging/registry.ts';
import { PayloadKeyConfigError, type PayloadKeys, parsePayloadKeys } from './payload-codec.ts';

const bool = z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1');
const duration = z
  .string()
  .refine(isDuration, { error: `must be ${DURATION_HELP}` })
  .transform(parseDuration);

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

/** Who reads a variable: the README's configuration table says it per row. */
export type SettingReader = 'worker' | 'API' | 'worker, API' | 'worker, API, CLI, warm observers';

/**
 * One environment variable's schema with its documentation attached (zod metadata): `description`
 * is the README's "meaning", `defaultText` its "default" column when the default is not a literal
 * a reader would type (durations in ms, computed values), `readBy` who reads it.
 * `configurationTable()` turns these into the README's table, so each fact is declared here only.
 */
export function setting<T extends z.ZodType>(
  schema: T,
  readBy: SettingReader,
  description: string,
  defaultText?: string,
): T {
  return schema.meta({ description, readBy, ...(defaultText !== undefined ? { defaultText } : {}) });
}

/** Temporal connection and payload encryption: every process that talks to Temporal. */
const TemporalEnv = {
  TEMPORAL_ADDRESS: setting(
    z.string().default('localhost:7233'),
    'worker, API, CLI, warm observers',
    'host:port of the Temporal frontend',
  ),
  TEMPORAL_NAMESPACE: setting(
    z.string().default('default'),
    'worker, API, CLI, warm observers',
    'Temporal namespace',
  ),
  TEMPORAL_API_KEY: setting(
    z.string().optional(),
    'worker, API, CLI, warm observers',
    'API key (Temporal Cloud); turns TLS on',
  ),
  TEMPORAL_TLS: setting(
    bool.optional(),
    'worker, API, CLI, warm observers',
    'force TLS on or off (`true`/`false`)',
    'auto',
  ),
  TEMPORAL_TLS_CLIENT_CERT_PATH: setting(
    z.string().optional(),
    'worker, API, CLI, warm observers',
    'mTLS client certificate (with TEMPORAL_TLS_CLIENT_KEY_PATH)',
  ),
  TEMPORAL_TLS_CLIENT_KEY_PATH: setting(
    z.string().optional(),
    'worker, API, CLI, warm observers',
    'mTLS client key (with TEMPORAL_TLS_CLIENT_CERT_PATH)',
  ),
  TEMPORAL_TLS_SERVER_CA_CERT_PATH: setting(
    z.string().optional(),
    'worker, API, CLI, warm observers',
    'CA certificate the server is checked against',
  ),
  TEMPORAL_TLS_SERVER_NAME: setting(
    z.string().optional(),
    'worker, API, CLI, warm observers',
    'server name override for TLS',
  ),
  PONTOON_PAYLOAD_KEYS: setting(
    z.string().optional(),
    'worker, API, CLI, warm observers',
    'payload encryption keys `id:base64,…` (32 bytes each; worker/payload-codec.ts); unset (and no file): payloads are stored as they are. See Security',
  ),
  PONTOON_PAYLOAD_KEYS_FILE: setting(
    z.string().optional(),
    'worker, API, CLI, warm observers',
    'a mounted file of payload keys, `id:base64` a line (`#` comments; a Secret volume)',
  ),
  PONTOON_PAYLOAD_KEY_ID: setting(
    z.string().optional(),
    'worker, API, CLI, warm observers',
    'the payload key that encrypts; every listed key decrypts (rotation)',
    'last key listed',
  ),
};

/** What both the worker and the API need besides Temporal: the process, the functions' home, logs. */
const SharedEnv = {
  PONTOON_TASK_QUEUE: setting(
    z.string().min(1).default(TASK_QUEUE),
    'worker, API',
    'task queue of the worker',
  ),
  PONTOON_RUNTIME: setting(
    z.enum(['local', 'kubernetes']).default('local'),
    'worker, API',
    'where attempts run: `local` processes or `kubernetes` pods',
  ),
  KUBECONFIG: setting(
    z.string().optional(),
    'worker, API',
    "kubernetes: kubeconfig file (unset: the pod's service account, then `~/.kube/config`)",
    'in-cluster',
  ),
  PONTOON_KUBE_NAMESPACE: setting(
    z.string().min(1).default('default'),
    'worker, API',
    "kubernetes: namespace of attempt pods, warm Deployments and egress NetworkPolicies (`pontoon-functions` in `deploy/`; never the worker's own)",
  ),
  [SERVICE_ACCOUNTS_ENV]: setting(
    z.string().default(''),
    'worker, API',
    'kubernetes: ServiceAccounts specs may run as, `[namespace/]name[:token],…` (`:token`: its token may be mounted); see Security',
    '',
  ),
  [SECRETS_ENV]: setting(
    z.string().default(''),
    'worker, API',
    'kubernetes: Secrets `env[].secretRef` may name, `[namespace/]name` or `[namespace/]prefix*`, comma-separated',
    '',
  ),
  [EGRESS_ALLOW_CIDRS_ENV]: setting(
    z.string().default(''),
    'worker, API',
    'kubernetes: non-public ranges `spec.network.egress` may declare (`10.20.0.0/16,…`; never link-local)',
    '',
  ),
  PONTOON_POD_NAMESPACE: setting(
    z.string().optional(),
    'worker, API',
    "the process's own namespace in a pod (`deploy/` sets it from the downward API): functions never run in it",
  ),
  PONTOON_POD_SERVICE_ACCOUNT: setting(
    z.string().optional(),
    'worker, API',
    "the process's own ServiceAccount in a pod (`deploy/` sets it from the downward API): functions never run as it",
  ),
  PONTOON_WARM_TEMPORAL_ADDRESS: setting(
    z.string().min(1).optional(),
    'worker, API',
    "kubernetes: Temporal as warm replicas' observers reach it from their pods",
    '`TEMPORAL_ADDRESS`',
  ),
  PONTOON_WARM_TEMPORAL_SECRET: setting(
    z.string().min(1).optional(),
    'worker, API',
    "kubernetes: Secret whose keys become the warm observers' environment (`TEMPORAL_API_KEY`, `TEMPORAL_TLS_*`); specs may never name it",
  ),
  PONTOON_DATA_DIR: setting(
    z.string().default('.pontoon'),
    'worker, API',
    'local runtime: attempt folders, logs, dev server database',
  ),
  PONTOON_LOG_LEVEL: setting(
    z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal']).default('info'),
    'worker, API',
    'pino level',
  ),
  PONTOON_LOG_FORMAT: setting(
    z.enum(['json', 'pretty']).optional(),
    'worker, API',
    '`json` (one record a line) or `pretty` (readable lines); `pontoon dev` defaults to `pretty` when stdout is a terminal',
    '`json`',
  ),
  OTEL_EXPORTER_OTLP_ENDPOINT: setting(
    z.string().optional(),
    'worker, API',
    'OTLP/HTTP collector base URL (e.g. `http://otel-collector:4318`); traces are off when unset (the exporter reads the other `OTEL_*` variables itself)',
  ),
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: setting(
    z.string().optional(),
    'worker, API',
    'OTLP/HTTP traces URL (`…/v1/traces`), overrides `OTEL_EXPORTER_OTLP_ENDPOINT` for traces',
  ),
  OTEL_SERVICE_NAME: setting(
    z.string().optional(),
    'worker, API',
    '`service.name` of exported spans',
    '`pontoon-worker` / `pontoon-api`',
  ),
  PONTOON_LOG_STORE: setting(
    z.enum(['dir', 'secret']).optional(),
    'worker, API',
    'where logs of finished attempts are kept: `dir` (local runtime; or a volume shared by workers and API) or `secret` (a Secret per attempt; kubernetes default)',
    '`dir` / `secret`',
  ),
  PONTOON_LOG_DIR: setting(
    z.string().optional(),
    'worker, API',
    'kubernetes runtime with the `dir` store: the shared folder',
    '`PONTOON_DATA_DIR`',
  ),
  PONTOON_LOG_NAMESPACE: setting(
    z.string().min(1).optional(),
    'worker, API',
    'namespace of the log Secrets (`pontoon-logs` in `deploy/`)',
    '`PONTOON_KUBE_NAMESPACE`',
  ),
  PONTOON_LOG_MAX_BYTES: setting(
    z.coerce.number().int().min(1024).max(MAX_LOG_MAX_BYTES).default(DEFAULT_LOG_MAX_BYTES),
    'worker, API',
    `kubernetes: bytes of log kept per attempt, the end (1024–${MAX_LOG_MAX_BYTES}; a marker line says what was dropped)`,
  ),
  PONTOON_LOG_RETENTION: setting(
    duration.default(DEFAULT_LOG_RETENTION_MS),
    'worker, API',
    'how long logs of finished attempts are kept',
    '`24h`',
  ),
  PONTOON_LOG_SWEEP_INTERVAL: setting(
    duration.default(DEFAULT_LOG_SWEEP_INTERVAL_MS),
    'worker, API',
    'how often each worker deletes logs past their retention',
    '`10m`',
  ),
};

/** Read by the worker only: the API starts whatever these hold. */
const WorkerEnv = {
  PONTOON_OBSERVER_IMAGE: setting(
    z.string().min(1).optional(),
    'worker',
    'kubernetes: observer sidecar image (`npm run images` builds and pushes it)',
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
    duration.default(5000),
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

const TemporalEnvSchema = z.object(TemporalEnv);
const SharedEnvSchema = z.object({ ...TemporalEnv, ...SharedEnv });
const WorkerEnvSchema = z.object({ ...TemporalEnv, ...SharedEnv, ...WorkerEnv });
type SharedEnvValues = z.output<typeof SharedEnvSchema>;
type WorkerEnvValues = z.output<typeof WorkerEnvSchema>;

/**
 * The variables a process reads, in the README table's order: Temporal's, then the shared ones,
 * then the worker's (api/config.ts adds the API's own).
 */
export const CONFIG_SETTINGS: Readonly<Record<string, z.ZodType>> = {
  ...TemporalEnv,
  ...SharedEnv,
  ...WorkerEnv,
};

export class ConfigError extends Error {
  override name = 'ConfigError';
}

function parseEnv<S extends z.ZodType>(schema: S, env: NodeJS.ProcessEnv): z.output<S> {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`invalid configuration in the environment:\n${lines.join('\n')}`);
  }
  return parsed.data;
}

/**
 * How to reach Temporal, with payload encryption (TEMPORAL_* and PONTOON_PAYLOAD_*). Written out,
 * not inferred, because it is part of the public client API (client/index.ts).
 */
export interface TemporalConfig {
  /** host:port of the frontend. */
  address: string;
  namespace: string;
  apiKey?: string;
  /**
   * Payload encryption (PONTOON_PAYLOAD_KEYS / _FILE / _KEY_ID): every client and worker made from
   * this config encrypts payloads with `encryptKeyId` and decrypts with any key held. Undefined:
   * payloads are stored as they are (encrypted ones still fail with the id of the key they need).
   */
  payloadKeys?: PayloadKeys;
  /** Present when TLS is on (TEMPORAL_TLS, or implied by an API key or certificate paths). */
  tls?: { clientCertPath?: string; clientKeyPath?: string; serverCaCertPath?: string; serverName?: string };
}

function temporalFrom(e: z.output<typeof TemporalEnvSchema>, env: NodeJS.ProcessEnv): TemporalConfig {
  const wantTls =
    e.TEMPORAL_TLS ??
    Boolean(e.TEMPORAL_API_KEY || e.TEMPORAL_TLS_CLIENT_CERT_PATH || e.TEMPORAL_TLS_SERVER_CA_CERT_PATH);
  if (Boolean(e.TEMPORAL_TLS_CLIENT_CERT_PATH) !== Boolean(e.TEMPORAL_TLS_CLIENT_KEY_PATH)) {
    throw new ConfigError(
      'TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH must be set together (mTLS)',
    );
  }
  let payloadKeys: PayloadKeys | undefined;
  try {
    payloadKeys = parsePayloadKeys(env);
  } catch (err) {
    if (err instanceof PayloadKeyConfigError) throw new ConfigError(err.message);
    throw err;
  }
  return {
    address: e.TEMPORAL_ADDRESS,
    namespace: e.TEMPORAL_NAMESPACE,
    ...(e.TEMPORAL_API_KEY ? { apiKey: e.TEMPORAL_API_KEY } : {}),
    ...(payloadKeys ? { payloadKeys } : {}),
    ...(wantTls
      ? {
          tls: {
            clientCertPath: e.TEMPORAL_TLS_CLIENT_CERT_PATH,
            clientKeyPath: e.TEMPORAL_TLS_CLIENT_KEY_PATH,
            serverCaCertPath: e.TEMPORAL_TLS_SERVER_CA_CERT_PATH,
            serverName: e.TEMPORAL_TLS_SERVER_NAME,
          },
        }
      : {}),
  };
}

function sharedFrom(e: SharedEnvValues, env: NodeJS.ProcessEnv) {
  return {
    temporal: temporalFrom(e, env),
    taskQueue: e.PONTOON_TASK_QUEUE,
    runtime: e.PONTOON_RUNTIME,
    kubernetes: {
      /** Kubeconfig file; undefined: in-cluster service account, then ~/.kube/config. */
      ...(e.KUBECONFIG ? { kubeconfigPath: path.resolve(e.KUBECONFIG) } : {}),
      namespace: e.PONTOON_KUBE_NAMESPACE,
      /** ServiceAccounts, Secrets and address ranges specs may use (core/function-access.ts). */
      access: accessConfig(e, env),
    },
    dataDir: path.resolve(e.PONTOON_DATA_DIR),
    logLevel: e.PONTOON_LOG_LEVEL,
    /** PONTOON_LOG_FORMAT; unset: the command's default (JSON, or `pontoon dev` in a terminal: pretty). */
    ...(e.PONTOON_LOG_FORMAT ? { logFormat: e.PONTOON_LOG_FORMAT } : {}),
    /** OpenTelemetry traces over OTLP/HTTP; undefined (no OTLP endpoint in the environment): off. */
    // The exporter reads the OTEL_* variables itself (endpoint, headers, timeouts): the standard names work.
    ...(e.OTEL_EXPORTER_OTLP_ENDPOINT || e.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT
      ? { tracing: e.OTEL_SERVICE_NAME ? { serviceName: e.OTEL_SERVICE_NAME } : {} }
      : {}),
    /** Logs of finished attempts (logs/): where, how much of each, how long. */
    logs: logsConfig(e),
  };
}

/**
 * What the worker and the API both read (`parseProcessConfig`): Temporal, the task queue, the
 * runtime and the functions' namespace with what specs may use there, logging, tracing, attempt logs.
 */
export type ProcessConfig = ReturnType<typeof sharedFrom>;

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
/** Logs of finished attempts (logs/): where, how much of each, how long. */
export type LogsConfig = ProcessConfig['logs'];

/** TEMPORAL_* and PONTOON_PAYLOAD_* only: what a warm observer or a client needs. Throws ConfigError. */
export function parseTemporalConfig(env: NodeJS.ProcessEnv = process.env): TemporalConfig {
  return temporalFrom(parseEnv(TemporalEnvSchema, env), env);
}

/**
 * What the worker and the API share (the API's entry point): a variable only the worker reads
 * cannot stop the API from starting. Throws ConfigError naming every invalid variable.
 */
export function parseProcessConfig(env: NodeJS.ProcessEnv = process.env): ProcessConfig {
  return sharedFrom(parseEnv(SharedEnvSchema, env), env);
}

/** The worker's whole configuration. Throws ConfigError naming every invalid variable. */
export function parseConfig(env: NodeJS.ProcessEnv = process.env): WorkerConfig {
  return workerFrom(parseEnv(WorkerEnvSchema, env), env);
}

/**
 * Addresses of the control plane this process can name without asking anyone: Temporal's (when an
 * IP), the apiserver's Service (KUBERNETES_SERVICE_HOST), and in a pod its own (the pod network).
 */
function controlPlaneAddresses(
  e: SharedEnvValues,
  env: NodeJS.ProcessEnv,
): { address: string; what: string }[] {
  const host = (hostPort: string) => {
    const bracketed = /^\[([^\]]+)\](:\d+)?$/.exec(hostPort);
    if (bracketed) return bracketed[1]!;
    return hostPort.split(':').length === 2 ? hostPort.slice(0, hostPort.lastIndexOf(':')) : hostPort;
  };
  const out = [
    { address: host(e.TEMPORAL_ADDRESS), what: 'TEMPORAL_ADDRESS' },
    ...(e.PONTOON_WARM_TEMPORAL_ADDRESS
      ? [{ address: host(e.PONTOON_WARM_TEMPORAL_ADDRESS), what: 'PONTOON_WARM_TEMPORAL_ADDRESS' }]
      : []),
    ...(env.KUBERNETES_SERVICE_HOST ? [{ address: env.KUBERNETES_SERVICE_HOST, what: 'the apiserver' }] : []),
  ];
  if (e.PONTOON_POD_NAMESPACE) {
    for (const nics of Object.values(os.networkInterfaces()))
      for (const nic of nics ?? [])
        if (!nic.internal) out.push({ address: nic.address, what: "this process's pod address" });
  }
  return out;
}

/** What specs may use in the functions' namespace, which must not be the control plane's. */
function accessConfig(e: SharedEnvValues, env: NodeJS.ProcessEnv): FunctionAccess {
  const ns = e.PONTOON_KUBE_NAMESPACE;
  if (e.PONTOON_RUNTIME === 'kubernetes' && e.PONTOON_POD_NAMESPACE === ns) {
    throw new ConfigError(
      `PONTOON_KUBE_NAMESPACE is ${ns}, this process's own namespace: functions run arbitrary images and must not share a namespace (its Secrets and ServiceAccounts) with Pontoon; use another one (deploy/: pontoon-functions)`,
    );
  }
  try {
    const lists = {
      [SERVICE_ACCOUNTS_ENV]: e[SERVICE_ACCOUNTS_ENV],
      [SECRETS_ENV]: e[SECRETS_ENV],
      [EGRESS_ALLOW_CIDRS_ENV]: e[EGRESS_ALLOW_CIDRS_ENV],
    };
    return parseFunctionAccess(lists, ns, {
      neverServiceAccounts: e.PONTOON_POD_SERVICE_ACCOUNT ? [e.PONTOON_POD_SERVICE_ACCOUNT] : [],
      neverSecrets: e.PONTOON_WARM_TEMPORAL_SECRET ? [e.PONTOON_WARM_TEMPORAL_SECRET] : [],
      controlPlane: controlPlaneAddresses(e, env),
    });
  } catch (err) {
    if (err instanceof FunctionAccessConfigError) throw new ConfigError(err.message);
    throw err;
  }
}

function logsConfig(e: SharedEnvValues) {
  const store = e.PONTOON_LOG_STORE ?? (e.PONTOON_RUNTIME === 'kubernetes' ? 'secret' : 'dir');
  if (store === 'secret' && e.PONTOON_RUNTIME !== 'kubernetes') {
    throw new ConfigError(
      'PONTOON_LOG_STORE=secret needs PONTOON_RUNTIME=kubernetes (the local runtime keeps logs in PONTOON_DATA_DIR)',
    );
  }
  if (e.PONTOON_LOG_DIR && e.PONTOON_RUNTIME === 'local') {
    throw new ConfigError(
      'PONTOON_LOG_DIR is for the kubernetes runtime; the local runtime keeps logs in PONTOON_DATA_DIR',
    );
  }
  return {
    store,
    /** dir store: the folder (`runs/<execution>/attempt-<n>/log` under it). */
    dir: path.resolve(e.PONTOON_LOG_DIR ?? e.PONTOON_DATA_DIR),
    /** secret store: namespace of the Secrets. */
    namespace: e.PONTOON_LOG_NAMESPACE ?? e.PONTOON_KUBE_NAMESPACE,
    maxBytes: e.PONTOON_LOG_MAX_BYTES,
    retentionMs: e.PONTOON_LOG_RETENTION,
    sweepIntervalMs: e.PONTOON_LOG_SWEEP_INTERVAL,
  };
}
