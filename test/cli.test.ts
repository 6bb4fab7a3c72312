/** The real `pontoon` command as a user runs it, against the real dev server and a real worker. */
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { getSpec } from '../client/functions.ts';
import { REPO_ROOT, type RunningWorker, startWorker, uniqueName } from './helpers.ts';

const run = promisify(execFile);
let w: RunningWorker;

beforeAll(async () => {
  w = await startWorker();
});
afterAll(async () => {
  await w?.stop();
});

async function pontoon(args: string[], env: Record<string, string> = {}) {
  try {
    const { stdout, stderr } = await run(
      process.execPath,
      [path.join(REPO_ROOT, 'bin', 'pontoon.mjs'), ...args],
      {
        cwd: REPO_ROOT,
        env: {
          ...process.env,
          TEMPORAL_ADDRESS: inject('temporalAddress'),
          PONTOON_TASK_QUEUE: w.config.taskQueue,
          PONTOON_DATA_DIR: w.config.dataDir,
          ...env,
        },
      },
    );
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

function specFile(name: string, extra = ''): string {
  const dir = mkdtempSync(path.join(inject('testDir'), 'cli-'));
  const file = path.join(dir, `${name}.yaml`);
  writeFileSync(
    file,
    `apiVersion: pontoon.dev/v1
kind: Function
metadata:
  name: ${name}
spec:
  image: pontoon/test:0
  parameters:
    - name: mode
      default: ok
    - name: code
      type: integer
      default: 1
  execution:
    retry:
      maxAttempts: 1
${extra}  local:
    command: [node, test/fixtures/functions/behave.mjs]
`,
  );
  return file;
}

it('apply, then invoke --wait prints the result and exits 0; a failed execution exits 1', async () => {
  const name = uniqueName('cli');
  const file = specFile(name);
  const applied = await pontoon(['apply', '-f', file]);
  expect(applied.stdout).toContain(`function/${name} applied (version 1)`);
  expect(applied.code).toBe(0);
  expect((await pontoon(['apply', '-f', file])).stdout).toContain('unchanged (version 1)');

  const ok = await pontoon(['invoke', name, '--param', 'mode=ok', '--wait']);
  expect(ok.code).toBe(0);
  const result = JSON.parse(ok.stdout);
  expect(result).toMatchObject({ status: 'succeeded', trigger: 'cli', output: { ok: true, attempt: 1 } });

  const logs = await pontoon(['logs', result.executionId]);
  expect(logs.code).toBe(0);
  expect(logs.stdout).toContain('behave mode=ok attempt=1');

  const bad = await pontoon(['invoke', name, '-p', 'mode=fail', '-p', 'code=4', '--wait']);
  expect(bad.code).toBe(1);
  expect(JSON.parse(bad.stdout)).toMatchObject({ status: 'failed', attempts: [{ exitCode: 4 }] });
});

it('the same idempotency key names the same execution', async () => {
  const name = uniqueName('idem');
  await pontoon(['apply', '-f', specFile(name)]);
  const a = await pontoon(['invoke', name, '--idempotency-key', 'k1', '-o', 'json']);
  const b = await pontoon(['invoke', name, '--idempotency-key', 'k1', '-o', 'json']);
  expect(JSON.parse(a.stdout)).toMatchObject({ executionId: `exec:${name}:k1`, created: true });
  expect(JSON.parse(b.stdout)).toMatchObject({ executionId: `exec:${name}:k1`, created: false });
});

it('apply is all or nothing: one invalid spec and nothing is stored', async () => {
  const good = uniqueName('good');
  const dir = path.dirname(specFile(good));
  writeFileSync(
    path.join(dir, 'broken.yaml'),
    'apiVersion: pontoon.dev/v1\nkind: Function\nmetadata:\n  name: Broken\nspec:\n  image: x\n',
  );
  const r = await pontoon(['apply', '-f', dir]);
  expect(r.code).toBe(2);
  expect(r.stderr).toContain('broken.yaml:4:9 metadata.name: function name must be lower-case');
  expect(r.stderr).toContain('nothing applied');
  await expect(getSpec(w.client, good)).rejects.toThrow();
});

it('usage errors exit 2 and an unreachable server exits 3', async () => {
  const usage = await pontoon(['invoke']);
  expect(usage.code).toBe(2);
  expect(usage.stderr).toContain('invoke needs exactly one function name');
  const badFlag = await pontoon(['invoke', 'x', '--colour', 'red']);
  expect(badFlag.code).toBe(2);
  const down = await pontoon(['invoke', 'hello'], { TEMPORAL_ADDRESS: '127.0.0.1:1' });
  expect(down.code).toBe(3);
  expect(down.stderr).toContain('cannot reach Temporal at 127.0.0.1:1');
  const help = await pontoon(['invoke', '--help']);
  expect(help.code).toBe(0);
  expect(help.stdout).toContain('Examples:');
});
