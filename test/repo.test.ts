/** Repository invariants: generated files are fresh, workflow code stays deterministic-safe. */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { expect, it } from 'vitest';
import { parse } from 'yaml';
import { functionJsonSchemaText } from '../core/json-schema.ts';
import { DEFAULT_REGISTRY, ownImageRef, PONTOON_VERSION } from '../core/names.ts';
import {
  PRELOAD_FILE,
  preloadableWorkflowModules,
  preloadFileText,
  staticImportGraph,
  WORKFLOW_PACKAGES,
} from '../dev/workflow-graph.ts';
import { defaultObserverImage } from '../worker/config.ts';
import { PRELOADED_WORKFLOW_MODULES } from '../worker/worker.ts';
import { REPO_ROOT } from './helpers.ts';

it('function-specs/function.schema.json is generated from the zod schema (run `npm run schema`)', () => {
  const committed = readFileSync(path.join(REPO_ROOT, 'function-specs', 'function.schema.json'), 'utf8');
  expect(committed).toBe(functionJsonSchemaText());
});

it('workflow code imports activities, the worker and Node only as types (the lint rule covers the rest)', () => {
  // Every file under workflows/ (the wiring and its parts in subfolders): its value imports resolve
  // into workflows/ or core/ (deterministic code); everything else only as `import type`.
  const dir = path.join(REPO_ROOT, 'workflows');
  const offenders: string[] = [];
  const files = readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter(
    (f) => f.endsWith('.ts') && !f.endsWith('.test.ts'),
  );
  expect(files).toEqual(expect.arrayContaining(['controller/spec-store.ts', 'execution/attempt.ts']));
  for (const file of files) {
    const text = readFileSync(path.join(dir, file), 'utf8');
    for (const m of text.matchAll(/^import\s+(type\s+)?[^;]*?from\s+'([^']+)'/gms)) {
      const [, typeOnly, source] = m;
      const target = source!.startsWith('.')
        ? path.relative(REPO_ROOT, path.resolve(dir, path.dirname(file), source!))
        : undefined;
      const forbidden =
        /^node:/.test(source!) || (target !== undefined && !/^(workflows|core)\//.test(target));
      if (forbidden && !typeOnly) offenders.push(`${file}: ${source}`);
    }
  }
  expect(offenders).toEqual([]);
});

it('executions never load zod: what workflows/execute-function.ts loads uses only the workflow SDK and luxon', () => {
  // zod in every execution's module graph cost ~45 % more worker CPU per execution (fixed once;
  // this keeps one changed import from bringing it back unnoticed).
  const { modules, packages } = staticImportGraph('workflows/execute-function.ts');
  expect(modules.size).toBeGreaterThan(5);
  // Its parts (workflows/execution/) are in that graph, so the rule covers every one of them.
  for (const part of readdirSync(path.join(REPO_ROOT, 'workflows', 'execution')))
    expect(modules).toContain(`workflows/execution/${part}`);
  expect([...packages].filter((p) => !WORKFLOW_PACKAGES.has(p)).sort()).toEqual([]);
  // The bundle's entry loads the controller (which needs zod for the spec schema) only when called.
  const entry = staticImportGraph('workflows/index.ts');
  expect(entry.packages.has('zod')).toBe(false);
  expect(entry.modules.has('workflows/function-controller.ts')).toBe(false);
  expect(staticImportGraph('workflows/function-controller.ts').packages.has('zod')).toBe(true);
});

it("the CLI's API client loads the route table and no package (zod above all): the CLI's start-up budget, bench B8", () => {
  // The route table is zod-free; the request shapes (api/schemas.ts) reach the client as types only.
  const { modules, packages } = staticImportGraph('cli/api-client.ts');
  expect(modules.has('api/route-table.ts')).toBe(true);
  expect(modules.has('api/schemas.ts')).toBe(false);
  expect([...packages]).toEqual([]);
});

