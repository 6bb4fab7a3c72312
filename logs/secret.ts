/**
 * The `secret` log store: one Kubernetes Secret per attempt, `pontoon-log-<execution hash>-<attempt>`
 * (type `pontoon.dev/attempt-log`, immutable), holding the capped log gzip-compressed in `log.gz`
 * and the attempt's outcome (its AttemptRecord, store.ts) in `outcome.json.gz`: the record a retried
 * activity adopts, written in the same request as the log, so it costs no apiserver request of its own.
 *
 * Why a Secret and not a ConfigMap: a log may hold whatever the function printed, credentials
 * included. Kubernetes' aggregated `view` role reads ConfigMaps but not Secrets, and Secrets are the
 * objects clusters encrypt at rest. They live in their own namespace (PONTOON_LOG_NAMESPACE;
 * `pontoon-logs` in deploy/) so the API, which reads them, is given no access to any other Secret.
 *
 * Lookup is by name (one GET). Retention: labels say when a log expires, rounded UP to the UTC hour
 * and day (`pontoon.dev/log-expires-hour=2026112419`, `pontoon.dev/log-expires-day=20261125`), and
 * the sweeper deletes expired ones with two deletecollection requests (past days, then past hours of
 * today): a log is deleted by the first sweep after its retention has passed and the hour has ended.
 * Sweeps look back LOOKBACK_DAYS: logs that expired while no worker ran for longer are left behind
 * (`kubectl delete secret -l pontoon.dev/component=attempt-log` removes them).
 */
import { promisify } from 'node:util';
import { gunzip, gzip, gzipSync } from 'node:zlib';
import type { CoreV1Api, V1Secret } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { MAX_LOG_MAX_BYTES } from '../core/log-limits.ts';
import { Label } from '../core/names.ts';
import { executionHash } from '../kube/names.ts';
import { apiError, type RequestCounter } from '../kube/requests.ts';
import { type AttemptLogKey, capLog, type LogLimits, type LogStore, parseAttemptRecord } from './store.ts';

const gzipAsync = promisify(gzip);
const gunzipAsync = promisify(gunzip);

/** Below this many bytes a log or record is compressed on the calling thread (well under 1 ms). */
const SYNC_GZIP_MAX_BYTES = 64 * 1024;

/**
 * gzip of `text`. An asynchronous gzip holds its deflate state (~256 KiB with zlib's defaults)
 * from the call until libuv's 4-thread pool gets to it: with hundreds of attempts finishing at once
 * that was ~30 MiB of the worker's native memory at B5's peak (heaptrack, 2026-12-05). Small inputs,
 * nearly every log, are compressed synchronously, so at most one such state exists at a time; large
 * ones still go to the thread pool.
 */
async function gzipText(text: string): Promise<Buffer> {
  return Buffer.byteLength(text) <= SYNC_GZIP_MAX_BYTES ? gzipSync(text) : gzipAsync(text);
}

export const LOG_SECRET_TYPE = 'pontoon.dev/attempt-log';
export const LOG_DATA_KEY = 'log.gz';
/** The attempt's record (logs/store.ts AttemptRecord) as gzip-compressed JSON, beside the log. */
export const RECORD_DATA_KEY = 'outcome.json.gz';
export const LogLabel = {
  component: 'pontoon.dev/component',
  expiresDay: 'pontoon.dev/log-expires-day',
  expiresHour: 'pontoon.dev/log-expires-hour',
} as const;
export const LogAnnotation = {
  executionId: 'pontoon.dev/execution-id',
  truncated: 'pontoon.dev/log-truncated',
  bytes: 'pontoon.dev/log-bytes',
  storedAt: 'pontoon.dev/log-stored-at',
  expiresAt: 'pontoon.dev/log-expires-at',
} as const;
export const ATTEMPT_LOG_COMPONENT = 'attempt-log';
/** How many past days a sweep covers (the label selector lists each). */
export const LOOKBACK_DAYS = 60;

const HOUR = 3600_000;
const DAY = 24 * HOUR;

/** `pontoon-log-<16 hex of sha256(execution id)>-<attempt>`: ≤ 32 characters. */
export function logSecretName(executionId: string, attempt: number): string {
  return `pontoon-log-${executionHash(executionId)}-${attempt}`;
}

const utcDay = (ms: number) => new Date(ms).toISOString().slice(0, 10).replaceAll('-', '');
const utcHour = (ms: number) => `${utcDay(ms)}${new Date(ms).toISOString().slice(11, 13)}`;
const ceilTo = (ms: number, unit: number) => Math.ceil(ms / unit) * unit;

/** Label values of a log expiring at `expiresAt`: the first UTC hour and day that start after it. */
export function expiryLabels(expiresAt: number): { day: string; hour: string } {
  return { day: utcDay(ceilTo(expiresAt, DAY)), hour: utcHour(ceilTo(expiresAt, HOUR)) };
}

