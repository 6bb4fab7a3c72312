/** Reads function specs from their controller workflows' memo (Temporal is the system of record). */
import { ApplicationFailure } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import { type SpecPin, SpecReader } from '../client/spec-reader.ts';
import { controllerWorkflowId, warmTaskQueue } from '../core/names.ts';
import type { PontoonMetrics } from '../platform/metrics.ts';
import { type SpecVersion, specHistoryQuery } from '../workflows/definitions.ts';

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
  /**
   * Exactly the pinned version (a redrive with --same-version): the current one when it is that
   * version, else the controller's copy among its recent versions (a query: redrives are rare, and
   * not on the hot path of ordinary executions). FunctionNotFound when it is not kept any more.
   */
  const exactVersion = async (name: string, pin: SpecPin): Promise<SpecVersion | null> => {
    const same = (v: SpecVersion | null) => v?.version === pin.version && v.appliedAt === pin.appliedAt;
    const current = await reader.read(name, pin);
    if (!current || same(current)) return current;
    const kept = await client.workflow.getHandle(controllerWorkflowId(name)).query(specHistoryQuery);
    const found = kept.find(same);
    if (found) return found;
    throw ApplicationFailure.create({
      type: 'FunctionNotFound',
      nonRetryable: true,
      message: `version ${pin.version} of "${name}" (applied ${pin.appliedAt}) is not kept any more (the controller keeps its recent versions); run the current version ${current.version} instead`,
    });
  };
  return {
    /**
     * The spec of a function: the version the starter pinned when this worker has it in memory,
     * else the current one. Fails FunctionNotFound (non-retryable) when none was applied.
     */
    async getFunctionSpec(name: string, pin?: SpecPin & { exact?: boolean }): Promise<FunctionSpecLookup> {
      const current = pin?.exact ? await exactVersion(name, pin) : await reader.read(name, pin);
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
