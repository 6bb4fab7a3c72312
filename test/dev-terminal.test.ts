/**
 * What `npm start` (`pontoon dev`) shows a person, issue 18 §7: the real command, in a real
 * pseudo-terminal (util-linux `script`, keys typed on its standard input, so Ctrl-C is the
 * terminal's SIGINT), prints human-readable lines and no JSON; the API's per-request lines only at
 * debug level; after a restart the banner lists every applied function, including one applied
 * before the restart that is not an example. Piped (not a terminal), dev mode and `pontoon api` in
 * production write JSON lines, and `pontoon api` does so in a terminal too.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { promisify, stripVTControlCharacters } from 'node:util';
import { expect, inject, it } from 'vitest';
import { freePort } from '../dev/temporal.ts';
import { REPO_ROOT, uniqueName, waitFor } from './helpers.ts';

const run = promisify(execFile);
const PONTOON = path.join(REPO_ROOT, 'bin', 'pontoon.mjs');
const BANNER_END = 'Ctrl-C stops everything.';

interface Running {
  child: ChildProcess;
  /** Everything printed so far (stdout and stderr; under `script`, the terminal's screen). */
  output(): string;
  /** Ctrl-C (or SIGINT when not in a terminal); resolves with the exit code. */
  stop(): Promise<number | null>;
}

/** The terminal's text without colours, carriage returns and the echoed Ctrl-C, one entry a line. */
function lines(text: string): string[] {
  return stripVTControlCharacters(text).replace(/\r/g, '').replace(/\^C/g, '').split('\n');
}

/** Lines that are pino JSON records. */
function jsonRecords(text: string): Record<string, unknown>[] {
  return lines(text).flatMap((l) => {
    if (!l.trim().startsWith('{')) return [];
    try {
      const v = JSON.parse(l.trim()) as Record<string, unknown>;
      return 'level' in v && 'msg' in v ? [v] : [];
    } catch {
      return [];
    }
  });
}