/** The two label selectors of a sweep at `now`: logs whose expiry day, or hour of today, has begun. */
export function sweepSelectors(now: number): string[] {
  const base = `${Label.managedBy}=pontoon,${LogLabel.component}=${ATTEMPT_LOG_COMPONENT}`;
  const today = Math.floor(now / DAY) * DAY;
  const days = Array.from({ length: LOOKBACK_DAYS }, (_, i) => utcDay(today - i * DAY));
  const hours: string[] = [];
  for (let h = today; h <= now; h += HOUR) hours.push(utcHour(h));
  return [
    `${base},${LogLabel.expiresDay} in (${days.join(',')})`,
    `${base},${LogLabel.expiresHour} in (${hours.join(',')})`,
  ];
}

export interface SecretLogStoreOptions extends LogLimits {
  core: CoreV1Api;
  namespace: string;
  logger: Logger;
  /** Counts this store's apiserver requests (the kubernetes runtime's counter, in the worker). */
  requests?: RequestCounter;
}

export function createSecretLogStore(opts: SecretLogStoreOptions): LogStore {
  const { core, namespace, logger, requests } = opts;
  /** The attempt's log Secret, if it exists and is this execution's. */
  async function read(key: AttemptLogKey): Promise<V1Secret | undefined> {
    let secret: V1Secret;
    try {
      secret = await core.readNamespacedSecret({
        name: logSecretName(key.executionId, key.attempt),
        namespace,
      });
    } catch (err) {
      if (apiError(err).code === 404) return undefined;
      throw err;
    }
    // 64 bits of hash make a collision unlikely; the annotation makes it impossible to misreport.
    if (secret.metadata?.annotations?.[LogAnnotation.executionId] !== key.executionId) return undefined;
    return secret;
  }
  return {
    kind: 'secret',
    where: `secret/${namespace}`,

    async put(key, text, putOpts) {
      // The record (an output of up to 256 KiB) shares the Secret's 1 MiB with the log: the log
      // gives way, so a large log never keeps the record from being stored.
      const record = putOpts?.record
        ? (await gzipText(JSON.stringify(putOpts.record))).toString('base64')
        : undefined;
      const recordBytes = record ? Math.ceil((record.length * 3) / 4) : 0;
      const capped = capLog(text, Math.max(1024, Math.min(opts.maxBytes, MAX_LOG_MAX_BYTES - recordBytes)), {
        ...(putOpts?.partial ? { partial: true } : {}),
      });
      const now = Date.now();
      const expiresAt = now + opts.retentionMs;
      const { day, hour } = expiryLabels(expiresAt);
      const body: V1Secret = {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: {
          name: logSecretName(key.executionId, key.attempt),
          namespace,
          labels: {
            [Label.managedBy]: 'pontoon',
            [LogLabel.component]: ATTEMPT_LOG_COMPONENT,
            [Label.function]: key.function,
            [Label.execution]: executionHash(key.executionId),
            [Label.attempt]: String(key.attempt),
            [LogLabel.expiresDay]: day,
            [LogLabel.expiresHour]: hour,
          },
          annotations: {
            [LogAnnotation.executionId]: key.executionId,
            [LogAnnotation.truncated]: String(capped.truncated),
            [LogAnnotation.bytes]: String(Buffer.byteLength(text)),
            [LogAnnotation.storedAt]: new Date(now).toISOString(),
            [LogAnnotation.expiresAt]: new Date(expiresAt).toISOString(),
          },
        },
        type: LOG_SECRET_TYPE,
        immutable: true,
        data: {
          [LOG_DATA_KEY]: (await gzipText(capped.text)).toString('base64'),
          ...(record ? { [RECORD_DATA_KEY]: record } : {}),
        },
      };
      requests?.count('log-store');
      try {
        await core.createNamespacedSecret({ namespace, body });
      } catch (err) {
        // Stored already (a retried activity collecting the same attempt): the first copy stays.
        if (apiError(err).reason === 'AlreadyExists') return;
        throw err;
      }
    },

    async get(key: AttemptLogKey) {
      const secret = await read(key);
      if (!secret) return undefined;
      const ann = secret.metadata?.annotations ?? {};
      const data = secret.data?.[LOG_DATA_KEY];
      const body = data ? await gunzipAsync(Buffer.from(data, 'base64')) : Buffer.alloc(0);
      return {
        body,
        truncated: ann[LogAnnotation.truncated] === 'true',
        ...(ann[LogAnnotation.storedAt] ? { storedAt: ann[LogAnnotation.storedAt] } : {}),
      };
    },

    async getRecord(key: AttemptLogKey) {
      requests?.count('get');
      const data = (await read(key))?.data?.[RECORD_DATA_KEY];
      if (!data) return undefined;
      try {
        return parseAttemptRecord(
          JSON.parse((await gunzipAsync(Buffer.from(data, 'base64'))).toString('utf8')),
        );
      } catch (err) {
        logger.warn({ ...key, err: (err as Error).message }, 'unreadable attempt record in the log Secret');
        return undefined;
      }
    },

    async sweep(now = Date.now()) {
      for (const labelSelector of sweepSelectors(now)) {
        requests?.count('log-sweep');
        try {
          await core.deleteCollectionNamespacedSecret({ namespace, labelSelector });
        } catch (err) {
          logger.warn({ namespace, err: apiError(err).message }, 'sweeping expired attempt logs failed');
        }
      }
      // deletecollection's answer (the deleted objects) is not surfaced by the client: no count.
      return undefined;
    },
  };
}
