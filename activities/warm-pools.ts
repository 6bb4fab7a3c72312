/**
 * The Scalar's hands and eyes: activities the function controller calls to create, size and delete
 * a warm function's Deployment, and to watch the function's demand. Decisions stay in the workflow
 * (core/scalar.ts), so each one is in its history; these only observe and act.
 *
 * Demand = the function's open executions (visibility count of running `executeFunction` workflows
 * with its PontoonFunction search attribute): queued for a slot, waiting for a replica, running or
 * in backoff. `observeWarmDemand` polls it about once a second and returns only when the Scalar has
 * something to decide (or after maxWaitMs), so an idle pool adds one activity a minute to history.
 */
import { Context } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { Logger } from 'pino';
import { imageNotBuiltMessage } from '../core/build.ts';
import { SearchAttr, WorkflowType } from '../core/names.ts';
import { type ScalarState, type ScalingDecision, scalarStep, type WarmSettings } from '../core/scalar.ts';
import type { FunctionSpec } from '../core/schema.ts';
import type { WarmPoolStatus } from './kubernetes/warm.ts';
import type { FunctionRuntime } from './runtime.ts';

export interface WarmPoolDeps {
  client: Client;
  runtime: FunctionRuntime;
  logger: Logger;
  /** How often demand is counted while observing. */
  pollIntervalMs?: number;
}

export interface DemandObservation {
  demand: number;
  /** When it was counted (epoch ms). */
  at: number;
  /** The Deployment's counts when the observation ended (null: it does not exist). */
  status: WarmPoolStatus | null;
}

export function openExecutionsQuery(fn: string): string {
  return `WorkflowType = '${WorkflowType.execute}' AND ExecutionStatus = 'Running' AND ${SearchAttr.function.name} = '${fn}'`;
}

export function createWarmPoolActivities({ client, runtime, logger, pollIntervalMs = 1000 }: WarmPoolDeps) {
  const pools = runtime.warmPools;

  return {
    /**
     * Creates or updates the warm pool of a warm function at `replicas`. `managed: false` on a runtime
     * whose warm pools size themselves (local): the controller then runs no Scalar.
     */
    async ensureWarmPool(args: {
      spec: FunctionSpec;
      replicas: number;
    }): Promise<{ managed: boolean; status?: WarmPoolStatus }> {
      if (!pools) return { managed: false };
      // The same spec would fail again: stop, the apply fails and nothing is half-applied.
      if (!args.spec.spec.image)
        throw ApplicationFailure.nonRetryable(imageNotBuiltMessage(args.spec), 'ImageUnavailable');
      const status = await pools.ensure(args.spec, args.replicas);
      return { managed: true, status };
    },

    /** Sets the replica count the Scalar decided (the decision is the input, so history shows why). */
    async scaleWarmPool(args: {
      function: string;
      decision: ScalingDecision;
    }): Promise<WarmPoolStatus | null> {
      if (!pools) return null;
      const status = await pools.scale(args.function, args.decision.to);
      logger.info({ function: args.function, ...args.decision }, 'warm pool scaled by the Scalar');
      return status;
    },

    /** Deletes a function's warm pool (the function was deleted or is no longer warm). */
    async removeWarmPool(args: { function: string }): Promise<{ managed: boolean; removed: boolean }> {
      if (!pools) return { managed: false, removed: false };
      const removed = await pools.remove(args.function);
      return { managed: true, removed };
    },

    /**
     * Counts the function's open executions about once a second until the Scalar would decide
     * something (scale, or start or stop waiting to scale down), or maxWaitMs passes.
     */
    async observeWarmDemand(args: {
      function: string;
      state: ScalarState;
      settings: WarmSettings;
      maxWaitMs: number;
    }): Promise<DemandObservation> {
      const ctx = Context.current();
      const query = openExecutionsQuery(args.function);
      const until = Date.now() + args.maxWaitMs;
      let demand = 0;
      for (;;) {
        demand = (await client.workflow.count(query)).count;
        const now = Date.now();
        ctx.heartbeat({ demand });
        const step = scalarStep(args.state, demand, now, args.settings);
        const changed =
          step.decision !== undefined ||
          (step.state.lowSince === undefined) !== (args.state.lowSince === undefined);
        const due = step.recheckAt !== undefined && step.recheckAt <= now + pollIntervalMs;
        if (changed || due || now >= until || ctx.cancellationSignal.aborted) break;
        await new Promise<void>((resolve) => {
          const signal = ctx.cancellationSignal;
          const done = () => {
            clearTimeout(t);
            signal.removeEventListener('abort', done);
            resolve();
          };
          const t = setTimeout(done, pollIntervalMs);
          signal.addEventListener('abort', done, { once: true });
        });
      }
      const status = pools ? await pools.status(args.function).catch(() => null) : null;
      return { demand, at: Date.now(), status };
    },
  };
}
