/**
 * The pure parts of attempt logs (logs/): the cap with its marker, the secret store's expiry labels
 * and sweep selectors, the dir store on a real folder, and the fields the worker adds to Temporal's
 * log lines, and one `component` per line of nested component loggers. The stores against the apiserver are in kubernetes-logs.test.ts.
 */
import { mkdirSync, mkdtempSync, symlinkSync, utimesSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { text } from 'node:stream/consumers';
import { runInNewContext } from 'node:vm';
import { ActivityFailure, ApplicationFailure, RetryState } from '@temporalio/common';
import pino from 'pino';
import { describe, expect, inject, it } from 'vitest';
import { attemptDir, attemptLogPath, createDirLogStore, RECORD_FILE, readRecordFile } from '../logs/dir.ts';
import { expiryLabels, sweepSelectors } from '../logs/secret.ts';
import { capLog, TRUNCATION_MARKER } from '../logs/store.ts';
import { componentLogger, executionFields } from '../platform/logger.ts';

describe('capLog', () => {
  it('leaves a log within the limit alone', () => {
    expect(capLog('a\nb\n', 10)).toEqual({ text: 'a\nb\n', truncated: false });
  });

  it('keeps whole lines from the end behind one marker line, within the limit', () => {
    const log = Array.from({ length: 100 }, (_, i) => `line ${i}`).join('\n') + '\n';
    const { text: capped, truncated } = capLog(log, 300);
    expect(truncated).toBe(true);
    expect(Buffer.byteLength(capped)).toBeLessThanOrEqual(300);
    const [marker, ...rest] = capped.split('\n');
    const kept = Buffer.byteLength(rest.join('\n'));
    expect(marker).toBe(
      `${TRUNCATION_MARKER} the first ${Buffer.byteLength(log) - kept} of ${Buffer.byteLength(log)} bytes were dropped; the last ${kept} bytes are kept (limit 300 bytes, PONTOON_LOG_MAX_BYTES)`,
    );
    expect(rest[0]).toMatch(/^line \d+$/);
    expect(log.endsWith(rest.join('\n'))).toBe(true);
  });

  it('marks an already partial log even when it fits', () => {
    const { text: capped, truncated } = capLog('end of it\n', 1000, { partial: true });
    expect(truncated).toBe(true);
    expect(capped).toBe(
      `${TRUNCATION_MARKER} earlier output was dropped; the last 10 bytes are kept (limit 1000 bytes, PONTOON_LOG_MAX_BYTES)\nend of it\n`,
    );
  });

  it('never splits a multi-byte character', () => {
    const { text: capped } = capLog('é'.repeat(500), 300);
    expect(capped.split('\n')[1]).toMatch(/^é+$/);
  });
});

describe('secret store retention labels', () => {
  it('rounds the expiry up to the next UTC hour and day', () => {
    expect(expiryLabels(Date.parse('2026-11-24T19:20:00Z'))).toEqual({ day: '20261125', hour: '2026112420' });
    expect(expiryLabels(Date.parse('2026-11-24T19:00:00Z'))).toEqual({ day: '20261125', hour: '2026112419' });
  });

  it('sweeps past days (60 back) and the hours of today that have begun', () => {
    const [days, hours] = sweepSelectors(Date.parse('2026-11-24T02:30:00Z'));
    expect(days).toMatch(/^app\.kubernetes\.io\/managed-by=pontoon,pontoon\.dev\/component=attempt-log,/);
    expect(days).toContain('pontoon.dev/log-expires-day in (20261124,20261123,');
    expect(days!.match(/\d{8}/g)).toHaveLength(60);
    expect(hours).toMatch(/pontoon\.dev\/log-expires-hour in \(2026112400,2026112401,2026112402\)$/);
    // A log expiring at 02:10 (hour label 03) is not swept at 02:30; one expiring at 01:59 is.
    expect(hours).not.toContain(expiryLabels(Date.parse('2026-11-24T02:10:00Z')).hour);
    expect(hours).toContain(expiryLabels(Date.parse('2026-11-24T01:59:00Z')).hour);
  });
});

describe('dir store', () => {
  const limits = { maxBytes: 64, retentionMs: 60_000 };
  const key = { executionId: 'exec:f:1', function: 'f', attempt: 2 };

  it('stores capped, keeps the first copy, and reads back', async () => {
    const dir = mkdtempSync(path.join(inject('testDir'), 'logs-'));
    const store = createDirLogStore(dir, limits);
    await store.put(key, 'x\n'.repeat(100));
    await store.put(key, 'second\n');
    const got = await store.get(key);
    expect(got?.truncated).toBe(true);
    const body = await text(got!.body as NodeJS.ReadableStream);
    expect(body.startsWith(TRUNCATION_MARKER)).toBe(true);
    expect(await readFile(attemptLogPath(dir, key.executionId, 2), 'utf8')).toBe(body);
    expect(await store.get({ ...key, attempt: 3 })).toBeUndefined();
  });

  it('keeps an attempt record beside the log, and believes only a regular file of the given owner', async () => {
    const dir = mkdtempSync(path.join(inject('testDir'), 'logs-'));
    const store = createDirLogStore(dir, limits);
    const outcome = { exitCode: 0, output: { a: 1 }, startedAt: 't0', endedAt: 't1', logTail: 'x' };
    expect(await store.getRecord(key)).toBeUndefined();
    await store.put(key, 'log\n', { record: { outcome, runId: 'r1' } });
    expect(await store.getRecord(key)).toEqual({ outcome, runId: 'r1' });
    const folder = attemptDir(dir, key.executionId, key.attempt);
    expect(await readRecordFile(folder, { owner: process.getuid!() })).toEqual({ outcome, runId: 'r1' });
    expect(await readRecordFile(folder, { owner: process.getuid!() + 1 })).toBeUndefined();
    // A link planted where the record goes is not followed.
    const other = attemptDir(dir, key.executionId, 9);
    mkdirSync(other, { recursive: true });
    symlinkSync(path.join(folder, RECORD_FILE), path.join(other, RECORD_FILE));
    expect(await readRecordFile(other)).toBeUndefined();
  });

  it('sweeps attempt folders past retention, never a running one', async () => {
    const dir = mkdtempSync(path.join(inject('testDir'), 'logs-'));
    const store = createDirLogStore(dir, limits);
    const old = { ...key, attempt: 1 };
    const running = { ...key, attempt: 3 };
    for (const k of [old, key, running]) await store.put(k, 'log\n');
    const { writeFile } = await import('node:fs/promises');
    await writeFile(path.join(attemptDir(dir, running.executionId, running.attempt), 'pid'), '123');
    const past = new Date(Date.now() - 120_000);
    for (const k of [old, running]) utimesSync(attemptLogPath(dir, k.executionId, k.attempt), past, past);
    expect(await store.sweep()).toBe(1);
    expect(await store.get(old)).toBeUndefined();
    expect(await store.get(key)).toBeDefined();
    expect(await store.get(running)).toBeDefined();
  });
});

describe('Temporal log lines', () => {
  it('name the execution, its function and the attempt of a runAttempt activity', () => {
    expect(
      executionFields({
        sdkComponent: 'activity',
        workflowId: 'exec:hello:k1',
        activityId: 'attempt-3',
        activityType: 'runAttempt',
        attempt: 2,
      }),
    ).toEqual({
      component: 'activity',
      workflowId: 'exec:hello:k1',
      activityId: 'attempt-3',
      activityType: 'runAttempt',
      executionId: 'exec:hello:k1',
      function: 'hello',
      attempt: 3,
      activityAttempt: 2,
    });
    expect(
      executionFields({ sdkComponent: 'workflow', workflowId: 'exec:hello:k1', attempt: 2 }),
    ).toMatchObject({
      executionId: 'exec:hello:k1',
      function: 'hello',
      attempt: 2,
    });
    expect(executionFields({ sdkComponent: 'workflow', workflowId: 'fn:hello' })).toEqual({
      component: 'workflow',
      workflowId: 'fn:hello',
    });
  });
});

describe('Temporal log lines with an error', () => {
  it('keep its type, message, stack and causes, also for an Error of another realm (the workflow sandbox)', () => {
    // Its details hold an attempt's outcome (log tail included): never written to the log.
    const cause = new ApplicationFailure('database unreachable', 'FunctionError', true, [
      { logTail: 'secret in the log tail' },
    ]);
    const failure = new ActivityFailure(
      'activity failed',
      'runAttempt',
      '5',
      RetryState.MAXIMUM_ATTEMPTS_REACHED,
      undefined,
      cause,
    );
    const fields = executionFields({ sdkComponent: 'workflow', workflowId: 'exec:hello:k1', error: failure });
    const line = JSON.parse(JSON.stringify(fields)) as {
      error: Record<string, unknown> & { cause: Record<string, unknown> };
    };
    expect(line.error).toMatchObject({ type: 'ActivityFailure', message: 'activity failed' });
    expect(String(line.error.stack)).toContain('ActivityFailure: activity failed');
    expect(line.error.cause).toMatchObject({ type: 'ApplicationFailure', message: 'database unreachable' });
    const foreign = runInNewContext('new TypeError("from the sandbox")') as unknown;
    expect(foreign instanceof Error).toBe(false);
    expect(JSON.parse(JSON.stringify(executionFields({ error: foreign }))).error).toMatchObject({
      type: 'TypeError',
      message: 'from the sandbox',
    });
    // Written as the SDK passes it, neither message reaches the line: what the conversion is for.
    const raw = JSON.stringify({ error: failure });
    expect(raw).toContain('"activityType":"runAttempt"');
    expect(raw).not.toContain('activity failed');
    expect(raw).not.toContain('database unreachable');
    expect(JSON.stringify(fields)).not.toContain('secret in the log tail');
    expect(Object.keys(line.error).sort()).toEqual(['cause', 'message', 'stack', 'type']);
    // A cause chain that loops ends after a few causes.
    const a = new Error('a');
    const b = new Error('b', { cause: a });
    (a as { cause?: unknown }).cause = b;
    expect(JSON.stringify(executionFields({ error: a }))).toContain('"cause":"…"');
    expect(executionFields({ note: 'text', n: 1 })).toMatchObject({ note: 'text', n: 1 });
  });
});

describe('component loggers', () => {
  /** The raw JSON lines a pino logger wrote. */
  function capture() {
    const lines: string[] = [];
    const logger = pino({ name: 'pontoon' }, { write: (l: string) => lines.push(l.trim()) });
    return { logger, lines };
  }
  const componentKeys = (line: string) => line.match(/"component":/g)?.length ?? 0;

  it('write one component field a line, nested parts named outer/part with the outer bindings', () => {
    const { logger, lines } = capture();
    const runtime = componentLogger(logger, 'kubernetes-runtime', { namespace: 'fn' });
    const watcher = componentLogger(runtime, 'pod-watcher');
    const deeper = componentLogger(watcher, 'relist', { reason: 'expired' });
    runtime.info('a');
    watcher.info('b');
    deeper.info('c');
    watcher.child({ pod: 'p-1' }).info('d');
    expect(lines.map(componentKeys)).toEqual([1, 1, 1, 1]);
    expect(lines.map((l) => JSON.parse(l))).toMatchObject([
      { component: 'kubernetes-runtime', namespace: 'fn', msg: 'a' },
      { component: 'kubernetes-runtime/pod-watcher', namespace: 'fn', msg: 'b' },
      { component: 'kubernetes-runtime/pod-watcher/relist', namespace: 'fn', reason: 'expired', msg: 'c' },
      { component: 'kubernetes-runtime/pod-watcher', namespace: 'fn', pod: 'p-1', msg: 'd' },
    ]);
  });

  it('refuses a plain child of a component logger, whose lines would carry the name twice', () => {
    const { logger } = capture();
    const plain = componentLogger(logger, 'local-runtime').child({ executionId: 'e' });
    expect(() => componentLogger(plain, 'local-warm')).toThrow(/already has a component \("local-runtime"\)/);
    expect(() => componentLogger(logger.child({ component: 'x' }), 'y')).toThrow(/already has a component/);
  });

  it('pino alone writes the name twice (why componentLogger exists)', () => {
    const { logger, lines } = capture();
    logger.child({ component: 'kubernetes-runtime' }).child({ component: 'pod-watcher' }).info('x');
    expect(componentKeys(lines[0]!)).toBe(2);
  });
});
