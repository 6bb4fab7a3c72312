/** Shared helpers for tests against the real Temporal dev server started by global-setup.ts. */
import { mkdtempSync } from 'node:fs';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { inject } from 'vitest';
import { applySpec } from '../client/functions.ts';
import { type FunctionSpec, type FunctionSpecInput, functionSpecSchema } from '../core/schema.ts';
import { createLogger, installTemporalRuntime } from '../platform/logger.ts';
import type { PontoonMetrics } from '../platform/metrics.ts';
import { parseConfig, type WorkerConfig } from '../worker/config.ts';
import { createPontoonWorker, type PontoonWorker } from '../worker/worker.ts';

export const REPO_ROOT = path.resolve(import.meta.dirname, '..');
export const FIXTURE_FUNCTIONS = path.join(REPO_ROOT, 'test', 'fixtures', 'functions');

let counter = 0;
/** A function name unique to this test run (controllers are per name on the shared server). */
export function uniqueName(prefix: string): string {
  counter++;
  return `${prefix}-${process.pid.toString(36)}-${Date.now().toString(36).slice(-4)}${counter}`.slice(0, 40);
}

export function testConfig(overrides: Record<string, string> = {}): WorkerConfig {
  const dataDir = mkdtempSync(path.join(inject('testDir'), 'data-'));
  return parseConfig({
    TEMPORAL_ADDRESS: inject('temporalAddress'),
    PONTOON_TASK_QUEUE: `test-${process.pid}-${++counter}`,
    PONTOON_DATA_DIR: dataDir,
    PONTOON_LOCAL_ROOT: REPO_ROOT,
    PONTOON_KILL_GRACE: '2s',
    PONTOON_LOG_LEVEL: process.env.PONTOON_TEST_LOG_LEVEL ?? 'error',
    ...overrides,
  });
}

export interface RunningWorker extends PontoonWorker {
  config: WorkerConfig;
  running: Promise<void>;
  stop(): Promise<void>;
}

/** A real Pontoon worker on its own task queue, using the bundle built once by the global setup. */
export async function startWorker(
  config: WorkerConfig = testConfig(),
  opts: { metrics?: PontoonMetrics; checkSearchAttributes?: boolean } = {},
): Promise<RunningWorker> {
  const logger = createLogger(config.logLevel);
  installTemporalRuntime(logger);
  const w = await createPontoonWorker({
    config,
    logger,
    workflowBundle: { codePath: inject('workflowBundlePath') },
    ...(opts.metrics ? { metrics: opts.metrics } : {}),
    ...(opts.checkSearchAttributes === false ? { checkSearchAttributes: false } : {}),
  });
  const running = w.worker.run();
  return {
    ...w,
    config,
    running,
    async stop() {
      if (w.worker.getState() === 'RUNNING') w.worker.shutdown();
      await running;
      await w.client.connection.close();
      await w.connection.close();
    },
  };
}

/** A spec for a test function whose local command is a node script from test/fixtures/functions. */
export function fixtureSpec(
  name: string,
  script: string,
  spec: Partial<FunctionSpecInput['spec']> = {},
): FunctionSpec {
  return functionSpecSchema().parse({
    apiVersion: 'pontoon.dev/v1',
    kind: 'Function',
    metadata: { name },
    spec: {
      image: 'pontoon/test:0',
      ...spec,
      local: { command: ['node', path.join(FIXTURE_FUNCTIONS, script)], ...(spec.local ?? {}) },
    },
  });
}

export async function apply(client: Client, spec: FunctionSpec, taskQueue: string) {
  return applySpec(client, spec, taskQueue);
}

export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * How long a test waits for Temporal visibility (list and count of executions, search attributes,
 * schedule lists, and everything built on them: GET /v1/executions, GET /v1/functions, the CLI's
 * lists, DELETE ?cancelRunning, the controllers' /metrics) to show what the test created. Visibility
 * is eventually consistent: on a loaded machine an execution that started, or ended, can take
 * seconds to be listed, or listed with its new status. Generous, and under the 60 s test timeout.
 */
export const VISIBILITY_WAIT_MS = 45_000;

/** What {@link waitForListed} waits for: ids that must all be listed, and/or an exact count. */
export interface Listed<T> {
  /** Ids the test created; all must be in the listing (other entries may be too, unless `count`). */
  ids?: readonly string[];
  /** The exact number of entries the test created (the listing is filtered to the test's own). */
  count?: number;
  /** An entry's id; default its `executionId`, else `workflowId`, else `name`. */
  idOf?: (entry: T) => string;
}

const defaultIdOf = (e: unknown): string => {
  const o = e as { executionId?: string; workflowId?: string; name?: string };
  return o.executionId ?? o.workflowId ?? o.name ?? String(e);
};

/**
 * Polls a visibility-backed listing until it holds what the test created (every id of `want.ids`,
 * and exactly `want.count` entries when given), and returns that listing; never assumes a start or
 * an end is listed at once. Times out after `timeoutMs` with the missing ids and the last listing.
 */
export async function waitForListed<T>(
  what: string,
  list: () => Promise<readonly T[]>,
  want: Listed<T>,
  timeoutMs = VISIBILITY_WAIT_MS,
): Promise<T[]> {
  const idOf = want.idOf ?? defaultIdOf;
  let last: readonly T[] = [];
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    last = await list();
    const listed = new Set(last.map(idOf));
    const missing = (want.ids ?? []).filter((id) => !listed.has(id));
    if (!missing.length && (want.count === undefined || last.length === want.count)) return [...last];
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}: ` +
          `${missing.length ? `missing ${missing.join(', ')}; ` : ''}` +
          `${want.count !== undefined ? `want ${want.count}, ` : ''}listed ${last.length}: ${[...listed].join(', ')}`,
      );
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}
