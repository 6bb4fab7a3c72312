/**
 * `npm run record-histories`: runs a few executions on a throwaway dev server and saves their event
 * histories to test/histories/. The replay test replays them against the current workflow code, so
 * a change that breaks determinism for running workflows fails CI. Re-record only on purpose (after
 * versioning a workflow change with patched()), and keep the histories of earlier versions:
 * `npm run record-histories -- --suffix <patch>` writes `<name>-<patch>.json` beside them.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { historyToJSON } from '@temporalio/common/lib/proto-utils.js';
import { applySpec, startExecution, waitForResult } from '../client/functions.ts';
import { controllerWorkflowId } from '../core/names.ts';
import { functionSpecSchema } from '../core/schema.ts';
import { createLogger, installTemporalRuntime } from '../platform/logger.ts';
import { parseConfig } from '../worker/config.ts';
import { createPontoonWorker } from '../worker/worker.ts';
import { ensureTemporalCli, freePort, startDevServer } from './temporal.ts';

const root = path.resolve(import.meta.dirname, '..');
const out = path.join(root, 'test', 'histories');
const at = process.argv.indexOf('--suffix');
const suffix = at >= 0 ? process.argv[at + 1] : undefined;
if (at >= 0 && !suffix?.match(/^[a-z0-9-]+$/))
  throw new Error('--suffix takes a name such as legible-executions');
mkdirSync(out, { recursive: true });
const tmp = path.join(os.tmpdir(), `pontoon-record-${process.pid}`);
const server = await startDevServer({
  cli: await ensureTemporalCli(console.log),
  port: await freePort(),
  logFile: path.join(tmp, 'server.log'),
});
const config = parseConfig({
  TEMPORAL_ADDRESS: server.address,
  PONTOON_DATA_DIR: tmp,
  PONTOON_LOCAL_ROOT: root,
  PONTOON_KILL_GRACE: '1s',
});
const logger = createLogger('error');
installTemporalRuntime(logger);
const w = await createPontoonWorker({ config, logger });
const running = w.worker.run();

const spec = (name: string, extra: Record<string, unknown>) =>
  functionSpecSchema().parse({
    apiVersion: 'pontoon.dev/v1',
    kind: 'Function',
    metadata: { name },
    spec: { image: 'x', local: { command: ['node', 'test/fixtures/functions/behave.mjs'] }, ...extra },
  });

const save = async (name: string, workflowId: string) => {
  const file = suffix ? name.replace(/\.json$/, `-${suffix}.json`) : name;
  const history = await w.client.workflow.getHandle(workflowId).fetchHistory();
  writeFileSync(path.join(out, file), `${JSON.stringify(JSON.parse(historyToJSON(history)), null, 1)}\n`);
  console.log(`saved ${file} (${history.events?.length} events)`);
};

const retrying = spec('replay-retry', {
  parameters: [
    { name: 'mode', default: 'fail-until' },
    { name: 'until', type: 'integer', default: 2 },
    { name: 'day', type: 'date', default: "{{ scheduledTime | tz('Europe/London') | minus('1d') | date }}" },
  ],
  execution: { retry: { maxAttempts: 3, initialInterval: '1s' } },
});
await applySpec(w.client, retrying);
await applySpec(
  w.client,
  spec('replay-retry', {
    ...retrying.spec,
    execution: { timeout: '1m', retry: { maxAttempts: 3, initialInterval: '1s' } },
  }),
);
const a = await startExecution(
  w.client,
  { function: 'replay-retry' },
  { trigger: 'cli', idempotencyKey: 'a' },
);
await waitForResult(w.client, a.executionId);
await save('execute-retry-success.json', a.executionId);

await applySpec(
  w.client,
  spec('replay-fail', {
    parameters: [
      { name: 'mode', default: 'fail' },
      { name: 'code', type: 'integer', default: 3 },
    ],
    execution: { retry: { nonRetryableExitCodes: [3] } },
  }),
);
const b = await startExecution(
  w.client,
  { function: 'replay-fail' },
  { trigger: 'api', idempotencyKey: 'b' },
);
await waitForResult(w.client, b.executionId);
await save('execute-nonretryable-failure.json', b.executionId);
// A redrive of the failed execution (issue 21 §3): it fails the same way, with its failure type
// upserted and redriveOf in its result.
const redrive = await startExecution(
  w.client,
  { function: 'replay-fail' },
  { trigger: 'api', redriveOf: b.executionId },
);
await waitForResult(w.client, redrive.executionId);
await save('execute-redrive.json', redrive.executionId);

await applySpec(
  w.client,
  spec('replay-cancel', {
    parameters: [
      { name: 'mode', default: 'marker' },
      { name: 'marker', default: path.join(tmp, 'm') },
      { name: 'seconds', type: 'integer', default: 30 },
    ],
  }),
);
const c = await startExecution(
  w.client,
  { function: 'replay-cancel' },
  { trigger: 'sdk', idempotencyKey: 'c' },
);
await new Promise((r) => setTimeout(r, 2000));
await w.client.workflow.getHandle(c.executionId).cancel();
await w.client.workflow
  .getHandle(c.executionId)
  .result()
  .catch(() => undefined);
await save('execute-cancelled.json', c.executionId);

await save('controller-two-versions.json', controllerWorkflowId('replay-retry'));

w.worker.shutdown();
await running;
await server.stop();
