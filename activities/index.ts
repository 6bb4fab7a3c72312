/**
 * All activities of the Pontoon worker, built from their dependencies. Workflows see only the type:
 * `proxyActivities<Activities>()`.
 */
import { Context } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import type { Logger } from 'pino';
import { type AttemptOutcome, type AttemptRequest, failedAttemptError } from '../core/execution.ts';
import { checkedOutcome } from '../core/io-schema.ts';
import { componentLogger } from '../platform/logger.ts';
import { createMetrics, type PontoonMetrics } from '../platform/metrics.ts';
import { createExecutionMetricsActivities } from './execution-metrics.ts';
import { createNotifyActivities } from './notify.ts';
import { createRegistryActivities } from './registry.ts';
import type { FunctionRuntime } from './runtime.ts';
import { createScheduleActivities } from './schedules.ts';
import { createTypedIoActivities } from './typed-io.ts';
import { createWarmPoolActivities } from './warm-pools.ts';

export interface ActivityDeps {
  client: Client;
  logger: Logger;
  runtime: FunctionRuntime;
  /** Task queue of this worker: schedules start executions on it. */
  taskQueue: string;
  /** Attempt and execution series; default: a registry nobody scrapes. */
  metrics?: PontoonMetrics;
  /** Where notify hooks' secretEnv variables are read; default process.env. */
  env?: NodeJS.ProcessEnv;
  /**
   * Fault injection (tests only, worker/faults.ts): called with each attempt's outcome before it
   * goes back, with the activity's try number and a heartbeat.
   */
  faults?: {
    afterOutcome(
      req: AttemptRequest,
      outcome: AttemptOutcome,
      activity: { attempt: number; heartbeat(): void },
    ): Promise<void>;
  };
}

export function createActivities({
  client,
  logger,
  runtime,
  taskQueue,
  metrics = createMetrics(),
  env = process.env,
  faults,
}: ActivityDeps) {
  return {
    ...createRegistryActivities({ client, warmTaskQueues: runtime.warmPools !== undefined, metrics }),
    ...createScheduleActivities({ client, taskQueue, logger: componentLogger(logger, 'schedules') }),
    ...createNotifyActivities({ logger: componentLogger(logger, 'notify'), env }),
    ...createExecutionMetricsActivities({ metrics }),
    ...createWarmPoolActivities({ client, runtime, logger: componentLogger(logger, 'scalar') }),
    ...createTypedIoActivities(),

    /**
     * Stops a running attempt at once because its execution was cancelled (kubernetes: marks and
     * deletes its pod, which the attempt's own activity then reports as cancelled). A no-op where
     * the runtime has nothing to do (local: the attempt's activity kills its process itself).
     * @returns whether something was stopped
     */
    async abortAttempt(args: { function: string; executionId: string; attempt: number }): Promise<boolean> {
      return (await runtime.abortAttempt?.(args)) ?? false;
    },

    /**
     * Runs one attempt on the worker's runtime and reports how it ended. Function failures are
     * outcomes (thrown as a non-retryable failure carrying the outcome when the request says
     * failActivity, so the Web UI shows the attempt failed); only infrastructure errors throw
     * otherwise (and are retried by Temporal as the same attempt). Cancellation kills the attempt,
     * then rethrows the cancellation.
     */
    async runAttempt(req: AttemptRequest): Promise<AttemptOutcome> {
      const ctx = Context.current();
      const labels = { function: req.function, runtime: runtime.kind };
      metrics.attemptsStarted.inc(labels);
      const endTimer = metrics.attemptDuration.startTimer(labels);
      const finished = (outcome: string) => {
        metrics.attemptsFinished.inc({ ...labels, outcome });
        endTimer({ outcome });
      };
      let outcome: AttemptOutcome;
      try {
        outcome = await runtime.runAttempt(req, {
          heartbeat: (details) => ctx.heartbeat(details),
          signal: ctx.cancellationSignal,
          activityAttempt: ctx.info.attempt,
          ...(ctx.info.workflowExecution ? { runId: ctx.info.workflowExecution.runId } : {}),
        });
      } catch (err) {
        finished(ctx.cancellationSignal.aborted ? 'cancelled' : 'error');
        throw err;
      }
      // Typed results: a result that does not match spec.output.schema is an OutputInvalid failure.
      outcome = checkedOutcome(req, outcome);
      if (ctx.cancellationSignal.aborted) {
        finished('cancelled');
        logger.info({ executionId: req.executionId, attempt: req.attempt }, 'attempt cancelled and killed');
        await ctx.cancelled;
      }
      finished(outcome.failure?.type ?? 'succeeded');
      await faults?.afterOutcome(req, outcome, {
        attempt: ctx.info.attempt,
        heartbeat: () => ctx.heartbeat(),
      });
      if (outcome.failure && req.failActivity) throw failedAttemptError(req.attempt, outcome);
      return outcome;
    },
  };
}

export type Activities = ReturnType<typeof createActivities>;
