/**
 * The admission queue of a function with a concurrency limit: which queued execution gets the next
 * free slot. Pure and deterministic (runs inside the function controller workflow).
 *
 * Rule: the effective priority of a queued request is its priority minus one level per
 * `agingMs` of waiting (never above 1); the smallest effective priority wins, and among equals the
 * request that has waited longest. So a priority-p request is treated as priority 1 after
 * (p − 1) × agingMs, and from then on only requests that were queued before it can go first: under
 * any sustained load of new high-priority requests it waits at most (p − 1) × agingMs plus the time
 * to run the requests queued ahead of it at that moment.
 */
/**
 * Defaults of the admission settings in `spec.execution` (with a concurrency limit), declared once:
 * the schema's `.default()`s and the controller (before any spec is applied) use these.
 */
export const ADMISSION_DEFAULTS = {
  /** A queued execution gains one priority level per this much waiting. */
  priorityAging: '1m',
  /** An admitted execution renews its slot every third of this; unrenewed this long, it is freed. */
  slotLease: '60s',
} as const;

export interface QueuedRequest {
  executionId: string;
  priority: number;
  /** Epoch ms when the request reached the controller. */
  enqueuedAt: number;
  /** Arrival order, the tie-breaker for equal times. */
  seq: number;
}

export function effectivePriority(r: QueuedRequest, now: number, agingMs: number): number {
  const levels = agingMs > 0 ? Math.floor(Math.max(0, now - r.enqueuedAt) / agingMs) : 0;
  return Math.max(1, r.priority - levels);
}

/** Index of the request to admit next, or -1 for an empty queue. */
export function nextToAdmit(queue: readonly QueuedRequest[], now: number, agingMs: number): number {
  let best = -1;
  let bestKey: [number, number, number] | undefined;
  queue.forEach((r, i) => {
    const key: [number, number, number] = [effectivePriority(r, now, agingMs), r.enqueuedAt, r.seq];
    if (
      !bestKey ||
      key[0] < bestKey[0] ||
      (key[0] === bestKey[0] && (key[1] < bestKey[1] || (key[1] === bestKey[1] && key[2] < bestKey[2])))
    ) {
      best = i;
      bestKey = key;
    }
  });
  return best;
}
