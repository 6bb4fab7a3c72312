/**
 * Issue 18, the Temporal Web UI, in a real browser: a Temporal dev server WITH its Web UI (the test
 * run's shared server is headless), a real worker, one execution started by the `temporal` CLI exactly
 * as the README shows (a UUID workflow id, no Pontoon tool involved) whose function fails on both
 * attempts, and one started like the API whose first attempt fails. Chromium then looks at the pages a
 * user sees:
 *   - the list, filtered by the documented query and with the documented columns added: function,
 *     trigger and status on each row, the controllers left out (no RUNNING count while nothing runs);
 *   - an execution's Event History: each failed attempt is a red "Activity Task Failed" with the
 *     function's error and exit code, its log tail under the row; the execution's failure leads with
 *     the function's own error;
 *   - the Memo and User Metadata tabs: function, trigger, parameters and outcome.
 * Screenshots of each page go to .pontoon/artifacts/web-ui/ (gitignored). The UI is polled with
 * generous waits: it renders from visibility and from worker queries, both slower under load.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Browser, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { startExecution, waitForResult } from '../client/functions.ts';
import { type DevServer, freePort, startDevServer } from '../dev/temporal.ts';
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

const run = promisify(execFile);
/** UI pages render from visibility and worker queries; under a loaded CI machine both take seconds. */
const UI_WAIT = 60_000;

let server: DevServer;
let uiUrl: string;
let w: RunningWorker;
let browser: Browser;
let shots: string;
const failing = uniqueName('report');
const flaky = uniqueName('greet');
/** Started by `temporal workflow start` (trigger sdk, a UUID id): fails on both attempts. */
let cliRun: { workflowId: string; runId: string };
/** Started like the API does (trigger api, exec:<function>:<key>): attempt 1 fails, attempt 2 succeeds. */
let apiRun: { workflowId: string; runId: string };

beforeAll(async () => {
  const uiPort = await freePort();
  server = await startDevServer({
    cli: inject('temporalCli'),
    port: await freePort(),
    uiPort,
    logFile: path.join(inject('testDir'), `web-ui-server-${process.pid}.log`),
  });
  uiUrl = `http://127.0.0.1:${uiPort}`;
  w = await startWorker(testConfig({ TEMPORAL_ADDRESS: server.address }));
  const tq = w.config.taskQueue;
  await apply(
    w.client,
    fixtureSpec(failing, 'behave.mjs', {
      parameters: [{ name: 'region', default: 'eu-west-1' }],
      local: {
        command: [
          'sh',
          '-c',
          'echo "connecting to db in $PONTOON_PARAM_REGION"; echo "error: database unreachable at db:5432" >&2; exit 2',
        ],
      },
      execution: { retry: { maxAttempts: 2, initialInterval: '1s' } },
    } as never),
    tq,
  );
  await apply(
    w.client,
    fixtureSpec(flaky, 'behave.mjs', {
      parameters: [
        { name: 'mode', default: 'fail-until' },
        { name: 'until', type: 'integer', default: 2 },
      ],
      execution: { retry: { maxAttempts: 3, initialInterval: '1s' } },
    } as never),
    tq,
  );
  // The README's command, run as written (plus this server's address and task queue).
  const { stdout } = await run(inject('temporalCli'), [
    'workflow',
    'start',
    '--address',
    server.address,
    '--task-queue',
    tq,
    '--type',
    'executeFunction',
    '--input',
    JSON.stringify({ function: failing, parameters: { region: 'us-east-2' } }),
  ]);
  const workflowId = /WorkflowId\s+(\S+)/.exec(stdout)?.[1];
  const runId = /RunId\s+(\S+)/.exec(stdout)?.[1];
  expect(workflowId, stdout).toMatch(/^[0-9a-f-]{36}$/);
  cliRun = { workflowId: workflowId!, runId: runId! };
  const started = await startExecution(w.client, { function: flaky }, { trigger: 'api', taskQueue: tq });
  apiRun = { workflowId: started.executionId, runId: started.runId! };
  expect((await waitForResult(w.client, cliRun.workflowId)).status).toBe('failed');
  expect((await waitForResult(w.client, apiRun.workflowId)).status).toBe('succeeded');
  // The list page reads visibility: wait until both executions are there, closed.
  await waitFor(
    'both executions closed in visibility',
    async () => {
      let closed = 0;
      for await (const e of w.client.workflow.list({ query: 'WorkflowType = "executeFunction"' })) {
        if (e.status.name !== 'RUNNING') closed++;
      }
      return closed === 2 ? true : undefined;
    },
    UI_WAIT,
  );
  shots = artifactsDir('web-ui');
  browser = await launchChromium();
}, 240_000);

afterAll(async () => {
  await browser?.close();
  await w?.stop();
  await server?.stop();
});

