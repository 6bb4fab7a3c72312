/** The OpenAPI 3.1 document of the API, served at /openapi.json and browsable at /docs. */
import { z } from 'zod';
import { functionJsonSchema } from '../spec/json-schema.ts';
import type { FunctionSpec } from '../spec/schema.ts';
import { API_ERRORS, type ApiErrorCode } from './errors.ts';
import {
  BackfillBodySchema,
  BulkRedriveBodySchema,
  DeleteQuerySchema,
  EmptyBodySchema,
  FunctionNameSchema,
  IdempotencyKeySchema,
  InvokeBodySchema,
  ListDeadLettersQuerySchema,
  ListExecutionsQuerySchema,
  ListFunctionsQuerySchema,
  LogsQuerySchema,
  NoteBodySchema,
  RedriveBodySchema,
  TriggerBodySchema,
  WaitQuerySchema,
} from './schemas.ts';

const json = (schema: unknown) => ({ 'application/json': { schema } });
const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const jsonSchema = (schema: z.ZodType) => {
  const js = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  delete js.$schema;
  return js;
};
const errors = (...codes: ApiErrorCode[]) =>
  Object.fromEntries(
    [...new Set(codes.map((c) => API_ERRORS[c].status))].sort().map((status) => [
      String(status),
      {
        description: [...new Set(codes)]
          .filter((c) => API_ERRORS[c].status === status)
          .map((c) => `\`${c}\`: ${API_ERRORS[c].description}`)
          .join(' '),
        content: json(ref('Error')),
      },
    ]),
  );
/** What every route can answer to a browser's request from another origin or host (api/browser-guard.ts). */
const browser = ['cross_origin_refused', 'host_not_allowed'] as const;
/** What a route behind an API key can answer about the key (keys mode only). */
const keyed = ['unauthorized', 'forbidden', 'too_many_requests'] as const;
/**
 * What every method whose body Fastify parses (POST, PUT, DELETE) can answer, body or not: a body
 * that is not JSON, one over the limit, a media type other than JSON (or YAML for specs).
 */
const bodied = ['bad_request', 'payload_too_large', 'unsupported_media_type'] as const;
/**
 * Every POST says it is JSON, an empty body included, or sends X-Pontoon-Client (api/browser-guard.ts):
 * what a web page cannot send. So the document makes each POST's body required.
 */
const nameParam = {
  name: 'name',
  in: 'path',
  required: true,
  schema: jsonSchema(FunctionNameSchema),
  description: 'Function name',
};
/** Fastify's maxParamLength (api/app.ts): a longer path segment is a 400. */
const MAX_PARAM_LENGTH = 500;
const idParam = {
  name: 'id',
  in: 'path',
  required: true,
  schema: { type: 'string', minLength: 1, maxLength: MAX_PARAM_LENGTH },
  description: 'Execution id (the workflow id, e.g. exec:hello:8f3c…)',
};
const scheduleParam = {
  name: 'schedule',
  in: 'path',
  required: true,
  schema: { type: 'string', minLength: 1, maxLength: MAX_PARAM_LENGTH },
  description: "Schedule name (the spec's schedules[].name)",
};

function queryParams(schema: z.ZodObject) {
  const js = jsonSchema(schema) as { properties: Record<string, { description?: string }> };
  return Object.entries(js.properties).map(([name, s]) => ({
    name,
    in: 'query',
    required: false,
    schema: s,
    description: s.description,
  }));
}

/**
 * The document of a server in one auth mode, true to what it answers: with keys, bearer security
 * and 401/403 forbidden/429 on every keyed route; open (PONTOON_AUTH=none), no security and none of
 * those. Both refuse other origins (403 cross_origin_refused) and foreign Host headers (421).
 */
