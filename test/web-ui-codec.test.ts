/**
 * Issue 21 §2 in a real browser: the Temporal Web UI shows payloads Pontoon stores encrypted
 * (PONTOON_PAYLOAD_KEYS) decoded through the API's codec server, and encoded without it.
 *
 * A Temporal dev server WITH its Web UI and `--ui-codec-endpoint http://127.0.0.1:<api>/codec` (as
 * `pontoon dev` starts it when keys are set; the test run's shared server is headless), a worker
 * with a key, and the API with API keys and PONTOON_CODEC_CORS_ORIGINS = the UI's origin. Chromium
 * opens an execution's page:
 *   - carrying a viewer key (as an SSO proxy in front of the UI would add it): the UI's requests to
 *     the codec server (a real CORS preflight from the UI's origin, then POST /codec/decode) show the
 *     execution's input and result decoded: the parameter value is on the page;
 *   - without a key: the codec server answers 401 and the page shows the payloads encoded (the
 *     Input panel holds a base64 string, which the test opens with the key: the input's ciphertext),
 *     never the parameter value;
 *   - a second dev server WITHOUT the codec endpoint shows them encoded too.
 * Screenshots go to .pontoon/artifacts/web-ui-codec/.
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import pino from 'pino';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { newApiKey } from '../api/auth.ts';
import { startApi } from '../api/main.ts';
import { startExecution, waitForResult } from '../client/functions.ts';
import { type DevServer, freePort, startDevServer } from '../dev/temporal.ts';
import { AesGcmPayloadCodec, parsePayloadKeys } from '../platform/payload-codec.ts';
import { artifactsDir, launchChromium } from './browser.ts';
import {
  apply,
  fixtureSpec,
  type RunningWorker,
  startWorker,
  testConfig,
  uniqueName,
  waitFor,
} from './helpers.ts';

/** UI pages render from visibility and the codec server; under a loaded CI machine both take seconds. */
const UI_WAIT = 60_000;
const KEYS = `k1:${randomBytes(32).toString('base64')}`;
const SECRET = `canary-ui-${randomBytes(6).toString('hex')}`;
const viewer = newApiKey('ui', 'viewer');

interface Side {
  server: DevServer;
  uiUrl: string;
  w: RunningWorker;
  run: { workflowId: string; runId: string };
}
let withCodec: Side;
let withoutCodec: Side;
let api: { url: string; close(): Promise<void> };
let browser: Browser;
let shots: string;
/** Codec server requests seen by the browser: method, URL, status. */
const codecCalls: string[] = [];

async function side(uiCodecEndpoint?: string): Promise<Side> {
  const uiPort = await freePort();
  const server = await startDevServer({
    cli: inject('temporalCli'),
    port: await freePort(),
    uiPort,
    ...(uiCodecEndpoint ? { uiCodecEndpoint } : {}),
    logFile: path.join(inject('testDir'), `web-ui-codec-server-${process.pid}-${uiPort}.log`),
  });
  const w = await startWorker(testConfig({ TEMPORAL_ADDRESS: server.address, PONTOON_PAYLOAD_KEYS: KEYS }));
  const fn = uniqueName('uicodec');
  await apply(
    w.client,
    fixtureSpec(fn, 'behave.mjs', {
      parameters: [
        { name: 'mode', default: 'ok' },
        { name: 'secret', default: 'none' },
      ],
    } as never),
    w.config.taskQueue,
  );
  const started = await startExecution(
    w.client,
    { function: fn, parameters: { secret: SECRET } },
    { trigger: 'api', taskQueue: w.config.taskQueue },
  );
  expect((await waitForResult(w.client, started.executionId)).status).toBe('succeeded');
  return {
    server,
    uiUrl: `http://localhost:${uiPort}`,
    w,
    run: { workflowId: started.executionId, runId: started.runId! },
  };
}

beforeAll(async () => {
  const apiPort = await freePort();
  withCodec = await side(`http://127.0.0.1:${apiPort}/codec`);
  api = await startApi({
    api: {
      host: '127.0.0.1',
      port: apiPort,
      auth: { mode: 'keys', keys: [viewer.entry] },
      codecCorsOrigins: [withCodec.uiUrl],
    },
    logger: pino({ level: 'silent' }),
    client: withCodec.w.client,
    taskQueue: withCodec.w.config.taskQueue,
    dataDir: withCodec.w.config.dataDir,
  });
  withoutCodec = await side();
  shots = artifactsDir('web-ui-codec');
  browser = await launchChromium();
}, 240_000);

