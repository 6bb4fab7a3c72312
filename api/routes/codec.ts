/**
 * The codec server: `POST /codec/encode` and `POST /codec/decode`, the remote codec protocol the
 * Temporal Web UI (`--ui-codec-endpoint`, or its "Codec Server" setting) and the `temporal` CLI
 * (`--codec-endpoint <api>/codec --codec-auth 'Bearer <key>'`) call to show and write payloads that
 * Pontoon stores encrypted (platform/payload-codec.ts).
 *
 * Protocol (Temporal's docs, "Codec Server"): the body is `{"payloads": [{"metadata": {"<key>":
 * "<base64>"}, "data": "<base64>"}]}` (the JSON form of temporal.api.common.v1.Payloads), the
 * answer the same shape with the payloads encoded or decoded, in the same order. The `X-Namespace`
 * header names the namespace the payloads come from: this API holds the keys of its own namespace
 * only and refuses another (400 validation_failed).
 *
 * Roles: decode is **viewer** (it shows what a viewer may read through the API anyway: inputs,
 * parameters, outcomes); encode is **invoker** (it is used to write inputs, e.g. starting or
 * signalling from the UI: it lets the caller make payloads the workers accept as Pontoon's own).
 * The codecs are the API's Temporal client's (the same keys the API writes with).
 *
 * CORS: a browser may call these routes only from PONTOON_CODEC_CORS_ORIGINS (the Web UI's origin;
 * api/plugins/browser-guard.ts refuses every other origin), with credentials, `Authorization`,
 * `Content-Type` and `X-Namespace`; the preflight (OPTIONS) is answered without a key, as browsers
 * send none with it.
 */
import type { Payload, PayloadCodec } from '@temporalio/common';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { PayloadDecryptError, PayloadKeyMissingError } from '../../platform/payload-codec.ts';
import { ApiError } from '../errors.ts';
import { type BrowserGuardOptions, crossOriginAllowed } from '../plugins/browser-guard.ts';
import { ROUTES } from '../route-table.ts';
import { bindRoute } from './bind.ts';

/** Where the codec routes live (the endpoint to give the UI and the CLI is `<api>/codec`). */
export const CODEC_PREFIX = '/codec/';

/**
 * Payloads per request and bytes per body: the UI decodes a page's payloads in one request; Temporal
 * caps a payload at 2 MiB, which base64 makes ~2.7 MiB.
 */
const MAX_PAYLOADS = 1000;
const MAX_BODY_BYTES = 16 * 1024 * 1024;

const base64 = z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/, 'must be base64');
const BodySchema = z.object({
  payloads: z
    .array(z.object({ metadata: z.record(z.string(), base64).optional(), data: base64.optional() }))
    .max(MAX_PAYLOADS),
});

type JsonPayload = { metadata: Record<string, string>; data: string };

function fromJson(p: z.output<typeof BodySchema>['payloads'][number]) {
  return {
    metadata: Object.fromEntries(
      Object.entries(p.metadata ?? {}).map(([k, v]) => [k, new Uint8Array(Buffer.from(v, 'base64'))]),
    ),
    data: new Uint8Array(Buffer.from(p.data ?? '', 'base64')),
  };
}

function toJson(p: { metadata?: Record<string, Uint8Array> | null; data?: Uint8Array | null }): JsonPayload {
  return {
    metadata: Object.fromEntries(
      Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v).toString('base64')]),
    ),
    data: Buffer.from(p.data ?? new Uint8Array()).toString('base64'),
  };
}

export interface CodecRouteOptions {
  /** The API client's payload codecs, applied in order on encode and in reverse on decode. */
  codecs: readonly PayloadCodec[];
  /** The namespace whose keys these are (TEMPORAL_NAMESPACE). */
  namespace: string;
  /** The browser guard's exception for these routes (the Web UI's origins). */
  crossOrigin: NonNullable<BrowserGuardOptions['crossOrigin']>;
}

/**
 * CORS headers for the allowed origins on the codec routes. Register before the auth hook, so a 401
 * or 403 is readable by the UI too.
 */
export function registerCodecCors(app: FastifyInstance, crossOrigin: CodecRouteOptions['crossOrigin']): void {
  app.addHook('onRequest', async (req, reply) => {
    if (!crossOriginAllowed(req, crossOrigin)) return;
    reply.header('access-control-allow-origin', req.headers.origin);
    reply.header('access-control-allow-credentials', 'true');
    reply.header('vary', 'Origin');
  });
}

/** The codec routes; register after the app's error handler (routes keep the handler set before them). */
export function registerCodecRoutes(app: FastifyInstance, opts: CodecRouteOptions): void {
  const preflight = async (_req: FastifyRequest, reply: FastifyReply) => {
    // Only an allowed origin got past the browser guard with an Origin header.
    reply.header('access-control-allow-methods', 'POST, OPTIONS');
    reply.header('access-control-allow-headers', 'Authorization, Content-Type, X-Namespace');
    reply.header('access-control-max-age', '600');
    reply.status(204).send();
  };

  const run = async (req: FastifyRequest, op: 'encode' | 'decode') => {
    const ns = req.headers['x-namespace'];
    if (typeof ns === 'string' && ns !== '' && ns !== opts.namespace) {
      throw new ApiError(
        'validation_failed',
        `X-Namespace is "${ns}"; this API holds the payload keys of namespace "${opts.namespace}" only`,
      );
    }
    const parsed = BodySchema.safeParse(req.body);
    if (!parsed.success) {
      throw new ApiError(
        'validation_failed',
        `the body must be {"payloads": [{"metadata": {key: base64}, "data": base64}]}: ${parsed.error.issues
          .map((i) => `${i.path.join('.')}: ${i.message}`)
          .join('; ')}`,
      );
    }
    let payloads: Payload[] = parsed.data.payloads.map(fromJson);
    try {
      if (op === 'encode') for (const c of opts.codecs) payloads = await c.encode(payloads);
      else for (const c of [...opts.codecs].reverse()) payloads = await c.decode(payloads);
    } catch (err) {
      if (err instanceof PayloadKeyMissingError || err instanceof PayloadDecryptError) {
        throw new ApiError('payload_undecodable', err.message, { keyId: (err as { keyId?: string }).keyId });
      }
      throw err;
    }
    return { payloads: payloads.map(toJson) };
  };

  for (const op of ['encode', 'decode'] as const) {
    const url = (op === 'decode' ? ROUTES.codecDecode : ROUTES.codecEncode).url;
    app.options(url, { schema: { hide: true } }, preflight);
    bindRoute(app, op === 'decode' ? ROUTES.codecDecode : ROUTES.codecEncode, async (req) => run(req, op), {
      bodyLimit: MAX_BODY_BYTES,
    });
  }
}
