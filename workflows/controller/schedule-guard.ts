/**
 * The schedule guard: a function's Temporal Schedules kept in line with its spec, and each schedule
 * with `pauseAfterFailures` paused after that many consecutive failed executions (they report their
 * outcome with the `scheduleOutcome` signal), with a `schedule-pause` webhook when the spec asks.
 */
import { log, proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../../activities/index.ts';
import { NOTIFY_NON_RETRYABLE } from '../../core/failures.ts';
import type { FunctionSpec } from '../../core/schema.ts';
import { priorityNumber } from '../../core/values.ts';
import type { ScheduleOutcome } from '../definitions.ts';
import type { Serial } from './serial.ts';
import type { ControllerState } from './state.ts';

const { reconcileSchedules, pauseSchedule } = proxyActivities<Activities>({
  startToCloseTimeout: '1m',
  retry: { initialInterval: '1s', maximumAttempts: 5 },
});
const { sendNotifications } = proxyActivities<Activities>({
  startToCloseTimeout: '1m',
  scheduleToCloseTimeout: '10m',
  retry: {
    initialInterval: '5s',
    backoffCoefficient: 2,
    maximumInterval: '5m',
    nonRetryableErrorTypes: NOTIFY_NON_RETRYABLE,
  },
});

export class ScheduleGuard {
  constructor(
    private readonly state: ControllerState,
    private readonly serial: Serial,
  ) {}

  /** Creates, updates and deletes the function's schedules so that `spec`'s exist (none for null). */
  reconcile(spec: FunctionSpec | null, previous: FunctionSpec | null) {
    return reconcileSchedules({
      function: this.state.name,
      schedules: spec?.spec.schedules ?? [],
      previous: previous?.spec.schedules ?? [],
      priority: priorityNumber(spec?.spec.execution.priority ?? 'normal'),
    });
  }

  /** Counts a schedule's execution outcome; pauses the schedule (in turn with other changes) at its limit. */
  outcome(outcome: ScheduleOutcome): void {
    const state = this.state;
    const schedule = state.current?.spec.spec.schedules.find((s) => s.name === outcome.schedule);
    if (!schedule?.pauseAfterFailures) return;
    state.scheduleFailures ??= {};
    const failures = state.scheduleFailures;
    failures[outcome.schedule] = outcome.succeeded ? 0 : (failures[outcome.schedule] ?? 0) + 1;
    if (failures[outcome.schedule]! >= schedule.pauseAfterFailures) {
      failures[outcome.schedule] = 0;
      const note = `paused by Pontoon after ${schedule.pauseAfterFailures} consecutive failed executions (last: ${outcome.executionId}: ${outcome.message ?? 'failed'})`;
      log.warn('pausing schedule', { schedule: outcome.schedule, note });
      const spec = state.current?.spec;
      void this.serial.run(async () => {
        await pauseSchedule({ function: state.name, schedule: outcome.schedule, note: note.slice(0, 1000) });
        if (spec?.spec.notify?.some((hook) => hook.on.includes('schedule-pause'))) {
          await sendNotifications({
            spec,
            event: 'schedule-pause',
            payload: {
              schedule: outcome.schedule,
              note,
              executionId: outcome.executionId,
              consecutiveFailures: schedule.pauseAfterFailures,
            },
          }).catch((err) => log.warn('webhook notification not delivered', { error: String(err) }));
        }
      });
    }
  }
}
