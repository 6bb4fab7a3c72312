/**
 * The Scalar loop: the warm pool of a warm function, on a runtime whose pools the controller sizes
 * (kubernetes). `reconcile` creates, resizes to the spec's bounds or removes the pool with an apply
 * or delete; `run` observes demand (a long-polling activity, cancelled when the spec changes so new
 * settings apply at once) and scales by the Scalar's rule (core/scalar.ts), each decision in turn
 * with applies and deletes and kept in the state (the last DECISIONS_KEPT; all are in the history).
 */
import {
  CancellationScope,
  condition,
  isCancellation,
  log,
  proxyActivities,
  sleep,
} from '@temporalio/workflow';
import type { Activities } from '../../activities/index.ts';
import { scalarStep } from '../../core/scalar.ts';
import type { FunctionSpec } from '../../core/schema.ts';
import { warmSettings } from '../../core/warm.ts';
import type { WarmPoolState } from '../definitions.ts';
import type { Serial } from './serial.ts';
import type { ControllerState } from './state.ts';

/** Scaling decisions kept in the controller's state (all of them are in its history). */
const DECISIONS_KEPT = 50;
/** An idle pool's demand is looked at again at least this often (one activity in history each time). */
const OBSERVE_MAX_WAIT_MS = 60_000;

const { ensureWarmPool, scaleWarmPool, removeWarmPool } = proxyActivities<Activities>({
  startToCloseTimeout: '1m',
  retry: { initialInterval: '1s', maximumAttempts: 5 },
});
const { observeWarmDemand } = proxyActivities<Activities>({
  startToCloseTimeout: OBSERVE_MAX_WAIT_MS + 30_000,
  heartbeatTimeout: '15s',
  retry: { initialInterval: '1s', maximumInterval: '30s' },
});

const isWarm = (spec: FunctionSpec | null | undefined): spec is FunctionSpec =>
  spec?.spec.execution.mode === 'warm';

export class ScalarLoop {
  /** Observation of demand in flight: cancelled when the spec changes, so new settings apply at once. */
  private observing: CancellationScope | undefined;
  private stopping = false;

  /** `deleted`: the function was deleted (the loop ends). */
  constructor(
    private readonly state: ControllerState,
    private readonly serial: Serial,
    private readonly deleted: () => boolean,
  ) {}

  /** The warm pool for `spec` (created or resized into its bounds), or none when it stops being warm. */
  async reconcile(spec: FunctionSpec | null, previous: FunctionSpec | null): Promise<void> {
    const state = this.state;
    if (isWarm(spec)) {
      const settings = warmSettings(spec);
      const keep = state.warm?.scalar.replicas ?? settings.minReplicas;
      const replicas = Math.min(settings.maxReplicas, Math.max(settings.minReplicas, keep));
      const result = await ensureWarmPool({ spec, replicas });
      if (!result.managed) {
        state.warm = undefined;
        return;
      }
      const decisions = state.warm?.decisions ?? [];
      if (!state.warm || keep !== replicas) {
        decisions.push({
          at: new Date().toISOString(),
          from: state.warm ? keep : 0,
          to: replicas,
          demand: state.warm?.demand ?? 0,
          reason: state.warm
            ? `spec changed: bounds are ${settings.minReplicas}..${settings.maxReplicas}`
            : 'warm pool created at minReplicas',
        });
      }
      state.warm = {
        scalar: { replicas },
        readyReplicas: result.status?.readyReplicas ?? 0,
        demand: state.warm?.demand ?? 0,
        ...(state.warm?.observedAt !== undefined ? { observedAt: state.warm.observedAt } : {}),
        decisions: decisions.slice(-DECISIONS_KEPT),
      };
      this.observing?.cancel();
    } else if (isWarm(previous)) {
      await removeWarmPool({ function: state.name });
      state.warm = undefined;
      this.observing?.cancel();
    }
  }

  /** The `warmPool` query: null for a function that is not warm. */
  view(): WarmPoolState | null {
    const state = this.state;
    if (!isWarm(state.current?.spec)) return null;
    const w = state.warm;
    if (!w) return { managed: false, replicas: 0, readyReplicas: 0, demand: 0, decisions: [] };
    return {
      managed: true,
      replicas: w.scalar.replicas,
      readyReplicas: w.readyReplicas,
      demand: w.demand,
      ...(w.observedAt !== undefined ? { observedAt: new Date(w.observedAt).toISOString() } : {}),
      ...(w.scalar.lowSince !== undefined ? { lowSince: new Date(w.scalar.lowSince).toISOString() } : {}),
      decisions: w.decisions,
    };
  }

  /** Observes and scales while the function is warm, until `stop` or the function is deleted. */
  async run(): Promise<void> {
    const state = this.state;
    for (;;) {
      await condition(
        () => this.stopping || this.deleted() || (state.warm !== undefined && isWarm(state.current?.spec)),
      );
      if (this.stopping || this.deleted()) return;
      const spec = state.current!.spec;
      const warm = state.warm!;
      const settings = warmSettings(spec);
      const scope = new CancellationScope();
      this.observing = scope;
      let observed: Awaited<ReturnType<typeof observeWarmDemand>>;
      try {
        observed = await scope.run(() =>
          observeWarmDemand({
            function: state.name,
            state: warm.scalar,
            settings,
            maxWaitMs: OBSERVE_MAX_WAIT_MS,
          }),
        );
      } catch (err) {
        if (!isCancellation(err)) {
          log.warn('could not observe warm demand; trying again', { error: String(err) });
          await sleep('5s');
        }
        continue;
      } finally {
        this.observing = undefined;
      }
      // The spec may have changed while observing: decide with the current settings, on the current pool.
      if (state.warm !== warm || !isWarm(state.current?.spec)) continue;
      warm.demand = observed.demand;
      warm.observedAt = Date.now();
      if (observed.status) warm.readyReplicas = observed.status.readyReplicas;
      const step = scalarStep(warm.scalar, observed.demand, Date.now(), warmSettings(state.current!.spec));
      if (!step.decision) {
        warm.scalar = step.state;
        continue;
      }
      const decision = step.decision;
      try {
        // Serialised with apply/delete: a spec change never resets a count decided meanwhile.
        const status = await this.serial.run(() => scaleWarmPool({ function: state.name, decision }));
        if (state.warm !== warm) continue;
        warm.scalar = step.state;
        if (status) warm.readyReplicas = status.readyReplicas;
        warm.decisions.push(decision);
        if (warm.decisions.length > DECISIONS_KEPT) warm.decisions.shift();
        log.info('warm pool scaled', { ...decision });
      } catch (err) {
        log.warn('could not scale the warm pool; trying again', { error: String(err), ...decision });
        await sleep('5s');
      }
    }
  }

  /** Ends `run` at its next turn, cancelling an observation in flight. */
  stop(): void {
    this.stopping = true;
    this.observing?.cancel();
  }
}
