// Request ids in Anthropic's style (req_ + base62). skillgate stamps its own on gateway-made
// errors and log lines; the upstream's `request-id` header is passed through untouched.
import { randomBytes } from 'node:crypto';

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

export function newId(prefix: string, length = 24): string {
  const bytes = randomBytes(length);
  let out = prefix;
  for (let i = 0; i < length; i++) out += ALPHABET[bytes[i]! % 62];
  return out;
}

export const newRequestId = (): string => newId('req_');
