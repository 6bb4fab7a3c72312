/**
 * One change at a time: a function controller's applies, deletes, schedule pauses and warm-pool
 * scalings run one after the other, in the order they were asked for, whatever the earlier one's
 * outcome.
 */
export class Serial {
  private queue: Promise<unknown> = Promise.resolve();

  /** Runs `fn` once every change asked for before it has settled; its result is the caller's. */
  run<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }
}
