/**
 * A worker SIGKILLed mid-attempt: the attempt is retried after a new worker starts, the execution
 * completes, and two processes of one execution never run at the same time (the new worker kills
 * the lost worker's orphan before it starts the attempt again). An orphan that finished before the
 * retry is not run again: the retried activity reports the outcome it recorded. An attempt whose
 * outcome went back but was never recorded by Temporal is not run again either: the retry reports
 * the outcome recorded in its folder (a timeout stays a timeout). The HA test
 * (test/kubernetes-ha.test.ts) does the same under load with SIGKILLs at that boundary.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import pino from 'pino';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { createLocalRuntime } from '../activities/local/runtime.ts';
import { startExecution, waitForResult } from '../client/functions.ts';
import type { AttemptRequest } from '../core/execution.ts';
import { connectClient } from '../platform/temporal.ts';
import { apply, fixtureSpec, pidAlive, REPO_ROOT, testConfig, uniqueName, waitFor } from './helpers.ts';

const config = testConfig();
let client: Client;
const workers: ChildProcess[] = [];

function startWorkerProcess(): ChildProcess {
  const child = spawn(process.execPath, [path.join(REPO_ROOT, 'bin', 'pontoon.mjs'), 'worker'], {
    cwd: REPO_ROOT,
    env: {
      ...process.env,
      TEMPORAL_ADDRESS: inject('temporalAddress'),
      PONTOON_TASK_QUEUE: config.taskQueue,
      PONTOON_DATA_DIR: config.dataDir,
      PONTOON_LOCAL_ROOT: REPO_ROOT,
      PONTOON_WORKFLOW_BUNDLE: inject('workflowBundlePath'),
      PONTOON_LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  workers.push(child);
  return child;
}

beforeAll(async () => {
  client = await connectClient(config.temporal);
});
afterAll(async () => {
  for (const w of workers) if (w.exitCode === null) w.kill('SIGKILL');
  await client?.connection.close();
});

interface Mark {
  kind: 'start' | 'end';
  attempt: number;
  at: number;
  pid: number;
}

async function marks(file: string): Promise<Mark[]> {
  try {
    const text = await readFile(file, 'utf8');
    return text
      .trim()
      .split('\n')
      .filter(Boolean)
      .map((line) => {
        const [kind, attempt, at, pid] = line.split(' ');
        return { kind: kind as Mark['kind'], attempt: Number(attempt), at: Number(at), pid: Number(pid) };
      });
  } catch {
    return [];
  }
}

it('retries the attempt on a new worker after SIGKILL, never running two at once', async () => {
  const marker = path.join(config.dataDir, 'crash-marks.txt');
  const spec = fixtureSpec(uniqueName('crash'), 'behave.mjs', {
    parameters: [
      { name: 'mode', default: 'marker' },
      { name: 'marker', default: marker },
      // Longer than the retry takes to come on a loaded machine (the new worker's start, then 10 s
      // without a heartbeat): the orphan must still be running when it is reaped.
      { name: 'seconds', type: 'integer', default: 40 },
    ],
    execution: { timeout: '2m' },
  });
  const first = startWorkerProcess();
  await apply(client, spec, config.taskQueue);
  const ex = await startExecution(
    client,
    { function: spec.metadata.name },
    { trigger: 'cli', taskQueue: config.taskQueue },
  );

  const [started] = await waitFor('the first process to start', async () => {
    const m = await marks(marker);
    return m.length ? m : undefined;
  });
  const orphan = started!.pid;
  first.kill('SIGKILL');
  await new Promise((r) => first.once('exit', r));
  // The function outlives its worker (its own process group): the lost attempt is still running.
  expect(pidAlive(orphan)).toBe(true);

  startWorkerProcess();
  const result = await waitForResult(client, ex.executionId);
  expect(result.status).toBe('succeeded');
  // A lost worker is an infrastructure retry of the same attempt, not a new function attempt.
  expect(result.attempts).toHaveLength(1);
  expect(result.attempts[0]).toMatchObject({ attempt: 1, exitCode: 0 });

  const all = await marks(marker);
  const starts = all.filter((m) => m.kind === 'start');
  expect(starts.map((m) => m.pid)).toEqual([orphan, expect.any(Number)]);
  const retried = starts[1]!;
  expect(retried.pid).not.toBe(orphan);
  // The orphan never finished: it was killed before the retried process started.
  expect(all.find((m) => m.kind === 'end' && m.pid === orphan)).toBeUndefined();
  expect(pidAlive(orphan)).toBe(false);
  // Intervals of different processes never overlap.
  const end = all.find((m) => m.kind === 'end' && m.pid === retried.pid)!;
  expect(end.at).toBeGreaterThan(retried.at);
}, 150_000);

it('adopts the outcome of an attempt that finished after its worker died, never running it twice', async () => {
  // Only the workers of this case: the previous case's second worker would take the retry too.
  for (const w of workers) if (w.exitCode === null && w.signalCode === null) w.kill('SIGKILL');
  const marker = path.join(config.dataDir, 'finished-marks.txt');
  const spec = fixtureSpec(uniqueName('crash-done'), 'behave.mjs', {
    parameters: [
      { name: 'mode', default: 'marker' },
      { name: 'marker', default: marker },
      { name: 'seconds', type: 'integer', default: 2 },
    ],
    execution: { timeout: '2m' },
  });
  const first = startWorkerProcess();
  await apply(client, spec, config.taskQueue);
  const ex = await startExecution(
    client,
    { function: spec.metadata.name },
    { trigger: 'cli', taskQueue: config.taskQueue },
  );
  const [started] = await waitFor('the process to start', async () => {
    const m = await marks(marker);
    return m.length ? m : undefined;
  });
  first.kill('SIGKILL');
  await new Promise((r) => first.once('exit', r));
  // The function outlives its worker and finishes before Temporal notices the worker is gone (10 s
  // without a heartbeat): only the recorded exit status tells the retried activity how it ended.
  await waitFor('the orphan to finish', async () =>
    (await marks(marker)).some((m) => m.kind === 'end') ? true : undefined,
  );

  startWorkerProcess();
  const result = await waitForResult(client, ex.executionId);
  expect(result.status).toBe('succeeded');
  expect(result.attempts).toHaveLength(1);
  expect(result.attempts[0]).toMatchObject({ attempt: 1, exitCode: 0 });
  expect(result.output).toEqual({ ok: true, attempt: 1 });
  // One run of the function: the retried activity reported the finished run instead of starting another.
  expect((await marks(marker)).map((m) => [m.kind, m.pid])).toEqual([
    ['start', started!.pid],
    ['end', started!.pid],
  ]);
}, 90_000);

it('a retried attempt adopts the exact outcome its predecessor recorded (a timeout stays a timeout), only for its own run', async () => {
  // The local runtime directly, as the runAttempt activity calls it: the first try's outcome went
  // back, then its worker was lost before Temporal recorded it; the retry (activity attempt 2) finds
  // the record in the attempt folder and never starts the function again.
  const logger = pino({ level: 'silent' });
  const runtime = createLocalRuntime(
    { dataDir: config.dataDir, localRoot: REPO_ROOT, killGraceMs: 500 },
    logger,
  );
  const marker = path.join(config.dataDir, 'record-marks.txt');
  const spec = fixtureSpec(uniqueName('crash-record'), 'behave.mjs', {
    parameters: [
      { name: 'mode', default: 'marker' },
      { name: 'marker', default: marker },
      { name: 'seconds', type: 'integer', default: 30 },
    ],
  });
  const req: AttemptRequest = {
    executionId: `exec:${spec.metadata.name}:1`,
    function: spec.metadata.name,
    attempt: 1,
    spec,
    parameters: { mode: 'marker', marker, seconds: 30 },
    input: null,
    scheduledTime: new Date().toISOString(),
    trigger: 'sdk',
    timeoutMs: 1500,
  };
  const control = (activityAttempt: number, runId: string) => ({
    heartbeat() {},
    signal: new AbortController().signal,
    activityAttempt,
    runId,
  });
  const first = await runtime.runAttempt(req, control(1, 'run-a'));
  expect(first.failure?.type).toBe('AttemptTimedOut');
  const retried = await runtime.runAttempt(req, control(2, 'run-a'));
  expect(retried).toEqual(first);
  expect((await marks(marker)).filter((m) => m.kind === 'start')).toHaveLength(1);
  // The record of another run of the same execution id is not this run's: the attempt runs.
  const other = await runtime.runAttempt(req, control(2, 'run-b'));
  expect(other.failure?.type).toBe('AttemptTimedOut');
  expect(other.startedAt).not.toBe(first.startedAt);
  expect((await marks(marker)).filter((m) => m.kind === 'start')).toHaveLength(2);
  await runtime.close?.();
}, 60_000);
