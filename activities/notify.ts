/**
 * Webhook notifications (`spec.notify`): the `sendNotifications` activity POSTs one JSON event to
 * every hook that asked for it. Durability comes from Temporal: a 5xx, 408, 429 or network error
 * fails the activity with a retryable error and Temporal's activity retry delivers later; other
 * answers (4xx, 3xx — redirects are not followed) fail it for good.
 *
 * Each request carries
 * - `X-Pontoon-Event`: failure | success | schedule-pause
 * - `X-Pontoon-Delivery`: a stable id per (activity, hook): the same on every retry, so receivers
 *   deduplicate on it
 * - `X-Pontoon-Signature: sha256=<hex HMAC-SHA256 of the raw body>` when the hook names `secretEnv`
 *
 * Hooks already delivered (or refused for good) are kept in the activity's heartbeat details, so a
 * retry sends only to the hooks still owed the event.
 *
 * Destinations (core/webhook-destination.ts): the host name is resolved here, every address it
 * resolves to must be public (or in PONTOON_NOTIFY_ALLOW_CIDRS), and the connection goes to the
 * address that was checked — a name that resolves differently a moment later (DNS rebinding) cannot
 * move the request inside. Only the status code of an answer is kept: its body is never read, so
 * nothing a hook (or a service it should not reach) answers lands in Temporal history.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import dns from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { Logger } from 'pino';
import { NOTIFY_FAILURES } from '../core/failures.ts';
import type { FunctionSpec, NotifyEvent } from '../core/schema.ts';
import {
  type AllowCidrs,
  NOTIFY_ALLOW_CIDRS_ENV,
  parseAllowCidrs,
  refusedAddress,
  refusedWebhookUrl,
} from '../core/webhook-destination.ts';

/** Failure types of sendNotifications: the failure table's (core/failures.ts), which workflows import. */
export const NotifyFailure = NOTIFY_FAILURES;

/** A destination the rule refuses (no connection was made). */
class DestinationRefusedError extends Error {
  override name = 'DestinationRefusedError';
}

/**
 * A DNS lookup that fails unless every address the name resolves to is allowed; the socket then
 * connects to exactly the address returned here (net.connect calls it for names, not for literals).
 */
function checkedLookup(allow: AllowCidrs): LookupFunction {
  return (hostname, options, callback) => {
    dns.lookup(hostname, { all: true, family: options.family ?? 0 }, (err, addresses) => {
      if (err) return (callback as (e: Error) => void)(err);
      const refused = addresses.map((a) => refusedAddress(a.address, allow)).find((why) => why !== undefined);
      if (refused || addresses.length === 0) {
        return (callback as (e: Error) => void)(
          new DestinationRefusedError(`${hostname} resolves to ${refused ?? 'no address'}`),
        );
      }
      if (options.all) return (callback as (e: null, a: dns.LookupAddress[]) => void)(null, addresses);
      const first = addresses[0]!;
      callback(null, first.address, first.family);
    });
  };
}

/**
 * POSTs one delivery and answers the status code. The body of the answer is not read (the socket is
 * closed at the status line), redirects are not followed, and names go through checkedLookup.
 */
function postHook(
  url: string,
  init: { headers: Record<string, string>; body: string; signal: AbortSignal; allow: AllowCidrs },
): Promise<number> {
  const refused = refusedWebhookUrl(url, init.allow);
  if (refused) return Promise.reject(new DestinationRefusedError(refused));
  const target = new URL(url);
  return new Promise((resolve, reject) => {
    const req = (target.protocol === 'https:' ? https : http).request(
      target,
      {
        method: 'POST',
        headers: { ...init.headers, 'content-length': String(Buffer.byteLength(init.body)) },
        lookup: checkedLookup(init.allow),
        // A connection of its own: a pooled socket could have been opened to another address.
        agent: false,
        signal: init.signal,
      },
      (res) => {
        resolve(res.statusCode ?? 0);
        res.destroy();
      },
    );
    req.on('error', reject);
    req.end(init.body);
  });
}

