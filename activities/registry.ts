/** Reads function specs from their controller workflows (Temporal is the system of record). */
import { ApplicationFailure } from '@temporalio/activity';
import { type Client, WorkflowNotFoundError } from '@temporalio/client';
import { controllerWorkflowId, warmTaskQueue } from '../spec/names.ts';
import { type SpecVersion, specQuery } from '../workflows/definitions.ts';

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
}: {
  client: Client;
  warmTaskQueues: boolean;
}) {
  return {
    /** The current spec of a function; fails FunctionNotFound (non-retryable) when none was applied. */
    async getFunctionSpec(name: string): Promise<FunctionSpecLookup> {
      let current: SpecVersion | null;
      try {
        current = await client.workflow.getHandle(controllerWorkflowId(name)).query(specQuery);
      } catch (err) {
        if (err instanceof WorkflowNotFoundError) current = null;
        else throw err;
      }
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
