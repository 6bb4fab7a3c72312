/** Request shapes of the API, in zod: validated here and published in the OpenAPI document. */
import { z } from 'zod';
import { EXECUTION_STATUSES } from '../client/executions.ts';
import { MAX_FUNCTION_NAME } from '../spec/schema.ts';

/** A function name in a path: a DNS-1123 label (the name becomes pod and Deployment names). */
export const FunctionNameSchema = z
  .string()
  .min(1)
  .max(MAX_FUNCTION_NAME)
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, { error: 'must be a DNS-1123 label' })
  .describe(`Function name: a DNS-1123 label of at most ${MAX_FUNCTION_NAME} characters.`);

export const InvokeBodySchema = z
  .strictObject({
    parameters: z
      .record(z.string(), z.unknown())
      .optional()
      .describe('Parameter values; coerced to the declared types.'),
    input: z
      .unknown()
      .optional()
      .describe('Free JSON for the function ($PONTOON_DIR/input.json), at most 256 KiB.'),
    priority: z
      .union([z.int().min(1).max(5), z.enum(['high', 'normal', 'low'])])
      .optional()
      .describe("1 (highest) … 5, or high/normal/low; the spec's priority when unset."),
    idempotencyKey: z
      .string()
      .min(1)
      .max(200)
      .regex(/^[A-Za-z0-9._~:-]+$/, { error: 'use letters, digits and . _ ~ : -' })
      .optional()
      .describe(
        'The same key always names the same execution: a repeat returns it instead of running again.',
      ),
    scheduledTime: z.iso
      .datetime({ offset: true })
      .optional()
      .describe('Nominal time for templates ("run as of").'),
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
  function: z.string().optional(),
  status: z.enum(EXECUTION_STATUSES).optional(),
  trigger: z.string().optional(),
  since: z.iso.datetime({ offset: true }).optional().describe('Started at or after (RFC 3339).'),
  until: z.iso.datetime({ offset: true }).optional().describe('Started before (RFC 3339).'),
  limit: z.coerce.number().int().min(1).max(500).default(50),
  pageToken: z.string().optional().describe('nextPageToken of the previous page.'),
});

export const ListFunctionsQuerySchema = z.strictObject({
  limit: z.coerce.number().int().min(1).max(500).default(100),
  pageToken: z.string().optional(),
});

export const DeleteQuerySchema = z.strictObject({
  cancelRunning: z.enum(['true', 'false']).optional().describe('Also cancel executions that are running.'),
});

export const LogsQuerySchema = z.strictObject({
  attempt: z.coerce.number().int().min(1).optional().describe('Attempt number; the latest when unset.'),
  follow: z.enum(['true', 'false']).optional().describe('Stream new lines until the execution ends.'),
});
