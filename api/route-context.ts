/**
 * What the route files share: the Temporal client and settings, and the reads several resources
 * need — whether a worker polls, a function's current spec (or a 404 with "did you mean"), an
 * execution (or a 404), the functions this deployment serves.
 */
import { WorkflowNotFoundError } from '@temporalio/client';
import { describeExecution, type ExecutionDetail } from '../client/executions.ts';
import { SpecReader } from '../client/spec-reader.ts';
import { Trigger, WorkflowType } from '../core/names.ts';
import type { AttemptLogSource } from '../logs/source.ts';
import type { PontoonMetrics } from '../platform/metrics.ts';
import { closestName } from '../util/suggest.ts';
import type { ApiDeps } from './deps.ts';
import { ApiError } from './errors.ts';
import { ROUTES, routePath } from './route-table.ts';

interface WorkerPresence {
  polling: boolean;
  /** When a poller of the task queue last reached Temporal (RFC 3339). */
  lastSeen?: string;
}
/** A poller not seen for this long has stopped (Temporal's long poll is one minute). */
const WORKER_SEEN_MS = 75_000;
/** A spec query slower than this makes the API check whether any worker is polling. */
const WORKER_CHECK_AFTER_MS = 1_000;

/** google.protobuf.Timestamp → epoch ms (0 when absent). */
function timestampMs(t: { seconds?: unknown; nanos?: number | null } | null | undefined): number {
  if (!t) return 0;
  return Number(t.seconds ?? 0) * 1000 + Math.floor((t.nanos ?? 0) / 1e6);
}

/** The shared state and reads of the route files (api/routes/*.ts); one per app. */
export type RouteContext = ReturnType<typeof createRouteContext>;

export function createRouteContext(deps: ApiDeps, metrics: PontoonMetrics, logs: AttemptLogSource) {
  const { client, taskQueue } = deps;

  // Whether a worker polls the task queue, from Temporal's poller list (cached for 2 s). A worker
  // polls again at least every minute (Temporal's long poll), so one not seen for 75 s is gone.
  let presence: { at: number; value: Promise<WorkerPresence> } | undefined;
  const workerPresence = (): Promise<WorkerPresence> => {
    if (presence && Date.now() - presence.at < 2000) return presence.value;
    const value = client.workflowService
      .describeTaskQueue({
        namespace: client.options.namespace,
        taskQueue: { name: taskQueue, kind: 1 },
        taskQueueType: 1,
      })
      .then((res): WorkerPresence => {
        const seen = (res.pollers ?? []).map((p) => timestampMs(p.lastAccessTime)).filter((t) => t > 0);
        const last = seen.length ? Math.max(...seen) : undefined;
        return {
          polling: last !== undefined && Date.now() - last < (deps.workerSeenMs ?? WORKER_SEEN_MS),
          ...(last !== undefined ? { lastSeen: new Date(last).toISOString() } : {}),
        };
      });
    presence = { at: Date.now(), value };
    value.catch(() => {
      presence = undefined;
    });
    return value;
  };
  const workerUnavailable = (w: WorkerPresence) =>
    new ApiError(
      'worker_unavailable',
      `no Pontoon worker polls task queue "${taskQueue}"${w.lastSeen ? ` (last seen ${w.lastSeen})` : ''}; start one with pontoon worker`,
    );

  /** A query to a controller, which needs a worker: if it is slow, says at once when none polls. */
  const withWorker = async <T>(query: Promise<T>): Promise<T> => {
    const quick = await Promise.race([
      query.then(
        () => true,
        () => true,
      ),
      new Promise<false>((r) => setTimeout(() => r(false), WORKER_CHECK_AFTER_MS).unref()),
    ]);
    if (!quick) {
      const w = await workerPresence();
      if (!w.polling) {
        query.catch(() => undefined);
        throw workerUnavailable(w);
      }
    }
    try {
      return await query;
    } catch (err) {
      if (/no poller seen/i.test((err as Error).message ?? ''))
        throw workerUnavailable(await workerPresence());
      throw err;
    }
  };

  // The functions this deployment serves: running controllers on its task queue (another
  // deployment sharing the namespace, or a stopped test worker, has its own queue).
  const controllersQuery = `WorkflowType = "${WorkflowType.controller}" AND ExecutionStatus = "Running" AND TaskQueue = "${taskQueue}"`;

  /** Names of the applied functions (running controllers), for "did you mean" on a miss. */
  const functionNames = async (): Promise<string[]> => {
    const res = await client.workflowService.listWorkflowExecutions({
      namespace: client.options.namespace,
      query: controllersQuery,
      pageSize: 1000,
    });
    return (res.executions ?? [])
      .map((e) => e.execution?.workflowId ?? '')
      .filter((id) => id.startsWith('fn:'))
      .map((id) => id.slice(3));
  };

  const specs = new SpecReader(client);
  /**
   * The current spec, from the controller's memo (client/spec-reader.ts): no query, so a burst of
   * invocations costs the controllers nothing (concurrent reads of one function share a describe).
   * Still a 503 when no worker polls (cached for 2 s): what follows (an execution, a controller
   * query or update) needs one.
   */
  const currentSpec = async (name: string) => {
    const [s, w] = await Promise.all([specs.read(name), workerPresence()]);
    if (s) {
      if (!w.polling) throw workerUnavailable(w);
      return s;
    }
    const suggestion = closestName(name, await functionNames().catch(() => []));
    throw new ApiError(
      'function_not_found',
      `no function named "${name}"${suggestion ? ` (did you mean "${suggestion}"?)` : ''}; apply it with PUT /v1/functions/${name}`,
      { function: name, ...(suggestion ? { suggestion } : {}) },
    );
  };

  /** An execution, or a 404 execution_not_found. */
  const getExecution = async (id: string): Promise<ExecutionDetail> => {
    try {
      return await describeExecution(client, id);
    } catch (err) {
      if (err instanceof WorkflowNotFoundError || (err as Error).name === 'NotAnExecution') {
        throw new ApiError('execution_not_found', `no execution "${id}"`);
      }
      throw err;
    }
  };

  return {
    client,
    taskQueue,
    deps,
    metrics,
    /** Where attempt logs are read. */
    logs,
    workerPresence,
    workerUnavailable,
    withWorker,
    controllersQuery,
    currentSpec,
    getExecution,
    /**
     * Before a request that may wait long for a controller: Temporal answers at all, within 5 s, so a
     * Temporal outage is a 503 within the 10 s of every other route.
     */
    reachable: () => client.withDeadline(Date.now() + 5_000, () => client.workflowService.getSystemInfo({})),
    /** An execution's links (its routes). */
    links: (id: string) => ({
      self: routePath(ROUTES.getExecution, { id }),
      logs: routePath(ROUTES.executionLogs, { id }),
      cancel: routePath(ROUTES.cancelExecution, { id }),
    }),
    /** The pontoon CLI says so, so executions it starts show trigger "cli" in the Web UI. */
    triggerOf: (headers: Record<string, unknown>): string =>
      headers['x-pontoon-client'] === 'cli' ? Trigger.cli : Trigger.api,
  };
}
