/**
 * kube/client.ts makePooledApiClient against the real kube-apiserver: requests reuse kept-alive TLS
 * connections, and a burst opens at most MAX_CONNECTIONS_PER_CLIENT of them (undici alone opens
 * one per request in flight); the connections share one TLS secure context and outlive undici's
 * 4 s default idle time.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import tls from 'node:tls';
import { expect, it, vi } from 'vitest';
import { IDLE_CONNECTION_MS, MAX_CONNECTIONS_PER_CLIENT, makePooledApiClient } from '../kube/client.ts';
import { CoreV1Api } from '../kube/client-node.ts';
import { kubeConfig } from './kube-helpers.ts';

/** This process's established TCP connections to `port`, by socket inode (from /proc: its socket inodes, then the tcp tables). */
function connectionInodes(port: number): Set<string> {
  const inodes = new Set<string>();
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/self/fd/${fd}`));
      if (m) inodes.add(m[1]!);
    } catch {
      // closed meanwhile
    }
  }
  const out = new Set<string>();
  for (const table of ['/proc/self/net/tcp', '/proc/self/net/tcp6']) {
    for (const line of readFileSync(table, 'utf8').split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10) continue;
      const remotePort = Number.parseInt(f[2]!.split(':')[1]!, 16);
      if (remotePort === port && f[3] === '01' && inodes.has(f[9]!)) out.add(f[9]!);
    }
  }
  return out;
}

/** How many established connections to `port` this process has. */
const connectionsTo = (port: number) => connectionInodes(port).size;

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

it('the connections of a burst share one TLS secure context and stay open while idle', async () => {
  const kc = kubeConfig();
  const port = Number(new URL(kc.getCurrentCluster()!.server).port || 443);
  expect(new URL(kc.getCurrentCluster()!.server).protocol).toBe('https:');
  const contexts = vi.spyOn(tls, 'createSecureContext');
  try {
    // Only this test's connections count (the first test's may close meanwhile).
    const before = connectionInodes(port);
    const core = makePooledApiClient(kc, CoreV1Api);
    const results = await Promise.all(
      Array.from({ length: 40 }, () => core.listNamespacedPod({ namespace: 'kube-system', limit: 500 })),
    );
    expect(results.every((r) => Array.isArray(r.items))).toBe(true);
    const opened = [...connectionInodes(port)].filter((i) => !before.has(i));
    expect(opened.length).toBeGreaterThan(1);
    // One context for the pool, whatever the number of connections (Node builds one per connection
    // when given only the PEM options).
    expect(contexts).toHaveBeenCalledTimes(1);
    // Idle for longer than undici's default keep-alive (4 s), less than ours: all still open.
    expect(IDLE_CONNECTION_MS).toBeGreaterThan(6000);
    await new Promise((r) => setTimeout(r, 6000));
    const open = connectionInodes(port);
    expect(opened.filter((i) => !open.has(i))).toEqual([]);
    await core.listNamespace({ limit: 1 });
    expect(contexts).toHaveBeenCalledTimes(1);
  } finally {
    contexts.mockRestore();
  }
});
