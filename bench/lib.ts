/** Shared helpers for benchmarks: a throwaway dev server + worker, percentiles, result files. */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ensureTemporalCli, freePort, startDevServer } from '../dev/temporal.ts';
import { parseConfig } from '../worker/config.ts';
import { createLogger, installTemporalRuntime } from '../worker/logger.ts';
import { createPontoonWorker } from '../worker/worker.ts';

export const REPO_ROOT = path.resolve(import.meta.dirname, '..');

export async function startStack(extraEnv: Record<string, string> = {}) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pontoon-bench-'));
  const server = await startDevServer({
    cli: await ensureTemporalCli((l) => console.error(l)),
    port: await freePort(),
    logFile: path.join(dir, 'server.log'),
  });
  const config = parseConfig({
    TEMPORAL_ADDRESS: server.address,
    PONTOON_DATA_DIR: dir,
    PONTOON_LOCAL_ROOT: REPO_ROOT,
    PONTOON_LOG_LEVEL: 'error',
    ...extraEnv,
  });
  const logger = createLogger('error');
  installTemporalRuntime(logger);
  const w = await createPontoonWorker({ config, logger });
  const running = w.worker.run();
  return {
    server,
    worker: w,
    config,
    async stop() {
      if (w.worker.getState() === 'RUNNING') w.worker.shutdown();
      await running;
      await w.client.connection.close();
      await server.stop();
    },
  };
}

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[idx]!;
}

export function machine() {
  return {
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model,
    memGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
  };
}

export function saveResult(name: string, data: unknown): string {
  mkdirSync(path.join(REPO_ROOT, 'bench', 'results'), { recursive: true });
  const file = path.join(
    REPO_ROOT,
    'bench',
    'results',
    `${name}-${new Date().toISOString().replace(/[:.]/g, '-')}.json`,
  );
  writeFileSync(
    file,
    `${JSON.stringify({ scenario: name, at: new Date().toISOString(), machine: machine(), ...(data as object) }, null, 2)}\n`,
  );
  return file;
}

export function printTable(rows: Record<string, string | number>[]): void {
  const headers = Object.keys(rows[0] ?? {});
  const widths = headers.map((h) => Math.max(h.length, ...rows.map((r) => String(r[h]).length)));
  console.log(headers.map((h, i) => h.padEnd(widths[i]!)).join('  '));
  for (const r of rows) console.log(headers.map((h, i) => String(r[h]).padEnd(widths[i]!)).join('  '));
}