/** Opens a UI page, reloading while the UI answers its first requests with an error page. */
async function open(url: string): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1600, height: 1100 } });
  await waitFor(
    `the Web UI page ${url}`,
    async () => {
      await page.goto(url, { waitUntil: 'domcontentloaded' });
      const error = page.getByText(/Uh oh\. There's an error/);
      const heading = page.locator('h1');
      await heading.or(error).first().waitFor({ timeout: 20_000 });
      return (await error.isVisible()) ? undefined : true;
    },
    UI_WAIT,
  );
  return page;
}

/** The page's window, as the functions evaluated in it see it (this project's types have no DOM). */
interface BrowserWindow {
  getComputedStyle(el: unknown): { backgroundColor: string };
}

/** The text as rendered: what a user sees (a Playwright locator's innerText, not a DOM node's). */
// biome-ignore lint/performance/useDomNodeTextContent: a Playwright locator; the rendered text is the point
const seen = (l: Locator) => l.innerText();

const executionUrl = (r: { workflowId: string; runId: string }, tab: string) =>
  `${uiUrl}/namespaces/default/workflows/${encodeURIComponent(r.workflowId)}/${r.runId}/${tab}`;

it('the executions list (the documented query and columns) shows each function, trigger and outcome, controllers left out', async () => {
  const query = 'WorkflowType = "executeFunction"';
  const page = await open(`${uiUrl}/namespaces/default/workflows?query=${encodeURIComponent(query)}`);
  const cliRow = page.getByRole('row').filter({ hasText: cliRun.workflowId });
  const apiRow = page.getByRole('row').filter({ hasText: apiRun.workflowId });
  await cliRow.waitFor({ timeout: UI_WAIT });
  await apiRow.waitFor({ timeout: UI_WAIT });
  // The README's steps: Configure Columns; add PontoonFunction and PontoonTrigger and move them up
  // next to Status; remove Run ID and Type (every row is an executeFunction).
  await page.getByTestId('workflows-summary-table-configuration-button').click();
  for (const name of ['PontoonFunction', 'PontoonTrigger']) {
    await page.getByRole('button', { name: `Add ${name} column` }).click();
  }
  for (const name of ['Run ID', 'Type'])
    await page.getByRole('button', { name: `Remove ${name} column` }).click();
  for (const name of ['PontoonFunction', 'PontoonTrigger']) {
    for (let i = 0; i < 3; i++) await page.getByRole('button', { name: `Move ${name} column up` }).click();
  }
  await page.getByRole('button', { name: 'Close Workflows Table configuration' }).click();
  await page.getByRole('columnheader', { name: 'PontoonTrigger' }).waitFor({ timeout: UI_WAIT });
  await page.screenshot({ path: path.join(shots, '1-executions-list.png'), fullPage: true });

  /** The row's cells by column header, and whether each is inside the window (seen, not scrolled to). */
  const cells = async (row: typeof cliRow) => {
    const headers = (await page.getByRole('columnheader').allInnerTexts()).map((h) => h.trim());
    const texts = (await row.getByRole('cell').allInnerTexts()).map((t) => t.trim());
    expect(texts.length).toBe(headers.length);
    const width = page.viewportSize()!.width;
    const out: Record<string, string> = {};
    for (const [i, h] of headers.entries()) {
      const box = await row.getByRole('cell').nth(i).boundingBox();
      if (h && box && box.x + box.width <= width) out[h] = texts[i]!;
    }
    return out;
  };
  // The execution the `temporal` CLI started has only a UUID for an id: its row names the function anyway.
  await expect.poll(async () => (await cells(cliRow)).Status, { timeout: UI_WAIT }).toBe('FAILED');
  expect(await cells(cliRow)).toMatchObject({
    Status: 'FAILED',
    PontoonFunction: failing,
    PontoonTrigger: 'sdk',
    'Workflow ID': cliRun.workflowId,
  });
  expect(await cells(apiRow)).toMatchObject({
    Status: 'COMPLETED',
    PontoonFunction: flaky,
    PontoonTrigger: 'api',
  });
  // Both controllers run, yet the header counts executions only: nothing RUNNING.
  await expect
    .poll(() => seen(page.getByTestId('workflow-status-Failed')), { timeout: UI_WAIT })
    .toMatch(/1 FAILED/);
  expect(await page.getByTestId('workflow-status-Running').count()).toBe(0);
  expect(await page.getByRole('row').filter({ hasText: 'functionController' }).count()).toBe(0);

  // Saved as a view, as the README says, it is one click away.
  await page.getByRole('button', { name: 'Save as New' }).click();
  await page.getByTestId('workflow-save-view-modal-input').fill('Pontoon executions');
  await page.getByRole('button', { name: 'Save', exact: true }).click();
  await page.getByText('Pontoon executions').first().waitFor({ timeout: UI_WAIT });
  await page.screenshot({ path: path.join(shots, '2-saved-view.png'), fullPage: true });
  await page.close();
}, 180_000);

