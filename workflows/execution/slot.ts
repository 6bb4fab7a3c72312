/**
 * The slot of an execution whose function has a concurrency limit: asked of the function
 * controller's admission desk with the execution's priority, waited for, held by renewing its lease
 * every third of `slotLease` (a dead execution stops renewing and its slot frees itself), and given
 * back however the execution ends (success, failure, timeout, cancellation).
 */
import {
  CancellationScope,
  condition,
  getExternalWorkflowHandle,
  isCancellation,
  setHandler,
} from '@temporalio/workflow';
import { parseDuration } from '../../core/duration.ts';
import { controllerWorkflowId } from '../../core/names.ts';
import { releaseSlotSignal, renewSlotSignal, requestSlotSignal, slotGrantedSignal } from '../definitions.ts';
import { fail } from './fail.ts';

/** What the execution shows and records while it waits for its slot. */
export interface SlotHooks {
  /** The request is about to be sent: the execution is queued. */
  queued(): void;
  /** The controller could not be reached; the execution then fails FunctionNotFound with `message`. */
  unreachable(message: string): void;
  /** Cancelled while queued: still an execution that ended, for the metrics. */
  cancelledWhileQueued(): Promise<void>;
}

/** Runs `body` holding a slot of `fn`'s concurrency limit; the slot is released when it settles. */
export async function withSlot<T>(
  slot: { fn: string; executionId: string; priority: number; slotLease: string },
  hooks: SlotHooks,
  body: () => Promise<T>,
): Promise<T> {
  const { executionId } = slot;
  const controller = getExternalWorkflowHandle(controllerWorkflowId(slot.fn));
  let granted = false;
  let holding = false;
  setHandler(slotGrantedSignal, () => {
    granted = true;
  });
  hooks.queued();
  try {
    await controller.signal(requestSlotSignal, { executionId, priority: slot.priority });
  } catch (err) {
    const message = `the controller of "${slot.fn}" is not running (was it deleted?): ${String(err)}`;
    hooks.unreachable(message);
    return fail('FunctionNotFound', message);
  }
  const leaseMs = parseDuration(slot.slotLease);
  try {
    try {
      await condition(() => granted);
    } catch (err) {
      if (isCancellation(err)) await hooks.cancelledWhileQueued();
      throw err;
    }
    holding = true;
    // Renew the lease while holding the slot; a dead execution stops renewing and its slot frees itself.
    void CancellationScope.nonCancellable(async () => {
      while (holding) {
        if (await condition(() => !holding, Math.floor(leaseMs / 3))) break;
        await controller.signal(renewSlotSignal, { executionId }).catch(() => undefined);
      }
    });
    return await body();
  } finally {
    holding = false;
    await CancellationScope.nonCancellable(() =>
      controller.signal(releaseSlotSignal, { executionId }).catch(() => undefined),
    );
  }
}
