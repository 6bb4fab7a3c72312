/**
 * Determinism guard: histories recorded from real executions (dev/record-histories.ts) must replay
 * against the current workflow code. A change that would break running workflows fails here.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Worker } from '@temporalio/worker';
import { expect, inject, it } from 'vitest';
import { executionMetricsSink } from '../activities/execution-metrics.ts';
import { createLogger, installTemporalRuntime } from '../platform/logger.ts';
import { createMetrics } from '../platform/metrics.ts';
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
  await Worker.runReplayHistory(
    {
      workflowBundle: { codePath: inject('workflowBundlePath') },
      sinks: { executionMetrics: executionMetricsSink(metrics) },
    },
    json,
    file,
  );
});

// The executionMetrics sink is not called during replay: an execution's end read again (here, or
// by another worker after a crash) is not counted a second time.
const metrics = createMetrics();
it('counts no execution end while replaying', async () => {
  expect(files.some((f) => f.endsWith('-execution-end-sink.json'))).toBe(true);
  const counted = await metrics.executionsFinished.get();
  expect(counted.values.filter((v) => v.value > 0)).toEqual([]);
});
