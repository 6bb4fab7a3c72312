/**
 * The OpenAPI 3.1 document of the API, served at /openapi.json and browsable at /docs: its paths
 * generated from the route table (api/route-table.ts) and the routes' request shapes
 * (api/schemas.ts ROUTE_SCHEMAS); and each function's own document (its invocation, typed).
 */
import { z } from 'zod';
import { functionJsonSchema } from '../core/json-schema.ts';
import type { FunctionSpec } from '../core/schema.ts';
import { PRIORITY_HIGHEST, PRIORITY_LOWEST, PRIORITY_NAMES } from '../core/values.ts';
import { API_ERRORS, type ApiErrorCode } from './errors.ts';
import { ROUTES, type RouteDef, type RouteId } from './route-table.ts';
import { FunctionNameSchema, InvokeBodySchema, ROUTE_SCHEMAS, type RouteSchemas } from './schemas.ts';

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
/** What every route can answer to a browser's request from another origin or host (api/plugins/browser-guard.ts). */
const browser = ['cross_origin_refused', 'host_not_allowed'] as const;
/** What a route behind an API key can answer about the key (keys mode only). */
const keyed = ['unauthorized', 'forbidden', 'too_many_requests'] as const;
/**
 * What every method whose body Fastify parses (POST, PUT, DELETE) can answer, body or not: a body
 * that is not JSON, one over the limit, a media type other than JSON (or YAML for specs).
 */
const bodied = ['bad_request', 'payload_too_large', 'unsupported_media_type'] as const;
/**
 * Every POST says it is JSON, an empty body included, or sends X-Pontoon-Client (api/plugins/browser-guard.ts):
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

/** Each path parameter's document, by its name in URL templates. */
const PATH_PARAMS: Record<string, Record<string, unknown>> = {
  name: nameParam,
  id: idParam,
  schedule: scheduleParam,
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

/** The error codes every route of a kind can answer, in one auth mode (see openApiDocument). */
interface ErrorKinds {
  browser: readonly ApiErrorCode[];
  guarded: readonly ApiErrorCode[];
  controlled: readonly ApiErrorCode[];
  publicRoute: Record<string, unknown>;
}

/** One route's operation: its path, query and header parameters, body, answers and errors. */
function operation(route: RouteDef, schemas: RouteSchemas | undefined, kinds: ErrorKinds) {
  const parameters = [
    ...[...route.url.matchAll(/\{([^}]+)\}/g)].map((m) => PATH_PARAMS[m[1]!]),
    ...(schemas?.query ? queryParams(schemas.query) : []),
    ...(schemas?.headers ?? []).map((h) => ({
      name: h.name,
      in: 'header',
      required: false,
      schema: jsonSchema(h.schema),
      description: h.description,
    })),
  ];
  const component = schemas?.bodyComponent;
  const requestBody = component
    ? {
        required: true,
        content: component.yaml
          ? {
              'application/json': { schema: ref(component.name) },
              'application/yaml': { schema: ref(component.name) },
            }
          : json(ref(component.name)),
      }
    : schemas?.body
      ? { required: true, content: json(jsonSchema(schemas.body)) }
      : undefined;
  // Own errors, then what any body can cause, then the browser, key, Temporal and worker ones.
  const common = !route.role ? kinds.browser : route.worker ? kinds.controlled : kinds.guarded;
  return {
    summary: route.summary,
    ...(route.description ? { description: route.description } : {}),
    ...(!route.role ? kinds.publicRoute : {}),
    ...(parameters.length ? { parameters } : {}),
    ...(requestBody ? { requestBody } : {}),
    responses: {
      ...route.responses,
      ...errors(...(route.errors ?? []), ...(route.method === 'GET' ? [] : bodied), ...common),
    },
  };
}

/** The document's paths: every route of the table not hidden, in the table's order. */
function documentedPaths(kinds: ErrorKinds): Record<string, Record<string, unknown>> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const [id, route] of Object.entries(ROUTES) as [RouteId, RouteDef][]) {
    if (route.hidden) continue;
    const schemas = (ROUTE_SCHEMAS as Partial<Record<RouteId, RouteSchemas>>)[id];
    paths[route.url] ??= {};
    paths[route.url]![route.method.toLowerCase()] = operation(route, schemas, kinds);
  }
  return paths;
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
    paths: documentedPaths({ browser, guarded, controlled, publicRoute }),
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
      [ROUTES.invoke.url.replace('{name}', name)]: {
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
                  oneOf: [
                    { type: 'integer', minimum: PRIORITY_HIGHEST, maximum: PRIORITY_LOWEST },
                    { enum: PRIORITY_NAMES },
                  ],
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
