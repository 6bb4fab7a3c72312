/** Baseline for benchmarks: a bare Temporal workflow with one activity doing nothing. */
import { proxyActivities } from '@temporalio/workflow';

const { noop } = proxyActivities<{ noop(input: unknown): Promise<unknown> }>({ startToCloseTimeout: '30s' });

export async function baselineNoop(input: unknown): Promise<unknown> {
  return await noop(input);
}
