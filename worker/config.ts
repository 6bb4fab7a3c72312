/**
 * Process configuration, parsed once at start-up from the environment. Temporal's own variable
 * names (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS_*) so existing setups
 * just work; Pontoon's own settings are PONTOON_*.
 */
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { DEFAULT_LOG_MAX_BYTES, DEFAULT_LOG_RETENTION_MS, MAX_LOG_MAX_BYTES } from '../logs/store.ts';
import { DEFAULT_REGISTRY } from '../packaging/registry.ts';
import { DURATION_HELP, isDuration, parseDuration } from '../spec/duration.ts';
import {
  type FunctionAccess,
  FunctionAccessConfigError,
  parseFunctionAccess,
  SECRETS_ENV,
  SERVICE_ACCOUNTS_ENV,
} from '../spec/function-access.ts';
import { ownImageRef, TASK_QUEUE } from '../spec/names.ts';
import { EGRESS_ALLOW_CIDRS_ENV } from '../spec/network.ts';
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

const EnvSchema = z.object({
  TEMPORAL_ADDRESS: z.string().default('localhost:7233').describe('host:port of the Temporal frontend'),
  TEMPORAL_NAMESPACE: z.string().default('default'),
  TEMPORAL_API_KEY: z.string().optional().describe('API key (Temporal Cloud); implies TLS'),
  TEMPORAL_TLS: bool.optional().describe('force TLS on or off'),
  TEMPORAL_TLS_CLIENT_CERT_PATH: z.string().optional(),
  TEMPORAL_TLS_CLIENT_KEY_PATH: z.string().optional(),
  TEMPORAL_TLS_SERVER_CA_CERT_PATH: z.string().optional(),
  TEMPORAL_TLS_SERVER_NAME: z.string().optional(),
  PONTOON_PAYLOAD_KEYS: z
    .string()
    .optional()
    .describe(
      'payload encryption keys, id:base64(32 bytes),… (worker/payload-codec.ts); unset with no file: payloads are stored as they are',
    ),
  PONTOON_PAYLOAD_KEYS_FILE: z
    .string()
    .optional()
    .describe('a mounted file of payload keys, id:base64 per line (a Secret volume)'),
  PONTOON_PAYLOAD_KEY_ID: z
    .string()
    .optional()
    .describe('the payload key that encrypts (default: the last one listed); every listed key decrypts'),
  PONTOON_TASK_QUEUE: z.string().min(1).default(TASK_QUEUE),
  PONTOON_RUNTIME: z
    .enum(['local', 'kubernetes'])
    .default('local')
    .describe('where attempts run: local child processes, or a pod per attempt'),
  KUBECONFIG: z
    .string()
    .optional()
    .describe('kubernetes runtime: kubeconfig file; unset: in-cluster service account, then ~/.kube/config'),
  PONTOON_KUBE_NAMESPACE: z
    .string()
    .min(1)
    .default('default')
    .describe('kubernetes runtime: namespace of the pods'),
  PONTOON_OBSERVER_IMAGE: z
    .string()
    .min(1)
    .optional()
    .describe('kubernetes runtime: image of the observer sidecar'),
  PONTOON_POD_NODE_SELECTOR: z
    .string()
    .default('')
    .transform((v, ctx) => parseNodeSelector(v, ctx))
    .describe('kubernetes runtime: node labels every function pod must match, key=value[,key=value]'),
  PONTOON_POD_TOLERATIONS: z
    .string()
    .default('')
    .transform((v, ctx) => parseTolerations(v, ctx))
    .describe('kubernetes runtime: taints every function pod tolerates, key[=value]:Effect[,…]'),
  PONTOON_KEEP_FAILED_PODS: duration.default(0).describe('kubernetes runtime: keep failed pods this long'),
  PONTOON_POD_DELETE_DELAY: duration
    .default(5000)
    .describe(
      'kubernetes runtime: how long a collected pod stays after its outcome was recorded (a look with kubectl; exactly-once does not depend on it)',
    ),
  PONTOON_FAULT_KILL_AFTER_OUTCOME: z.coerce
    .number()
    .min(0)
    .max(1)
    .default(0)
    .describe(
      'tests only: probability that the worker SIGKILLs itself right after an attempt outcome, before Temporal records it (worker/faults.ts)',
    ),
  PONTOON_IMAGE_PULL_GRACE: duration
    .default(60_000)
    .describe('kubernetes runtime: how long image pulls may fail before ImageUnavailable'),
  PONTOON_UNSCHEDULABLE_TIMEOUT: duration
    .default(300_000)
    .describe('kubernetes runtime: how long a pod may stay unschedulable'),
  PONTOON_WARM_TEMPORAL_ADDRESS: z
    .string()
    .min(1)
    .optional()
    .describe(
      'kubernetes runtime: host:port of Temporal as warm replicas see it from their pods (default TEMPORAL_ADDRESS)',
    ),
  PONTOON_WARM_TEMPORAL_SECRET: z
    .string()
    .min(1)
    .optional()
    .describe(
      "kubernetes runtime: Secret whose keys become the warm observers' environment (TEMPORAL_API_KEY, TEMPORAL_TLS_*)",
    ),
  [SERVICE_ACCOUNTS_ENV]: z
    .string()
    .default('')
    .describe(
      'kubernetes runtime: ServiceAccounts specs may run as, [namespace/]name[:token],… (:token: its token may be mounted)',
    ),
  [SECRETS_ENV]: z
    .string()
    .default('')
    .describe('kubernetes runtime: Secrets env[].secretRef may name, [namespace/]name or prefix*,…'),
  [EGRESS_ALLOW_CIDRS_ENV]: z
    .string()
    .default('')
    .describe(
      'kubernetes runtime: non-public ranges spec.network.egress may declare (CIDRs, comma-separated)',
    ),
  PONTOON_POD_NAMESPACE: z
    .string()
    .optional()
    .describe("the worker's or API's own namespace when it runs in a pod (deploy/: the downward API)"),
  PONTOON_POD_SERVICE_ACCOUNT: z
    .string()
    .optional()
    .describe("the worker's or API's own ServiceAccount when it runs in a pod (deploy/: the downward API)"),
  PONTOON_DATA_DIR: z.string().default('.pontoon').describe('local runtime: attempt folders and logs'),
  PONTOON_LOCAL_ROOT: z.string().optional().describe('local runtime: base of relative commands and cwd'),
  PONTOON_LOCAL_RUN_AS: z
    .string()
    .min(1)
    .optional()
    .describe('local runtime: user functions run as (name, uid or uid:gid) when the worker runs as root'),
  PONTOON_LOCAL_SECRETS_DIR: z
    .string()
    .optional()
    .describe('local runtime: secretRef values, one file per key: <dir>/<secret name>/<key>'),
  PONTOON_KILL_GRACE: duration.default(5000).describe('SIGTERM → SIGKILL grace'),
  PONTOON_MAX_CONCURRENT_ATTEMPTS: z.coerce
    .number()
    .int()
    .min(1)
    .default(100)
    .describe('attempts (activity tasks) one worker runs at once; a pod attempt costs the worker little'),
  PONTOON_MAX_CACHED_WORKFLOWS: z.coerce
    .number()
    .int()
    .min(0)
    .default(CACHED_WORKFLOWS_DEFAULT)
    .describe(
      'workflow runs kept in memory between their tasks (sticky cache); an evicted one is replayed from its history on its next task. Each costs the worker ~0.1–0.2 MiB',
    ),
  PONTOON_WORKFLOW_BUNDLE: z
    .string()
    .optional()
    .describe('prebuilt workflow bundle (skips bundling at start)'),
  PONTOON_LOG_LEVEL: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal']).default('info'),
  PONTOON_LOG_FORMAT: z
    .enum(['json', 'pretty'])
    .optional()
    .describe(
      'json (default) or pretty (human-readable lines); pontoon dev: pretty when stdout is a terminal',
    ),
  PONTOON_METRICS_PORT: z.coerce
    .number()
    .int()
    .min(0)
    .max(65535)
    .optional()
    .describe('worker: serve Prometheus GET /metrics on this port; unset: off'),
  PONTOON_METRICS_HOST: z
    .string()
    .min(1)
    .default('127.0.0.1')
    .describe('worker: address of the metrics listener (0.0.0.0 in a pod so Prometheus can reach it)'),
  OTEL_EXPORTER_OTLP_ENDPOINT: z
    .string()
    .optional()
    .describe('OTLP/HTTP collector base URL (e.g. http://otel-collector:4318); traces are off when unset'),
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: z
    .string()
    .optional()
    .describe('OTLP/HTTP traces URL (…/v1/traces), overrides OTEL_EXPORTER_OTLP_ENDPOINT for traces'),
  OTEL_SERVICE_NAME: z.string().optional().describe('service.name of exported spans'),
  PONTOON_LOG_STORE: z
    .enum(['dir', 'secret'])
    .optional()
    .describe(
      'where logs of finished attempts are kept: dir (files; the local runtime, or a volume shared by workers and API) or secret (a Secret per attempt; default for kubernetes)',
    ),
  PONTOON_LOG_DIR: z
    .string()
    .optional()
    .describe('kubernetes runtime with the dir store: the shared folder (default PONTOON_DATA_DIR)'),
  PONTOON_LOG_NAMESPACE: z
    .string()
    .min(1)
    .optional()
    .describe('secret store: namespace of the log Secrets (default PONTOON_KUBE_NAMESPACE)'),
  PONTOON_LOG_MAX_BYTES: z.coerce
    .number()
    .int()
    .min(1024)
    .max(MAX_LOG_MAX_BYTES)
    .default(DEFAULT_LOG_MAX_BYTES)
    .describe('bytes of log kept per attempt (the tail; a marker line says what was dropped)'),
  PONTOON_LOG_RETENTION: duration
    .default(DEFAULT_LOG_RETENTION_MS)
    .describe('how long logs of finished attempts are kept'),
  PONTOON_LOG_SWEEP_INTERVAL: duration
    .default(10 * 60_000)
    .describe('how often each worker deletes logs past their retention'),
});

