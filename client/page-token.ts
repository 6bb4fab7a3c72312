/**
 * Page tokens the API hands out: Temporal's opaque next-page token plus a checksum, base64url.
 * A token that was not handed out here (cut, edited, made up) is refused at once as a bad request;
 * passed to Temporal it would be retried for seconds and end as an opaque "something went wrong".
 * The checksum finds damage, it is not a secret: the token grants nothing its bearer could not
 * list anyway.
 */
import { createHash } from 'node:crypto';

const CHECK_BYTES = 8;
/** What a page token looks like: base64url, bounded (Temporal's tokens are a few hundred bytes). */
export const PAGE_TOKEN_PATTERN = /^[A-Za-z0-9_-]{12,4096}$/;

const check = (token: Uint8Array) => createHash('sha256').update(token).digest().subarray(0, CHECK_BYTES);

/** Temporal's next-page token → the API's; null when there is no next page. */
export function encodePageToken(token: Uint8Array | null | undefined): string | null {
  if (!token?.length) return null;
  return Buffer.concat([Buffer.from(token), check(token)]).toString('base64url');
}

/** The API's page token → Temporal's; undefined when it is not one this API handed out. */
export function decodePageToken(text: string): Buffer | undefined {
  if (!PAGE_TOKEN_PATTERN.test(text)) return undefined;
  const raw = Buffer.from(text, 'base64url');
  // Only the exact text handed out: base64url's last character may carry unused bits.
  if (raw.toString('base64url') !== text) return undefined;
  if (raw.length <= CHECK_BYTES) return undefined;
  const token = raw.subarray(0, raw.length - CHECK_BYTES);
  return check(token).equals(raw.subarray(raw.length - CHECK_BYTES)) ? token : undefined;
}
