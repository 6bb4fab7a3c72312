/**
 * Issue 17, findings 3, 4, 6 and 7 at the API, on a real worker and the real Temporal dev server:
 * - what a browser can send (Host, Origin, Sec-Fetch-Site, content type) — through inject() and a
 *   listening server; the real-browser test is test/browser-guard.test.ts;
 * - webhook URLs to internal addresses refused at apply, located in the spec;
 * - a backfill over the cap refused with the cap and the count, and nothing started;
 * - repeated wrong API keys answered 429 with Retry-After, per client address, and which address
 *   that is behind a proxy (PONTOON_API_TRUST_PROXY);
 * - literal env values that look like secrets refused at apply, through the API and Temporal;
 * - the OpenAPI document of each auth mode saying what that server answers;
 * - DELETE ?cancelRunning=true refused over its cap, before anything is deleted.
 */
import http from 'node:http';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApi } from '../api/app.ts';
import { newApiKey } from '../api/auth.ts';
import { parseTrustProxy } from '../api/config.ts';
import { API_ERRORS } from '../api/errors.ts';
import { listExecutions } from '../client/executions.ts';
import { parseAllowCidrs } from '../core/webhook-destination.ts';
import { createLogger } from '../platform/logger.ts';
import { apply, fixtureSpec, type RunningWorker, startWorker, uniqueName, waitForListed } from './helpers.ts';

let w: RunningWorker;
let open: FastifyInstance;
const apps: FastifyInstance[] = [];

async function api(extra: Partial<Parameters<typeof buildApi>[0]> = {}) {
  const app = await buildApi({
    client: w.client,
    logger: createLogger('silent'),
    taskQueue: w.config.taskQueue,
    dataDir: w.config.dataDir,
    auth: { mode: 'open' },
    ...extra,
  });
  apps.push(app);
  return app;
}

beforeAll(async () => {
  w = await startWorker();
  open = await api();
});
afterAll(async () => {
  await Promise.all(apps.map((a) => a.close()));
  await w?.stop();
});

/** The code of an error answer, checked against the registry's status. */
function code(res: { statusCode: number; json(): unknown }): string {
  const body = res.json() as { code: keyof typeof API_ERRORS };
  expect(API_ERRORS[body.code]?.status).toBe(res.statusCode);
  return body.code;
}

