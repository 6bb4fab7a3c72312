/**
 * The warm contract's call, one warm invocation: `POST /invoke` to a replica's function server (the warm contract: 2xx
 * success with the output as JSON, 4xx non-retryable failure, 5xx retryable failure), with the
 * attempt's timeout and cancellation. Shared by the local runtime's warm pools and the observer's
 * warm mode inside a Kubernetes replica, so both classify answers the same way.
 */
import {
  type AttemptOutcome,
  type AttemptRequest,
  failure,
  functionRequestJson,
  LIMITS,
} from '../core/execution.ts';

/**
 * What a warm call needs from its caller: a heartbeat (called every second while the call runs)
 * and the attempt's cancellation. The runtimes' AttemptControl (activities/runtime.ts) is one; the
 * observer's warm mode passes its activity context's.
 */
export interface InvokeControl {
  heartbeat(details: unknown): void;
  signal: AbortSignal;
}

export type WarmOutcome = Omit<AttemptOutcome, 'startedAt' | 'endedAt'>;

/**
 * Health checks of a warm replica, the same on both runtimes (the local pools, and the Kubernetes
 * liveness probe of the function container): `GET /healthz` every `periodMs`, each given `timeoutMs`
 * to answer 2xx; `failureThreshold` failures in a row and the replica is replaced (SIGTERM, SIGKILL
 * after the kill grace). A replica must answer /healthz while it serves requests too, as a
 * Kubernetes liveness probe expects; one that cannot for ~30 s is treated as stuck. Generous on
 * purpose: a loaded machine or a GC pause must not cost a healthy replica.
 */
export const WARM_HEALTH_CHECK = { periodMs: 10_000, timeoutMs: 5_000, failureThreshold: 3 } as const;

/** Whether the function server at `url` answers `GET /healthz` with a 2xx within `timeoutMs`. */
export async function replicaHealthy(url: string, timeoutMs: number): Promise<boolean> {
  try {
    const res = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(timeoutMs) });
    await res.body?.cancel();
    return res.ok;
  } catch {
    return false;
  }
}

export interface WarmTarget {
  /** Base URL of the function server, e.g. http://127.0.0.1:8080 */
  url: string;
  /** Who served the call, for the log tail, e.g. "warm replica pid 42 (port 8080)". */
  servedBy: string;
}

export async function invokeWarmReplica(
  target: WarmTarget,
  req: AttemptRequest,
  control: InvokeControl,
  heartbeatDetails: unknown = { servedBy: target.servedBy },
): Promise<WarmOutcome> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(new Error('timeout')), req.timeoutMs);
  const onCancel = () => abort.abort(new Error('cancelled'));
  if (control.signal.aborted) onCancel();
  control.signal.addEventListener('abort', onCancel, { once: true });
  const beat = setInterval(() => control.heartbeat(heartbeatDetails), 1000);
  const served = `served by ${target.servedBy}`;
  try {
    const res = await fetch(`${target.url}/invoke`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: functionRequestJson(req),
      signal: abort.signal,
    });
    const text = await res.text();
    const logTail = `${served}: HTTP ${res.status}\n`;
    if (res.status >= 200 && res.status < 300) {
      if (Buffer.byteLength(text) > LIMITS.outputBytes) {
        return {
          exitCode: 0,
          logTail,
          failure: failure(
            'OutputTooLarge',
            `the response is ${Buffer.byteLength(text)} bytes; the limit is ${LIMITS.outputBytes} bytes`,
          ),
        };
      }
      try {
        return { exitCode: 0, logTail, output: text.trim() ? JSON.parse(text) : null };
      } catch (err) {
        return {
          exitCode: 0,
          logTail,
          failure: failure('OutputInvalid', `the response is not JSON: ${(err as Error).message}`),
        };
      }
    }
    const type = res.status >= 400 && res.status < 500 ? 'FunctionExitNonRetryable' : 'FunctionExit';
    return {
      exitCode: null,
      logTail: `${logTail}${text.slice(-LIMITS.logTailBytes)}`,
      failure: failure(type, `warm replica answered HTTP ${res.status}: ${text.slice(0, 200)}`),
    };
  } catch (err) {
    const why = String((abort.signal.reason as Error | undefined)?.message ?? '');
    if (why === 'timeout')
      return {
        exitCode: null,
        logTail: served,
        failure: failure('AttemptTimedOut', `no answer within ${req.timeoutMs} ms`),
      };
    if (why === 'cancelled')
      return { exitCode: null, logTail: served, failure: failure('FunctionExit', 'cancelled') };
    // The replica died mid-call: retryable, on another (or a new) replica.
    return {
      exitCode: null,
      logTail: served,
      failure: failure('FunctionExit', `warm replica failed: ${(err as Error).message}`),
    };
  } finally {
    clearTimeout(timer);
    clearInterval(beat);
    control.signal.removeEventListener('abort', onCancel);
  }
}
