/**
 * Starts the simulated cluster with up.sh (building its binaries on first use, reusing a running
 * cluster in about a second) and returns the kubeconfig path. Used by the test global setup and
 * benchmarks. Progress lines of up.sh/build.sh are passed to `log`.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { packagePath } from '../../platform/package-root.ts';

const UP_SH = packagePath('dev', 'cluster', 'up.sh');

export class ClusterUnavailableError extends Error {
  override name = 'ClusterUnavailableError';
}

export async function ensureCluster(log: (line: string) => void): Promise<string> {
  const lines: string[] = [];
  const { code, stdout } = await new Promise<{ code: number | null; stdout: string }>((resolve, reject) => {
    const child = spawn('bash', [UP_SH], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let buf = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      buf += d.toString();
      let nl = buf.indexOf('\n');
      while (nl >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        lines.push(line);
        log(line);
        nl = buf.indexOf('\n');
      }
    });
    child.once('error', reject);
    child.once('close', (c) => resolve({ code: c, stdout: out }));
  });
  const kubeconfig = stdout.trim().split('\n').pop() ?? '';
  if (code !== 0 || !kubeconfig || !existsSync(kubeconfig)) {
    throw new ClusterUnavailableError(
      [
        `the simulated Kubernetes cluster did not start (bash dev/cluster/up.sh exited ${code}).`,
        ...lines.slice(-15).map((l) => `  ${l}`),
        'Fix: run `npm run cluster:up` and follow its message (it needs go >= 1.26, openssl, curl and ss,',
        'and builds etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubectl and kwok from',
        'the Go module proxy once, about 10 minutes on 2 cores); see dev/cluster/README.md.',
      ].join('\n'),
    );
  }
  return kubeconfig;
}
