/**
 * Typed inputs and results (issue 21 §1) on the real Temporal dev server and a real worker: a schema
 * that does not compile is a located error (spec file, schema file, API); the API refuses a bad
 * input with 400 validation_failed and each JSON Pointer; an SDK start (as `temporal workflow start`
 * would) ends InputInvalid before any attempt; a result that breaks the output schema ends
 * OutputInvalid after one attempt; valid ones pass; the function's OpenAPI document and `pontoon
 * describe function` show the schema; each schema compiles once, however many executions.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { Worker } from '@temporalio/worker';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { newApiKey } from '../api/auth.ts';
import { startApi } from '../api/main.ts';
import type { ExecutionResult } from '../core/execution.ts';
import { validatorStats } from '../core/io-schema.ts';
import { loadSpecs } from '../core/load.ts';
import { formatProblem, parseSpecText } from '../core/parse.ts';
import { freePort } from '../dev/temporal.ts';
import { createLogger, installTemporalRuntime } from '../platform/logger.ts';
import { createMetrics } from '../platform/metrics.ts';
import { REPO_ROOT, type RunningWorker, startWorker, testConfig, uniqueName } from './helpers.ts';

const run = promisify(execFile);
let w: RunningWorker;
let api: { url: string; close(): Promise<void> };
const admin = newApiKey('typed-admin', 'admin');
const metrics = createMetrics();

/** Writes `input.reply` as its result, so each test picks the result it needs. */
const ECHO =
  "const fs=require('fs'),p=require('path');const d=process.env.PONTOON_DIR;" +
  "const r=JSON.parse(fs.readFileSync(p.join(d,'input.json'),'utf8'));" +
  "fs.writeFileSync(p.join(d,'output.json'),JSON.stringify(r.input.reply===undefined?null:r.input.reply))";

const INPUT_SCHEMA = {
  type: 'object',
  required: ['name', 'reply'],
  additionalProperties: false,
  properties: {
    name: { type: 'string', minLength: 1 },
    age: { type: 'integer', minimum: 0 },
    reply: {},
  },
};
const OUTPUT_SCHEMA = {
  type: 'object',
  required: ['greeting'],
  properties: { greeting: { type: 'string' }, count: { type: 'integer' } },
};

/** A typed function's spec as YAML; `tag` makes its schemas unique to the test (a fresh compile). */
function specYaml(name: string, tag: string) {
  const input = { ...INPUT_SCHEMA, $comment: tag };
  const output = { ...OUTPUT_SCHEMA, $comment: tag };
  return `apiVersion: pontoon.dev/v1
kind: Function
metadata:
  name: ${name}
spec:
  image: pontoon/test:0
  input:
    schema: ${JSON.stringify(input)}
  output:
    schema: ${JSON.stringify(output)}
  execution:
    retry:
      maxAttempts: 3
      initialInterval: 1s
  local:
    command: [node, -e, ${JSON.stringify(ECHO)}]
`;
}

