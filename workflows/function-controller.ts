/**
 * functionController (workflow id `fn:<function>`): one per function, the system of record for its
 * spec. `apply` (an Update, validated before it is accepted) stores a new version; queries read the
 * current spec and its history. Continues as new when the history grows, after in-flight handlers
 * finish. For functions with a concurrency limit it admits executions by priority (with aging)
 * and frees the slots of executions that stop renewing their lease.
 *
 * This file is the wiring: each message goes to the part that owns it (controller/): the spec store,
 * the schedule guard, the Scalar loop and the admission desk, which share the state carried across
 * continue-as-new. The order of the handlers and of the steps below is part of recorded histories.
 */
import {
  allHandlersFinished,
  condition,
  continueAsNew,
  makeContinueAsNewFunc,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import { AdmissionDesk } from './controller/admission-desk.ts';
import { ScalarLoop } from './controller/scalar-loop.ts';
import { ScheduleGuard } from './controller/schedule-guard.ts';
import { Serial } from './controller/serial.ts';
import { type Reconcilers, SpecStore } from './controller/spec-store.ts';
import type { ControllerState } from './controller/state.ts';
import {
  admissionQuery,
  applyUpdate,
  deleteUpdate,
  releaseSlotSignal,
  renewSlotSignal,
  requestSlotSignal,
  scheduleOutcomeSignal,
  specHistoryQuery,
  specQuery,
  warmPoolQuery,
} from './definitions.ts';

export { CONTROLLER_HISTORY_LIMIT } from './controller/spec-store.ts';
export type { ControllerState } from './controller/state.ts';

export interface FunctionControllerArgs {
  name: string;
  /** Carried across continue-as-new. */
  state?: ControllerState;
  /** Continue as new past this many history events (tests); otherwise when Temporal suggests it. */
  continueAsNewAfterEvents?: number;
}

export async function functionController(args: FunctionControllerArgs): Promise<void> {
  const state: ControllerState = args.state ?? { name: args.name, current: null, previous: [] };
  const store = new SpecStore(state);

  setHandler(specQuery, () => state.current);
  store.publish();
  setHandler(specHistoryQuery, () => state.previous);

  // One change at a time: applies and deletes reconcile schedules in the order they were accepted.
  const serial = new Serial();
  const schedules = new ScheduleGuard(state, serial);
  const scalar = new ScalarLoop(state, serial, () => store.deleted);
  const reconcile: Reconcilers = {
    schedules: (spec, previous) => schedules.reconcile(spec, previous),
    warm: (spec, previous) => scalar.reconcile(spec, previous),
  };
  setHandler(warmPoolQuery, () => scalar.view());
  setHandler(applyUpdate, (raw) => serial.run(() => store.apply(raw, reconcile)), {
    validator: (raw) => store.refuseLiteralSecrets(raw),
  });
  setHandler(scheduleOutcomeSignal, (outcome) => schedules.outcome(outcome));
  setHandler(deleteUpdate, () => serial.run(() => store.delete(reconcile)));

  // Declared before the handlers: buffered signals are delivered as soon as a handler is set.
  const desk = new AdmissionDesk(state);
  setHandler(requestSlotSignal, (req) => desk.request(req));
  setHandler(releaseSlotSignal, (req) => desk.release(req));
  setHandler(renewSlotSignal, (req) => desk.renew(req));
  setHandler(admissionQuery, () => desk.view());

  const canContinueAsNew = () =>
    workflowInfo().continueAsNewSuggested ||
    (args.continueAsNewAfterEvents !== undefined &&
      workflowInfo().historyLength > args.continueAsNewAfterEvents);

  const scalarDone = scalar.run();
  await desk.serve(() => store.deleted || canContinueAsNew());
  // Deleting the function lets waiting executions run with the spec they already hold.
  if (store.deleted) await desk.grantAllQueued();
  scalar.stop();
  await scalarDone;
  await condition(allHandlersFinished);
  if (store.deleted) return;
  const next = { ...args, name: state.name, state };
  // The new run starts with the memo (Temporal does not carry a memo across continue-as-new).
  const memo = store.memoForNextRun();
  if (memo) await makeContinueAsNewFunc<typeof functionController>({ memo })(next);
  await continueAsNew<typeof functionController>(next);
}
