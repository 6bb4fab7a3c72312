/**
 * kube/client.ts makePooledApiClient against the real kube-apiserver: requests reuse kept-alive TLS
 * connections, and a burst opens at most MAX_CONNECTIONS_PER_CLIENT of them (undici alone opens
 * one per request in flight).
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { expect, it } from 'vitest';
import { MAX_CONNECTIONS_PER_CLIENT, makePooledApiClient } from '../kube/client.ts';
import { CoreV1Api } from '../kube/client-node.ts';
import { kubeConfig } from './kube-helpers.ts';

/** This process's established TCP connections to `port` (from /proc: its socket inodes, then the tcp tables). */
function connectionsTo(port: number): number {
  const inodes = new Set<string>();
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/self/fd/${fd}`));
      if (m) inodes.add(m[1]!);
    } catch {
      // closed meanwhile
    }
  }
  let n = 0;
  for (const table of ['/proc/self/net/tcp', '/proc/self/net/tcp6']) {
    for (const line of readFileSync(table, 'utf8').split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10) continue;
      const remotePort = Number.parseInt(f[2]!.split(':')[1]!, 16);
      if (remotePort === port && f[3] === '01' && inodes.has(f[9]!)) n++;
    }
  }
  return n;
}

it('a burst of 120 requests at once opens at most MAX_CONNECTIONS_PER_CLIENT connections, and all succeed', async () => {
  const kc = kubeConfig();
  const port = Number(new URL(kc.getCurrentCluster()!.server).port || 443);
  const core = makePooledApiClient(kc, CoreV1Api);
  await core.listNamespace({ limit: 1 }); // the pool exists
  const before = connectionsTo(port);
  let peak = 0;
  const sampler = setInterval(() => {
    peak = Math.max(peak, connectionsTo(port) - before);
  }, 2);
  const results = await Promise.all(
    Array.from({ length: 120 }, () => core.listNamespacedPod({ namespace: 'kube-system', limit: 500 })),
  );
  peak = Math.max(peak, connectionsTo(port) - before);
  clearInterval(sampler);
  expect(results).toHaveLength(120);
  expect(results.every((r) => Array.isArray(r.items))).toBe(true);
  // More than one connection: the burst did run in parallel (the cap is not a single connection).
  expect(peak).toBeGreaterThan(1);
  expect(peak + 1).toBeLessThanOrEqual(MAX_CONNECTIONS_PER_CLIENT);
});
