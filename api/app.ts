/**
 * The REST API (Fastify). `buildApi()` makes the app without listening (tests use inject());
 * `api/main.ts` listens. Every error is an ApiError with a stable code (api/errors.ts).
 */
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { context, type Span, SpanKind, SpanStatusCode, type Tracer, trace } from '@opentelemetry/api';
import {
  type Client,
  isGrpcServiceError,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
} from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { z } from 'zod';
import {
  BadPageTokenError,
  describeExecution,
  type ExecutionDetail,
  listExecutions,
  listQuery,
} from '../client/executions.ts';
import { applySpec, getSpec, startExecution, waitForResult } from '../client/functions.ts';
import { decodePageToken, encodePageToken } from '../client/page-token.ts';
import { SpecReader } from '../client/spec-reader.ts';
import { createDirLogStore } from '../logs/dir.ts';
import { type AttemptLogSource, localLogSource } from '../logs/source.ts';
import { DEFAULT_LOG_MAX_BYTES, DEFAULT_LOG_RETENTION_MS } from '../logs/store.ts';
import { LIMITS } from '../spec/execution.ts';
import { type FunctionAccess, functionAccessProblems } from '../spec/function-access.ts';
import { problemsLine, schemaProblems } from '../spec/io-schema.ts';
import {
  controllerWorkflowId,
  PONTOON_VERSION,
  parseExecutionWorkflowId,
  Trigger,
  WorkflowType,
} from '../spec/names.ts';
import { resolveParameters } from '../spec/parameters.ts';
import { MAX_SPEC_BYTES, parseSpecText } from '../spec/parse.ts';
import { redactLiteralSecrets } from '../spec/secret-env.ts';
import { type AllowCidrs, refusedWebhookUrl } from '../spec/webhook-destination.ts';
import { createMetrics, type PontoonMetrics, renderMetrics } from '../worker/metrics.ts';
import {
  type AdmissionState,
  admissionQuery,
  deleteUpdate,
  specHistoryQuery,
  warmPoolQuery,
} from '../workflows/definitions.ts';
import { type ApiKey, findKey, type Role, roleAllows } from './auth.ts';
import { registerAuthFailureLimit } from './auth-failures.ts';
import { registerBrowserGuard } from './browser-guard.ts';
import { CODEC_PREFIX, registerCodecCors, registerCodecRoutes } from './codec.ts';
import { MAX_DELETE_CANCELS, type TrustProxy } from './config.ts';
import { registerDeadLetterRoutes } from './dead-letters.ts';
import { ApiError } from './errors.ts';
import { registerFunctionMetrics } from './function-metrics.ts';
import { functionOpenApiDocument, openApiDocument } from './openapi.ts';
import { registerScheduleRoutes } from './schedules.ts';
import {
  DeleteQuerySchema,
  EmptyBodySchema,
  IdempotencyKeySchema,
  InvokeBodySchema,
  ListExecutionsQuerySchema,
  ListFunctionsQuerySchema,
  LogsQuerySchema,
  WaitQuerySchema,
} from './schemas.ts';
import { closestName } from './suggest.ts';

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
  /** Host header values besides the listener's own (api/browser-guard.ts; PONTOON_API_ALLOWED_HOSTS). */
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
   * (`/codec/encode`, `/codec/decode`; api/codec.ts) from a browser (PONTOON_CODEC_CORS_ORIGINS);
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

function check<T extends z.ZodType>(schema: T, data: unknown, where: string): z.output<T> {
  // No body is an empty one; a JSON `null` body is not an object and is refused.
  const r = schema.safeParse(data === undefined ? {} : data);
  if (r.success) return r.data;
  const details = r.error.issues.map((i) => ({
    field: [where, ...i.path.map(String)].join('.'),
    message: i.message,
  }));
  throw new ApiError(
    where === 'body' ? 'validation_failed' : 'bad_request',
    `invalid ${where}: ${details.map((d) => `${d.field}: ${d.message}`).join('; ')}`,
    details,
  );
}

/** gRPC UNAVAILABLE (14) or DEADLINE_EXCEEDED (4) from the Temporal client, or a failed connection. */
function temporalUnavailable(err: Error): boolean {
  const code = (err as { code?: unknown }).code;
  if (isGrpcServiceError(err) && (err.code === 14 || err.code === 4)) return true;
  if (code === 14 || code === 4) return true;
  const cause = (err as { cause?: Error }).cause;
  if (err.name === 'ServiceError' && cause) return temporalUnavailable(cause);
  return err.name === 'TransportError' || /failed to connect/i.test(err.message);
}

/**
 * A refused apply as a 400: the controller's validator (`SpecInvalid`, e.g. a worker on a newer
 * schema) or Temporal refusing a schedule (`SpecRefused`), each with `{field, message}` details.
 */
function specRefusal(err: unknown): ApiError | undefined {
  if (!(err instanceof WorkflowUpdateFailedError)) return undefined;
  const cause = err.cause;
  if (!(cause instanceof ApplicationFailure)) return undefined;
  if (cause.type !== 'SpecInvalid' && cause.type !== 'SpecRefused') return undefined;
  return new ApiError('spec_invalid', `the spec was refused: ${cause.message}`, cause.details ?? []);
}

