/**
 * Dead letters and redrive (issue 21 §3). A dead letter is an execution that ended failed after its
 * retries (Temporal status Failed); they are found through Temporal visibility, no store of our own:
 * `PontoonFunction`, `PontoonFailureType` (set by the workflow as it fails) and the close time.
 * A redrive starts a new execution of the same function with the same parameters, input and
 * scheduledTime, linked to the original by the `PontoonRedriveOf` search attribute (and `redriveOf`
 * in its result), under a workflow id derived from the original's, so redriving twice starts one.
 */
import { type Client, WorkflowNotFoundError } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import { decodeOptionalSinglePayload } from '@temporalio/common/lib/internal-non-workflow/index.js';
import type { ExecuteFunctionInput } from '../core/execution.ts';
import { controllerWorkflowId, redriveWorkflowId, SearchAttr, WorkflowType } from '../core/names.ts';
import { specHistoryQuery } from '../workflows/definitions.ts';
import { BadPageTokenError, describeExecution, type ExecutionDetail } from './executions.ts';
import { startExecution } from './functions.ts';
import { decodePageToken, encodePageToken } from './page-token.ts';

export interface DeadLetterFilter {
  function?: string;
  /** Failure type, e.g. FunctionExit (the failure table's names). */
  type?: string;
  /** RFC 3339 bounds on when the execution failed (its close time): since inclusive, until exclusive. */
  since?: string;
  until?: string;
}

/** One dead letter as listed: where it came from, how and when it failed. */
export interface DeadLetter {
  executionId: string;
  function: string | null;
  trigger: string | null;
  /** Null for executions that failed before Pontoon recorded failure types (older workers). */
  failureType: string | null;
  /** Set when this dead letter is itself a redrive: the execution it re-ran. */
  redriveOf: string | null;
  startedAt: string | null;
  failedAt: string | null;
}

const quote = (v: string) => `"${v.replace(/["\\]/g, '')}"`;

/** The visibility query of the dead letters matching `f`. */
export function deadLetterQuery(f: DeadLetterFilter): string {
  const parts = [`WorkflowType = ${quote(WorkflowType.execute)}`, `ExecutionStatus = "Failed"`];
  if (f.function) parts.push(`${SearchAttr.function.name} = ${quote(f.function)}`);
  if (f.type) parts.push(`${SearchAttr.failureType.name} = ${quote(f.type)}`);
  if (f.since) parts.push(`CloseTime >= ${quote(new Date(f.since).toISOString())}`);
  if (f.until) parts.push(`CloseTime < ${quote(new Date(f.until).toISOString())}`);
  return parts.join(' AND ');
}

function keyword(fields: Record<string, { data?: Uint8Array | null }> | null | undefined, name: string) {
  const p = fields?.[name];
  if (!p) return null;
  const v = defaultPayloadConverter.fromPayload(p as never) as unknown;
  const one = Array.isArray(v) ? v[0] : v;
  return typeof one === 'string' ? one : null;
}

/** A page of dead letters, newest first (Temporal's order), with the token of the next page. */
export async function listDeadLetters(
  client: Client,
  filter: DeadLetterFilter & { limit: number; pageToken?: string },
): Promise<{ deadLetters: DeadLetter[]; nextPageToken: string | null }> {
  const nextPageToken = filter.pageToken === undefined ? undefined : decodePageToken(filter.pageToken);
  if (filter.pageToken !== undefined && !nextPageToken) throw new BadPageTokenError();
  const res = await client.workflowService.listWorkflowExecutions({
    namespace: client.options.namespace,
    query: deadLetterQuery(filter),
    pageSize: filter.limit,
    ...(nextPageToken ? { nextPageToken } : {}),
  });
  const deadLetters = (res.executions ?? []).map((info) => {
    const fields = info.searchAttributes?.indexedFields;
    const ts = (t: { seconds?: unknown; nanos?: number | null } | null | undefined) =>
      t?.seconds ? new Date(Number(t.seconds) * 1000 + Math.floor((t.nanos ?? 0) / 1e6)).toISOString() : null;
    return {
      executionId: info.execution?.workflowId ?? '',
      function: keyword(fields, SearchAttr.function.name),
      trigger: keyword(fields, SearchAttr.trigger.name),
      failureType: keyword(fields, SearchAttr.failureType.name),
      redriveOf: keyword(fields, SearchAttr.redriveOf.name),
      startedAt: ts(info.startTime),
      failedAt: ts(info.closeTime),
    };
  });
  return { deadLetters, nextPageToken: encodePageToken(res.nextPageToken) };
}

