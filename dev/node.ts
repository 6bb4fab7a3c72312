/**
 * The Node.js versions Pontoon supports (package.json engines), for the tests and CI that run on a
 * version other than the one running: the npm registry's `node-<platform>-<arch>` package (what the
 * registry's `node` package installs), its `bin/node` unpacked once into
 * ~/.cache/pontoon/node<major>/<version>/. No install scripts run and nothing else is downloaded.
 *
 * `tsx dev/node.ts 24` prints the path of the Node 24 binary (installing it when needed); progress
 * goes to stderr.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import * as tar from 'tar';
import { NODE_VERSION } from '../packaging/runtimes.ts';
import { cacheDir } from '../platform/cache-dir.ts';
import { ProvisionError } from './temporal.ts';

const run = promisify(execFile);

/**
 * One version per supported line that the tests run for real. 24 is the current LTS, the one the
 * node runtime's images ship; 20 is the oldest line still supported (its floor, like 22's, is
 * checked against every package's engines by test/engines.test.ts).
 */
export const TEST_NODE_VERSIONS = { 20: '20.20.2', 24: NODE_VERSION } as const;
export type NodeMajor = keyof typeof TEST_NODE_VERSIONS;

export interface NodeRuntime {
  /** The binary. */
  node: string;
  /** Its version, without the v. */
  version: string;
}

/** The running Node when it is of that major line, else the pinned version from the cache. */
export async function ensureNode(major: NodeMajor, progress: (line: string) => void = () => {}) {
  if (Number(process.versions.node.split('.')[0]) === major) {
    return { node: process.execPath, version: process.versions.node } satisfies NodeRuntime;
  }
  return ensureNodeVersion(TEST_NODE_VERSIONS[major], progress);
}

export async function ensureNodeVersion(
  version: string,
  progress: (line: string) => void = () => {},
): Promise<NodeRuntime> {
  const pkg = `node-${process.platform}-${process.arch}`;
  const dir = path.join(cacheDir(), `node${version.split('.')[0]}`, version);
  const node = path.join(dir, 'bin', 'node');
  // Written last: a folder without it is an interrupted install to redo.
  const complete = path.join(dir, '.complete');
  if (existsSync(complete) && existsSync(node)) return { node, version };
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const work = mkdtempSync(path.join(os.tmpdir(), 'pontoon-node-'));
  const started = Date.now();
  progress(`installing Node.js ${version} from the npm registry (${pkg}) into ${dir} …`);
  try {
    await run('npm', ['pack', '--silent', `${pkg}@${version}`, '--pack-destination', work], {
      maxBuffer: 16 * 1024 * 1024,
    });
    await tar.extract({ file: path.join(work, `${pkg}-${version}.tgz`), cwd: dir, strip: 1 }, [
      'package/bin/node',
    ]);
    const { stdout } = await run(node, ['--version']);
    if (stdout.trim() !== `v${version}`) throw new Error(`${node} --version says ${stdout.trim()}`);
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    const detail = (err as { stderr?: string }).stderr?.trim() || (err as Error).message;
    throw new ProvisionError(
      `cannot install Node.js ${version}: ${detail}\nFix: make the npm registry reachable (npm pack ${pkg}@${version} must work), then run again`,
    );
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  writeFileSync(complete, `${version}\n`);
  progress(`installed Node.js ${version} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return { node, version };
}

/** npm's own CLI script, to run it with another Node binary (`<node> <npm-cli.js> …`). */
export function npmCliPath(): string {
  const fromEnv = process.env.npm_execpath;
  if (fromEnv && path.basename(fromEnv) === 'npm-cli.js' && existsSync(fromEnv)) return fromEnv;
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const npm = path.join(dir, 'npm');
    if (!dir || !existsSync(npm)) continue;
    const cli = path.join(path.dirname(realpathSync(npm)), 'npm-cli.js');
    if (existsSync(cli)) return cli;
  }
  throw new ProvisionError('cannot find npm-cli.js (npm on PATH, or npm_execpath)');
}

if (process.argv[1] && realpathSync(process.argv[1]) === realpathSync(new URL(import.meta.url).pathname)) {
  const major = Number(process.argv[2]);
  if (!(major in TEST_NODE_VERSIONS)) {
    console.error(`usage: tsx dev/node.ts <${Object.keys(TEST_NODE_VERSIONS).join('|')}>`);
    process.exit(2);
  }
  const { node } = await ensureNode(major as NodeMajor, (line) => console.error(line));
  console.log(node);
}
