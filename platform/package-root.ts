/**
 * Where Pontoon's own files are, whether it runs from the TypeScript sources (tsx, vitest: this
 * module is `<root>/platform/package-root.ts`) or from the compiled tree (`npm run build`, an
 * installed package: `<root>/dist/platform/package-root.js`). Non-module files a module needs at run
 * time (shell scripts, the `temporal` bin, the observer's entry for esbuild) are found from here,
 * never from `import.meta.dirname` of a module that may have moved into dist/.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** True when this process runs the compiled JavaScript in dist/ rather than the sources. */
export const RUNS_COMPILED = !import.meta.url.endsWith('.ts');

/** The package root: the folder holding package.json, bin/, dev/ and (when built) dist/. */
export const PACKAGE_ROOT = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  RUNS_COMPILED ? '../..' : '..',
);

/** A path under the package root, e.g. `packagePath('dev', 'registry', 'up.sh')`. */
export function packagePath(...parts: string[]): string {
  return path.join(PACKAGE_ROOT, ...parts);
}
