/**
 * The end of an execution, wired: executeFunction records its end in the metrics and sends the
 * spec's webhooks (signed), through a real worker on the real dev server and a real HTTP receiver.
 */
import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { startExecution, waitForResult } from '../client/functions.ts';
import { createLogger, installTemporalRuntime } from '../platform/logger.ts';
import { createMetrics, renderMetrics } from '../platform/metrics.ts';
import { createPontoonWorker, type PontoonWorker } from '../worker/worker.ts';
import { apply, fixtureSpec, testConfig, uniqueName, waitFor } from './helpers.ts';
import { parseMetrics, series, startReceiver } from './ops-helpers.ts';

const SECRET = 'e2e-hook-secret';
const config = testConfig();
const metrics = createMetrics();
let w: PontoonWorker;
let running: Promise<void>;
let receiver: Awaited<ReturnType<typeof startReceiver>>;

beforeAll(async () => {
  process.env.PONTOON_NOTIFY_E2E = SECRET;
  // The receiver listens on 127.0.0.1, which webhooks may reach only when the operator opens it.
  process.env.PONTOON_NOTIFY_ALLOW_CIDRS = '127.0.0.1/32';
  receiver = await startReceiver();
  const logger = createLogger(config.logLevel);
  installTemporalRuntime(logger);
  w = await createPontoonWorker({
    config,
    logger,
    workflowBundle: { codePath: inject('workflowBundlePath') },
    metrics,
  });
  running = w.worker.run();
});
afterAll(async () => {
  w?.worker.shutdown();
  await running;
  await w?.client.connection.close();
  await receiver?.close();
});

it('counts finished executions by function, trigger and status, and sends signed webhooks', async () => {
  const fn = uniqueName('hooks');
  await apply(
    w.client,
    fixtureSpec(fn, 'behave.mjs', {
      parameters: [{ name: 'mode', default: 'ok' }],
      execution: { retry: { maxAttempts: 1 } },
      notify: [{ url: `${receiver.url}/hook`, on: ['failure', 'success'], secretEnv: 'PONTOON_NOTIFY_E2E' }],
    } as never),
    config.taskQueue,
  );
  const run = async (mode: string) => {
    const s = await startExecution(
      w.client,
      { function: fn, parameters: { mode } },
      { trigger: 'cli', taskQueue: config.taskQueue },
    );
    return waitForResult(w.client, s.executionId);
  };
  const ok = await run('ok');
  const bad = await run('fail');
  expect([ok.status, bad.status]).toEqual(['succeeded', 'failed']);

  const hooks = await waitFor('two deliveries', () =>
    receiver.on('/hook').length >= 2 ? receiver.on('/hook') : undefined,
  );
  for (const h of hooks) {
    const expected = `sha256=${createHmac('sha256', SECRET).update(h.body).digest('hex')}`;
    expect(h.headers['x-pontoon-signature']).toBe(expected);
  }
  const bodies = hooks.map((h) => JSON.parse(h.body));
  expect(bodies.map((b) => [b.event, b.data.executionId, b.data.status])).toEqual([
    ['success', ok.executionId, 'succeeded'],
    ['failure', bad.executionId, 'failed'],
  ]);

  const m = parseMetrics(await renderMetrics(metrics));
  expect(
    m.get(series('pontoon_executions_finished_total', { function: fn, trigger: 'cli', status: 'succeeded' })),
  ).toBe(1);
  expect(
    m.get(series('pontoon_executions_finished_total', { function: fn, trigger: 'cli', status: 'failed' })),
  ).toBe(1);
  expect(
    m.get(
      series('pontoon_attempts_finished_total', { function: fn, outcome: 'succeeded', runtime: 'local' }),
    ),
  ).toBe(1);
});
