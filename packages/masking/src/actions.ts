// What replaces a detected value: redact ([EMAIL_ADDRESS]), partial ([CREDIT_CARD ****1234]),
// hash ([EMAIL_ADDRESS:1a2b3c4d], keyed HMAC) or tokenize (<EMAIL_ADDRESS_1a2b3c4d5e6f7a8b>,
// reversible through a Vault). Replacements are a pure function of (type, value, key), so the same
// value gets the same placeholder on every turn of a conversation, with no state shared between
// requests. A placeholder's tag carries 64 bits: two values of one request (or of one batch's
// 200,000) sharing one is a chance of about 1 in 10^9; the Vault refuses, never restores the wrong
// value, if it happens all the same.
import { createHmac, createSecretKey, type KeyObject } from 'node:crypto';
import { MASKING_KEY_MIN_BYTES, type MaskingAction } from '@skillgate/api';
import { readAsDetected } from './fold.js';

export type { MaskingAction };

export class MaskingKey {
  // A KeyObject made once: building one per HMAC dominated the cost of masking dense text.
  private readonly key: KeyObject;
  constructor(key: Buffer | string) {
    const bytes = typeof key === 'string' ? Buffer.from(key, 'utf8') : Buffer.from(key);
    if (bytes.length < MASKING_KEY_MIN_BYTES) throw new Error(`masking key must be at least ${MASKING_KEY_MIN_BYTES} bytes: set SKILLGATE_MASKING_KEY to a long random value`);
    this.key = createSecretKey(bytes);
  }
  /** HMAC-SHA256(key, value) as hex: what findings carry instead of the value. */
  fingerprint(value: string): string {
    return createHmac('sha256', this.key).update(value, 'utf8').digest('hex');
  }
  /**
   * A tag of `hex` hex digits, separated by entity type so two types never share one: 8 for the hash
   * action (a pseudonym in masked text, never mapped back), TOKEN_HEX for placeholders (mapped back).
   */
  tag(type: string, value: string, hex = 8): string {
    return createHmac('sha256', this.key).update(`${type}\u0000${value}`, 'utf8').digest('hex').slice(0, hex);
  }
}

/** Hex digits of a placeholder's tag: 64 bits, so collisions stay out of reach of a batch's values. */
export const TOKEN_HEX = 16;
/** Placeholders a tokenized value becomes: <TYPE_xxxxxxxxxxxxxxxx>. */
export const PLACEHOLDER_RE = new RegExp(`<([A-Z][A-Z0-9_]{1,63})_([0-9a-f]{${TOKEN_HEX}})>`, 'g');
/** A text that may still grow into a placeholder (for the restorer's hold-back). */
export const PLACEHOLDER_PREFIX_RE = new RegExp(`^<(?:[A-Z][A-Z0-9_]{0,64}(?:_[0-9a-f]{0,${TOKEN_HEX}})?)?$`);
/** The longest a placeholder can be (for the restorer's hold-back). */
export const PLACEHOLDER_MAX = 1 + 64 + 1 + TOKEN_HEX + 1;

export function render(action: MaskingAction, type: string, subtype: string | undefined, value: string, key: MaskingKey): string {
  switch (action) {
    case 'hash': return `[${type}:${key.tag(type, value)}]`;
    case 'tokenize': return `<${type}_${key.tag(type, value, TOKEN_HEX)}>`;
    case 'partial': return partial(type, subtype, value);
    default: return `[${type}]`;
  }
}

function partial(type: string, subtype: string | undefined, value: string): string {
  const digits = value.replace(/\D/g, '');
  switch (type) {
    case 'CREDIT_CARD': case 'US_BANK_NUMBER': case 'IBAN_CODE': case 'US_SSN': case 'US_ITIN': case 'PHONE_NUMBER':
    case 'ABA_ROUTING_NUMBER': {
      const tail = type === 'IBAN_CODE' ? value.replace(/[\s-]/g, '').slice(-4) : digits.slice(-4);
      return tail.length === 4 && (digits.length >= 9 || type === 'IBAN_CODE') ? `[${type} ****${tail}]` : `[${type}]`;
    }
    case 'EMAIL_ADDRESS': {
      const at = value.lastIndexOf('@');
      return at > 0 ? `[${type} ***${value.slice(at)}]` : `[${type}]`;
    }
    case 'SECRET': {
      // the vendor prefix names the credential without disclosing it
      const m = /^(sk-ant-[a-z]+\d*-|sk-(?:proj|svcacct|admin)-|sk-|gh[pousr]_|github_pat_|xox[a-z]-|(?:sk|rk)_(?:live|test)_|AIza|AKIA|ASIA|eyJ|glpat-)/.exec(value);
      return m ? `[${type}${subtype ? `:${subtype}` : ''} ${m[1]}…]` : `[${type}${subtype ? `:${subtype}` : ''}]`;
    }
    default: return `[${type}]`;
  }
}

/**
 * Two different values of one vault got the same placeholder (their tags collide): restoring
 * either would give the skill the other's value, so the masking that met it fails instead (the
 * sidecar refuses the request, SG_MASKING_FAILED). Carries the placeholder, never the values.
 */
export class PlaceholderCollision extends Error {
  readonly code = 'SG_PLACEHOLDER_COLLISION';
  constructor(readonly placeholder: string) {
    super(`two different values would both become ${placeholder}: tokenize cannot tell them apart on the way back, so this text was not masked`);
    this.name = 'PlaceholderCollision';
  }
}

/**
 * Placeholder → value for tokenize mode. One vault per conversation (or per request: the whole
 * history is resent, so masking the request refills it). Holds raw values in memory only.
 */
export class Vault {
  private readonly map = new Map<string, string>();
  /**
   * Remember what `placeholder` stands for. The same value again (also as written another way that
   * detection reads alike, "４１１１…" for "4111…") replaces it; a different value under a placeholder
   * already taken throws PlaceholderCollision — never a silent overwrite.
   */
  set(placeholder: string, value: string): void {
    const had = this.map.get(placeholder);
    if (had !== undefined && had !== value && readAsDetected(had) !== readAsDetected(value)) throw new PlaceholderCollision(placeholder);
    this.map.set(placeholder, value);
  }
  get(placeholder: string): string | undefined { return this.map.get(placeholder); }
  get size(): number { return this.map.size; }

  /**
   * A copy to keep beyond the request that filled this vault: each value copied into a string of
   * its own (a value is a slice of the text it was found in, and V8 keeps that whole text alive for
   * a slice), with the UTF-8 bytes placeholders and values take.
   */
  detached(): { vault: Vault; bytes: number } {
    const copy = new Vault();
    let bytes = 0;
    for (const [placeholder, value] of this.map) {
      const own = Buffer.from(value, 'utf8').toString('utf8');
      copy.set(placeholder, own);
      bytes += Buffer.byteLength(placeholder) + Buffer.byteLength(own);
    }
    return { vault: copy, bytes };
  }
}
