/**
 * Test-only workflow: calls recordExecutionEnd the way executeFunction is meant to at its end (a
 * local activity without retries), so the metrics test runs the hook through a real worker.
 */
import { proxyLocalActivities } from '@temporalio/workflow';
import type { ExecutionEnd } from '../../activities/execution-metrics.ts';
import type { Activities } from '../../activities/index.ts';

const { recordExecutionEnd } = proxyLocalActivities<Activities>({
  startToCloseTimeout: '5s',
  retry: { maximumAttempts: 1 },
});

export async function recordEndProbe(ends: ExecutionEnd[]): Promise<void> {
  for (const end of ends) await recordExecutionEnd(end);
}