/** How many dead letters match `filter` (visibility's count). */
export async function countDeadLetters(client: Client, filter: DeadLetterFilter): Promise<number> {
  const { count } = await client.workflowService.countWorkflowExecutions({
    namespace: client.options.namespace,
    query: deadLetterQuery(filter),
  });
  return Number(count ?? 0);
}

/** Why a redrive was refused; the API maps each to its error code. */
export class RedriveRefused extends Error {
  override name = 'RedriveRefused';
  constructor(
    readonly reason: 'not_failed' | 'version_changed' | 'not_an_execution' | 'id_taken',
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

/** What a redrive started (or found already started). */
export interface Redriven {
  /** The new execution (exec:<function>:<key>.redrive). */
  executionId: string;
  /** False when this original was redriven before: the same execution, not a second one. */
  created: boolean;
  /** The failed execution it re-runs. */
  redriveOf: string;
  function: string;
  /**
   * The spec version the redrive was started against: it runs that version or a newer one, or
   * exactly that one with sameVersion. For a redrive made before, the version it ran (null while
   * it has not read one).
   */
  specVersion: number | null;
  /** The version the original ran, when it got that far. */
  originalSpecVersion: number | null;
  /** The nominal time the redrive runs for: the original's. */
  scheduledTime: string | null;
}

/** The input the original was started with (its first history event). */
async function originalInput(client: Client, executionId: string): Promise<ExecuteFunctionInput> {
  const res = await client.workflowService.getWorkflowExecutionHistory({
    namespace: client.options.namespace,
    execution: { workflowId: executionId },
    maximumPageSize: 1,
  });
  const payload =
    res.history?.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0] ?? undefined;
  // Through the client's codec: an encrypted input is decrypted (platform/payload-codec.ts).
  const input = payload
    ? await decodeOptionalSinglePayload<unknown>(client.options.loadedDataConverter, payload)
    : undefined;
  return (input && typeof input === 'object' ? input : {}) as ExecuteFunctionInput;
}

/**
 * Redrives one failed execution: a new execution with the original's function, parameters (as the
 * original was given them: defaults and templates resolve again, at the same scheduledTime), input,
 * priority and scheduledTime (the nominal time it ran for), pinned to `current` (the function's
 * current spec version). With `sameVersion`, exactly the version the original ran (an exact pin the
 * workflow honours), refused (RedriveRefused version_changed) when the controller no longer keeps it
 * or the original read none. A redrive made before is returned (created false) whatever is asked.
 * Throws WorkflowNotFoundError for an unknown id, RedriveRefused not_failed for an execution that
 * did not fail, not_an_execution for a workflow that names no function, id_taken when an ordinary
 * execution (an idempotency key ending in ".redrive") holds the redrive's id.
 */
export async function redriveExecution(
  client: Client,
  executionId: string,
  opts: {
    trigger: string;
    taskQueue: string;
    sameVersion?: boolean;
    /** The function's current spec version, from its controller. */
    current: (fn: string) => Promise<{ version: number; appliedAt: string }>;
    /** The original, when the caller has described it already. */
    original?: ExecutionDetail;
  },
): Promise<Redriven> {
  // No progress query: it waits for a worker of the original's task queue, and a dead letter's
  // queue may have none any more (a redrive needs its status, function and version only).
  const original = opts.original ?? (await describeExecution(client, executionId, { progress: false }));
  if (original.status !== 'failed' && original.status !== 'timed_out') {
    throw new RedriveRefused(
      'not_failed',
      `execution "${executionId}" is ${original.status}; only a failed execution (a dead letter) can be redriven`,
      { executionId, status: original.status },
    );
  }
  const input = await originalInput(client, executionId);
  const fn = original.function ?? input.function;
  if (!fn)
    throw new RedriveRefused('not_an_execution', `"${executionId}" names no function`, { executionId });
  const originalSpecVersion = original.specVersion ?? null;
  // Redriven before: that redrive, whatever this request asks (twice starts one).
  const earlier = await describeExecution(client, redriveWorkflowId(executionId), { progress: false }).catch(
    (err: unknown) => {
      if (err instanceof WorkflowNotFoundError) return undefined;
      throw err;
    },
  );
  if (earlier) {
    // Idempotency keys may end in ".redrive": an ordinary execution can hold the redrive's id.
    const linked = (
      await client.workflow.getHandle(earlier.executionId).describe()
    ).typedSearchAttributes.get(SearchAttr.redriveOf);
    if (linked !== executionId) {
      throw new RedriveRefused(
        'id_taken',
        `the redrive of "${executionId}" would be "${earlier.executionId}", which is an execution that is not its redrive (started with that idempotency key); start the function again with another key instead`,
        { executionId, takenBy: earlier.executionId },
      );
    }
    return {
      executionId: earlier.executionId,
      created: false,
      redriveOf: executionId,
      function: fn,
      specVersion: earlier.specVersion ?? null,
      originalSpecVersion,
      scheduledTime: earlier.scheduledTime ?? null,
    };
  }
  if (opts.sameVersion && originalSpecVersion === null) {
    throw new RedriveRefused(
      'version_changed',
      `execution "${executionId}" failed before it read a spec version, so it cannot be redriven with the same version; redrive it without sameVersion to run the current version`,
      { executionId, function: fn, originalSpecVersion },
    );
  }
  const current = await opts.current(fn);
  let pin: { version: number; appliedAt: string; exact?: boolean } = {
    version: current.version,
    appliedAt: current.appliedAt,
  };
  if (opts.sameVersion && originalSpecVersion !== null) {
    // Exactly the version the original ran: the current one, or one the controller still keeps
    // (applied before the original started: a function deleted and applied again counts anew).
    const kept =
      originalSpecVersion === current.version
        ? current
        : (await client.workflow.getHandle(controllerWorkflowId(fn)).query(specHistoryQuery)).find(
            (v) => v.version === originalSpecVersion,
          );
    if (!kept || (original.startedAt && kept.appliedAt > original.startedAt)) {
      throw new RedriveRefused(
        'version_changed',
        `execution "${executionId}" ran version ${originalSpecVersion} of "${fn}", which is not kept any more (the function is at version ${current.version}); redrive without sameVersion to run version ${current.version}`,
        { executionId, function: fn, originalSpecVersion, currentVersion: current.version },
      );
    }
    pin = { version: kept.version, appliedAt: kept.appliedAt, exact: true };
  }
  const scheduledTime = original.scheduledTime ?? input.scheduledTime ?? original.startedAt ?? undefined;
  const started = await startExecution(
    client,
    {
      function: fn,
      ...(input.parameters ? { parameters: input.parameters } : {}),
      ...(input.input !== undefined ? { input: input.input } : {}),
      ...(input.priority !== undefined ? { priority: input.priority } : {}),
      ...(scheduledTime ? { scheduledTime } : {}),
      spec: pin,
    },
    { trigger: opts.trigger, taskQueue: opts.taskQueue, redriveOf: executionId },
  );
  return {
    executionId: started.executionId,
    created: started.created,
    redriveOf: executionId,
    function: fn,
    specVersion: pin.version,
    originalSpecVersion,
    scheduledTime: scheduledTime ?? null,
  };
}