afterAll(async () => {
  await browser?.close();
  await api?.close();
  for (const s of [withCodec, withoutCodec]) {
    await s?.w.stop();
    await s?.server.stop();
  }
});

/** Opens an execution's page, reloading while the UI answers its first requests with an error page. */
async function open(context: BrowserContext, s: Side): Promise<Page> {
  const page = await context.newPage();
  page.on('response', (r) => {
    if (r.url().includes('/codec/')) codecCalls.push(`${r.request().method()} ${r.url()} ${r.status()}`);
  });
  const url = `${s.uiUrl}/namespaces/default/workflows/${encodeURIComponent(s.run.workflowId)}/${s.run.runId}/history`;
  await waitFor(
    `the Web UI page ${url}`,
    async () => {
      await page.goto(url, { waitUntil: 'domcontentloaded' });
      const error = page.getByText(/Uh oh\. There's an error/);
      await page.locator('h1').or(error).first().waitFor({ timeout: 20_000 });
      return (await error.isVisible()) ? undefined : true;
    },
    UI_WAIT,
  );
  return page;
}

/** The text as rendered: what a user sees (a Playwright locator's innerText, not a DOM node's). */
// biome-ignore lint/performance/useDomNodeTextContent: a Playwright locator; the rendered text is the point
const seen = (f: ReturnType<Page['mainFrame']>) => f.locator('body').innerText();

/** Everything the page renders, frames included. */
async function pageText(page: Page): Promise<string> {
  const texts = await Promise.all(page.frames().map((f) => seen(f).catch(() => '')));
  return texts.join('\n');
}

/**
 * The Input panel as shown encoded: the UI prints an undecoded payload's data as a base64 string.
 * Opened here with the key, it is the execution's input: the UI shows our ciphertext, not a blank.
 */
async function expectEncodedInput(page: Page): Promise<void> {
  const shown = await waitFor(
    'the Input panel',
    async () => /\nInput\n(?:⌄\n)*"([A-Za-z0-9+/=]{40,})"\n/.exec(await pageText(page))?.[1],
    UI_WAIT,
  );
  expect(await pageText(page)).not.toContain(SECRET);
  const codec = new AesGcmPayloadCodec(parsePayloadKeys({ PONTOON_PAYLOAD_KEYS: KEYS }));
  const [input] = await codec.decode([
    {
      metadata: {
        encoding: Buffer.from('binary/encrypted'),
        'encryption-key-id': Buffer.from('k1'),
      },
      data: Buffer.from(shown, 'base64'),
    },
  ]);
  expect(Buffer.from(input!.data!).toString()).toContain(SECRET);
}

it('with the codec endpoint and a viewer key, the Web UI shows the decoded input and result', async () => {
  const context = await browser.newContext({
    viewport: { width: 1600, height: 1100 },
    // The key a proxy in front of the UI would add; Chromium still makes the CORS preflight itself.
    extraHTTPHeaders: { authorization: `Bearer ${viewer.token}` },
  });
  const page = await open(context, withCodec);
  await expect.poll(() => pageText(page), { timeout: UI_WAIT }).toContain(SECRET);
  const text = await pageText(page);
  expect(text).not.toContain('binary/encrypted');
  await page.screenshot({ path: path.join(shots, '1-decoded.png'), fullPage: true });
  expect(
    codecCalls.some((c) => /^POST .*\/codec\/decode(\?\S*)? 200$/.test(c)),
    codecCalls.join('\n'),
  ).toBe(true);
  await context.close();
}, 180_000);

it('without a key the codec server refuses and the page shows the payloads encoded', async () => {
  codecCalls.length = 0;
  const context = await browser.newContext({ viewport: { width: 1600, height: 1100 } });
  const page = await open(context, withCodec);
  await expect
    .poll(() => codecCalls.some((c) => /\/codec\/decode(\?\S*)? 401$/.test(c)), { timeout: UI_WAIT })
    .toBe(true);
  // The UI shows what Temporal holds: the encrypted payload, never the parameter.
  await expectEncodedInput(page);
  await page.screenshot({ path: path.join(shots, '2-no-key.png'), fullPage: true });
  await context.close();
}, 180_000);

it('a dev server without the codec endpoint shows the payloads encoded', async () => {
  const context = await browser.newContext({ viewport: { width: 1600, height: 1100 } });
  const page = await open(context, withoutCodec);
  await expectEncodedInput(page);
  await page.screenshot({ path: path.join(shots, '3-no-codec-endpoint.png'), fullPage: true });
  await context.close();
}, 180_000);
