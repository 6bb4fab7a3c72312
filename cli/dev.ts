/**
 * `pontoon dev` / `npm start`: the embedded default. Temporal dev server (state in
 * .pontoon/temporal.db), the worker on the local runtime, and every spec in function-specs/ applied.
 */
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { type ApiConfig, parseApiConfig } from '../api/config.ts';
import { OPEN_WARNING, startApi } from '../api/main.ts';
import { appliedFunctionNames, applySpec } from '../client/functions.ts';
import { loadSpecs } from '../core/load.ts';
import type { LoadedSpec } from '../core/parse.ts';
import { formatProblem } from '../core/parse.ts';
import type { FunctionSpec } from '../core/schema.ts';
import { type DevServer, ensureTemporalCli, portOpen, startDevServer } from '../dev/temporal.ts';
import { createLogSource } from '../logs/index.ts';
import { buildSpecs } from '../packaging/index.ts';
import { ensureEmbeddedRegistry, type RegistryConfig, registryFromEnv } from '../packaging/registry.ts';
import { componentLogger } from '../platform/logger.ts';
import { parseConfig, type WorkerConfig } from '../worker/config.ts';
import { startObservedWorker } from '../worker/observed.ts';
import { Exit, type Io } from './output.ts';

export interface DevOptions {
  specPaths: string[];
  port: number;
  uiPort: number;
  apiPort: number;
}

export async function runDev(opts: DevOptions, io: Io): Promise<number> {
  const loaded = await loadSpecs(opts.specPaths);
  if (loaded.problems.length) {
    for (const p of loaded.problems) io.err(formatProblem(p));
    io.err('fix the specs above, then run again');
    return Exit.usage;
  }

  const config = parseConfig({ ...process.env, TEMPORAL_ADDRESS: `127.0.0.1:${opts.port}` });
  const registry = registryFromEnv();
  if (!(await prepareImages(loaded.specs, config, registry, io))) return Exit.usage;
  const encrypting = config.temporal.payloadKeys !== undefined;
  // Every setting is checked before anything starts: a bad PONTOON_API_* variable used to surface
  // only after the dev server and the worker were up, and left them running.
  const apiConfig = devApiConfig(opts, encrypting);
  const codecEndpoint = `http://127.0.0.1:${opts.apiPort}/codec`;
  const server = await startTemporal(opts, config, encrypting ? codecEndpoint : undefined, io);

  io.err('starting the worker (bundling workflows takes a few seconds) …');
  // One registry for the worker and the API of this process: the API's /metrics shows both; a
  // PONTOON_METRICS_PORT adds the worker listener with the Temporal runtime's own series.
  const observed = await startObservedWorker(config, 'pontoon', {
    // A person reads a terminal: one readable line a record (PONTOON_LOG_FORMAT=json to change it);
    // piped or redirected, JSON lines. The two lines per API request only at PONTOON_LOG_LEVEL=debug.
    format: process.stdout.isTTY ? 'pretty' : 'json',
    requestLevel: 'debug',
  });
  const { worker: w, metricsServer, close } = observed;
  const running = w.worker.run();
  // Until the API is up, a failure (an example that cannot be applied, the API's port taken) stops
  // the worker and the dev server it started and ends the command, instead of leaving a process that
  // polls with nothing to talk to.
  const abandon = async (err: unknown): Promise<never> => {
    w.worker.shutdown();
    await running.catch(() => undefined);
    await close();
    await server?.stop();
    throw err;
  };
  for (const s of loaded.specs) {
    const r = await applyRetrying(w.client, s.spec, config.taskQueue, config.dataDir, io).catch(abandon);
    io.err(
      `function/${r.name} ${r.changed ? `applied (version ${r.version})` : `unchanged (version ${r.version})`}`,
    );
  }
  const api = await startDevApi(apiConfig, config, observed).catch(abandon);
  if (apiConfig.auth.mode === 'open') io.err(`\n*** ${OPEN_WARNING} ***`);
  // What is applied, not only the examples: functions applied before a restart are kept by Temporal.
  const applied = await appliedFunctionNames(w.client, config.taskQueue, {
    expect: loaded.specs.map((s) => s.spec.metadata.name),
  });
  io.out(
    devBanner({
      opts,
      config,
      registry,
      server,
      apiUrl: api.url,
      open: apiConfig.auth.mode === 'open',
      ...(metricsServer ? { workerMetricsUrl: metricsServer.url } : {}),
      ...(encrypting ? { codecEndpoint } : {}),
      applied,
    }),
  );

  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    io.err('stopping: finishing in-flight attempts …');
    w.worker.shutdown();
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    await running;
  } finally {
    await api.close();
    await close();
    await server?.stop();
  }
  return Exit.ok;
}

