/**
 * Dead letters and redrive routes (issue 21 §3): list failed executions by function, failure type
 * and time (Temporal visibility), redrive one, or redrive every match of a filter (a dry run counts
 * them; one request starts at most the backfill cap, PONTOON_API_MAX_BACKFILL_FIRES).
 */
import { WorkflowNotFoundError } from '@temporalio/client';
import type { FastifyInstance } from 'fastify';
import {
  countDeadLetters,
  type DeadLetterFilter,
  listDeadLetters,
  type Redriven,
  RedriveRefused,
  redriveExecution,
} from '../../client/dead-letters.ts';
import { MAX_BACKFILL_FIRES } from '../../core/schedule-policy.ts';
import { ApiError } from '../errors.ts';
import type { RouteContext } from '../route-context.ts';
import { ROUTES, routePath } from '../route-table.ts';
import { ROUTE_SCHEMAS } from '../schemas.ts';
import { check, pageTokenOf } from '../validate.ts';
import { bindRoute } from './bind.ts';

/** Redrives of one bulk request started at once. */
const REDRIVE_CONCURRENCY = 16;

export function registerDeadLetterRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const { client } = ctx;
  // Most redrives one bulk request may start: the backfill cap.
  const cap = ctx.deps.maxBackfillFires || MAX_BACKFILL_FIRES;

  const redrive = async (id: string, trigger: string, sameVersion: boolean | undefined) => {
    try {
      const r = await redriveExecution(client, id, {
        trigger,
        taskQueue: ctx.taskQueue,
        sameVersion,
        current: (fn) => ctx.currentSpec(fn),
      });
      if (r.created) ctx.metrics.executionsStarted.inc({ function: r.function, trigger });
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
    links: { self: routePath(ROUTES.getExecution, { id: r.executionId }) },
  });

  bindRoute(app, ROUTES.listDeadLetters, async (req) => {
    const q = check(ROUTE_SCHEMAS.listDeadLetters.query, req.query, 'query');
    if (q.pageToken !== undefined) pageTokenOf(q.pageToken);
    return listDeadLetters(client, q);
  });

  bindRoute(app, ROUTES.redriveExecution, async (req, reply) => {
    const body = check(ROUTE_SCHEMAS.redriveExecution.body, req.body, 'body');
    const r = await redrive(req.params.id, ctx.triggerOf(req.headers), body.sameVersion);
    reply.status(r.created ? 202 : 200);
    return answer(r);
  });

  // Fans out: the 30 s budget of the routes that reconcile (reconciles in the route table), not the 9 s one.
  bindRoute(app, ROUTES.redriveDeadLetters, async (req, reply) => {
    const body = check(ROUTE_SCHEMAS.redriveDeadLetters.body, req.body, 'body');
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
    const trigger = ctx.triggerOf(req.headers);
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
  });
}
