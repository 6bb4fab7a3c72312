/**
 * What a request may hold: JSON bodies (raw text kept, for line/column errors on specs; at most
 * MAX_JSON_DEPTH deep), YAML bodies for specs, and no NUL byte anywhere in the URL.
 */
import type { FastifyInstance } from 'fastify';
import { ApiError } from '../errors.ts';

/** Deepest nesting a JSON body may have (objects and arrays); deeper ones overflow recursive code. */
const MAX_JSON_DEPTH = 64;

/** The deepest nesting of arrays and objects in JSON text (strings skipped), without parsing it. */
function jsonDepth(text: string): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92)
        i++; // backslash: skip the escaped character
      else if (c === 34) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 91 || c === 123) max = Math.max(max, ++depth);
    else if (c === 93 || c === 125) depth--;
  }
  return max;
}

/** Body parsers (JSON, YAML) and the NUL-byte check, the first onRequest hook. */
export function registerRequestParsing(app: FastifyInstance): void {
  // Bodies: JSON (raw text kept, for line/column errors on specs) and YAML for specs.
  app.removeContentTypeParser(['application/json', 'text/plain']);
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
    const text = body as string;
    req.rawBody = text;
    if (text.trim() === '') return done(null, undefined);
    if (jsonDepth(text) > MAX_JSON_DEPTH) {
      return done(
        new ApiError('bad_request', `body is nested more than ${MAX_JSON_DEPTH} levels deep`),
        undefined,
      );
    }
    try {
      done(null, JSON.parse(text));
    } catch (err) {
      done(new ApiError('bad_request', `body is not valid JSON: ${(err as Error).message}`), undefined);
    }
  });
  app.addContentTypeParser(
    ['application/yaml', 'application/x-yaml', 'text/yaml'],
    { parseAs: 'string' },
    (req, body, done) => {
      req.rawBody = body as string;
      done(null, body);
    },
  );

  // No path segment or query value may hold a NUL byte: Temporal's visibility store cannot search
  // for one (it retries, then fails) and no identifier holds one. Refused before any route runs.
  app.addHook('onRequest', async (req) => {
    if (req.url.includes('\u0000') || /%00/i.test(req.url)) {
      throw new ApiError(
        'bad_request',
        'the URL holds a NUL byte (%00), which no name, id or filter may contain',
      );
    }
  });
}
