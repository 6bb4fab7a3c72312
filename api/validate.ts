/** Checks of request parts shared by the route files; each failure is an ApiError (api/errors.ts). */
import type { z } from 'zod';
import { BadPageTokenError } from '../client/executions.ts';
import { decodePageToken } from '../client/page-token.ts';
import { isFunctionName, MAX_FUNCTION_NAME } from '../core/names.ts';
import { ApiError } from './errors.ts';

/**
 * `data` checked against `schema` (no data is `{}`), or a 400: `validation_failed` for a body,
 * `bad_request` for a query or header, with one `{field, message}` per problem (`where.path`).
 */
export function check<T extends z.ZodType>(schema: T, data: unknown, where: string): z.output<T> {
  // No body is an empty one; a JSON `null` body is not an object and is refused.
  const r = schema.safeParse(data === undefined ? {} : data);
  if (r.success) return r.data;
  const details = r.error.issues.map((i) => ({
    field: [where, ...i.path.map(String)].join('.'),
    message: i.message,
  }));
  throw new ApiError(
    where === 'body' ? 'validation_failed' : 'bad_request',
    `invalid ${where}: ${details.map((d) => `${d.field}: ${d.message}`).join('; ')}`,
    details,
  );
}

/** Temporal's token behind a page token of this API, or a 400 at once. */
export function pageTokenOf(text: string): Buffer {
  const token = decodePageToken(text);
  if (!token)
    throw new ApiError('bad_request', new BadPageTokenError().message, [
      { field: 'query.pageToken', message: 'not a token a previous page returned' },
    ]);
  return token;
}

/** A function name from a path, or a 400 bad_request. */
export function requireName(name: string): string {
  if (!isFunctionName(name)) {
    throw new ApiError(
      'bad_request',
      `"${name}" is not a function name (DNS-1123 label, at most ${MAX_FUNCTION_NAME} characters)`,
    );
  }
  return name;
}
