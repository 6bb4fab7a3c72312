/**
 * The observer (observer/main.ts) as a real process in a temp dir (kwok pods run no containers):
 * beside (an ordinary container after the function) reports once the function's processes are gone,
 * or on SIGTERM; on-demand (the native sidecar of a large request) writes input.json first, then does
 * the same (a procfs-shaped tree of the test's own stands for /proc); prepare (pods built before the
 * sidecar wrote input.json) still writes it alone. The real shared process namespace is exercised on the real node
 * (test/kubernetes-real-node.test.ts).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { extractOutput, parseReport, splitInput } from '../contract/termination.ts';
import { otherContainerPids, statusUid, watchFunctionExit } from '../observer/function-exit.ts';
import { REPO_ROOT } from './helpers.ts';

const MAIN = path.join(REPO_ROOT, 'observer', 'main.ts');

function start(mode: string, env: Record<string, string>) {
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN, mode], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => {
    stdout += d.toString();
  });
  child.stderr!.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, exited, out: () => stdout, err: () => stderr };
}

async function until(what: string, probe: () => boolean, ms = 15_000) {
  const end = Date.now() + ms;
  while (!probe()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function setup() {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pontoon-observer-'));
  // A /proc of its own that shows no function process, so only SIGTERM ends on-demand (the host's
  // /proc would show every other process on the machine as another container's).
  const proc = path.join(dir, '.proc');
  mkdirSync(path.join(proc, 'self', 'ns'), { recursive: true });
  writeFileSync(path.join(proc, 'self', 'cgroup'), '0::/\n');
  symlinkSync('mnt:[1]', path.join(proc, 'self', 'ns', 'mnt'));
  return {
    dir,
    termLog: path.join(dir, 'termination-log'),
    env: {
      PONTOON_DIR: dir,
      PONTOON_TERMINATION_LOG: path.join(dir, 'termination-log'),
      PONTOON_PROC_ROOT: proc,
    },
  };
}

async function onDemand(env: Record<string, string>, write: () => Promise<void>) {
  const p = start('on-demand', env);
  await until('the observer to start', () => p.err().includes('observer: watching'));
  await write(); // the function runs and exits meanwhile
  (p.child as ChildProcess).kill('SIGTERM');
  const code = await p.exited;
  return { code, stdout: p.out() };
}

describe('observer process', () => {
  it('prepare writes input.json from the env chunks', async () => {
    const { dir, env } = setup();
    const json = JSON.stringify({ function: 'f', input: { text: 'ü'.repeat(100) } });
    const chunks = splitInput(json, 40);
    const chunkEnv = Object.fromEntries(chunks.map((c, i) => [`PONTOON_INPUT_${i}`, c]));
    const p = start('prepare', { ...env, PONTOON_INPUT_CHUNKS: String(chunks.length), ...chunkEnv });
    expect(await p.exited).toBe(0);
    expect(await readFile(path.join(dir, 'input.json'), 'utf8')).toBe(json);
  });

  it("ready (the sidecar's postStart hook) returns only once on-demand handles SIGTERM", async () => {
    const { dir, env } = setup();
    const hook = start('ready', env);
    let hookDone = false;
    void hook.exited.then(() => {
      hookDone = true;
    });
    await new Promise((r) => setTimeout(r, 700));
    expect(hookDone).toBe(false); // no sidecar yet: the kubelet must not start the function
    const sidecar = start('on-demand', env);
    expect(await hook.exited).toBe(0);
    // By the time the hook returned, a SIGTERM is handled: the sidecar reports instead of dying.
    sidecar.child.kill('SIGTERM');
    expect(await sidecar.exited).toBe(0);
    expect(parseReport(await readFile(path.join(dir, 'termination-log'), 'utf8'))).toEqual({
      v: 1,
      output: null,
    });
  });

  it('on-demand writes input.json whole before ready returns: the function, started after the hook, always finds it', async () => {
    const { dir, env } = setup();
    const json = JSON.stringify({ function: 'f', input: { text: 'ü'.repeat(100) } });
    const chunks = splitInput(json, 40);
    const chunkEnv = Object.fromEntries(chunks.map((c, i) => [`PONTOON_INPUT_${i}`, c]));
    const sidecarEnv = { ...env, PONTOON_INPUT_CHUNKS: String(chunks.length), ...chunkEnv };
    const hook = start('ready', sidecarEnv); // the kubelet runs the hook with the container's env
    const sidecar = start('on-demand', sidecarEnv);
    expect(await hook.exited).toBe(0);
    expect(await readFile(path.join(dir, 'input.json'), 'utf8')).toBe(json);
    expect((await readdir(dir)).filter((f) => f.startsWith('.input.json'))).toEqual([]); // no temporary left
    sidecar.child.kill('SIGTERM');
    expect(await sidecar.exited).toBe(0);
  });

  it('on-demand with a broken request exits 1 naming it and never signals ready (the pod fails as LaunchFailed)', async () => {
    const { dir, termLog, env } = setup();
    const p = start('on-demand', { ...env, PONTOON_INPUT_CHUNKS: '2', PONTOON_INPUT_0: '{' });
    expect(await p.exited).toBe(1);
    expect(await readFile(termLog, 'utf8')).toContain('PONTOON_INPUT_1 is missing');
    expect(await readdir(dir)).not.toContain('.observer-ready');
    expect(await readdir(dir)).not.toContain('input.json');
  });

  it('prepare fails with a message when a chunk is missing', async () => {
    const { termLog, env } = setup();
    const p = start('prepare', { ...env, PONTOON_INPUT_CHUNKS: '2', PONTOON_INPUT_0: '{' });
    expect(await p.exited).toBe(1);
    expect(await readFile(termLog, 'utf8')).toContain('PONTOON_INPUT_1 is missing');
  });

  it('on-demand reports a small output inline after SIGTERM', async () => {
    const { dir, termLog, env } = setup();
    const { code, stdout } = await onDemand(env, () =>
      writeFile(path.join(dir, 'output.json'), '{"ok":true}'),
    );
    expect(code).toBe(0);
    expect(stdout).toBe('');
    expect(parseReport(await readFile(termLog, 'utf8'))).toEqual({ v: 1, output: { ok: true } });
  });

  it('on-demand reports no output.json as null', async () => {
    const { termLog, env } = setup();
    const { code } = await onDemand(env, async () => {});
    expect(code).toBe(0);
    expect(parseReport(await readFile(termLog, 'utf8'))).toEqual({ v: 1, output: null });
  });

  it('on-demand prints a large output on stdout and reports its digest', async () => {
    const { dir, termLog, env } = setup();
    const output = { data: 'y'.repeat(50_000) };
    const { code, stdout } = await onDemand(env, () =>
      writeFile(path.join(dir, 'output.json'), JSON.stringify(output)),
    );
    expect(code).toBe(0);
    const report = parseReport(await readFile(termLog, 'utf8'));
    expect(report && 'outputRef' in report).toBe(true);
    if (!report || !('outputRef' in report)) return;
    expect(extractOutput(stdout, report.outputRef)).toEqual({ output });
  });

  it('on-demand enforces the output size limit with OutputTooLarge naming it', async () => {
    const { dir, termLog, env } = setup();
    const { code } = await onDemand({ ...env, PONTOON_OUTPUT_LIMIT: '1000' }, () =>
      writeFile(path.join(dir, 'output.json'), JSON.stringify({ data: 'z'.repeat(2000) })),
    );
    expect(code).toBe(0);
    const report = parseReport(await readFile(termLog, 'utf8'));
    expect(report).toMatchObject({
      failure: { type: 'OutputTooLarge', message: expect.stringContaining('limit is 1000 bytes') },
    });
  });

  it('on-demand reports invalid JSON as OutputInvalid', async () => {
    const { dir, termLog, env } = setup();
    await onDemand(env, () => writeFile(path.join(dir, 'output.json'), '{nope'));
    expect(parseReport(await readFile(termLog, 'utf8'))).toMatchObject({
      failure: { type: 'OutputInvalid' },
    });
  });
});

/**
 * A procfs-shaped tree: `self` and each pid a folder with its `cgroup` file and, unless `mnt` is
 * null (a process whose namespace cannot be read), an `ns/mnt` link.
 */
