/**
 * Schemathesis (PyPI, pinned in dev/schemathesis.ts) fuzzes the API through its own /openapi.json
 * with every check, once per role (no key, viewer, invoker, admin) and once against an open server
 * (PONTOON_AUTH=none, whose document has no security and no 401/429), each a listening API on the
 * real Temporal dev server and a real worker. A failure prints Schemathesis's report: each finding
 * with the request that reproduces it. Bounded by --max-examples per operation and a fixed seed, so
 * a run is the same requests every time (the stateful phase follows the answers).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { buildApi } from '../api/app.ts';
import { newApiKey } from '../api/auth.ts';
import { WorkflowType } from '../core/names.ts';
import { ensureSchemathesis, SCHEMATHESIS_VERSION } from '../dev/schemathesis.ts';
import { createLogger } from '../platform/logger.ts';
import { REPO_ROOT, type RunningWorker, startWorker, uniqueName } from './helpers.ts';

/** Test cases per operation and phase: about a minute per role on a loaded 2-core machine. */
const MAX_EXAMPLES = 25;
const SEED = 20261203;
const CONFIG = path.join(REPO_ROOT, 'test', 'schemathesis.toml');

const keys = {
  viewer: newApiKey('st-viewer', 'viewer'),
  invoker: newApiKey('st-invoker', 'invoker'),
  admin: newApiKey('st-admin', 'admin'),
};
const fn = uniqueName('fuzz');
let st: string;
let w: RunningWorker;
let app: FastifyInstance;
let url: string;
let openApp: FastifyInstance;
let openUrl: string;
let outDir: string;

beforeAll(async () => {
  st = await ensureSchemathesis((line) => process.stderr.write(`[schemathesis] ${line}\n`));
  outDir = mkdtempSync(path.join(inject('testDir'), 'schemathesis-'));
  w = await startWorker();
  app = await buildApi({
    client: w.client,
    logger: createLogger('silent'),
    taskQueue: w.config.taskQueue,
    dataDir: w.config.dataDir,
    auth: { mode: 'keys', keys: Object.values(keys).map((k) => k.entry) },
    // Schemathesis's ST401 check sends a wrong key to every operation, many per minute from this
    // one address; past the default lockout (20 a minute) the answers turn 429 and the check fails.
    // The lockout has its own test (api-security.test.ts); here every wrong key must reach the
    // 401 path it fuzzes.
    authFailuresPerMinute: 1_000_000,
  });
  url = await app.listen({ host: '127.0.0.1', port: 0 });
  openApp = await buildApi({
    client: w.client,
    logger: createLogger('silent'),
    taskQueue: w.config.taskQueue,
    dataDir: w.config.dataDir,
    auth: { mode: 'open' },
  });
  openUrl = await openApp.listen({ host: '127.0.0.1', port: 0 });
  // Test data the fuzzer draws names from (test/schemathesis.toml): a function without parameters
  // that ends at once (so ?wait=300 never waits long) and one finished execution of it.
  const admin = { authorization: `Bearer ${keys.admin.token}` };
  const put = await app.inject({
    method: 'PUT',
    url: `/v1/functions/${fn}`,
    headers: { ...admin, 'content-type': 'application/yaml' },
    payload: `apiVersion: pontoon.dev/v1
kind: Function
metadata:
  name: ${fn}
spec:
  image: pontoon/test:0
  execution:
    timeout: 30s
    retry:
      maxAttempts: 1
  local:
    command: [node, -e, "console.log('fuzzed')"]
`,
  });
  expect(put.statusCode, put.body).toBe(201);
  const run = await app.inject({
    method: 'POST',
    url: `/v1/functions/${fn}/invocations?wait=60`,
    headers: { ...admin, 'content-type': 'application/json' },
    payload: '{}',
  });
  expect(run.statusCode, run.body).toBe(200);
  const executionId: string = run.json().executionId;
  // Known names drawn half the time, so requests reach the handlers' core logic; the other half are
  // generated from the document's patterns.
  writeFileSync(
    path.join(outDir, 'schemathesis.toml'),
    `${readFileSync(CONFIG, 'utf8')}
[dictionaries.functions]
values = [${JSON.stringify(fn)}]

[dictionaries.executions]
values = [${JSON.stringify(executionId)}]

[parameters]
"path.name" = { dictionary = "functions", probability = 0.5 }
"path.id" = { dictionary = "executions", probability = 0.5 }
`,
  );
}, 180_000);

