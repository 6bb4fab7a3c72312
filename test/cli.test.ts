/**
 * End to end as a user runs it: the real `pontoon` command → the real listening API (with API keys)
 * → the real Temporal dev server → a real worker on the local runtime.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { newApiKey } from '../api/auth.ts';
import { startApi } from '../api/main.ts';
import { getSpec } from '../client/functions.ts';
import { freePort } from '../dev/temporal.ts';
import { createLogger } from '../platform/logger.ts';
import { REPO_ROOT, type RunningWorker, startWorker, uniqueName, waitFor, waitForListed } from './helpers.ts';

const run = promisify(execFile);
let w: RunningWorker;
let api: { url: string; close(): Promise<void> };
const admin = newApiKey('cli-admin', 'admin');
const viewer = newApiKey('cli-viewer', 'viewer');

beforeAll(async () => {
  w = await startWorker();
  api = await startApi({
    api: {
      host: '127.0.0.1',
      port: await freePort(),
      auth: { mode: 'keys', keys: [admin.entry, viewer.entry] },
    },
    logger: createLogger('silent'),
    client: w.client,
    taskQueue: w.config.taskQueue,
    dataDir: w.config.dataDir,
  });
});
afterAll(async () => {
  await api?.close();
  await w?.stop();
});

async function pontoon(args: string[], env: Record<string, string> = {}) {
  try {
    const { stdout, stderr } = await run(
      process.execPath,
      [path.join(REPO_ROOT, 'bin', 'pontoon.mjs'), ...args],
      {
        cwd: REPO_ROOT,
        env: { ...process.env, PONTOON_API: api.url, PONTOON_TOKEN: admin.token, ...env },
      },
    );
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

/** A spec file for the behave.mjs test function; `extra` is YAML added under `spec:` (2-space indented). */
function specFile(name: string, extra = ''): string {
  const dir = mkdtempSync(path.join(inject('testDir'), 'cli-'));
  const file = path.join(dir, `${name}.yaml`);
  writeFileSync(
    file,
    `apiVersion: pontoon.dev/v1
kind: Function
metadata:
  name: ${name}
spec:
  image: pontoon/test:0
  parameters:
    - name: mode
      default: ok
    - name: code
      type: integer
      default: 1
    - name: until
      type: integer
      default: 2
  execution:
    retry:
      maxAttempts: 2
      initialInterval: 1s
${extra}  local:
    command: [node, test/fixtures/functions/behave.mjs]
`,
  );
  return file;
}

it('apply → invoke --wait → logs → the execution is listed with its trigger', async () => {
  const name = uniqueName('cli');
  const file = specFile(name);
  const applied = await pontoon(['apply', '-f', file]);
  expect(applied.stdout).toContain(`function/${name} applied (version 1)`);
  expect(applied.code).toBe(0);
  expect((await pontoon(['apply', '-f', file])).stdout).toContain('unchanged (version 1)');

  const ok = await pontoon(['invoke', name, '--param', 'mode=fail-until', '--wait', '--follow-logs']);
  expect(ok.code).toBe(0);
  const result = JSON.parse(ok.stdout);
  expect(result).toMatchObject({ status: 'succeeded', trigger: 'cli', output: { ok: true, attempt: 2 } });
  // Progress lines and both attempts' logs went to stderr.
  expect(ok.stderr).toContain('running attempt 1/2');
  expect(ok.stderr).toContain('behave mode=fail-until attempt=1');
  expect(ok.stderr).toContain('behave mode=fail-until attempt=2');

  const logs = await pontoon(['logs', result.executionId, '--attempt', '1']);
  expect(logs.code).toBe(0);
  expect(logs.stdout).toContain('behave mode=fail-until attempt=1');

  const listExecutions = async () =>
    JSON.parse((await pontoon(['get', 'executions', '--function', name, '-o', 'json'])).stdout).executions;
  // Listed as succeeded (visibility is eventually consistent: the start may show before the end).
  const listed = await waitForListed(
    'the execution listed as succeeded',
    async () => (await listExecutions()).filter((e: { status: string }) => e.status === 'succeeded'),
    { ids: [result.executionId], count: 1 },
  );
  expect(listed[0]).toMatchObject({ function: name, trigger: 'cli', status: 'succeeded' });
  const table = await pontoon(['get', 'executions', '--function', name]);
  expect(table.stdout).toMatch(/EXECUTION\s+FUNCTION\s+TRIGGER/);

  const described = await pontoon(['describe', 'execution', result.executionId]);
  expect(described.stdout).toContain('Status:     succeeded');
  expect(described.stdout).toMatch(/1\s+1\s+\S+\s+FunctionExit: exited with code 1/);

  await waitForListed(
    'the function listed',
    async () => JSON.parse((await pontoon(['get', 'functions', '-o', 'json'])).stdout),
    { ids: [name] },
  );
  const fns = await pontoon(['get', 'functions']);
  expect(fns.stdout).toContain(name);
  expect((await pontoon(['describe', 'function', name])).stdout).toContain(`name: ${name}`);
});

