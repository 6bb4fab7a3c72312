/**
 * Reading executions back from Temporal: one execution's state (describe + progress or result) and
 * lists through visibility with our search attributes. Shared by the API and tests.
 */

import { type Client, WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure, defaultPayloadConverter } from '@temporalio/common';
import type { temporal } from '@temporalio/proto';
import type { AttemptRecord, ExecutionResult } from '../core/execution.ts';
import { SearchAttr, WorkflowType } from '../core/names.ts';
import type { ParameterValues } from '../core/parameters.ts';
import { type ExecutionProgress, progressQuery } from '../workflows/definitions.ts';
import { decodePageToken, encodePageToken } from './page-token.ts';

export const EXECUTION_STATUSES = [
  'running',
  'succeeded',
  'failed',
  'timed_out',
  'cancelled',
  'terminated',
] as const;
export type ExecutionState = (typeof EXECUTION_STATUSES)[number];

/** Temporal's ExecutionStatus for each of ours, for visibility queries. */
const TEMPORAL_STATUS: Record<ExecutionState, string> = {
  running: 'Running',
  succeeded: 'Completed',
  failed: 'Failed',
  // Our deadline failures are workflow failures (listed as failed); this is Temporal's own run timeout.
  timed_out: 'TimedOut',
  cancelled: 'Canceled',
  terminated: 'Terminated',
};

const FROM_TEMPORAL: Record<number, ExecutionState> = {
  1: 'running',
  2: 'succeeded',
  3: 'failed',
  4: 'cancelled',
  5: 'terminated',
  6: 'running', // continued as new: the chain goes on
  7: 'timed_out',
};

export interface ExecutionSummary {
  executionId: string;
  runId: string;
  function: string | null;
  trigger: string | null;
  priority: number | null;
  status: ExecutionState;
  startedAt: string | null;
  endedAt: string | null;
}

export interface ExecutionDetail extends ExecutionSummary {
  phase?: ExecutionProgress['phase'];
  attempt?: number;
  maxAttempts?: number;
  nextAttemptAt?: string;
  parameters: ParameterValues;
  attempts: AttemptRecord[];
  output?: unknown;
  failure?: { type: string; message: string };
  scheduledTime?: string;
  specVersion?: number;
}

function tsToIso(ts: { seconds?: unknown; nanos?: number | null } | null | undefined): string | null {
  if (!ts?.seconds) return null;
  return new Date(Number(ts.seconds) * 1000 + Math.floor((ts.nanos ?? 0) / 1e6)).toISOString();
}

function decodeAttr(
  fields: Record<string, temporal.api.common.v1.IPayload> | null | undefined,
  name: string,
): unknown {
  const payload = fields?.[name];
  if (!payload) return null;
  const value = defaultPayloadConverter.fromPayload(payload);
  return Array.isArray(value) ? (value[0] ?? null) : value;
}

function summaryOf(info: temporal.api.workflow.v1.IWorkflowExecutionInfo): ExecutionSummary {
  const fields = info.searchAttributes?.indexedFields;
  return {
    executionId: info.execution?.workflowId ?? '',
    runId: info.execution?.runId ?? '',
    function: (decodeAttr(fields, SearchAttr.function.name) as string | null) ?? null,
    trigger: (decodeAttr(fields, SearchAttr.trigger.name) as string | null) ?? null,
    priority: (decodeAttr(fields, SearchAttr.priority.name) as number | null) ?? null,
    status: FROM_TEMPORAL[Number(info.status ?? 1)] ?? 'running',
    startedAt: tsToIso(info.startTime),
    endedAt: tsToIso(info.closeTime),
  };
}

export interface ListFilter {
  function?: string;
  status?: ExecutionState;
  trigger?: string;
  /** RFC 3339 bounds on the start time. */
  since?: string;
  until?: string;
  limit: number;
  pageToken?: string;
}

const quote = (v: string) => `"${v.replace(/["\\]/g, '')}"`;