async function call(method: string, route: string, body?: unknown, type = 'application/json') {
  const res = await fetch(`${api.url}${route}`, {
    method,
    headers: {
      authorization: `Bearer ${admin.token}`,
      ...(body !== undefined ? { 'content-type': type } : {}),
    },
    ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

async function pontoon(args: string[]) {
  try {
    const { stdout, stderr } = await run(
      process.execPath,
      [path.join(REPO_ROOT, 'bin', 'pontoon.mjs'), ...args],
      {
        cwd: REPO_ROOT,
        env: { ...process.env, PONTOON_API: api.url, PONTOON_TOKEN: admin.token },
      },
    );
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

/** Starts executeFunction the way `temporal workflow start` or any SDK does: no API in between. */
async function sdkRun(
  fn: string,
  input: unknown,
): Promise<{ id: string; result?: ExecutionResult; failure?: ApplicationFailure }> {
  const handle = await w.client.workflow.start('executeFunction', {
    taskQueue: w.config.taskQueue,
    workflowId: `exec:${fn}:${uniqueName('sdk')}`,
    args: [{ function: fn, input }],
  });
  try {
    return { id: handle.workflowId, result: (await handle.result()) as ExecutionResult };
  } catch (err) {
    expect(err).toBeInstanceOf(WorkflowFailedError);
    const cause = (err as WorkflowFailedError).cause;
    expect(cause).toBeInstanceOf(ApplicationFailure);
    return { id: handle.workflowId, failure: cause as ApplicationFailure };
  }
}

const applied = uniqueName('typed');

beforeAll(async () => {
  w = await startWorker(testConfig(), { metrics });
  api = await startApi({
    api: { host: '127.0.0.1', port: await freePort(), auth: { mode: 'keys', keys: [admin.entry] } },
    logger: createLogger('silent'),
    client: w.client,
    taskQueue: w.config.taskQueue,
    dataDir: w.config.dataDir,
  });
  const put = await call('PUT', `/v1/functions/${applied}`, specYaml(applied, applied), 'application/yaml');
  expect(put.status, JSON.stringify(put.body)).toBe(201);
}, 60_000);

afterAll(async () => {
  await call('DELETE', `/v1/functions/${applied}`).catch(() => undefined);
  await api?.close();
  await w?.stop();
});

it('a schema that does not compile is a located error: inline in the spec, in a schemaFile, and at the API', async () => {
  const text = `apiVersion: pontoon.dev/v1
kind: Function
metadata:
  name: broken-schema
spec:
  image: pontoon/test:0
  input:
    schema:
      type: object
      properties:
        age:
          type: integr
`;
  const inline = parseSpecText(text, 'broken.yaml');
  expect(inline.problems.map(formatProblem)).toEqual([
    expect.stringMatching(
      /^broken\.yaml:12:17 spec\.input\.schema\.properties\.age\.type: bad JSON Schema: must be equal to one of the allowed values: .*"integer"/,
    ),
  ]);

  // A schedule starts executions with no input: a typed input that refuses null is refused with it.
  const scheduled = parseSpecText(
    text.replace('        age:\n          type: integr\n', '        age:\n          type: integer\n') +
      '  schedules:\n    - name: nightly\n      cron: "0 2 * * *"\n',
    'scheduled.yaml',
  );
  expect(scheduled.problems.map(formatProblem)).toEqual([
    expect.stringMatching(
      /^scheduled\.yaml:14:13 spec\.schedules\[0\]\.name: schedule "nightly" starts executions with no input \(null\), which spec\.input\.schema refuses/,
    ),
  ]);

  // A schemaFile beside the spec, resolved relative to the spec file: the problem is located in it.
  const dir = mkdtempSync(path.join(inject('testDir'), 'typed-'));
  writeFileSync(
    path.join(dir, 'fn.yaml'),
    `apiVersion: pontoon.dev/v1
kind: Function
metadata:
  name: file-schema
spec:
  image: pontoon/test:0
  input:
    schemaFile: ./input.schema.json
  output:
    schemaFile: ./missing.schema.json
`,
  );
  writeFileSync(
    path.join(dir, 'input.schema.json'),
    `{
  "type": "object",
  "properties": {
    "n": { "type": "integer", "minimun": 3 }
  }
}
`,
  );
  const loaded = await loadSpecs([path.join(dir, 'fn.yaml')]);
  expect(loaded.specs).toEqual([]);
  expect(loaded.problems.map(formatProblem)).toEqual([
    `${path.join(dir, 'input.schema.json')}:4:31 properties.n.minimun: bad JSON Schema: unknown keyword: "minimun" (a misspelt keyword? JSON Schema draft 2020-12 keywords only)`,
    expect.stringMatching(
      new RegExp(
        `^${path.join(dir, 'fn.yaml').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:10:5 spec\\.output\\.schemaFile: schema file .*missing\\.schema\\.json does not exist; schemaFile is relative to the spec file$`,
      ),
    ),
  ]);

  // Fixed, the file's schema travels inline (what pontoon apply sends).
  writeFileSync(path.join(dir, 'input.schema.json'), JSON.stringify({ type: 'object', required: ['n'] }));
  writeFileSync(path.join(dir, 'missing.schema.json'), '{"type": "object"}');
  const ok = await loadSpecs([path.join(dir, 'fn.yaml')]);
  expect(ok.problems).toEqual([]);
  expect(ok.specs[0]!.spec.spec.input).toEqual({
    schemaFile: './input.schema.json',
    schema: { type: 'object', required: ['n'] },
  });

  // `pontoon validate` prints the same located line and exits 2.
  writeFileSync(path.join(dir, 'input.schema.json'), '{"type": "object", "required": "n"}');
  const v = await pontoon(['validate', path.join(dir, 'fn.yaml')]);
  expect(v.code).toBe(2);
  expect(v.stderr).toContain(
    `input.schema.json:1:32 required: bad JSON Schema: must be array\n1 problem found`,
  );

  // The API: 400 spec_invalid with line and column; a schemaFile without its schema is refused too.
  const put = await call('PUT', '/v1/functions/broken-schema', text, 'application/yaml');
  expect(put.status).toBe(400);
  expect(put.body.code).toBe('spec_invalid');
  expect(put.body.details).toEqual([
    expect.objectContaining({ line: 12, column: 17, field: 'spec.input.schema.properties.age.type' }),
  ]);
  const noFile = await call(
    'PUT',
    '/v1/functions/broken-schema',
    text.replace(/ {2}input:[\s\S]*$/, '  input:\n    schemaFile: ./input.schema.json\n'),
    'application/yaml',
  );
  expect(noFile.status).toBe(400);
  expect(noFile.body.details).toEqual([
    expect.objectContaining({
      field: 'spec.input.schemaFile',
      line: 8,
      message: expect.stringContaining('inline'),
    }),
  ]);
});

it('the API refuses an input that does not match with 400 validation_failed naming each JSON Pointer; the CLI prints them', async () => {
  const res = await call('POST', `/v1/functions/${applied}/invocations`, {
    input: { name: '', age: -1, extra: true },
  });
  expect(res.status).toBe(400);
  expect(res.body.code).toBe('validation_failed');
  expect(res.body.details).toEqual(
    expect.arrayContaining([
      { field: 'body.input', pointer: '/reply', message: 'is required' },
      { field: 'body.input', pointer: '/extra', message: 'is not allowed (no such property in the schema)' },
      { field: 'body.input', pointer: '/name', message: 'must NOT have fewer than 1 characters' },
      { field: 'body.input', pointer: '/age', message: 'must be >= 0' },
    ]),
  );
  expect(res.body.details).toHaveLength(4);
  expect(res.body.message).toContain('/age: must be >= 0');
  // No input at all is checked as null: the root pointer.
  const none = await call('POST', `/v1/functions/${applied}/invocations`, {});
  expect(none.body.details).toEqual([{ field: 'body.input', pointer: '', message: 'must be object' }]);
  const version = /\(version (\d+)\)/.exec(String(none.body.message))?.[1];
  expect(none.body.message).toBe(
    `no input given, and the input schema of "${applied}" (version ${version}) needs one: (root): must be object`,
  );
  // The CLI: the message once (a lone problem is not listed again) and how to give the input.
  expect(await pontoon(['invoke', applied])).toMatchObject({
    code: 2,
    stderr:
      `error: no input given, and the input schema of "${applied}" (version ${version}) needs one: (root): must be object (validation_failed)\n` +
      `  give it with --input '<json>' or --input - (stdin); the schema: pontoon describe function --openapi ${applied}\n`,
  });

  const cli = await pontoon(['invoke', applied, '--input', '{"name":"Ada","age":"x","reply":1}']);
  expect(cli.code).toBe(2);
  expect(cli.stderr).toContain('(validation_failed)');
  // One problem: in the message, not listed again; then where the schema is.
  expect(cli.stderr).toBe(
    `error: input does not match the input schema of "${applied}" (version ${version}): /age: must be integer (validation_failed)\n` +
      `  the schema: pontoon describe function --openapi ${applied}\n`,
  );
  const two = await pontoon(['invoke', applied, '--input', '{"name":"Ada","age":"x"}']);
  expect(two.stderr).toContain('  input /age: must be integer\n');
  expect(two.stderr).toContain('  input /reply: is required\n');
});

it('an SDK start with a bad input (as `temporal workflow start` sends it) ends InputInvalid before any attempt', async () => {
  const { id, failure } = await sdkRun(applied, { name: 'Ada', age: 1.5, reply: null, extra: 1 });
  expect(failure?.type).toBe('InputInvalid');
  expect(failure?.nonRetryable).toBe(true);
  expect(failure?.message).toContain('/age: must be integer');
  expect(failure?.message).toContain('/extra: is not allowed');
  const result = failure?.details?.[0] as ExecutionResult;
  expect(result.attempts).toEqual([]);
  expect(result.failure?.type).toBe('InputInvalid');
  // No attempt activity was ever scheduled: the check is a local activity before admission.
  const history = await w.client.workflow.getHandle(id).fetchHistory();
  expect(history.events?.filter((e) => e.activityTaskScheduledEventAttributes) ?? []).toEqual([]);
});

it('a result that does not match the output schema ends OutputInvalid after one attempt (not retried), with the pointer', async () => {
  const { failure } = await sdkRun(applied, { name: 'Ada', reply: { greeting: 42 } });
  expect(failure?.type).toBe('OutputInvalid');
  expect(failure?.message).toContain('/greeting: must be string');
  const result = failure?.details?.[0] as ExecutionResult;
  expect(result.attempts).toHaveLength(1);
  expect(result.attempts[0]!.exitCode).toBe(0);
  expect(result.attempts[0]!.failure).toMatchObject({ type: 'OutputInvalid', retryable: false });
});

it('a valid input and result pass, through the API and an SDK start; each schema compiles once for many executions', async () => {
  const fn = uniqueName('typed-once');
  const tag = `${fn}-${Date.now()}`;
  const put = await call('PUT', `/v1/functions/${fn}`, specYaml(fn, tag), 'application/yaml');
  expect(put.status).toBe(201);
  // The apply compiled the two schemas (to check them), not kept: executions compile each once.
  const before = validatorStats.compiled;
  const viaApi = await call('POST', `/v1/functions/${fn}/invocations?wait=60`, {
    input: { name: 'Ada', age: 36, reply: { greeting: 'hello Ada', count: 1 } },
  });
  expect(viaApi.status, JSON.stringify(viaApi.body)).toBe(200);
  expect(viaApi.body.execution.status).toBe('succeeded');
  expect(viaApi.body.execution.output).toEqual({ greeting: 'hello Ada', count: 1 });
  const runs = await Promise.all(
    Array.from({ length: 6 }, (_, i) => sdkRun(fn, { name: `n${i}`, reply: { greeting: `hi ${i}` } })),
  );
  for (const [i, r] of runs.entries()) {
    expect(r.failure).toBeUndefined();
    expect(r.result?.output).toEqual({ greeting: `hi ${i}` });
  }
  // 7 executions, 7 input checks by the worker, 1 by the API, 7 result checks: 2 compiles.
  expect(validatorStats.compiled - before).toBe(2);
  // The same count on the worker's /metrics.
  const scraped = await metrics.registry.getSingleMetricAsString('pontoon_schema_compiles_total');
  expect(Number(/pontoon_schema_compiles_total (\d+)/.exec(scraped)?.[1])).toBe(validatorStats.compiled);
  await call('DELETE', `/v1/functions/${fn}`);
});

it("the function's OpenAPI document shows its input and output schemas; `pontoon describe function` prints them", async () => {
  const doc = await call('GET', `/v1/functions/${applied}/openapi.json`);
  expect(doc.status).toBe(200);
  expect(doc.body.openapi).toBe('3.1.0');
  expect(doc.body.components.schemas.FunctionInput).toEqual({ ...INPUT_SCHEMA, $comment: applied });
  expect(doc.body.components.schemas.FunctionOutput).toEqual({ ...OUTPUT_SCHEMA, $comment: applied });
  const op = doc.body.paths[`/v1/functions/${applied}/invocations`].post;
  expect(op.requestBody.content['application/json'].schema.properties.input.$ref).toBe(
    '#/components/schemas/FunctionInput',
  );
  // The public document names the route (and no function).
  const main = await call('GET', '/openapi.json');
  expect(main.body.paths['/v1/functions/{name}/openapi.json'].get).toBeDefined();
  expect(JSON.stringify(main.body)).not.toContain(applied);

  const described = await pontoon(['describe', 'function', applied]);
  expect(described.code).toBe(0);
  expect(described.stdout).toMatch(
    /\n {4}input:\n {6}schema:\n {8}type: object\n {8}required:\n {10}- name\n {10}- reply\n/,
  );
  expect(described.stdout).toContain('minLength: 1');
  expect(described.stdout).toMatch(/\n {4}output:\n {6}schema:\n {8}type: object\n/);
  const openapi = await pontoon(['describe', 'function', '--openapi', applied, '-o', 'json']);
  expect(openapi.code).toBe(0);
  expect(JSON.parse(openapi.stdout).components.schemas.FunctionInput).toEqual({
    ...INPUT_SCHEMA,
    $comment: applied,
  });
});

// Recorded copies of both paths are in test/histories/*-typed-input.json (test/replay.test.ts).
it('the new path replays: an InputInvalid and an OutputInvalid execution against the current workflow code', async () => {
  const bad = await sdkRun(applied, { reply: 1 });
  const wrong = await sdkRun(applied, { name: 'Ada', reply: [] });
  expect(bad.failure?.type).toBe('InputInvalid');
  expect(wrong.failure?.type).toBe('OutputInvalid');
  installTemporalRuntime(createLogger('error'));
  for (const { id } of [bad, wrong]) {
    const history = await w.client.workflow.getHandle(id).fetchHistory();
    await Worker.runReplayHistory(
      { workflowBundle: { codePath: inject('workflowBundlePath') } },
      history,
      id,
    );
  }
});

it('the greet example runs as shipped: its schema file is read beside the spec; a valid input passes, a bad one is refused', async () => {
  const [loaded] = (await loadSpecs([path.join(REPO_ROOT, 'function-specs', 'greet.yaml')])).specs;
  const spec = { ...loaded!.spec, metadata: { ...loaded!.spec.metadata, name: uniqueName('greet') } };
  const name = spec.metadata.name;
  expect(spec.spec.input?.schema).toMatchObject({ required: ['name'] });
  expect((await call('PUT', `/v1/functions/${name}`, spec)).status).toBe(201);
  const ok = await call('POST', `/v1/functions/${name}/invocations?wait=60`, {
    input: { name: 'Ada', times: 2 },
  });
  expect(ok.body.execution).toMatchObject({
    status: 'succeeded',
    output: { greetings: ['Hello, Ada!', 'Hello, Ada!'] },
  });
  const bad = await call('POST', `/v1/functions/${name}/invocations`, { input: { name: 'Ada', times: 9 } });
  expect(bad.body.details).toEqual([{ field: 'body.input', pointer: '/times', message: 'must be <= 5' }]);
  await call('DELETE', `/v1/functions/${name}`);
});
