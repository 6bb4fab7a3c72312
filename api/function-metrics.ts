/**
 * Gauges of what the function controllers hold — queue depth and oldest wait per priority, slots in
 * use, warm replicas desired and ready — served with the API's /metrics. The controllers are the
 * system of record, so the API asks them (one query each, in parallel, with a short deadline) when
 * Prometheus scrapes, and reuses the answer for `maxAgeMs` so frequent scrapes cost nothing extra.
 * Functions whose controller does not answer in time are left out of that scrape.
 */
import type { Client } from '@temporalio/client';
import { Gauge, type Registry } from 'prom-client';
import { listWorkflowIds } from '../client/list-ids.ts';
import { WorkflowType } from '../core/names.ts';
import {
  type AdmissionState,
  admissionQuery,
  type WarmPoolState,
  warmPoolQuery,
} from '../workflows/definitions.ts';

export interface FunctionState {
  function: string;
  admission: AdmissionState | null;
  warm: WarmPoolState | null;
}

export interface FunctionMetricsOptions {
  /** Reuse one collection for this long (ms). */
  maxAgeMs?: number;
  /** Most functions looked at per scrape. */
  maxFunctions?: number;
  /** Deadline of one controller query (ms). */
  queryTimeoutMs?: number;
  /**
   * Only the controllers on this task queue: the functions this deployment serves. A controller
   * on another queue (another deployment, a stopped worker) would only cost a timed-out query.
   */
  taskQueue?: string;
}

const PRIORITIES = ['1', '2', '3', '4', '5'] as const;

function within<T>(ms: number, p: Promise<T>): Promise<T | undefined> {
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(undefined), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      () => {
        clearTimeout(t);
        resolve(undefined);
      },
    );
  });
}

/** Reads every running controller's admission and warm pool state. */
export async function readFunctionStates(
  client: Client,
  opts: FunctionMetricsOptions = {},
): Promise<FunctionState[]> {
  const max = opts.maxFunctions ?? 500;
  const timeout = opts.queryTimeoutMs ?? 3000;
  // Ids only (client/list-ids.ts): nothing decoded, so a controller whose memo this process cannot
  // decode does not stop the scrape.
  const ids = (
    await listWorkflowIds(
      client,
      `WorkflowType = '${WorkflowType.controller}' AND ExecutionStatus = 'Running'${
        opts.taskQueue ? ` AND TaskQueue = '${opts.taskQueue}'` : ''
      }`,
    )
  )
    .filter((id) => id.startsWith('fn:'))
    .slice(0, max);
  const states: FunctionState[] = [];
  const next = [...ids];
  const workers = Array.from({ length: Math.min(10, next.length) }, async () => {
    for (let id = next.shift(); id; id = next.shift()) {
      const h = client.workflow.getHandle(id);
      const [admission, warm] = await Promise.all([
        within(timeout, h.query(admissionQuery)),
        within(timeout, h.query(warmPoolQuery)),
      ]);
      if (admission === undefined && warm === undefined) continue;
      states.push({
        function: id.slice(3),
        admission: admission?.concurrency ? admission : null,
        warm: warm ?? null,
      });
    }
  });
  await Promise.all(workers);
  return states;
}

export function registerFunctionMetrics(
  registry: Registry,
  client: Client,
  opts: FunctionMetricsOptions = {},
): void {
  if (registry.getSingleMetric('pontoon_queue_depth')) return; // already registered (shared registry)
  const maxAge = opts.maxAgeMs ?? 2000;
  let cached: { at: number; states: Promise<FunctionState[]> } | undefined;
  const states = (): Promise<FunctionState[]> => {
    if (!cached || Date.now() - cached.at > maxAge) {
      cached = { at: Date.now(), states: readFunctionStates(client, opts).catch(() => []) };
    }
    return cached.states;
  };
  const registers = [registry];
  const fnLabel = ['function'] as const;
  const prioLabels = ['function', 'priority'] as const;

  new Gauge({
    name: 'pontoon_queue_depth',
    help: 'Executions waiting for a concurrency slot, by function and requested priority (1 highest).',
    labelNames: prioLabels,
    registers,
    async collect() {
      this.reset();
      for (const s of await states()) {
        if (!s.admission) continue;
        for (const p of PRIORITIES)
          this.set({ function: s.function, priority: p }, s.admission.queuedByPriority[p]);
      }
    },
  });
  new Gauge({
    name: 'pontoon_queue_oldest_wait_seconds',
    help: 'Longest current wait for a concurrency slot, by function and requested priority (0 when none waits).',
    labelNames: prioLabels,
    registers,
    async collect() {
      this.reset();
      for (const s of await states()) {
        if (!s.admission) continue;
        for (const p of PRIORITIES) {
          const oldest = s.admission.queued
            .filter((q) => String(q.priority) === p)
            .reduce((m, q) => Math.min(m, Date.parse(q.enqueuedAt)), Number.POSITIVE_INFINITY);
          const wait = Number.isFinite(oldest) ? Math.max(0, Date.now() - oldest) / 1000 : 0;
          this.set({ function: s.function, priority: p }, wait);
        }
      }
    },
  });
  new Gauge({
    name: 'pontoon_slots_in_use',
    help: 'Concurrency slots held by running executions, by function (functions with a limit).',
    labelNames: fnLabel,
    registers,
    async collect() {
      this.reset();
      for (const s of await states())
        if (s.admission) this.set({ function: s.function }, s.admission.running.length);
    },
  });
  new Gauge({
    name: 'pontoon_slots_limit',
    help: 'The concurrency limit of a function (functions with a limit).',
    labelNames: fnLabel,
    registers,
    async collect() {
      this.reset();
      for (const s of await states())
        if (s.admission?.concurrency) this.set({ function: s.function }, s.admission.concurrency);
    },
  });
  new Gauge({
    name: 'pontoon_warm_replicas_desired',
    help: 'Warm replicas the Scalar has set, by function (kubernetes runtime).',
    labelNames: fnLabel,
    registers,
    async collect() {
      this.reset();
      for (const s of await states())
        if (s.warm?.managed) this.set({ function: s.function }, s.warm.replicas);
    },
  });
  new Gauge({
    name: 'pontoon_warm_replicas_ready',
    help: 'Warm replicas ready at the Scalar’s last observation, by function (kubernetes runtime).',
    labelNames: fnLabel,
    registers,
    async collect() {
      this.reset();
      for (const s of await states())
        if (s.warm?.managed) this.set({ function: s.function }, s.warm.readyReplicas);
    },
  });
}
