/**
 * How the API reads an attempt's log, the same way for both runtimes: the stored copy of a finished
 * attempt (logs/store.ts), else the live log of its process or pod — a running attempt, or one that
 * has just finished and whose log the worker is still storing. `follow` streams a running attempt's
 * log until it ends. Served by GET /v1/executions/{id}/logs and so by `pontoon logs`.
 */
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { PassThrough, type Readable } from 'node:stream';
import type { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { Log } from '../kube/client-node.ts';
import { attemptPodName, FUNCTION_CONTAINER } from '../kube/names.ts';
import { apiError } from '../kube/requests.ts';
import { attemptLogPath } from './dir.ts';
import { readPodLogTail } from './pod-log.ts';
import { type AttemptLogKey, capLog, type LogStore } from './store.ts';

export interface OpenedLog {
  body: Buffer | Readable;
  /** `stored`: the kept copy of a finished attempt; `live`: read from its process or pod now. */
  source: 'stored' | 'live';
  truncated: boolean;
}

export interface OpenLogOptions {
  /** The attempt has not ended yet (its outcome is not in the execution's attempts). */
  running: boolean;
  /** Stream new output until `stillRunning()` says the attempt is over. */
  follow: boolean;
  stillRunning: () => Promise<boolean>;
  /** Aborts when the client goes away. */
  signal: AbortSignal;
}

export interface AttemptLogSource {
  readonly store: LogStore;
  open(key: AttemptLogKey, opts: OpenLogOptions): Promise<OpenedLog | undefined>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The local runtime (and any worker writing the dir store): the attempt's file, which is both the
 * live log while the process runs and the stored log afterwards.
 */
export function localLogSource(store: LogStore, dir: string): AttemptLogSource {
  return {
    store,
    async open(key, opts) {
      if (opts.follow && opts.running) {
        const file = attemptLogPath(dir, key.executionId, key.attempt);
        return { body: followFile(file, opts.stillRunning, opts.signal), source: 'live', truncated: false };
      }
      const stored = await store.get(key);
      return stored && { ...stored, source: opts.running ? 'live' : 'stored' };
    },
  };
}

/** Streams a file as it grows, until `stillRunning()` (asked once a second) says no more will come. */
function followFile(file: string, stillRunning: () => Promise<boolean>, signal: AbortSignal): PassThrough {
  const out = new PassThrough();
  let offset = 0;
  const copy = async (size: number) => {
    if (size <= offset) return;
    await new Promise<void>((resolve) => {
      const s = createReadStream(file, { start: offset, end: size - 1 });
      s.on('data', (c) => out.write(c));
      s.on('end', resolve);
      s.on('error', () => resolve());
    });
    offset = size;
  };
  const size = () =>
    stat(file).then(
      (s) => s.size,
      () => 0,
    );
  const pump = async () => {
    let lastCheck = 0;
    while (!signal.aborted) {
      await copy(await size());
      if (Date.now() - lastCheck > 1000) {
        lastCheck = Date.now();
        if (!(await stillRunning().catch(() => false))) {
          const rest = await readFile(file).catch(() => Buffer.alloc(0));
          if (rest.length > offset) out.write(rest.subarray(offset));
          break;
        }
      }
      await sleep(250);
    }
    out.end();
  };
  void pump();
  return out;
}

export interface KubernetesLogSourceOptions {
  store: LogStore;
  kubeConfig: KubeConfig;
  core: CoreV1Api;
  /** Namespace of the attempt pods. */
  namespace: string;
  /** A live (pods/log) read keeps at most this many bytes, like a stored log. */
  maxBytes: number;
  logger: Logger;
}

/**
 * The kubernetes runtime: the log store, else the attempt's pod through pods/log (running, or just
 * finished and not stored yet). The pod name is deterministic, so no list is needed.
 */
export function kubernetesLogSource(o: KubernetesLogSourceOptions): AttemptLogSource {
  const { store, core, namespace } = o;
  return {
    store,
    async open(key, opts) {
      if (!opts.running) {
        const stored = await store.get(key);
        if (stored) return { ...stored, source: 'stored' };
      }
      const pod = attemptPodName(key.function, key.executionId, key.attempt);
      if (opts.follow && opts.running) {
        return { body: followPod(o, pod, opts), source: 'live', truncated: false };
      }
      try {
        const read = await readPodLogTail(
          core,
          { namespace, pod, container: FUNCTION_CONTAINER },
          o.maxBytes,
        );
        const capped = capLog(read.text, o.maxBytes, { partial: read.partial });
        return { body: Buffer.from(capped.text), source: 'live', truncated: capped.truncated };
      } catch (err) {
        const e = apiError(err);
        if (e.code !== 404 && e.code !== 400) throw err;
        // Gone meanwhile (its log has been stored since), or not started yet (nothing to show).
        const stored = await store.get(key);
        return stored && { ...stored, source: 'stored' };
      }
    },
  };
}

/**
 * Streams the function container's log (pods/log?follow=true) until the container ends; a pod not
 * running yet is waited for while the attempt runs.
 */
function followPod(o: KubernetesLogSourceOptions, pod: string, opts: OpenLogOptions): PassThrough {
  const out = new PassThrough();
  const log = new Log(o.kubeConfig);
  const pump = async () => {
    while (!opts.signal.aborted) {
      const sink = new PassThrough();
      sink.on('data', (c) => out.write(c));
      const ended = new Promise<void>((resolve) => sink.once('end', () => resolve()));
      try {
        const req = await log.log(o.namespace, pod, FUNCTION_CONTAINER, sink, { follow: true });
        const onAbort = () => req.abort();
        opts.signal.addEventListener('abort', onAbort, { once: true });
        await ended;
        opts.signal.removeEventListener('abort', onAbort);
        break; // the container ended: its whole log went out
      } catch (err) {
        // Not started yet (400 "waiting to start") or not created yet (404): wait while the attempt runs.
        const e = apiError(err);
        if (e.code !== 400 && e.code !== 404) {
          o.logger.warn({ pod, err: e.message }, 'following a pod log failed');
          break;
        }
        if (!(await opts.stillRunning().catch(() => false))) break;
        await sleep(1000);
      }
    }
    out.end();
  };
  void pump();
  return out;
}
