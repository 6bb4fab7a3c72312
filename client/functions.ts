/**
 * Client-side operations on functions and executions, shared by the CLI, the API and tests:
 * apply a spec (Update-with-Start on the controller), start an execution, wait for its result.
 */

import { randomUUID } from 'node:crypto';
import {
  type Client,
  WithStartWorkflowOperation,
  WorkflowExecutionAlreadyStartedError,
  WorkflowFailedError,
} from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { ExecuteFunctionInput, ExecutionResult } from '../core/execution.ts';
import {
  controllerWorkflowId,
  executionWorkflowId,
  redriveWorkflowId,
  SearchAttr,
  TASK_QUEUE,
  WorkflowType,
} from '../core/names.ts';
import { type FunctionSpec, priorityNumber } from '../core/schema.ts';
import { type ApplyResult, applyUpdate, type SpecVersion, specQuery } from '../workflows/definitions.ts';
import { listWorkflowIds } from './list-ids.ts';

export async function applySpec(
  client: Client,
  spec: FunctionSpec,
  taskQueue = TASK_QUEUE,
): Promise<ApplyResult> {
  const name = spec.metadata.name;
  return client.workflow.executeUpdateWithStart(applyUpdate, {
    args: [spec],
    startWorkflowOperation: new WithStartWorkflowOperation(WorkflowType.controller, {
      workflowId: controllerWorkflowId(name),
      taskQueue,
      args: [{ name }],
      workflowIdConflictPolicy: 'USE_EXISTING',
      staticSummary: `Pontoon function ${name}`,
    }),
  });
}

export async function getSpec(client: Client, name: string): Promise<SpecVersion | null> {
  return client.workflow.getHandle(controllerWorkflowId(name)).query(specQuery);
}

/**
 * Names of the functions applied on a task queue, sorted, found as the API's `GET /v1/functions`
 * finds them: running controllers in Temporal's visibility whose spec query answers with a spec.
 * Visibility trails a start by a moment: names in `expect` (just applied) are waited for, every
 * 200 ms up to `waitMs` (default 10 s); after that the list is what visibility shows.
 */
export async function appliedFunctionNames(
  client: Client,
  taskQueue = TASK_QUEUE,
  opts: { expect?: string[]; waitMs?: number } = {},
): Promise<string[]> {
  const query = `WorkflowType = "${WorkflowType.controller}" AND ExecutionStatus = "Running" AND TaskQueue = "${taskQueue}"`;
  const deadline = Date.now() + (opts.waitMs ?? 10_000);
  let names: string[] = [];
  for (;;) {
    names = (await listWorkflowIds(client, query))
      .filter((id) => id.startsWith('fn:'))
      .map((id) => id.slice(3));
    const seen = new Set(names);
    if ((opts.expect ?? []).every((n) => seen.has(n)) || Date.now() >= deadline) break;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  const specs = await Promise.all(names.map((n) => getSpec(client, n).catch(() => null)));
  return specs.flatMap((s) => (s ? [s.spec.metadata.name] : [])).sort((a, b) => a.localeCompare(b));
}

export interface StartOptions {
  taskQueue?: string;
  /** api, cli, sdk — recorded as the PontoonTrigger search attribute. */
  trigger: string;
  /** The execution key: the same key always maps to the same execution. */
  idempotencyKey?: string;
  /**
   * A redrive of this failed execution: the workflow id is derived from it (redriveWorkflowId, so
   * a second redrive names the same execution) and PontoonRedriveOf links the two.
   */
  redriveOf?: string;
}

export interface StartedExecution {
  executionId: string;
  runId?: string;
  /** false when the idempotency key matched an execution that already exists. */
  created: boolean;
}

export async function startExecution(
  client: Client,
  input: ExecuteFunctionInput,
  opts: StartOptions,
): Promise<StartedExecution> {
  const key = opts.idempotencyKey ?? input.idempotencyKey ?? randomUUID();
  const workflowId = opts.redriveOf
    ? redriveWorkflowId(opts.redriveOf)
    : executionWorkflowId(input.function, key);
  const priority = input.priority === undefined ? undefined : priorityNumber(input.priority);
  try {
    const handle = await client.workflow.start(WorkflowType.execute, {
      workflowId,
      taskQueue: opts.taskQueue ?? TASK_QUEUE,
      args: [{ ...input, ...(opts.idempotencyKey ? { idempotencyKey: opts.idempotencyKey } : {}) }],
      // A key names one execution for as long as Temporal keeps it: never a second run, even after it ended.
      workflowIdReusePolicy: 'REJECT_DUPLICATE',
      typedSearchAttributes: [
        { key: SearchAttr.function, value: input.function },
        { key: SearchAttr.trigger, value: opts.trigger },
        ...(priority ? [{ key: SearchAttr.priority, value: priority }] : []),
        ...(opts.redriveOf ? [{ key: SearchAttr.redriveOf, value: opts.redriveOf }] : []),
      ],
      staticSummary: `${input.function} (${opts.trigger}${opts.redriveOf ? `, redrive of ${opts.redriveOf}` : ''})`,
    });
    return { executionId: workflowId, runId: handle.firstExecutionRunId, created: true };
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError)
      return { executionId: workflowId, created: false };
    throw err;
  }
}

/**
 * Waits for an execution and returns its result object, for failed executions too (taken from the
 * failure's details). Throws for cancelled or terminated executions and other errors.
 */
export async function waitForResult(client: Client, executionId: string): Promise<ExecutionResult> {
  try {
    return (await client.workflow.getHandle(executionId).result()) as ExecutionResult;
  } catch (err) {
    if (err instanceof WorkflowFailedError && err.cause instanceof ApplicationFailure) {
      const details = err.cause.details?.[0];
      if (details && typeof details === 'object' && 'status' in details) return details as ExecutionResult;
    }
    throw err;
  }
}
