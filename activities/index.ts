/**
 * All activities of the Pontoon worker, built from their dependencies. Workflows see only the type:
 * `proxyActivities<Activities>()`.
 */
import { Context } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import type { Logger } from 'pino';
import type { AttemptOutcome, AttemptRequest } from '../spec/execution.ts';
import type { FunctionRuntime } from './runtime.ts';
import { createRegistryActivities } from './registry.ts';

export interface ActivityDeps {
  client: Client;
  logger: Logger;
  runtime: FunctionRuntime;
}

export function createActivities({ client, logger, runtime }: ActivityDeps) {
  return {
    ...createRegistryActivities({ client }),

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
