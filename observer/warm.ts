/**
 * The observer in warm mode (`observer warm`): the second container of every warm replica. A Temporal
 * worker on the function's task queue `pontoon-warm-<function>` that runs the warm attempt activity
 * by calling the function's server on localhost (contract/warm-invoke.ts), heartbeats while it
 * waits, honours cancellation, and takes at most PONTOON_CONCURRENCY attempts at once.
 *
 * It starts polling only once the function answers GET /healthz, and on SIGTERM (scale-down, rollout)
 * stops polling and finishes the attempts it holds before exiting (terminationGracePeriodSeconds of
 * the Deployment covers one attempt timeout).
 *
 * Environment: TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE and Temporal's TLS/API key variables;
 * PONTOON_PAYLOAD_KEYS (/_FILE, _KEY_ID) when payloads are encrypted (the attempt's input arrives
 * encrypted and its outcome is stored encrypted; put them in the PONTOON_WARM_TEMPORAL_SECRET Secret);
 * PONTOON_WARM_TASK_QUEUE (required), PONTOON_PORT (default WARM_PORT, 8080), PONTOON_CONCURRENCY (default 1),
 * PONTOON_POD_NAME (for the log tail), PONTOON_FUNCTION_URL (default http://127.0.0.1:$PONTOON_PORT).
 */
import { Context } from '@temporalio/activity';
import { Worker } from '@temporalio/worker';
import { WARM_PORT } from '../contract/env.ts';
import { invokeWarmReplica } from '../contract/warm-invoke.ts';
import { type AttemptOutcome, type AttemptRequest, failedAttemptError } from '../core/execution.ts';
import { checkedOutcome } from '../core/io-schema.ts';
import { parseTemporalConfig } from '../platform/config.ts';
import { connectNative, dataConverterOf } from '../platform/temporal.ts';

function required(env: NodeJS.ProcessEnv, name: string): string {
  const v = env[name];
  if (!v) throw new Error(`${name} is required in warm mode`);
  return v;
}

async function waitHealthy(url: string, signal: AbortSignal): Promise<void> {
  let said = false;
  while (!signal.aborted) {
    try {
      const res = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(2000) });
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    if (!said) process.stderr.write(`observer: waiting for ${url}/healthz\n`);
    said = true;
    await new Promise((r) => setTimeout(r, 200));
  }
}

export async function serveWarm(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const taskQueue = required(env, 'PONTOON_WARM_TASK_QUEUE');
  const port = Number(env.PONTOON_PORT ?? WARM_PORT);
  const url = env.PONTOON_FUNCTION_URL ?? `http://127.0.0.1:${port}`;
  const concurrency = Number(env.PONTOON_CONCURRENCY ?? 1);
  if (!Number.isInteger(concurrency) || concurrency < 1)
    throw new Error(`PONTOON_CONCURRENCY must be a positive integer (got ${env.PONTOON_CONCURRENCY})`);
  const replica = env.PONTOON_POD_NAME ?? `pid ${process.pid}`;
  const temporal = parseTemporalConfig(env);

  const stop = new AbortController();
  process.once('SIGTERM', () => stop.abort());
  process.once('SIGINT', () => stop.abort());
  await waitHealthy(url, stop.signal);
  if (stop.signal.aborted) return;

  const activities = {
    async runWarmAttempt(req: AttemptRequest): Promise<AttemptOutcome> {
      const ctx = Context.current();
      const startedAt = new Date().toISOString();
      const outcome = await invokeWarmReplica(
        { url, servedBy: `warm replica ${replica}` },
        req,
        { heartbeat: (d) => ctx.heartbeat(d), signal: ctx.cancellationSignal },
        { replica },
      );
      if (ctx.cancellationSignal.aborted) await ctx.cancelled;
      // Typed results: checked here, as the worker checks the attempts it runs itself.
      const ended = checkedOutcome(req, { ...outcome, startedAt, endedAt: new Date().toISOString() });
      // A failed attempt fails its activity (the Web UI shows it red) when the execution asks.
      if (ended.failure && req.failActivity) throw failedAttemptError(req.attempt, ended);
      return ended;
    },
  };
  const connection = await connectNative(temporal);
  const worker = await Worker.create({
    connection,
    namespace: temporal.namespace,
    taskQueue,
    dataConverter: dataConverterOf(temporal),
    activities,
    maxConcurrentActivityTaskExecutions: concurrency,
  });
  stop.signal.addEventListener('abort', () => worker.shutdown(), { once: true });
  process.stderr.write(`observer: serving ${taskQueue} for ${url} (${concurrency} at once)\n`);
  try {
    await worker.run();
  } finally {
    await connection.close();
  }
}
