/**
 * Dead letters and redrive routes (issue 21 §3): list failed executions by function, failure type
 * and time (Temporal visibility), redrive one, or redrive every match of a filter (a dry run counts
 * them; one request starts at most the backfill cap, PONTOON_API_MAX_BACKFILL_FIRES).
 */
import { type Client, WorkflowNotFoundError } from '@temporalio/client';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import {
  countDeadLetters,
  type DeadLetterFilter,
  listDeadLetters,
  type Redriven,
  RedriveRefused,
  redriveExecution,
} from '../client/dead-letters.ts';
import { FAILURE_TYPES } from '../spec/execution.ts';
import { ApiError } from './errors.ts';
import { MAX_BACKFILL_FIRES } from './schedules.ts';
import { DateTimeSchema, FunctionNameSchema, PageTokenSchema } from './schemas.ts';

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

/** Redrives of one bulk request started at once. */
const REDRIVE_CONCURRENCY = 16;

export interface DeadLetterRouteDeps {
  client: Client;
  taskQueue: string;
  check<T extends z.ZodType>(schema: T, data: unknown, where: string): z.output<T>;
  /** Current spec of a function, or an ApiError function_not_found. */
  currentSpec(name: string): Promise<{ version: number; appliedAt: string }>;
  /** Temporal's token behind a page token of this API, or a 400. */
  pageTokenOf(text: string): unknown;
  /** Trigger of executions this request starts: cli when the pontoon CLI sent it, else api. */
  triggerOf(headers: Record<string, unknown>): string;
  /** Counts a started execution (pontoon_executions_started_total). */
  started(fn: string, trigger: string): void;
  /** Most redrives one bulk request may start; default MAX_BACKFILL_FIRES (the backfill cap). */
  maxFanOut?: number;
}

export function registerDeadLetterRoutes(app: FastifyInstance, deps: DeadLetterRouteDeps): void {
  const { client } = deps;
  const cap = deps.maxFanOut ?? MAX_BACKFILL_FIRES;

  const redrive = async (id: string, trigger: string, sameVersion: boolean | undefined) => {
    try {
      const r = await redriveExecution(client, id, {
        trigger,
        taskQueue: deps.taskQueue,
        sameVersion,
        current: (fn) => deps.currentSpec(fn),
      });
      if (r.created) deps.started(r.function, trigger);
      return r;
    } catch (err) {
      if (err instanceof WorkflowNotFoundError || (err as Error).name === 'NotAnExecution')
        throw new ApiError('execution_not_found', `no execution "${id}"`);
      if (err instanceof RedriveRefused) {
        const code = {
          version_changed: 'spec_version_changed',
          not_failed: 'execution_not_failed',
          not_an_execution: 'execution_not_found',
          id_taken: 'redrive_id_taken',
        } as const;
        throw new ApiError(code[err.reason], err.message, err.details);
      }
      throw err;
    }
  };
  const answer = (r: Redriven) => ({
    ...r,
    links: { self: `/v1/executions/${encodeURIComponent(r.executionId)}` },
  });

  app.get('/v1/dead-letters', { config: { role: 'viewer' } }, async (req) => {
    const q = deps.check(ListDeadLettersQuerySchema, req.query, 'query');
    if (q.pageToken !== undefined) deps.pageTokenOf(q.pageToken);
    return listDeadLetters(client, q);
  });

  app.post<{ Params: { id: string } }>(
    '/v1/executions/:id/redrive',
    { config: { role: 'invoker' } },
    async (req, reply) => {
      const body = deps.check(RedriveBodySchema, req.body, 'body');
      const r = await redrive(req.params.id, deps.triggerOf(req.headers), body.sameVersion);
      reply.status(r.created ? 202 : 200);
      return answer(r);
    },
  );

  // Fans out: the 30 s budget of the routes that reconcile (config.reconciles), not the 9 s one.
  app.post(
    '/v1/dead-letters/redrive',
    { config: { role: 'invoker', reconciles: true } },
    async (req, reply) => {
      const body = deps.check(BulkRedriveBodySchema, req.body, 'body');
      const filter: DeadLetterFilter = {
        function: body.function,
        ...(body.type ? { type: body.type } : {}),
        ...(body.since ? { since: body.since } : {}),
        ...(body.until ? { until: body.until } : {}),
      };
      const count = await countDeadLetters(client, filter);
      if (body.dryRun) return { dryRun: true, count, cap };
      if (count > cap) {
        throw new ApiError(
          'redrive_too_large',
          `${count} dead letters of "${body.function}" match; one redrive starts at most ${cap} (PONTOON_API_MAX_BACKFILL_FIRES): narrow it with type, since or until`,
          [{ field: 'body', message: `${count} match, at most ${cap}`, cap, count }],
        );
      }
      const trigger = deps.triggerOf(req.headers);
      const ids: string[] = [];
      let pageToken: string | undefined;
      do {
        const page = await listDeadLetters(client, {
          ...filter,
          limit: 500,
          ...(pageToken ? { pageToken } : {}),
        });
        ids.push(...page.deadLetters.map((d) => d.executionId));
        pageToken = page.nextPageToken ?? undefined;
      } while (pageToken && ids.length < cap);
      const results: (
        | ReturnType<typeof answer>
        | { redriveOf: string; error: { code: string; message: string } }
      )[] = [];
      for (let i = 0; i < Math.min(ids.length, cap); i += REDRIVE_CONCURRENCY) {
        const chunk = ids.slice(i, Math.min(i + REDRIVE_CONCURRENCY, cap));
        results.push(
          ...(await Promise.all(
            chunk.map((id) =>
              redrive(id, trigger, body.sameVersion).then(answer, (err: unknown) => {
                if (err instanceof ApiError)
                  return { redriveOf: id, error: { code: err.code, message: err.message } };
                throw err;
              }),
            ),
          )),
        );
      }
      const created = results.filter((r) => 'created' in r && r.created).length;
      reply.status(202);
      return {
        count: results.length,
        started: created,
        alreadyRedriven: results.filter((r) => 'created' in r && !r.created).length,
        refused: results.filter((r) => 'error' in r).length,
        redrives: results,
      };
    },
  );
}