it('a failed attempt is a red Activity Task Failed with the exit code and log tail; the failure leads with the function error', async () => {
  const page = await open(executionUrl(cliRun, 'history'));
  const failedAttempts = page.getByRole('row').filter({ hasText: 'Activity Task Failed' });
  await expect.poll(() => failedAttempts.count(), { timeout: UI_WAIT }).toBe(2);
  for (const row of await failedAttempts.all()) {
    expect(await seen(row)).toContain('error: database unreachable at db:5432 — exited with code 2');
  }
  // Red, like the execution's own failure (the UI colours failed events' rows).
  const colour = (row: typeof failedAttempts) =>
    row
      .first()
      .evaluate((el) => (globalThis as unknown as BrowserWindow).getComputedStyle(el).backgroundColor);
  const failedExecution = page.getByRole('row').filter({ hasText: 'Workflow Execution Failed' });
  expect(await colour(failedAttempts)).toBe(await colour(failedExecution));
  expect(await colour(failedAttempts)).not.toBe(
    await colour(page.getByRole('row').filter({ hasText: 'Activity Task Scheduled' })),
  );
  expect(await seen(failedExecution)).toContain(
    `${failing} failed after 2 attempts: error: database unreachable at db:5432 — exited with code 2`,
  );
  // Opened, a failed attempt shows its log tail (as the failure's call stack).
  await failedAttempts.first().click();
  await page.getByText('connecting to db in us-east-2').first().waitFor({ timeout: UI_WAIT });
  await page
    .getByText(/last lines of attempt 2 \(stdout and stderr\)/)
    .first()
    .waitFor({ timeout: UI_WAIT });
  await page.screenshot({ path: path.join(shots, '3-failed-attempts.png'), fullPage: true });

  // The Result panel (top of the page) leads with the function's error, then its log tail.
  const result = await seen(page.locator('body'));
  expect(result).toMatch(/"message": "[^"]*failed after 2 attempts: error: database unreachable/);
  expect(result).toContain('last lines of attempt 2 (stdout and stderr):');
  await page.close();

  // An execution that succeeded on attempt 2: the failed attempt 1 is there, red.
  const ok = await open(executionUrl(apiRun, 'history'));
  const okFailed = ok.getByRole('row').filter({ hasText: 'Activity Task Failed' });
  await expect.poll(() => okFailed.count(), { timeout: UI_WAIT }).toBe(1);
  expect(await seen(okFailed)).toMatch(/exited with code 1/);
  await ok.getByRole('row').filter({ hasText: 'Workflow Execution Completed' }).waitFor({ timeout: UI_WAIT });
  await ok.screenshot({ path: path.join(shots, '4-succeeded-after-a-failed-attempt.png'), fullPage: true });
  await ok.close();
}, 180_000);

it('the Memo and User Metadata tabs show the function, trigger, parameters and outcome of an execution the temporal CLI started', async () => {
  const memo = await open(executionUrl(cliRun, 'memo'));
  const memoText = () => seen(memo.locator('main'));
  await expect.poll(memoText, { timeout: UI_WAIT }).toContain(`"function": "${failing}"`);
  const text = await memoText();
  expect(text).toContain('"trigger": "sdk"');
  expect(text).toContain('"region": "us-east-2"');
  expect(text).toContain('"status": "failed"');
  expect(text).toContain('"exitCode": 2');
  expect(text).toContain('"error": "error: database unreachable at db:5432"');
  expect(text).toContain(
    `"summary": "${failing} (sdk): failed after 2 attempts: error: database unreachable at db:5432 — exited with code 2 (all 2 attempts used)"`,
  );
  await memo.screenshot({ path: path.join(shots, '5-memo.png'), fullPage: true });
  await memo.close();

  // Current details: Markdown the worker answers (a query), rendered by the UI.
  const meta = await open(executionUrl(cliRun, 'user-metadata'));
  const details = async () => {
    const texts = await Promise.all(meta.frames().map((f) => seen(f.locator('body')).catch(() => '')));
    return texts.join('\n');
  };
  await expect.poll(details, { timeout: UI_WAIT }).toContain('Outcome: failed');
  const d = await details();
  expect(d).toContain(failing);
  expect(d).toMatch(/trigger sdk/);
  expect(d).toContain('{"region":"us-east-2"}');
  expect(d).toContain('failed after 2 attempts: error: database unreachable at db:5432 — exited with code 2');
  expect(d).toMatch(/attempt 1: exit code 2/);
  await meta.screenshot({ path: path.join(shots, '6-user-metadata.png'), fullPage: true });
  await meta.close();
}, 180_000);
