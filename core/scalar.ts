/**
 * The Scalar's rule (pure, used by the function controller workflow): how many warm replicas a
 * function should have for the demand it sees.
 *
 *   target = clamp(ceil(demand / concurrencyPerReplica), minReplicas, maxReplicas)
 *
 * Demand is the number of the function's executions that are open (running, waiting for an attempt
 * or queued for a slot), capped by its concurrency limit when it has one: more replicas than
 * admitted executions could never be busy. Scale up happens at once; scale down only once the
 * target has stayed below the current size for scaleDownDelay without a break (any observation at
 * or above the current size restarts the wait), and then straight to the target.
 */

export interface WarmSettings {
  minReplicas: number;
  maxReplicas: number;
  concurrencyPerReplica: number;
  scaleDownDelayMs: number;
  /** The function's concurrency limit, if any. */
  concurrency?: number | null;
}

export interface ScalarState {
  /** Replicas the Deployment is set to. */
  replicas: number;
  /** Since when the target has been below `replicas` (epoch ms), if it is. */
  lowSince?: number;
}

export interface ScalingDecision {
  at: string;
  from: number;
  to: number;
  demand: number;
  reason: string;
}

export function targetReplicas(demand: number, s: WarmSettings): number {
  const capped = s.concurrency ? Math.min(demand, s.concurrency) : demand;
  const wanted = Math.ceil(Math.max(0, capped) / s.concurrencyPerReplica);
  return Math.min(s.maxReplicas, Math.max(s.minReplicas, wanted));
}

export interface Step {
  state: ScalarState;
  /** Set when the Deployment must be scaled now. */
  decision?: ScalingDecision;
  /** When to look again at the latest, if nothing changes before (epoch ms), for a pending scale-down. */
  recheckAt?: number;
}

/** One observation of demand → the next state and, if due, a scaling decision. */
export function scalarStep(state: ScalarState, demand: number, now: number, s: WarmSettings): Step {
  const target = targetReplicas(demand, s);
  const per = s.concurrencyPerReplica;
  const at = new Date(now).toISOString();
  const load = `${demand} open execution${demand === 1 ? '' : 's'}, ${per} per replica`;
  // Settings changed under us (a new spec): the bounds win at once.
  if (state.replicas < s.minReplicas || state.replicas > s.maxReplicas) {
    const to = Math.min(s.maxReplicas, Math.max(s.minReplicas, state.replicas));
    return {
      state: { replicas: to },
      decision: {
        at,
        from: state.replicas,
        to,
        demand,
        reason: `bounds are ${s.minReplicas}..${s.maxReplicas}`,
      },
    };
  }
  if (target > state.replicas) {
    return {
      state: { replicas: target },
      decision: {
        at,
        from: state.replicas,
        to: target,
        demand,
        reason: target === s.maxReplicas && target < Math.ceil(demand / per) ? `${load} (at max)` : load,
      },
    };
  }
  if (target === state.replicas) return { state: { replicas: state.replicas } };
  const lowSince = state.lowSince ?? now;
  const due = lowSince + s.scaleDownDelayMs;
  if (now < due) return { state: { replicas: state.replicas, lowSince }, recheckAt: due };
  return {
    state: { replicas: target },
    decision: {
      at,
      from: state.replicas,
      to: target,
      demand,
      reason: `${load}; below ${state.replicas} replicas for ${Math.round((now - lowSince) / 1000)}s (scaleDownDelay ${Math.round(s.scaleDownDelayMs / 1000)}s)`,
    },
  };
}
