/**
 * The failure table: every failure type Pontoon produces or branches on, in one place. Workflows
 * branch on these strings (`err.cause.type` of an ActivityFailure), never on error classes; activities
 * throw them; the API answers them. Pure, zod-free and deterministic: executions load it (and the
 * worker preloads it), so it imports nothing.
 *
 * - `FAILURE_TYPES`: how an execution (or one attempt of it) ends, and whether another attempt is
 *   worth it. The execution's `failure.type`, the PontoonFailureType search attribute, dead letters.
 * - `APPLY_FAILURES`: why an `apply` of a spec is refused (the controller's Update and the activities
 *   it runs); the API turns the first two into a 400 naming the field.
 * - `NOTIFY_FAILURES`: how a webhook delivery (`sendNotifications`) fails.
 * - `ATTEMPT_NON_RETRYABLE`, `NOTIFY_NON_RETRYABLE`: the activity retry policies' non-retryable lists.
 */

/**
 * The failure types of executions, and whether each is worth another attempt. One table decides
 * retry vs stop; workflows branch on these strings, never on error classes.
 */
export const FAILURE_TYPES = {
  /**
   * The spec cannot be used as applied: its `spec.input.schema` or `spec.output.schema` does not
   * compile, or names a schemaFile it does not hold (a spec applied around `pontoon apply` and the
   * API, which refuse both). Produced by `checkExecutionInput` (activities/typed-io.ts, before any
   * attempt) and by the attempt's result check (`checkedOutcome`, core/io-schema.ts); the
   * controller's `apply` validator refuses an invalid spec with it too (APPLY_FAILURES.invalid).
   */
  SpecInvalid: { retryable: false },
  /** No spec has been applied under this name. */
  FunctionNotFound: { retryable: false },
  /**
   * The workflow input is malformed, or its `input` does not match the function's
   * `spec.input.schema` (the message names the JSON Pointer of each problem). Before any attempt.
   */
  InputInvalid: { retryable: false },
  /** A parameter is missing, unknown, of the wrong type, or its template failed. */
  ParameterInvalid: { retryable: false },
  /** The input JSON is over the limit. */
  InputTooLarge: { retryable: false },
  /** output.json is over the limit. */
  OutputTooLarge: { retryable: false },
  /**
   * output.json is not valid JSON, or the result does not match the function's
   * `spec.output.schema` (the message names the JSON Pointer of each problem).
   */
  OutputInvalid: { retryable: false },
  /** The function exited non-zero with a code the spec lists as non-retryable. */
  FunctionExitNonRetryable: { retryable: false },
  /** The function exited non-zero (or was killed by a signal). */
  FunctionExit: { retryable: true },
  /** The attempt ran past execution.timeout and was killed. */
  AttemptTimedOut: { retryable: true },
  /** The whole execution ran past execution.deadline. */
  DeadlineExceeded: { retryable: false },
  /** The command could not be started (not found, not executable). */
  LaunchFailed: { retryable: false },
  /** The container image cannot be pulled. */
  ImageUnavailable: { retryable: false },
  /** The Kubernetes API failed in a way worth retrying. */
  KubernetesTransient: { retryable: true },
  /**
   * The runtime could not run the attempt at all (worker or cluster error), after Temporal's own
   * retries of the attempt activity (up to 10, a lost worker included); not retried again.
   */
  RuntimeFailed: { retryable: false },
  /** The execution was cancelled while this attempt ran (the attempt was killed). */
  Cancelled: { retryable: false },
} as const;

export type FailureTypeName = keyof typeof FAILURE_TYPES;

/** Each type's name as a value (`FailureType.SpecInvalid === 'SpecInvalid'`), for code that names one. */
export const FailureType = Object.fromEntries(Object.keys(FAILURE_TYPES).map((t) => [t, t])) as {
  readonly [T in FailureTypeName]: T;
};

/** Why an attempt (or the execution) failed: a type of the table, its message, and the table's verdict. */
export interface AttemptFailure {
  type: FailureTypeName;
  message: string;
  retryable: boolean;
}

/** A failure of the table, with `retryable` as the table says. */
export function failure(type: FailureTypeName, message: string): AttemptFailure {
  return { type, message, retryable: FAILURE_TYPES[type].retryable };
}

/**
 * True for a string that names a type of FAILURE_TYPES (e.g. a failure's `type` from another
 * process). Own names only: `type in FAILURE_TYPES` would also take "toString" or "constructor".
 */
export function isFailureType(type: string | null | undefined): type is FailureTypeName {
  return typeof type === 'string' && Object.hasOwn(FAILURE_TYPES, type);
}

/**
 * Why an apply is refused. Each carries `{field, message}` details; the API answers `invalid` and
 * `refused` as a 400 naming the field.
 */
export const APPLY_FAILURES = {
  /** The controller's `apply` validator: the spec breaks the schema, names another function, or holds a literal secret. */
  invalid: FailureType.SpecInvalid,
  /** The controller: an activity of the apply met something the same spec would meet again (one of the next two, or ImageUnavailable). */
  refused: 'SpecRefused',
  /** reconcileSchedules: Temporal refused a schedule of the spec. */
  scheduleRefused: 'ScheduleRefused',
  /** ensureWarmPool (kubernetes): the warm pool asks for what functions may not use. */
  accessRefused: 'FunctionAccessRefused',
} as const;

/** Failure types of sendNotifications (workflows branch on these strings). */
export const NOTIFY_FAILURES = {
  /** A hook answered 5xx, 408 or 429, or could not be reached: retried. */
  transient: 'NotifyTransient',
  /** A hook answered another non-2xx status: not retried. */
  rejected: 'NotifyRejected',
  /** The hook's secretEnv variable is not set on this worker: not retried (nothing is sent unsigned). */
  secretMissing: 'NotifySecretMissing',
  /**
   * The hook's host is, or resolves to, a loopback, link-local, private or metadata address outside
   * PONTOON_NOTIFY_ALLOW_CIDRS: nothing was sent, not retried.
   */
  destinationRefused: 'NotifyDestinationRefused',
} as const;

/**
 * `nonRetryableErrorTypes` of sendNotifications in both workflows. NotifyDestinationRefused is not
 * listed: the activity throws it non-retryable itself. Part of the activities' options in recorded
 * histories: changing it (even its order) changes what workflows schedule.
 */
export const NOTIFY_NON_RETRYABLE: string[] = [NOTIFY_FAILURES.rejected, NOTIFY_FAILURES.secretMissing];

/**
 * Errors of the attempt activity that the same request would meet again: never retried by Temporal.
 * The table's types are those an attempt activity fails with when its function could not run
 * (`failedAttemptError`, for executions that fail the activity: SpecInvalid when a result schema
 * does not compile, LaunchFailed, ImageUnavailable); that error is non-retryable itself, so they are
 * listed for the reader and for older runtimes. TypeError and RangeError are what Node throws for
 * arguments it cannot use (e.g. ERR_INVALID_ARG_VALUE for a NUL byte in a spawn argument). Part of
 * the attempt activities' options in recorded histories: keep the order.
 */
export const ATTEMPT_NON_RETRYABLE: string[] = [
  FailureType.SpecInvalid,
  FailureType.LaunchFailed,
  FailureType.ImageUnavailable,
  'TypeError',
  'RangeError',
];
