/**
 * What an execution shows of itself: its progress (the `progress` query: phase, attempts, next
 * attempt) and, for executions since the `legible-executions` patch, what the Web UI shows (a memo
 * at its start and end, current details kept up to date; core/legible.ts).
 */
import { setCurrentDetails, upsertMemo } from '@temporalio/workflow';
import type { ExecuteFunctionInput } from '../../core/execution.ts';
import {
  type ExecutionView,
  executionDetails,
  executionMemo,
  type LegibleStatus,
} from '../../core/legible.ts';
import type { ExecutionProgress } from '../definitions.ts';

export class Progress {
  /** The value of the `progress` query. */
  readonly progress: ExecutionProgress = {
    phase: 'starting',
    attempt: 0,
    maxAttempts: 0,
    parameters: {},
    attempts: [],
  };
  /** What the Web UI shows of this execution: the memo (when memo is set) and the current details. */
  readonly view: ExecutionView;

  constructor(
    private readonly legible: boolean,
    input: ExecuteFunctionInput,
  ) {
    this.view = {
      function: input.function,
      parameters: input.parameters ?? {},
      status: 'starting',
      attempt: 0,
      maxAttempts: 0,
      attempts: this.progress.attempts,
    };
  }

  /** Shows `status` (and `failed`) in the current details, and in the memo too when `memo`. */
  show(status: LegibleStatus, memo = false, failed?: { type: string; message: string }): void {
    if (!this.legible) return;
    const { view, progress } = this;
    view.status = status;
    view.attempt = progress.attempt;
    view.maxAttempts = progress.maxAttempts;
    view.nextAttemptAt = progress.nextAttemptAt;
    if (failed) view.failure = failed;
    setCurrentDetails(executionDetails(view));
    if (memo) upsertMemo(executionMemo(view));
  }
}
