/**
 * Configuration: each variable declared once (platform/config.ts, worker/config.ts, api/config.ts) with its meaning,
 * default and readers; the README's table generated from those declarations; the API parsing only
 * what it reads.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { expect, it } from 'vitest';
import { parseApiConfig } from '../api/config.ts';
import { configurationTable, TABLE_END, TABLE_START, withTable } from '../dev/config-table.ts';
import { ConfigError, parseProcessConfig } from '../platform/config.ts';
import { parseConfig } from '../worker/config.ts';
import { REPO_ROOT } from './helpers.ts';

const readme = () => readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8');

it('the README configuration table is the one generated from the settings (run `npm run docs:config`)', () => {
  const text = readme();
  expect(text).toContain(TABLE_START);
  expect(text).toContain(TABLE_END);
  expect(withTable(text, configurationTable())).toBe(text);
});

it('the table shows each default as declared: literal defaults from the schema, durations as written', () => {
  const rows = new Map(
    configurationTable()
      .split('\n')
      .slice(2)
      .map((row) => [row.split(' | ')[0]!.replace('| ', ''), row] as const),
  );
  expect(rows.get('`PONTOON_MAX_CONCURRENT_ATTEMPTS`')).toContain('| `100` | worker |');
  expect(rows.get('`PONTOON_POD_DELETE_DELAY`')).toContain('| `5s` | worker |');
  expect(rows.get('`PONTOON_API_PORT`')).toContain('| `8080` | API |');
  expect(rows.get('`TEMPORAL_ADDRESS`')).toContain('| `localhost:7233` | worker, API, CLI, warm observers |');
  // A "|" inside a cell is escaped, or the row would have more columns.
  expect(rows.get('`PONTOON_POD_TOLERATIONS`')).toContain('NoSchedule\\|PreferNoSchedule\\|NoExecute');
});

it('a variable only the worker reads cannot stop the API; the worker names it', () => {
  const env = {
    PONTOON_MAX_CONCURRENT_ATTEMPTS: 'many',
    PONTOON_POD_TOLERATIONS: 'not a toleration',
    PONTOON_AUTH: 'none',
  };
  const shared = parseProcessConfig(env);
  expect(shared.taskQueue).toBe('pontoon');
  expect(shared.temporal.address).toBe('localhost:7233');
  expect(parseApiConfig(env).auth).toEqual({ mode: 'open' });
  let error: unknown;
  try {
    parseConfig(env);
  } catch (err) {
    error = err;
  }
  expect(error).toBeInstanceOf(ConfigError);
  const message = String((error as Error).message);
  expect(message).toMatch(/\n {2}PONTOON_MAX_CONCURRENT_ATTEMPTS: /);
  expect(message).toMatch(/\n {2}PONTOON_POD_TOLERATIONS: "not a toleration" is not key\[=value\]/);
});

it('a shared variable stops both the worker and the API with its name', () => {
  const env = { PONTOON_LOG_LEVEL: 'loud' };
  expect(() => parseProcessConfig(env)).toThrow(/PONTOON_LOG_LEVEL/);
  expect(() => parseConfig(env)).toThrow(/PONTOON_LOG_LEVEL/);
});

it('the worker config holds the process config: same values for the shared variables', () => {
  const env = { PONTOON_TASK_QUEUE: 'q1', PONTOON_LOG_RETENTION: '2h', PONTOON_DATA_DIR: '/tmp/pontoon-x' };
  const worker = parseConfig(env);
  const shared = parseProcessConfig(env);
  expect(worker.taskQueue).toBe(shared.taskQueue);
  expect(worker.logs).toEqual(shared.logs);
  expect(worker.logs.retentionMs).toBe(7_200_000);
  expect(worker.dataDir).toBe('/tmp/pontoon-x');
  expect(worker.kubernetes.namespace).toBe(shared.kubernetes.namespace);
});

/** Every PONTOON_*, TEMPORAL_* and OTEL_* name the shipped code reads from an environment. */
function variablesRead(): Set<string> {
  const names = new Set<string>();
  const skip = new Set([
    'node_modules',
    'dist',
    'test',
    'bench',
    '.pontoon',
    '.git',
    '.scratch',
    'fixtures',
    'function-specs',
  ]);
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir)) {
      if (skip.has(entry)) continue;
      const file = path.join(dir, entry);
      if (statSync(file).isDirectory()) walk(file);
      else if (/\.(ts|mjs)$/.test(entry) && !entry.endsWith('.test.ts')) {
        const text = readFileSync(file, 'utf8');
        for (const m of text.matchAll(/\benv(?:\?)?\.((?:PONTOON|TEMPORAL|OTEL)_[A-Z0-9_]+)/g))
          names.add(m[1]!);
      }
    }
  };
  walk(REPO_ROOT);
  return names;
}

/** Variables of the function contract (the pod's and the observer's), documented under "The function contract". */
const CONTRACT =
  /^PONTOON_(DIR|PORT|TOKEN|FUNCTION_URL|INPUT(_CHUNKS)?|OUTPUT_LIMIT|TERMINATION_LOG|POD_NAME|CONCURRENCY|EXECUTION_ID|ATTEMPT|FUNCTION|SCHEDULED_TIME|TRIGGER|PARAM_[A-Z0-9_]+)$/;

it('every variable the code reads is documented in the README', () => {
  const text = readme();
  const read = [...variablesRead()];
  expect(read.length).toBeGreaterThan(20);
  const missing = read.filter((name) => !text.includes(name) && !CONTRACT.test(name));
  expect(
    missing,
    'add them to a settings schema (platform/config.ts, worker/config.ts, api/config.ts) or the Tools table',
  ).toEqual([]);
});
