/**
 * The route table of the API: every route's method, URL, least role and documentation, in one
 * place. The server binds its handlers to these entries (api/routes/*.ts, `bindRoute`), the OpenAPI
 * document's paths are generated from them (api/openapi.ts), and the CLI's typed client calls them
 * (cli/api-client.ts) — no URL is written anywhere else.
 *
 * Zod-free on purpose: the CLI loads this module on every command and stays within its start-up
 * budget (bench/cli-startup.ts). The request shapes (zod) of each route are ROUTE_SCHEMAS in api/schemas.ts,
 * keyed by the same route ids.
 */
import { MAX_BACKFILL_FIRES } from '../core/schedule-policy.ts';
import type { Role } from './auth.ts';
import type { ApiErrorCode } from './errors.ts';

/** A response of a route besides its errors, as written in the OpenAPI document. */
export interface RouteResponse {
  description: string;
  content?: Record<string, { schema: unknown }>;
  headers?: Record<string, { description: string; schema: Record<string, unknown> }>;
}

/** One route: what the server serves, the document says and the CLI calls. */
export interface RouteDef {
  method: 'GET' | 'PUT' | 'POST' | 'DELETE';
  /** OpenAPI path template: `{name}` marks a path parameter. */
  url: string;
  /** Least role allowed; unset: public (no key in either auth mode). */
  role?: Role;
  /**
   * Waits for a controller to reconcile (apply, delete) or fans out: the 30 s answer budget
   * (api/plugins/deadlines.ts), after a quick check that Temporal answers.
   */
  reconciles?: boolean;
  /** Not in /openapi.json (the document itself, the Prometheus scrape, the codec server). */
  hidden?: boolean;
  /** Asks a function's controller workflow, which only a running worker answers (503 worker_unavailable). */
  worker?: boolean;
  summary?: string;
  description?: string;
  /** Answers besides errors, by HTTP status. */
  responses?: Record<number, RouteResponse>;
  /** The route's own error codes; the document adds the browser, key and Temporal ones (api/openapi.ts). */
  errors?: readonly ApiErrorCode[];
}

const json = (schema: unknown) => ({ 'application/json': { schema } });
const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });

const health = {
  health: {
    method: 'GET',
    url: '/healthz',
    summary: 'Liveness, and the version of Pontoon serving',
    responses: {
      200: {
        description: 'alive',
        content: json({
          type: 'object',
          required: ['status', 'version'],
          properties: {
            status: { type: 'string', enum: ['ok'] },
            version: { type: 'string', description: 'semantic version, e.g. 0.2.0' },
          },
        }),
      },
    },
  },
  ready: {
    method: 'GET',
    url: '/readyz',
    summary: 'Readiness: Temporal is reachable',
    responses: { 200: { description: 'ready' } },
    errors: ['temporal_unavailable'],
  },
} as const satisfies Record<string, RouteDef>;

const functions = {
  listFunctions: {
    method: 'GET',
    url: '/v1/functions',
    role: 'viewer',
    summary: 'List functions',
    responses: { 200: { description: 'functions and nextPageToken' } },
    errors: ['bad_request'],
  },
  applyFunction: {
    method: 'PUT',
    url: '/v1/functions/{name}',
    role: 'admin',
    reconciles: true,
    worker: true,
    summary: 'Apply a function spec (create or update; unchanged specs are a no-op)',
    description: 'Body: one Function spec as YAML (application/yaml) or JSON. Errors carry line and column.',
    responses: {
      200: { description: 'applied (changed or unchanged)' },
      201: { description: 'created (version 1)' },
    },
    errors: ['spec_invalid', 'validation_failed', 'name_mismatch'],
  },
  getFunction: {
    method: 'GET',
    url: '/v1/functions/{name}',
    role: 'viewer',
    worker: true,
    summary: 'Get a function: current spec, version and earlier versions',
    responses: { 200: { description: 'the function' } },
    errors: ['bad_request', 'function_not_found'],
  },
  deleteFunction: {
    method: 'DELETE',
    url: '/v1/functions/{name}',
    role: 'admin',
    reconciles: true,
    worker: true,
    summary: 'Delete a function (running executions finish unless cancelRunning=true)',
    description:
      'cancelRunning=true also cancels its running executions, at most PONTOON_API_MAX_DELETE_CANCELS (1000) of them: ' +
      'with more running, the answer is 409 too_many_to_cancel (stating the cap and the count) and nothing is deleted.',
    responses: { 200: { description: 'deleted' } },
    errors: ['function_not_found', 'too_many_to_cancel'],
  },
  invoke: {
    method: 'POST',
    url: '/v1/functions/{name}/invocations',
    role: 'invoker',
    worker: true,
    summary: 'Invoke a function',
    description:
      'Starts an execution. The same idempotencyKey (body or Idempotency-Key header) always names the same execution. ' +
      '?wait=N answers 200 with the execution when it ends within N seconds, else 202.',
    responses: {
      200: { description: 'finished within wait' },
      202: { description: 'started (or existing, created=false)' },
    },
    errors: ['validation_failed', 'function_not_found'],
  },
  functionOpenApi: {
    method: 'GET',
    url: '/v1/functions/{name}/openapi.json',
    role: 'viewer',
    worker: true,
    summary: "A function's own OpenAPI document: its invocation with its input and result schemas",
    description:
      'An OpenAPI 3.1 document for invoking this one function: POST /v1/functions/<name>/invocations with ' +
      "`input` typed by the function's spec.input.schema and the execution's `output` by spec.output.schema " +
      '(components FunctionInput and FunctionOutput; `{}`, any JSON, when the spec declares none), and its ' +
      'parameters with their types. Per function, behind the viewer role: this document (/openapi.json) is public and ' +
      'the same for every caller, so it names no function.',
    responses: {
      200: { description: "the function's OpenAPI document", content: json({ type: 'object' }) },
    },
    errors: ['bad_request', 'function_not_found'],
  },
} as const satisfies Record<string, RouteDef>;