async function procTree(entries: Record<string, Proc>): Promise<string> {
  const root = mkdtempSync(path.join(os.tmpdir(), 'pontoon-proc-'));
  for (const [pid, e] of Object.entries(entries)) await addProc(root, pid, e);
  return root;
}

/** A process: its cgroup, its mount namespace (null: cannot be read) and real uid (default the pod's, 65532). */
type Proc = string | { cgroup: string; mnt: string | null; uid?: number };

async function addProc(root: string, pid: string, e: Proc) {
  const {
    cgroup,
    mnt,
    uid = 65532,
  } = typeof e === 'string' ? { cgroup: e, mnt: e === OWN ? OWN_MNT : FN_MNT } : e;
  await mkdir(path.join(root, pid, 'ns'), { recursive: true });
  await writeFile(path.join(root, pid, 'cgroup'), cgroup);
  await writeFile(path.join(root, pid, 'status'), `Name:\tx\nUid:\t${uid}\t${uid}\t${uid}\t${uid}\n`);
  if (mnt !== null) await symlink(mnt, path.join(root, pid, 'ns', 'mnt'));
}

const OWN = '0::/kubepods/pod1/observer\n';
const FUNCTION = '0::/kubepods/pod1/function\n';
const OWN_MNT = 'mnt:[4026532301]';
const FN_MNT = 'mnt:[4026532405]';

