/**
 * Starts ONE real Temporal dev server (the Temporal CLI, provisioned like `npm start` does) and
 * bundles the workflows once for the whole test run. Test files attach through `inject()`.
 * A missing prerequisite fails here with the fix, never a silent skip.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { type DevServer, ensureTemporalCli, freePort, startDevServer } from '../dev/temporal.ts';
import { createLogger } from '../worker/logger.ts';
import { bundleWorkflows } from '../worker/worker.ts';

let server: DevServer | undefined;

export default async function setup(project: TestProject) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pontoon-test-'));
  const cli = await ensureTemporalCli((line) => process.stderr.write(`[global-setup] ${line}\n`));
  const port = await freePort();
  server = await startDevServer({ cli, port, logFile: path.join(dir, 'temporal-server.log') });
  const bundle = await bundleWorkflows(createLogger('warn'));
  const bundlePath = path.join(dir, 'workflow-bundle.js');
  writeFileSync(bundlePath, bundle.code);
  project.provide('temporalAddress', server.address);
  project.provide('workflowBundlePath', bundlePath);
  project.provide('temporalCli', cli);
  project.provide('testDir', dir);
  return async () => {
    await server?.stop();
  };
}

declare module 'vitest' {
  export interface ProvidedContext {
    temporalAddress: string;
    workflowBundlePath: string;
    temporalCli: string;
    testDir: string;
  }
}
