/**
 * Issue 17, finding 3, with a real browser: the open dev-mode API (`npm start`: no key, 127.0.0.1)
 * and a page of another origin (127.0.0.1 on another port — the same *site*, the hardest case) that
 * tries every mutating route the ways a page can without the user's help: fetch POST with no content
 * type, text/plain and a form body (no-cors), JSON with a CORS preflight, PUT and DELETE, an HTML
 * form post of each kind, and an <img>. Then DNS rebinding: a name Chromium resolves to 127.0.0.1
 * (--host-resolver-rules), the way a rebinding attacker's page ends up, tries a same-origin PUT of a
 * spec with a local command. The API must have changed nothing: no execution started or cancelled,
 * no schedule paused, unpaused or triggered, no spec applied or deleted.
 *
 * Debian's Chromium, driven by playwright-core, headless (test/browser.ts).
 */
import { mkdtempSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startApi } from '../api/main.ts';
import { listExecutions } from '../client/executions.ts';
import { getSpec, startExecution } from '../client/functions.ts';
import { scheduleId } from '../core/names.ts';
import { createLogger } from '../platform/logger.ts';
import { createMetrics } from '../platform/metrics.ts';
import { launchChromium } from './browser.ts';
import { apply, fixtureSpec, type RunningWorker, startWorker, uniqueName, waitForListed } from './helpers.ts';

let w: RunningWorker;
let api: { url: string; close(): Promise<void> };
let browser: Browser | undefined;
let evil: http.Server;
let evilUrl: string;
const metrics = createMetrics();
const fn = uniqueName('victim');
let running: string;

/** The attacker's page: every request a page can make to the API without a preflight it is granted. */
function attackPage(apiUrl: string, runningId: string): string {
  const exec = `${apiUrl}/v1/executions/${encodeURIComponent(runningId)}/cancel`;
  const posts = [
    `${apiUrl}/v1/functions/${fn}/invocations`,
    exec,
    `${apiUrl}/v1/functions/${fn}/schedules/nightly/pause`,
    `${apiUrl}/v1/functions/${fn}/schedules/held/unpause`,
    `${apiUrl}/v1/functions/${fn}/schedules/nightly/trigger`,
    `${apiUrl}/v1/functions/${fn}/schedules/nightly/backfill`,
  ];
  const spec = JSON.stringify({
    apiVersion: 'pontoon.dev/v1',
    kind: 'Function',
    metadata: { name: fn },
    spec: { image: 'x', local: { command: ['sh', '-c', 'touch /tmp/pwned'] } },
  });
  const backfill = JSON.stringify({ from: '2026-01-01T00:00:00Z', to: '2026-01-02T00:00:00Z' });
  return `<!doctype html><html><body><iframe name="sink"></iframe><script>
const posts = ${JSON.stringify(posts)};
const fnUrl = ${JSON.stringify(`${apiUrl}/v1/functions/${fn}`)};
const spec = ${JSON.stringify(spec)};
const body = ${JSON.stringify(backfill)};
const tried = [];
const attempt = (what, p) => p.then(() => tried.push(what + ': sent'), (e) => tried.push(what + ': ' + e.message));
(async () => {
  for (const url of posts) {
    await attempt('no content type ' + url, fetch(url, { method: 'POST', mode: 'no-cors' }));
    await attempt('text/plain ' + url, fetch(url, { method: 'POST', mode: 'no-cors', body }));
    await attempt('form ' + url, fetch(url, { method: 'POST', mode: 'no-cors', body: new URLSearchParams({ a: '1' }) }));
    await attempt('multipart ' + url, fetch(url, { method: 'POST', mode: 'no-cors', body: new FormData() }));
    await attempt('json ' + url, fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body }));
    await attempt('cli header ' + url, fetch(url, { method: 'POST', headers: { 'x-pontoon-client': 'cli' } }));
  }
  await attempt('PUT yaml', fetch(fnUrl, { method: 'PUT', headers: { 'content-type': 'application/yaml' }, body: spec }));
  await attempt('PUT no-cors', fetch(fnUrl, { method: 'PUT', mode: 'no-cors', body: spec }));
  await attempt('DELETE', fetch(fnUrl, { method: 'DELETE' }));
  await attempt('DELETE no-cors', fetch(fnUrl + '?cancelRunning=true', { method: 'DELETE', mode: 'no-cors' }));
  for (const enctype of ['application/x-www-form-urlencoded', 'multipart/form-data', 'text/plain']) {
    for (const url of posts) {
      const f = document.createElement('form');
      f.method = 'POST'; f.action = url; f.target = 'sink'; f.enctype = enctype;
      const i = document.createElement('input');
      i.name = '{"from":"2026-01-01T00:00:00Z","to":"2026-01-02T00:00:00Z","x":"'; i.value = '"}';
      f.appendChild(i); document.body.appendChild(f); f.submit();
      await new Promise((r) => setTimeout(r, 150));
      tried.push('form post ' + enctype + ' ' + url);
    }
  }
  for (const url of posts) {
    await new Promise((r) => { const img = new Image(); img.onload = img.onerror = r; img.src = url; });
    tried.push('img ' + url);
  }
  window.tried = tried;
  window.done = true;
})();
</script></body></html>`;
}

