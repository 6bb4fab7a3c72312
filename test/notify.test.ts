/**
 * Failure notifications: the sendNotifications activity, run by a real worker (createActivities)
 * through a test-only workflow on the real Temporal dev server, POSTing to a real HTTP receiver on
 * 127.0.0.1. Checks the HMAC signature, the headers, the body, the retry of a 500 with the same
 * delivery id, no second request to a hook that already has the event, and no retry of a 4xx.
 * The worker above is told 127.0.0.1 is open (PONTOON_NOTIFY_ALLOW_CIDRS); a second worker with
 * the default rule must never reach a listener on 127.0.0.1, by address or by a name resolving to it.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { ActivityFailure, ApplicationFailure, WorkflowFailedError } from '@temporalio/client';
import { bundleWorkflowCode, NativeConnection, Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { executionMetricsSink } from '../activities/execution-metrics.ts';
import { createActivities } from '../activities/index.ts';
import { createLocalRuntime } from '../activities/local/runtime.ts';
import { buildDelivery, type NotificationRequest, verifySignature } from '../activities/notify.ts';
import { functionSpecSchema } from '../core/schema.ts';
import { parseAllowCidrs, refusedWebhookUrl } from '../core/webhook-destination.ts';
import { createLogger, installTemporalRuntime } from '../platform/logger.ts';
import { createMetrics } from '../platform/metrics.ts';
import { connectClient } from '../platform/temporal.ts';
import { fixtureSpec, testConfig, uniqueName } from './helpers.ts';
import { startReceiver } from './ops-helpers.ts';

const SECRET = 'test-secret-\u00e9';
let receiver: Awaited<ReturnType<typeof startReceiver>>;
let worker: Worker;
let running: Promise<void>;
/** A worker with the default destination rule (no allowlist), on a task queue of its own. */
let strict: Worker;
let strictRunning: Promise<void>;
const STRICT_QUEUE = `${testConfig().taskQueue}-strict`;
/** Must never receive a request from the strict worker. */
let trap: { url: string; port: number; hits: string[]; close(): Promise<void> };
let client: Awaited<ReturnType<typeof connectClient>>;
let connection: NativeConnection;
const config = testConfig();