it('a failed execution exits 1; the same idempotency key names the same execution', async () => {
  const name = uniqueName('clifail');
  await pontoon(['apply', '-f', specFile(name)]);
  const bad = await pontoon(['invoke', name, '-p', 'mode=fail', '-p', 'code=4', '--wait', '-o', 'json']);
  expect(bad.code).toBe(1);
  expect(JSON.parse(bad.stdout)).toMatchObject({
    status: 'failed',
    attempts: [{ exitCode: 4 }, { exitCode: 4 }],
  });
  // Why, in one line on stderr after the progress (stdout is the execution, for scripts), led by
  // the function's own last error line, as in the Web UI; the API's failure message has only the exit.
  expect(JSON.parse(bad.stdout).failure.message).toBe('exited with code 4 (all 2 attempts used)');
  expect(bad.stderr.trimEnd().split('\n').at(-1)).toBe(
    'failed after 2 attempts: failing with 4 — exited with code 4 (all 2 attempts used)',
  );

  const a = await pontoon(['invoke', name, '--idempotency-key', 'k1', '-o', 'json']);
  const b = await pontoon(['invoke', name, '--idempotency-key', 'k1', '-o', 'json']);
  expect(JSON.parse(a.stdout)).toMatchObject({ executionId: `exec:${name}:k1`, created: true });
  expect(JSON.parse(b.stdout)).toMatchObject({ executionId: `exec:${name}:k1`, created: false });
});

it('cancel stops a running execution', async () => {
  const name = uniqueName('clicancel');
  await pontoon(['apply', '-f', specFile(name)]);
  const started = JSON.parse((await pontoon(['invoke', name, '-p', 'mode=marker', '-o', 'json'])).stdout);
  // mode=marker sleeps one second by default; cancel while it runs or just after: both end the execution.
  const c = await pontoon(['cancel', started.executionId]);
  expect([0, 2]).toContain(c.code);
  await waitFor('the execution to end', async () => {
    const r = JSON.parse(
      (await pontoon(['describe', 'execution', started.executionId, '-o', 'json'])).stdout,
    );
    return r.status !== 'running' ? r : undefined;
  });
});

it('apply is all or nothing: one invalid spec and nothing is stored', async () => {
  const good = uniqueName('good');
  const dir = path.dirname(specFile(good));
  writeFileSync(
    path.join(dir, 'broken.yaml'),
    'apiVersion: pontoon.dev/v1\nkind: Function\nmetadata:\n  name: Broken\nspec:\n  image: x\n',
  );
  const r = await pontoon(['apply', '-f', dir]);
  expect(r.code).toBe(2);
  expect(r.stderr).toContain('broken.yaml:4:9 metadata.name: function name must be lower-case');
  expect(r.stderr).toContain('nothing applied');
  await expect(getSpec(w.client, good)).rejects.toThrow();
});

