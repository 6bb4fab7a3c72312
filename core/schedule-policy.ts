/**
 * Schedule policies every layer that touches a Temporal Schedule shares: how a spec's `overlap`
 * maps to Temporal's overlap policy (the reconcile that writes schedules, the API's trigger and
 * backfill) and the backfill cap (the API's default and its route documentation). Pure.
 */
import type { ScheduleSpec } from './schema.ts';

/**
 * `spec.schedules[].overlap` → Temporal's ScheduleOverlapPolicy name (the same six policies;
 * https://docs.temporal.io/schedule#overlap-policy).
 */
const OVERLAP = {
  skip: 'SKIP',
  buffer_one: 'BUFFER_ONE',
  buffer_all: 'BUFFER_ALL',
  cancel_other: 'CANCEL_OTHER',
  terminate_other: 'TERMINATE_OTHER',
  allow_all: 'ALLOW_ALL',
} as const;

/** The Temporal overlap policy of a spec's `overlap` value. */
export function overlapPolicy(o: ScheduleSpec['overlap']): (typeof OVERLAP)[ScheduleSpec['overlap']] {
  return OVERLAP[o];
}

/**
 * Most fires one backfill request may start (PONTOON_API_MAX_BACKFILL_FIRES). Each fire is an
 * execution: a range of years on an hourly schedule would be hundreds of thousands of workflows from
 * one request. A thousand covers 41 days of an hourly schedule or 2.7 years of a daily one; longer
 * ranges are several requests, each refused or accepted whole.
 */
export const MAX_BACKFILL_FIRES = 1000;