export interface TemporalConfig {
  address: string;
  namespace: string;
  apiKey?: string;
  /**
   * Payload encryption (PONTOON_PAYLOAD_KEYS / _FILE / _KEY_ID): every client and worker made from
   * this config encrypts payloads with `encryptKeyId` and decrypts with any key held. Undefined:
   * payloads are stored as they are (encrypted ones still fail with the id of the key they need).
   */
  payloadKeys?: PayloadKeys;
  tls?: {
    clientCertPath?: string;
    clientKeyPath?: string;
    serverCaCertPath?: string;
    serverName?: string;
  };
}

export interface KubernetesConfig {
  /** Kubeconfig file; undefined: in-cluster service account, then ~/.kube/config. */
  kubeconfigPath?: string;
  namespace: string;
  observerImage: string;
  keepFailedPodsMs: number;
  /** PONTOON_POD_DELETE_DELAY: a collected pod stays this long after its record was stored. */
  deleteDelayMs: number;
  imagePullGraceMs: number;
  unschedulableTimeoutMs: number;
  /** Node selector and tolerations of every function pod (attempts and warm replicas). */
  placement: { nodeSelector: Record<string, string>; tolerations: PlacementToleration[] };
  /** How warm replicas' observers reach Temporal from inside the cluster. */
  warm: { temporalAddress: string; temporalSecret?: string };
  /** ServiceAccounts, Secrets and address ranges specs may use (spec/function-access.ts). */
  access: FunctionAccess;
}

