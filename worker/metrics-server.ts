/**
 * The worker's scrape endpoint: `GET /metrics` on PONTOON_METRICS_PORT (off when unset). A bare
 * node:http listener — the worker serves nothing else, so it needs no framework and no auth; bind
 * it to an address only Prometheus reaches (PONTOON_METRICS_HOST, default 127.0.0.1).
 */
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { type PontoonMetrics, renderMetrics } from '../platform/metrics.ts';

export interface MetricsServer {
  /** http://host:port */
  url: string;
  close(): Promise<void>;
}

export async function startMetricsServer(opts: {
  host: string;
  port: number;
  metrics: PontoonMetrics;
  /** More exposition text appended to ours (the Temporal SDK runtime's metrics). */
  extra?: () => Promise<string | undefined>;
}): Promise<MetricsServer> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' || path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('only GET /metrics here\n');
      return;
    }
    renderMetrics(opts.metrics, opts.extra).then(
      (text) => res.writeHead(200, { 'content-type': opts.metrics.registry.contentType }).end(text),
      (err: Error) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`${err.message}\n`),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  const { address, port } = server.address() as AddressInfo;
  const host = address.includes(':') ? `[${address}]` : address;
  return {
    url: `http://${host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** A free TCP port on 127.0.0.1 (for the Temporal runtime's own metrics listener). */
export function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}
