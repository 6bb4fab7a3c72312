/** Execution routes: list (Temporal visibility), get, cancel, and an attempt's log (stored or live, followed). */
import type { FastifyInstance } from 'fastify';
import { type ExecutionDetail, listExecutions } from '../../client/executions.ts';
import { parseExecutionWorkflowId } from '../../core/names.ts';
import { ApiError } from '../errors.ts';
import type { RouteContext } from '../route-context.ts';
import { ROUTES } from '../route-table.ts';
import { ROUTE_SCHEMAS } from '../schemas.ts';
import { check, pageTokenOf } from '../validate.ts';
import { bindRoute } from './bind.ts';

export function registerExecutionRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const { client, getExecution } = ctx;

  bindRoute(app, ROUTES.listExecutions, async (req) => {
    const q = check(ROUTE_SCHEMAS.listExecutions.query, req.query, 'query');
    if (q.pageToken !== undefined) pageTokenOf(q.pageToken);
    return listExecutions(client, q);
  });

  bindRoute(app, ROUTES.getExecution, async (req) => {
    return { ...(await getExecution(req.params.id)), links: ctx.links(req.params.id) };
  });

  bindRoute(app, ROUTES.cancelExecution, async (req, reply) => {
    check(ROUTE_SCHEMAS.cancelExecution.body, req.body, 'body');
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
  });

  bindRoute(app, ROUTES.executionLogs, async (req, reply) => {
    const q = check(ROUTE_SCHEMAS.executionLogs.query, req.query, 'query');
    const id = req.params.id;
    const ex = await getExecution(id);
    const attempt = q.attempt ?? Math.max(1, ex.attempt ?? 0, ...ex.attempts.map((a) => a.attempt));
    const fn = ex.function ?? parseExecutionWorkflowId(id)?.function;
    const ended = (e: ExecutionDetail) =>
      e.status !== 'running' || e.attempts.some((a) => a.attempt === attempt) || (e.attempt ?? 0) > attempt;
    const abort = new AbortController();
    req.raw.once('close', () => abort.abort());
    const opened = fn
      ? await ctx.logs.open(
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
  });
}