describe('the function exit, seen from the observer (shared process namespace)', () => {
  it("counts other containers' processes, never PID 1, itself, its own container's (the postStart hook) or one the runtime is still setting up", async () => {
    const root = await procTree({
      self: OWN,
      '1': '0::/kubepods/pod1/pause\n',
      '7': OWN, // the observer
      '9': OWN, // its postStart hook
      '12': FUNCTION,
      '15': FUNCTION,
      '20': { cgroup: '0::/kubepods/pod1/debug\n', mnt: 'mnt:[4026532999]' }, // an ephemeral container counts too
      // runc's init for the hook's exec, not yet in the sidecar's cgroup: its namespace is unreadable
      '22': { cgroup: '0::/system.slice/containerd.service\n', mnt: null },
      // another cgroup but the sidecar's own root filesystem: not another container
      '23': { cgroup: '0::/kubepods/pod1\n', mnt: OWN_MNT },
    });
    await mkdir(path.join(root, 'sys')); // not a pid
    expect(otherContainerPids(root, { cgroup: OWN, mnt: OWN_MNT }, 7).sort((a, b) => a - b)).toEqual([
      12, 15, 20,
    ]);
  });

  it('a process seen while the runtime sets it up is not a function that came and went', async () => {
    const root = await procTree({ self: OWN, '1': '0::/pause\n' });
    let fired = 0;
    const watch = watchFunctionExit(() => fired++, { procRoot: root, intervalMs: 5, selfPid: 3 });
    await addProc(root, '9', { cgroup: '0::/system.slice/containerd.service\n', mnt: null });
    await new Promise((r) => setTimeout(r, 60));
    await rm(path.join(root, '9'), { recursive: true });
    await new Promise((r) => setTimeout(r, 60));
    expect(fired).toBe(0);
    watch.stop();
  });

  it('fires once the processes it saw are gone, and not before any was seen', async () => {
    const root = await procTree({ self: OWN, '1': '0::/pause\n' });
    let fired = 0;
    const watch = watchFunctionExit(() => fired++, { procRoot: root, intervalMs: 5, selfPid: 3 });
    await new Promise((r) => setTimeout(r, 60));
    expect(fired).toBe(0); // the function has not started: nothing to wait for yet
    await addProc(root, '12', FUNCTION);
    await new Promise((r) => setTimeout(r, 60));
    expect(fired).toBe(0); // running
    await rm(path.join(root, '12'), { recursive: true });
    await until('the watch to fire', () => fired > 0, 5_000);
    await new Promise((r) => setTimeout(r, 60));
    expect(fired).toBe(1);
    watch.stop();
  });

  it('on-demand reports and exits 0 on its own once the function has exited, with no SIGTERM', async () => {
    const { dir, termLog, env } = setup();
    const root = await procTree({ self: OWN, '1': '0::/pause\n', '12': FUNCTION });
    const p = start('on-demand', { ...env, PONTOON_PROC_ROOT: root });
    await until('the observer to start', () => p.err().includes('observer: watching'));
    await new Promise((r) => setTimeout(r, 100));
    await writeFile(path.join(dir, 'output.json'), '{"n":42}');
    await rm(path.join(root, '12'), { recursive: true }); // the function's process is gone
    expect(await p.exited).toBe(0);
    expect(p.err()).toContain('observer: the function exited; reporting');
    expect(parseReport(await readFile(termLog, 'utf8'))).toEqual({ v: 1, output: { n: 42 } });
  });

  it('on-demand without a shared process namespace (nothing else in its /proc) still reports on SIGTERM', async () => {
    const { termLog, env } = setup();
    const root = await procTree({ self: OWN, '1': OWN }); // PID 1 is the observer itself
    const p = start('on-demand', { ...env, PONTOON_PROC_ROOT: root });
    await until('the observer to start', () => p.err().includes('observer: watching'));
    await new Promise((r) => setTimeout(r, 200));
    expect(p.child.exitCode).toBe(null); // still waiting
    p.child.kill('SIGTERM');
    expect(await p.exited).toBe(0);
    expect(p.err()).toContain('observer: SIGTERM; reporting');
    expect(parseReport(await readFile(termLog, 'utf8'))).toEqual({ v: 1, output: null });
  });
});