interface WorkerPresence {
  polling: boolean;
  /** When a poller of the task queue last reached Temporal (RFC 3339). */
  lastSeen?: string;
}
/** A poller not seen for this long has stopped (Temporal's long poll is one minute). */
const WORKER_SEEN_MS = 75_000;
/** A spec query slower than this makes the API check whether any worker is polling. */
const WORKER_CHECK_AFTER_MS = 1_000;

/** google.protobuf.Timestamp → epoch ms (0 when absent). */
function timestampMs(t: { seconds?: unknown; nanos?: number | null } | null | undefined): number {
  if (!t) return 0;
  return Number(t.seconds ?? 0) * 1000 + Math.floor((t.nanos ?? 0) / 1e6);
}

/** The work's answer, or a 503 temporal_unavailable after `ms` (the work goes on and ends on its own). */
async function answerWithin<T>(ms: number, work: () => Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new ApiError(
            'temporal_unavailable',
            `no answer within ${ms / 1000} s: Temporal is slow or unreachable`,
          ),
        ),
      ms,
    );
  });
  const running = work();
  running.catch(() => undefined);
  try {
    return await Promise.race([running, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** Deepest nesting a JSON body may have (objects and arrays); deeper ones overflow recursive code. */
const MAX_JSON_DEPTH = 64;

/** The deepest nesting of arrays and objects in JSON text (strings skipped), without parsing it. */
function jsonDepth(text: string): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92)
        i++; // backslash: skip the escaped character
      else if (c === 34) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 91 || c === 123) max = Math.max(max, ++depth);
    else if (c === 93 || c === 125) depth--;
  }
  return max;
}

/** Temporal's token behind a page token of this API, or a 400 at once. */
function pageTokenOf(text: string): Buffer {
  const token = decodePageToken(text);
  if (!token)
    throw new ApiError('bad_request', new BadPageTokenError().message, [
      { field: 'query.pageToken', message: 'not a token a previous page returned' },
    ]);
  return token;
}

function bearer(req: FastifyRequest): string | undefined {
  const h = req.headers.authorization;
  if (!h) return undefined;
  const m = /^Bearer\s+(\S+)$/i.exec(h);
  return m?.[1];
}

/** Budget for the Temporal calls of one request (plus the ?wait time). */
const REQUEST_DEADLINE_MS = 8_000;
/** Every request is answered within this (plus ?wait): 503 temporal_unavailable when Temporal is slow. */
const ANSWER_WITHIN_MS = 9_000;
/** Budget of a request that waits for a controller to reconcile (apply, delete). */
const RECONCILE_WITHIN_MS = 30_000;
/** Cancellations of one DELETE ?cancelRunning=true in flight at once. */
const CANCEL_CONCURRENCY = 20;
/** The longest ?wait of an invocation (s). */
const MAX_WAIT_S = 300;

const NAME_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** Waits as of now: the controller's own figures stand still between its workflow tasks. */
function withCurrentWaits(a: AdmissionState): AdmissionState {
  const now = Date.now();
  const queued = a.queued.map((q) => ({ ...q, waitingMs: Math.max(0, now - Date.parse(q.enqueuedAt)) }));
  return { ...a, queued, oldestWaitMs: queued.reduce((m, q) => Math.max(m, q.waitingMs), 0) };
}