export function openApiDocument(opts: { auth?: 'keys' | 'open' } = {}): Record<string, unknown> {
  const open = opts.auth === 'open';
  /** What every route behind an API key can answer besides its own errors. */
  const guarded = [...(open ? [] : keyed), ...browser, 'temporal_unavailable'] as const;
  /** Routes that ask a function's controller workflow, which only a running worker answers. */
  const controlled = [...guarded, 'worker_unavailable'] as const;
  /** Public routes (health, readiness): no key in either mode. */
  const publicRoute = open ? {} : { security: [] };
  const specSchema = { ...functionJsonSchema() };
  delete specSchema.$schema;
  delete specSchema.$id;
  return {
    openapi: '3.1.0',
    info: {
      title: 'Pontoon API',
      version: '1',
      description: open
        ? '**This server runs with no auth (PONTOON_AUTH=none): send no key.** ' +
          'Apply functions, invoke them, follow executions. Every execution is a Temporal workflow (type executeFunction). ' +
          'Errors are `{code, message, details}` with a stable `code`.'
        : 'Apply functions, invoke them, follow executions. Every execution is a Temporal workflow (type executeFunction). ' +
          'Errors are `{code, message, details}` with a stable `code`. Authenticate with `Authorization: Bearer <API key>`; ' +
          'roles: viewer (read), invoker (+ invoke, cancel), admin (+ apply, delete).',
    },
    components: {
      ...(open ? {} : { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } }),
      schemas: {
        Error: {
          type: 'object',
          required: ['code', 'message'],
          properties: {
            code: { type: 'string', enum: Object.keys(API_ERRORS) },
            message: { type: 'string' },
            details: {},
          },
        },
        FunctionSpec: specSchema,
        InvokeRequest: jsonSchema(InvokeBodySchema),
        Execution: {
          type: 'object',
          properties: {
            executionId: { type: 'string' },
            function: { type: ['string', 'null'] },
            trigger: { type: ['string', 'null'] },
            priority: { type: ['integer', 'null'] },
            status: {
              type: 'string',
              enum: ['running', 'succeeded', 'failed', 'timed_out', 'cancelled', 'terminated'],
            },
            startedAt: { type: ['string', 'null'] },
            endedAt: { type: ['string', 'null'] },
            phase: { type: 'string' },
            parameters: { type: 'object' },
            attempts: { type: 'array', items: { type: 'object' } },
            output: {},
            failure: {
              type: 'object',
              properties: { type: { type: 'string' }, message: { type: 'string' } },
            },
          },
        },
      },
    },
    ...(open ? {} : { security: [{ bearer: [] }] }),
    paths: {
      '/healthz': {
        get: {
          summary: 'Liveness, and the version of Pontoon serving',
          ...publicRoute,
          responses: {
            200: {
              description: 'alive',
              content: {
                'application/json': {
                  schema: {
                    type: 'object',
                    required: ['status', 'version'],
                    properties: {
                      status: { type: 'string', enum: ['ok'] },
                      version: { type: 'string', description: 'semantic version, e.g. 0.2.0' },
                    },
                  },
                },
              },
            },
            ...errors(...browser),
          },
        },
      },
      '/readyz': {
        get: {
          summary: 'Readiness: Temporal is reachable',
          ...publicRoute,
          responses: { 200: { description: 'ready' }, ...errors('temporal_unavailable', ...browser) },
        },
      },
      '/v1/functions': {
        get: {
          summary: 'List functions',
          parameters: queryParams(ListFunctionsQuerySchema),
          responses: {
            200: { description: 'functions and nextPageToken' },
            ...errors('bad_request', ...guarded),
          },
        },
      },
      '/v1/functions/{name}': {
        put: {
          summary: 'Apply a function spec (create or update; unchanged specs are a no-op)',
          description:
            'Body: one Function spec as YAML (application/yaml) or JSON. Errors carry line and column.',
          parameters: [nameParam],
          requestBody: {
            required: true,
            content: {
              'application/json': { schema: ref('FunctionSpec') },
              'application/yaml': { schema: ref('FunctionSpec') },
            },
          },
          responses: {
            200: { description: 'applied (changed or unchanged)' },
            201: { description: 'created (version 1)' },
            ...errors('spec_invalid', 'validation_failed', 'name_mismatch', ...bodied, ...controlled),
          },
        },
        get: {
          summary: 'Get a function: current spec, version and earlier versions',
          parameters: [nameParam],
          responses: {
            200: { description: 'the function' },
            ...errors('bad_request', 'function_not_found', ...controlled),
          },
        },
        delete: {
          summary: 'Delete a function (running executions finish unless cancelRunning=true)',
          description:
            'cancelRunning=true also cancels its running executions, at most PONTOON_API_MAX_DELETE_CANCELS (1000) of them: ' +
            'with more running, the answer is 409 too_many_to_cancel (stating the cap and the count) and nothing is deleted.',
          parameters: [nameParam, ...queryParams(DeleteQuerySchema)],
          responses: {
            200: { description: 'deleted' },
            ...errors('function_not_found', 'too_many_to_cancel', ...bodied, ...controlled),
          },
        },
      },
      '/v1/functions/{name}/invocations': {
        post: {
          summary: 'Invoke a function',
          description:
            'Starts an execution. The same idempotencyKey (body or Idempotency-Key header) always names the same execution. ' +
            '?wait=N answers 200 with the execution when it ends within N seconds, else 202.',
          parameters: [
            nameParam,
            ...queryParams(WaitQuerySchema),
            {
              name: 'Idempotency-Key',
              in: 'header',
              required: false,
              schema: jsonSchema(IdempotencyKeySchema),
              description: 'Same as body.idempotencyKey (send one of them, or both equal).',
            },
          ],
          requestBody: { required: true, content: json(ref('InvokeRequest')) },
          responses: {
            200: { description: 'finished within wait' },
            202: { description: 'started (or existing, created=false)' },
            ...errors('validation_failed', 'function_not_found', ...bodied, ...controlled),
          },
        },
      },
      '/v1/functions/{name}/openapi.json': {
        get: {
          summary: "A function's own OpenAPI document: its invocation with its input and result schemas",
          description:
            'An OpenAPI 3.1 document for invoking this one function: POST /v1/functions/<name>/invocations with ' +
            "`input` typed by the function's spec.input.schema and the execution's `output` by spec.output.schema " +
            '(components FunctionInput and FunctionOutput; `{}`, any JSON, when the spec declares none), and its ' +
            'parameters with their types. Per function, behind the viewer role: this document (/openapi.json) is public and ' +
            'the same for every caller, so it names no function.',
          parameters: [nameParam],
          responses: {
            200: { description: "the function's OpenAPI document", content: json({ type: 'object' }) },
            ...errors('bad_request', 'function_not_found', ...controlled),
          },
        },
      },
      '/v1/functions/{name}/schedules': {
        get: {
          summary:
            "A function's schedules: next 5 fire times, paused state and note, recent executions with results",
          parameters: [nameParam],
          responses: {
            200: { description: 'schedules' },
            ...errors('bad_request', 'function_not_found', ...controlled),
          },
        },
      },
      ...Object.fromEntries(
        (
          [
            ['pause', 'Pause a schedule (with a note)', NoteBodySchema],
            ['unpause', 'Unpause a schedule (with a note)', NoteBodySchema],
            [
              'trigger',
              'Run a schedule now (its overlap policy unless the body gives one)',
              TriggerBodySchema,
            ],
            ['backfill', 'Run the fires a schedule would have had between from and to', BackfillBodySchema],
          ] as const
        ).map(([action, summary, schema]) => [
          `/v1/functions/{name}/schedules/{schedule}/${action}`,
          {
            post: {
              summary,
              parameters: [nameParam, scheduleParam],
              requestBody: { required: true, content: json(jsonSchema(schema)) },
              responses: {
                202: { description: 'done' },
                ...errors(
                  'validation_failed',
                  ...(action === 'backfill' ? (['backfill_too_large'] as const) : []),
                  'function_not_found',
                  'schedule_not_found',
                  ...bodied,
                  ...controlled,
                ),
              },
            },
          },
        ]),
      ),
      '/v1/executions': {
        get: {
          summary: 'List executions (Temporal visibility), newest first',
          parameters: queryParams(ListExecutionsQuerySchema),
          responses: {
            200: { description: 'executions and nextPageToken' },
            ...errors('bad_request', ...guarded),
          },
        },
      },
      '/v1/executions/{id}': {
        get: {
          summary: 'Get an execution: status, parameters, attempts, result, timings, trigger',
          parameters: [idParam],
          responses: {
            200: { description: 'the execution', content: json(ref('Execution')) },
            ...errors('bad_request', 'execution_not_found', ...guarded),
          },
        },
      },
      '/v1/executions/{id}/cancel': {
        post: {
          summary: 'Cancel a running execution (kills its attempt)',
          parameters: [idParam],
          requestBody: { required: true, content: json(jsonSchema(EmptyBodySchema)) },
          responses: {
            202: { description: 'cancelling' },
            ...errors(
              'validation_failed',
              'execution_not_found',
              'execution_not_running',
              ...bodied,
              ...guarded,
            ),
          },
        },
      },
      '/v1/executions/{id}/redrive': {
        post: {
          summary:
            'Redrive a failed execution: a new one with the same function, parameters, input and scheduledTime',
          description:
            'The new execution is exec:<function>:<key>.redrive (derived from the original, so a second redrive names the same ' +
            'execution: 200 with created=false), carries PontoonRedriveOf=<original> and redriveOf in its result, and runs ' +
            'the current spec version; sameVersion=true runs exactly the version the original ran, while the controller keeps it (its last 20).',
          parameters: [idParam],
          requestBody: { required: true, content: json(jsonSchema(RedriveBodySchema)) },
          responses: {
            200: { description: 'redriven before: the existing redrive (created=false)' },
            202: { description: 'redrive started' },
            ...errors(
              'validation_failed',
              'execution_not_found',
              'function_not_found',
              'execution_not_failed',
              'spec_version_changed',
              'redrive_id_taken',
              ...bodied,
              ...controlled,
            ),
          },
        },
      },
      '/v1/dead-letters': {
        get: {
          summary: 'List dead letters (executions that ended failed after their retries), newest first',
          description:
            'Temporal visibility: ExecutionStatus Failed, by PontoonFunction, PontoonFailureType and the close time.',
          parameters: queryParams(ListDeadLettersQuerySchema),
          responses: {
            200: { description: 'deadLetters and nextPageToken' },
            ...errors('bad_request', ...guarded),
          },
        },
      },
      '/v1/dead-letters/redrive': {
        post: {
          summary: 'Redrive every dead letter of a function matching a filter (dryRun counts them)',
          description:
            'Starts at most PONTOON_API_MAX_BACKFILL_FIRES (the backfill cap, 1000) redrives: more matches are 400 redrive_too_large ' +
            'and nothing starts. Each redrive is idempotent, so repeating a request starts only what is new.',
          requestBody: { required: true, content: json(jsonSchema(BulkRedriveBodySchema)) },
          responses: {
            200: { description: 'dry run: the count and the cap' },
            202: { description: 'started: counts and one entry per dead letter' },
            ...errors('validation_failed', 'redrive_too_large', ...bodied, ...controlled),
          },
        },
      },
      '/v1/executions/{id}/logs': {
        get: {
          summary: "An attempt's log (text/plain); follow=true streams while the execution runs",
          description:
            "A finished attempt's log comes from the log store (PONTOON_LOG_STORE) for PONTOON_LOG_RETENTION after it ended, " +
            'at most its last PONTOON_LOG_MAX_BYTES behind a first line "[pontoon] log truncated: …"; a running attempt\'s ' +
            'from its process or pod. The same on both runtimes.',
          parameters: [idParam, ...queryParams(LogsQuerySchema)],
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
            ...errors('bad_request', 'execution_not_found', 'attempt_not_found', ...guarded),
          },
        },
      },
    },
  };
}

