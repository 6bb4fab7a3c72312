/** Reads function specs from their controller workflows (Temporal is the system of record). */
import { ApplicationFailure } from '@temporalio/activity';
import { type Client, WorkflowNotFoundError } from '@temporalio/client';
import { controllerWorkflowId } from '../spec/names.ts';
import { type SpecVersion, specQuery } from '../workflows/definitions.ts';

export function createRegistryActivities({ client }: { client: Client }) {
  return {
    /** The current spec of a function; fails FunctionNotFound (non-retryable) when none was applied. */
    async getFunctionSpec(name: string): Promise<SpecVersion> {
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
      return current;
    },
  };
}
