/**
 * Packaging end to end: `pontoon apply` builds the image (real registry), the API records it by
 * digest in the applied spec version, and the kubernetes runtime's pod (simulated cluster) runs
 * exactly `image@sha256:…`; applying is all or nothing, builds included; the example specs with
 * `build` run unchanged on the local runtime.
 */
import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { newApiKey } from '../api/auth.ts';
import { startApi } from '../api/main.ts';
import { getSpec, startExecution, waitForResult } from '../client/functions.ts';
import { loadSpecs } from '../core/load.ts';
import { freePort } from '../dev/temporal.ts';
import { createLogger } from '../platform/logger.ts';
import { apply, REPO_ROOT, type RunningWorker, startWorker, uniqueName } from './helpers.ts';
import { createNamespace, type KubeWorker, recordPods, simReport, startKubeWorker } from './kube-helpers.ts';

const run = promisify(execFile);
const admin = newApiKey('pkg-admin', 'admin');
let ns: { name: string; remove(): Promise<void> };
let kw: KubeWorker;
let local: RunningWorker;
let api: { url: string; close(): Promise<void> };

beforeAll(async () => {
  ns = await createNamespace('pkg');
  kw = await startKubeWorker(ns.name);
  local = await startWorker();
  api = await startApi({
    api: { host: '127.0.0.1', port: await freePort(), auth: { mode: 'keys', keys: [admin.entry] } },
    logger: createLogger('silent'),
    client: kw.client,
    taskQueue: kw.config.taskQueue,
    dataDir: kw.config.dataDir,
  });
});
afterAll(async () => {
  await api?.close();
  await kw?.stop();
  await local?.stop();
  await ns?.remove();
});

