// How the bin scripts load Pontoon's modules. An installed package runs the compiled JavaScript in
// dist/ (no TypeScript sources are shipped). A checkout runs dist/ too when `npm run build` (which
// `npm install` runs through `prepare`) is newer than every source file; a checkout edited since
// then runs the sources through tsx instead, so a command never runs code older than its sources
// (slower to start: ~0.5 s more; a terminal is told so; tsx is a devDependency: only a checkout has
// sources to run). PONTOON_RUN_FROM=dist or =source forces
// one or the other (bench/cli-startup.ts measures both).
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
/**
 * The top-level folders `npm run build` compiles, read from tsconfig.build.json's `include` (its first
 * path segment: `dev/registry/*.ts` → `dev`), so a folder added there is watched here too. Only a
 * checkout has that file; an installed package runs dist/ and never asks.
 */
function sourceDirs() {
  const { include } = JSON.parse(readFileSync(`${ROOT}tsconfig.build.json`, 'utf8'));
  return [...new Set(include.map((entry) => entry.split('/')[0]))];
}

/** Newest modification time (ms) of a .ts source file under the compiled folders. */
function newestSource() {
  let newest = 0;
  const walk = (dir) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      if (e.isDirectory()) {
        if (e.name !== 'node_modules' && e.name !== 'fixtures') walk(`${dir}/${e.name}`);
      } else if (e.name.endsWith('.ts') && !e.name.endsWith('.test.ts')) {
        newest = Math.max(newest, statSync(`${dir}/${e.name}`).mtimeMs);
      }
    }
  };
  for (const d of sourceDirs()) if (existsSync(`${ROOT}${d}`)) walk(`${ROOT}${d}`);
  return newest;
}

function builtAt() {
  try {
    return statSync(`${ROOT}dist/.tsbuildinfo`).mtimeMs;
  } catch {
    return 0;
  }
}

/**
 * Imports `<module>` (a path below the package root without extension, e.g. `cli/main`) from dist/
 * or, in a checkout whose build is missing or older than its sources, from its TypeScript source.
 */
export async function load(module) {
  const source = `${ROOT}${module}.ts`;
  const compiled = `${ROOT}dist/${module}.js`;
  const from = process.env.PONTOON_RUN_FROM;
  if (from && from !== 'dist' && from !== 'source') {
    throw new Error(`PONTOON_RUN_FROM must be dist or source, not ${JSON.stringify(from)}`);
  }
  if (!existsSync(source) || from === 'dist') {
    process.setSourceMapsEnabled(true);
    return import(compiled);
  }
  const built = builtAt();
  if (from !== 'source' && built > 0 && existsSync(compiled) && newestSource() <= built) {
    process.setSourceMapsEnabled(true);
    return import(compiled);
  }
  if (process.stderr.isTTY && from !== 'source') {
    process.stderr.write(
      `[pontoon] running from the TypeScript sources (${built ? 'dist/ is older than them' : 'not built yet'}); \`npm run build\` makes commands start faster\n`,
    );
  }
  const { register } = await import('tsx/esm/api');
  register();
  return import(source);
}
