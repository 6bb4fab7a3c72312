/** The CLI's HTTP client for the Pontoon API (PONTOON_API, PONTOON_TOKEN). */
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
