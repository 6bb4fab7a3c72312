/**
 * Fault injection for the HA tests (PONTOON_FAULT_KILL_AFTER_OUTCOME, 0 = off, the default): the
 * worker SIGKILLs itself right after an attempt's outcome, before the activity returns, so Temporal
 * never records it and retries the activity on another worker — the completion boundary that
 * exactly-once has to survive (activities/kubernetes/runtime.ts, activities/local-runtime.ts).
 *
 * Half the faults strike at once (kubernetes: the pod still there, its record perhaps not stored
 * yet), half once the runtime's after-outcome work is done (the record stored and, with
 * PONTOON_POD_DELETE_DELAY=0, the pod already deleted: only the record is left). Each writes one line
 * to stderr first, synchronously: `[pontoon] fault injected: SIGKILL after the outcome (early|late)
 * of <execution id> attempt <n>`, which the tests count.
 */
import { writeSync } from 'node:fs';
import type { ActivityDeps } from '../activities/index.ts';
import type { FunctionRuntime } from '../activities/runtime.ts';

/** The line each injected fault writes to stderr before the kill. */
export const FAULT_LINE = '[pontoon] fault injected: SIGKILL after the outcome';

/** How long a late fault waits for the runtime's after-outcome work before it strikes anyway. */
const SETTLE_WAIT_MS = 15_000;

/** The activities' fault hook for `probability` (0: none). */
export function createFaultInjection(
  probability: number,
  runtime: FunctionRuntime,
): ActivityDeps['faults'] | undefined {
  if (!(probability > 0)) return undefined;
  return {
    async afterOutcome(req) {
      if (Math.random() >= probability) return;
      const late = Math.random() < 0.5;
      if (late && runtime.settled) {
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([
          runtime.settled(),
          new Promise((r) => {
            timer = setTimeout(r, SETTLE_WAIT_MS);
          }),
        ]);
        clearTimeout(timer);
      }
      writeSync(
        2,
        `${FAULT_LINE} (${late ? 'late' : 'early'}) of ${req.executionId} attempt ${req.attempt}\n`,
      );
      process.kill(process.pid, 'SIGKILL');
      // Never returns: the outcome must not reach Temporal.
      await new Promise(() => {});
    },
  };
}
