/** Repository invariants: generated files are fresh, workflow code stays deterministic-safe. */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { expect, it } from 'vitest';
import { functionJsonSchemaText } from '../spec/json-schema.ts';
import { REPO_ROOT } from './helpers.ts';

it('function-specs/function.schema.json is generated from the zod schema (run `npm run schema`)', () => {
  const committed = readFileSync(path.join(REPO_ROOT, 'function-specs', 'function.schema.json'), 'utf8');
  expect(committed).toBe(functionJsonSchemaText());
});

it('workflow code imports activities, the worker and Node only as types (the lint rule covers the rest)', () => {
  const dir = path.join(REPO_ROOT, 'workflows');
  const offenders: string[] = [];
  const files = readdirSync(dir).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'));
  expect(files.length).toBeGreaterThan(0);
  for (const file of files) {
    const text = readFileSync(path.join(dir, file), 'utf8');
    for (const m of text.matchAll(/^import\s+(type\s+)?[^;]*?from\s+'([^']+)'/gms)) {
      const [, typeOnly, source] = m;
      const forbidden =
        /^\.\.\/(activities|worker|cli|api|observer|dev|client)\//.test(source!) || /^node:/.test(source!);
      if (forbidden && !typeOnly) offenders.push(`${file}: ${source}`);
    }
  }
  expect(offenders).toEqual([]);
});