export interface WorkerConfig {
  temporal: TemporalConfig;
  taskQueue: string;
  runtime: 'local' | 'kubernetes';
  kubernetes: KubernetesConfig;
  dataDir: string;
  localRoot: string;
  /** Local runtime: the user functions run as (PONTOON_LOCAL_RUN_AS); unset: the worker's. */
  localRunAs?: string;
  /** Local runtime: where secretRef values are read (PONTOON_LOCAL_SECRETS_DIR). */
  localSecretsDir?: string;
  killGraceMs: number;
  /** Activity tasks (attempts) run at once by this worker. */
  maxConcurrentAttempts: number;
  /** Workflow runs cached between tasks (Temporal's sticky cache); 0 turns the cache off. */
  maxCachedWorkflows: number;
  /** Path of a workflow bundle built ahead of time (container images); bundled at start when unset. */
  workflowBundlePath?: string;
  logLevel: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal';
  /** PONTOON_LOG_FORMAT; unset: the command's default (JSON, or `pontoon dev` in a terminal: pretty). */
  logFormat?: 'json' | 'pretty';
  /** Worker metrics listener; undefined: off. */
  metrics?: { host: string; port: number };
  /** OpenTelemetry traces over OTLP/HTTP; undefined (no OTLP endpoint in the environment): off. */
  tracing?: { serviceName?: string };
  /** Logs of finished attempts (logs/): where, how much of each, how long. */
  logs: LogsConfig;
  /** Fault injection for tests (worker/faults.ts); 0 in production. */
  faults: { killAfterOutcome: number };
}

