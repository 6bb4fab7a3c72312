/**
 * A worker refuses to start on a namespace that lacks a search attribute Pontoon sets: an execution
 * upserting it would hang (its workflow task failing forever) instead of failing. Real Temporal dev
 * server: the suite's namespace has them (the dev server registers them), a new one has none.
 */
import { randomUUID } from 'node:crypto';
import { Connection } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time.js';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { SEARCH_ATTRIBUTE_TYPES } from '../core/names.ts';
import { createLogger } from '../platform/logger.ts';
import { checkSearchAttributes, probeSearchAttributes } from '../platform/temporal.ts';
import { startWorker, testConfig } from './helpers.ts';

let connection: Connection;
const bare = `bare-${randomUUID().slice(0, 8)}`;

beforeAll(async () => {
  connection = await Connection.connect({ address: inject('temporalAddress') });
  await connection.workflowService.registerNamespace({
    namespace: bare,
    workflowExecutionRetentionPeriod: msToTs('1 day'),
  });
});

afterAll(async () => {
  await connection?.close();
});

it('the namespace the dev server set up has every attribute, with its type', async () => {
  await expect(checkSearchAttributes(connection, 'default', createLogger('silent'))).resolves.toBe('checked');
});

it('a namespace without them refuses the worker, naming each attribute and the command that adds it', async () => {
  const err = await startWorker(testConfig({ TEMPORAL_NAMESPACE: bare })).then(
    () => undefined,
    (e: Error) => e,
  );
  expect(err?.name).toBe('ConfigError');
  const names = Object.keys(SEARCH_ATTRIBUTE_TYPES);
  expect(names.length).toBeGreaterThanOrEqual(5);
  for (const [name, type] of Object.entries(SEARCH_ATTRIBUTE_TYPES)) {
    expect(err?.message).toContain(
      `${name} (${type}) is missing: temporal operator search-attribute create --namespace ${bare} --name ${name} --type ${type}`,
    );
  }

  // Added with the wrong type, one is named as such; the others stay missing.
  await connection.operatorService.addSearchAttributes({
    namespace: bare,
    searchAttributes: { PontoonTrigger: 3 /* INDEXED_VALUE_TYPE_INT */ },
  });
  const again = await checkSearchAttributes(connection, bare, createLogger('silent')).catch((e: Error) => e);
  expect((again as Error).message).toContain('PontoonTrigger has type INDEXED_VALUE_TYPE_INT, not Keyword');
});

it('where the operator API is refused, a visibility count naming each attribute finds the missing ones', async () => {
  const silent = createLogger('silent');
  await expect(probeSearchAttributes(connection, 'default', silent, 'test')).resolves.toBe('checked');
  const err = await probeSearchAttributes(connection, bare, silent, 'test').catch((e: Error) => e);
  expect((err as Error).name).toBe('ConfigError');
  // PontoonTrigger was added above as Int: the count compares it with a string and is refused too.
  for (const [name, type] of Object.entries(SEARCH_ATTRIBUTE_TYPES)) {
    expect((err as Error).message).toContain(
      `${name} (${type}) is missing or has another type: temporal operator search-attribute create --namespace ${bare} --name ${name} --type ${type}`,
    );
  }
});

it('a listing that fails for another reason (an unknown namespace) refuses the start', async () => {
  const err = await checkSearchAttributes(connection, `missing-${bare}`, createLogger('silent')).catch(
    (e: Error) => e,
  );
  expect((err as Error).name).toBe('ConfigError');
  expect((err as Error).message).toMatch(/could not list the search attributes of namespace missing-bare-/);
});