/** One request must not hold an activity slot for long; Temporal retries it. */
const REQUEST_TIMEOUT_MS = 10_000;

export interface NotificationRequest {
  spec: FunctionSpec;
  event: NotifyEvent;
  /**
   * What the event is about: the execution result (ExecutionResult) for failure and success;
   * `{schedule, note, executionId, consecutiveFailures}` for schedule-pause.
   */
  payload: unknown;
}

/** The JSON body of every request. */
export interface NotificationBody {
  event: NotifyEvent;
  /** Same as X-Pontoon-Delivery. */
  deliveryId: string;
  function: string;
  /** When the notification was first scheduled (the same on retries). */
  createdAt: string;
  data: unknown;
}

export interface NotifyResult {
  /** Hooks this event went to (0 when no hook asked for it). */
  delivered: number;
}

/** `sha256=<hex>`: GitHub's format, so existing receivers can verify it. */
export function signBody(secret: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/** Constant-time check of an X-Pontoon-Signature header (for receivers written in Node). */
export function verifySignature(secret: string, body: string, header: string | undefined): boolean {
  if (!header) return false;
  const want = Buffer.from(signBody(secret, body));
  const got = Buffer.from(header);
  return want.length === got.length && timingSafeEqual(want, got);
}

/** Stable per (workflow run, activity, hook): every retry of the activity sends the same id. */
export function deliveryId(parts: { workflowId: string; runId: string; activityId: string; hook: number }) {
  return createHash('sha256')
    .update(`${parts.workflowId}\n${parts.runId}\n${parts.activityId}\n${parts.hook}`)
    .digest('hex')
    .slice(0, 32);
}

/** The request for one hook (pure: unit-testable without a network). */
export function buildDelivery(opts: {
  event: NotifyEvent;
  functionName: string;
  deliveryId: string;
  createdAt: string;
  payload: unknown;
  secret?: string;
  attempt: number;
}): { body: string; headers: Record<string, string> } {
  const message: NotificationBody = {
    event: opts.event,
    deliveryId: opts.deliveryId,
    function: opts.functionName,
    createdAt: opts.createdAt,
    data: opts.payload ?? null,
  };
  const body = JSON.stringify(message);
  return {
    body,
    headers: {
      'content-type': 'application/json',
      'user-agent': 'pontoon-notify/0.1',
      'x-pontoon-event': opts.event,
      'x-pontoon-delivery': opts.deliveryId,
      'x-pontoon-delivery-attempt': String(opts.attempt),
      ...(opts.secret !== undefined ? { 'x-pontoon-signature': signBody(opts.secret, body) } : {}),
    },
  };
}

interface Progress {
  /** Indexes in spec.notify of hooks that got the event. */
  delivered: number[];
  /** Indexes of hooks that refused it for good. */
  rejected: number[];
}

function progressFrom(details: unknown): Progress {
  const d = details as Partial<Progress> | undefined;
  return {
    delivered: Array.isArray(d?.delivered) ? [...d.delivered] : [],
    rejected: Array.isArray(d?.rejected) ? [...d.rejected] : [],
  };
}

/** 5xx, 408 (timeout) and 429 (throttled) are worth another try; other answers are final. */
function retryableStatus(status: number): boolean {
  return status >= 500 || status === 408 || status === 429;
}

export function createNotifyActivities({ logger, env }: { logger: Logger; env: NodeJS.ProcessEnv }) {
  // Parsed once per worker: a bad value stops the worker at start with the variable's name.
  const allow = parseAllowCidrs(env[NOTIFY_ALLOW_CIDRS_ENV]);
  return {
    /**
     * Sends `event` to every hook of `spec.notify` that lists it. Resolves when all got it; throws
     * NotifyTransient (retryable) while any hook is still owed it after a retryable answer, else
     * NotifyRejected / NotifySecretMissing (not retryable).
     */
    async sendNotifications(req: NotificationRequest): Promise<NotifyResult> {
      const ctx = Context.current();
      const info = ctx.info;
      const hooks = (req.spec.spec.notify ?? [])
        .map((hook, index) => ({ hook, index }))
        .filter(({ hook }) => hook.on.includes(req.event));
      const progress = progressFrom(info.heartbeatDetails);
      // Always set for activities scheduled by a workflow (the only way Pontoon calls this one).
      const wf = info.workflowExecution ?? { workflowId: '', runId: '' };
      const log = logger.child({
        function: req.spec.metadata.name,
        executionId: wf.workflowId,
        event: req.event,
      });
      const createdAt = new Date(info.scheduledTimestampMs).toISOString();
      const transient: string[] = [];
      const final: string[] = [];
      const refusedDestinations: string[] = [];
      let missingSecret: string | undefined;

      for (const { hook, index } of hooks) {
        if (progress.delivered.includes(index) || progress.rejected.includes(index)) continue;
        const secret = hook.secretEnv ? env[hook.secretEnv] : undefined;
        if (hook.secretEnv && !secret) {
          missingSecret = `${hook.secretEnv} (hook ${index}, ${hook.url})`;
          progress.rejected.push(index);
          continue;
        }
        const id = deliveryId({
          workflowId: wf.workflowId,
          runId: wf.runId,
          activityId: info.activityId,
          hook: index,
        });
        const { body, headers } = buildDelivery({
          event: req.event,
          functionName: req.spec.metadata.name,
          deliveryId: id,
          createdAt,
          payload: req.payload,
          attempt: info.attempt,
          ...(secret !== undefined ? { secret } : {}),
        });
        try {
          const status = await postHook(hook.url, {
            headers,
            body,
            signal: AbortSignal.any([ctx.cancellationSignal, AbortSignal.timeout(REQUEST_TIMEOUT_MS)]),
            allow,
          });
          if (status >= 200 && status < 300) {
            progress.delivered.push(index);
            log.info({ url: hook.url, deliveryId: id, status }, 'notification delivered');
          } else if (retryableStatus(status)) {
            transient.push(`${hook.url} answered ${status}`);
          } else {
            progress.rejected.push(index);
            final.push(`${hook.url} answered ${status}`);
          }
        } catch (err) {
          if (ctx.cancellationSignal.aborted) throw err;
          if (err instanceof DestinationRefusedError) {
            progress.rejected.push(index);
            refusedDestinations.push(`${hook.url}: ${err.message}`);
          } else transient.push(`${hook.url}: ${(err as Error).message}`);
        }
        // Remember who has it, so a retry after a later hook's failure does not send it twice.
        ctx.heartbeat(progress);
      }

      if (transient.length) {
        log.warn({ problems: transient, attempt: info.attempt }, 'notification not delivered yet; retrying');
        throw ApplicationFailure.create({
          type: NotifyFailure.transient,
          message: `${transient.length} hook(s) not reached, retrying: ${transient.join('; ')}`,
          nonRetryable: false,
        });
      }
      if (missingSecret) {
        throw ApplicationFailure.create({
          type: NotifyFailure.secretMissing,
          message: `the worker has no ${missingSecret}; set it on every worker (nothing is sent unsigned)`,
          nonRetryable: true,
        });
      }
      if (refusedDestinations.length) {
        log.warn({ problems: refusedDestinations }, 'notification destination refused');
        throw ApplicationFailure.create({
          type: NotifyFailure.destinationRefused,
          message: `not sent (not retried): ${refusedDestinations.join('; ')}`,
          nonRetryable: true,
        });
      }
      if (final.length) {
        log.warn({ problems: final }, 'notification refused');
        throw ApplicationFailure.create({
          type: NotifyFailure.rejected,
          message: `refused (not retried): ${final.join('; ')}`,
          nonRetryable: true,
        });
      }
      return { delivered: progress.delivered.length };
    },
  };
}
