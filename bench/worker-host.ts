/**
 * The worker side of a benchmark, in a process of its own so its CPU and memory are measured apart
 * from the load generator: the Pontoon worker (configured from the environment, like `pontoon
 * worker`, with a prebuilt workflow bundle) and, when asked, the bare-Temporal baseline worker (one
 * workflow, one no-op activity) on the same connection. Forked by lib.ts; answers `stats` over IPC.
 */
import { createWriteStream } from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import v8 from 'node:v8';
import type { Worker as WorkerThread } from 'node:worker_threads';
import { Worker } from '@temporalio/worker';
import { createLogger, installTemporalRuntime } from '../platform/logger.ts';
import { createMetrics } from '../platform/metrics.ts';
import { connectNative } from '../platform/temporal.ts';
import { parseConfig } from '../worker/config.ts';
import { createPontoonWorker, type PontoonWorker } from '../worker/worker.ts';
import { memoryOf } from './memory.ts';

export interface HostOptions {
  pontoon: boolean;
  /** Prebuilt bundle of bench/baseline-workflows.ts; the baseline worker runs when set. */
  baselineBundle?: string;
  baselineTaskQueue?: string;
}

export interface HostStats {
  rssMiB: number;
  hwmMiB: number;
  /** The main thread's V8 heap and external memory (workflow threads and native memory are the rest of RSS). */
  heapUsedMiB: number;
  heapTotalMiB: number;
  externalMiB: number;
  /** apiserver requests sent by the kubernetes runtime, by verb (kubernetes runtime only). */
  requests?: Record<string, number>;
  launches?: { created: number; adopted: number };
  /** Spec reads by executions so far, by source (memory, memo, query), and describes sent for them. */
  specReads?: { memory: number; memo: number; query: number; describes: number };
}

const send = (m: unknown) => process.send?.(m);

async function main() {
  const opts = JSON.parse(process.env.PONTOON_BENCH_HOST ?? '{}') as HostOptions;
  const config = parseConfig(process.env);
  const logger = createLogger(config.logLevel);
  installTemporalRuntime(logger);
  const workers: Worker[] = [];
  const metrics = createMetrics();
  let pontoon: PontoonWorker | undefined;
  if (opts.pontoon) {
    pontoon = await createPontoonWorker({ config, logger, metrics });
    workers.push(pontoon.worker);
  }
  if (opts.baselineBundle) {
    workers.push(
      await Worker.create({
        connection: pontoon?.connection ?? (await connectNative(config.temporal)),
        namespace: config.temporal.namespace,
        taskQueue: opts.baselineTaskQueue ?? 'bench-baseline',
        workflowBundle: { codePath: opts.baselineBundle },
        activities: { noop: async (input: unknown) => input },
      }),
    );
  }
  const runs = workers.map((w) => w.run());
  const runtime = pontoon?.runtime as
    | {
        requests?: { snapshot(): Record<string, number> };
        launches?: { created: number; adopted: number };
      }
    | undefined;
  const specReads = async () => {
    const reads = await metrics.specReads.get();
    const of = (source: string) => reads.values.find((v) => v.labels.source === source)?.value ?? 0;
    const describes = (await metrics.specDescribes.get()).values[0]?.value ?? 0;
    return { memory: of('memory'), memo: of('memo'), query: of('query'), describes };
  };
  process.on('message', async (m: { cmd: string; id?: number }) => {
    if (m.cmd === 'stats') {
      const mem = process.memoryUsage();
      const stats: HostStats = {
        ...(memoryOf(process.pid) ?? { rssMiB: Number.NaN, hwmMiB: Number.NaN }),
        heapUsedMiB: mem.heapUsed / 2 ** 20,
        heapTotalMiB: mem.heapTotal / 2 ** 20,
        externalMiB: mem.external / 2 ** 20,
        ...(runtime?.requests ? { requests: runtime.requests.snapshot() } : {}),
        ...(runtime?.launches ? { launches: { ...runtime.launches } } : {}),
        ...(pontoon ? { specReads: await specReads() } : {}),
      };
      send({ type: 'stats', id: m.id, stats });
    } else if (m.cmd === 'snapshot') {
      // Heap snapshots of the main thread and of each workflow thread (the SDK's worker threads, found
      // through its private fields: a diagnostic, not an API), written to `dir`.
      const dir = (m as { dir?: string }).dir ?? process.cwd();
      const files = [v8.writeHeapSnapshot(path.join(dir, `main-${process.pid}.heapsnapshot`))];
      for (const w of workers) {
        const creator = (
          w as unknown as { workflowCreator?: { workerThreadClients?: { workerThread: WorkerThread }[] } }
        ).workflowCreator;
        for (const [i, c] of (creator?.workerThreadClients ?? []).entries()) {
          const file = path.join(dir, `workflow-thread-${i}-${process.pid}.heapsnapshot`);
          await pipeline(await c.workerThread.getHeapSnapshot(), createWriteStream(file));
          files.push(file);
        }
      }
      send({ type: 'snapshot', id: m.id, files });
    } else if (m.cmd === 'stop') {
      for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
      void Promise.allSettled(runs)
        .then(() => pontoon?.shutdown())
        .finally(() => process.exit(0));
    }
  });
  process.on('disconnect', () => process.exit(0));
  send({ type: 'ready' });
  await Promise.all(runs);
}

main().catch((err) => {
  console.error('bench worker host failed:', err);
  send({ type: 'error', message: String(err?.stack ?? err) });
  process.exit(1);
});
