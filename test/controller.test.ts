/** functionController on the real dev server: validated apply Update, versions, idempotent re-apply. */
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { applySpec, getSpec } from '../client/functions.ts';
import { controllerWorkflowId } from '../core/names.ts';
import { specHistoryQuery } from '../workflows/definitions.ts';
import { fixtureSpec, type RunningWorker, startWorker, uniqueName } from './helpers.ts';

let w: RunningWorker;
beforeAll(async () => {
  w = await startWorker();
});
afterAll(async () => {
  await w?.stop();
});

it('stores versions, treats an unchanged spec as a no-op, and keeps the history', async () => {
  const name = uniqueName('ctl');
  const v1 = fixtureSpec(name, 'behave.mjs', { execution: { timeout: '30s' } });
  const r1 = await applySpec(w.client, v1, w.config.taskQueue);
  expect(r1).toMatchObject({ name, version: 1, changed: true });

  const again = await applySpec(w.client, structuredClone(v1), w.config.taskQueue);
  expect(again).toMatchObject({ version: 1, changed: false });

  const v2 = fixtureSpec(name, 'behave.mjs', { execution: { timeout: '45s' } });
  const r2 = await applySpec(w.client, v2, w.config.taskQueue);
  expect(r2).toMatchObject({ version: 2, changed: true });

  const current = await getSpec(w.client, name);
  expect(current?.version).toBe(2);
  expect(current?.spec.spec.execution.timeout).toBe('45s');
  const history = await w.client.workflow.getHandle(controllerWorkflowId(name)).query(specHistoryQuery);
  expect(history.map((h) => [h.version, h.spec.spec.execution.timeout])).toEqual([[1, '30s']]);
});

it('rejects an invalid spec in the Update validator and keeps the current one', async () => {
  const name = uniqueName('ctlbad');
  await applySpec(w.client, fixtureSpec(name, 'behave.mjs'), w.config.taskQueue);
  const bad = structuredClone(fixtureSpec(name, 'behave.mjs')) as unknown as {
    spec: { execution: { priority: unknown } };
  };
  bad.spec.execution.priority = 'urgent';
  const err = await applySpec(w.client, bad as never, w.config.taskQueue).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(WorkflowUpdateFailedError);
  expect((err as WorkflowUpdateFailedError).cause?.message).toContain(
    'spec.execution.priority: must be an integer 1 (highest)',
  );

  const renamed = fixtureSpec(uniqueName('other'), 'behave.mjs');
  const handle = w.client.workflow.getHandle(controllerWorkflowId(name));
  const err2 = await handle.executeUpdate('apply', { args: [renamed] }).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect((err2 as WorkflowUpdateFailedError).cause?.message).toContain('does not match this controller');

  expect((await getSpec(w.client, name))?.version).toBe(1);
  // Rejected updates leave no trace in the history.
  const history = await handle.fetchHistory();
  const accepted = history.events!.filter((e) => e.workflowExecutionUpdateAcceptedEventAttributes);
  expect(accepted).toHaveLength(1);
});