beforeAll(async () => {
  receiver = await startReceiver({ '/flaky': [500, 200], '/b': [503, 200], '/gone': [410] });
  const logger = createLogger(config.logLevel);
  installTemporalRuntime(logger);
  connection = await NativeConnection.connect({ address: config.temporal.address });
  client = await connectClient(config.temporal);
  const bundle = await bundleWorkflowCode({
    workflowsPath: fileURLToPath(new URL('./workflows/notify-probe.ts', import.meta.url)),
    logger: { trace() {}, debug() {}, info() {}, warn() {}, error: (m) => logger.error(m), log() {} },
  });
  const activities = (env: NodeJS.ProcessEnv) =>
    createActivities({
      client,
      logger,
      runtime: createLocalRuntime(
        { dataDir: config.dataDir, localRoot: config.localRoot, killGraceMs: 1000 },
        logger,
      ),
      taskQueue: config.taskQueue,
      env,
    });
  // executeFunction counts its end through this sink, as on the Pontoon worker.
  const sinks = { executionMetrics: executionMetricsSink(createMetrics()) };
  // The receiver listens on 127.0.0.1: the operator opened it for this worker.
  worker = await Worker.create({
    connection,
    taskQueue: config.taskQueue,
    workflowBundle: bundle,
    activities: activities({ PONTOON_NOTIFY_TEST: SECRET, PONTOON_NOTIFY_ALLOW_CIDRS: '127.0.0.1/32' }),
    sinks,
  });
  running = worker.run();
  strict = await Worker.create({
    connection,
    taskQueue: STRICT_QUEUE,
    workflowBundle: bundle,
    activities: activities({ PONTOON_NOTIFY_TEST: SECRET }),
    sinks,
  });
  strictRunning = strict.run();
  const hits: string[] = [];
  const server = http.createServer((req, res) => {
    hits.push(`${req.method} ${req.url}`);
    res.writeHead(200).end('{"AccessKeyId":"ASIA-TRAP","Token":"instance-credentials"}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  trap = {
    url: `http://127.0.0.1:${port}`,
    port,
    hits,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
});
afterAll(async () => {
  worker?.shutdown();
  strict?.shutdown();
  await running;
  await strictRunning;
  await trap?.close();
  await client?.connection.close();
  await connection?.close();
  await receiver?.close();
});

function specWith(notify: unknown) {
  return fixtureSpec(uniqueName('notify'), 'behave.mjs', { notify } as never);
}

function probe(req: NotificationRequest, id = uniqueName('probe'), taskQueue = config.taskQueue) {
  return client.workflow.execute('notifyProbe', {
    taskQueue,
    workflowId: id,
    args: [req],
  });
}

async function failureType(p: Promise<unknown>): Promise<string | undefined> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(WorkflowFailedError);
  const cause = (err as WorkflowFailedError).cause;
  expect(cause).toBeInstanceOf(ActivityFailure);
  const app = (cause as ActivityFailure).cause;
  expect(app).toBeInstanceOf(ApplicationFailure);
  return (app as ApplicationFailure).type ?? undefined;
}

const result = { status: 'failed', executionId: 'exec:x:1', failure: { type: 'FunctionExit' } };

describe('spec.notify', () => {
  it('defaults on to [failure] and rejects bad URLs, unknown events and other secret variables', () => {
    const base = { apiVersion: 'pontoon.dev/v1', kind: 'Function', metadata: { name: 'n' } };
    const parse = (notify: unknown) =>
      functionSpecSchema().safeParse({ ...base, spec: { image: 'i', notify } });
    const ok = parse([{ url: 'https://hooks.example.com/p?x=1' }]);
    expect(ok.success && ok.data.spec.notify).toEqual([
      { url: 'https://hooks.example.com/p?x=1', on: ['failure'] },
    ]);
    const issues = (notify: unknown) =>
      (parse(notify).error?.issues ?? []).map((i) => `${i.path.join('.')}: ${i.message}`);
    expect(issues([{ url: 'ftp://x' }])[0]).toMatch(/^spec\.notify\.0\.url: must be an absolute http/);
    expect(issues([{ url: 'https://user:pw@x.example' }])[0]).toMatch(/without user:password/);
    expect(issues([{ url: 'https://x.example', on: ['oops'] }])[0]).toMatch(/^spec\.notify\.0\.on\.0/);
    expect(issues([{ url: 'https://x.example', on: ['failure', 'failure'] }])[0]).toMatch(/twice/);
    expect(issues([{ url: 'https://x.example', secretEnv: 'TEMPORAL_API_KEY' }])[0]).toMatch(
      /starting with PONTOON_NOTIFY_/,
    );
    expect(issues([{ url: 'https://x.example' }, { url: 'https://x.example' }])[0]).toMatch(
      /^spec\.notify\.1\.url: duplicate hook URL/,
    );
    // Specs without notify stay as they were (no default added: applied specs keep their version).
    const none = functionSpecSchema().parse({ ...base, spec: { image: 'i' } });
    expect('notify' in none.spec).toBe(false);
  });

  it('builds a signed body that verifies, and a different secret does not', () => {
    const d = buildDelivery({
      event: 'failure',
      functionName: 'f',
      deliveryId: 'abc',
      createdAt: '2026-01-01T00:00:00.000Z',
      payload: { a: 1 },
      secret: 's',
      attempt: 1,
    });
    expect(JSON.parse(d.body)).toEqual({
      event: 'failure',
      deliveryId: 'abc',
      function: 'f',
      createdAt: '2026-01-01T00:00:00.000Z',
      data: { a: 1 },
    });
    expect(d.headers['x-pontoon-signature']).toMatch(/^sha256=[0-9a-f]{64}$/);
    expect(verifySignature('s', d.body, d.headers['x-pontoon-signature'])).toBe(true);
    expect(verifySignature('t', d.body, d.headers['x-pontoon-signature'])).toBe(false);
  });
});

describe('sendNotifications through a real workflow', () => {
  it('signs the body, retries a first 500, and the second delivery succeeds with the same delivery id', async () => {
    const spec = specWith([
      { url: `${receiver.url}/flaky`, on: ['failure'], secretEnv: 'PONTOON_NOTIFY_TEST' },
    ]);
    const out = await probe({ spec, event: 'failure', payload: result });
    expect(out).toEqual({ delivered: 1 });
    const got = receiver.on('/flaky');
    expect(got.map((r) => r.headers['x-pontoon-delivery-attempt'])).toEqual(['1', '2']);
    const [first, second] = got as [(typeof got)[0], (typeof got)[0]];
    for (const r of got) {
      expect(r.method).toBe('POST');
      expect(r.headers['content-type']).toBe('application/json');
      expect(r.headers['x-pontoon-event']).toBe('failure');
      expect(verifySignature(SECRET, r.body, r.headers['x-pontoon-signature'] as string)).toBe(true);
      expect(r.headers['x-pontoon-signature']).not.toBe(`sha256=${'0'.repeat(64)}`);
    }
    expect(first.headers['x-pontoon-delivery']).toMatch(/^[0-9a-f]{32}$/);
    expect(second.headers['x-pontoon-delivery']).toBe(first.headers['x-pontoon-delivery']);
    // The same body both times (createdAt is when the activity was first scheduled).
    expect(second.body).toBe(first.body);
    expect(JSON.parse(second.body)).toEqual({
      event: 'failure',
      deliveryId: first.headers['x-pontoon-delivery'],
      function: spec.metadata.name,
      createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      data: result,
    });
  });

  it('sends only to hooks that asked for the event, and never twice to a hook that has it', async () => {
    const spec = specWith([
      { url: `${receiver.url}/a`, on: ['failure', 'success'] },
      { url: `${receiver.url}/b`, on: ['success'] },
      { url: `${receiver.url}/c`, on: ['failure'] },
    ]);
    const out = await probe({ spec, event: 'success', payload: { status: 'succeeded' } });
    expect(out).toEqual({ delivered: 2 });
    expect(receiver.on('/a')).toHaveLength(1); // delivered on the first try; the retry skipped it
    expect(receiver.on('/b').map((r) => r.headers['x-pontoon-delivery-attempt'])).toEqual(['1', '2']);
    expect(receiver.on('/c')).toHaveLength(0);
    // Each hook has its own delivery id.
    expect(receiver.on('/a')[0]!.headers['x-pontoon-delivery']).not.toBe(
      receiver.on('/b')[0]!.headers['x-pontoon-delivery'],
    );
    // Unsigned hooks send no signature header.
    expect(receiver.on('/a')[0]!.headers['x-pontoon-signature']).toBeUndefined();
  });

  it('does not retry a 4xx answer (NotifyRejected), and sends nothing unsigned when the secret is missing', async () => {
    const gone = specWith([{ url: `${receiver.url}/gone`, on: ['schedule-pause'] }]);
    expect(await failureType(probe({ spec: gone, event: 'schedule-pause', payload: {} }))).toBe(
      'NotifyRejected',
    );
    expect(receiver.on('/gone')).toHaveLength(1);

    const unsigned = specWith([{ url: `${receiver.url}/never`, secretEnv: 'PONTOON_NOTIFY_MISSING' }]);
    expect(await failureType(probe({ spec: unsigned, event: 'failure', payload: {} }))).toBe(
      'NotifySecretMissing',
    );
    expect(receiver.on('/never')).toHaveLength(0);
  });
});

describe('webhook destinations (server-side request forgery)', () => {
  it('classifies URLs without resolving names: literal internal addresses and metadata names', () => {
    const none = parseAllowCidrs('');
    const refused = (url: string, allow = none) => refusedWebhookUrl(url, allow);
    expect(refused('http://169.254.169.254/latest/meta-data/')).toMatch(
      /^169\.254\.169\.254 is a link-local/,
    );
    expect(refused('http://127.0.0.1:8080/')).toMatch(/^127\.0\.0\.1 is a loopback address/);
    expect(refused('http://2130706433/')).toMatch(/^127\.0\.0\.1 is a loopback/); // 127.0.0.1 as one number
    expect(refused('http://[::1]/')).toMatch(/^::1 is a loopback/);
    expect(refused('http://[::ffff:169.254.169.254]/')).toMatch(/^169\.254\.169\.254 is a link-local/);
    expect(refused('http://10.1.2.3/')).toMatch(/private/);
    expect(refused('http://172.16.0.1/')).toMatch(/private/);
    expect(refused('http://100.64.0.1/')).toMatch(/carrier-grade NAT/);
    expect(refused('http://0.0.0.0/')).toMatch(/unspecified/);
    expect(refused('http://metadata.google.internal/')).toMatch(/cloud metadata service/);
    expect(refused('http://METADATA.google.internal./')).toMatch(/cloud metadata service/);
    // Public addresses and names pass here; names are checked by what they resolve to, when sent.
    expect(refused('https://8.8.8.8/')).toBeUndefined();
    expect(refused('https://hooks.example.com/x')).toBeUndefined();
    expect(refused('http://localhost:9/')).toBeUndefined();
    // The allowlist opens ranges, exactly.
    const allow = parseAllowCidrs('127.0.0.1/32, 10.0.0.0/8');
    expect(refused('http://127.0.0.1:9/', allow)).toBeUndefined();
    expect(refused('http://10.200.0.1/', allow)).toBeUndefined();
    expect(refused('http://127.0.0.2/', allow)).toMatch(/loopback/);
    expect(refused('http://metadata.google.internal/', parseAllowCidrs('0.0.0.0/0'))).toMatch(/metadata/);
    expect(() => parseAllowCidrs('10.0.0.0/8,nope')).toThrow(
      /PONTOON_NOTIFY_ALLOW_CIDRS: "nope" is not an address range/,
    );
  });

  it('never reaches a listener on 127.0.0.1 by address or by a name resolving to it (NotifyDestinationRefused)', async () => {
    const spec = specWith([
      { url: `${trap.url}/by-address`, on: ['failure'] },
      { url: `http://localhost:${trap.port}/by-name`, on: ['failure'] },
      { url: `http://[::ffff:127.0.0.1]:${trap.port}/mapped`, on: ['failure'] },
    ]);
    const p = probe({ spec, event: 'failure', payload: result }, uniqueName('ssrf'), STRICT_QUEUE);
    expect(await failureType(p)).toBe('NotifyDestinationRefused');
    const err = (await p.catch((e: WorkflowFailedError) => e)) as WorkflowFailedError;
    const message = ((err.cause as ActivityFailure).cause as ApplicationFailure).message;
    expect(message).toBe(
      `not sent (not retried): ${trap.url}/by-address: 127.0.0.1 is a loopback address; webhooks go to public addresses only (an operator can open ranges with PONTOON_NOTIFY_ALLOW_CIDRS); ` +
        `http://localhost:${trap.port}/by-name: localhost resolves to 127.0.0.1 is a loopback address; webhooks go to public addresses only (an operator can open ranges with PONTOON_NOTIFY_ALLOW_CIDRS); ` +
        `http://[::ffff:127.0.0.1]:${trap.port}/mapped: 127.0.0.1 is a loopback address; webhooks go to public addresses only (an operator can open ranges with PONTOON_NOTIFY_ALLOW_CIDRS)`,
    );
    expect(trap.hits).toEqual([]);
  });

  it('with the allowlist, delivers to 127.0.0.1 by name too, and keeps only the status code of any answer', async () => {
    const spec = specWith([
      { url: `http://localhost:${trap.port}/allowed`, on: ['failure'] },
      { url: `${receiver.url}/gone`, on: ['failure'] },
    ]);
    const id = uniqueName('status-only');
    const p = probe({ spec, event: 'failure', payload: result }, id);
    expect(await failureType(p)).toBe('NotifyRejected');
    expect(trap.hits).toEqual(['POST /allowed']);
    // The trap answered a credential-looking body, /gone answered "nope": neither is in history.
    const history = JSON.stringify(await client.workflow.getHandle(id).fetchHistory());
    expect(history).not.toContain('instance-credentials');
    expect(history).not.toContain('ASIA-TRAP');
    expect(history).not.toContain('nope');
    const err = (await p.catch((e: WorkflowFailedError) => e)) as WorkflowFailedError;
    expect(((err.cause as ActivityFailure).cause as ApplicationFailure).message).toBe(
      `refused (not retried): ${receiver.url}/gone answered 410`,
    );
  });
});
