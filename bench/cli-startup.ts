/**
 * B8 CLI start-up: wall time of `pontoon --help` and `pontoon get functions` (against a running API
 * with the examples applied), median of 10 runs each (3 with --quick), for the compiled CLI (dist/,
 * what `npm install` builds and every installed package runs) and for the TypeScript sources run
 * through tsx (how every command ran before the build existed, and how a checkout edited since its
 * last build runs). Baselines in the same run: a bare `node -e 0` for `--help`, and a fresh node
 * process doing one fetch() of the same route for `get functions` (process start plus the HTTP
 * call: what no CLI written for Node can go below). Targets (issue 18 §3, on this 2-core machine):
 * `--help` ≤ 0.3 s and `get functions` ≤ 0.5 s.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { startApi } from '../api/main.ts';
import { loadSpecs } from '../core/load.ts';
import { freePort } from '../dev/temporal.ts';
import { createLogger } from '../platform/logger.ts';
import {
  buildOnce,
  percentile,
  REPO_ROOT,
  round,
  type ScenarioContext,
  type ScenarioResult,
  summaryRow,
} from './lib.ts';
import { apply } from './specs.ts';

const BIN = path.join(REPO_ROOT, 'bin', 'pontoon.mjs');
const execFileAsync = promisify(execFile);

/**
 * Wall milliseconds of one run of `node <args>`; throws when it fails. Asynchronous: the API the
 * CLI calls runs in this process.
 */
async function timeNode(args: string[], env: Record<string, string>): Promise<number> {
  const t = performance.now();
  try {
    await execFileAsync(process.execPath, args, { cwd: REPO_ROOT, env: { ...process.env, ...env } });
  } catch (err) {
    const e = err as { code?: number; stderr?: string };
    throw new Error(`node ${args.join(' ')} exited ${e.code}: ${String(e.stderr).slice(0, 500)}`);
  }
  return performance.now() - t;
}

export async function benchCliStartup(ctx: ScenarioContext): Promise<ScenarioResult> {
  const runs = ctx.quick ? 3 : 10;
  ctx.log('[cli] npm run build (once per run) …');
  await buildOnce();
  const lease = await ctx.stacks.local();
  const { stack } = lease;
  const port = await freePort();
  const server = await startApi({
    api: { host: '127.0.0.1', port, auth: { mode: 'open' } },
    logger: createLogger('error'),
    client: stack.client,
    taskQueue: stack.taskQueue,
    dataDir: stack.dataDir,
  });
  try {
    const { specs } = await loadSpecs([path.join(REPO_ROOT, 'function-specs')]);
    for (const s of specs) await apply(stack.client, stack.taskQueue, s.spec);
    const api = `http://127.0.0.1:${port}`;
    const env = { PONTOON_API: api, NO_COLOR: '1' };
    const cases: Record<string, { args: string[]; env: Record<string, string> }> = {
      'help compiled': { args: [BIN, '--help'], env: { ...env, PONTOON_RUN_FROM: 'dist' } },
      'help sources': { args: [BIN, '--help'], env: { ...env, PONTOON_RUN_FROM: 'source' } },
      'help bare node': { args: ['-e', '0'], env },
      'get compiled': { args: [BIN, 'get', 'functions'], env: { ...env, PONTOON_RUN_FROM: 'dist' } },
      'get sources': { args: [BIN, 'get', 'functions'], env: { ...env, PONTOON_RUN_FROM: 'source' } },
      'get bare fetch': {
        args: ['-e', `fetch(${JSON.stringify(`${api}/v1/functions`)}).then((r) => r.text())`],
        env,
      },
    };
    const times: Record<string, number[]> = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
    // One warm-up each (disk cache), then the cases in turn so all see the same load over time.
    for (const c of Object.values(cases)) await timeNode(c.args, c.env);
    for (let i = 0; i < runs; i++) {
      for (const [name, c] of Object.entries(cases)) times[name]!.push(await timeNode(c.args, c.env));
    }
    const median = (k: string) => round(percentile(times[k]!, 50), 0);
    for (const k of Object.keys(cases)) ctx.log(`[cli] ${k}: median ${median(k)} ms of ${runs}`);
    return {
      scenario: 'B8',
      title: 'CLI start-up (wall time, median)',
      summary: [
        summaryRow(
          {
            scenario: 'B8',
            figure: 'pontoon --help, compiled',
            unit: 'ms',
            pontoon: median('help compiled'),
            baseline: median('help bare node'),
            baselineName: 'node -e 0',
            target: '≤ 300 ms',
          },
          { better: 'lower', of: 'value', limit: 300 },
        ),
        summaryRow(
          {
            scenario: 'B8',
            figure: 'pontoon get functions, compiled',
            unit: 'ms',
            pontoon: median('get compiled'),
            baseline: median('get bare fetch'),
            baselineName: 'node + one fetch',
            target: '≤ 500 ms',
          },
          { better: 'lower', of: 'value', limit: 500 },
        ),
        summaryRow({
          scenario: 'B8',
          figure: 'pontoon --help, sources via tsx (before)',
          unit: 'ms',
          pontoon: median('help sources'),
          baseline: median('help compiled'),
          baselineName: 'compiled',
        }),
        summaryRow({
          scenario: 'B8',
          figure: 'pontoon get functions, sources via tsx (before)',
          unit: 'ms',
          pontoon: median('get sources'),
          baseline: median('get compiled'),
          baselineName: 'compiled',
        }),
      ],
      details: { runs, millis: times },
    };
  } finally {
    await server.close();
    await lease.release();
  }
}