export async function buildApi(deps: ApiDeps): Promise<FastifyInstance> {
  const { client, taskQueue } = deps;
  const logs =
    deps.logs ??
    localLogSource(
      createDirLogStore(deps.dataDir, {
        maxBytes: DEFAULT_LOG_MAX_BYTES,
        retentionMs: DEFAULT_LOG_RETENTION_MS,
      }),
      deps.dataDir,
    );
  const metrics = deps.metrics ?? createMetrics();
  registerFunctionMetrics(metrics.registry, client, { taskQueue });
  const app = Fastify({
    loggerInstance: deps.logger,
    bodyLimit: MAX_SPEC_BYTES,
    trustProxy: deps.trustProxy ?? false,
    // Execution ids hold colons and UUIDs; keep them readable in URLs.
    routerOptions: { maxParamLength: 500 },
    // A path segment over that length, or one that does not decode: 400 in our error shape.
    frameworkErrors: (err, _req, reply) => {
      (reply as FastifyReply).status(400).send(new ApiError('bad_request', err.message).toJSON());
    },
  }) as unknown as FastifyInstance;

  // Bodies: JSON (raw text kept, for line/column errors on specs) and YAML for specs.
  app.removeContentTypeParser(['application/json', 'text/plain']);
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
    const text = body as string;
    req.rawBody = text;
    if (text.trim() === '') return done(null, undefined);
    if (jsonDepth(text) > MAX_JSON_DEPTH) {
      return done(
        new ApiError('bad_request', `body is nested more than ${MAX_JSON_DEPTH} levels deep`),
        undefined,
      );
    }
    try {
      done(null, JSON.parse(text));
    } catch (err) {
      done(new ApiError('bad_request', `body is not valid JSON: ${(err as Error).message}`), undefined);
    }
  });
  app.addContentTypeParser(
    ['application/yaml', 'application/x-yaml', 'text/yaml'],
    { parseAs: 'string' },
    (req, body, done) => {
      req.rawBody = body as string;
      done(null, body);
    },
  );

  // Route patterns per method (onRoute sees every route, plugins' too): a path that exists with
  // other methods answers 405 with Allow, not 404.
  const routePatterns: { re: RegExp; method: string }[] = [];
  // Every answer within 10 s, whatever the Temporal client's retries do past the call deadline
  // (Fastify answers 503 and aborts request.signal; the work is cooperative and ends on its own).
  // Log streams and invocations that wait set their own bounds.
  app.addHook('onRoute', (r) => {
    if (r.handlerTimeout !== undefined || r.url.endsWith('/logs')) return;
    r.handlerTimeout = r.config?.reconciles ? RECONCILE_WITHIN_MS : ANSWER_WITHIN_MS;
  });
  app.addHook('onRoute', (r) => {
    const re = new RegExp(
      `^${r.url
        .replace(/[.+?()|[\]{}^$\\]/g, '\\$&')
        .replace(/:[^/]+/g, '[^/]+')
        .replace(/\*/g, '.*')}$`,
    );
    for (const method of [r.method].flat()) routePatterns.push({ re, method });
  });
  const noRoute = (req: FastifyRequest, reply: FastifyReply) => {
    const path = req.url.split('?')[0] ?? '';
    const allow = [...new Set(routePatterns.filter((r) => r.re.test(path)).map((r) => r.method))];
    if (allow.length) {
      const e = new ApiError(
        'method_not_allowed',
        `${req.method} is not allowed on ${path}; use ${allow.join(', ')}`,
      );
      reply.status(405).header('allow', allow.join(', ')).send(e.toJSON());
    } else {
      const e = new ApiError('route_not_found', `no route ${req.method} ${req.url}; see /openapi.json`);
      reply.status(404).send(e.toJSON());
    }
  };

  // No path segment or query value may hold a NUL byte: Temporal's visibility store cannot search
  // for one (it retries, then fails) and no identifier holds one. Refused before any route runs.
  app.addHook('onRequest', async (req) => {
    if (req.url.includes('\u0000') || /%00/i.test(req.url)) {
      throw new ApiError(
        'bad_request',
        'the URL holds a NUL byte (%00), which no name, id or filter may contain',
      );
    }
  });

  // Web pages (cross-origin, DNS rebinding, form posts) are refused before routing and auth.
  const codecCrossOrigin = {
    pathPrefix: CODEC_PREFIX,
    origins: (deps.codecCorsOrigins ?? []).map((o) => o.toLowerCase()),
  };
  registerBrowserGuard(app, {
    allowedHosts: deps.allowedHosts ?? [],
    open: deps.auth.mode === 'open',
    crossOrigin: codecCrossOrigin,
  });
  registerCodecCors(app, codecCrossOrigin);
  const authFailures = await registerAuthFailureLimit(app, deps.authFailuresPerMinute);

  app.setErrorHandler((raw, req, reply) => {
    const err = raw as Error;
    // A method Fastify parses a body for (QUERY without a content type, …) on no route.
    if (req.is404) {
      noRoute(req, reply);
      return;
    }
    let e: ApiError;
    const rawCode = (err as { code?: unknown }).code;
    const code = typeof rawCode === 'string' ? rawCode : undefined;
    if (err instanceof ApiError) e = err;
    else if (code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      e = new ApiError('payload_too_large', `body is over the ${MAX_SPEC_BYTES} byte limit`);
    } else if (code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
      e = new ApiError(
        'unsupported_media_type',
        `content type ${req.headers['content-type']} is not supported; use application/json (or application/yaml for specs)`,
      );
    } else if (code?.startsWith('FST_ERR_CTP') || (err as { statusCode?: number }).statusCode === 400) {
      e = new ApiError('bad_request', err.message);
    } else if (code === 'FST_ERR_HANDLER_TIMEOUT') {
      const within = req.routeOptions.config?.reconciles ? RECONCILE_WITHIN_MS : ANSWER_WITHIN_MS;
      e = new ApiError(
        'temporal_unavailable',
        `no answer within ${within / 1000} s: Temporal is slow or unreachable`,
      );
    } else if (temporalUnavailable(err)) {
      e = new ApiError('temporal_unavailable', `Temporal is unreachable: ${err.message}`);
    } else {
      req.log.error({ err }, 'request failed');
      e = new ApiError('internal_error', 'unexpected error; see the server log');
    }
    if (e.status >= 500) req.log.warn({ code: e.code }, e.message);
    reply.status(e.status).send(e.toJSON());
  });
  app.setNotFoundHandler(noRoute);

  // Request metrics by route template (never the raw URL: ids would make unbounded series).
  app.addHook('onResponse', (req, reply, done) => {
    const route = req.routeOptions.url ?? 'unmatched';
    const labels = { method: req.method, route };
    metrics.apiRequests.inc({ ...labels, status_code: String(reply.statusCode) });
    metrics.apiRequestDuration.observe(labels, reply.elapsedTime / 1000);
    req.span?.setAttribute('http.status_code', reply.statusCode);
    if (reply.statusCode >= 500) req.span?.setStatus({ code: SpanStatusCode.ERROR });
    req.span?.end();
    done();
  });
  const tracer = deps.tracer;
  if (tracer) {
    // A server span per request, made the active context for the rest of the request: the Temporal
    // client interceptor parents its StartWorkflow span on it, so one trace runs from the request
    // through the workflow to every activity.
    app.addHook('onRequest', (req, _reply, done) => {
      const route = req.routeOptions.url ?? 'unmatched';
      const span = tracer.startSpan(`${req.method} ${route}`, {
        kind: SpanKind.SERVER,
        attributes: { 'http.method': req.method, 'http.route': route },
      });
      req.span = span;
      context.with(trace.setSpan(context.active(), span), done);
    });
  }

  // Every Temporal call made while handling a request shares one deadline, so a Temporal outage
  // answers 503 in seconds instead of retrying for a minute. Long polls (?wait) extend it.
  app.addHook('preHandler', (req, _reply, done) => {
    const wait = Number((req.query as { wait?: unknown } | undefined)?.wait) || 0;
    const follow = (req.query as { follow?: unknown } | undefined)?.follow === 'true';
    if (follow) return done();
    const ms = req.routeOptions.config?.reconciles
      ? RECONCILE_WITHIN_MS - 2_000
      : REQUEST_DEADLINE_MS + Math.min(Math.max(wait, 0), 300) * 1000;
    void client.withDeadline(
      Date.now() + ms,
      () =>
        new Promise<void>((resolve) => {
          done();
          resolve();
        }),
    );
  });

  app.addHook('onRequest', async (req, reply) => {
    const need = req.routeOptions.config?.role;
    if (!need || deps.auth.mode === 'open') return;
    const token = bearer(req);
    if (!token) throw new ApiError('unauthorized', 'send an API key as "Authorization: Bearer <key>"');
    await authFailures.check(req, reply);
    const key = findKey(deps.auth.keys, token);
    if (!key) {
      await authFailures.failed(req, reply);
      throw new ApiError('unauthorized', 'the API key is not valid');
    }
    if (!roleAllows(key.role, need)) {
      throw new ApiError(
        'forbidden',
        `the key "${key.name}" has role ${key.role}; this needs ${need} or higher`,
      );
    }
    req.apiKey = key;
  });

  // What this server answers: open mode takes no key (no security schemes, no 401, 429 or
  // forbidden), and refuses other origins in both modes (403 cross_origin_refused).
  const apiDocument = () => openApiDocument({ auth: deps.auth.mode });
  await app.register(swagger, { mode: 'static', specification: { document: apiDocument() as never } });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  app.get('/openapi.json', { schema: { hide: true } }, async () => apiDocument());

  // ------------------------------------------------------------------ codec server
  // For the Web UI and the `temporal` CLI: this client's payload keys (api/codec.ts).
  registerCodecRoutes(app, {
    codecs: client.options.loadedDataConverter.payloadCodecs,
    namespace: client.options.namespace,
    crossOrigin: codecCrossOrigin,
  });

  // ------------------------------------------------------------------ health
  app.get('/healthz', async () => ({ status: 'ok', version: PONTOON_VERSION }));
  app.get('/readyz', async (_req, reply) => {
    try {
      await client.withDeadline(Date.now() + 2000, () => client.workflowService.getSystemInfo({}));
    } catch (err) {
      const e = new ApiError('temporal_unavailable', `Temporal is unreachable: ${(err as Error).message}`);
      return reply.status(503).send(e.toJSON());
    }
    const w = await client.withDeadline(Date.now() + 2000, workerPresence);
    if (!w.polling) return reply.status(503).send(workerUnavailable(w).toJSON());
    return { status: 'ready', temporal: 'reachable', worker: 'polling', workerLastSeen: w.lastSeen };
  });

  // Prometheus scrape endpoint. Role viewer: series carry function names and traffic, which a
  // viewer may see anyway (Prometheus sends the key with `authorization: {credentials_file: …}`).
  app.get('/metrics', { config: { role: 'viewer' }, schema: { hide: true } }, async (_req, reply) => {
    reply.header('content-type', metrics.registry.contentType);
    return renderMetrics(metrics);
  });

  // ------------------------------------------------------------------ functions
  const requireName = (name: string) => {
    if (!NAME_RE.test(name) || name.length > 40) {
      throw new ApiError(
        'bad_request',
        `"${name}" is not a function name (DNS-1123 label, at most 40 characters)`,
      );
    }
    return name;
  };
  // Whether a worker polls the task queue, from Temporal's poller list (cached for 2 s). A worker
  // polls again at least every minute (Temporal's long poll), so one not seen for 75 s is gone.
  let presence: { at: number; value: Promise<WorkerPresence> } | undefined;
  const workerPresence = (): Promise<WorkerPresence> => {
    if (presence && Date.now() - presence.at < 2000) return presence.value;
    const value = client.workflowService
      .describeTaskQueue({
        namespace: client.options.namespace,
        taskQueue: { name: taskQueue, kind: 1 },
        taskQueueType: 1,
      })
      .then((res): WorkerPresence => {
        const seen = (res.pollers ?? []).map((p) => timestampMs(p.lastAccessTime)).filter((t) => t > 0);
        const last = seen.length ? Math.max(...seen) : undefined;
        return {
          polling: last !== undefined && Date.now() - last < (deps.workerSeenMs ?? WORKER_SEEN_MS),
          ...(last !== undefined ? { lastSeen: new Date(last).toISOString() } : {}),
        };
      });
    presence = { at: Date.now(), value };
    value.catch(() => {
      presence = undefined;
    });
    return value;
  };
  const workerUnavailable = (w: WorkerPresence) =>
    new ApiError(
      'worker_unavailable',
      `no Pontoon worker polls task queue "${taskQueue}"${w.lastSeen ? ` (last seen ${w.lastSeen})` : ''}; start one with pontoon worker`,
    );

  const specs = new SpecReader(client);
  /** A query to a controller, which needs a worker: if it is slow, says at once when none polls. */
  const withWorker = async <T>(query: Promise<T>): Promise<T> => {
    const quick = await Promise.race([
      query.then(
        () => true,
        () => true,
      ),
      new Promise<false>((r) => setTimeout(() => r(false), WORKER_CHECK_AFTER_MS).unref()),
    ]);
    if (!quick) {
      const w = await workerPresence();
      if (!w.polling) {
        query.catch(() => undefined);
        throw workerUnavailable(w);
      }
    }
    try {
      return await query;
    } catch (err) {
      if (/no poller seen/i.test((err as Error).message ?? ''))
        throw workerUnavailable(await workerPresence());
      throw err;
    }
  };

  /**
   * The current spec, from the controller's memo (client/spec-reader.ts): no query, so a burst of
   * invocations costs the controllers nothing (concurrent reads of one function share a describe).
   * Still a 503 when no worker polls (cached for 2 s): what follows (an execution, a controller
   * query or update) needs one.
   */
  const currentSpec = async (name: string) => {
    const [s, w] = await Promise.all([specs.read(name), workerPresence()]);
    if (s) {
      if (!w.polling) throw workerUnavailable(w);
      return s;
    }
    const suggestion = closestName(name, await functionNames().catch(() => []));
    throw new ApiError(
      'function_not_found',
      `no function named "${name}"${suggestion ? ` (did you mean "${suggestion}"?)` : ''}; apply it with PUT /v1/functions/${name}`,
      { function: name, ...(suggestion ? { suggestion } : {}) },
    );
  };
  // The functions this deployment serves: running controllers on its task queue (another
  // deployment sharing the namespace, or a stopped test worker, has its own queue).
  const controllersQuery = `WorkflowType = "${WorkflowType.controller}" AND ExecutionStatus = "Running" AND TaskQueue = "${taskQueue}"`;

  /** Names of the applied functions (running controllers), for "did you mean" on a miss. */
  const functionNames = async (): Promise<string[]> => {
    const res = await client.workflowService.listWorkflowExecutions({
      namespace: client.options.namespace,
      query: controllersQuery,
      pageSize: 1000,
    });
    return (res.executions ?? [])
      .map((e) => e.execution?.workflowId ?? '')
      .filter((id) => id.startsWith('fn:'))
      .map((id) => id.slice(3));
  };

  /**
   * Before a request that may wait long for a controller: Temporal answers at all, within 5 s, so a
   * Temporal outage is a 503 within the 10 s of every other route.
   */
  const reachable = () =>
    client.withDeadline(Date.now() + 5_000, () => client.workflowService.getSystemInfo({}));

  app.put<{ Params: { name: string } }>(
    '/v1/functions/:name',
    { config: { role: 'admin', reconciles: true } },
    async (req, reply) => {
      const name = requireName(req.params.name);
      const text = req.rawBody ?? (typeof req.body === 'string' ? req.body : '');
      if (!text.trim())
        throw new ApiError('validation_failed', 'the body must hold a Function spec (YAML or JSON)');
      const parsed = parseSpecText(text, 'body');
      if (parsed.problems.length) {
        throw new ApiError(
          'spec_invalid',
          `the spec has ${parsed.problems.length} problem${parsed.problems.length === 1 ? '' : 's'}: ${parsed.problems
            .map((p) => `${p.line}:${p.column} ${p.path ? `${p.path}: ` : ''}${p.message}`)
            .join('; ')}`,
          parsed.problems.map(({ line, column, path, message }) => ({ line, column, field: path, message })),
        );
      }
      if (parsed.specs.length !== 1) {
        throw new ApiError(
          'validation_failed',
          `the body holds ${parsed.specs.length} specs; PUT takes exactly one`,
        );
      }
      const spec = parsed.specs[0]!.spec;
      if (spec.metadata.name !== name) {
        throw new ApiError(
          'name_mismatch',
          `the path names "${name}" but metadata.name is "${spec.metadata.name}"`,
        );
      }
      // Webhooks to literal internal addresses and metadata names; names are checked when sent.
      const hooks = (spec.spec.notify ?? []).flatMap((h, i) => {
        const why = refusedWebhookUrl(h.url, deps.notifyAllowCidrs ?? []);
        if (!why) return [];
        const field = ['spec', 'notify', i, 'url'] as const;
        return [{ ...parsed.specs[0]!.locate?.(field), field: field.join('.'), message: why }];
      });
      // ServiceAccounts, Secrets and egress the functions' namespace allows, before anything is applied.
      for (const p of deps.functionAccess ? functionAccessProblems(spec, deps.functionAccess) : [])
        hooks.push({ ...parsed.specs[0]!.locate?.(p.path), field: p.path.join('.'), message: p.message });
      // Typed inputs and results: the API reads no files, so a schemaFile must come with its schema
      // (pontoon apply reads the file and sends both).
      for (const which of ['input', 'output'] as const) {
        const io = spec.spec[which];
        if (!io || io.schema !== undefined) continue;
        const field = ['spec', which, 'schemaFile'] as const;
        hooks.push({
          ...parsed.specs[0]!.locate?.(field),
          field: field.join('.'),
          message: `the API reads no files: send the schema inline as spec.${which}.schema (pontoon apply reads schemaFile beside the spec and sends it inline)`,
        });
      }
      if (hooks.length) {
        throw new ApiError(
          'spec_invalid',
          `the spec has ${hooks.length} problem${hooks.length === 1 ? '' : 's'}: ${hooks.map((h) => `${h.field}: ${h.message}`).join('; ')}`,
          hooks,
        );
      }
      await reachable();
      const r = await applySpec(client, spec, taskQueue).catch((err: unknown) => {
        throw specRefusal(err) ?? err;
      });
      reply.status(r.changed && r.version === 1 ? 201 : 200);
      return { ...r, spec };
    },
  );

  app.get('/v1/functions', { config: { role: 'viewer' } }, async (req) => {
    const q = check(ListFunctionsQuerySchema, req.query, 'query');
    const res = await client.workflowService.listWorkflowExecutions({
      namespace: client.options.namespace,
      query: controllersQuery,
      pageSize: q.limit,
      ...(q.pageToken ? { nextPageToken: pageTokenOf(q.pageToken) } : {}),
    });
    const names = (res.executions ?? [])
      .map((e) => e.execution?.workflowId ?? '')
      .filter((id) => id.startsWith('fn:'))
      .map((id) => id.slice(3));
    // A controller that ended meanwhile (or does not answer) is left out; no worker at all is a
    // 503, not an empty list.
    const specs = await withWorker(Promise.all(names.map((n) => getSpec(client, n).catch(() => null))));
    const functions = specs.flatMap((s) =>
      s
        ? [
            {
              name: s.spec.metadata.name,
              version: s.version,
              appliedAt: s.appliedAt,
              description: s.spec.metadata.description ?? null,
              mode: s.spec.spec.execution.mode,
              schedules: s.spec.spec.schedules.map((x) => x.name),
            },
          ]
        : [],
    );
    functions.sort((a, b) => a.name.localeCompare(b.name));
    return { functions, nextPageToken: encodePageToken(res.nextPageToken) };
  });

  app.get<{ Params: { name: string } }>(
    '/v1/functions/:name',
    { config: { role: 'viewer' } },
    async (req) => {
      const name = requireName(req.params.name);
      const current = await currentSpec(name);
      const controller = client.workflow.getHandle(controllerWorkflowId(name));
      const history = await controller.query(specHistoryQuery);
      // Queue state of a function with a concurrency limit: running, queued per priority, oldest wait.
      const admission = current.spec.spec.execution.concurrency
        ? withCurrentWaits(await controller.query(admissionQuery))
        : null;
      // Warm pool as the Scalar sees it: replicas, ready, demand and its scaling decisions.
      const warmPool =
        current.spec.spec.execution.mode === 'warm' ? await controller.query(warmPoolQuery) : null;
      // Literal values that look like secrets (specs applied before they were refused) are for admins.
      const admin = deps.auth.mode === 'open' || req.apiKey?.role === 'admin';
      return {
        name,
        version: current.version,
        appliedAt: current.appliedAt,
        spec: admin ? current.spec : redactLiteralSecrets(current.spec),
        previousVersions: history.map((h) => ({ version: h.version, appliedAt: h.appliedAt })),
        ...(admission ? { admission } : {}),
        ...(warmPool ? { warmPool } : {}),
      };
    },
  );

  app.get<{ Params: { name: string } }>(
    '/v1/functions/:name/openapi.json',
    { config: { role: 'viewer' } },
    async (req) => {
      const name = requireName(req.params.name);
      const current = await currentSpec(name);
      return functionOpenApiDocument({
        name,
        version: current.version,
        spec: current.spec,
        auth: deps.auth.mode,
      });
    },
  );

  app.delete<{ Params: { name: string } }>(
    '/v1/functions/:name',
    { config: { role: 'admin', reconciles: true } },
    async (req) => {
      const name = requireName(req.params.name);
      await reachable();
      const q = check(DeleteQuerySchema, req.query, 'query');
      await currentSpec(name);
      // One request cancels a bounded number of executions: checked before anything is deleted.
      const cap = deps.maxDeleteCancels ?? MAX_DELETE_CANCELS;
      const runningQuery = listQuery({ function: name, status: 'running' });
      if (q.cancelRunning === 'true') {
        const { count } = await client.workflowService.countWorkflowExecutions({
          namespace: client.options.namespace,
          query: runningQuery,
        });
        const running = Number(count ?? 0);
        if (running > cap) {
          throw new ApiError(
            'too_many_to_cancel',
            `function "${name}" has ${running} running executions; one delete cancels at most ${cap} (PONTOON_API_MAX_DELETE_CANCELS), so nothing was deleted: cancel some first (POST /v1/executions/{id}/cancel), or delete without cancelRunning and let them finish`,
            [{ field: 'query.cancelRunning', message: `${running} running, at most ${cap}`, cap, running }],
          );
        }
      }
      let deleted: { version: number };
      try {
        deleted = await client.workflow.getHandle(controllerWorkflowId(name)).executeUpdate(deleteUpdate);
      } catch (err) {
        if (err instanceof WorkflowNotFoundError || err instanceof WorkflowUpdateFailedError) {
          throw new ApiError('function_not_found', `no function named "${name}"`);
        }
        throw err;
      }
      let cancelled = 0;
      if (q.cancelRunning === 'true') {
        // At most the cap (one started since the count waits for its end), CANCEL_CONCURRENCY at a time.
        let pageToken: string | undefined;
        do {
          const page = await listExecutions(client, {
            function: name,
            status: 'running',
            limit: Math.min(500, cap - cancelled),
            pageToken,
          });
          const ids = page.executions.map((e) => e.executionId);
          for (let i = 0; i < ids.length; i += CANCEL_CONCURRENCY) {
            await Promise.all(
              ids.slice(i, i + CANCEL_CONCURRENCY).map((id) => client.workflow.getHandle(id).cancel()),
            );
          }
          cancelled += ids.length;
          pageToken = page.nextPageToken ?? undefined;
        } while (pageToken && cancelled < cap);
      }
      return { name, deleted: true, version: deleted.version, cancelledExecutions: cancelled };
    },
  );

  registerScheduleRoutes(app, {
    client,
    currentSpec,
    check,
    requireName,
    ...(deps.maxBackfillFires ? { maxBackfillFires: deps.maxBackfillFires } : {}),
  });

  registerDeadLetterRoutes(app, {
    client,
    taskQueue,
    check,
    currentSpec,
    pageTokenOf,
    triggerOf: (headers) => (headers['x-pontoon-client'] === 'cli' ? Trigger.cli : Trigger.api),
    started: (fn, trigger) => metrics.executionsStarted.inc({ function: fn, trigger }),
    ...(deps.maxBackfillFires ? { maxFanOut: deps.maxBackfillFires } : {}),
  });

  // ------------------------------------------------------------------ invocations
  const links = (id: string) => {
    const base = `/v1/executions/${encodeURIComponent(id)}`;
    return { self: base, logs: `${base}/logs`, cancel: `${base}/cancel` };
  };

  app.post<{ Params: { name: string } }>(
    '/v1/functions/:name/invocations',
    { config: { role: 'invoker' }, handlerTimeout: ANSWER_WITHIN_MS + MAX_WAIT_S * 1000 },
    async (req, reply) => {
      const { wait } = check(WaitQuerySchema, req.query, 'query');
      return answerWithin(ANSWER_WITHIN_MS + (wait ?? 0) * 1000, () => invoke(req, reply, wait));
    },
  );

  async function invoke(
    req: FastifyRequest<{ Params: { name: string } }>,
    reply: FastifyReply,
    wait: number | undefined,
  ) {
    const name = requireName(req.params.name);
    const body = check(InvokeBodySchema, req.body, 'body');
    const inputBytes = Buffer.byteLength(JSON.stringify(body.input ?? null));
    if (inputBytes > LIMITS.inputBytes) {
      throw new ApiError(
        'payload_too_large',
        `input is ${inputBytes} bytes; the limit is ${LIMITS.inputBytes} bytes`,
      );
    }
    const current = await currentSpec(name);
    const now = new Date();
    const check2 = resolveParameters(current.spec, body.parameters, {
      scheduledTime: body.scheduledTime ? new Date(body.scheduledTime) : now,
      startTime: now,
      executionId: 'pending',
      function: name,
      attempt: 1,
      trigger: Trigger.api,
    });
    if (check2.problems.length) {
      throw new ApiError(
        'validation_failed',
        `invalid parameters: ${check2.problems.join('; ')}`,
        check2.problems.map((message) => ({ field: 'body.parameters', message })),
      );
    }
    // Typed input: each problem with its JSON Pointer into body.input (the worker checks again for
    // every other starter; the compiled schema is kept per process, spec/io-schema.ts).
    const inputSchema = current.spec.spec.input?.schema;
    if (inputSchema !== undefined) {
      // A schema that does not compile (a spec applied around the API) is left to the worker: SpecInvalid.
      const problems = (() => {
        try {
          return schemaProblems(inputSchema, body.input ?? null);
        } catch {
          return [];
        }
      })();
      if (problems.length) {
        throw new ApiError(
          'validation_failed',
          `input does not match the input schema of "${name}" (version ${current.version}): ${problemsLine(problems)}`,
          problems.map((p) => ({ field: 'body.input', pointer: p.pointer, message: p.message })),
        );
      }
    }
    const header = req.headers['idempotency-key'];
    const headerKey =
      header === undefined ? undefined : check(IdempotencyKeySchema, header, 'header.idempotency-key');
    if (headerKey !== undefined && body.idempotencyKey !== undefined && headerKey !== body.idempotencyKey) {
      throw new ApiError(
        'validation_failed',
        'the Idempotency-Key header and body.idempotencyKey differ; send one of them',
        [{ field: 'header.idempotency-key', message: 'differs from body.idempotencyKey' }],
      );
    }
    const idempotencyKey = body.idempotencyKey ?? headerKey;
    // The pontoon CLI says so, so executions it starts show trigger "cli" in the Web UI.
    const trigger = req.headers['x-pontoon-client'] === 'cli' ? Trigger.cli : Trigger.api;
    const started = await startExecution(
      client,
      {
        function: name,
        ...(body.parameters ? { parameters: body.parameters } : {}),
        ...(body.input !== undefined ? { input: body.input } : {}),
        ...(body.priority !== undefined ? { priority: body.priority } : {}),
        ...(body.scheduledTime ? { scheduledTime: body.scheduledTime } : {}),
        // The version the parameters were checked against: workers holding it skip their own read.
        spec: { version: current.version, appliedAt: current.appliedAt },
      },
      {
        trigger,
        taskQueue,
        ...(idempotencyKey ? { idempotencyKey } : {}),
      },
    );
    if (started.created) {
      metrics.executionsStarted.inc({ function: name, trigger: trigger });
    }
    const answer = {
      executionId: started.executionId,
      created: started.created,
      links: links(started.executionId),
    };
    if (wait) {
      const done = await Promise.race([
        waitForResult(client, started.executionId).then(
          () => true,
          () => true,
        ),
        new Promise<false>((r) => setTimeout(() => r(false), wait * 1000)),
      ]);
      if (done) {
        reply.status(200);
        return { ...answer, execution: await describeExecution(client, started.executionId) };
      }
    }
    reply.status(202).header('location', answer.links.self);
    return answer;
  }

  // ------------------------------------------------------------------ executions
  const getExecution = async (id: string): Promise<ExecutionDetail> => {
    try {
      return await describeExecution(client, id);
    } catch (err) {
      if (err instanceof WorkflowNotFoundError || (err as Error).name === 'NotAnExecution') {
        throw new ApiError('execution_not_found', `no execution "${id}"`);
      }
      throw err;
    }
  };

  app.get('/v1/executions', { config: { role: 'viewer' } }, async (req) => {
    const q = check(ListExecutionsQuerySchema, req.query, 'query');
    if (q.pageToken !== undefined) pageTokenOf(q.pageToken);
    return listExecutions(client, q);
  });

  app.get<{ Params: { id: string } }>('/v1/executions/:id', { config: { role: 'viewer' } }, async (req) => {
    return { ...(await getExecution(req.params.id)), links: links(req.params.id) };
  });

  app.post<{ Params: { id: string } }>(
    '/v1/executions/:id/cancel',
    { config: { role: 'invoker' } },
    async (req, reply) => {
      check(EmptyBodySchema, req.body, 'body');
      const ex = await getExecution(req.params.id);
      if (ex.status !== 'running') {
        throw new ApiError(
          'execution_not_running',
          `execution "${req.params.id}" already ended (${ex.status})`,
        );
      }
      await client.workflow.getHandle(req.params.id).cancel();
      reply.status(202);
      return { executionId: req.params.id, status: 'cancelling' };
    },
  );

  app.get<{ Params: { id: string } }>(
    '/v1/executions/:id/logs',
    { config: { role: 'viewer' } },
    async (req, reply) => {
      const q = check(LogsQuerySchema, req.query, 'query');
      const id = req.params.id;
      const ex = await getExecution(id);
      const attempt = q.attempt ?? Math.max(1, ex.attempt ?? 0, ...ex.attempts.map((a) => a.attempt));
      const fn = ex.function ?? parseExecutionWorkflowId(id)?.function;
      const ended = (e: ExecutionDetail) =>
        e.status !== 'running' || e.attempts.some((a) => a.attempt === attempt) || (e.attempt ?? 0) > attempt;
      const abort = new AbortController();
      req.raw.once('close', () => abort.abort());
      const opened = fn
        ? await logs.open(
            { executionId: id, function: fn, attempt },
            {
              running: !ended(ex),
              follow: q.follow === 'true',
              // Follow until the execution ends or moves on to a later attempt.
              stillRunning: async () => !ended(await getExecution(id)),
              signal: abort.signal,
            },
          )
        : undefined;
      if (!opened) {
        throw new ApiError(
          'attempt_not_found',
          `no log for attempt ${attempt} of "${id}" (attempts so far: ${ex.attempts.length || ex.attempt || 0}; stored logs are deleted after PONTOON_LOG_RETENTION)`,
        );
      }
      reply
        .header('content-type', 'text/plain; charset=utf-8')
        .header('x-pontoon-attempt', String(attempt))
        .header('x-pontoon-log-source', opened.source)
        .header('x-pontoon-log-truncated', String(opened.truncated));
      return reply.send(opened.body);
    },
  );

  return app;
}
