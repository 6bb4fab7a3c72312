/**
 * Issue 16 §1: a value that passes one layer passes them all, or is refused at the first. Each
 * example from the issue (and ../shared/cases) with its expected answer, through the real API on a
 * real worker and Temporal dev server, and through an SDK start that skips the API.
 */
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApi } from '../api/app.ts';
import { startExecution, waitForResult } from '../client/functions.ts';
import type { ExecutionResult } from '../core/execution.ts';
import { parseSpecText } from '../core/parse.ts';
import { createLogger } from '../platform/logger.ts';
import { type RunningWorker, startWorker, uniqueName, waitFor, waitForListed } from './helpers.ts';

let w: RunningWorker;
let app: FastifyInstance;
const fn = uniqueName('edges');
// ../shared/cases/required-param.yaml, on the local runtime: `text` has no default and no `required`.
const required = uniqueName('required-param');
const slow = uniqueName('slow');

beforeAll(async () => {
  w = await startWorker();
  app = await buildApi({
    client: w.client,
    logger: createLogger('silent'),
    taskQueue: w.config.taskQueue,
    dataDir: w.config.dataDir,
    auth: { mode: 'open' },
  });
  for (const yaml of [
    `apiVersion: pontoon.dev/v1
kind: Function
metadata:
  name: ${fn}
spec:
  image: pontoon/test:0
  parameters:
    - name: name
      default: world
  execution:
    retry:
      maxAttempts: 1
  local:
    command: [node, -e, "console.log(process.env.PONTOON_PARAM_NAME)"]
`,
    `apiVersion: pontoon.dev/v1
kind: Function
metadata:
  name: ${required}
spec:
  image: busybox:1.36
  command: [sh, -c, 'test -n "$PONTOON_PARAM_TEXT" && echo "$PONTOON_PARAM_TEXT"']
  parameters:
    - name: text
      type: string
  local:
    command: [sh, -c, 'test -n "$PONTOON_PARAM_TEXT" && echo "$PONTOON_PARAM_TEXT"']
`,
    `apiVersion: pontoon.dev/v1
kind: Function
metadata:
  name: ${slow}
spec:
  image: pontoon/test:0
  parameters:
    - name: code
      type: integer
      default: 0
  execution:
    retry:
      maxAttempts: 1
  local:
    command: [node, -e, "setTimeout(() => process.exit(Number(process.env.PONTOON_PARAM_CODE)), 1500)"]
`,
  ]) {
    const name = /name: (\S+)/.exec(yaml)![1]!;
    const res = await app.inject({
      method: 'PUT',
      url: `/v1/functions/${name}`,
      headers: { 'content-type': 'application/yaml' },
      payload: yaml,
    });
    expect(res.statusCode, res.body).toBe(201);
  }
}, 60_000);
afterAll(async () => {
  await app?.close();
  await w?.stop();
});

async function invoke(fnName: string, payload: string, headers: Record<string, string> = {}) {
  const started = Date.now();
  const res = await app.inject({
    method: 'POST',
    url: `/v1/functions/${fnName}/invocations`,
    headers: { 'content-type': 'application/json', ...headers },
    payload,
  });
  return { status: res.statusCode, body: res.json(), ms: Date.now() - started };
}

async function get(url: string) {
  const started = Date.now();
  const res = await app.inject({ method: 'GET', url });
  return { status: res.statusCode, body: res.json(), ms: Date.now() - started };
}

