/**
 * `npm start` (`pontoon dev`) with PONTOON_PAYLOAD_KEYS, issue 21 §2: the real command starts the
 * dev server's Web UI with `--ui-codec-endpoint` at its own API's codec server (the UI's settings
 * name it), opens the codec routes to the UI's origin only, says so in its banner, and stores an
 * execution's payloads encrypted: `temporal workflow show` shows ciphertext, and with
 * `--codec-endpoint` the function's output (the open dev API needs no key).
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, expect, inject, it } from 'vitest';
import { freePort, portOpen } from '../dev/temporal.ts';
import { REPO_ROOT, waitFor } from './helpers.ts';

const run = promisify(execFile);
const PONTOON = path.join(REPO_ROOT, 'bin', 'pontoon.mjs');
/** Every `pontoon dev` the tests start: the ones still running are stopped at the end. */
const children: ChildProcess[] = [];

afterAll(async () => {
  await Promise.all(
    children
      .filter((c) => c.exitCode === null && c.signalCode === null)
      .map((c) => {
        const exited = new Promise((r) => c.once('exit', r));
        c.kill('SIGINT');
        return exited;
      }),
  );
});

it('pontoon dev with payload keys wires the Web UI to the codec server and stores payloads encrypted', async () => {
  const dataDir = mkdtempSync(path.join(inject('testDir'), 'dev-codec-'));
  const [port, uiPort, apiPort] = [await freePort(), await freePort(), await freePort()];
  let output = '';
  const child = spawn(
    process.execPath,
    [PONTOON, 'dev', '--port', `${port}`, '--ui-port', `${uiPort}`, '--api-port', `${apiPort}`],
    {
      cwd: REPO_ROOT,
      env: {
        ...process.env,
        PONTOON_DATA_DIR: dataDir,
        PONTOON_PAYLOAD_KEYS: `dev1:${randomBytes(32).toString('base64')}`,
        // Set but empty counts as unset: dev opens the codec routes to its own UI.
        PONTOON_CODEC_CORS_ORIGINS: '',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  children.push(child);
  child.stdout!.on('data', (d) => {
    output += String(d);
  });
  child.stderr!.on('data', (d) => {
    output += String(d);
  });
  await waitFor('the banner', () => output.includes('Ctrl-C stops everything.'), 180_000);
  const api = `http://127.0.0.1:${apiPort}`;
  expect(output).toContain(
    `Payloads         encrypted (key dev1); the Web UI decodes them through ${api}/codec`,
  );

  // The UI's own settings name the codec endpoint (what its pages call to decode).
  const settings = (await (await fetch(`http://127.0.0.1:${uiPort}/api/v1/settings`)).json()) as {
    Codec?: { Endpoint?: string };
  };
  expect(settings.Codec?.Endpoint).toBe(`${api}/codec`);

  // The UI's origin gets the preflight; another port does not.
  for (const [origin, status] of [
    [`http://localhost:${uiPort}`, 204],
    [`http://127.0.0.1:${uiPort}`, 204],
    [`http://localhost:${uiPort + 1}`, 403],
  ] as const) {
    const res = await fetch(`${api}/codec/decode`, {
      method: 'OPTIONS',
      headers: { origin, 'access-control-request-method': 'POST' },
    });
    expect(res.status, origin).toBe(status);
  }

  // An execution: its output is ciphertext in Temporal, and readable through the codec server.
  const invoked = await fetch(`${api}/v1/functions/hello/invocations?wait=60`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ parameters: { name: 'Ada' } }),
  });
  const { execution } = (await invoked.json()) as { execution: { executionId: string; status: string } };
  expect(execution.status).toBe('succeeded');
  const show = (extra: string[]) =>
    run(inject('temporalCli'), [
      'workflow',
      'show',
      '--address',
      `127.0.0.1:${port}`,
      '--workflow-id',
      execution.executionId,
      ...extra,
    ]).then((r) => r.stdout);
  const plain = await show([]);
  expect(plain).not.toContain('Hello, Ada');
  expect(plain).toMatch(/binary\/encrypted|YmluYXJ5L2VuY3J5cHRlZA/);
  const decoded = await show(['--codec-endpoint', `${api}/codec`]);
  expect(decoded).toContain('Hello, Ada');
}, 300_000);

it('a data folder written with payload keys: a start without them ends with the cause (nothing left running), and a start with them again comes up', async () => {
  const dataDir = mkdtempSync(path.join(inject('testDir'), 'dev-keys-'));
  const key = `dev2:${randomBytes(32).toString('base64')}`;
  const [port, uiPort, apiPort] = [await freePort(), await freePort(), await freePort()];
  const start = (keys: string | undefined) => {
    let output = '';
    const env: NodeJS.ProcessEnv = { ...process.env, PONTOON_DATA_DIR: dataDir };
    delete env.PONTOON_PAYLOAD_KEYS;
    if (keys) env.PONTOON_PAYLOAD_KEYS = keys;
    const p = spawn(
      process.execPath,
      [PONTOON, 'dev', '--port', `${port}`, '--ui-port', `${uiPort}`, '--api-port', `${apiPort}`],
      { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    p.stdout!.on('data', (d) => {
      output += String(d);
    });
    p.stderr!.on('data', (d) => {
      output += String(d);
    });
    const exited = new Promise<number | null>((r) => p.once('exit', (code) => r(code)));
    return { p, exited, output: () => output };
  };
  const stop = async (s: ReturnType<typeof start>) => {
    if (s.p.exitCode === null) s.p.kill('SIGINT');
    return s.exited;
  };

  // Written with the key: the examples' controllers keep their specs encrypted under it.
  const first = start(key);
  children.push(first.p);
  await waitFor('the banner', () => first.output().includes('Ctrl-C stops everything.'), 180_000);
  expect(await stop(first)).toBe(0);

  // Without it: the controllers' workflow tasks fail; the command says why and ends, and the
  // Temporal dev server it started is stopped with it (its port is free again).
  const without = start(undefined);
  children.push(without.p);
  const code = await Promise.race([without.exited, new Promise((r) => setTimeout(() => r('hung'), 240_000))]);
  expect(code, without.output()).not.toBe('hung');
  expect(code, without.output()).not.toBe(0);
  expect(without.output()).toContain("its controller's workflow task keeps failing");
  expect(without.output()).toContain('start with the same PONTOON_PAYLOAD_KEYS');
  expect(without.output()).not.toContain('Ctrl-C stops everything.');
  expect(await portOpen(port)).toBe(false);

  // With the key again: it comes up (applying again while Temporal retries the failed tasks).
  const again = start(key);
  children.push(again.p);
  await waitFor('the banner', () => again.output().includes('Ctrl-C stops everything.'), 180_000);
  expect(await stop(again)).toBe(0);
}, 600_000);
