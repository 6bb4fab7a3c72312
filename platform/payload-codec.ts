/**
 * Payloads encrypted at rest: a Temporal payload codec (AES-256-GCM, node:crypto) that every client
 * and worker Pontoon creates carries in its data converter (platform/temporal.ts `dataConverterOf`).
 * It runs outside the workflow sandbox, in the connection's data converter, never in a
 * payloadConverterPath: workflow code never sees it.
 *
 * **Wire format** (the one Temporal's encryption samples use, so other tools can read it): an
 * encrypted payload has metadata `encoding: binary/encrypted` and `encryption-key-id: <id>`, and its
 * data is a 12-byte random nonce, the AES-256-GCM ciphertext of the whole original Payload (protobuf:
 * metadata and data), then the 16-byte tag.
 *
 * **Keys** (`parsePayloadKeys`): `id:base64,…` (32 bytes each) from PONTOON_PAYLOAD_KEYS and/or a
 * mounted file (PONTOON_PAYLOAD_KEYS_FILE, same entries, one per line or comma-separated, `#`
 * comments). Rotation: PONTOON_PAYLOAD_KEY_ID names the key that encrypts (default: the last one
 * listed, i.e. the newest); every listed key decrypts. A payload records its key id, so removing a
 * key makes exactly the payloads written under it unreadable (PayloadKeyMissingError names it).
 *
 * **What is left alone**: a payload that is not `binary/encrypted` decodes unchanged (histories
 * written before encryption was turned on, inputs sent by `temporal workflow start`, recorded replay
 * histories); search attributes and headers are never given to codecs by Temporal's SDKs, so they
 * stay plaintext. Without keys, encode passes payloads through and decode refuses encrypted ones
 * with an error naming the key they need.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Payload, PayloadCodec } from '@temporalio/common';
import proto from '@temporalio/proto';

// A CommonJS package: Node's ESM loader sees only its default export.
const ProtoPayload = proto.temporal.api.common.v1.Payload;

/** metadata.encoding of an encrypted payload. */
export const ENCRYPTED_ENCODING = 'binary/encrypted';
/** Metadata key naming the key that encrypted a payload. */
export const KEY_ID_METADATA = 'encryption-key-id';
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const KEY_BYTES = 32;
/** Key ids: letters, digits, `.`, `_`, `-` (they end up in payload metadata and error messages). */
const KEY_ID_RE = /^[A-Za-z0-9._-]{1,64}$/;

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder();

/** A malformed key setting (caught at start: worker/config.ts turns it into a ConfigError). */
export class PayloadKeyConfigError extends Error {
  override name = 'PayloadKeyConfigError';
}

/** An encrypted payload names a key this process does not hold. */
export class PayloadKeyMissingError extends Error {
  override name = 'PayloadKeyMissingError';
  constructor(
    /** The id recorded in the payload's metadata. */
    readonly keyId: string,
    held: readonly string[],
  ) {
    super(
      `a payload is encrypted with key "${keyId}", which this process does not hold (${
        held.length
          ? `PONTOON_PAYLOAD_KEYS has ${held.map((k) => `"${k}"`).join(', ')}`
          : 'no payload keys are set'
      }): add key "${keyId}" to PONTOON_PAYLOAD_KEYS or PONTOON_PAYLOAD_KEYS_FILE to read it`,
    );
  }
}

/** An encrypted payload whose tag does not verify with its key (tampered, or a different key under the same id). */
export class PayloadDecryptError extends Error {
  override name = 'PayloadDecryptError';
}

/** The keys a process holds, by id, and the one that encrypts. */
export interface PayloadKeys {
  /** id → 32-byte AES-256 key, in the order listed (oldest first). */
  keys: Map<string, Uint8Array>;
  /** The id new payloads are encrypted with. */
  encryptKeyId: string;
}

/** One `id:base64` entry per item of `text` (commas or newlines; `#` starts a comment). */
function parseEntries(
  text: string,
  source: string,
  into: Map<string, Uint8Array>,
  splitLines: boolean,
): void {
  const lines = splitLines ? text.split('\n') : [text];
  lines.forEach((rawLine, lineIndex) => {
    const line = rawLine.replace(/#.*$/, '');
    for (const raw of line.split(',')) {
      const item = raw.trim();
      if (!item) continue;
      const where = splitLines ? `${source} line ${lineIndex + 1}` : source;
      const colon = item.indexOf(':');
      const id = colon < 0 ? '' : item.slice(0, colon).trim();
      const b64 = colon < 0 ? '' : item.slice(colon + 1).trim();
      if (!KEY_ID_RE.test(id) || !b64) {
        throw new PayloadKeyConfigError(
          `${where}: "${colon < 0 ? '<no id>' : id}" is not id:base64-key (an id of letters, digits, . _ -, then 32 random bytes in base64, e.g. made with \`openssl rand -base64 32\`)`,
        );
      }
      if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(b64)) {
        throw new PayloadKeyConfigError(`${where}: key "${id}" is not base64`);
      }
      const key = Buffer.from(b64, b64.includes('-') || b64.includes('_') ? 'base64url' : 'base64');
      if (key.length !== KEY_BYTES) {
        throw new PayloadKeyConfigError(
          `${where}: key "${id}" is ${key.length} bytes; AES-256 needs exactly ${KEY_BYTES} (\`openssl rand -base64 32\`)`,
        );
      }
      const known = into.get(id);
      if (known && !Buffer.from(known).equals(key)) {
        throw new PayloadKeyConfigError(`${where}: key "${id}" is listed twice with different values`);
      }
      into.delete(id);
      into.set(id, new Uint8Array(key));
    }
  });
}

