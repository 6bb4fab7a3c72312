/**
 * Starts ONE real Temporal dev server (the Temporal CLI, provisioned like `npm start` does) and
 * bundles the workflows once for the whole test run. Test files attach through `inject()`.
 * A missing prerequisite fails here with the fix, never a silent skip.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { ensureCluster } from '../dev/cluster/ensure.ts';
import { type DevServer, ensureTemporalCli, freePort, startDevServer } from '../dev/temporal.ts';
import { ensureEmbeddedRegistry, registryAnswers, registryFromEnv } from '../packaging/registry.ts';
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
  // The project's OCI registry (packaging tests, images for the real node): started or reused.
  const reg = registryFromEnv({});
  await ensureEmbeddedRegistry(reg, (line) => process.stderr.write(`[global-setup] ${line}\n`));
  if (!(await registryAnswers(reg))) {
    throw new Error(
      `the embedded OCI registry does not answer on ${reg.prefix}; run \`npm run registry:up\` and read its message (it builds CNCF distribution from the Go module proxy once)`,
    );
  }
  project.provide('registry', reg.prefix);
  // The simulated Kubernetes cluster, when a kubernetes test is in the run (started or reused).
  project.provide('kubeconfig', (await needsCluster(project)) ? await ensureCluster(clusterLog) : '');
  return async () => {
    await server?.stop();
  };
}

const clusterLog = (line: string) => process.stderr.write(`[global-setup] ${line}\n`);

/** True unless the command line's file filters leave out every test/kubernetes*.test.ts. */
async function needsCluster(project: TestProject): Promise<boolean> {
  const filters = process.argv.slice(2).filter((a) => !a.startsWith('-') && a !== 'run');
  if (filters.length === 0) return true;
  const { testFiles } = await project.globTestFiles(filters);
  return testFiles.length === 0 || testFiles.some((f) => path.basename(f).startsWith('kubernetes'));
}

declare module 'vitest' {
  export interface ProvidedContext {
    temporalAddress: string;
    workflowBundlePath: string;
    temporalCli: string;
    testDir: string;
    /** host:port of the project's OCI registry (the embedded one on loopback). */
    registry: string;
    /** Kubeconfig of the simulated cluster; '' when no test file of the run needs it. */
    kubeconfig: string;
  }
}
