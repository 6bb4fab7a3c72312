/** Helpers of the operability tests (metrics, notifications, traces). */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';

export interface ReceivedRequest {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/**
 * A real HTTP receiver on 127.0.0.1. `answers[path]` lists the statuses to answer in turn (the
 * last one repeats); paths not listed answer 200.
 */
export async function startReceiver(answers: Record<string, number[]> = {}) {
  const received: ReceivedRequest[] = [];
  const served: Record<string, number> = {};
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = req.url ?? '/';
      received.push({
        method: req.method ?? '',
        path,
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      });
      const list = answers[path] ?? [200];
      const n = served[path] ?? 0;
      served[path] = n + 1;
      const status = list[Math.min(n, list.length - 1)]!;
      res.writeHead(status, { 'content-type': 'text/plain' }).end(status < 300 ? 'ok' : 'nope');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    on: (path: string) => received.filter((r) => r.path === path),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** Parses Prometheus text into `name{labels}` → value, labels sorted by name. */
export function parseMetrics(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels = [...(m[3] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)]
      .map(([, k, v]) => [k!, v!] as const)
      .sort(([a], [b]) => a.localeCompare(b));
    const key = labels.length ? `${m[1]}{${labels.map(([k, v]) => `${k}="${v}"`).join(',')}}` : m[1]!;
    out.set(key, Number(m[4]));
  }
  return out;
}

/** `name{a="1",b="2"}` with labels sorted, as parseMetrics keys them. */
export function series(name: string, labels: Record<string, string> = {}): string {
  const keys = Object.keys(labels).sort();
  return keys.length ? `${name}{${keys.map((k) => `${k}="${labels[k]}"`).join(',')}}` : name;
}

export interface SpanNode {
  name: string;
  children: SpanNode[];
}

/** The tree of one trace from its root span, children sorted by start time. */
export function spanTree(spans: ReadableSpan[], root: ReadableSpan): SpanNode {
  const kids = spans
    .filter((s) => s.parentSpanId === root.spanContext().spanId)
    .sort((a, b) => a.startTime[0] - b.startTime[0] || a.startTime[1] - b.startTime[1]);
  return { name: root.name, children: kids.map((k) => spanTree(spans, k)) };
}

export function findSpan(node: SpanNode, name: string): SpanNode | undefined {
  if (node.name === name) return node;
  for (const c of node.children) {
    const f = findSpan(c, name);
    if (f) return f;
  }
  return undefined;
}
