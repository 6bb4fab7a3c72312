/**
 * Applies the server refuses: a time zone only ICU knows is refused at the first layer (validate,
 * the API, and the controller's update validator for SDK starters); a schedule Temporal refuses is
 * a located 400 within seconds, never a 500 after retries; and a multi-document `pontoon apply` is
 * all or nothing, server refusals included. Real Temporal dev server, real API, real CLI.
 *
 * The server refusal is real: a Temporal namespace where Pontoon's search attributes are not
 * registered (an operator's setup mistake) refuses every schedule ("no mapping defined for search
 * attribute"), while functions without schedules apply there.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createScheduleActivities } from '../activities/schedules.ts';
import { startApi } from '../api/main.ts';
import { applySpec } from '../client/functions.ts';
import { functionSpecSchema } from '../core/schema.ts';
import { freePort } from '../dev/temporal.ts';
import { createLogger } from '../platform/logger.ts';
import { REPO_ROOT, type RunningWorker, startWorker, testConfig, uniqueName } from './helpers.ts';

const run = promisify(execFile);
const BARE_NAMESPACE = `bare-${process.pid}`;

let w: RunningWorker;
let bare: RunningWorker;
let api: { url: string; close(): Promise<void> };

beforeAll(async () => {
  // A namespace without Pontoon's search attributes (the dev server's default namespace has them).
  await run(inject('temporalCli'), [
    'operator',
    'namespace',
    'create',
    '--namespace',
    BARE_NAMESPACE,
    '--address',
    inject('temporalAddress'),
  ]);
  w = await startWorker();
  // A worker there would refuse to start (it checks the search attributes): skip that check to
  // reproduce the mistake it guards against.
  bare = await startWorker(testConfig({ TEMPORAL_NAMESPACE: BARE_NAMESPACE }), {
    checkSearchAttributes: false,
  });
  api = await startApi({
    api: { host: '127.0.0.1', port: await freePort(), auth: { mode: 'open' } },
    logger: createLogger('silent'),
    client: bare.client,
    taskQueue: bare.config.taskQueue,
    dataDir: bare.config.dataDir,
  });
}, 120_000);
afterAll(async () => {
  await api?.close();
  await bare?.stop();
  await w?.stop();
});

function specYaml(name: string, schedules = false, description = 'first'): string {
  return `apiVersion: pontoon.dev/v1
kind: Function
metadata:
  name: ${name}
  description: ${description}
spec:
  image: pontoon/test:0
  local:
    command: [node, -e, "0"]
${schedules ? '  schedules:\n    - name: nightly\n      cron: "0 2 * * *"\n      timezone: Europe/London\n' : ''}`;
}

function specFile(...docs: string[]): string {
  const dir = mkdtempSync(path.join(inject('testDir'), 'refusal-'));
  const file = path.join(dir, 'specs.yaml');
  writeFileSync(file, docs.join('---\n'));
  return file;
}

async function pontoon(args: string[]) {
  try {
    const { stdout, stderr } = await run(
      process.execPath,
      [path.join(REPO_ROOT, 'bin', 'pontoon.mjs'), ...args],
      {
        cwd: REPO_ROOT,
        env: { ...process.env, PONTOON_API: api.url },
      },
    );
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

async function getFunction(
  name: string,
): Promise<{ status: number; body: { version?: number; spec?: unknown } }> {
  const res = await fetch(`${api.url}/v1/functions/${name}`);
  return { status: res.status, body: (await res.json()) as { version?: number; spec?: unknown } };
}

describe('time zones only ICU knows', () => {
  it('an SDK apply that skips the API is refused by the controller update validator: SpecInvalid naming the field', async () => {
    const name = uniqueName('tz-sdk');
    const spec = functionSpecSchema().parse({
      apiVersion: 'pontoon.dev/v1',
      kind: 'Function',
      metadata: { name },
      spec: { image: 'pontoon/test:0', schedules: [{ name: 'nine', cron: '0 9 * * *' }] },
    });
    spec.spec.schedules[0]!.timezone = 'PST';
    const err = await applySpec(w.client, spec, w.config.taskQueue).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkflowUpdateFailedError);
    const cause = (err as WorkflowUpdateFailedError).cause as ApplicationFailure;
    expect(cause).toBeInstanceOf(ApplicationFailure);
    expect(cause.type).toBe('SpecInvalid');
    expect(cause.details).toEqual([
      { field: 'spec.schedules[0].timezone', message: expect.stringContaining('unknown time zone "PST"') },
    ]);
  });

  it('the schedule activity turns the server refusal into a non-retryable ScheduleRefused naming the field', async () => {
    const { reconcileSchedules } = createScheduleActivities({
      client: w.client,
      taskQueue: w.config.taskQueue,
      logger: createLogger('silent'),
    });
    const spec = functionSpecSchema().parse({
      apiVersion: 'pontoon.dev/v1',
      kind: 'Function',
      metadata: { name: 'tz-activity' },
      spec: { image: 'pontoon/test:0', schedules: [{ name: 'nine', cron: '0 9 * * *' }] },
    });
    const schedule = { ...spec.spec.schedules[0]!, timezone: 'PST' };
    const err = await reconcileSchedules({
      function: uniqueName('tz-activity'),
      schedules: [schedule],
      previous: [],
      priority: 3,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApplicationFailure);
    const f = err as ApplicationFailure;
    expect(f.type).toBe('ScheduleRefused');
    expect(f.nonRetryable).toBe(true);
    expect(f.details?.[0]).toEqual({
      field: 'spec.schedules[0].timezone',
      message: expect.stringContaining('unknown time zone PST'),
    });
  });
});

describe('a schedule the Temporal server refuses', () => {
  it('PUT answers 400 spec_invalid naming the schedule within seconds, and nothing is applied', async () => {
    const name = uniqueName('refused');
    const started = Date.now();
    const res = await fetch(`${api.url}/v1/functions/${name}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/yaml' },
      body: specYaml(name, true),
    });
    const elapsed = Date.now() - started;
    const body = (await res.json()) as { code: string; details: { field: string; message: string }[] };
    expect(res.status).toBe(400);
    expect(body.code).toBe('spec_invalid');
    expect(body.details).toEqual([
      {
        field: 'spec.schedules[0]',
        message: expect.stringMatching(/Temporal refused schedule "nightly": .*search attribute/),
      },
    ]);
    // Not retried for minutes: one refusal, then the controller's rollback (generous under load).
    expect(elapsed).toBeLessThan(8_000);
    expect((await getFunction(name)).status).toBe(404);
  });

  it('pontoon apply of several documents is all or nothing: a refused one rolls back those before it', async () => {
    const existing = uniqueName('keep');
    const created = uniqueName('new');
    const refused = uniqueName('refused');
    // `existing` is at version 1 before the multi-document apply.
    const first = await pontoon(['apply', '--no-build', '-f', specFile(specYaml(existing))]);
    expect(first.code).toBe(0);
    const before = await getFunction(existing);
    expect(before.body.version).toBe(1);

    const file = specFile(specYaml(existing, false, 'second'), specYaml(created), specYaml(refused, true));
    const r = await pontoon(['apply', '--no-build', '-f', file]);
    expect(r.code).toBe(2);
    // Located at the refused document's schedule (line 13 of the file: the third document's
    // schedules[0]), then what was rolled back.
    expect(r.stderr).toContain(`function/${refused} refused by the server (spec_invalid):`);
    expect(r.stderr).toMatch(
      new RegExp(
        `${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\d+:\\d+ spec\\.schedules\\[0\\]: Temporal refused schedule "nightly"`,
      ),
    );
    expect(r.stderr).toContain(`nothing applied: rolled back function/${existing}, function/${created}`);
    // The existing function has its old content back; the new one is gone; the refused one never existed.
    const after = await getFunction(existing);
    expect(after.status).toBe(200);
    expect((after.body.spec as { metadata: { description: string } }).metadata.description).toBe('first');
    expect((await getFunction(created)).status).toBe(404);
    expect((await getFunction(refused)).status).toBe(404);
  });
});
