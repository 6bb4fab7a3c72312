/** Function specs the benchmarks apply (no-op functions for each runtime and mode). */
import type { Client } from '@temporalio/client';
import { applySpec, startExecution, waitForResult } from '../client/functions.ts';
import { type FunctionSpec, type FunctionSpecInput, functionSpecSchema } from '../core/schema.ts';
import { simAnnotations } from './cluster.ts';
import { BASELINE_TASK_QUEUE } from './lib.ts';
import type { Job } from './load.ts';

function spec(name: string, s: Partial<FunctionSpecInput['spec']>): FunctionSpec {
  return functionSpecSchema().parse({
    apiVersion: 'pontoon.dev/v1',
    kind: 'Function',
    metadata: { name },
    spec: { image: 'example.invalid/functions/bench:1', ...s },
  });
}

/** Local runtime, on-demand: a process per attempt running `true` (the cheapest possible no-op). */
export const localNoop = (name: string, extra: Partial<FunctionSpecInput['spec']> = {}) =>
  spec(name, { local: { command: ['true'] }, ...extra });

/**
 * Local runtime, warm: replicas of the example warm-greeter server (a no-op HTTP handler), sized
 * so the pool is never the limit: 2 replicas × 32 calls each, no scale-down during the run.
 */
export const localWarm = (name: string) =>
  spec(name, {
    local: { command: ['node', 'function-specs/examples/warm-greeter.mjs'] },
    execution: { mode: 'warm', timeout: '30s' } as FunctionSpecInput['spec']['execution'],
    warm: { minReplicas: 2, maxReplicas: 2, concurrencyPerReplica: 32, scaleDownDelay: '30m' },
  });

/** Kubernetes runtime on kwok: a pod that runs `durationS` and ends with the observer's report. */
export const kubeNoop = (name: string, durationS: number, nodeSelector?: Record<string, string>) =>
  spec(name, {
    podAnnotations: simAnnotations(durationS),
    ...(nodeSelector ? { nodeSelector } : {}),
  });

/**
 * The version each applied function is at, per client (each stack has its own dev server, and
 * --quick runs scenarios of several stacks at once): starts pin it, as the API does (see SpecReader).
 */
const pins = new WeakMap<Client, Map<string, { version: number; appliedAt: string }>>();

export async function apply(client: Client, taskQueue: string, s: FunctionSpec): Promise<void> {
  const r = await applySpec(client, s, taskQueue);
  const of = pins.get(client) ?? new Map();
  pins.set(client, of);
  of.set(s.metadata.name, { version: r.version, appliedAt: r.appliedAt });
}

/**
 * Starts one Pontoon execution; the returned function waits for its result (fails unless it
 * succeeded), and its `abandon()` terminates the execution.
 */
export async function startPontoon(
  client: Client,
  taskQueue: string,
  fn: string,
): Promise<(() => Promise<void>) & { abandon(): Promise<void> }> {
  const pin = pins.get(client)?.get(fn);
  const s = await startExecution(
    client,
    { function: fn, ...(pin ? { spec: pin } : {}) },
    { trigger: 'sdk', taskQueue },
  );
  const wait = async () => {
    let r: Awaited<ReturnType<typeof waitForResult>>;
    try {
      r = await waitForResult(client, s.executionId);
    } catch (err) {
      throw new Error(`${s.executionId}: ${causes(err)}`);
    }
    if (r.status !== 'succeeded') throw new Error(`${s.executionId} ${r.status}: ${r.failure?.message}`);
  };
  const abandon = async () => {
    await client.workflow.getHandle(s.executionId).terminate('benchmark: not drained in time');
  };
  return Object.assign(wait, { abandon });
}

/** The messages of an error and its causes (a workflow failure wraps the real reason). */
export function causes(err: unknown): string {
  const out: string[] = [];
  for (
    let e = err as { message?: string; cause?: unknown } | undefined;
    e && out.length < 5;
    e = e.cause as typeof e
  ) {
    if (e.message) out.push(e.message);
  }
  return out.join(' ← ');
}

/** One Pontoon execution, invoke → result; fails unless it succeeded. */
export function pontoonJob(client: Client, taskQueue: string, fn: string): Job {
  return async () => {
    await (await startPontoon(client, taskQueue, fn))();
  };
}

let baselineSeq = 0;
/** The bare-Temporal baseline: a workflow with one no-op activity, on its own worker and task queue. */
export function bareTemporalJob(client: Client): Job {
  const prefix = `baseline-${Date.now().toString(36)}`;
  return async () => {
    await client.workflow.execute('baselineNoop', {
      taskQueue: BASELINE_TASK_QUEUE,
      workflowId: `${prefix}-${baselineSeq++}`,
      args: [{}],
    });
  };
}
