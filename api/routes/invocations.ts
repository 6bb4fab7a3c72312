/**
 * Invoking a function (POST /v1/functions/{name}/invocations): input size, parameters and the
 * input schema checked here, then an execution started (idempotent by key), answered at once (202)
 * or when it ends within ?wait (200).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { describeExecution } from '../../client/executions.ts';
import { startExecution, waitForResult } from '../../client/functions.ts';
import { LIMITS } from '../../core/execution.ts';
import { problemsLine, schemaProblems } from '../../core/io-schema.ts';
import { Trigger } from '../../core/names.ts';
import { resolveParameters } from '../../core/parameters.ts';
import { ApiError } from '../errors.ts';
import { ANSWER_WITHIN_MS, answerWithin, MAX_WAIT_S } from '../plugins/deadlines.ts';
import type { RouteContext } from '../route-context.ts';
import { ROUTES } from '../route-table.ts';
import { IdempotencyKeySchema, ROUTE_SCHEMAS } from '../schemas.ts';
import { check, requireName } from '../validate.ts';
import { bindRoute } from './bind.ts';

export function registerInvocationRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const { client, taskQueue } = ctx;
  const schemas = ROUTE_SCHEMAS.invoke;

  bindRoute(
    app,
    ROUTES.invoke,
    async (req, reply) => {
      const { wait } = check(schemas.query, req.query, 'query');
      return answerWithin(ANSWER_WITHIN_MS + (wait ?? 0) * 1000, () => invoke(req, reply, wait));
    },
    { handlerTimeout: ANSWER_WITHIN_MS + MAX_WAIT_S * 1000 },
  );

  async function invoke(
    req: FastifyRequest<{ Params: { name: string } }>,
    reply: FastifyReply,
    wait: number | undefined,
  ) {
    const name = requireName(req.params.name);
    const body = check(schemas.body, req.body, 'body');
    const inputBytes = Buffer.byteLength(JSON.stringify(body.input ?? null));
    if (inputBytes > LIMITS.inputBytes) {
      throw new ApiError(
        'payload_too_large',
        `input is ${inputBytes} bytes; the limit is ${LIMITS.inputBytes} bytes`,
      );
    }
    const current = await ctx.currentSpec(name);
    const now = new Date();
    const check2 = resolveParameters(current.spec, body.parameters, {
      scheduledTime: body.scheduledTime ? new Date(body.scheduledTime) : now,
      startTime: now,
      executionId: 'pending',
      function: name,
      attempt: 1,
      trigger: Trigger.api,
    });
    if (check2.problems.length) {
      throw new ApiError(
        'validation_failed',
        `invalid parameters: ${check2.problems.join('; ')}`,
        check2.problems.map((message) => ({ field: 'body.parameters', message })),
      );
    }
    // Typed input: each problem with its JSON Pointer into body.input (the worker checks again for
    // every other starter; the compiled schema is kept per process, core/io-schema.ts).
    const inputSchema = current.spec.spec.input?.schema;
    if (inputSchema !== undefined) {
      // A schema that does not compile (a spec applied around the API) is left to the worker: SpecInvalid.
      const problems = (() => {
        try {
          return schemaProblems(inputSchema, body.input ?? null);
        } catch {
          return [];
        }
      })();
      if (problems.length) {
        throw new ApiError(
          'validation_failed',
          body.input === undefined
            ? `no input given, and the input schema of "${name}" (version ${current.version}) needs one: ${problemsLine(problems)}`
            : `input does not match the input schema of "${name}" (version ${current.version}): ${problemsLine(problems)}`,
          problems.map((p) => ({ field: 'body.input', pointer: p.pointer, message: p.message })),
        );
      }
    }
    const header = req.headers['idempotency-key'];
    const headerKey =
      header === undefined ? undefined : check(IdempotencyKeySchema, header, 'header.idempotency-key');
    if (headerKey !== undefined && body.idempotencyKey !== undefined && headerKey !== body.idempotencyKey) {
      throw new ApiError(
        'validation_failed',
        'the Idempotency-Key header and body.idempotencyKey differ; send one of them',
        [{ field: 'header.idempotency-key', message: 'differs from body.idempotencyKey' }],
      );
    }
    const idempotencyKey = body.idempotencyKey ?? headerKey;
    const trigger = ctx.triggerOf(req.headers);
    const started = await startExecution(
      client,
      {
        function: name,
        ...(body.parameters ? { parameters: body.parameters } : {}),
        ...(body.input !== undefined ? { input: body.input } : {}),
        ...(body.priority !== undefined ? { priority: body.priority } : {}),
        ...(body.scheduledTime ? { scheduledTime: body.scheduledTime } : {}),
        // The version the parameters were checked against: workers holding it skip their own read.
        spec: { version: current.version, appliedAt: current.appliedAt },
      },
      {
        trigger,
        taskQueue,
        ...(idempotencyKey ? { idempotencyKey } : {}),
      },
    );
    if (started.created) {
      ctx.metrics.executionsStarted.inc({ function: name, trigger: trigger });
    }
    const answer = {
      executionId: started.executionId,
      created: started.created,
      links: ctx.links(started.executionId),
    };
    if (wait) {
      const done = await Promise.race([
        waitForResult(client, started.executionId).then(
          () => true,
          () => true,
        ),
        new Promise<false>((r) => setTimeout(() => r(false), wait * 1000)),
      ]);
      if (done) {
        reply.status(200);
        return { ...answer, execution: await describeExecution(client, started.executionId) };
      }
    }
    reply.status(202).header('location', answer.links.self);
    return answer;
  }
}