export function listQuery(f: Omit<ListFilter, 'limit' | 'pageToken'>): string {
  const parts = [`WorkflowType = ${quote(WorkflowType.execute)}`];
  if (f.function) parts.push(`${SearchAttr.function.name} = ${quote(f.function)}`);
  if (f.trigger) parts.push(`${SearchAttr.trigger.name} = ${quote(f.trigger)}`);
  if (f.status) parts.push(`ExecutionStatus = ${quote(TEMPORAL_STATUS[f.status])}`);
  if (f.since) parts.push(`StartTime >= ${quote(new Date(f.since).toISOString())}`);
  if (f.until) parts.push(`StartTime < ${quote(new Date(f.until).toISOString())}`);
  return parts.join(' AND ');
}

export async function listExecutions(
  client: Client,
  filter: ListFilter,
): Promise<{ executions: ExecutionSummary[]; nextPageToken: string | null }> {
  const nextPageToken = filter.pageToken === undefined ? undefined : decodePageToken(filter.pageToken);
  if (filter.pageToken !== undefined && !nextPageToken) throw new BadPageTokenError();
  const res = await client.workflowService.listWorkflowExecutions({
    namespace: client.options.namespace,
    query: listQuery(filter),
    pageSize: filter.limit,
    ...(nextPageToken ? { nextPageToken } : {}),
  });
  return {
    executions: (res.executions ?? []).map(summaryOf),
    nextPageToken: encodePageToken(res.nextPageToken),
  };
}

/** A page token that was not handed out by a list call (cut, edited or made up). */
export class BadPageTokenError extends Error {
  override name = 'BadPageTokenError';
  constructor() {
    super('pageToken is not a token a previous page returned; start again without it');
  }
}

/**
 * Full state of one execution; throws WorkflowNotFoundError when there is none. An execution with
 * no attempt recorded in its result (running, cancelled, or failed before any attempt) is asked for
 * its progress with a query, which a worker of its task queue answers (and which waits for one when
 * none polls); `progress: false` leaves that out (phase, attempts and parameters stay unset).
 */
export async function describeExecution(
  client: Client,
  executionId: string,
  opts: { progress?: boolean } = {},
): Promise<ExecutionDetail> {
  const handle = client.workflow.getHandle(executionId);
  const desc = await handle.describe();
  const summary = summaryOf(desc.raw.workflowExecutionInfo ?? {});
  const detail: ExecutionDetail = { ...summary, parameters: {}, attempts: [] };
  if (desc.type !== WorkflowType.execute) {
    throw Object.assign(new Error(`${executionId} is a ${desc.type} workflow, not an execution`), {
      name: 'NotAnExecution',
    });
  }
  const fillFromResult = (r: ExecutionResult) => {
    Object.assign(detail, {
      parameters: r.parameters,
      attempts: r.attempts,
      output: r.output,
      scheduledTime: r.scheduledTime,
      specVersion: r.specVersion,
      ...(r.status === 'timed_out' ? { status: 'timed_out' } : {}),
      ...(r.failure ? { failure: { type: r.failure.type, message: r.failure.message } } : {}),
    });
  };
  if (summary.status === 'succeeded') {
    fillFromResult((await handle.result()) as ExecutionResult);
  } else if (summary.status === 'failed') {
    try {
      await handle.result();
    } catch (err) {
      const cause = err instanceof WorkflowFailedError ? err.cause : undefined;
      const details =
        cause instanceof ApplicationFailure ? (cause.details?.[0] as ExecutionResult | undefined) : undefined;
      if (details && typeof details === 'object' && 'attempts' in details) fillFromResult(details);
      else if (cause)
        detail.failure = {
          type: cause instanceof ApplicationFailure ? (cause.type ?? 'Failed') : cause.name,
          message: cause.message,
        };
    }
  }
  if (opts.progress !== false && summary.status !== 'succeeded' && detail.attempts.length === 0) {
    // Running, cancelled or terminated: the progress query still answers (replayed for closed ones).
    try {
      const p = await handle.query(progressQuery);
      Object.assign(detail, {
        phase: p.phase,
        attempt: p.attempt,
        maxAttempts: p.maxAttempts,
        parameters: p.parameters,
        attempts: p.attempts,
        ...(p.nextAttemptAt ? { nextAttemptAt: p.nextAttemptAt } : {}),
      });
    } catch {
      // no worker has run it yet
    }
  }
  // A closed execution's phase is how it ended, whatever its last progress said.
  if (summary.status !== 'running') detail.phase = summary.status;
  return detail;
}
