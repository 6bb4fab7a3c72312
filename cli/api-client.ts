/**
 * The CLI's HTTP client for the Pontoon API (PONTOON_API, PONTOON_TOKEN). Commands call routes of
 * the API's route table by id (`client.route('getExecution', { id }).json<…>()`), never a URL
 * string: the table (api/route-table.ts, zod-free) gives the method and path, the request shapes
 * (api/schemas.ts, imported for their types only) the query keys and bodies.
 */
import type { z } from 'zod';
import {
  type PathParamNames,
  type PathParams,
  ROUTES,
  type RouteDef,
  type RouteId,
  routePath,
} from '../api/route-table.ts';
import type { ROUTE_SCHEMAS } from '../api/schemas.ts';

export class UnreachableError extends Error {
  override name = 'UnreachableError';
}

/** An error answer of the API: `{code, message, details}` with its HTTP status. */
export class ApiCallError extends Error {
  override name = 'ApiCallError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }

  /** What to do about it, said by the command that made the call (cli/main.ts prints it last). */
  hint?: string;
}

export interface ApiClientOptions {
  baseUrl: string;
  token?: string;
}

export function apiFromEnv(env: NodeJS.ProcessEnv = process.env): ApiClientOptions {
  return {
    baseUrl: (env.PONTOON_API ?? 'http://127.0.0.1:8080').replace(/\/+$/, ''),
    token: env.PONTOON_TOKEN || undefined,
  };
}

export class ApiClient {
  constructor(readonly options: ApiClientOptions) {}

  /** A call of route `id` (api/route-table.ts), its path parameters filled in (URI-encoded). */
  route<K extends RouteId>(id: K, ...params: ParamArgs<K>): RouteCall<K> {
    const route: RouteDef = ROUTES[id];
    return new RouteCall<K>(this, route.method, routePath(route, (params[0] ?? {}) as never));
  }

  async raw(
    method: string,
    path: string,
    opts: { body?: string; contentType?: string; query?: Record<string, string | number | undefined> } = {},
  ): Promise<Response> {
    const url = new URL(this.options.baseUrl + path);
    for (const [k, v] of Object.entries(opts.query ?? {}))
      if (v !== undefined) url.searchParams.set(k, String(v));
    const headers: Record<string, string> = { 'x-pontoon-client': 'cli' };
    if (this.options.token) headers.authorization = `Bearer ${this.options.token}`;
    if (opts.body !== undefined) headers['content-type'] = opts.contentType ?? 'application/json';
    let res: Response;
    try {
      res = await fetch(url, { method, headers, ...(opts.body !== undefined ? { body: opts.body } : {}) });
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      throw new UnreachableError(
        `cannot reach the Pontoon API at ${this.options.baseUrl}: ${cause?.code ?? cause?.message ?? (err as Error).message}`,
      );
    }
    if (res.status >= 400) {
      const text = await res.text();
      let body: { code?: string; message?: string; details?: unknown } = {};
      try {
        body = JSON.parse(text);
      } catch {
        body = { message: text };
      }
      if (res.status === 503) throw new UnreachableError(body.message ?? 'the API cannot reach Temporal');
      throw new ApiCallError(
        res.status,
        body.code ?? `http_${res.status}`,
        body.message ?? res.statusText,
        body.details,
      );
    }
    return res;
  }

  async json<T>(
    method: string,
    path: string,
    opts: {
      body?: unknown;
      rawBody?: string;
      contentType?: string;
      query?: Record<string, string | number | undefined>;
    } = {},
  ): Promise<T> {
    const body = opts.rawBody ?? (opts.body !== undefined ? JSON.stringify(opts.body) : undefined);
    const res = await this.raw(method, path, {
      ...(body !== undefined ? { body } : {}),
      contentType: opts.contentType,
      query: opts.query,
    });
    return (await res.json()) as T;
  }
}

/** The query parameters a route takes (the keys of its query shape, api/schemas.ts). */
type QueryOf<K extends RouteId> = K extends keyof typeof ROUTE_SCHEMAS
  ? (typeof ROUTE_SCHEMAS)[K] extends { query: infer Q extends z.ZodType }
    ? { [P in keyof z.input<Q>]?: string | number | undefined }
    : never
  : never;

/** The JSON body a route takes (its body shape, api/schemas.ts); a spec for PUT /v1/functions/{name}. */
type BodyOf<K extends RouteId> = K extends keyof typeof ROUTE_SCHEMAS
  ? (typeof ROUTE_SCHEMAS)[K] extends { body: infer B extends z.ZodType }
    ? z.input<B>
    : unknown
  : never;

/** What one call sends besides its path: query, and a JSON body (or raw text with its content type). */
export interface CallOptions<K extends RouteId> {
  query?: QueryOf<K>;
  body?: BodyOf<K>;
  rawBody?: string;
  contentType?: string;
}

/** The path parameters of a route as arguments: none, or one object of them. */
type ParamArgs<K extends RouteId> = [PathParamNames<(typeof ROUTES)[K]['url']>] extends [never]
  ? []
  : [params: PathParams<(typeof ROUTES)[K]['url']>];

/** A call of one route of the table: its method, and its path with the parameters filled in. */
export class RouteCall<K extends RouteId> {
  constructor(
    private readonly client: ApiClient,
    readonly method: string,
    readonly path: string,
  ) {}

  /** The JSON answer (a 4xx is an ApiCallError, a 503 or no answer an UnreachableError). */
  json<T>(opts: CallOptions<K> = {}): Promise<T> {
    return this.client.json<T>(this.method, this.path, opts as Parameters<ApiClient['json']>[2]);
  }

  /** The answer itself (text, streams), after the same error handling. */
  raw(opts: Pick<CallOptions<K>, 'query'> = {}): Promise<Response> {
    return this.client.raw(this.method, this.path, opts as Parameters<ApiClient['raw']>[2]);
  }
}