/**
 * The payload keys of this process from the environment: PONTOON_PAYLOAD_KEYS (`id:base64,…`),
 * PONTOON_PAYLOAD_KEYS_FILE (a mounted file, same entries), PONTOON_PAYLOAD_KEY_ID (the key that
 * encrypts; default the last one listed, the file's after the variable's). Undefined when neither
 * list is set (encryption off). Throws PayloadKeyConfigError naming the variable, file line and key.
 */
export function parsePayloadKeys(env: NodeJS.ProcessEnv = process.env): PayloadKeys | undefined {
  const keys = new Map<string, Uint8Array>();
  const inline = env.PONTOON_PAYLOAD_KEYS?.trim();
  const file = env.PONTOON_PAYLOAD_KEYS_FILE?.trim();
  if (inline) parseEntries(inline, 'PONTOON_PAYLOAD_KEYS', keys, false);
  if (file) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new PayloadKeyConfigError(
        `PONTOON_PAYLOAD_KEYS_FILE: cannot read ${file}: ${(err as Error).message}`,
      );
    }
    parseEntries(text, `PONTOON_PAYLOAD_KEYS_FILE (${file})`, keys, true);
    if (keys.size === 0) throw new PayloadKeyConfigError(`PONTOON_PAYLOAD_KEYS_FILE (${file}) lists no key`);
  }
  const chosen = env.PONTOON_PAYLOAD_KEY_ID?.trim();
  if (keys.size === 0) {
    if (chosen) {
      throw new PayloadKeyConfigError(
        `PONTOON_PAYLOAD_KEY_ID is "${chosen}" but no keys are set: set PONTOON_PAYLOAD_KEYS or PONTOON_PAYLOAD_KEYS_FILE`,
      );
    }
    return undefined;
  }
  if (chosen && !keys.has(chosen)) {
    throw new PayloadKeyConfigError(
      `PONTOON_PAYLOAD_KEY_ID is "${chosen}", which is not among the keys (${[...keys.keys()].join(', ')})`,
    );
  }
  return { keys, encryptKeyId: chosen ?? [...keys.keys()].at(-1)! };
}

/**
 * The AES-256-GCM payload codec. `encode` encrypts every payload with the encrypting key (passes
 * them through when there is none); `decode` decrypts `binary/encrypted` payloads with the key they
 * name (PayloadKeyMissingError when it is not held, PayloadDecryptError when the tag does not
 * verify) and passes every other payload through unchanged.
 */
export class AesGcmPayloadCodec implements PayloadCodec {
  private readonly keys: Map<string, Uint8Array>;
  private readonly encryptKeyId: string | undefined;

  constructor(keys?: PayloadKeys) {
    this.keys = keys?.keys ?? new Map();
    this.encryptKeyId = keys?.encryptKeyId;
  }

  /** True when payloads are encrypted (a key is configured). */
  get encrypting(): boolean {
    return this.encryptKeyId !== undefined;
  }

  async encode(payloads: Payload[]): Promise<Payload[]> {
    const id = this.encryptKeyId;
    if (id === undefined) return payloads;
    const key = this.keys.get(id)!;
    return payloads.map((p) => {
      const nonce = randomBytes(NONCE_BYTES);
      const cipher = createCipheriv('aes-256-gcm', key, nonce);
      const plain = ProtoPayload.encode(p).finish();
      const data = Buffer.concat([nonce, cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
      return {
        metadata: { encoding: utf8.encode(ENCRYPTED_ENCODING), [KEY_ID_METADATA]: utf8.encode(id) },
        data: new Uint8Array(data),
      };
    });
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((p) => {
      const encoding = p.metadata?.encoding;
      if (!encoding || fromUtf8.decode(encoding) !== ENCRYPTED_ENCODING) return p;
      const rawId = p.metadata?.[KEY_ID_METADATA];
      const id = rawId ? fromUtf8.decode(rawId) : '';
      const key = this.keys.get(id);
      if (!key) throw new PayloadKeyMissingError(id || '<none recorded>', [...this.keys.keys()]);
      const data = p.data ?? new Uint8Array();
      if (data.length < NONCE_BYTES + TAG_BYTES) {
        throw new PayloadDecryptError(
          `an encrypted payload (key "${id}") is too short to hold its nonce and tag`,
        );
      }
      const decipher = createDecipheriv('aes-256-gcm', key, data.subarray(0, NONCE_BYTES));
      decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
      let plain: Buffer;
      try {
        plain = Buffer.concat([
          decipher.update(data.subarray(NONCE_BYTES, data.length - TAG_BYTES)),
          decipher.final(),
        ]);
      } catch {
        throw new PayloadDecryptError(
          `a payload encrypted with key "${id}" does not decrypt with the key held under that id (another key with the same id, or the payload was altered)`,
        );
      }
      const decoded = ProtoPayload.decode(plain);
      return { metadata: decoded.metadata ?? {}, data: decoded.data ?? new Uint8Array() } as Payload;
    });
  }
}

/** A new random key entry for PONTOON_PAYLOAD_KEYS: `<id>:<base64 of 32 random bytes>`. */
export function newPayloadKey(id: string): string {
  if (!KEY_ID_RE.test(id))
    throw new PayloadKeyConfigError(`"${id}" is not a key id (letters, digits, . _ -)`);
  return `${id}:${randomBytes(KEY_BYTES).toString('base64')}`;
}
