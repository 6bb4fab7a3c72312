/** Request shapes of the API, in zod: validated here and published in the OpenAPI document. */
import { z } from 'zod';
import { EXECUTION_STATUSES } from '../client/executions.ts';
import { PAGE_TOKEN_PATTERN } from '../client/page-token.ts';
import { MAX_FUNCTION_NAME } from '../spec/schema.ts';
import { IDEMPOTENCY_KEY } from '../spec/values.ts';

/** A function name in a path: a DNS-1123 label (the name becomes pod and Deployment names). */
export const FunctionNameSchema = z
  .string()
  .min(1)
  .max(MAX_FUNCTION_NAME)
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, { error: 'must be a DNS-1123 label' })
  .describe(`Function name: a DNS-1123 label of at most ${MAX_FUNCTION_NAME} characters.`);

/**
 * An RFC 3339 date-time with an offset, on a day that exists: zod's check accepts exactly what
 * isIsoDateTime (spec/values.ts) accepts, which the workflow applies to every other starter.
 */
export const DateTimeSchema = z.iso.datetime({
  offset: true,
  error: 'must be an RFC 3339 date-time with an offset on a day that exists, e.g. 2026-11-24T02:30:00Z',
});

export const PageTokenSchema = z
  .string()
  .regex(PAGE_TOKEN_PATTERN, { error: 'is not a token a previous page returned' })
  .describe('nextPageToken of the previous page, as returned.');

/** The same rule for the body field, the Idempotency-Key header and the workflow input (spec/values.ts). */
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
      .union([z.int().min(1).max(5), z.enum(['high', 'normal', 'low'])])
      .optional()
      .describe("1 (highest) … 5, or high/normal/low; the spec's priority when unset."),
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
    .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, { error: 'must be api, cli, sdk or a schedule name' })
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
