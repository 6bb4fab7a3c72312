/**
 * Load generation: sequential calls, open-loop calls at a fixed rate, and the throughput ramp.
 *
 * The ramp finds the **sustained throughput** of a job (one execution, invoke → result): the
 * highest offered rate at which completions keep up with starts. Open loop: starts are issued on a
 * fixed timetable whatever happens to earlier ones, so an overloaded system builds a backlog
 * (backlog = started − finished) instead of slowing the generator down.
 *
 * 1. Warm-up: 5 sequential jobs; their median latency L gives the first rate, 1/L (what one
 *    sequential caller achieves, so it is below the capacity of anything with any concurrency).
 * 2. Steps: the offered rate is multiplied by `growth` (2 with --quick, 1.5 in the full run) each
 *    step of `stepMs` (2 s / 3 s, and at least 4 × L / 5 × L so the backlog has time to settle). A step
 *    **holds** when no job in it fails, the backlog does not grow — its least-squares slope
 *    (sampled every 100 ms) over the step's last two thirds is at most 10% of the offered rate
 *    (+0.5/s for the jitter of small integers) — and completions in that window reach 85% of the
 *    offered rate (−1 job). The first third is left out: it is where the backlog settles at rate ×
 *    latency after a step up.
 * 3. The ramp rises until a step does not hold (if the very first one fails, it steps down).
 * 4. Refinement: between the last held and the first failed rate, the geometric midpoint is tried
 *    once, after the backlog has drained.
 * Sustained throughput = completions per second measured over the highest held step's window.
 */
import { percentile, sleep } from './lib.ts';

export type Job = () => Promise<void>;

/** Runs `n` jobs one after another (after `warmup` unmeasured ones); returns each one's milliseconds. */
export async function sequential(job: Job, n: number, warmup = 5): Promise<number[]> {
  for (let i = 0; i < warmup; i++) await job();
  const ms: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await job();
    ms.push(performance.now() - t);
  }
  return ms;
}

interface Tracker {
  offered: number;
  finished: number;
  failed: number;
  errors: string[];
  /** [finish time, latency ms] of each successful job, in finish order. */
  done: [number, number][];
  inFlight: Set<Promise<void>>;
}

function tracker(): Tracker {
  return { offered: 0, finished: 0, failed: 0, errors: [], done: [], inFlight: new Set() };
}

function fire(job: Job, t: Tracker): Promise<void> {
  const started = performance.now();
  t.offered++;
  const p = job().then(
    () => {
      t.finished++;
      const now = performance.now();
      t.done.push([now, now - started]);
    },
    (err) => {
      t.finished++;
      t.failed++;
      if (t.errors.length < 5) t.errors.push(String(err?.message ?? err));
    },
  );
  t.inFlight.add(p);
  void p.finally(() => t.inFlight.delete(p));
  return p;
}

/** Issues jobs open-loop at `rate` per second for `durationMs`, sampling the backlog every 100 ms. */
async function offer(job: Job, t: Tracker, rate: number, durationMs: number) {
  const samples: [number, number][] = [];
  const t0 = performance.now();
  const end = t0 + durationMs;
  let fired = 0;
  let nextSample = t0;
  for (;;) {
    const now = performance.now();
    if (now >= nextSample) {
      samples.push([now, t.offered - t.finished]);
      nextSample += 100;
    }
    if (now >= end) break;
    const due = Math.floor(((now - t0) * rate) / 1000) + 1;
    while (fired < due) {
      void fire(job, t);
      fired++;
    }
    const nextDue = t0 + (fired * 1000) / rate;
    await sleep(Math.max(1, Math.min(nextDue, nextSample, end) - performance.now()));
  }
  return { t0, end, samples };
}

/** Waits until every job in flight has finished (or `timeoutMs` passed); returns how long it took. */
async function drain(t: Tracker, timeoutMs: number): Promise<number> {
  const start = performance.now();
  while (t.inFlight.size > 0 && performance.now() - start < timeoutMs) {
    await Promise.race([Promise.allSettled([...t.inFlight]), sleep(250)]);
  }
  return performance.now() - start;
}

/** Jobs open-loop at a fixed rate; returns the latency of each (all awaited). */
export async function fixedRate(job: Job, rate: number, durationMs: number) {
  const t = tracker();
  await offer(job, t, rate, durationMs);
  await drain(t, 120_000);
  if (t.failed) throw new Error(`${t.failed} of ${t.offered} jobs failed: ${t.errors.join('; ')}`);
  return t.done.map(([, ms]) => ms);
}

function slopePerSecond(points: [number, number][]): number {
  const n = points.length;
  if (n < 2) return 0;
  const mx = points.reduce((s, [x]) => s + x, 0) / n;
  const my = points.reduce((s, [, y]) => s + y, 0) / n;
  let num = 0;
  let den = 0;
  for (const [x, y] of points) {
    num += (x - mx) * (y - my);
    den += (x - mx) ** 2;
  }
  return den === 0 ? 0 : (num / den) * 1000;
}

