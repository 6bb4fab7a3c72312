/**
 * Configuration every Pontoon process shares, parsed once at start-up from the environment:
 * Temporal's own variable names (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY,
 * TEMPORAL_TLS_*) so existing setups just work, and Pontoon's shared settings (PONTOON_*). Each
 * variable is declared once with `setting()`: its schema, default, who reads it and its README text
 * (`npm run docs:config` writes the README's table from these). Each process composes its own schema
 * from these parts (worker/config.ts, api/config.ts), so a variable only one process reads cannot stop
 * another from starting.
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
import {
  DEFAULT_LOG_MAX_BYTES,
  DEFAULT_LOG_RETENTION_MS,
  DEFAULT_LOG_SWEEP_INTERVAL_MS,
  MAX_LOG_MAX_BYTES,
} from '../core/log-limits.ts';
import { TASK_QUEUE } from '../core/names.ts';
import { EGRESS_ALLOW_CIDRS_ENV } from '../core/network.ts';
import { PayloadKeyConfigError, type PayloadKeys, parsePayloadKeys } from './payload-codec.ts';

/** `true`/`false`/`1`/`0` → boolean. */
export const bool = z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1');
/** A Go-style duration (`30s`, `1h30m`) → milliseconds. */
export const duration = z
  .string()
  .refine(isDuration, { error: `must be ${DURATION_HELP}` })
  .transform(parseDuration);

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
export const TemporalEnv = {
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
    'payload encryption keys `id:base64,…` (32 bytes each; platform/payload-codec.ts); unset (and no file): payloads are stored as they are. See Security',
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
export const SharedEnv = {
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

const TemporalEnvSchema = z.object(TemporalEnv);
const SharedEnvSchema = z.object({ ...TemporalEnv, ...SharedEnv });
/** The parsed values of the shared variables (a process's own schema extends them). */
export type SharedEnvValues = z.output<typeof SharedEnvSchema>;

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/**
 * Parses `env` with a process's schema. Throws ConfigError naming every invalid variable with the
 * reason, one a line.
 */
export function parseEnv<S extends z.ZodType>(schema: S, env: NodeJS.ProcessEnv): z.output<S> {
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

export function sharedFrom(e: SharedEnvValues, env: NodeJS.ProcessEnv) {
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
