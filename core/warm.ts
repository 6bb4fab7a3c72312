/**
 * A warm function's pool settings (`spec.warm`): their defaults, declared once, and the settings the
 * Scalar works with. The schema's `.default()`s use WARM_DEFAULTS, and so does every reader of a
 * spec whose `warm` section is absent (a spec that is not warm, or one stored before a field
 * existed): the controller's Scalar, the local warm pools, the warm Deployment and the execution's
 * fallback. Pure and zod-free: workflows load it.
 */
import { parseDuration } from './duration.ts';
import type { WarmSettings } from './scalar.ts';
import type { FunctionSpec } from './schema.ts';

/** What `spec.warm` holds when a field is left out (function-specs/function.schema.json says the same). */
export const WARM_DEFAULTS = {
  /** Replicas kept running when idle. */
  minReplicas: 1,
  /** Most replicas the Scalar (or the local pool) scales up to. */
  maxReplicas: 3,
  /** Invocations one replica serves at once. */
  concurrencyPerReplica: 1,
  /** Idle time before a replica is removed. */
  scaleDownDelay: '5m',
  /** kubernetes: what runs an attempt no warm replica started within fallbackAfter. */
  fallback: 'on-demand',
  /** kubernetes: how long a warm attempt may wait for a replica before the fallback applies. */
  fallbackAfter: '30s',
} as const;

/**
 * The Scalar's settings for a warm spec (core/scalar.ts), the function's concurrency limit among
 * them. The object's shape is part of `observeWarmDemand`'s input in the controller's history.
 */
export function warmSettings(spec: FunctionSpec): WarmSettings {
  const w = spec.spec.warm;
  return {
    minReplicas: w?.minReplicas ?? WARM_DEFAULTS.minReplicas,
    maxReplicas: w?.maxReplicas ?? WARM_DEFAULTS.maxReplicas,
    concurrencyPerReplica: w?.concurrencyPerReplica ?? WARM_DEFAULTS.concurrencyPerReplica,
    scaleDownDelayMs: parseDuration(w?.scaleDownDelay ?? WARM_DEFAULTS.scaleDownDelay),
    concurrency: spec.spec.execution.concurrency ?? null,
  };
}