it('the CLI loads its commands when they run: main.ts loads no command module, and no command module loads a package at start-up', () => {
  // zod, yaml, luxon and packaging/ are imported inside the commands that need them (cli/command.ts
  // specTools, cli/format.ts render), so `--help` and the commands that only call the API stay fast.
  const commands = readdirSync(path.join(REPO_ROOT, 'cli', 'commands')).map((f) => `cli/commands/${f}`);
  expect(commands).toEqual(expect.arrayContaining(['cli/commands/specs.ts', 'cli/commands/executions.ts']));
  const main = staticImportGraph('cli/main.ts');
  expect([...main.modules].filter((m) => m.startsWith('cli/commands/'))).toEqual([]);
  for (const file of ['cli/main.ts', ...commands]) {
    const { packages } = staticImportGraph(file);
    expect(
      [...packages].filter((p) => !p.startsWith('node:')),
      file,
    ).toEqual([]);
  }
});

it("CLI commands parse with cli/command.ts's parseArgs (an unknown option gets the closest declared one), not node:util's", () => {
  for (const f of readdirSync(path.join(REPO_ROOT, 'cli', 'commands'))) {
    const text = readFileSync(path.join(REPO_ROOT, 'cli', 'commands', f), 'utf8');
    expect(/\bparseArgs\b[^;]*from\s*'(node:)?util'|\butil\.parseArgs\b/.test(text), f).toBe(false);
  }
});