it('exit codes: usage 2, API refusals 2, unreachable 3; --help everywhere', async () => {
  const usage = await pontoon(['invoke']);
  expect(usage.code).toBe(2);
  expect(usage.stderr).toContain('invoke needs exactly one function name');
  expect((await pontoon(['invoke', 'x', '--colour', 'red'])).code).toBe(2);
  // Help for a name every object inherits is the main help (it crashed: "t.endsWith is not a function").
  const inheritedHelp = await pontoon(['help', 'toString']);
  expect(inheritedHelp.code).toBe(0);
  expect(inheritedHelp.stdout).toContain('Usage: pontoon <command> [options]');
  // Only the aliases' own names: `toString` passed an `in` check before.
  const inherited = await pontoon(['invoke', 'x', '--priority', 'toString']);
  expect(inherited.code).toBe(2);
  expect(inherited.stderr).toContain('--priority must be 1-5 or high, normal, low');
  const missing = await pontoon(['invoke', 'no-such-function']);
  expect(missing.code).toBe(2);
  expect(missing.stderr).toContain('(function_not_found)');
  const forbidden = await pontoon(['apply', '-f', specFile(uniqueName('ro'))], {
    PONTOON_TOKEN: viewer.token,
  });
  expect(forbidden.code).toBe(2);
  expect(forbidden.stderr).toContain('(forbidden)');
  const down = await pontoon(['get', 'functions'], { PONTOON_API: 'http://127.0.0.1:1' });
  expect(down.code).toBe(3);
  expect(down.stderr).toContain('cannot reach the Pontoon API at http://127.0.0.1:1');
  for (const cmd of [
    'apply',
    'get',
    'describe',
    'invoke',
    'logs',
    'cancel',
    'validate',
    'dev',
    'worker',
    'api',
    'schema',
  ]) {
    const h = await pontoon([cmd, '--help']);
    expect(h.code, cmd).toBe(0);
    expect(h.stdout, cmd).toContain('Usage: pontoon');
  }
});

it('schedules: preview offline across DST, then list, pause, trigger and backfill through the API', async () => {
  const preview = await pontoon([
    'schedules',
    'preview',
    'function-specs/daily-report.yaml',
    '--from',
    '2027-03-26T00:00:00Z',
    '--count',
    '3',
    '-o',
    'json',
  ]);
  expect(preview.code).toBe(0);
  // 02:30 London: GMT before 28 March 2027, BST from then on.
  expect(JSON.parse(preview.stdout)).toEqual([
    {
      function: 'daily-report',
      schedule: 'nightly',
      when: '30 2 * * * (Europe/London)',
      fireTimes: ['2027-03-26T02:30:00.000Z', '2027-03-27T02:30:00.000Z', '2027-03-28T01:30:00.000Z'],
    },
  ]);

  const name = uniqueName('clisched');
  const file = specFile(
    name,
    `  schedules:
    - name: yearly
      cron: "0 0 1 1 *"
      overlap: allow_all
`,
  );
  expect((await pontoon(['apply', '-f', file])).code).toBe(0);
  const paused = await pontoon(['schedules', 'pause', name, 'yearly', '--note', 'maintenance']);
  expect(paused.code).toBe(0);
  const listed = JSON.parse((await pontoon(['schedules', 'list', name, '-o', 'json'])).stdout);
  expect(listed[0]).toMatchObject({ name: 'yearly', paused: true, note: 'maintenance' });
  expect(listed[0].nextFireTimes).toHaveLength(5);
  expect((await pontoon(['schedules', 'unpause', name, 'yearly'])).code).toBe(0);
  expect((await pontoon(['schedules', 'trigger', name, 'yearly'])).stdout).toContain(
    'trigger: ' + name + '/yearly (overlap allow_all)',
  );
  const backfill = await pontoon([
    'schedules',
    'backfill',
    name,
    'yearly',
    '--from',
    '2020-01-01T00:00:00Z',
    '--to',
    '2021-06-01T00:00:00Z',
  ]);
  expect(backfill.code).toBe(0);
  // 1 triggered + 2 backfilled (1 Jan 2020 and 2021), each with the schedule as trigger.
  const runs = await waitForListed<{ trigger: string }>(
    'three scheduled executions',
    async () =>
      JSON.parse((await pontoon(['get', 'executions', '--function', name, '-o', 'json'])).stdout).executions,
    { count: 3 },
  );
  expect(runs.map((e) => e.trigger)).toEqual(['yearly', 'yearly', 'yearly']);
  const missing = await pontoon(['schedules', 'backfill', name, 'yearly']);
  expect(missing.code).toBe(2);
  expect(missing.stderr).toContain('backfill needs --from and --to');
});

