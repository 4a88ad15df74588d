// Content codings (RFC 9110 §8.4) on the Claude API's answers. skillgate asks the upstream for
// identity encoding, but the upstream (or a proxy in front of it) decides: an answer may still come
// gzip'd. The skill gets such an answer as it was sent; these decode a copy for reading it (the
// record masks what it says). node:zlib is loaded on first use only: a sidecar whose upstream
// honours identity never pays for it.
import type { IncomingHttpHeaders } from 'node:http';
import type { Transform } from 'node:stream';
import type * as Zlib from 'node:zlib';

/** The answer's content coding, lower-cased; undefined when it has none (or says identity). */
export function contentCodingOf(headers: IncomingHttpHeaders): string | undefined {
  const raw = headers['content-encoding'];
  if (raw === undefined) return undefined;
  const coding = raw.trim().toLowerCase();
  return coding === '' || coding === 'identity' ? undefined : coding;
}

let zlib: typeof Zlib | undefined;
const loadZlib = (): typeof Zlib => (zlib ??= process.getBuiltinModule('node:zlib'));

/**
 * `body` decoded from `coding` (gzip, x-gzip, deflate, br, zstd where this Node has it), at most
 * `maxBytes` of it. Throws on a coding it does not know, several codings, a body that does not
 * decode, or one that decodes to more than `maxBytes`.
 */
export function decodeBody(body: Buffer, coding: string, maxBytes: number): Buffer {
  const z = loadZlib();
  const opts = { maxOutputLength: maxBytes };
  switch (coding) {
    case 'gzip':
    case 'x-gzip':
      return z.gunzipSync(body, opts);
    case 'deflate':
      // "deflate" is zlib-wrapped by the standard; some servers send it raw.
      try {
        return z.inflateSync(body, opts);
      } catch {
        return z.inflateRawSync(body, opts);
      }
    case 'br':
      return z.brotliDecompressSync(body, opts);
    case 'zstd':
      if (typeof z.zstdDecompressSync === 'function') return z.zstdDecompressSync(body, opts);
      break;
  }
  throw new Error(`content coding ${JSON.stringify(coding)} is not one skillgate can decode`);
}

/** A stream decoding `coding` (as decodeBody), or undefined for a coding it does not know. */
export function bodyDecoder(coding: string): Transform | undefined {
  const z = loadZlib();
  switch (coding) {
    case 'gzip':
    case 'x-gzip':
      return z.createGunzip();
    case 'deflate':
      return z.createInflate();
    case 'br':
      return z.createBrotliDecompress();
    case 'zstd':
      return typeof z.createZstdDecompress === 'function' ? z.createZstdDecompress() : undefined;
    default:
      return undefined;
  }
}
