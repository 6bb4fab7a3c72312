/** What `buildApi` (api/app.ts) is given, and what the API adds to Fastify's request and route types. */
import type { Span, Tracer } from '@opentelemetry/api';
import type { Client } from '@temporalio/client';
import type { Logger } from 'pino';
import type { FunctionAccess } from '../core/function-access.ts';
import type { AllowCidrs } from '../core/webhook-destination.ts';
import type { AttemptLogSource } from '../logs/source.ts';
import type { PontoonMetrics } from '../platform/metrics.ts';
import type { ApiKey, Role } from './auth.ts';
import type { TrustProxy } from './config.ts';

export type AuthSettings = { mode: 'open' } | { mode: 'keys'; keys: ApiKey[] };

export interface ApiDeps {
  client: Client;
  logger: Logger;
  /** Task queue of the Pontoon worker. */
  taskQueue: string;
  /** Local runtime data folder, where attempt logs are kept (when `logs` is not given). */
  dataDir: string;
  /** Where attempt logs are read (logs/source.ts); default: the local runtime's files under dataDir. */
  logs?: AttemptLogSource;
  auth: AuthSettings;
  /** Served at GET /metrics (role viewer); default: a registry of this app only. */
  metrics?: PontoonMetrics;
  /** Traces: a server span per request, parent of the Temporal client's spans (StartWorkflow …). */
  tracer?: Tracer;
  /** A worker whose pollers Temporal has not seen for this long counts as gone (ms; default 75 s). */
  workerSeenMs?: number;
  /** Host header values besides the listener's own (api/plugins/browser-guard.ts; PONTOON_API_ALLOWED_HOSTS). */
  allowedHosts?: readonly string[];
  /** Most fires one backfill may start (PONTOON_API_MAX_BACKFILL_FIRES; default 1000). */
  maxBackfillFires?: number;
  /** Wrong API keys per client address per minute before 429 (default 20). */
  authFailuresPerMinute?: number;
  /** Webhook address ranges the operator opened (PONTOON_NOTIFY_ALLOW_CIDRS); default none. */
  notifyAllowCidrs?: AllowCidrs;
  /** Most running executions one DELETE ?cancelRunning=true cancels (PONTOON_API_MAX_DELETE_CANCELS; default 1000). */
  maxDeleteCancels?: number;
  /**
   * Whose X-Forwarded-For names the client (PONTOON_API_TRUST_PROXY; Fastify trustProxy): the
   * address wrong keys are counted by. Default false: the socket's peer.
   */
  trustProxy?: TrustProxy;
  /**
   * Kubernetes runtime: the ServiceAccounts, Secrets and address ranges specs may use (the workers'
   * PONTOON_FUNCTION_* lists), checked at apply; unset: not checked here (the workers still do).
   */
  functionAccess?: FunctionAccess;
  /**
   * Origins (`scheme://host[:port]`) of the Temporal Web UI allowed to call the codec server
   * (`/codec/encode`, `/codec/decode`; api/routes/codec.ts) from a browser (PONTOON_CODEC_CORS_ORIGINS);
   * default none: the CLI and scripts only.
   */
  codecCorsOrigins?: readonly string[];
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Least role allowed on the route; unset routes are public (health, docs). */
    role?: Role;
    /**
     * The route waits for a controller to reconcile (apply, delete: schedules, warm pool), which
     * takes longer than a read: it gets RECONCILE_WITHIN_MS, after a quick check that Temporal answers.
     */
    reconciles?: boolean;
  }
  interface FastifyRequest {
    rawBody?: string;
    apiKey?: ApiKey;
    span?: Span;
  }
}
