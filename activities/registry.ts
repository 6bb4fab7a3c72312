/** Reads function specs from their controller workflows' memo (Temporal is the system of record). */
import { ApplicationFailure } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import { type SpecPin, SpecReader } from '../client/spec-reader.ts';
import { warmTaskQueue } from '../spec/names.ts';
import type { PontoonMetrics } from '../worker/metrics.ts';
import type { SpecVersion } from '../workflows/definitions.ts';

export interface FunctionSpecLookup extends SpecVersion {
  /**
   * Set when this worker's runtime sends warm attempts to the function's own task queue (served by
   * the observers of its warm replicas) instead of running them itself (local warm pools).
   */
  warmTaskQueue?: string;
}

export function createRegistryActivities({
  client,
  warmTaskQueues,
  metrics,
}: {
  client: Client;
  warmTaskQueues: boolean;
  metrics: PontoonMetrics;
}) {
  // One per worker process: pinned reads of a version it holds need no call; others read the
  // controller's memo, concurrent ones sharing a describe (see SpecReader).
  const reader = new SpecReader(
    client,
    (source) => metrics.specReads.inc({ source }),
    () => metrics.specDescribes.inc(),
  );
  return {
    /**
     * The spec of a function: the version the starter pinned when this worker has it in memory,
     * else the current one. Fails FunctionNotFound (non-retryable) when none was applied.
     */
    async getFunctionSpec(name: string, pin?: SpecPin): Promise<FunctionSpecLookup> {
      const current = await reader.read(name, pin);
      if (!current) {
        throw ApplicationFailure.create({
          type: 'FunctionNotFound',
          nonRetryable: true,
          message: `no function named "${name}" has been applied (pontoon apply -f <spec>)`,
        });
      }
      if (warmTaskQueues && current.spec.spec.execution.mode === 'warm') {
        return { ...current, warmTaskQueue: warmTaskQueue(name) };
      }
      return current;
    },
  };
}
