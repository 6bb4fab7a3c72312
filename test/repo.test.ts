/** Repository invariants: generated files are fresh, workflow code stays deterministic-safe. */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { expect, it } from 'vitest';
import { parse } from 'yaml';
import { DEFAULT_REGISTRY } from '../packaging/registry.ts';
import { functionJsonSchemaText } from '../spec/json-schema.ts';
import { ownImageRef, PONTOON_VERSION } from '../spec/names.ts';
import { defaultObserverImage } from '../worker/config.ts';
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

it('every image Pontoon refers to is one it builds: deploy/, the observer default, the examples', () => {
  // What `npm run images` pushes (packaging/own-images.ts tags with ownImageRef) to the default registry.
  const built = new Set([
    ownImageRef(DEFAULT_REGISTRY, 'observer'),
    ownImageRef(DEFAULT_REGISTRY, 'pontoon'),
  ]);
  expect(PONTOON_VERSION).toBe(
    JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')).version,
  );
  const ownImages = readFileSync(path.join(REPO_ROOT, 'packaging', 'own-images.ts'), 'utf8');
  expect(ownImages).toContain("ownImageRef(reg.prefix, 'observer')");
  expect(ownImages).toContain("ownImageRef(reg.prefix, 'pontoon')");

  const refs: string[] = [];
  const kustomization = parse(readFileSync(path.join(REPO_ROOT, 'deploy', 'kustomization.yaml'), 'utf8'));
  for (const i of kustomization.images) refs.push(`${i.newName}:${i.newTag}`);
  for (const file of readdirSync(path.join(REPO_ROOT, 'deploy')).filter((f) => f.endsWith('.yaml'))) {
    const text = readFileSync(path.join(REPO_ROOT, 'deploy', file), 'utf8');
    for (const m of text.matchAll(/^\s*(?:image|PONTOON_OBSERVER_IMAGE):\s*(\S+)/gm)) {
      // `image: pontoon` is the kustomize name its images: entry rewrites (checked above).
      if (m[1] !== 'pontoon') refs.push(m[1]!);
    }
  }
  refs.push(defaultObserverImage({}));
  expect(refs.length).toBeGreaterThanOrEqual(3);
  expect(refs.filter((r) => !built.has(r))).toEqual([]);
  // A registry set for publishing moves the observer default with it.
  expect(defaultObserverImage({ PONTOON_REGISTRY: 'registry.example.com/team' })).toBe(
    'registry.example.com/team/pontoon/observer:0.1.0',
  );

  // The examples are packaged from source: no hand-built image names.
  const specs = readdirSync(path.join(REPO_ROOT, 'function-specs')).filter((f) => f.endsWith('.yaml'));
  expect(specs.length).toBeGreaterThan(0);
  for (const file of specs) {
    const spec = parse(readFileSync(path.join(REPO_ROOT, 'function-specs', file), 'utf8'));
    expect(spec.spec.image, file).toBeUndefined();
    expect(spec.spec.build?.runtime, file).toBe('node');
  }
});
