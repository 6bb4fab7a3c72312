/**
 * What keeps a web page from using the API through the developer's browser (the open dev mode of
 * `npm start` most of all: no key, 127.0.0.1). Three checks, before routing and auth:
 *
 * - **Host** names this server (127.0.0.1:<port>, localhost:<port>, [::1]:<port>, the address it
 *   listens on, or a name in PONTOON_API_ALLOWED_HOSTS), else 421 `host_not_allowed`. A page whose
 *   own name is re-pointed at 127.0.0.1 (DNS rebinding) is same-origin with the API as far as the
 *   browser knows; only the Host header still carries its name. Checked whenever the server listens
 *   on a loopback address, runs open, or has names configured; a keyed server on 0.0.0.0 behind a
 *   Service or ingress with no names configured takes any Host (a browser holds no key for it).
 * - **Origin**, when a browser sends one (every cross-origin request, every POST), is the server's
 *   own, and `Sec-Fetch-Site` is not `cross-site` or `same-site` (another port of localhost is the
 *   same site), else 403 `cross_origin_refused`. The API answers no CORS preflight, so scripts of
 *   other origins could never read an answer; this refuses their requests before they do anything.
 * - **Content type** of every POST and PUT is JSON (or YAML for a spec), or the request carries
 *   `X-Pontoon-Client` (the CLI sends it; a bodiless POST such as cancel may use either), else 415
 *   `unsupported_media_type`. A form or a no-cors fetch can send only text/plain, form types or
 *   none, and no custom header, without a preflight the API never grants. DELETE is always
 *   preflighted by browsers and always carries Origin, so the first two checks cover it.
 *
 * One exception, by configuration only: the codec server (`/codec/…`, api/routes/codec.ts) takes requests
 * from the Temporal Web UI's origins listed in PONTOON_CODEC_CORS_ORIGINS (`crossOrigin`), and
 * answers their CORS preflight; every other origin is still refused there, and everywhere else.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import ipaddr from 'ipaddr.js';
import { ApiError } from '../errors.ts';

export interface BrowserGuardOptions {
  /** Extra Host values: `name` (any port) or `name:port`, lower case (PONTOON_API_ALLOWED_HOSTS). */
  allowedHosts: readonly string[];
  /** Open mode: the Host check applies wherever the server listens. */
  open: boolean;
  /**
   * Paths under `pathPrefix` may be called from `origins` (exact `scheme://host[:port]`, lower case):
   * the codec server for the Temporal Web UI. Default: no path, no origin.
   */
  crossOrigin?: { pathPrefix: string; origins: readonly string[] };
}

/** True when `req` is a request to `crossOrigin`'s paths from one of its origins. */
export function crossOriginAllowed(
  req: FastifyRequest,
  crossOrigin: BrowserGuardOptions['crossOrigin'],
): boolean {
  const origin = req.headers.origin?.toLowerCase();
  if (!crossOrigin || !origin) return false;
  const path = req.url.split('?')[0] ?? '';
  return path.startsWith(crossOrigin.pathPrefix) && crossOrigin.origins.includes(origin);
}

const LOOPBACK_NAMES = new Set(['localhost', '127.0.0.1', '[::1]']);
const BODY_TYPES = new Set(['application/json', 'application/yaml', 'application/x-yaml', 'text/yaml']);
/** The CLI's header (cli/api-client.ts); a custom header is never sent cross-origin without a preflight. */
export const CLIENT_HEADER = 'x-pontoon-client';

/** "Host: a.example:8080" → name and port (80 when absent, as for http). */
function splitHost(host: string): { name: string; port: number } | undefined {
  const m = /^(\[[0-9a-f:.]+\]|[^:[\]]+)(?::(\d{1,5}))?$/i.exec(host.trim());
  if (!m) return undefined;
  return { name: m[1]!.toLowerCase().replace(/\.$/, ''), port: m[2] ? Number(m[2]) : 80 };
}

function isLoopback(address: string): boolean {
  try {
    return ipaddr.process(address).range() === 'loopback';
  } catch {
    return false;
  }
}

export function registerBrowserGuard(app: FastifyInstance, opts: BrowserGuardOptions): void {
  const configured = opts.allowedHosts.map((h) => h.trim().toLowerCase()).filter(Boolean);

  /** Where the server listens; undefined when it does not (app.inject() in tests). */
  const listener = (): { address: string; port: number } | undefined => {
    const a = app.server.listening ? app.server.address() : null;
    return a && typeof a === 'object' ? { address: a.address, port: a.port } : undefined;
  };

  const hostRefusal = (req: FastifyRequest): ApiError | undefined => {
    const l = listener();
    const checked = opts.open || configured.length > 0 || !l || isLoopback(l.address);
    if (!checked) return undefined;
    const raw = req.headers.host ?? '';
    const h = splitHost(raw);
    if (h) {
      if (configured.includes(h.name) || configured.includes(`${h.name}:${h.port}`)) return undefined;
      const own = l && !['0.0.0.0', '::'].includes(l.address) ? [ipaddr.parse(l.address).toString()] : [];
      const bare = h.name.replace(/^\[|\]$/g, '');
      // From the network: exactly the listener's port. Injected (app.inject() in tests, Host
      // localhost:80, never from a socket): any port of a loopback name.
      const injected = '_lightMyRequest' in req.raw;
      const portOk = !l || injected || h.port === l.port;
      if (portOk && (LOOPBACK_NAMES.has(h.name) || own.includes(bare))) return undefined;
    }
    const where = l ? `http://127.0.0.1:${l.port}` : 'http://127.0.0.1:<port>';
    return new ApiError(
      'host_not_allowed',
      `the Host header "${raw}" does not name this server; call it as ${where} (or localhost), or add the name to PONTOON_API_ALLOWED_HOSTS`,
    );
  };

  app.addHook('onRequest', async (req) => {
    const host = hostRefusal(req);
    if (host) throw host;

    const origin = req.headers.origin;
    const site = req.headers['sec-fetch-site'];
    if (crossOriginAllowed(req, opts.crossOrigin)) return;
    const own = [`http://${req.headers.host ?? ''}`, `https://${req.headers.host ?? ''}`].map((o) =>
      o.toLowerCase(),
    );
    if (
      (origin !== undefined && !own.includes(origin.toLowerCase())) ||
      site === 'cross-site' ||
      site === 'same-site'
    ) {
      throw new ApiError(
        'cross_origin_refused',
        `requests from ${origin ?? `another site (Sec-Fetch-Site: ${site})`} are refused: the API serves no other origin; call it from the CLI, a script or its own /docs page`,
      );
    }

    if (req.method === 'POST' || req.method === 'PUT' || req.method === 'PATCH') {
      const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
      if (!BODY_TYPES.has(type) && req.headers[CLIENT_HEADER] === undefined) {
        throw new ApiError(
          'unsupported_media_type',
          `${req.method} needs Content-Type: application/json (application/yaml for a spec)${type ? `, not ${type}` : ''}, even with an empty body, or an X-Pontoon-Client header: a web page cannot send either to this API`,
        );
      }
    }
  });
}