export interface LogsConfig {
  store: 'dir' | 'secret';
  /** dir store: the folder (`runs/<execution>/attempt-<n>/log` under it). */
  dir: string;
  /** secret store: namespace of the Secrets. */
  namespace: string;
  maxBytes: number;
  retentionMs: number;
  sweepIntervalMs: number;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

export function parseTemporalConfig(env: NodeJS.ProcessEnv = process.env): TemporalConfig {
  return parseConfig(env).temporal;
}

export function parseConfig(env: NodeJS.ProcessEnv = process.env): WorkerConfig {
  const parsed = EnvSchema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`invalid configuration in the environment:\n${lines.join('\n')}`);
  }
  const e = parsed.data;
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
    temporal: {
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
    },
    taskQueue: e.PONTOON_TASK_QUEUE,
    runtime: e.PONTOON_RUNTIME,
    kubernetes: {
      ...(e.KUBECONFIG ? { kubeconfigPath: path.resolve(e.KUBECONFIG) } : {}),
      namespace: e.PONTOON_KUBE_NAMESPACE,
      observerImage: e.PONTOON_OBSERVER_IMAGE ?? defaultObserverImage(env),
      placement: { nodeSelector: e.PONTOON_POD_NODE_SELECTOR, tolerations: e.PONTOON_POD_TOLERATIONS },
      keepFailedPodsMs: e.PONTOON_KEEP_FAILED_PODS,
      deleteDelayMs: e.PONTOON_POD_DELETE_DELAY,
      imagePullGraceMs: e.PONTOON_IMAGE_PULL_GRACE,
      unschedulableTimeoutMs: e.PONTOON_UNSCHEDULABLE_TIMEOUT,
      warm: {
        temporalAddress: e.PONTOON_WARM_TEMPORAL_ADDRESS ?? e.TEMPORAL_ADDRESS,
        ...(e.PONTOON_WARM_TEMPORAL_SECRET ? { temporalSecret: e.PONTOON_WARM_TEMPORAL_SECRET } : {}),
      },
      access: accessConfig(e, env),
    },
    dataDir: path.resolve(e.PONTOON_DATA_DIR),
    localRoot: path.resolve(e.PONTOON_LOCAL_ROOT ?? process.cwd()),
    ...(e.PONTOON_LOCAL_RUN_AS ? { localRunAs: e.PONTOON_LOCAL_RUN_AS } : {}),
    localSecretsDir: path.resolve(e.PONTOON_LOCAL_SECRETS_DIR ?? path.join(e.PONTOON_DATA_DIR, 'secrets')),
    killGraceMs: e.PONTOON_KILL_GRACE,
    maxConcurrentAttempts: e.PONTOON_MAX_CONCURRENT_ATTEMPTS,
    maxCachedWorkflows: e.PONTOON_MAX_CACHED_WORKFLOWS,
    ...(e.PONTOON_WORKFLOW_BUNDLE ? { workflowBundlePath: path.resolve(e.PONTOON_WORKFLOW_BUNDLE) } : {}),
    logLevel: e.PONTOON_LOG_LEVEL,
    ...(e.PONTOON_LOG_FORMAT ? { logFormat: e.PONTOON_LOG_FORMAT } : {}),
    ...(e.PONTOON_METRICS_PORT !== undefined
      ? { metrics: { host: e.PONTOON_METRICS_HOST, port: e.PONTOON_METRICS_PORT } }
      : {}),
    // The exporter reads the OTEL_* variables itself (endpoint, headers, timeouts): the standard names work.
    ...(e.OTEL_EXPORTER_OTLP_ENDPOINT || e.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT
      ? { tracing: e.OTEL_SERVICE_NAME ? { serviceName: e.OTEL_SERVICE_NAME } : {} }
      : {}),
    logs: logsConfig(e),
    faults: { killAfterOutcome: e.PONTOON_FAULT_KILL_AFTER_OUTCOME },
  };
}

/**
 * Addresses of the control plane this process can name without asking anyone: Temporal's (when an
 * IP), the apiserver's Service (KUBERNETES_SERVICE_HOST), and in a pod its own (the pod network).
 */
function controlPlaneAddresses(
  e: z.output<typeof EnvSchema>,
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
function accessConfig(e: z.output<typeof EnvSchema>, env: NodeJS.ProcessEnv): FunctionAccess {
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

function logsConfig(e: z.output<typeof EnvSchema>): LogsConfig {
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
    dir: path.resolve(e.PONTOON_LOG_DIR ?? e.PONTOON_DATA_DIR),
    namespace: e.PONTOON_LOG_NAMESPACE ?? e.PONTOON_KUBE_NAMESPACE,
    maxBytes: e.PONTOON_LOG_MAX_BYTES,
    retentionMs: e.PONTOON_LOG_RETENTION,
    sweepIntervalMs: e.PONTOON_LOG_SWEEP_INTERVAL,
  };
}
