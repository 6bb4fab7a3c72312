/** A timer that an abort signal cuts short (it resolves then; it never rejects). */

/**
 * Resolves after `ms` milliseconds, or at once when `signal` aborts (already aborted: on the next
 * turn). Leaves no timer or listener behind either way.
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
