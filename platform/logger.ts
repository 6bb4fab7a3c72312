/**
 * pino, with credentials redacted, JSON lines or (in a terminal) human-readable ones, and the adapter
 * that makes Temporal's runtime log through it.
 */
import { createRequire } from 'node:module';
import { DefaultLogger, type LogLevel, Runtime } from '@temporalio/worker';
import pino, { type DestinationStream, type Logger } from 'pino';
import type { PrettyOptions } from 'pino-pretty';
import { parseExecutionWorkflowId } from '../core/names.ts';

export const REDACT_PATHS = [
  'apiKey',
  '*.apiKey',
  'token',
  '*.token',
  'password',
  '*.password',
  'authorization',
  'headers.authorization',
  'req.headers.authorization',
  '*.TEMPORAL_API_KEY',
];

/** `json`: one JSON object a line (for log collectors); `pretty`: one human-readable line a record. */
export type LogFormat = 'json' | 'pretty';

export interface LoggerOptions {
  /** Default `json`. */
  format?: LogFormat;
  /**
   * Level of the web server's two lines per HTTP request (Fastify's `incoming request` and
   * `request completed`; `request errored` stays an error). Default `info`; `pontoon dev` says `debug`,
   * so a terminal shows them only with PONTOON_LOG_LEVEL=debug.
   */
  requestLevel?: 'info' | 'debug';
}

/** The messages of Fastify's per-request lines (fastify/lib/log-controller.js). */
const REQUEST_LINES = new Set(['incoming request', 'request completed']);
const INFO = 30;

/**
 * The project's pino logger on stdout. `pretty` writes through pino-pretty synchronously in this
 * thread (not a worker-thread transport): lines keep their order with what a command prints itself,
 * and nothing is lost when the process exits. pino-pretty is loaded only then, so a JSON process
 * never loads it.
 */
export function createLogger(level: string, name = 'pontoon', opts: LoggerOptions = {}): Logger {
  const options: pino.LoggerOptions = { name, level, redact: { paths: REDACT_PATHS, censor: '[redacted]' } };
  if (opts.requestLevel === 'debug') {
    options.hooks = {
      logMethod(args, method, lvl) {
        const msg = args.find((a) => typeof a === 'string');
        if (lvl === INFO && msg && REQUEST_LINES.has(msg)) return this.debug(...(args as [object, string]));
        return method.apply(this, args);
      },
    };
  }
  return opts.format === 'pretty' ? pino(options, prettyStream()) : pino(options);
}

/** What each logger componentLogger made was made from: its outer logger, name and bindings. */
const components = new WeakMap<
  Logger,
  { from: Logger; component: string; bindings: Record<string, unknown> }
>();

/**
 * `logger.child({ component, ...bindings })` with one `component` field a line however deep the
 * nesting. pino never drops a binding, so a `child({ component })` of a logger that has one writes
 * the name twice in each line (`"component":"kubernetes-runtime",…,"component":"pod-watcher"`): JSON
 * with a duplicate name, which collectors read differently or refuse (Elasticsearch's parser
 * rejects duplicate fields). A part of a component made here is named `<outer>/<component>` (e.g.
 * `kubernetes-runtime/pod-watcher`) and made from the outer one's own parent, with the outer
 * bindings (what else was set on the outer logger, such as its own level, is not carried over).
 * @throws Error when `logger` has a `component` binding this function did not make (a plain
 *   `.child()` of a component logger): the line would carry the name twice. Component loggers are
 *   made at start-up, so a test that starts the process finds such a call.
 */
export function componentLogger(
  logger: Logger,
  component: string,
  bindings: Record<string, unknown> = {},
): Logger {
  const outer = components.get(logger);
  if (!outer && logger.bindings().component !== undefined) {
    throw new Error(
      `componentLogger(…, ${JSON.stringify(component)}) of a logger that already has a component (${JSON.stringify(logger.bindings().component)}) it did not make: pass the component logger itself`,
    );
  }
  const name = outer ? `${outer.component}/${component}` : component;
  const from = outer?.from ?? logger;
  const all = { ...outer?.bindings, ...bindings };
  const child = from.child({ component: name, ...all });
  components.set(child, { from, component: name, bindings: all });
  return child;
}

/** One line a record, `[12:04:05.123] INFO: worker: message {"other":"fields"}` (local time), coloured in a terminal. */
export function prettyStream(destination: number = 1): DestinationStream {
  const pretty = createRequire(import.meta.url)('pino-pretty') as (o: PrettyOptions) => DestinationStream;
  return pretty({
    destination,
    sync: true,
    singleLine: true,
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: 'pid,hostname,name,component',
    messageFormat: '{if component}{component}: {end}{msg}',
  });
}

