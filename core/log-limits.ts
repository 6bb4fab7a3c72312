/**
 * The limits of stored attempt logs (logs/), facts the worker enforces, the API reports and the
 * configuration defaults to (PONTOON_LOG_MAX_BYTES, PONTOON_LOG_RETENTION, PONTOON_LOG_SWEEP_INTERVAL).
 */

/**
 * Default cap: 256 KiB of text per attempt, gzip-compressed in the secret store (text logs shrink
 * 5–10×, so typically 25–50 KiB in etcd; at worst, incompressible output, about the cap itself).
 */
export const DEFAULT_LOG_MAX_BYTES = 256 * 1024;
/**
 * The largest cap: a Secret holds at most 1 MiB of data, and incompressible text gzips to slightly
 * more than itself; 960 KiB leaves room for gzip's overhead and the object's metadata.
 */
export const MAX_LOG_MAX_BYTES = 960 * 1024;
/** Default retention: one day (see docs/operability.md for sizing etcd). */
export const DEFAULT_LOG_RETENTION_MS = 24 * 3600_000;
/** Default period of the retention sweep each worker runs (PONTOON_LOG_SWEEP_INTERVAL; it is idempotent). */
export const DEFAULT_LOG_SWEEP_INTERVAL_MS = 10 * 60_000;
