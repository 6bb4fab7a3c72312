/**
 * All activities of the Pontoon worker, built from their dependencies. Workflows see only the type:
 * `proxyActivities<Activities>()`.
 */
import { Context } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import type { Logger } from 'pino';
import type { AttemptOutcome, AttemptRequest } from '../spec/execution.ts';
import { createRegistryActivities } from './registry.ts';
import type { FunctionRuntime } from './runtime.ts';
import { createScheduleActivities } from './schedules.ts';

export interface ActivityDeps {
  client: Client;
  logger: Logger;
  runtime: FunctionRuntime;
  /** Task queue of this worker: schedules start executions on it. */
  taskQueue: string;
}

export function createActivities({ client, logger, runtime, taskQueue }: ActivityDeps) {
  return {
    ...createRegistryActivities({ client }),
    ...createScheduleActivities({ client, taskQueue, logger: logger.child({ component: 'schedules' }) }),

    /**
     * Runs one attempt on the worker's runtime and reports how it ended. Function failures are
     * outcomes; only infrastructure errors throw (and are retried by Temporal as the same attempt).
     * Cancellation kills the attempt, then rethrows the cancellation.
     */
    async runAttempt(req: AttemptRequest): Promise<AttemptOutcome> {
      const ctx = Context.current();
      const outcome = await runtime.runAttempt(req, {
        heartbeat: (details) => ctx.heartbeat(details),
        signal: ctx.cancellationSignal,
      });
      if (ctx.cancellationSignal.aborted) {
        logger.info({ executionId: req.executionId, attempt: req.attempt }, 'attempt cancelled and killed');
        await ctx.cancelled;
      }
      return outcome;
    },
  };
}

export type Activities = ReturnType<typeof createActivities>;