it('the worker preloads exactly the modules workflows load that use no package beyond the workflow SDK and luxon', () => {
  const reachable = new Set([
    ...staticImportGraph('workflows/execute-function.ts').modules,
    ...staticImportGraph('workflows/function-controller.ts').modules,
  ]);
  const preloadable = [...reachable]
    .filter((m) => !m.startsWith('workflows/'))
    .filter((m) => [...staticImportGraph(m).packages].every((p) => WORKFLOW_PACKAGES.has(p)))
    .map((m) => m.replace(/\.ts$/, ''))
    .sort();
  expect(preloadableWorkflowModules()).toEqual(preloadable);
  const listed = PRELOADED_WORKFLOW_MODULES.map((f) =>
    path
      .relative(REPO_ROOT, f)
      .replace(/^dist\//, '')
      .replace(/\.(ts|js)$/, ''),
  ).sort();
  // The list is generated: on a difference, run `npm run preload-list`.
  expect(readFileSync(path.join(REPO_ROOT, PRELOAD_FILE), 'utf8')).toBe(preloadFileText());
  expect(listed).toEqual(preloadable);
  // Every execution's own module is among them.
  for (const m of staticImportGraph('workflows/execute-function.ts').modules) {
    if (!m.startsWith('workflows/')) expect(listed).toContain(m.replace(/\.ts$/, ''));
  }
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

/**
 * Every module a folder's files name in an import or re-export (types included: a type import is
 * still a dependency a reader follows; `typeOnly` marks `import type` / `export type`), as
 * repository-relative paths; packages are left out.
 */
function folderImports(folder: string): { file: string; target: string; typeOnly: boolean }[] {
  const out: { file: string; target: string; typeOnly: boolean }[] = [];
  const dir = path.join(REPO_ROOT, folder);
  for (const name of readdirSync(dir, { recursive: true }) as string[]) {
    if (!name.endsWith('.ts') || name.endsWith('.test.ts')) continue;
    const at = path.join(dir, name);
    const source = ts.createSourceFile(at, readFileSync(at, 'utf8'), ts.ScriptTarget.Latest);
    const specifiers: { text: string; typeOnly: boolean }[] = [];
    const visit = (node: ts.Node) => {
      if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier) {
        const typeOnly = ts.isImportDeclaration(node)
          ? Boolean(node.importClause?.isTypeOnly)
          : node.isTypeOnly;
        if (ts.isStringLiteral(node.moduleSpecifier))
          specifiers.push({ text: node.moduleSpecifier.text, typeOnly });
      } else if (
        ts.isCallExpression(node) &&
        node.expression.kind === ts.SyntaxKind.ImportKeyword &&
        node.arguments[0] &&
        ts.isStringLiteral(node.arguments[0])
      ) {
        specifiers.push({ text: node.arguments[0].text, typeOnly: false });
      }
      ts.forEachChild(node, visit);
    };
    visit(source);
    for (const s of specifiers.filter((s) => s.text.startsWith('.'))) {
      out.push({
        file: path.relative(REPO_ROOT, at),
        target: path.relative(REPO_ROOT, path.resolve(path.dirname(at), s.text)),
        typeOnly: s.typeOnly,
      });
    }
  }
  return out;
}

it('the ground floor never imports back up: core/ and util/ nothing, kube/ and contract/ only core/ and util/, platform/ only core/; logs/ and observer/ never reach into the worker or the runtimes', () => {
  // Each folder may import only these (besides itself); the dependency direction is the layering.
  const allowed: Record<string, string[]> = {
    core: [],
    util: [],
    kube: ['core', 'util'],
    contract: ['core', 'util'],
    platform: ['core'],
    logs: ['core', 'kube', 'contract', 'platform'],
    observer: ['core', 'contract', 'platform'],
  };
  const offenders: string[] = [];
  for (const [folder, may] of Object.entries(allowed)) {
    const imports = folderImports(folder);
    expect(
      readdirSync(path.join(REPO_ROOT, folder)).some((f) => f.endsWith('.ts')),
      folder,
    ).toBe(true);
    for (const { file, target } of imports) {
      const top = target.split(path.sep)[0]!;
      if (top !== folder && !may.includes(top)) offenders.push(`${file} imports ${target}`);
    }
  }
  expect(offenders).toEqual([]);
});

it('every top-level folder with TypeScript is type-checked (tsconfig.json) and, if it ships, watched by bin/entry.mjs', () => {
  const tsFolders = readdirSync(REPO_ROOT, { withFileTypes: true })
    .filter(
      (e) => e.isDirectory() && !['node_modules', 'dist', '.git', '.scratch', '.pontoon'].includes(e.name),
    )
    .map((e) => e.name)
    .filter((dir) => hasTypeScript(path.join(REPO_ROOT, dir)));
  const checked = JSON.parse(readFileSync(path.join(REPO_ROOT, 'tsconfig.json'), 'utf8')).include as string[];
  expect(tsFolders.filter((dir) => !checked.includes(dir))).toEqual([]);
  // What `npm run build` compiles is what entry.mjs compares against dist/ (it reads the same list).
  const built = JSON.parse(readFileSync(path.join(REPO_ROOT, 'tsconfig.build.json'), 'utf8'))
    .include as string[];
  expect(built.map((entry) => entry.split('/')[0]).filter((dir) => !tsFolders.includes(dir!))).toEqual([]);
});

function hasTypeScript(dir: string): boolean {
  return readdirSync(dir, { withFileTypes: true }).some((e) =>
    e.isDirectory()
      ? e.name !== 'node_modules' && hasTypeScript(path.join(dir, e.name))
      : e.name.endsWith('.ts'),
  );
}

it('the two runtimes stand apart: activities/local/ and activities/kubernetes/ never import each other, and the local runtime loads no Kubernetes client', () => {
  // What both need is the function contract (contract/) or the runtime interface (activities/runtime.ts).
  const into = (folder: string) => (i: { target: string }) => i.target.startsWith(`${folder}${path.sep}`);
  const offenders = [
    ...folderImports(path.join('activities', 'local')).filter(into(path.join('activities', 'kubernetes'))),
    ...folderImports(path.join('activities', 'kubernetes')).filter(into(path.join('activities', 'local'))),
  ].map(({ file, target }) => `${file} imports ${target}`);
  expect(offenders).toEqual([]);
  // @kubernetes/client-node is ~85 MiB of a worker's RSS: `npm start` and `pontoon dev` never load it for an attempt.
  const { modules, packages } = staticImportGraph('activities/local/runtime.ts');
  expect(modules).toContain('activities/local/attempt.ts');
  expect([...modules].filter((m) => m.startsWith('activities/kubernetes/') || m.startsWith('kube/'))).toEqual(
    [],
  );
  expect(packages.has('@kubernetes/client-node')).toBe(false);
});

it('the top floors are imported only from above: dev/ by `pontoon dev`, worker/ by the commands that run it and the image build', () => {
  // Tests and benches may import anything (folderImports already skips colocated *.test.ts).
  const importersAllowed: Record<string, string[]> = {
    dev: ['cli'],
    worker: ['cli', 'dev', 'packaging'],
  };
  const sources = readdirSync(REPO_ROOT, { withFileTypes: true })
    .filter(
      (e) =>
        e.isDirectory() &&
        !e.name.startsWith('.') &&
        !['node_modules', 'dist', 'test', 'bench'].includes(e.name),
    )
    .map((e) => e.name);
  const offenders: string[] = [];
  for (const folder of sources) {
    for (const { file, target } of folderImports(folder)) {
      const top = target.split(path.sep)[0]!;
      const allowed = importersAllowed[top];
      if (top !== folder && allowed && !allowed.includes(folder)) offenders.push(`${file} imports ${target}`);
    }
  }
  expect(offenders).toEqual([]);
});

/**
 * The floors, from the ground up: README's folder map lists them in this order. A folder's code
 * imports only folders on floors below its own; the one exception is a type: workflows import the
 * activities' types (`proxyActivities<Activities>`), never their code.
 */
const FLOORS = [
  'core',
  'util',
  'kube',
  'contract',
  'platform',
  'logs',
  'observer',
  'workflows',
  'client',
  'activities',
  'worker',
  'packaging',
  'api',
  'dev',
  'cli',
];

it('every folder imports only the floors below it (types of the activities in workflows aside), and the README lists the floors in that order', () => {
  const offenders: string[] = [];
  for (const [floor, folder] of FLOORS.entries()) {
    for (const { file, target, typeOnly } of folderImports(folder)) {
      const top = target.split(path.sep)[0]!;
      if (top === folder) continue;
      const at = FLOORS.indexOf(top);
      if (at >= 0 && at < floor) continue;
      if (folder === 'workflows' && top === 'activities' && typeOnly) continue;
      offenders.push(`${file} imports ${target}`);
    }
  }
  expect(offenders).toEqual([]);
  // Every folder with TypeScript outside tests and benches has a floor.
  const withCode = readdirSync(REPO_ROOT, { withFileTypes: true })
    .filter(
      (e) =>
        e.isDirectory() &&
        !e.name.startsWith('.') &&
        !['node_modules', 'dist', 'test', 'bench'].includes(e.name),
    )
    .map((e) => e.name)
    .filter((dir) => hasTypeScript(path.join(REPO_ROOT, dir)));
  expect(withCode.filter((dir) => !FLOORS.includes(dir))).toEqual([]);
  const readme = readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8');
  const mapped = [...readme.matchAll(/^\| `([a-z-]+)\/` +\|/gm)]
    .map((m) => m[1]!)
    .filter((d) => FLOORS.includes(d));
  expect(mapped).toEqual(FLOORS);
});

it('component loggers come from componentLogger: no `.child({ component` that could write the field twice in a line', () => {
  const folders = readdirSync(REPO_ROOT, { withFileTypes: true })
    .filter((e) => e.isDirectory() && !e.name.startsWith('.') && !['node_modules', 'dist'].includes(e.name))
    .map((e) => e.name);
  const offenders: string[] = [];
  for (const folder of folders) {
    const dir = path.join(REPO_ROOT, folder);
    for (const name of readdirSync(dir, { recursive: true }) as string[]) {
      if (!name.endsWith('.ts') || name.includes('node_modules')) continue;
      const file = path.join(folder, name);
      if (
        [
          path.join('platform', 'logger.ts'),
          path.join('test', 'logs.test.ts'),
          path.join('test', 'repo.test.ts'),
        ].includes(file)
      )
        continue;
      if (/\.child\(\s*\{[^}]*\bcomponent\b/.test(readFileSync(path.join(dir, name), 'utf8')))
        offenders.push(file);
    }
  }
  expect(offenders).toEqual([]);
});
