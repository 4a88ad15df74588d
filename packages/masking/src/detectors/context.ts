// Context words: the few characters before a candidate (never after it, see boundary.ts) that turn
// an ambiguous number or word into an entity ("SSN: 123 45 6789", "born 1990-03-04").
import { LOOKBACK } from '../boundary.js';

/** The lower-cased text in the LOOKBACK window before `start`. */
export function lookback(text: string, start: number, size = LOOKBACK): string {
  return text.slice(Math.max(0, start - size), start).toLowerCase();
}

export const CONTEXT = {
  ssn: /\b(?:ssn|ss#|social security|social sec|sozialversicherung|taxpayer|tin|itin)\b/,
  itin: /\b(?:itin|taxpayer|tax id|tin)\b/,
  aba: /\b(?:routing|aba|rtn|transit|bank)\b/,
  bankAccount: /\b(?:account|acct|a\/c|checking|savings|bank|iban|deposit)\b/,
  phone: /\b(?:phone|tel|telephone|call|mobile|cell|cellphone|fax|contact|reach|sms|text me|whatsapp|ph|mob|phone number|tel no)\b/,
  // Before groups joined by tabs, which are table cells unless the text says card (numeric.ts); "card_number" counts.
  card: /(?<![a-z])(?:cards?|card ?number|credit|debit|visa|master ?card|amex|american express|discover|cc|ccn|pan|cardholder)(?![a-z])/,
  dob: /\b(?:born|birth|dob|d\.o\.b|birthday|birthdate|date of birth|bday|age)\b/,
  eth: /\b(?:eth|ether|ethereum|wallet|address|metamask|send|usdc|usdt|erc-?20|polygon|arbitrum|crypto)\b/,
  // "v1.2.3.4", "version 1.2.3.4", "app_version=1.2.3.4", "\"version\": \"1.2.3.4\"" (a tool input read as "version: 1.2.3.4").
  version: /(?:\bv|(?<![a-z])version|\bver)["']?\s*(?:[:=]\s*["']?\s*)?$/,
} as const;
