/**
 * Ids from Temporal's listings without decoding anything else. The SDK's `client.workflow.list()`
 * and `client.schedule.list()` decode every listed item's memo (and a schedule's action) through the
 * client's payload codec, so one item written by another process with a key this one does not hold
 * (another team's encrypted workflows or schedules in a shared namespace, an old key removed) fails
 * the whole listing. Where only ids are needed, these read the raw answers: nothing is decoded, so
 * nothing can fail to decode.
 */
import type { Client } from '@temporalio/client';

/**
 * Workflow ids matching a visibility `query`, at most `max` (default: all), paging through
 * ListWorkflowExecutions 1,000 at a time. Throws what the service throws (bad query, unavailable).
 */
export async function listWorkflowIds(
  client: Client,
  query: string,
  max = Number.POSITIVE_INFINITY,
): Promise<string[]> {
  const ids: string[] = [];
  let nextPageToken: Uint8Array | undefined;
  do {
    const res = await client.workflowService.listWorkflowExecutions({
      namespace: client.options.namespace,
      query,
      pageSize: 1000,
      ...(nextPageToken ? { nextPageToken } : {}),
    });
    for (const e of res.executions ?? []) {
      const id = e.execution?.workflowId;
      if (id) ids.push(id);
      if (ids.length >= max) return ids;
    }
    nextPageToken = res.nextPageToken?.length ? res.nextPageToken : undefined;
  } while (nextPageToken);
  return ids;
}

/**
 * Ids of the namespace's schedules that start with `prefix`, paging through ListSchedules 1,000 at a
 * time (schedule visibility has no id-prefix query on every server, so the filter is here).
 * Throws what the service throws.
 */
export async function listScheduleIds(client: Client, prefix: string): Promise<string[]> {
  const ids: string[] = [];
  let nextPageToken: Uint8Array | undefined;
  do {
    const res = await client.workflowService.listSchedules({
      namespace: client.options.namespace,
      maximumPageSize: 1000,
      ...(nextPageToken ? { nextPageToken } : {}),
    });
    for (const s of res.schedules ?? []) {
      if (s.scheduleId?.startsWith(prefix)) ids.push(s.scheduleId);
    }
    nextPageToken = res.nextPageToken?.length ? res.nextPageToken : undefined;
  } while (nextPageToken);
  return ids;
}
