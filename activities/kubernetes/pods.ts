/**
 * The runtime's own calls on pods, shared by its parts (launch, await, collect, finish, sweep): a
 * GET, a DELETE of one pod by uid, the function container's log, the observer's log. Each is counted
 * in the RequestCounter and retried on transient apiserver failures (kube/requests.ts).
 */
import type { CoreV1Api, V1Pod } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { FUNCTION_CONTAINER } from '../../kube/names.ts';
import { apiError, type RequestCounter, retryTransient } from '../../kube/requests.ts';
import { readPodLogTail } from '../../logs/pod-log.ts';

/** The function container's log as read (at most its last logMaxBytes), or why it could not be. */
export type FunctionLog = { text: string; partial: boolean } | { error: string };

export interface PodCalls {
  /** Retries `fn` on transient apiserver failures for a while (not once the runtime is closed). */
  retrying<T>(what: string, fn: () => Promise<T>, signal?: AbortSignal): Promise<T>;
  /** A consistent GET of the pod; undefined when there is none. */
  getPod(name: string): Promise<V1Pod | undefined>;
  /** Deletes a pod (only the one with this uid); true when it is gone or going. */
  deletePod(name: string, uid: string | undefined, graceSeconds?: number, log?: Logger): Promise<boolean>;
  /** The function container's log: at most its last logMaxBytes (logs/pod-log.ts). Never throws. */
  readFunctionLog(name: string, log?: Logger): Promise<FunctionLog>;
  /** One pods/log read of a container (the observer's, for output too large for its report). */
  readLogText(
    name: string,
    container: string,
    opts: { tailLines?: number; limitBytes: number },
  ): Promise<string>;
}

export function createPodCalls(o: {
  core: CoreV1Api;
  namespace: string;
  requests: RequestCounter;
  logger: Logger;
  /** Bytes of a function's log read per attempt (PONTOON_LOG_MAX_BYTES). */
  logMaxBytes: number;
  /** True once the runtime is closing: transient failures are no longer retried. */
  closed: () => boolean;
}): PodCalls {
  const { core, namespace, requests, logger } = o;

  function retrying<T>(what: string, fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    return retryTransient(what, fn, { logger, signal, stopped: o.closed });
  }

  async function getPod(name: string): Promise<V1Pod | undefined> {
    try {
      return await retrying(`get pod ${name}`, () => {
        requests.count('get');
        return core.readNamespacedPod({ name, namespace });
      });
    } catch (err) {
      if (apiError(err).code === 404) return undefined;
      throw err;
    }
  }

  async function deletePod(
    name: string,
    uid: string | undefined,
    graceSeconds?: number,
    log: Logger = logger,
  ): Promise<boolean> {
    try {
      await retrying(`delete pod ${name}`, () => {
        requests.count('delete');
        return core.deleteNamespacedPod({
          name,
          namespace,
          ...(graceSeconds !== undefined ? { gracePeriodSeconds: graceSeconds } : {}),
          body: { ...(uid ? { preconditions: { uid } } : {}) },
        });
      });
      return true;
    } catch (err) {
      const { code } = apiError(err);
      if (code === 404 || code === 409) return true; // gone already, or another pod by that name now
      log.warn({ pod: name, err: apiError(err).message }, 'could not delete the pod; the sweeper will');
      return false;
    }
  }

  async function readFunctionLog(name: string, log: Logger = logger): Promise<FunctionLog> {
    try {
      return await readPodLogTail(
        core,
        { namespace, pod: name, container: FUNCTION_CONTAINER },
        o.logMaxBytes,
        () => requests.count('log'),
      );
    } catch (err) {
      log.debug({ pod: name, err: apiError(err).message }, 'pods/log unavailable');
      return { error: apiError(err).message };
    }
  }

  async function readLogText(
    name: string,
    container: string,
    opts: { tailLines?: number; limitBytes: number },
  ): Promise<string> {
    requests.count('log');
    return core.readNamespacedPodLog({ name, namespace, container, ...opts });
  }

  return { retrying, getPod, deletePod, readFunctionLog, readLogText };
}
