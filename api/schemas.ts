/**
 * Request shapes of the API, in zod: each route's handler checks its query and body against them
 * (api/validate.ts `check`), and the OpenAPI document publishes them (api/openapi.ts), both through
 * ROUTE_SCHEMAS, keyed by the route ids of api/route-table.ts.
 */
import { z } from 'zod';
import { EXECUTION_STATUSES } from '../client/executions.ts';
import { PAGE_TOKEN_PATTERN } from '../client/page-token.ts';
import { FAILURE_TYPES } from '../core/execution.ts';
import { DNS_LABEL_PATTERN } from '../core/names.ts';
import { MAX_FUNCTION_NAME, OVERLAP_POLICIES } from '../core/schema.ts';
import { IDEMPOTENCY_KEY, PRIORITY_HIGHEST, PRIORITY_LOWEST, PRIORITY_NAMES } from '../core/values.ts';
import type { RouteId } from './route-table.ts';

/** zod resets a pattern's lastIndex: a copy of core/names.ts's (frozen where workflows preload it). */
const DNS_LABEL_RE = new RegExp(DNS_LABEL_PATTERN);

/** A function name in a path: a DNS-1123 label (the name becomes pod and Deployment names). */
export const FunctionNameSchema = z
  .string()
  .min(1)
  .max(MAX_FUNCTION_NAME)
  .regex(DNS_LABEL_RE, { error: 'must be a DNS-1123 label' })
  .describe(`Function name: a DNS-1123 label of at most ${MAX_FUNCTION_NAME} characters.`);

/**
 * An RFC 3339 date-time with an offset, on a day that exists: zod's check accepts exactly what
 * isIsoDateTime (core/values.ts) accepts, which the workflow applies to every other starter.
 */
export const DateTimeSchema = z.iso.datetime({
  offset: true,
  error: 'must be an RFC 3339 date-time with an offset on a day that exists, e.g. 2026-11-24T02:30:00Z',
});

export const PageTokenSchema = z
  .string()
  .regex(PAGE_TOKEN_PATTERN, { error: 'is not a token a previous page returned' })
  .describe('nextPageToken of the previous page, as returned.');

/** The same rule for the body field, the Idempotency-Key header and the workflow input (core/values.ts). */
export const IdempotencyKeySchema = z
  .string()
  .min(1)
  .max(IDEMPOTENCY_KEY.maxLength)
  .regex(IDEMPOTENCY_KEY.pattern, { error: IDEMPOTENCY_KEY.help });

export const InvokeBodySchema = z
  .strictObject({
    parameters: z
      .record(z.string(), z.unknown())
      .optional()
      .describe('Parameter values; coerced to the declared types.'),
    input: z
      .unknown()
      .optional()
      .describe(
        "JSON for the function ($PONTOON_DIR/input.json), at most 256 KiB. When the function's spec declares spec.input.schema, an input that does not match it is a 400 validation_failed with a JSON Pointer per problem (the function's own document, GET /v1/functions/{name}/openapi.json, shows the schema).",
      ),
    priority: z
      .union([z.int().min(PRIORITY_HIGHEST).max(PRIORITY_LOWEST), z.enum(PRIORITY_NAMES)])
      .optional()
      .describe(
        `${PRIORITY_HIGHEST} (highest) … ${PRIORITY_LOWEST}, or ${PRIORITY_NAMES.join('/')}; the spec's priority when unset.`,
      ),
    idempotencyKey: IdempotencyKeySchema.optional().describe(
      'The same key always names the same execution: a repeat returns it instead of running again.',
    ),
    scheduledTime: DateTimeSchema.optional().describe('Nominal time for templates ("run as of").'),
  })
  .describe('An invocation request.');

export const WaitQuerySchema = z.strictObject({
  wait: z.coerce
    .number()
    .min(0)
    .max(300)
    .optional()
    .describe('Seconds to wait for the result (at most 300).'),
});

export const ListExecutionsQuerySchema = z.strictObject({
  function: FunctionNameSchema.optional(),
  status: z.enum(EXECUTION_STATUSES).optional(),
  trigger: z
    .string()
    .max(63)
    .regex(DNS_LABEL_RE, { error: 'must be api, cli, sdk or a schedule name' })
    .optional()
    .describe('api, cli, sdk, or the name of a schedule.'),
  since: DateTimeSchema.optional().describe('Started at or after (RFC 3339).'),
  until: DateTimeSchema.optional().describe('Started before (RFC 3339).'),
  limit: z.coerce.number().int().min(1).max(500).default(50),
  pageToken: PageTokenSchema.optional(),
});

export const ListFunctionsQuerySchema = z.strictObject({
  limit: z.coerce.number().int().min(1).max(500).default(100),
  pageToken: PageTokenSchema.optional(),
});