describe('the API refuses what no process can receive', () => {
  it('a NUL byte in a parameter (../shared/cases/nul-param.json) is 400 validation_failed', async () => {
    const r = await invoke(fn, '{"parameters":{"name":"a\\u0000b"}}');
    expect(r.status).toBe(400);
    expect(r.body.code).toBe('validation_failed');
    expect(r.body.message).toBe(
      'invalid parameters: parameter "name": contains a NUL byte (\\u0000, at character 1), which no process can receive in its arguments or environment',
    );
  });

  it('a parameter value over 32 KiB is 400 validation_failed naming the limit', async () => {
    const r = await invoke(fn, JSON.stringify({ parameters: { name: 'x'.repeat(32 * 1024 + 1) } }));
    expect(r.status).toBe(400);
    expect(r.body.message).toContain('is 32769 bytes; a parameter value may hold at most 32768 bytes');
  });

  it('a required parameter without a value (../shared/cases/required-param.yaml) is 400 before any attempt', async () => {
    const r = await invoke(required, '{}');
    expect(r.status).toBe(400);
    expect(r.body).toMatchObject({
      code: 'validation_failed',
      message:
        'invalid parameters: parameter "text" is required (it has no default; declare required: false to make it optional)',
    });
    const ok = await invoke(required, '{"parameters":{"text":"hi"}}');
    expect(ok.status).toBe(202);
  });

  it('a scheduledTime on a day that does not exist is 400, not coerced to March', async () => {
    const r = await invoke(fn, '{"scheduledTime":"2026-02-30T00:00:00Z"}');
    expect(r.status).toBe(400);
    expect(r.body.details).toEqual([
      {
        field: 'body.scheduledTime',
        message:
          'must be an RFC 3339 date-time with an offset on a day that exists, e.g. 2026-11-24T02:30:00Z',
      },
    ]);
  });

  it('the API and the workflow accept exactly the same date-times', async () => {
    const { InvokeBodySchema } = await import('../api/schemas.ts');
    const { isIsoDateTime } = await import('../core/values.ts');
    for (const v of [
      '2026-02-28T00:00:00Z',
      '2026-02-29T00:00:00Z',
      '2024-02-29T00:00:00Z',
      '2100-02-29T00:00:00Z',
      '2000-02-29T23:59:59.5+01:00',
      '2026-04-31T00:00:00Z',
      '2026-01-01T24:00:00Z',
      '2026-01-01T00:00Z',
      '2026-01-01T00:00:00',
      '2026-01-01 00:00:00Z',
      '2026-13-01T00:00:00Z',
    ]) {
      expect(InvokeBodySchema.safeParse({ scheduledTime: v }).success, v).toBe(isIsoDateTime(v));
    }
  });
});

