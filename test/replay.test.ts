/**
 * Determinism guard: histories recorded from real executions (dev/record-histories.ts) must replay
 * against the current workflow code. A change that would break running workflows fails here.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Worker } from '@temporalio/worker';
import { expect, inject, it } from 'vitest';
import { createLogger, installTemporalRuntime } from '../platform/logger.ts';
import { REPO_ROOT } from './helpers.ts';

const dir = path.join(REPO_ROOT, 'test', 'histories');
const files = readdirSync(dir).filter((f) => f.endsWith('.json'));

it('has recorded histories of both workflow types', () => {
  expect(files.some((f) => f.startsWith('execute-'))).toBe(true);
  expect(files.some((f) => f.startsWith('controller-'))).toBe(true);
});

it.each(files)('replays %s', async (file) => {
  installTemporalRuntime(createLogger('error'));
  const json = JSON.parse(readFileSync(path.join(dir, file), 'utf8'));
  const type = json.events[0].workflowExecutionStartedEventAttributes.workflowType.name;
  expect(['executeFunction', 'functionController']).toContain(type);
  // Throws DeterminismViolationError (or another replay error) when the code no longer matches.
  await Worker.runReplayHistory({ workflowBundle: { codePath: inject('workflowBundlePath') } }, json, file);
});
