/**
 * Issue 16 §3 on the local runtime: a warm replica that stops answering is replaced, and every
 * replica Pontoon starts ends when its owner stops it (SIGTERM, then SIGKILL after the kill grace,
 * whatever the process does with signals; its process group with it).
 *
 * The first test is the reported example (test/fixtures/functions/warm-hang.yaml, a copy of the
 * failing case) through a real worker on the real Temporal dev server. The others drive the local
 * runtime directly with short health-check settings, so they need no server.
 * (On-demand attempts have the same guarantee, tested in execute-function.test.ts: "kills an
 * overrunning attempt with its whole process group".)
 */
import { mkdtempSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createLocalRuntime, type LocalRuntime } from '../activities/local/runtime.ts';
import { startExecution, waitForResult } from '../client/functions.ts';
import type { AttemptOutcome } from '../core/execution.ts';
import { loadSpecs } from '../core/load.ts';
import type { FunctionSpec } from '../core/schema.ts';
import { createLogger } from '../platform/logger.ts';
import {
  apply,
  FIXTURE_FUNCTIONS,
  fixtureSpec,
  pidAlive,
  REPO_ROOT,
  type RunningWorker,
  startWorker,
  uniqueName,
  waitFor,
} from './helpers.ts';

describe('a warm replica that hangs on a request (the reported case, through Temporal)', () => {
  let w: RunningWorker;
  beforeAll(async () => {
    w = await startWorker(); // PONTOON_KILL_GRACE 2s (testConfig)
  });
  afterAll(async () => {
    await w?.stop();
  });

  it('is killed and replaced after the timed-out attempt; the next invocation succeeds on a new replica', async () => {
    const file = path.join(FIXTURE_FUNCTIONS, 'warm-hang.yaml');
    const spec = (await loadSpecs([file])).specs[0]!.spec;
    spec.metadata.name = uniqueName('warm-hang');
    await apply(w.client, spec, w.config.taskQueue);
    const run = async (mode: string) => {
      const s = await startExecution(
        w.client,
        { function: spec.metadata.name, parameters: { mode } },
        { trigger: 'cli', taskQueue: w.config.taskQueue },
      );
      return waitForResult(w.client, s.executionId);
    };

    const hung = await run('hang');
    expect(hung.status).toBe('failed');
    expect(hung.attempts).toHaveLength(1);
    expect(hung.attempts[0]!.failure?.type).toBe('AttemptTimedOut');
    const hungPid = Number(/warm replica pid (\d+)/.exec(hung.attempts[0]!.logTail)?.[1]);
    expect(hungPid).toBeGreaterThan(1);

    const ok = await run('ok');
    expect(ok.status).toBe('succeeded');
    const servedBy = (ok.output as { pid: number }).pid;
    expect(servedBy).toBeGreaterThan(1);
    expect(servedBy).not.toBe(hungPid);
    // The hung replica busy-loops, so its SIGTERM handler never runs: SIGKILL after the 2 s grace.
    await waitFor('the hung replica to be gone', () => !pidAlive(hungPid) || undefined, 20_000);
    expect(pidAlive(servedBy)).toBe(true);
    expect(hung.attempts[0]!.logTail).toContain('did not answer within the timeout: replaced');
  });
});

describe('local warm replicas: health checks and stopping', () => {
  const GRACE_MS = 1000;
  let runtime: LocalRuntime;
  let n = 0;
  beforeAll(() => {
    runtime = createLocalRuntime(
      {
        dataDir: mkdtempSync(path.join(inject('testDir'), 'warm-replacement-')),
        localRoot: REPO_ROOT,
        killGraceMs: GRACE_MS,
        warmHealthCheck: { periodMs: 300, timeoutMs: 1000, failureThreshold: 2 },
      },
      createLogger(process.env.PONTOON_TEST_LOG_LEVEL ?? 'error'),
    );
  });
  afterAll(async () => {
    await runtime?.close?.();
  });

  const stubborn = (): FunctionSpec =>
    fixtureSpec(uniqueName('warm-stubborn'), 'warm-stubborn.mjs', {
      parameters: [{ name: 'mode', default: 'ok' }],
      execution: { mode: 'warm', timeout: '20s' },
      warm: { minReplicas: 1, maxReplicas: 1, concurrencyPerReplica: 1 },
    });
  const invoke = (spec: FunctionSpec, mode: string): Promise<AttemptOutcome> =>
    runtime.runAttempt(
      {
        executionId: `exec:${spec.metadata.name}:${++n}`,
        function: spec.metadata.name,
        attempt: 1,
        spec,
        parameters: { mode },
        input: null,
        scheduledTime: new Date().toISOString(),
        trigger: 'api',
        timeoutMs: 20_000,
      },
      { heartbeat() {}, signal: new AbortController().signal },
    );
  const gone = (pid: number, what: string) =>
    waitFor(`${what} (pid ${pid}) to be gone`, () => !pidAlive(pid) || undefined, 20_000);

  it('an idle replica that fails its health checks is killed with its group and replaced at once', async () => {
    const spec = stubborn();
    const fn = spec.metadata.name;
    const first = await invoke(spec, 'stall');
    expect(first.failure).toBeUndefined();
    const { pid, child } = first.output as { pid: number; child: number };
    expect(pidAlive(pid)).toBe(true);
    expect(pidAlive(child)).toBe(true);
    // Two failed checks (≈0.6 s), SIGTERM (ignored), SIGKILL after 1 s; a new replica in its place
    // before any call asks for one (the pool is at minReplicas 1).
    const replacement = await waitFor('a replacement replica', () => {
      const r = runtime.warmReplicas(fn);
      return r.length === 1 && r[0]!.pid !== pid ? r[0]!.pid : undefined;
    });
    await gone(pid, 'the stalled replica');
    await gone(child, "the stalled replica's grandchild");
    const next = await invoke(spec, 'ok');
    expect(next.failure).toBeUndefined();
    expect((next.output as { pid: number }).pid).toBe(replacement);
  });

  it('a replica command that cannot be started fails the attempt (LaunchFailed) and nothing is left in the pool', async () => {
    const spec = stubborn();
    spec.spec.local = { ...spec.spec.local!, command: ['/nonexistent/pontoon-warm-server'] };
    const out = await invoke(spec, 'ok');
    expect(out.failure?.type).toBe('LaunchFailed');
    expect(out.failure?.message).toContain('exited during start-up');
    expect(runtime.warmReplicas(spec.metadata.name)).toEqual([]);
  });

  it('close() stops replicas that ignore SIGTERM, and what they started, by SIGKILL after the grace', async () => {
    const spec = stubborn();
    const out = await invoke(spec, 'ok');
    expect(out.failure).toBeUndefined();
    const { pid, child } = out.output as { pid: number; child: number };
    const t0 = Date.now();
    await runtime.close?.();
    const took = Date.now() - t0;
    // It ignores SIGTERM, so it ends only by the SIGKILL sent after the grace; close() waited for it.
    expect(pidAlive(pid)).toBe(false);
    expect(took).toBeGreaterThanOrEqual(GRACE_MS - 50);
    expect(took).toBeLessThan(GRACE_MS + 5000);
    await gone(child, 'its grandchild');
  });
});
