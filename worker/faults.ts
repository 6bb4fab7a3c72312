/**
 * Fault injection for the HA tests (PONTOON_FAULT_KILL_AFTER_OUTCOME, 0 = off, the default): the
 * worker SIGKILLs itself right after attempts' outcomes, before the activities return, so Temporal
 * never records them and retries each activity on another worker — the completion boundary that
 * exactly-once has to survive (activities/kubernetes/runtime.ts, activities/local/runtime.ts).
 *
 * Each outcome arms a fault with the given probability. An armed worker holds that outcome and every
 * other one that comes back in the next HOLD_MS (heartbeating, so Temporal still sees each activity
 * alive: it is the SIGKILL that loses them, not a timeout), then dies with all of them: one process
 * restart catches several attempts at the boundary, which keeps the test's cost in restarts low.
 * Half the kills strike at once (kubernetes: pods still there, records perhaps not stored yet), half
 * once the runtime's after-outcome work is done (records stored and, with PONTOON_POD_DELETE_DELAY=0s,
 * pods already deleted: only the records are left). Only Temporal's first try of an activity is
 * held (MAX_FAULTED_TRY): its retry, which must adopt the lost outcome, goes through, so a test's
 * drain is not a cascade of further kills.
 *
 * Before the kill it writes to stderr, synchronously, one line per held attempt —
 * `[pontoon] fault injected: SIGKILL after the outcome (early|late) of <execution id> attempt <n>` —
 * and one `[pontoon] fault injected: SIGKILL of the worker with <k> outcomes held`; the tests count them.
 */
import { writeSync } from 'node:fs';
import type { ActivityDeps } from '../activities/index.ts';
import type { FunctionRuntime } from '../activities/runtime.ts';

/** The line written for each attempt whose outcome an injected kill loses. */
export const FAULT_LINE = '[pontoon] fault injected: SIGKILL after the outcome';
/** The line written once per injected kill. */
export const KILL_LINE = '[pontoon] fault injected: SIGKILL of the worker';

/** How long an armed worker collects outcomes before it dies (well under the 10 s heartbeat timeout). */
const HOLD_MS = 6000;
/** Activity tries (Temporal's attempt numbers) whose outcomes may be held: the first. */
const MAX_FAULTED_TRY = 1;
/** How long a late kill waits for the runtime's after-outcome work before it strikes anyway. */
const SETTLE_WAIT_MS = 15_000;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** The activities' fault hook for `probability` (0: none). */
export function createFaultInjection(
  probability: number,
  runtime: FunctionRuntime,
): ActivityDeps['faults'] | undefined {
  if (!(probability > 0)) return undefined;
  let armed: { late: boolean; held: string[]; strike: Promise<never> } | undefined;

  async function strike(late: boolean, held: string[]): Promise<never> {
    await sleep(HOLD_MS);
    if (late && runtime.settled) await Promise.race([runtime.settled(), sleep(SETTLE_WAIT_MS)]);
    const when = late ? 'late' : 'early';
    writeSync(
      2,
      `${held.map((a) => `${FAULT_LINE} (${when}) of ${a}\n`).join('')}${KILL_LINE} with ${held.length} outcomes held\n`,
    );
    process.kill(process.pid, 'SIGKILL');
    // Never returns: the outcomes must not reach Temporal.
    return new Promise<never>(() => {});
  }

  return {
    async afterOutcome(req, _outcome, activity) {
      if (activity.attempt > MAX_FAULTED_TRY) return;
      if (!armed) {
        if (Math.random() >= probability) return;
        // Late: once the after-outcome work is done (a runtime with none, local, has only early).
        const late = runtime.settled !== undefined && Math.random() < 0.5;
        const held: string[] = [];
        armed = { late, held, strike: strike(late, held) };
      }
      armed.held.push(`${req.executionId} attempt ${req.attempt}`);
      const beat = setInterval(() => activity.heartbeat(), 2000);
      try {
        await armed.strike;
      } finally {
        clearInterval(beat);
      }
    },
  };
}