const LEVELS: Record<LogLevel, 'trace' | 'debug' | 'info' | 'warn' | 'error'> = {
  TRACE: 'trace',
  DEBUG: 'debug',
  INFO: 'info',
  WARN: 'warn',
  ERROR: 'error',
};

let installed: { metricsBindAddress?: string } | undefined;

/**
 * The fields of a Temporal SDK log line, with those every line of an execution carries:
 * `executionId` and `function` (from the workflow id `exec:<function>:<key>`) and, on the lines of
 * a `runAttempt` activity (activity id `attempt-<n>`), the function's `attempt`. Temporal's own
 * `attempt` of an activity counts its infrastructure retries: it is renamed `activityAttempt`.
 * Error values become `{type, message, stack, cause?, …}` (pino's `errWithCause` serializer).
 */
export function executionFields(meta: Record<string, unknown>): Record<string, unknown> {
  const { sdkComponent, ...rest } = meta;
  const out: Record<string, unknown> = { ...rest, component: sdkComponent };
  // The SDK logs failures as `{ error }` ("Workflow failed", "Activity failed"): an Error's message
  // and stack are not enumerable, so pino would write `"error":{}`. Any Error value, also one made in
  // the workflow sandbox's realm, is written as its type, message, stack and causes only.
  for (const [k, v] of Object.entries(rest)) {
    if (isError(v)) out[k] = errorFields(v);
  }
  const exec = typeof rest.workflowId === 'string' ? parseExecutionWorkflowId(rest.workflowId) : undefined;
  if (exec) {
    out.executionId = rest.workflowId;
    out.function ??= exec.function;
  }
  if (typeof rest.activityId === 'string') {
    if ('attempt' in rest) {
      out.activityAttempt = rest.attempt;
      delete out.attempt;
    }
    const m = /^attempt-(\d+)$/.exec(rest.activityId);
    if (m) out.attempt = Number(m[1]);
  }
  return out;
}

function isError(v: unknown): v is Error {
  return v instanceof Error || Object.prototype.toString.call(v) === '[object Error]';
}

/** Causes written per error: a chain longer than this ends with `"cause":"…"`. */
const MAX_CAUSES = 8;

/**
 * An error as `{type, message, stack, cause?}`. Not pino's `errWithCause`, which also copies every
 * enumerable property: a Temporal failure's `details` (an attempt's outcome, log tail included) and
 * its raw `failure` proto (payload bytes as `{"0":106,…}`), which the logs must not carry (payloads
 * may be encrypted at rest; see README Security). Across the workflow thread's boundary an error
 * arrives as a plain Error (structured clone keeps message, stack and cause), so its `type` is
 * `Error` there and its class shows in the stack's first line.
 */
function errorFields(e: Error, depth = 0): Record<string, unknown> {
  const out: Record<string, unknown> = {
    type: typeof e.name === 'string' && e.name ? e.name : 'Error',
    message: String(e.message ?? ''),
    ...(typeof e.stack === 'string' ? { stack: e.stack } : {}),
  };
  const cause = (e as { cause?: unknown }).cause;
  if (cause !== undefined && cause !== null)
    out.cause = depth >= MAX_CAUSES ? '…' : isError(cause) ? errorFields(cause, depth + 1) : String(cause);
  return out;
}

export interface TemporalRuntimeOptions {
  /**
   * Loopback host:port where the Temporal SDK runtime (Core) serves its own Prometheus metrics
   * (worker slots, poll latencies, task failures, …), with Prometheus naming: `_total` counters,
   * unit suffixes, seconds. The worker's /metrics appends them to Pontoon's own series.
   */
  metricsBindAddress?: string;
}

/**
 * Routes the Temporal runtime's logs (worker, workflow `log`, activity context logger) through pino,
 * and turns on the runtime's Prometheus metrics when asked. Must run before any connection or worker
 * is created; later calls are no-ops (one runtime per process). Returns the metrics address in effect.
 */
export function installTemporalRuntime(
  logger: Logger,
  opts: TemporalRuntimeOptions = {},
): { metricsBindAddress?: string } {
  if (installed) return installed;
  installed = opts.metricsBindAddress ? { metricsBindAddress: opts.metricsBindAddress } : {};
  const level = (logger.level.toUpperCase() === 'FATAL' ? 'ERROR' : logger.level.toUpperCase()) as LogLevel;
  Runtime.install({
    logger: new DefaultLogger(level in LEVELS ? level : 'INFO', (entry) => {
      logger[LEVELS[entry.level]](executionFields(entry.meta ?? {}), entry.message);
    }),
    ...(opts.metricsBindAddress
      ? {
          telemetryOptions: {
            metrics: {
              prometheus: {
                bindAddress: opts.metricsBindAddress,
                countersTotalSuffix: true,
                unitSuffix: true,
                useSecondsForDurations: true,
              },
            },
          },
        }
      : {}),
  });
  return installed;
}