describe('headers and query strings get the same rules as bodies', () => {
  it.each([
    ['a slash', 'a/b'],
    ['a tab', 'a\tb'],
    ['5,000 characters', 'k'.repeat(5000)],
  ])('Idempotency-Key with %s is 400', async (_what, key) => {
    const r = await invoke(fn, '{}', { 'idempotency-key': key });
    expect(r.status).toBe(400);
    expect(r.body.code).toBe('bad_request');
    expect(r.body.details[0].field).toBe('header.idempotency-key');
  });

  it('a valid Idempotency-Key header names the execution; one differing from the body is 400', async () => {
    const key = uniqueName('key');
    const r = await invoke(fn, '{}', { 'idempotency-key': key });
    expect(r.status).toBe(202);
    expect(r.body.executionId).toBe(`exec:${fn}:${key}`);
    const clash = await invoke(fn, JSON.stringify({ idempotencyKey: `${key}-other` }), {
      'idempotency-key': key,
    });
    expect(clash.status).toBe(400);
    expect(clash.body.code).toBe('validation_failed');
  });

  it('a NUL in a list filter is 400 at once (not 503 after Temporal retries)', async () => {
    for (const url of [
      `/v1/executions?function=a%00b`,
      `/v1/executions?trigger=%00`,
      `/v1/executions/exec%00x`,
    ]) {
      const r = await get(url);
      expect(r.status, url).toBe(400);
      expect(r.body.code, url).toBe('bad_request');
      expect(r.ms, url).toBeLessThan(2000);
    }
  });

  it('a filter that cannot name anything is 400 (function names, triggers)', async () => {
    expect((await get('/v1/executions?function=Not_A_Name')).status).toBe(400);
    expect((await get('/v1/executions?trigger=a%22%20OR%20true')).status).toBe(400);
  });

  it('a malformed pageToken is 400 at once; a token the API handed out still pages', async () => {
    for (const token of ['AAAA', 'zzzzzzzzzzzzzzzz', 'not a token!']) {
      const r = await get(`/v1/executions?pageToken=${encodeURIComponent(token)}`);
      expect(r.status, token).toBe(400);
      expect(r.body.code).toBe('bad_request');
      expect(r.ms).toBeLessThan(2000);
      expect((await get(`/v1/functions?pageToken=${encodeURIComponent(token)}`)).status).toBe(400);
    }
    // Page through two executions of fn one at a time (visibility is eventually consistent: wait).
    const ids = [(await invoke(fn, '{}')).body.executionId, (await invoke(fn, '{}')).body.executionId];
    await waitForListed(
      'two executions listed',
      async () => (await get(`/v1/executions?function=${fn}&limit=500`)).body.executions,
      { ids },
    );
    const first = await get(`/v1/executions?function=${fn}&limit=1`);
    expect(first.status).toBe(200);
    expect(first.body.nextPageToken).toEqual(expect.any(String));
    const second = await get(
      `/v1/executions?function=${fn}&limit=1&pageToken=${encodeURIComponent(first.body.nextPageToken)}`,
    );
    expect(second.status).toBe(200);
    expect(second.body.executions[0].executionId).not.toBe(first.body.executions[0].executionId);
    // One character changed: refused, not passed on.
    // One character changed, in the middle or the last one: refused, not passed on.
    const t = first.body.nextPageToken as string;
    const swap = (c: string) => (c === 'A' ? 'B' : 'A');
    const mid = Math.floor(t.length / 2);
    for (const edited of [
      `${t.slice(0, mid)}${swap(t[mid]!)}${t.slice(mid + 1)}`,
      `${t.slice(0, -1)}${swap(t.at(-1)!)}`,
    ]) {
      expect((await get(`/v1/executions?function=${fn}&limit=1&pageToken=${edited}`)).status, edited).toBe(
        400,
      );
    }
  });

  it('JSON nested 10,000 deep is 400 bad_request; 64 deep is still accepted', async () => {
    const deep = `{"input":${'['.repeat(10_000)}${']'.repeat(10_000)}}`;
    const r = await invoke(fn, deep);
    expect(r.status).toBe(400);
    expect(r.body).toMatchObject({ code: 'bad_request', message: 'body is nested more than 64 levels deep' });
    const ok = await invoke(fn, `{"input":${'['.repeat(63)}${']'.repeat(63)}}`);
    expect(ok.status).toBe(202);
  });

  it('a YAML spec nested 10,000 deep is a located problem, never a crash', () => {
    const r = parseSpecText(`apiVersion: ${'['.repeat(10_000)}${']'.repeat(10_000)}\n`, 'deep.yaml');
    expect(r.specs).toEqual([]);
    expect(r.problems.length).toBeGreaterThan(0);
  });
});

describe('every other starter gets the same rules (SDK start, no API)', () => {
  async function sdkResult(input: Record<string, unknown>): Promise<ExecutionResult | ApplicationFailure> {
    const { executionId } = await startExecution(
      w.client,
      { function: fn, ...input },
      { trigger: 'sdk', taskQueue: w.config.taskQueue },
    );
    try {
      return await waitForResult(w.client, executionId);
    } catch (err) {
      if (err instanceof WorkflowFailedError && err.cause instanceof ApplicationFailure) return err.cause;
      throw err;
    }
  }

  it('a NUL byte in a parameter fails ParameterInvalid before any attempt', async () => {
    const r = (await sdkResult({ parameters: { name: 'a\u0000b' } })) as ExecutionResult;
    expect(r.status).toBe('failed');
    expect(r.failure).toMatchObject({ type: 'ParameterInvalid', retryable: false });
    expect(r.failure?.message).toContain('contains a NUL byte');
    expect(r.attempts).toEqual([]);
  });

  it.each([
    [{ idempotencyKey: 'a/b' }, '"idempotencyKey": use 1 to 200 of the characters A-Z a-z 0-9 . _ ~ : -'],
    [
      { idempotencyKey: 'k'.repeat(201) },
      '"idempotencyKey": use 1 to 200 of the characters A-Z a-z 0-9 . _ ~ : -',
    ],
    [
      { scheduledTime: '2026-02-30T00:00:00Z' },
      '"scheduledTime" must be an RFC 3339 date-time with an offset on a day that exists, e.g. 2026-11-24T02:30:00Z',
    ],
    [
      { scheduledTime: 'March 3, 2026' },
      '"scheduledTime" must be an RFC 3339 date-time with an offset on a day that exists, e.g. 2026-11-24T02:30:00Z',
    ],
    [{ priority: 0 }, '"priority" must be 1 (highest) to 5, or high, normal, low'],
    [{ priority: 'urgent' }, '"priority" must be 1 (highest) to 5, or high, normal, low'],
    // An inherited property name passed an `in` check before (then ran at priority NaN).
    [{ priority: 'toString' }, '"priority" must be 1 (highest) to 5, or high, normal, low'],
  ])('%j fails InputInvalid: %s', async (input, message) => {
    const r = await sdkResult(input);
    expect(r).toBeInstanceOf(ApplicationFailure);
    expect((r as ApplicationFailure).type).toBe('InputInvalid');
    expect((r as ApplicationFailure).message).toBe(message);
  });
});

