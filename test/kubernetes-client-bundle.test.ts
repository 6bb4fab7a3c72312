/**
 * kube/client-node.ts is the only door to @kubernetes/client-node's values, and the compiled tree
 * replaces it with a tree-shaken bundle (dev/bundle-kube-client.mjs): the bundle exports the same
 * names, works against the real apiserver, and is a fraction of the package.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { builtinModules } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import ts from 'typescript';
import { afterAll, expect, it } from 'vitest';
// @ts-expect-error: a plain ES module of the build, without type declarations.
import { bundleKubeClient } from '../dev/bundle-kube-client.mjs';
import * as source from '../kube/client-node.ts';
import { REPO_ROOT } from './helpers.ts';
import { kubeconfigPath } from './kube-helpers.ts';

const PACKAGE = '@kubernetes/client-node';
const tmp = mkdtempSync(path.join(os.tmpdir(), 'pontoon-kube-client-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** The folders `npm run build` compiles (tsconfig.build.json's include, first path segment). */
function compiledFolders(): string[] {
  const { include } = JSON.parse(readFileSync(path.join(REPO_ROOT, 'tsconfig.build.json'), 'utf8'));
  return [...new Set((include as string[]).map((e) => e.split('/')[0]!))];
}

/** `file:line` of every import, re-export or dynamic import of a value from the package in `file`. */
function valueImports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest);
  const found: string[] = [];
  const at = (node: ts.Node) =>
    `${path.relative(REPO_ROOT, file)}:${sf.getLineAndCharacterOfPosition(node.getStart(sf)).line + 1}`;
  const isPackage = (e: ts.Expression | undefined) =>
    e !== undefined && ts.isStringLiteral(e) && (e.text === PACKAGE || e.text.startsWith(`${PACKAGE}/`));
  const visit = (node: ts.Node) => {
    if (ts.isImportDeclaration(node) && isPackage(node.moduleSpecifier)) {
      const clause = node.importClause;
      const bindings = clause?.namedBindings;
      const values =
        !clause || // a bare import: evaluates the package
        (!clause.isTypeOnly &&
          (clause.name !== undefined ||
            (bindings !== undefined &&
              (ts.isNamespaceImport(bindings) || bindings.elements.some((e) => !e.isTypeOnly)))));
      if (values) found.push(at(node));
    } else if (ts.isExportDeclaration(node) && isPackage(node.moduleSpecifier) && !node.isTypeOnly) {
      const clause = node.exportClause;
      if (!clause || !ts.isNamedExports(clause) || clause.elements.some((e) => !e.isTypeOnly))
        found.push(at(node));
    } else if (
      ts.isCallExpression(node) &&
      node.expression.kind === ts.SyntaxKind.ImportKeyword &&
      isPackage(node.arguments[0])
    ) {
      found.push(at(node));
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return found;
}

it('no compiled module but kube/client-node.ts takes a value from @kubernetes/client-node (types are free)', () => {
  const offenders: string[] = [];
  for (const folder of compiledFolders()) {
    const dir = path.join(REPO_ROOT, folder);
    for (const name of readdirSync(dir, { recursive: true }) as string[]) {
      if (!name.endsWith('.ts') || name.endsWith('.test.ts') || name.includes('node_modules')) continue;
      offenders.push(...valueImports(path.join(dir, name)));
    }
  }
  expect(offenders.filter((o) => !o.startsWith(path.join('kube', 'client-node.ts:')))).toEqual([]);
  // The negative control: the door itself is found.
  expect(offenders.some((o) => o.startsWith(path.join('kube', 'client-node.ts:')))).toBe(true);
});

it('the bundle exports the same names, is a fraction of the package and works against the apiserver', async () => {
  const outfile = path.join(tmp, 'client-node.js');
  const meta = await bundleKubeClient(outfile);
  const bundle = await import(outfile);
  expect(Object.keys(bundle).sort()).toEqual(Object.keys(source).sort());
  for (const name of Object.keys(source)) {
    expect(typeof bundle[name], name).toBe(typeof (source as Record<string, unknown>)[name]);
  }
  // Self-contained: the package and its dependencies are inlined, only node's builtins stay imports
  // (an installed package needs no particular node_modules layout), and only the API groups in use are.
  const text = readFileSync(outfile, 'utf8');
  const imported = [...text.matchAll(/^import .* from ["']([^"']+)["'];?$/gm)].map((m) => m[1]!);
  expect(imported.filter((i) => !i.startsWith('node:') && !builtinModules.includes(i))).toEqual([]);
  const inputs = Object.keys(Object.values(meta.outputs as Record<string, { inputs: object }>)[0]!.inputs);
  const groups = inputs
    .filter((i) => /client-node\/dist\/gen\/apis\/\w+Api\.js$/.test(i))
    .map((i) => path.basename(i));
  expect(groups.sort()).toEqual(['AppsV1Api.js', 'CoreV1Api.js', 'NetworkingV1Api.js']);
  // The package's entry graph is 24 MB of JavaScript; the bundle was 7.3 MB when written.
  expect(text.length).toBeLessThan(9_000_000);

  // The same calls through the bundle: credentials from the kubeconfig, a read of the namespace.
  const kc = new bundle.KubeConfig();
  kc.loadFromFile(kubeconfigPath());
  const core = kc.makeApiClient(bundle.CoreV1Api);
  const ns = await core.readNamespace({ name: 'default' });
  expect(ns.metadata?.name).toBe('default');
  await expect(core.readNamespace({ name: 'pontoon-no-such-namespace' })).rejects.toMatchObject({
    code: 404,
  });
});
