/**
 * The kubernetes runtime's defaults, declared once: the worker's configuration
 * (PONTOON_KEEP_FAILED_PODS, PONTOON_POD_DELETE_DELAY, PONTOON_IMAGE_PULL_GRACE,
 * PONTOON_UNSCHEDULABLE_TIMEOUT in worker/config.ts) and the runtime's own fallbacks for embedders
 * and tests (activities/kubernetes/runtime.ts) both read them. All in milliseconds.
 */
export const KUBERNETES_RUNTIME_DEFAULTS = {
  /** Failed pods are deleted at once (kept this long for debugging when set). */
  keepFailedPodsMs: 0,
  /**
   * A collected pod stays this long after its record was stored (a moment to look at it with
   * kubectl); exactly-once does not depend on it.
   */
  deleteDelayMs: 5000,
  /** How long image pulls may keep failing (ErrImagePull, ImagePullBackOff) before ImageUnavailable. */
  imagePullGraceMs: 60_000,
  /** How long a pod may stay unschedulable before the attempt fails (retryable). */
  unschedulableTimeoutMs: 5 * 60_000,
  /** How often the sweeper looks for finished pods nobody collected. */
  sweepIntervalMs: 30_000,
  /**
   * A finished pod no attempt awaits is swept this long after it finished (plus keepFailedPodsMs):
   * long enough for the retry of an attempt whose worker was lost to come and adopt it.
   */
  sweepAfterMs: 5 * 60_000,
} as const;