/** A schema from a spec, embedded in a document: its own `$id`, so its `#/$defs/…` references resolve inside it. */
function embedded(schema: unknown, id: string): unknown {
  if (schema === undefined) return {};
  if (typeof schema !== 'object' || schema === null) return schema;
  const s = { ...(schema as Record<string, unknown>) };
  delete s.$schema;
  if (s.$id === undefined && JSON.stringify(s).includes('"$ref"')) s.$id = id;
  return s;
}

const PARAMETER_JSON_TYPES: Record<string, Record<string, unknown>> = {
  string: { type: 'string' },
  integer: { type: ['integer', 'string'] },
  number: { type: ['number', 'string'] },
  boolean: { type: ['boolean', 'string'] },
  date: { type: 'string', format: 'date' },
  datetime: { type: 'string', format: 'date-time' },
};

/**
 * The OpenAPI 3.1 document of one applied function (GET /v1/functions/{name}/openapi.json): its
 * invocation route with the request's `input` typed by `spec.input.schema`, its parameters typed
 * as declared, and the execution's `output` typed by `spec.output.schema` (components
 * `FunctionInput`, `FunctionOutput`). JSON Schema 2020-12 is OpenAPI 3.1's own dialect, so the
 * schemas go in as they were applied.
 */
export function functionOpenApiDocument(opts: {
  name: string;
  version: number;
  spec: FunctionSpec;
  auth?: 'keys' | 'open';
}): Record<string, unknown> {
  const { name, version, spec } = opts;
  const open = opts.auth === 'open';
  const params = spec.spec.parameters;
  const parameters = {
    type: 'object',
    additionalProperties: false,
    properties: Object.fromEntries(
      params.map((p) => [
        p.name,
        {
          ...PARAMETER_JSON_TYPES[p.type],
          ...(p.description ? { description: p.description } : {}),
          ...(p.enum ? { enum: p.enum } : {}),
          ...(p.default !== undefined ? { default: p.default } : {}),
        },
      ]),
    ),
    required: params
      .filter((p) => p.required === true || (p.required === undefined && p.default === undefined))
      .map((p) => p.name),
  };
  const base = `urn:pontoon:function:${name}:v${version}`;
  const shared = (openApiDocument({ auth: opts.auth }).components as { schemas: Record<string, unknown> })
    .schemas;
  return {
    openapi: '3.1.0',
    info: {
      title: `Pontoon function ${name}`,
      version: String(version),
      description: `${spec.metadata.description ?? `Invoke ${name}.`} Spec version ${version}. An input that does not match FunctionInput is refused with 400 validation_failed (details: one {field, pointer, message} per problem); a result that does not match FunctionOutput ends the execution OutputInvalid.`,
    },
    components: {
      ...(open ? {} : { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } }),
      schemas: {
        FunctionInput: embedded(spec.spec.input?.schema, `${base}:input`),
        FunctionOutput: embedded(spec.spec.output?.schema, `${base}:output`),
        FunctionParameters: parameters,
        Error: shared.Error,
        Execution: shared.Execution,
      },
    },
    ...(open ? {} : { security: [{ bearer: [] }] }),
    paths: {
      [`/v1/functions/${name}/invocations`]: {
        post: {
          summary: `Invoke ${name}`,
          parameters: [
            {
              name: 'wait',
              in: 'query',
              required: false,
              schema: { type: 'number', minimum: 0, maximum: 300 },
              description: 'Answer 200 with the execution when it ends within this many seconds, else 202.',
            },
          ],
          requestBody: {
            required: true,
            content: json({
              type: 'object',
              additionalProperties: false,
              properties: {
                input: {
                  ...ref('FunctionInput'),
                  description: '$PONTOON_DIR/input.json of the function; null when left out',
                },
                parameters: ref('FunctionParameters'),
                priority: {
                  oneOf: [{ type: 'integer', minimum: 1, maximum: 5 }, { enum: ['high', 'normal', 'low'] }],
                },
                idempotencyKey: { type: 'string' },
                scheduledTime: { type: 'string', format: 'date-time' },
              },
            }),
          },
          responses: {
            200: {
              description: 'finished within wait: the execution, its output typed by FunctionOutput',
              content: json({
                type: 'object',
                properties: {
                  executionId: { type: 'string' },
                  created: { type: 'boolean' },
                  execution: {
                    allOf: [ref('Execution')],
                    properties: { output: { oneOf: [ref('FunctionOutput'), { type: 'null' }] } },
                  },
                },
              }),
            },
            202: { description: 'started (or existing, created=false)' },
            ...errors(
              'validation_failed',
              'function_not_found',
              'temporal_unavailable',
              'worker_unavailable',
            ),
          },
        },
      },
    },
  };
}
