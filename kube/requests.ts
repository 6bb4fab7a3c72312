/** The apiserver requests of the runtime and the log store: counted by verb, their errors read, transient failures retried. */
import type { Logger } from 'pino';
import { sleep } from '../util/sleep.ts';

/**
 * Counts the requests the kubernetes runtime sends to the apiserver, by verb, so tests and
 * benchmarks can print requests per execution. Every call site goes through `count()`.
 */
export type RequestVerb = 'create' | 'get' | 'list' | 'watch' | 'delete' | 'log' | 'update' | 'patch';
/**
 * Requests of the secret log store (logs/secret.ts): `log-store` creates an attempt's log Secret,
 * `log-sweep` deletes expired ones (a deletecollection).
 */
export type LogStoreVerb = 'log-store' | 'log-sweep';

export class RequestCounter {
  private readonly counts: Record<RequestVerb | LogStoreVerb, number> = {
    'log-store': 0,
    'log-sweep': 0,
    create: 0,
    get: 0,
    list: 0,
    watch: 0,
    delete: 0,
    log: 0,
    update: 0,
    patch: 0,
  };

  count(verb: RequestVerb | LogStoreVerb): void {
    this.counts[verb]++;
  }

  snapshot(): Record<RequestVerb | LogStoreVerb, number> & { total: number } {
    const total = Object.values(this.counts).reduce((a, b) => a + b, 0);
    return { ...this.counts, total };
  }
}

/** The Status reason and code of a failed apiserver call (ApiException's body is raw text). */
export function apiError(err: unknown): { code?: number; reason?: string; message: string } {
  const e = err as { code?: number; statusCode?: number; body?: unknown; message?: string };
  const code = typeof e?.code === 'number' ? e.code : e?.statusCode;
  let reason: string | undefined;
  let message = e?.message ?? String(err);
  let body = e?.body;
  if (typeof body === 'string') {
    try {
      body = JSON.parse(body);
    } catch {
      // not JSON
    }
  }
  if (body && typeof body === 'object') {
    const b = body as { reason?: string; message?: string };
    reason = b.reason;
    if (b.message) message = b.message;
  }
  return { ...(code !== undefined ? { code } : {}), ...(reason ? { reason } : {}), message };
}

/** Worth retrying: no answer (connection refused or reset, timeout), throttling, or a server error. */
export function isTransient(err: unknown): boolean {
  const { code } = apiError(err);
  if (code === undefined) return true;
  return code === 429 || code >= 500;
}

/** How long transient apiserver failures are retried inside one call before it fails (ms). */
export const TRANSIENT_RETRY_MS = 60_000;

/**
 * Runs `fn`, retrying it on transient apiserver failures (apiserver restarting, throttling; see
 * `isTransient`) with a backoff from 200 ms doubling to 3 s, for at most TRANSIENT_RETRY_MS, and not
 * once `signal` has aborted or `stopped()` says the caller is closing. Each retry is logged as a
 * warning naming `what`. Throws the last error.
 */
export async function retryTransient<T>(
  what: string,
  fn: () => Promise<T>,
  opts: { logger: Logger; signal?: AbortSignal | undefined; stopped?: () => boolean },
): Promise<T> {
  const start = Date.now();
  let backoff = 200;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (
        !isTransient(err) ||
        Date.now() - start > TRANSIENT_RETRY_MS ||
        opts.signal?.aborted ||
        opts.stopped?.()
      )
        throw err;
      opts.logger.warn(
        { what, err: apiError(err).message, retryInMs: backoff },
        'apiserver call failed; retrying',
      );
      await sleep(backoff, opts.signal);
      backoff = Math.min(backoff * 2, 3000);
    }
  }
}