const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** `args` run by this Node, in a pseudo-terminal when `terminal`, else with pipes. */
function start(args: string[], vars: Record<string, string | undefined>, terminal: boolean): Running {
  const command = [process.execPath, PONTOON, ...args];
  // SHELL=/bin/sh: the same shell under script wherever the suite runs (CI's environment may have no SHELL).
  const env: NodeJS.ProcessEnv = { ...process.env, ...vars, TERM: 'xterm-256color', SHELL: '/bin/sh' };
  for (const [k, v] of Object.entries(vars)) if (v === undefined) delete env[k];
  const child = terminal
    ? // `exec`: script runs the command through $SHELL -c, and a shell that stays in between (dash,
      // /bin/sh on Debian, does not exec a lone command) also gets the Ctrl-C and dies of it, so
      // script would report 130 whatever the command did.
      spawn('script', ['-qfec', `exec ${command.map(quote).join(' ')}`, '/dev/null'], {
        cwd: REPO_ROOT,
        env,
        stdio: 'pipe',
      })
    : spawn(command[0]!, command.slice(1), { cwd: REPO_ROOT, env, stdio: 'pipe' });
  let text = '';
  child.stdout!.on('data', (b: Buffer) => {
    text += b.toString();
  });
  child.stderr!.on('data', (b: Buffer) => {
    text += b.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    output: () => text,
    async stop() {
      if (child.exitCode === null) {
        if (terminal) child.stdin!.write('\x03');
        else child.kill('SIGINT');
      }
      const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

async function pontoon(args: string[], api: string) {
  return run(process.execPath, [PONTOON, ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, PONTOON_API: api, PONTOON_TOKEN: '' },
  });
}

it('pontoon dev: JSON lines when piped; in a terminal readable lines, no request lines, and after a restart a banner with every applied function', async () => {
  const dataDir = mkdtempSync(path.join(inject('testDir'), 'dev-terminal-'));
  const [port, uiPort, apiPort] = [await freePort(), await freePort(), await freePort()];
  const args = ['dev', '--port', `${port}`, '--ui-port', `${uiPort}`, '--api-port', `${apiPort}`];
  const env = { PONTOON_DATA_DIR: dataDir, PONTOON_LOG_LEVEL: 'info', PONTOON_LOG_FORMAT: undefined };
  const api = `http://127.0.0.1:${apiPort}`;

  // 1. Piped: JSON records, as before; the banner on stdout all the same.
  const piped = start(args, env, false);
  try {
    await waitFor('the first start to print its banner', () => piped.output().includes(BANNER_END), 120_000);
    // A function that is not an example, applied while dev runs: Temporal keeps it across restarts.
    const extra = uniqueName('kept');
    const file = path.join(dataDir, `${extra}.yaml`);
    writeFileSync(
      file,
      `apiVersion: pontoon.dev/v1
kind: Function
metadata:
  name: ${extra}
spec:
  local:
    command: [node, -e, "console.log('kept across restarts')"]
`,
    );
    expect((await pontoon(['apply', '-f', file], api)).stdout).toContain(`function/${extra}`);
    expect((await pontoon(['invoke', 'hello', '--param', 'name=Ada', '--wait'], api)).stdout).toContain(
      'Hello, Ada',
    );
    await waitFor('the attempt log line', () => piped.output().includes('attempt ended'));
    expect(await piped.stop()).toBe(0);
    const records = jsonRecords(piped.output());
    expect(records.map((r) => r.msg)).toEqual(
      expect.arrayContaining(['Worker state changed', 'attempt ended']),
    );
    expect(records.map((r) => r.msg)).not.toContain('incoming request');
    expect(records.map((r) => r.msg)).not.toContain('request completed');

    // 2. In a terminal, restarted on the same Temporal database.
    const tty = start(args, env, true);
    try {
      await waitFor('the restart to print its banner', () => tty.output().includes(BANNER_END), 120_000);
      const screen = lines(tty.output());
      const at = screen.findIndex((l) => l.startsWith('  Functions '));
      expect(at, tty.output()).toBeGreaterThan(0);
      // The Functions entry (it may wrap onto indented lines) up to the Data line.
      const entry = screen
        .slice(
          at,
          screen.findIndex((l) => l.startsWith('  Data ')),
        )
        .join(' ');
      const listed = entry
        .replace(/^\s*Functions\s+/, '')
        .replace(/\s+\(\d+ applied;.*$/, '')
        .split(/,\s*/);
      expect(listed).toEqual(
        expect.arrayContaining(['daily-report', 'flaky', 'hello', 'warm-greeter', extra]),
      );
      expect(entry).toMatch(new RegExp(`\\(${listed.length} applied; npx pontoon get functions\\)`));

      // Requests while it runs: a CLI call, an invocation.
      expect((await pontoon(['get', 'functions'], api)).stdout).toContain(extra);
      await pontoon(['invoke', extra, '--wait'], api); // exit 0, or it throws
      await waitFor('the attempt log line', () =>
        lines(tty.output()).some((l) => l.includes('attempt ended')),
      );
      expect(await tty.stop()).toBe(0);

      const out = tty.output();
      expect(jsonRecords(out), out).toEqual([]);
      // pino-pretty lines: time, level, component, message.
      const readable = lines(out).filter((l) =>
        /^\[\d\d:\d\d:\d\d\.\d{3}\] (INFO|WARN|ERROR|DEBUG): /.test(l),
      );
      expect(readable.some((l) => l.includes('INFO: worker: Worker state changed'))).toBe(true);
      expect(
        readable.some((l) => l.includes(`local-runtime: attempt ended {"executionId":"exec:${extra}:`)),
      ).toBe(true);
      expect(out).not.toContain('incoming request');
      expect(out).not.toContain('request completed');
    } finally {
      await tty.stop();
    }
  } finally {
    await piped.stop();
  }
}, 400_000);

it('pontoon dev checks every setting before it starts anything: a bad PONTOON_API_* variable exits 2 naming it, with no server or worker left behind', async () => {
  const dataDir = mkdtempSync(path.join(inject('testDir'), 'dev-bad-config-'));
  const [port, uiPort, apiPort] = [await freePort(), await freePort(), await freePort()];
  const args = ['dev', '--port', `${port}`, '--ui-port', `${uiPort}`, '--api-port', `${apiPort}`];
  const failed = await run(process.execPath, [PONTOON, ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, PONTOON_DATA_DIR: dataDir, PONTOON_API_MAX_BACKFILL_FIRES: 'many' },
  }).then(
    () => undefined,
    (err: { code?: number; stderr?: string }) => err,
  );
  expect(failed?.code).toBe(2);
  expect(failed?.stderr).toContain('PONTOON_API_MAX_BACKFILL_FIRES');
  expect(failed?.stderr).not.toContain('starting the worker');
  // Nothing listens on the ports it was given: the dev server never started.
  for (const p of [port, apiPort]) {
    const reachable = await new Promise<boolean>((resolve) => {
      const s = net.connect(p, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    expect(reachable, `port ${p}`).toBe(false);
  }
});

it('pontoon api in production: JSON lines with its request lines, in a terminal too', async () => {
  const apiPort = await freePort();
  const api = start(
    ['api'],
    {
      TEMPORAL_ADDRESS: inject('temporalAddress'),
      PONTOON_API_PORT: `${apiPort}`,
      PONTOON_AUTH: 'none',
      PONTOON_LOG_LEVEL: 'info',
      PONTOON_LOG_FORMAT: undefined,
    },
    true,
  );
  try {
    await waitFor(
      'the API to listen',
      () => jsonRecords(api.output()).some((r) => r.msg === 'API listening'),
      60_000,
    );
    expect((await fetch(`http://127.0.0.1:${apiPort}/healthz`)).status).toBe(200);
    await waitFor('a request line', () =>
      jsonRecords(api.output()).some((r) => r.msg === 'request completed'),
    );
  } finally {
    await api.stop();
  }
  const records = jsonRecords(api.output());
  expect(records.find((r) => r.msg === 'request completed')).toMatchObject({
    level: 30,
    res: { statusCode: 200 },
  });
  // Nothing but JSON records and the launcher's own notice.
  const other = lines(api.output()).filter(
    (l) => l.trim() && !l.trim().startsWith('{') && !l.startsWith('[pontoon]'),
  );
  expect(other).toEqual([]);
}, 120_000);
