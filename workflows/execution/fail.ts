/**
 * How an execution ends in failure: the workflow FAILS (so the Web UI shows it failed) with a
 * non-retryable ApplicationFailure of the failure table's type, the result as its only detail.
 */
import { ApplicationFailure, patched, upsertSearchAttributes } from '@temporalio/workflow';
import type { ExecutionResult } from '../../core/execution.ts';
import type { FailureTypeName } from '../../core/failures.ts';
import { SearchAttr } from '../../core/names.ts';

/**
 * Dead letters (issue 21 §3): a failed execution carries its failure type as the PontoonFailureType
 * search attribute, upserted just before it fails, so GET /v1/dead-letters lists them by type through
 * visibility. Executions started before replay without it.
 */
const FAILURE_TYPE_PATCH = 'failure-type-attribute';

/** Fails the execution with `type` (upserted as PontoonFailureType first) and `message`; `trace`: the function's log tail. */
export function fail(
  type: FailureTypeName,
  message: string,
  result?: ExecutionResult,
  trace?: string,
): never {
  if (patched(FAILURE_TYPE_PATCH)) upsertSearchAttributes([{ key: SearchAttr.failureType, value: type }]);
  const f = ApplicationFailure.create({ type, message, nonRetryable: true, details: result ? [result] : [] });
  // How an execution ended is the function's or the starter's story, not a trace of this file: the
  // Web UI and `temporal workflow show` print the failure's stack trace, so it carries the message
  // only, and the function's log tail when there is one (trace).
  f.stack = `${type}: ${message}${trace ? `\n\n${trace}` : ''}`;
  throw f;
}