afterAll(async () => {
  // Functions the fuzzer applied (valid specs get through): deleted with their schedules and running
  // executions while this worker still runs their controllers, so nothing fires on the shared server.
  if (app) {
    const res = await w.client.workflowService.listWorkflowExecutions({
      namespace: w.client.options.namespace,
      query: `WorkflowType = "${WorkflowType.controller}" AND ExecutionStatus = "Running" AND TaskQueue = "${w.config.taskQueue}"`,
      pageSize: 1000,
    });
    for (const e of res.executions ?? []) {
      const id = e.execution?.workflowId ?? '';
      if (!id.startsWith('fn:')) continue;
      await app.inject({
        method: 'DELETE',
        url: `/v1/functions/${id.slice(3)}?cancelRunning=true`,
        headers: { authorization: `Bearer ${keys.admin.token}` },
      });
    }
  }
  await app?.close();
  await openApp?.close();
  await w?.stop();
});

/** One Schemathesis run; resolves with its exit code and output (also kept in outDir). */
function schemathesis(
  role: string,
  token: string | undefined,
  base: string,
): Promise<{ code: number; output: string }> {
  const args = [
    '--config-file',
    path.join(outDir, 'schemathesis.toml'),
    'run',
    `${base}/openapi.json`,
    // The API answers within 10 s (its Temporal deadline, api/plugins/deadlines.ts) unless ?wait asks for more,
    // and the fixture function ends at once.
    '--max-response-time',
    '10',
    '--max-examples',
    String(MAX_EXAMPLES),
    '--seed',
    String(SEED),
    // One worker: with two, Hypothesis parses lambdas with `ast` from two threads, which CPython
    // before 3.11.9 can fail ("AST constructor recursion depth mismatch", CPython gh-106905).
    '--workers',
    '1',
    // A Temporal call has 10 s (api/plugins/deadlines.ts); a slow answer is a finding of its own, not a timeout.
    '--request-timeout',
    '30',
    '--generation-database',
    'none',
    '--no-color',
    ...(token ? ['--header', `Authorization: Bearer ${token}`] : []),
  ];
  return new Promise((resolve, reject) => {
    const child = spawn(st, args, {
      cwd: outDir,
      env: { ...process.env, NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d) => {
      output += d;
    });
    child.stderr.on('data', (d) => {
      output += d;
    });
    child.once('error', reject);
    child.once('close', (code) => {
      writeFileSync(path.join(outDir, `${role}.txt`), output);
      resolve({ code: code ?? -1, output });
    });
  });
}

const roles: [string, string | undefined, () => string][] = [
  ['no key', undefined, () => url],
  ['viewer', keys.viewer.token, () => url],
  ['invoker', keys.invoker.token, () => url],
  ['admin', keys.admin.token, () => url],
  ['open mode', undefined, () => openUrl],
];

for (const [role, token, base] of roles) {
  it(`Schemathesis ${SCHEMATHESIS_VERSION}, every check, as ${role}: no finding`, async () => {
    const started = Date.now();
    const { code, output } = await schemathesis(role.replace(' ', '-'), token, base());
    const summary = output.slice(output.lastIndexOf('SUMMARY'));
    process.stderr.write(
      `[schemathesis] ${role}: exit ${code} in ${((Date.now() - started) / 1000).toFixed(0)} s; ${
        /Test cases:\s*\n\s*(.*)/.exec(summary)?.[1] ?? ''
      }\n`,
    );
    // The whole report on failure: each finding names the check and a curl line that reproduces it.
    expect(code, output).toBe(0);
  }, 600_000);
}
