/**
 * Starts ONE real Temporal dev server (the Temporal CLI, provisioned like `npm start` does) and
 * bundles the workflows once for the whole test run. Test files attach through `inject()`.
 * A missing prerequisite fails here with the fix, never a silent skip.
 */
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { ensureCluster } from '../dev/cluster/ensure.ts';
import { type DevServer, ensureTemporalCli, freePort, startDevServer } from '../dev/temporal.ts';
import { craneRunner, ensureCrane } from '../packaging/crane.ts';
import { buildObserverImage } from '../packaging/own-images.ts';
import { ensureEmbeddedRegistry, registryAnswers, registryFromEnv } from '../packaging/registry.ts';
import { createLogger } from '../platform/logger.ts';
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
  const kubeconfig = (await needsCluster(project)) ? await ensureCluster(clusterLog) : '';
  project.provide('kubeconfig', kubeconfig);
  // The cluster's real node (kubelet + containerd): the observer image built and pushed by the
  // same path as `npm run images`, and Temporal reachable from its pods on the bridge's gateway.
  let forwarder: net.Server | undefined;
  let realNode: RealNodeInfo | null = null;
  if (kubeconfig) {
    const envFile = path.join(path.dirname(kubeconfig), 'real-node.env');
    if (!existsSync(envFile)) {
      throw new Error(
        `the cluster has no real node (${envFile} is missing): the real-node tests need one. Run \`npm run cluster:up\` without PONTOON_REAL_NODE=0 (as root: it starts containerd and a kubelet); see dev/cluster/README.md`,
      );
    }
    const env = Object.fromEntries(
      readFileSync(envFile, 'utf8')
        .split('\n')
        .filter((l) => /^[A-Z_]+=/.test(l))
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    ) as Record<string, string>;
    const crane = craneRunner(await ensureCrane(clusterLog), reg.craneEnv);
    const observer = await buildObserverImage(reg, crane, clusterLog);
    forwarder = await forward(env.REAL_NODE_GATEWAY!, port);
    const fwd = forwarder.address() as net.AddressInfo;
    realNode = {
      name: env.REAL_NODE_NAME!,
      gateway: env.REAL_NODE_GATEWAY!,
      crictl: env.CRICTL ?? '',
      containerdSock: env.CONTAINERD_SOCK!,
      observerImage: observer.reference,
      temporalFromPods: `${fwd.address}:${fwd.port}`,
    };
  }
  project.provide('realNode', realNode);
  return async () => {
    forwarder?.close();
    await server?.stop();
  };
}

const clusterLog = (line: string) => process.stderr.write(`[global-setup] ${line}\n`);

export interface RealNodeInfo {
  /** Node name (the machine's hostname). */
  name: string;
  /** The node bridge's own address: host services bound here are reachable from pods. */
  gateway: string;
  crictl: string;
  containerdSock: string;
  /** The observer image just built and pushed (repo@sha256:…). */
  observerImage: string;
  /** host:port of the Temporal dev server as pods reach it (a TCP forwarder on the gateway). */
  temporalFromPods: string;
}

/**
 * A TCP forwarder from host:0 (the real node's bridge gateway) to the dev server on 127.0.0.1:port,
 * so warm replicas' observers reach Temporal while the server itself stays on loopback.
 */
function forward(host: string, port: number): Promise<net.Server> {
  const server = net.createServer((client) => {
    const upstream = net.connect(port, '127.0.0.1');
    client.pipe(upstream).pipe(client);
    const close = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', close);
    upstream.on('error', close);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => resolve(server));
  });
}

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
    /** The cluster's real node, when the cluster runs; null otherwise. */
    realNode: RealNodeInfo | null;
  }
}
