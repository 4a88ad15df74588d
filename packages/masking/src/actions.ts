// What replaces a detected value: redact ([EMAIL_ADDRESS]), partial ([CREDIT_CARD ****1234]),
// hash ([EMAIL_ADDRESS:1a2b3c4d], keyed HMAC) or tokenize (<EMAIL_ADDRESS_1a2b3c4d>, reversible
// through a Vault). Replacements are a pure function of (type, value, key), so the same value gets
// the same placeholder on every turn of a conversation, with no state shared between requests.
import { createHmac, createSecretKey, type KeyObject } from 'node:crypto';
import { MASKING_KEY_MIN_BYTES, type MaskingAction } from '@skillgate/api';

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
  /** A short tag for placeholders, separated by entity type so two types never share one. */
  tag(type: string, value: string): string {
    return createHmac('sha256', this.key).update(`${type}\u0000${value}`, 'utf8').digest('hex').slice(0, 8);
  }
}

/** Placeholders a tokenized value becomes: <TYPE_xxxxxxxx>. */
export const PLACEHOLDER_RE = /<([A-Z][A-Z0-9_]{1,63})_([0-9a-f]{8})>/g;
/** The longest a placeholder can be (for the restorer's hold-back). */
export const PLACEHOLDER_MAX = 1 + 64 + 1 + 8 + 1;

export function render(action: MaskingAction, type: string, subtype: string | undefined, value: string, key: MaskingKey): string {
  switch (action) {
    case 'hash': return `[${type}:${key.tag(type, value)}]`;
    case 'tokenize': return `<${type}_${key.tag(type, value)}>`;
    case 'partial': return partial(type, subtype, value);
    default: return `[${type}]`;
  }
}

function partial(type: string, subtype: string | undefined, value: string): string {
  const digits = value.replace(/\D/g, '');
  switch (type) {
    case 'CREDIT_CARD': case 'US_BANK_NUMBER': case 'IBAN_CODE': case 'US_SSN': case 'US_ITIN': case 'PHONE_NUMBER':
    case 'ABA_ROUTING_NUMBER': {
      const tail = type === 'IBAN_CODE' ? value.replace(/\s/g, '').slice(-4) : digits.slice(-4);
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
 * Placeholder → value for tokenize mode. One vault per conversation (or per request: the whole
 * history is resent, so masking the request refills it). Holds raw values in memory only.
 */
export class Vault {
  private readonly map = new Map<string, string>();
  set(placeholder: string, value: string): void { this.map.set(placeholder, value); }
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
