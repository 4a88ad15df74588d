// Request ids in Anthropic's style (req_ + base62). skillgate stamps its own on gateway-made
// errors and log lines; the upstream's `request-id` header is passed through untouched.
// Random bytes come from a pool refilled 8 KB at a time: one randomFillSync per ~340 ids instead
// of one per request (each call also costs OpenSSL's fork check, a getpid syscall).
import { randomFillSync } from 'node:crypto';

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const pool = Buffer.allocUnsafe(8192);
let offset = pool.length;

export function newId(prefix: string, length = 24): string {
  if (offset + length > pool.length) {
    randomFillSync(pool);
    offset = 0;
  }
  let out = prefix;
  // 256 % 62 != 0 gives a slight bias towards the first 8 characters; ids need uniqueness, not uniformity.
  for (let i = 0; i < length; i++) out += ALPHABET[pool[offset + i]! % 62];
  offset += length;
  return out;
}

export const newRequestId = (): string => newId('req_');