/**
 * The embedded OCI registry (127.0.0.1:5001), so `pontoon build`/`apply` work at once. The local
 * runtime needs no image (it runs build.command in the context folder): a registry that cannot start
 * is a warning. The kubernetes runtime gets every spec with spec.build built and pushed first, all
 * or nothing. False (problems printed) when a build failed; throws when the kubernetes runtime has
 * no registry.
 */
async function prepareImages(
  specs: LoadedSpec[],
  config: WorkerConfig,
  registry: RegistryConfig,
  io: Io,
): Promise<boolean> {
  try {
    await ensureEmbeddedRegistry(registry, (line) => io.err(line));
  } catch (err) {
    if (config.runtime === 'kubernetes') throw err;
    io.err(`warning: ${(err as Error).message}; \`pontoon build\` will not work until it runs`);
  }
  if (config.runtime === 'kubernetes') {
    const built = await buildSpecs(specs, (line) => io.err(line));
    if (built.problems.length) {
      for (const p of built.problems) io.err(formatProblem(p));
      io.err('fix the builds above, then run again');
      return false;
    }
  }
  return true;
}

/**
 * The Temporal dev server on opts.port (state in the data folder), or undefined when a server
 * already listens there (it is used as it is). With uiCodecEndpoint (encrypted payloads,
 * PONTOON_PAYLOAD_KEYS) the UI decodes payloads through the API's codec server.
 */
async function startTemporal(
  opts: DevOptions,
  config: WorkerConfig,
  uiCodecEndpoint: string | undefined,
  io: Io,
): Promise<DevServer | undefined> {
  if (await portOpen(opts.port)) {
    io.err(`a Temporal server already listens on ${opts.port}: using it`);
    return undefined;
  }
  const cli = await ensureTemporalCli((line) => io.err(line));
  const dataDir = config.dataDir;
  io.err(`starting the Temporal dev server (${cli}) …`);
  return await startDevServer({
    cli,
    port: opts.port,
    uiPort: opts.uiPort,
    ...(uiCodecEndpoint ? { uiCodecEndpoint } : {}),
    dbFile: path.join(dataDir, 'temporal.db'),
    logFile: path.join(dataDir, 'temporal-server.log'),
  });
}

/**
 * The API configuration of `pontoon dev`: local development runs the API open (no keys) unless told
 * otherwise, and says so loudly; with encrypted payloads, the dev UI's origins may call the codec
 * server (unless set otherwise).
 */
function devApiConfig(opts: DevOptions, encrypting: boolean): ApiConfig {
  const uiOrigins = `http://localhost:${opts.uiPort},http://127.0.0.1:${opts.uiPort}`;
  return parseApiConfig(
    {
      ...process.env,
      ...(encrypting && !process.env.PONTOON_CODEC_CORS_ORIGINS
        ? { PONTOON_CODEC_CORS_ORIGINS: uiOrigins }
        : {}),
      PONTOON_API_PORT: String(opts.apiPort),
    },
    { auth: 'none' },
  );
}

/** The API of `pontoon dev`, in this process beside the worker: one metrics registry for both. */
function startDevApi(
  apiConfig: ApiConfig,
  config: WorkerConfig,
  observed: Awaited<ReturnType<typeof startObservedWorker>>,
) {
  const { logger, metrics, tracing, worker: w } = observed;
  return startApi({
    api: apiConfig,
    logger: componentLogger(logger, 'api'),
    client: w.client,
    taskQueue: config.taskQueue,
    dataDir: config.dataDir,
    logs: createLogSource(config, logger),
    metrics,
    ...(tracing ? { tracer: tracing.tracer } : {}),
  });
}