describe('every ending is in the failure table, and the record is true', () => {
  it('a cancelled execution shows phase cancelled and the attempt that was running, ended Cancelled', async () => {
    const inv = await invoke(slow, '{"parameters":{"code":0}}');
    expect(inv.status).toBe(202);
    const id = inv.body.executionId as string;
    await waitFor('attempt 1 running', async () => {
      const d = await get(`/v1/executions/${encodeURIComponent(id)}`);
      return d.body.phase === 'running' && d.body.attempt === 1 ? d : undefined;
    });
    const cancel = await app.inject({
      method: 'POST',
      url: `/v1/executions/${encodeURIComponent(id)}/cancel`,
      headers: { 'content-type': 'application/json' },
    });
    expect(cancel.statusCode).toBeLessThan(300);
    const d = await waitFor('cancelled', async () => {
      const r = await get(`/v1/executions/${encodeURIComponent(id)}`);
      return r.body.status === 'cancelled' ? r : undefined;
    });
    expect(d.body.phase).toBe('cancelled');
    expect(d.body.attempts).toEqual([
      expect.objectContaining({
        attempt: 1,
        exitCode: null,
        failure: { type: 'Cancelled', message: 'execution cancelled during attempt 1', retryable: false },
      }),
    ]);
  });

  it('a failed execution shows phase failed and its attempt with exit code and why', async () => {
    const inv = await invoke(slow, '{"parameters":{"code":3}}');
    const id = inv.body.executionId as string;
    const d = await waitFor('failed', async () => {
      const r = await get(`/v1/executions/${encodeURIComponent(id)}`);
      return r.body.status === 'failed' ? r : undefined;
    });
    expect(d.body.phase).toBe('failed');
    expect(d.body.attempts).toEqual([
      expect.objectContaining({
        attempt: 1,
        exitCode: 3,
        failure: expect.objectContaining({ type: 'FunctionExit' }),
      }),
    ]);
  });

  it('an execution of a function that does not exist ends FunctionNotFound (a type of the table), no ActivityFailure', async () => {
    const { executionId } = await startExecution(
      w.client,
      { function: uniqueName('nobody') },
      { trigger: 'sdk', taskQueue: w.config.taskQueue },
    );
    const err = await waitForResult(w.client, executionId).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkflowFailedError);
    const cause = (err as WorkflowFailedError).cause as ApplicationFailure;
    expect(cause).toBeInstanceOf(ApplicationFailure);
    expect(cause.type).toBe('FunctionNotFound');
    // The user's mistake carries no stack trace of Pontoon's workflow code (issue 18 §5).
    const trace = ((err as WorkflowFailedError).cause as { stack?: string }).stack ?? '';
    expect(trace).not.toContain('execute-function');
    expect(trace).not.toMatch(/\n\s+at /);
  });
});