it('dead-letters lists a failed execution; redrive starts it again once (--dry-run counts, bulk finds it redriven)', async () => {
  const name = uniqueName('clidl');
  expect((await pontoon(['apply', '-f', specFile(name)])).code).toBe(0);
  const failed = await pontoon(['invoke', name, '-p', 'mode=fail', '-p', 'code=4', '--wait', '-o', 'json']);
  expect(failed.code).toBe(1);
  const { executionId } = JSON.parse(failed.stdout);
  const listed = await waitForListed<{ executionId: string; failureType: string }>(
    'the dead letter listed',
    async () =>
      JSON.parse((await pontoon(['dead-letters', '--function', name, '-o', 'json'])).stdout).deadLetters,
    { ids: [executionId], count: 1 },
  );
  expect(listed[0]).toMatchObject({
    failureType: 'FunctionExit',
    function: name,
    trigger: 'cli',
  });
  const table = await pontoon(['dead-letters', '--function', name, '--type', 'FunctionExit']);
  expect(table.stdout).toMatch(/EXECUTION\s+FUNCTION\s+TYPE\s+FAILED\s+REDRIVE OF/);
  expect(table.stdout).toContain(executionId);

  const dry = await pontoon(['redrive', '--function', name, '--type', 'FunctionExit', '--dry-run']);
  expect(dry).toMatchObject({ code: 0 });
  expect(dry.stdout.trim()).toBe('1 dead letter match (dry run: nothing started; at most 1000 per redrive)');
  // A viewer may list but not redrive.
  const denied = await pontoon(['redrive', executionId], { PONTOON_TOKEN: viewer.token });
  expect(denied.code).toBe(2);
  expect(denied.stderr).toContain('(forbidden)');

  // Dead letters that failed before this moment: the original only (its redrive fails after).
  const beforeRedrive = new Date().toISOString();
  const first = await pontoon(['redrive', executionId]);
  expect(first.code, first.stderr).toBe(0);
  expect(first.stdout.trim()).toBe(
    `redrive of ${executionId} started: ${executionId}.redrive (spec version 1)`,
  );
  expect((await pontoon(['redrive', executionId])).stdout.trim()).toBe(
    `${executionId} was redriven before: ${executionId}.redrive (nothing started)`,
  );
  const bulk = await pontoon([
    'redrive',
    '--function',
    name,
    '--type',
    'FunctionExit',
    '--until',
    beforeRedrive,
  ]);
  expect(bulk.stdout).toContain(`${executionId} -> ${executionId}.redrive (redriven before)`);
  expect(bulk.stdout).toContain('redrove 1: 0 started, 1 redriven before, 0 refused');
  // The same parameters (code=4): the redrive fails the same way, and is a dead letter linked to its original.
  const again = await waitForListed<{ executionId: string; redriveOf: string }>(
    'the failed redrive listed',
    async () =>
      JSON.parse((await pontoon(['dead-letters', '--function', name, '-o', 'json'])).stdout).deadLetters,
    { ids: [executionId, `${executionId}.redrive`], count: 2 },
  );
  expect(again.find((d) => d.executionId === `${executionId}.redrive`)?.redriveOf).toBe(executionId);
  // Listings page: one row per page here, the next page's token on stderr, and the two pages hold both.
  for (const listing of [
    ['dead-letters', '--function', name],
    ['get', 'executions', '--function', name],
  ]) {
    const page1 = await pontoon([...listing, '--limit', '1']);
    expect(page1.code, page1.stderr).toBe(0);
    const token = /next page: repeat the command with --page-token (\S+)/.exec(page1.stderr)?.[1];
    expect(token, page1.stderr).toBeTruthy();
    const page2 = await pontoon([...listing, '--limit', '1', '--page-token', token!]);
    expect(page2.code, page2.stderr).toBe(0);
    // The first column of each table's rows (the header is the first line).
    const rows = [page1.stdout, page2.stdout].flatMap((t) =>
      t
        .trim()
        .split('\n')
        .slice(1)
        .map((l) => l.split(/\s+/)[0]),
    );
    expect(rows.sort()).toEqual([executionId, `${executionId}.redrive`].sort());
  }
  const described = JSON.parse(
    (await pontoon(['describe', 'execution', `${executionId}.redrive`, '-o', 'json'])).stdout,
  );
  expect(described).toMatchObject({
    status: 'failed',
    parameters: { mode: 'fail', code: 4 },
    trigger: 'cli',
  });

  const both = await pontoon(['redrive', executionId, '--function', name]);
  expect(both.code).toBe(2);
  expect(both.stderr).toContain('redrive takes one execution id, or filters');
  expect((await pontoon(['redrive', '--help'])).stdout).toContain('pontoon redrive --function f');
}, 120_000);