export const DeleteQuerySchema = z.strictObject({
  cancelRunning: z.enum(['true', 'false']).optional().describe('Also cancel executions that are running.'),
});

export const LogsQuerySchema = z.strictObject({
  attempt: z.coerce.number().int().min(1).optional().describe('Attempt number; the latest when unset.'),
  follow: z.enum(['true', 'false']).optional().describe('Stream new lines until the execution ends.'),
});

/** The body of a POST that takes no fields (cancel): `{}`, or none with X-Pontoon-Client. */
export const EmptyBodySchema = z
  .strictObject({})
  .describe('No fields: send {} (or no body with X-Pontoon-Client).');

// ------------------------------------------------------------------ schedules

export const NoteBodySchema = z.strictObject({
  note: z.string().max(1000).optional().describe('Why (shown in the Web UI).'),
});
export const TriggerBodySchema = z.strictObject({
  overlap: z
    .enum(OVERLAP_POLICIES)
    .optional()
    .describe("Overlap policy for this run; the schedule's own when unset."),
});
export const BackfillBodySchema = z.strictObject({
  from: z.iso.datetime({ offset: true }).describe('Start of the range (RFC 3339, inclusive).'),
  to: z.iso.datetime({ offset: true }).describe('End of the range (RFC 3339).'),
  overlap: z
    .enum(OVERLAP_POLICIES)
    .optional()
    .describe("Overlap policy for the backfilled runs; the schedule's own when unset."),
});

// ------------------------------------------------------------------ dead letters

const FailureTypeSchema = z
  .enum(Object.keys(FAILURE_TYPES) as [keyof typeof FAILURE_TYPES, ...(keyof typeof FAILURE_TYPES)[]])
  .describe('Failure type (the failure table), e.g. FunctionExit.');

const filterFields = {
  function: FunctionNameSchema.optional().describe('Only dead letters of this function.'),
  type: FailureTypeSchema.optional(),
  since: DateTimeSchema.optional().describe('Failed at or after (RFC 3339).'),
  until: DateTimeSchema.optional().describe('Failed before (RFC 3339).'),
};

export const ListDeadLettersQuerySchema = z.strictObject({
  ...filterFields,
  limit: z.coerce.number().int().min(1).max(500).default(50),
  pageToken: PageTokenSchema.optional(),
});

export const RedriveBodySchema = z.strictObject({
  sameVersion: z
    .boolean()
    .optional()
    .describe(
      'Run exactly the spec version the original ran, while its controller keeps it (its last 20 versions; 409 spec_version_changed otherwise); by default the current version runs.',
    ),
});

/** A bulk redrive names its function: one request never reaches every function's failures at once. */
export const BulkRedriveBodySchema = z.strictObject({
  ...filterFields,
  function: FunctionNameSchema.describe('The function whose dead letters to redrive (required).'),
  dryRun: z.boolean().optional().describe('Count the matching dead letters; start nothing.'),
  sameVersion: RedriveBodySchema.shape.sameVersion,
});

/** What the OpenAPI document says of a route's request besides its path parameters. */
export interface RouteSchemas {
  /** Query parameters (every one optional). */
  query?: z.ZodObject;
  /** JSON body. */
  body?: z.ZodType;
  /** The body as a component of the document instead of inline (`yaml`: also as application/yaml). */
  bodyComponent?: { name: 'FunctionSpec' | 'InvokeRequest'; yaml?: boolean };
  /** Header parameters. */
  headers?: readonly { name: string; schema: z.ZodType; description: string }[];
}

/** The request shapes of each route of api/route-table.ts that takes a query, a body or headers. */
export const ROUTE_SCHEMAS = {
  listFunctions: { query: ListFunctionsQuerySchema },
  applyFunction: { bodyComponent: { name: 'FunctionSpec', yaml: true } },
  deleteFunction: { query: DeleteQuerySchema },
  invoke: {
    query: WaitQuerySchema,
    body: InvokeBodySchema,
    bodyComponent: { name: 'InvokeRequest' },
    headers: [
      {
        name: 'Idempotency-Key',
        schema: IdempotencyKeySchema,
        description: 'Same as body.idempotencyKey (send one of them, or both equal).',
      },
    ],
  },
  pauseSchedule: { body: NoteBodySchema },
  unpauseSchedule: { body: NoteBodySchema },
  triggerSchedule: { body: TriggerBodySchema },
  backfillSchedule: { body: BackfillBodySchema },
  listExecutions: { query: ListExecutionsQuerySchema },
  cancelExecution: { body: EmptyBodySchema },
  executionLogs: { query: LogsQuerySchema },
  redriveExecution: { body: RedriveBodySchema },
  listDeadLetters: { query: ListDeadLettersQuerySchema },
  redriveDeadLetters: { body: BulkRedriveBodySchema },
} as const satisfies Partial<Record<RouteId, RouteSchemas>>;