describe('requests a web page could send', () => {
  it('a POST without a JSON content type or X-Pontoon-Client is 415 before the route runs', async () => {
    const url = '/v1/executions/exec:nobody:1/cancel';
    for (const headers of [
      {},
      { 'content-type': 'text/plain' },
      { 'content-type': 'application/x-www-form-urlencoded' },
    ]) {
      const res = await open.inject({
        method: 'POST',
        url,
        headers,
        payload: headers['content-type'] ? 'x=1' : undefined,
      });
      expect(res.statusCode, JSON.stringify(headers)).toBe(415);
      expect(code(res)).toBe('unsupported_media_type');
      expect(res.json().message).toMatch(
        /needs Content-Type: application\/json .*or an X-Pontoon-Client header/,
      );
    }
    // What the CLI sends (no body, its header) and a JSON client (empty JSON body) reach the route.
    const cli = await open.inject({ method: 'POST', url, headers: { 'x-pontoon-client': 'cli' } });
    expect(code(cli)).toBe('execution_not_found');
    const json = await open.inject({ method: 'POST', url, headers: { 'content-type': 'application/json' } });
    expect(code(json)).toBe('execution_not_found');
  });

  it('another Origin, or Sec-Fetch-Site cross-site/same-site, is 403 cross_origin_refused on every route', async () => {
    for (const [method, url] of [
      ['GET', '/healthz'],
      ['GET', '/v1/functions'],
      ['POST', '/v1/functions/hello/invocations'],
    ] as const) {
      for (const headers of [
        { origin: 'http://evil.example' },
        { origin: 'null' },
        { origin: 'http://localhost:3000' },
        { 'sec-fetch-site': 'cross-site' },
        { 'sec-fetch-site': 'same-site' },
      ]) {
        const res = await open.inject({
          method,
          url,
          headers: { ...headers, 'content-type': 'application/json' },
          ...(method === 'POST' ? { payload: '{}' } : {}),
        });
        expect(res.statusCode, `${method} ${url} ${JSON.stringify(headers)}`).toBe(403);
        expect(code(res)).toBe('cross_origin_refused');
      }
    }
    // Its own origin (the /docs page) and requests without one (CLI, curl) are served.
    const own = await open.inject({
      method: 'GET',
      url: '/healthz',
      headers: { origin: 'http://localhost:80' },
    });
    expect(own.statusCode).toBe(200);
    const same = await open.inject({
      method: 'GET',
      url: '/healthz',
      headers: { 'sec-fetch-site': 'same-origin' },
    });
    expect(same.statusCode).toBe(200);
  });

  it('a Host that does not name the server is 421 host_not_allowed (DNS rebinding), also when listening', async () => {
    const res = await open.inject({
      method: 'GET',
      url: '/healthz',
      headers: { host: 'rebind.example:8080' },
    });
    expect(res.statusCode).toBe(421);
    expect(code(res)).toBe('host_not_allowed');
    // inject() sends localhost:80: a loopback name is fine while the server does not listen.
    expect((await open.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);

    const listening = await api({ allowedHosts: ['pontoon.test'] });
    await listening.listen({ host: '127.0.0.1', port: 0 });
    const port = (listening.server.address() as { port: number }).port;
    const get = (host: string) =>
      new Promise<number>((resolve, reject) => {
        http
          .get({ host: '127.0.0.1', port, path: '/healthz', headers: { host } }, (r) => {
            r.resume();
            resolve(r.statusCode ?? 0);
          })
          .on('error', reject);
      });
    expect(await get(`127.0.0.1:${port}`)).toBe(200);
    expect(await get(`localhost:${port}`)).toBe(200);
    expect(await get(`[::1]:${port}`)).toBe(200);
    expect(await get('pontoon.test')).toBe(200); // PONTOON_API_ALLOWED_HOSTS entry, any port
    expect(await get(`rebind.example:${port}`)).toBe(421);
    expect(await get('localhost:80')).toBe(421); // the right name, another port
    expect(await get(`127.0.0.1.rebind.example:${port}`)).toBe(421);
  });
});

describe('webhook destinations at apply', () => {
  const hook = (url: string) =>
    JSON.stringify(
      fixtureSpec('hooked', 'behave.mjs', {
        notify: [{ url: 'https://hooks.example.com/ok' }, { url }],
      } as never),
      null,
      2,
    );

  it('refuses literal loopback, link-local, private and metadata destinations with the line of the URL', async () => {
    for (const [url, why] of [
      [
        'http://169.254.169.254/latest/meta-data/',
        /169\.254\.169\.254 is a link-local \(cloud metadata\) address/,
      ],
      ['http://127.0.0.1:9/hook', /127\.0\.0\.1 is a loopback address/],
      ['http://0x7f.1/hook', /127\.0\.0\.1 is a loopback address/],
      ['http://[::ffff:10.0.0.1]/hook', /10\.0\.0\.1 is a private address/],
      ['http://192.168.1.20/hook', /is a private address/],
      ['http://[fd00::1]/hook', /is a private \(unique local\) address/],
      [
        'http://metadata.google.internal/computeMetadata/v1/',
        /metadata\.google\.internal is a cloud metadata service/,
      ],
    ] as const) {
      const res = await open.inject({
        method: 'PUT',
        url: '/v1/functions/hooked',
        headers: { 'content-type': 'application/json' },
        payload: hook(url),
      });
      expect(res.statusCode, url).toBe(400);
      expect(code(res)).toBe('spec_invalid');
      const details = res.json().details as {
        field: string;
        message: string;
        line: number;
        column: number;
      }[];
      expect(details).toEqual([
        {
          field: 'spec.notify.1.url',
          message: expect.stringMatching(why),
          line: expect.any(Number),
          column: expect.any(Number),
        },
      ]);
      // The line holding the refused URL, in the body as sent.
      expect(hook(url).split('\n')[details[0]!.line - 1]).toContain('"url"');
      expect(details[0]!.message).toMatch(/PONTOON_NOTIFY_ALLOW_CIDRS|never go there/);
    }
  });

  it('applies a public destination, and an internal one the operator opened', async () => {
    const name = uniqueName('hooked');
    const body = (url: string) =>
      JSON.stringify(fixtureSpec(name, 'behave.mjs', { notify: [{ url }] } as never));
    const pub = await open.inject({
      method: 'PUT',
      url: `/v1/functions/${name}`,
      headers: { 'content-type': 'application/json' },
      payload: body('https://hooks.example.com/pontoon'),
    });
    expect(pub.statusCode, pub.body).toBe(201);
    const opened = await api({ notifyAllowCidrs: parseAllowCidrs('127.0.0.1/32') });
    const local = await opened.inject({
      method: 'PUT',
      url: `/v1/functions/${name}`,
      headers: { 'content-type': 'application/json' },
      payload: body('http://127.0.0.1:9/hook'),
    });
    expect(local.statusCode, local.body).toBe(200);
    // The allowlist opens that range only.
    const other = await opened.inject({
      method: 'PUT',
      url: `/v1/functions/${name}`,
      headers: { 'content-type': 'application/json' },
      payload: body('http://127.0.0.2/hook'),
    });
    expect(other.statusCode).toBe(400);
  });
});

describe('backfill cap', () => {
  it('refuses a range over the cap with the cap and the count, starts nothing, and runs a range at the cap', async () => {
    const fn = uniqueName('capped');
    // endAt in the past: the schedule never fires by itself during the test.
    await apply(
      w.client,
      fixtureSpec(fn, 'behave.mjs', {
        parameters: [{ name: 'mode', default: 'ok' }],
        schedules: [{ name: 'hourly', cron: '0 * * * *', timezone: 'UTC', endAt: '2026-02-01T00:00:00Z' }],
      } as never),
      w.config.taskQueue,
    );
    const app = await api({ maxBackfillFires: 24 });
    const backfill = (from: string, to: string) =>
      app.inject({
        method: 'POST',
        url: `/v1/functions/${fn}/schedules/hourly/backfill`,
        headers: { 'content-type': 'application/json' },
        payload: JSON.stringify({ from, to, overlap: 'allow_all' }),
      });
    // 00:00 … 00:00 the next day, both ends inclusive: 25 fires.
    const over = await backfill('2026-01-01T00:00:00Z', '2026-01-02T00:00:00Z');
    expect(over.statusCode).toBe(400);
    expect(code(over)).toBe('backfill_too_large');
    expect(over.json().message).toBe(
      'the range holds about 25 fires of schedule "hourly"; one backfill starts at most 24 (PONTOON_API_MAX_BACKFILL_FIRES): split it, e.g. from 2026-01-01T00:00:00Z to 2026-01-01T23:00:00.000Z',
    );
    expect(over.json().details).toEqual([expect.objectContaining({ field: 'body.to', cap: 24, fires: 25 })]);

    const ok = await backfill('2026-01-01T00:00:00Z', '2026-01-01T23:00:00Z');
    expect(ok.statusCode, ok.body).toBe(202);
    const listAll = async () => (await listExecutions(w.client, { function: fn, limit: 100 })).executions;
    const runs = await waitForListed('24 backfilled executions', listAll, { count: 24 }, 60_000);
    await new Promise((r) => setTimeout(r, 2_000));
    // Exactly the accepted range's 24: the refused request started none.
    expect(await listAll()).toHaveLength(24);
    expect(runs.length).toBe(24);
  }, 90_000);

  it('the default cap is 1000: a century of an hourly schedule is refused with its count', async () => {
    const fn = uniqueName('century');
    await apply(
      w.client,
      fixtureSpec(fn, 'behave.mjs', {
        parameters: [{ name: 'mode', default: 'ok' }],
        schedules: [{ name: 'hourly', cron: '0 * * * *', timezone: 'UTC', endAt: '2126-06-01T00:00:00Z' }],
      } as never),
      w.config.taskQueue,
    );
    const res = await open.inject({
      method: 'POST',
      url: `/v1/functions/${fn}/schedules/hourly/backfill`,
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify({ from: '2026-01-01T00:00:00Z', to: '2126-01-01T00:00:00Z' }),
    });
    expect(res.statusCode).toBe(400);
    expect(code(res)).toBe('backfill_too_large');
    // 36,524 days × 24 hours, plus the fire at the end: 876,577.
    expect(res.json().details).toEqual([expect.objectContaining({ cap: 1000, fires: 876_577 })]);
    expect(res.json().message).toContain('about 876577 fires');
    expect(res.json().message).toContain('to 2026-02-11T15:00:00.000Z');
    await open.inject({ method: 'DELETE', url: `/v1/functions/${fn}` });
  }, 30_000);
});

describe('repeated wrong API keys', () => {
  it('the 21st wrong key within a minute from one address is 429 with Retry-After; other addresses are served', async () => {
    const admin = newApiKey('admin', 'admin');
    const keyed = await api({ auth: { mode: 'keys', keys: [admin.entry] } });
    const get = (remoteAddress: string, token?: string) =>
      keyed.inject({
        method: 'GET',
        url: '/v1/functions?limit=1',
        remoteAddress,
        headers: token ? { authorization: `Bearer ${token}` } : {},
      });
    const statuses: number[] = [];
    let last: Awaited<ReturnType<typeof get>> | undefined;
    for (let i = 0; i < 25; i++) {
      last = await get('10.9.0.1', `pk_wrong_${i}`);
      statuses.push(last.statusCode);
    }
    expect(statuses).toEqual([...Array(20).fill(401), ...Array(5).fill(429)]);
    expect(code(last!)).toBe('too_many_requests');
    const retryAfter = Number(last!.headers['retry-after']);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(last!.json().message).toMatch(
      /more than 20 wrong API keys from this address within a minute; try again in \d+ s/,
    );
    // Past the limit even the right key waits (no telling 429 from 200 while guessing) …
    expect((await get('10.9.0.1', admin.token)).statusCode).toBe(429);
    expect((await get('10.9.0.1')).statusCode).toBe(401);
    // … while another address is served, and a missing key is never counted.
    expect((await get('10.9.0.2', admin.token)).statusCode).toBe(200);
    const noKey: number[] = [];
    for (let i = 0; i < 25; i++) noKey.push((await get('10.9.0.3')).statusCode);
    expect(new Set(noKey)).toEqual(new Set([401]));
  });
});

describe('literal secrets in specs (issue 17, finding 7)', () => {
  const yaml = (name: string, env: string) => `apiVersion: pontoon.dev/v1
kind: Function
metadata:
  name: ${name}
spec:
  image: pontoon/test:0
  local:
    command: [node, -e, "0"]
  env:
${env}`;

  it('a literal that looks like a secret is 400 spec_invalid at its line, through the API and straight to Temporal', async () => {
    const name = uniqueName('literal');
    const res = await open.inject({
      method: 'PUT',
      url: `/v1/functions/${name}`,
      headers: { 'content-type': 'application/yaml' },
      payload: yaml(
        name,
        '    - name: MODE\n      value: fast\n    - name: GITHUB_TOKEN\n      value: changeme\n',
      ),
    });
    expect(res.statusCode).toBe(400);
    expect(code(res)).toBe('spec_invalid');
    expect(res.json().details).toEqual([
      {
        line: 13,
        column: 14,
        field: 'spec.env[1].value',
        message: expect.stringMatching(
          /^looks like a secret \(its name ends in TOKEN\): a literal is stored in plain text .* use secretRef .* or sensitive: false if it is not a secret$/,
        ),
      },
    ]);
    // Anyone applying through Temporal meets the controller's validator: nothing is applied.
    const spec = fixtureSpec(name, 'behave.mjs', { env: [{ name: 'DB_PASSWORD', value: 'hunter2' }] });
    const refused = await apply(w.client, spec, w.config.taskQueue).then(
      () => undefined,
      (err: Error & { cause?: Error & { type?: string } }) => err.cause,
    );
    expect(refused?.type).toBe('SpecInvalid');
    expect(refused?.message).toMatch(
      /spec\.env\[0\]\.value: looks like a secret \(its name holds PASSWORD\)/,
    );
    const got = await open.inject({ method: 'GET', url: `/v1/functions/${name}` });
    expect(code(got)).toBe('function_not_found');
  });

  it('sensitive: false keeps a literal, and secretRef is never refused', async () => {
    const name = uniqueName('literal');
    const res = await open.inject({
      method: 'PUT',
      url: `/v1/functions/${name}`,
      headers: { 'content-type': 'application/yaml' },
      payload: yaml(
        name,
        '    - name: FIXTURE_PASSWORD\n      value: not-a-real-one\n      sensitive: false\n    - name: DB_PASSWORD\n      secretRef: {name: db, key: password}\n',
      ),
    });
    expect(res.statusCode, res.body).toBe(201);
    const got = await open.inject({ method: 'GET', url: `/v1/functions/${name}` });
    expect(got.json().spec.spec.env[0]).toEqual({
      name: 'FIXTURE_PASSWORD',
      value: 'not-a-real-one',
      sensitive: false,
    });
    await open.inject({ method: 'DELETE', url: `/v1/functions/${name}` });
  });
});

describe('OpenAPI document of each auth mode', () => {
  type Doc = {
    security?: unknown;
    components: { securitySchemes?: unknown };
    paths: Record<
      string,
      Record<string, { security?: unknown; responses: Record<string, { description: string }> }>
    >;
  };
  const operations = (doc: Doc) =>
    Object.entries(doc.paths).flatMap(([p, ops]) =>
      Object.entries(ops).map(([m, op]) => ({ at: `${m} ${p}`, op })),
    );

  it('open mode: no security, no 401 or 429, and still the 403 and 421 a browser from elsewhere gets', async () => {
    const doc = (await open.inject({ method: 'GET', url: '/openapi.json' })).json() as Doc;
    expect(doc.security).toBeUndefined();
    expect(doc.components.securitySchemes).toBeUndefined();
    for (const { at, op } of operations(doc)) {
      expect(op.security, at).toBeUndefined();
      expect(Object.keys(op.responses), at).not.toContain('401');
      expect(Object.keys(op.responses), at).not.toContain('429');
      expect(op.responses['403']?.description, at).toMatch(/^`cross_origin_refused`/);
      expect(op.responses['403']!.description, at).not.toContain('forbidden');
      expect(op.responses['421']?.description, at).toMatch(/^`host_not_allowed`/);
    }
    // What the document says is what the server does: another origin is 403 in open mode.
    const res = await open.inject({
      method: 'GET',
      url: '/v1/functions',
      headers: { origin: 'http://evil.example' },
    });
    expect(res.statusCode).toBe(403);
  });

  it('keys mode: every keyed route documents 401, 403 (forbidden and cross-origin) and 429', async () => {
    const keyed = await api({ auth: { mode: 'keys', keys: [newApiKey('doc', 'viewer').entry] } });
    const doc = (await keyed.inject({ method: 'GET', url: '/openapi.json' })).json() as Doc;
    expect(doc.security).toEqual([{ bearer: [] }]);
    for (const { at, op } of operations(doc)) {
      if (Array.isArray(op.security) && op.security.length === 0) {
        expect(Object.keys(op.responses), at).not.toContain('401');
        expect(op.responses['403']?.description, at).toMatch(/cross_origin_refused/);
        continue;
      }
      expect(Object.keys(op.responses), at).toEqual(expect.arrayContaining(['401', '403', '429']));
      expect(op.responses['403']!.description, at).toMatch(/`forbidden`.*`cross_origin_refused`/);
    }
  });
});

describe('delete with cancelRunning is bounded', () => {
  it('more running executions than the cap: 409 with the cap and the count, nothing deleted or cancelled; at the cap all are cancelled', async () => {
    const fn = uniqueName('fanout');
    await apply(
      w.client,
      fixtureSpec(fn, 'behave.mjs', {
        parameters: [
          { name: 'mode', default: 'marker' },
          { name: 'marker', default: `${w.config.dataDir}/fanout-${fn}.txt` },
          { name: 'seconds', type: 'integer', default: 120 },
        ],
        execution: { timeout: '5m' },
      }),
      w.config.taskQueue,
    );
    const started = await Promise.all(
      [1, 2, 3].map(() =>
        open.inject({
          method: 'POST',
          url: `/v1/functions/${fn}/invocations`,
          headers: { 'content-type': 'application/json' },
          payload: '{}',
        }),
      ),
    );
    const ids = started.map((r) => r.json().executionId as string);
    // The count DELETE checks, and the list it cancels from, come from visibility: wait for all 3.
    await waitForListed(
      'three running executions in visibility',
      async () => (await listExecutions(w.client, { function: fn, status: 'running', limit: 10 })).executions,
      { ids, count: 3 },
    );
    const capped = await api({ maxDeleteCancels: 2 });
    const over = await capped.inject({ method: 'DELETE', url: `/v1/functions/${fn}?cancelRunning=true` });
    expect(over.statusCode).toBe(409);
    expect(code(over)).toBe('too_many_to_cancel');
    expect(over.json().message).toBe(
      `function "${fn}" has 3 running executions; one delete cancels at most 2 (PONTOON_API_MAX_DELETE_CANCELS), so nothing was deleted: cancel some first (POST /v1/executions/{id}/cancel), or delete without cancelRunning and let them finish`,
    );
    expect(over.json().details).toEqual([
      expect.objectContaining({ field: 'query.cancelRunning', cap: 2, running: 3 }),
    ]);
    expect((await capped.inject({ method: 'GET', url: `/v1/functions/${fn}` })).statusCode).toBe(200);
    for (const id of ids)
      expect((await w.client.workflow.getHandle(id).describe()).status.name).toBe('RUNNING');

    const enough = await api({ maxDeleteCancels: 3 });
    const ok = await enough.inject({ method: 'DELETE', url: `/v1/functions/${fn}?cancelRunning=true` });
    expect(ok.statusCode, ok.body).toBe(200);
    expect(ok.json()).toMatchObject({ deleted: true, cancelledExecutions: 3 });
    for (const id of ids) await expect(w.client.workflow.getHandle(id).result()).rejects.toThrow();
  }, 60_000);
});

describe('client address behind a proxy (PONTOON_API_TRUST_PROXY)', () => {
  const admin = newApiKey('admin', 'admin');
  const wrong = (app: FastifyInstance, remoteAddress: string, forwardedFor?: string) =>
    app
      .inject({
        method: 'GET',
        url: '/v1/functions?limit=1',
        remoteAddress,
        headers: {
          authorization: 'Bearer pk_wrong',
          ...(forwardedFor ? { 'x-forwarded-for': forwardedFor } : {}),
        },
      })
      .then((r) => r.statusCode);

  it('default: X-Forwarded-For is ignored, so a client cannot pose as many to guess more keys', async () => {
    const app = await api({ auth: { mode: 'keys', keys: [admin.entry] }, authFailuresPerMinute: 2 });
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push(await wrong(app, '10.8.0.1', `203.0.113.${i}`));
    expect(statuses).toEqual([401, 401, 429, 429]);
  });

  it('trusting the proxy: each forwarded client has its own count; a hop that is not the proxy is not believed', async () => {
    const app = await api({
      auth: { mode: 'keys', keys: [admin.entry] },
      authFailuresPerMinute: 2,
      trustProxy: ['10.8.0.9'],
    });
    const viaProxy = [];
    for (let i = 0; i < 3; i++) viaProxy.push(await wrong(app, '10.8.0.9', '203.0.113.7'));
    expect(viaProxy).toEqual([401, 401, 429]);
    // Another client behind the same proxy is not held up by the first.
    expect(await wrong(app, '10.8.0.9', '203.0.113.8')).toBe(401);
    // Straight from another address, X-Forwarded-For is that client's own claim: counted by its socket.
    const direct = [];
    for (let i = 0; i < 3; i++) direct.push(await wrong(app, '10.8.0.2', `198.51.100.${i}`));
    expect(direct).toEqual([401, 401, 429]);
  });

  it('PONTOON_API_TRUST_PROXY parses to what Fastify takes, and refuses what it cannot use', () => {
    expect(parseTrustProxy('')).toBe(false);
    expect(parseTrustProxy('false')).toBe(false);
    expect(parseTrustProxy('true')).toBe(true);
    expect(parseTrustProxy('10.0.0.0/8, 127.0.0.1,loopback')).toEqual([
      '10.0.0.0/8',
      '127.0.0.1',
      'loopback',
    ]);
    expect(() => parseTrustProxy('2')).toThrow(/"2" is not an address or range/);
    expect(() => parseTrustProxy('proxy.internal')).toThrow(/PONTOON_API_TRUST_PROXY/);
    expect(() => parseTrustProxy('10.0.0.0/33')).toThrow(/not an address or range/);
    expect(parseTrustProxy('fd00::/8')).toEqual(['fd00::/8']);
  });
});
