/** Function routes: list, apply (PUT a spec), get, the function's own OpenAPI document, delete. */
import { WorkflowNotFoundError, WorkflowUpdateFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { FastifyInstance } from 'fastify';
import { listExecutions, listQuery } from '../../client/executions.ts';
import { applySpec, getSpec } from '../../client/functions.ts';
import { encodePageToken } from '../../client/page-token.ts';
import { APPLY_FAILURES } from '../../core/failures.ts';
import { functionAccessProblems } from '../../core/function-access.ts';
import { controllerWorkflowId } from '../../core/names.ts';
import { parseSpecText, problemCount } from '../../core/parse.ts';
import { redactLiteralSecrets } from '../../core/secret-env.ts';
import { refusedWebhookUrl } from '../../core/webhook-destination.ts';
import {
  type AdmissionState,
  admissionQuery,
  deleteUpdate,
  specHistoryQuery,
  warmPoolQuery,
} from '../../workflows/definitions.ts';
import { MAX_DELETE_CANCELS } from '../config.ts';
import { ApiError } from '../errors.ts';
import { functionOpenApiDocument } from '../openapi.ts';
import type { RouteContext } from '../route-context.ts';
import { ROUTES } from '../route-table.ts';
import { ROUTE_SCHEMAS } from '../schemas.ts';
import { check, pageTokenOf, requireName } from '../validate.ts';
import { bindRoute } from './bind.ts';

/** Cancellations of one DELETE ?cancelRunning=true in flight at once. */
const CANCEL_CONCURRENCY = 20;

/**
 * A refused apply as a 400: the controller's validator (`SpecInvalid`, e.g. a worker on a newer
 * schema) or Temporal refusing a schedule (`SpecRefused`), each with `{field, message}` details.
 */
function specRefusal(err: unknown): ApiError | undefined {
  if (!(err instanceof WorkflowUpdateFailedError)) return undefined;
  const cause = err.cause;
  if (!(cause instanceof ApplicationFailure)) return undefined;
  if (cause.type !== APPLY_FAILURES.invalid && cause.type !== APPLY_FAILURES.refused) return undefined;
  return new ApiError('spec_invalid', `the spec was refused: ${cause.message}`, cause.details ?? []);
}

/** Waits as of now: the controller's own figures stand still between its workflow tasks. */
function withCurrentWaits(a: AdmissionState): AdmissionState {
  const now = Date.now();
  const queued = a.queued.map((q) => ({ ...q, waitingMs: Math.max(0, now - Date.parse(q.enqueuedAt)) }));
  return { ...a, queued, oldestWaitMs: queued.reduce((m, q) => Math.max(m, q.waitingMs), 0) };
}

export function registerFunctionRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const { client, taskQueue, deps } = ctx;

  bindRoute(app, ROUTES.applyFunction, async (req, reply) => {
    const name = requireName(req.params.name);
    const text = req.rawBody ?? (typeof req.body === 'string' ? req.body : '');
    if (!text.trim())
      throw new ApiError('validation_failed', 'the body must hold a Function spec (YAML or JSON)');
    const parsed = parseSpecText(text, 'body');
    if (parsed.problems.length) {
      throw new ApiError(
        'spec_invalid',
        `the spec has ${problemCount(parsed.problems)} problem${problemCount(parsed.problems) === 1 ? '' : 's'}: ${parsed.problems
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
    await ctx.reachable();
    const r = await applySpec(client, spec, taskQueue).catch((err: unknown) => {
      throw specRefusal(err) ?? err;
    });
    reply.status(r.changed && r.version === 1 ? 201 : 200);
    return { ...r, spec };
  });

  bindRoute(app, ROUTES.listFunctions, async (req) => {
    const q = check(ROUTE_SCHEMAS.listFunctions.query, req.query, 'query');
    const res = await client.workflowService.listWorkflowExecutions({
      namespace: client.options.namespace,
      query: ctx.controllersQuery,
      pageSize: q.limit,
      ...(q.pageToken ? { nextPageToken: pageTokenOf(q.pageToken) } : {}),
    });
    const names = (res.executions ?? [])
      .map((e) => e.execution?.workflowId ?? '')
      .filter((id) => id.startsWith('fn:'))
      .map((id) => id.slice(3));
    // A controller that ended meanwhile (or does not answer) is left out; no worker at all is a
    // 503, not an empty list.
    const specs = await ctx.withWorker(Promise.all(names.map((n) => getSpec(client, n).catch(() => null))));
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

  bindRoute(app, ROUTES.getFunction, async (req) => {
    const name = requireName(req.params.name);
    const current = await ctx.currentSpec(name);
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
  });

  bindRoute(app, ROUTES.functionOpenApi, async (req) => {
    const name = requireName(req.params.name);
    const current = await ctx.currentSpec(name);
    return functionOpenApiDocument({
      name,
      version: current.version,
      spec: current.spec,
      auth: deps.auth.mode,
    });
  });

  bindRoute(app, ROUTES.deleteFunction, async (req) => {
    const name = requireName(req.params.name);
    await ctx.reachable();
    const q = check(ROUTE_SCHEMAS.deleteFunction.query, req.query, 'query');
    await ctx.currentSpec(name);
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
  });
}
