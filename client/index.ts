/**
 * Pontoon's client API for programs: `import { connect, runFunction } from 'pontoon'` (the same
 * module is exported as `pontoon/client`). Other services start executions, wait for them and read
 * them back through Temporal directly, with the same workflow input, ids and search attributes the
 * API and the CLI use, so every starter gets the same executions (see the README's "From a
 * program"). Needs only @temporalio/client: the worker's native core is never loaded.
 *
 * Errors: Temporal's own (`@temporalio/client`: e.g. a `WorkflowFailedError` for an execution that
 * was cancelled or terminated, a `ServiceError` when Temporal is unreachable); an execution that
 * failed or timed out is not an error here: its result says so (`status`, `failure`).
 */
import type { Client } from '@temporalio/client';
import type { ExecuteFunctionInput, ExecutionResult } from '../core/execution.ts';
import { TASK_QUEUE } from '../core/names.ts';
import type { TemporalConfig } from '../platform/config.ts';
import { parsePayloadKeys } from '../platform/payload-codec.ts';
import { connectClient } from '../platform/temporal.ts';
import { startExecution, waitForResult } from './functions.ts';

export type { Client } from '@temporalio/client';
export type {
  AttemptFailure,
  AttemptRecord,
  ExecuteFunctionInput,
  ExecutionResult,
  ExecutionStatus,
} from '../core/execution.ts';
export { controllerWorkflowId, executionWorkflowId, TASK_QUEUE, WorkflowType } from '../core/names.ts';
export type { FunctionSpec } from '../core/schema.ts';
export type { TemporalConfig } from '../platform/config.ts';
export {
  PayloadDecryptError,
  PayloadKeyConfigError,
  PayloadKeyMissingError,
  type PayloadKeys,
  parsePayloadKeys,
} from '../platform/payload-codec.ts';
export {
  BadPageTokenError,
  describeExecution,
  EXECUTION_STATUSES,
  type ExecutionDetail,
  type ExecutionState,
  type ExecutionSummary,
  type ListFilter,
  listExecutions,
} from './executions.ts';
export {
  applySpec,
  getSpec,
  type StartedExecution,
  type StartOptions,
  startExecution,
  waitForResult,
} from './functions.ts';

/**
 * Connects to the Temporal frontend Pontoon runs on. Every field defaults to the environment the
 * worker and the API read: TEMPORAL_ADDRESS (default `localhost:7233`), TEMPORAL_NAMESPACE
 * (`default`), TEMPORAL_API_KEY (implies TLS), and the payload keys PONTOON_PAYLOAD_KEYS /
 * PONTOON_PAYLOAD_KEYS_FILE / PONTOON_PAYLOAD_KEY_ID when payloads are encrypted (the same keys as
 * the workers: inputs are encrypted, results decrypted). Close it with `client.connection.close()`.
 * Throws PayloadKeyConfigError for a malformed key setting.
 */
export function connect(config: Partial<TemporalConfig> = {}): Promise<Client> {
  const apiKey = config.apiKey ?? process.env.TEMPORAL_API_KEY;
  const payloadKeys = config.payloadKeys ?? parsePayloadKeys(process.env);
  return connectClient({
    address: config.address ?? process.env.TEMPORAL_ADDRESS ?? 'localhost:7233',
    namespace: config.namespace ?? process.env.TEMPORAL_NAMESPACE ?? 'default',
    ...(payloadKeys ? { payloadKeys } : {}),
    ...(apiKey ? { apiKey, tls: config.tls ?? {} } : config.tls ? { tls: config.tls } : {}),
  });
}

/** Options of {@link runFunction}; all optional. */
export interface RunOptions extends Omit<ExecuteFunctionInput, 'function' | 'parameters'> {
  /** Task queue of the Pontoon worker; default `pontoon` (PONTOON_TASK_QUEUE of the worker). */
  taskQueue?: string;
  /** Recorded as the execution's trigger (PontoonTrigger); default `sdk`. */
  trigger?: string;
}

/**
 * Starts an execution of `fn` with `parameters` (strings are coerced to the declared types) and
 * waits for its result. With `idempotencyKey`, the same key always names the same execution: a
 * second call waits for the first one's result instead of starting another. Resolves with the
 * result for succeeded, failed and timed-out executions (`result.status`); rejects when the
 * execution is cancelled or terminated, or its input is refused (`WorkflowFailedError` whose cause
 * names the problem, e.g. a missing required parameter).
 */
export async function runFunction(
  client: Client,
  fn: string,
  parameters: Record<string, unknown> = {},
  opts: RunOptions = {},
): Promise<ExecutionResult> {
  const { taskQueue, trigger, ...input } = opts;
  const started = await startExecution(
    client,
    { ...input, function: fn, parameters },
    {
      trigger: trigger ?? 'sdk',
      taskQueue: taskQueue ?? TASK_QUEUE,
      ...(input.idempotencyKey ? { idempotencyKey: input.idempotencyKey } : {}),
    },
  );
  return waitForResult(client, started.executionId);
}
