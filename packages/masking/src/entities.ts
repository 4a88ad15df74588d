// Entity names (Presidio's where one exists, see CONTRACT.md), the shape of a detection and of a
// finding. A finding never carries the value it was made from: only type, offsets and an HMAC.

export const ENTITY_TYPES = [
  'CREDIT_CARD', 'IBAN_CODE', 'US_SSN', 'US_ITIN', 'ABA_ROUTING_NUMBER', 'US_BANK_NUMBER',
  'EMAIL_ADDRESS', 'IP_ADDRESS', 'MAC_ADDRESS', 'PHONE_NUMBER', 'DATE_OF_BIRTH', 'CRYPTO',
  'PERSON', 'LOCATION', 'SECRET',
] as const;
export type BuiltinEntityType = (typeof ENTITY_TYPES)[number];

export const SECRET_SUBTYPES = [
  'anthropic', 'openai', 'aws', 'github', 'slack', 'stripe', 'google', 'jwt', 'private_key', 'generic', 'password',
] as const;

/** A span the scanner found: offsets are UTF-16 indices into the scanned text, end exclusive. */
export interface Detection {
  type: string;
  subtype?: string;
  start: number;
  end: number;
}

/** What masking reports (and what records keep): never the value, only where and an HMAC of it. */
export interface Finding {
  type: string;
  subtype?: string;
  /** UTF-16 index into the input, inclusive. */
  start: number;
  /** UTF-16 index into the input, exclusive. */
  end: number;
  /** HMAC-SHA256(installation key, value) as hex: HMAC a known value to search records for it. */
  fingerprint: string;
  /** JSON path of the string the finding is in, for findings inside a Messages body. */
  path?: string;
}

/**
 * Which detection wins when two overlap: checksum-validated and secret formats first, then the
 * structured entities, then the dictionary-based ones. Higher wins; ties go to the longer span. An
 * IBAN outranks a card: a card can only overlap one inside its digit groups (a Luhn-valid run of
 * them, one IBAN in ten or so), and mod-97 over the whole IBAN is the stronger evidence — the card
 * winning would leave the rest of the IBAN unmasked around it.
 */
export const PRIORITY: Record<string, number> = {
  SECRET: 100, IBAN_CODE: 92, CREDIT_CARD: 90, CRYPTO: 86, EMAIL_ADDRESS: 84, US_SSN: 80, US_ITIN: 80,
  ABA_ROUTING_NUMBER: 78, MAC_ADDRESS: 76, IP_ADDRESS: 74, DATE_OF_BIRTH: 72, PHONE_NUMBER: 70,
  US_BANK_NUMBER: 68, LOCATION: 40, PERSON: 42,
};
/** Custom entities from a policy outrank the dictionary detectors but not validated formats. */
export const CUSTOM_PRIORITY = 60;
/** A random-looking token with no keyword (SECRET, subtype password) loses to every other detection. */
export const PASSWORD_PRIORITY = 10;