/** What `pontoon dev` shows once everything runs: where each part listens, and what to try. */
function devBanner(facts: {
  opts: DevOptions;
  config: WorkerConfig;
  registry: RegistryConfig;
  /** The dev server started, or undefined when an existing one is used. */
  server: DevServer | undefined;
  apiUrl: string;
  /** The API takes requests without a key. */
  open: boolean;
  workerMetricsUrl?: string;
  /** Set when payloads are encrypted: the codec server the Web UI decodes them through. */
  codecEndpoint?: string;
  /** The applied functions' names. */
  applied: string[];
}): string {
  const { opts, config, registry, server, apiUrl, open, workerMetricsUrl, codecEndpoint, applied } = facts;
  const names = wrapNames(applied, 19);
  return `
Pontoon is running on the local runtime.
  Temporal Web UI  ${server ? `http://localhost:${opts.uiPort}` : "(the existing server's UI)"}
  Temporal gRPC    127.0.0.1:${opts.port}  namespace ${config.temporal.namespace}, task queue ${config.taskQueue}
  OCI registry     ${registry.prefix}  (pontoon build / apply push function images here)
  Pontoon API      ${apiUrl}  (OpenAPI at /openapi.json, docs at /docs, metrics at /metrics${open ? ', NO AUTH' : ''})${workerMetricsUrl ? `\n  Worker metrics   ${workerMetricsUrl}/metrics` : ''}
  Payloads         ${codecEndpoint ? `encrypted (key ${config.temporal.payloadKeys?.encryptKeyId}); the Web UI decodes them through ${codecEndpoint}` : 'stored as they are (set PONTOON_PAYLOAD_KEYS to encrypt them)'}
  Functions        ${names}  (${applied.length} applied; npx pontoon get functions)
  Data             ${config.dataDir}

Try, in another terminal:
  npx pontoon invoke hello --param name=Ada --wait
  curl -s -X POST '${apiUrl}/v1/functions/hello/invocations?wait=30' -H 'content-type: application/json' -d '{"parameters":{"name":"Ada"}}'
  npx temporal workflow start --task-queue ${config.taskQueue} --type executeFunction --input '{"function":"hello","parameters":{"name":"Ada"}}'

Ctrl-C stops everything.`;
}

/** How long `pontoon dev` keeps applying an example whose controller's workflow task is failing. */
const APPLY_RETRY_MS = 60_000;

/**
 * Applies an example spec. A controller whose last workflow task failed refuses Updates ("Workflow
 * Task in failed state") until Temporal retries that task, with backoff: after a restart that fixed
 * the cause (e.g. the payload key of the data folder given again) that takes seconds, so the apply is
 * tried again for APPLY_RETRY_MS. Then it throws, naming the usual cause.
 */
async function applyRetrying(client: Client, spec: FunctionSpec, taskQueue: string, dataDir: string, io: Io) {
  const until = Date.now() + APPLY_RETRY_MS;
  for (let said = false; ; said = true) {
    try {
      return await applySpec(client, spec, taskQueue);
    } catch (err) {
      const failing = /Workflow Task in failed state/i.test((err as Error).message);
      if (!failing) throw err;
      if (Date.now() >= until) {
        throw new Error(
          `function/${spec.metadata.name}: its controller's workflow task keeps failing (${(err as Error).message}); the worker log above says why. When the data folder (${dataDir}) was written with payload keys, start with the same PONTOON_PAYLOAD_KEYS, or delete the folder to start afresh`,
        );
      }
      if (!said)
        io.err(
          `function/${spec.metadata.name}: its controller's workflow task is failing; trying again for up to ${APPLY_RETRY_MS / 1000} s …`,
        );
      await new Promise((resolve) => setTimeout(resolve, 2000));
    }
  }
}

/** Names joined with ", ", wrapped before 100 columns; continuation lines indented by `indent`. */
export function wrapNames(names: string[], indent: number): string {
  if (!names.length) return '(none)';
  const lines: string[] = [];
  let line = '';
  for (const name of names) {
    const next = line ? `${line}, ${name}` : name;
    if (line && indent + next.length > 98) {
      lines.push(`${line},`);
      line = name;
    } else line = next;
  }
  lines.push(line);
  return lines.join(`\n${' '.repeat(indent)}`);
}