/** The four actions on one schedule share their shape. */
const scheduleAction = <A extends string>(action: A, summary: string) =>
  ({
    method: 'POST',
    url: `/v1/functions/{name}/schedules/{schedule}/${action}`,
    role: 'invoker',
    worker: true,
    summary,
    responses: { 202: { description: 'done' } },
    errors: [
      'validation_failed',
      ...(action === 'backfill' ? (['backfill_too_large'] as const) : []),
      'function_not_found',
      'schedule_not_found',
    ],
  }) as const satisfies RouteDef;

const schedules = {
  listSchedules: {
    method: 'GET',
    url: '/v1/functions/{name}/schedules',
    role: 'viewer',
    worker: true,
    summary:
      "A function's schedules: next 5 fire times, paused state and note, recent executions with results",
    responses: { 200: { description: 'schedules' } },
    errors: ['bad_request', 'function_not_found'],
  },
  pauseSchedule: scheduleAction('pause', 'Pause a schedule (with a note)'),
  unpauseSchedule: scheduleAction('unpause', 'Unpause a schedule (with a note)'),
  triggerSchedule: scheduleAction(
    'trigger',
    'Run a schedule now (its overlap policy unless the body gives one)',
  ),
  backfillSchedule: scheduleAction('backfill', 'Run the fires a schedule would have had between from and to'),
} as const satisfies Record<string, RouteDef>;

const executions = {
  listExecutions: {
    method: 'GET',
    url: '/v1/executions',
    role: 'viewer',
    summary: 'List executions (Temporal visibility), newest first',
    responses: { 200: { description: 'executions and nextPageToken' } },
    errors: ['bad_request'],
  },
  getExecution: {
    method: 'GET',
    url: '/v1/executions/{id}',
    role: 'viewer',
    summary: 'Get an execution: status, parameters, attempts, result, timings, trigger',
    responses: { 200: { description: 'the execution', content: json(ref('Execution')) } },
    errors: ['bad_request', 'execution_not_found'],
  },
  cancelExecution: {
    method: 'POST',
    url: '/v1/executions/{id}/cancel',
    role: 'invoker',
    summary: 'Cancel a running execution (kills its attempt)',
    responses: { 202: { description: 'cancelling' } },
    errors: ['validation_failed', 'execution_not_found', 'execution_not_running'],
  },
} as const satisfies Record<string, RouteDef>;