beforeAll(async () => {
  w = await startWorker();
  const marker = path.join(mkdtempSync(path.join(os.tmpdir(), 'victim-')), 'marks');
  // endAt in the past: the schedules never fire by themselves; only a request could start one.
  const schedule = { cron: '0 2 * * *', timezone: 'UTC', endAt: '2026-02-01T00:00:00Z' };
  await apply(
    w.client,
    fixtureSpec(fn, 'behave.mjs', {
      parameters: [
        { name: 'mode', default: 'ok' },
        { name: 'marker', default: marker },
        { name: 'seconds', type: 'integer', default: 1 },
      ],
      schedules: [
        { name: 'nightly', ...schedule },
        { name: 'held', ...schedule },
      ],
    } as never),
    w.config.taskQueue,
  );
  await w.client.schedule.getHandle(scheduleId(fn, 'held')).pause('held by the test');
  // An execution running through the attack: cancel must not reach it.
  running = (
    await startExecution(
      w.client,
      { function: fn, parameters: { mode: 'marker', seconds: 300 } },
      { trigger: 'cli', taskQueue: w.config.taskQueue },
    )
  ).executionId;
  const port = await new Promise<number>((resolve) => {
    const s = http.createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
  api = await startApi({
    api: { host: '127.0.0.1', port, auth: { mode: 'open' } },
    logger: createLogger('silent'),
    client: w.client,
    taskQueue: w.config.taskQueue,
    dataDir: w.config.dataDir,
    metrics,
  });
  evil = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html' }).end(attackPage(api.url, running));
  });
  await new Promise<void>((resolve) => evil.listen(0, '127.0.0.1', () => resolve()));
  evilUrl = `http://127.0.0.1:${(evil.address() as AddressInfo).port}/`;
  browser = await launchChromium([`--host-resolver-rules=MAP rebind.test 127.0.0.1`]);
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await new Promise<void>((resolve) => (evil ? evil.close(() => resolve()) : resolve()));
  if (running)
    await w?.client.workflow
      .getHandle(running)
      .cancel()
      .catch(() => undefined);
  await api?.close();
  await w?.stop();
});

/** The function's executions, from visibility (eventually consistent: see waitForListed). */
const listAll = async () => (await listExecutions(w.client, { function: fn, limit: 100 })).executions;

/** Answers of the API to the mutating methods, by status code. */
async function mutatingAnswers(): Promise<Record<string, number>> {
  const m = await metrics.apiRequests.get();
  const out: Record<string, number> = {};
  for (const v of m.values) {
    if (!['POST', 'PUT', 'DELETE'].includes(String(v.labels.method))) continue;
    const code = String(v.labels.status_code);
    out[code] = (out[code] ?? 0) + v.value;
  }
  return out;
}

it('a page of another origin changes nothing: no execution, cancel, pause, unpause, trigger, backfill, apply or delete', async () => {
  const page = await browser!.newPage();
  await page.goto(evilUrl);
  await page.waitForFunction(() => (globalThis as { done?: boolean }).done === true, null, {
    timeout: 90_000,
  });
  const tried = (await page.evaluate(() => (globalThis as unknown as { tried: string[] }).tried)) as string[];
  expect(tried.length).toBe(6 * 6 + 4 + 3 * 6 + 6);
  // Give the form posts' requests time to land.
  await new Promise((r) => setTimeout(r, 1_000));

  // The requests did reach the API, and every one was refused.
  const answers = await mutatingAnswers();
  expect(
    Object.keys(answers).filter((s) => s < '400'),
    JSON.stringify(answers),
  ).toEqual([]);
  expect(answers['403'] ?? 0).toBeGreaterThanOrEqual(6 * 4 + 3 * 6);

  // Nothing changed.
  const h = await w.client.workflow.getHandle(running).describe();
  expect(h.status.name).toBe('RUNNING');
  // Visibility may not list the running execution yet: wait for it, then nothing else is there.
  const execs = await waitForListed('the running execution listed', listAll, { ids: [running] });
  expect(execs.map((e) => e.executionId)).toEqual([running]);
  expect((await w.client.schedule.getHandle(scheduleId(fn, 'nightly')).describe()).state.paused).toBe(false);
  expect((await w.client.schedule.getHandle(scheduleId(fn, 'held')).describe()).state.paused).toBe(true);
  expect((await w.client.schedule.getHandle(scheduleId(fn, 'nightly')).describe()).info.numActionsTaken).toBe(
    0,
  );
  const spec = await getSpec(w.client, fn);
  expect(spec?.version).toBe(1);
  expect(spec?.spec.spec.local?.command).not.toContain('touch /tmp/pwned');
  await page.close();
}, 150_000);

it('DNS rebinding: a page whose name resolves to 127.0.0.1 gets 421 for everything, a same-origin PUT included', async () => {
  const port = new URL(api.url).port;
  const page = await browser!.newPage();
  const res = await page.goto(`http://rebind.test:${port}/healthz`);
  expect(res?.status()).toBe(421);
  expect(await res?.json()).toMatchObject({ code: 'host_not_allowed' });
  // Same origin as far as the browser knows: no preflight, the answer readable.
  const put = await page.evaluate(async (name) => {
    const r = await fetch(`/v1/functions/${name}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        apiVersion: 'pontoon.dev/v1',
        kind: 'Function',
        metadata: { name },
        spec: { image: 'x', local: { command: ['sh', '-c', 'touch /tmp/pwned'] } },
      }),
    });
    return { status: r.status, body: await r.json() };
  }, fn);
  expect(put).toEqual({
    status: 421,
    body: expect.objectContaining({
      code: 'host_not_allowed',
      message: expect.stringContaining('rebind.test'),
    }),
  });
  expect((await getSpec(w.client, fn))?.version).toBe(1);
  // The same page by the API's own address works (the developer's /docs tab).
  const own = await page.goto(`${api.url}/healthz`);
  expect(own?.status()).toBe(200);
  const execs = await waitForListed('the running execution listed', listAll, { ids: [running] });
  expect(execs.map((e) => e.executionId)).toEqual([running]);
  await page.close();
}, 60_000);