export interface RampStep {
  offeredPerSec: number;
  completedPerSec: number;
  backlogStart: number;
  backlogEnd: number;
  backlogSlopePerSec: number;
  failed: number;
  held: boolean;
  latencyP50Ms: number;
  latencyP99Ms: number;
}

export interface RampResult {
  sequentialLatencyMs: number;
  /** Jobs that completed during the whole ramp (warm-up included). */
  completed: number;
  steps: RampStep[];
  /** Completions per second over the highest held step, at most its offered rate (NaN: none held). */
  sustainedPerSec: number;
  sustainedOfferedPerSec: number;
  /** Offered and completed rate of the lowest step that did not hold (after refinement). */
  firstFailedOfferedPerSec?: number;
  saturatedPerSec?: number;
  drainMs: number;
  errors: string[];
}

export interface RampOptions {
  quick: boolean;
  label: string;
  log: (line: string) => void;
  /** Never offer more than this (protects a cluster from runaway pod counts). */
  maxRate?: number;
  /** Called before each refinement step, after the backlog drained (e.g. wait for servers to calm). */
  settle?: () => Promise<void>;
}

export async function findSustainedRate(job: Job, opts: RampOptions): Promise<RampResult> {
  const growth = opts.quick ? 2 : 1.5;
  const refinements = 1;
  const maxRate = opts.maxRate ?? 2000;
  const warm: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    await job();
    warm.push(performance.now() - t0);
  }
  const latencyMs = percentile(warm.slice(2), 50);
  const stepMs = Math.max(opts.quick ? 2000 : 3000, (opts.quick ? 4 : 5) * latencyMs);
  const t = tracker();
  const steps: RampStep[] = [];
  const runStep = async (rate: number): Promise<RampStep> => {
    const failedBefore = t.failed;
    const { t0, end, samples } = await offer(job, t, rate, stepMs);
    const from = t0 + stepMs / 3;
    const windowS = (end - from) / 1000;
    const slope = slopePerSecond(samples.filter(([at]) => at >= from));
    const finished = t.done.filter(([at]) => at >= from && at <= end);
    const failed = t.failed - failedBefore;
    const step: RampStep = {
      offeredPerSec: rate,
      completedPerSec: finished.length / windowS,
      backlogStart: samples[0]?.[1] ?? 0,
      backlogEnd: samples[samples.length - 1]?.[1] ?? 0,
      backlogSlopePerSec: slope,
      failed,
      held: failed === 0 && slope <= 0.1 * rate + 0.5 && finished.length >= 0.85 * rate * windowS - 1,
      latencyP50Ms: percentile(
        finished.map(([, ms]) => ms),
        50,
      ),
      latencyP99Ms: percentile(
        finished.map(([, ms]) => ms),
        99,
      ),
    };
    opts.log(
      `[ramp] ${opts.label}: offered ${rate.toFixed(1)}/s → completed ${step.completedPerSec.toFixed(1)}/s, backlog ${step.backlogStart}→${step.backlogEnd} (slope ${slope.toFixed(1)}/s), p50 ${step.latencyP50Ms.toFixed(0)} ms${failed ? `, ${failed} failed` : ''}: ${step.held ? 'holds' : 'backlog grows'}`,
    );
    steps.push(step);
    return step;
  };

  let held: RampStep | undefined;
  let failed: RampStep | undefined;
  const first = Math.min(maxRate, Math.max(0.5, 1000 / latencyMs));
  opts.log(
    `[ramp] ${opts.label}: sequential latency ${latencyMs.toFixed(0)} ms; ramp from ${first.toFixed(1)}/s, steps of ${(stepMs / 1000).toFixed(1)} s`,
  );
  for (let rate = first; ; rate = Math.min(maxRate, rate * growth)) {
    const step = await runStep(rate);
    if (!step.held) {
      failed = step;
      break;
    }
    held = step;
    if (rate >= maxRate || steps.length >= 14) break;
  }
  for (let rate = first / growth; !held && rate >= 0.25; rate /= growth) {
    await drain(t, 60_000);
    await opts.settle?.();
    const step = await runStep(rate);
    if (step.held) held = step;
    else failed = step;
  }
  for (let i = 0; i < refinements && held && failed; i++) {
    // A step that completed nothing means something broke (not a rate question): no refinement.
    if (failed.completedPerSec === 0) break;
    await drain(t, 60_000);
    await opts.settle?.();
    const step = await runStep(Math.sqrt(held.offeredPerSec * failed.offeredPerSec));
    if (step.held) held = step;
    else failed = step;
  }
  const drainMs = await drain(t, 60_000);
  if (t.inFlight.size) opts.log(`[ramp] ${opts.label}: ${t.inFlight.size} jobs still in flight after 60 s`);
  return {
    sequentialLatencyMs: latencyMs,
    completed: t.done.length + warm.length,
    steps,
    sustainedPerSec: held ? Math.min(held.completedPerSec, held.offeredPerSec) : Number.NaN,
    sustainedOfferedPerSec: held?.offeredPerSec ?? Number.NaN,
    ...(failed
      ? { firstFailedOfferedPerSec: failed.offeredPerSec, saturatedPerSec: failed.completedPerSec }
      : {}),
    drainMs,
    errors: t.errors,
  };
}