const deadLetters = {
  redriveExecution: {
    method: 'POST',
    url: '/v1/executions/{id}/redrive',
    role: 'invoker',
    worker: true,
    summary:
      'Redrive a failed execution: a new one with the same function, parameters, input and scheduledTime',
    description:
      'The new execution is exec:<function>:<key>.redrive (derived from the original, so a second redrive names the same ' +
      'execution: 200 with created=false), carries PontoonRedriveOf=<original> and redriveOf in its result, and runs ' +
      'the current spec version; sameVersion=true runs exactly the version the original ran, while the controller keeps it (its last 20).',
    responses: {
      200: { description: 'redriven before: the existing redrive (created=false)' },
      202: { description: 'redrive started' },
    },
    errors: [
      'validation_failed',
      'execution_not_found',
      'function_not_found',
      'execution_not_failed',
      'spec_version_changed',
      'redrive_id_taken',
    ],
  },
  listDeadLetters: {
    method: 'GET',
    url: '/v1/dead-letters',
    role: 'viewer',
    summary: 'List dead letters (executions that ended failed after their retries), newest first',
    description:
      'Temporal visibility: ExecutionStatus Failed, by PontoonFunction, PontoonFailureType and the close time.',
    responses: { 200: { description: 'deadLetters and nextPageToken' } },
    errors: ['bad_request'],
  },
  // Fans out: the 30 s budget of the routes that reconcile, not the 9 s one.
  redriveDeadLetters: {
    method: 'POST',
    url: '/v1/dead-letters/redrive',
    role: 'invoker',
    reconciles: true,
    worker: true,
    summary: 'Redrive every dead letter of a function matching a filter (dryRun counts them)',
    description:
      `Starts at most PONTOON_API_MAX_BACKFILL_FIRES (the backfill cap, ${MAX_BACKFILL_FIRES}) redrives: more matches are 400 redrive_too_large ` +
      'and nothing starts. Each redrive is idempotent, so repeating a request starts only what is new.',
    responses: {
      200: { description: 'dry run: the count and the cap' },
      202: { description: 'started: counts and one entry per dead letter' },
    },
    errors: ['validation_failed', 'redrive_too_large'],
  },
} as const satisfies Record<string, RouteDef>;

const logs = {
  executionLogs: {
    method: 'GET',
    url: '/v1/executions/{id}/logs',
    role: 'viewer',
    summary: "An attempt's log (text/plain); follow=true streams while the execution runs",
    description:
      "A finished attempt's log comes from the log store (PONTOON_LOG_STORE) for PONTOON_LOG_RETENTION after it ended, " +
      'at most its last PONTOON_LOG_MAX_BYTES behind a first line "[pontoon] log truncated: …"; a running attempt\'s ' +
      'from its process or pod. The same on both runtimes.',
    responses: {
      200: {
        description: 'the log',
        headers: {
          'x-pontoon-attempt': { description: 'the attempt shown', schema: { type: 'integer' } },
          'x-pontoon-log-source': {
            description: 'stored (kept copy of a finished attempt) or live (its process or pod, now)',
            schema: { type: 'string', enum: ['stored', 'live'] },
          },
          'x-pontoon-log-truncated': {
            description: 'true when the first line is the truncation marker',
            schema: { type: 'string', enum: ['true', 'false'] },
          },
        },
        content: { 'text/plain': { schema: { type: 'string' } } },
      },
    },
    errors: ['bad_request', 'execution_not_found', 'attempt_not_found'],
  },
} as const satisfies Record<string, RouteDef>;

/** Served but not in /openapi.json. */
const undocumented = {
  apiDocument: { method: 'GET', url: '/openapi.json', hidden: true },
  // Role viewer: series carry function names and traffic, which a viewer may see anyway.
  metrics: { method: 'GET', url: '/metrics', role: 'viewer', hidden: true },
  // The codec server for the Web UI and the `temporal` CLI (api/routes/codec.ts).
  codecEncode: { method: 'POST', url: '/codec/encode', role: 'invoker', hidden: true },
  codecDecode: { method: 'POST', url: '/codec/decode', role: 'viewer', hidden: true },
} as const satisfies Record<string, RouteDef>;

/**
 * Every route, by id, in the order of the OpenAPI document. Besides these the server answers
 * `/docs` (Swagger UI, @fastify/swagger-ui) and the codec routes' CORS preflight (OPTIONS).
 */
export const ROUTES = {
  ...health,
  ...functions,
  ...schedules,
  ...executions,
  ...deadLetters,
  ...logs,
  ...undocumented,
} as const satisfies Record<string, RouteDef>;

export type RouteId = keyof typeof ROUTES;
/** Routes in /openapi.json: each has a `pontoon` command (cli/routes.ts). */
export type DocumentedRouteId = Exclude<RouteId, keyof typeof undocumented>;

/** Names of the path parameters of a URL template: `'name' | 'schedule'` of `…/{name}/schedules/{schedule}/…`. */
export type PathParamNames<U extends string> = U extends `${string}{${infer P}}${infer Rest}`
  ? P | PathParamNames<Rest>
  : never;
/** The path parameters of a URL template, as strings. */
export type PathParams<U extends string> = { [K in PathParamNames<U>]: string };

/** The path of a route with its parameters filled in (each URI-encoded). */
export function routePath<R extends RouteDef>(route: R, params: PathParams<R['url']>): string {
  return route.url.replace(/\{([^}]+)\}/g, (_, p: string) =>
    encodeURIComponent((params as Record<string, string>)[p] ?? ''),
  );
}

/** Fastify's form of a URL template: `{name}` becomes `:name`. */
export function fastifyUrl(url: string): string {
  return url.replace(/\{([^}]+)\}/g, ':$1');
}
