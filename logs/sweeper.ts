/**
 * The retention sweeper each worker runs over its log store. A module of its own so the local
 * runtime, which keeps logs in files, does not load the secret store and @kubernetes/client-node
 * (~85 MiB of the worker's RSS) through logs/index.ts.
 */
import type { Logger } from 'pino';
import type { LogStore } from './store.ts';

/** Runs `store.sweep()` now and every `intervalMs` (unref'd); stop() ends it. */
export function startLogSweeper(
  store: LogStore,
  intervalMs: number,
  logger: Logger,
): { stop(): void; sweeping: () => Promise<unknown> } {
  let running: Promise<unknown> = Promise.resolve();
  const run = () => {
    running = running.then(() =>
      store
        .sweep()
        .catch((err: unknown) =>
          logger.warn({ store: store.where, err: (err as Error).message }, 'log retention sweep failed'),
        ),
    );
  };
  const first = setTimeout(run, Math.min(intervalMs, 5_000));
  const timer = setInterval(run, intervalMs);
  first.unref();
  timer.unref();
  return {
    stop() {
      clearTimeout(first);
      clearInterval(timer);
    },
    sweeping: () => running,
  };
}