async function pontoon(args: string[]) {
  try {
    const { stdout, stderr } = await run(
      process.execPath,
      [path.join(REPO_ROOT, 'bin', 'pontoon.mjs'), ...args],
      {
        cwd: REPO_ROOT,
        env: { ...process.env, PONTOON_API: api.url, PONTOON_TOKEN: admin.token },
      },
    );
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

/** A copy of the examples folder and a spec building `command` from it; `extra` goes under spec:. */
function exampleProject(name: string, extra = '') {
  const dir = mkdtempSync(path.join(inject('testDir'), 'pkg-apply-'));
  cpSync(path.join(REPO_ROOT, 'function-specs', 'examples'), path.join(dir, 'examples'), { recursive: true });
  const spec = path.join(dir, `${name}.yaml`);
  writeFileSync(
    spec,
    `apiVersion: pontoon.dev/v1
kind: Function
metadata:
  name: ${name}
spec:
  build:
    context: examples
    runtime: node
    command: [node, hello.mjs]
${extra}`,
  );
  return { dir, spec };
}

describe('pontoon apply with spec.build', () => {
  it('builds, records the image by digest in the applied version, and the pod runs exactly that image', async () => {
    const name = uniqueName('pkg-apply');
    // kwok runs no container: the observer's report comes from the simulated termination message.
    const p = exampleProject(
      name,
      `  podAnnotations:\n    pontoon.dev/sim-termination-message: '${simReport({ greeting: 'from kwok' })}'\n`,
    );
    const applied = await pontoon(['apply', '-f', p.spec]);
    // Every file of the examples folder (counted, not written down: examples come and go).
    const files = readdirSync(path.join(REPO_ROOT, 'function-specs', 'examples'), {
      recursive: true,
      withFileTypes: true,
    }).filter((e) => e.isFile()).length;
    expect(applied.stderr).toMatch(new RegExp(`${name}: code layer: ${files} files`));
    expect(applied.stderr).toMatch(
      new RegExp(`${name}: image ${inject('registry')}/pontoon/${name}@sha256:[0-9a-f]{64}`),
    );
    expect(applied.stdout).toContain(`function/${name} applied (version 1)`);
    expect(applied.code).toBe(0);
    const stored = await getSpec(kw.client, name);
    const image = stored?.spec.spec.image ?? '';
    expect(image).toMatch(new RegExp(`^${inject('registry')}/pontoon/${name}@sha256:[0-9a-f]{64}$`));
    expect(stored?.spec.spec.build?.context).toBe(path.join(p.dir, 'examples'));
    // describe shows the image the version runs.
    const described = JSON.parse((await pontoon(['describe', 'function', name, '-o', 'json'])).stdout);
    expect(JSON.stringify(described)).toContain(image);
    // Applying the same source again is a no-op (same digest, same spec); -o json names the image.
    const again = JSON.parse((await pontoon(['apply', '-f', p.spec, '-o', 'json'])).stdout);
    expect(again).toEqual([{ name, version: 1, changed: false, image }]);

    const rec = await recordPods(ns.name);
    const started = await startExecution(
      kw.client,
      { function: name },
      { trigger: 'api', taskQueue: kw.config.taskQueue },
    );
    const result = await waitForResult(kw.client, started.executionId);
    rec.stop();
    expect(result).toMatchObject({ status: 'succeeded', output: { greeting: 'from kwok' }, specVersion: 1 });
    const pod = [...rec.seen.values()].find((x) => x.metadata?.labels?.['pontoon.dev/function'] === name);
    const fn = pod?.spec?.containers.find((c) => c.name === 'function');
    expect(fn?.image).toBe(image);
    expect(fn?.command).toEqual(['node', 'hello.mjs']);
  });

  it('is all or nothing: a failed build applies nothing, and the applied version keeps its image', async () => {
    const good = uniqueName('pkg-good');
    const bad = uniqueName('pkg-bad');
    const g = exampleProject(good);
    const b = exampleProject(bad);
    writeFileSync(
      b.spec,
      (await import('node:fs')).readFileSync(b.spec, 'utf8').replace('context: examples', 'context: missing'),
    );
    const both = await pontoon(['apply', '-f', g.spec, '-f', b.spec]);
    expect(both.code).toBe(2);
    expect(both.stderr).toContain(
      `${b.spec}:7:5 spec.build.context: context folder ${path.join(b.dir, 'missing')} does not exist`,
    );
    expect(both.stderr).toContain('nothing applied: 1 problem found');
    expect(await getSpec(kw.client, good).catch(() => null)).toBeNull();

    expect((await pontoon(['apply', '-f', g.spec])).code).toBe(0);
    const v1 = await getSpec(kw.client, good);
    expect(v1?.version).toBe(1);
    // The source changes, but the other spec in the same apply fails: version 1 stays, with its image.
    writeFileSync(path.join(g.dir, 'examples', 'hello.mjs'), '// changed\n');
    const again = await pontoon(['apply', '-f', g.spec, '-f', b.spec]);
    expect(again.code).toBe(2);
    const still = await getSpec(kw.client, good);
    expect(still?.version).toBe(1);
    expect(still?.spec.spec.image).toBe(v1?.spec.spec.image);
  });
});

describe('the example specs on the local runtime', () => {
  it('hello.yaml (spec.build, no image, no local section) runs unchanged: build.command in its context', async () => {
    const loaded = await loadSpecs([path.join(REPO_ROOT, 'function-specs', 'hello.yaml')]);
    expect(loaded.problems).toEqual([]);
    const spec = loaded.specs[0]!.spec;
    expect(spec.spec.image).toBeUndefined();
    expect(spec.spec.local).toBeUndefined();
    const name = uniqueName('pkg-hello');
    spec.metadata.name = name; // its own controller: other tests apply "hello" too
    await apply(local.client, spec, local.config.taskQueue);
    const started = await startExecution(
      local.client,
      { function: name, parameters: { name: 'Ada' } },
      { trigger: 'api', taskQueue: local.config.taskQueue },
    );
    const result = await waitForResult(local.client, started.executionId);
    expect(result).toMatchObject({ status: 'succeeded', output: { greeting: 'Hello, Ada!' } });
  });
});