describe('the observer beside the function (an ordinary container, started after it)', () => {
  const own = { cgroup: OWN, mnt: OWN_MNT, uid: 65532 };

  it("counts the function's processes: the pod's uid or root (the runtime setting it up), readable or not; never another user's container", async () => {
    const root = await procTree({
      self: OWN,
      '1': '0::/pause\n',
      '2': { cgroup: FUNCTION, mnt: null, uid: 0 }, // runc's init setting the function container up
      '7': OWN,
      '12': FUNCTION,
      '13': { cgroup: FUNCTION, mnt: null }, // the function's, not dumpable
      '20': { cgroup: '0::/kubepods/pod1/istio-proxy\n', mnt: null, uid: 1337 }, // an injected proxy
      '21': { cgroup: '0::/kubepods/pod1/linkerd-proxy\n', mnt: 'mnt:[4026532777]', uid: 2102 },
    });
    expect(otherContainerPids(root, own, 7, true).sort((a, b) => a - b)).toEqual([2, 12, 13]);
    // The sidecar's rule (no uid test, unreadable ones left out) for comparison.
    expect(otherContainerPids(root, own, 7).sort((a, b) => a - b)).toEqual([12, 21]);
    expect(statusUid('Name:\tnode\nUid:\t1337\t1337\t1337\t1337\n')).toBe(1337);
    expect(statusUid('Name:\tnode\n')).toBeUndefined();
  });

  it('beside reports at once, exit 0, when the function came and went before it started (its input.json mount target is there); writes no input.json and no ready file', async () => {
    const { dir, termLog, env } = setup();
    await writeFile(path.join(dir, 'input.json'), ''); // what the runtime leaves in the shared folder
    await writeFile(path.join(dir, 'output.json'), '{"n":1}');
    const root = await procTree({ self: OWN, '1': '0::/pause\n', '7': OWN });
    const p = start('beside', { ...env, PONTOON_PROC_ROOT: root });
    expect(await p.exited).toBe(0);
    expect(p.err()).toContain('observer: the function exited; reporting');
    expect(parseReport(await readFile(termLog, 'utf8'))).toEqual({ v: 1, output: { n: 1 } });
    expect((await readdir(dir)).sort()).toEqual(['.proc', 'input.json', 'output.json', 'termination-log']);
    expect(await readFile(path.join(dir, 'input.json'), 'utf8')).toBe('');
  });

  it('beside started before the function container exists (its image still being pulled) waits for it, through an exec into itself, then reports once the function is gone', async () => {
    const { dir, termLog, env } = setup();
    const root = await procTree({ self: OWN, '1': '0::/pause\n', '7': OWN });
    const p = start('beside', { ...env, PONTOON_PROC_ROOT: root });
    await until('the observer to start', () => p.err().includes('observer: watching'));
    await new Promise((r) => setTimeout(r, 200));
    expect(p.child.exitCode).toBe(null); // no mount target, no process: the function has not started
    // `kubectl exec -c observer`: runc's init, root in another cgroup for a moment, then gone.
    await addProc(root, '30', { cgroup: '0::/system.slice/containerd.service\n', mnt: null, uid: 0 });
    await new Promise((r) => setTimeout(r, 100));
    await rm(path.join(root, '30'), { recursive: true });
    await new Promise((r) => setTimeout(r, 200));
    expect(p.child.exitCode).toBe(null); // not a function that came and went: no mount target
    // The runtime sets the function container up (its init, root, not readable), then it runs.
    await addProc(root, '40', { cgroup: FUNCTION, mnt: null, uid: 0 });
    await writeFile(path.join(dir, 'input.json'), '');
    await new Promise((r) => setTimeout(r, 150));
    expect(p.child.exitCode).toBe(null);
    await rm(path.join(root, '40'), { recursive: true });
    await addProc(root, '40', FUNCTION);
    await new Promise((r) => setTimeout(r, 150));
    expect(p.child.exitCode).toBe(null); // running
    await writeFile(path.join(dir, 'output.json'), '{"n":2}');
    await rm(path.join(root, '40'), { recursive: true });
    expect(await p.exited).toBe(0);
    expect(parseReport(await readFile(termLog, 'utf8'))).toEqual({ v: 1, output: { n: 2 } });
  });

  it('beside does not wait for a proxy container of another user that outlives the function', async () => {
    const { dir, termLog, env } = setup();
    await writeFile(path.join(dir, 'input.json'), '');
    const root = await procTree({
      self: OWN,
      '1': '0::/pause\n',
      '7': OWN,
      '9': { cgroup: '0::/kubepods/pod1/istio-proxy\n', mnt: null, uid: 1337 },
    });
    const p = start('beside', { ...env, PONTOON_PROC_ROOT: root });
    expect(await p.exited).toBe(0);
    expect(parseReport(await readFile(termLog, 'utf8'))).toEqual({ v: 1, output: null });
  });

  it('the watch fires only after the marker: with it and no function process listed after it, at once; without it, never', async () => {
    const { dir } = setup();
    const marker = path.join(dir, 'input.json');
    await writeFile(marker, '');
    const gone = await procTree({ self: OWN, '1': '0::/pause\n' });
    let fired = 0;
    const w1 = watchFunctionExit(() => fired++, {
      procRoot: gone,
      intervalMs: 5,
      selfPid: 3,
      createdMarker: marker,
    });
    await until('the watch to fire', () => fired > 0, 5_000);
    w1.stop();
    // No marker: a process seen and gone is not the function (the sidecar's rule would fire here).
    const root = await procTree({ self: OWN, '1': '0::/pause\n', '12': FUNCTION });
    let early = 0;
    const w2 = watchFunctionExit(() => early++, {
      procRoot: root,
      intervalMs: 5,
      selfPid: 3,
      createdMarker: path.join(dir, 'absent.json'),
    });
    await new Promise((r) => setTimeout(r, 60));
    await rm(path.join(root, '12'), { recursive: true });
    await new Promise((r) => setTimeout(r, 100));
    expect(early).toBe(0);
    w2.stop();
  });

  it('beside reports on SIGTERM (the pod deleted) while the function runs', async () => {
    const { dir, termLog, env } = setup();
    const root = await procTree({ self: OWN, '1': '0::/pause\n', '2': FUNCTION, '7': OWN });
    await writeFile(path.join(dir, 'input.json'), '');
    const p = start('beside', { ...env, PONTOON_PROC_ROOT: root });
    await until('the observer to start', () => p.err().includes('observer: watching'));
    await new Promise((r) => setTimeout(r, 200));
    expect(p.child.exitCode).toBe(null);
    p.child.kill('SIGTERM');
    expect(await p.exited).toBe(0);
    expect(p.err()).toContain('observer: SIGTERM; reporting');
    expect(parseReport(await readFile(termLog, 'utf8'))).toEqual({ v: 1, output: null });
  });
});
