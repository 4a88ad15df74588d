// Values inside JSON — a tool's input, the members of a request only the record masks — are
// masked as the text a person would write for them: their member's name, then the value. The tool
// input {"ssn": "536 22 8974"} is read as "ssn: 536 22 8974", so the context words that make nine
// digits an SSN, or a string a password, count as they do in prose. Only the value is masked; the
// name is context and never part of the output. Names are read as words ("date_of_birth" and
// "dateOfBirth" as "date of birth"), because the detectors' context words stand alone in prose.
// The walk of a parsed body (messages.ts) and the stream of a tool's input (JsonTextStream) both
// mask through maskInContext, so the two agree.
import type { Finding } from './entities.js';

/** How much of a member's name is context: its end ("billing_contact_phone" ends in "phone"). */
export const KEY_CONTEXT = 48;

/** Longest JSON number a stream holds to read it whole; a longer one (no value is) passes as it comes. */
export const NUMBER_MAX = 64;

/** What masking a value in context needs: the window masker (MaskerCore, a stream's masker). */
export interface ContextWindowMasker {
  maskWindow(text: string, base: number, from: number, to: number): { masked: string; findings: Finding[] };
}

/** Member names whose context keyContext keeps (bounded: at this many it starts afresh), and the longest name it keeps. */
const KEY_CONTEXTS = 4096;
const KEY_CONTEXT_NAME_MAX = 128;
const keyContexts = new Map<string, string>();

/**
 * The context a member's name gives its value: the last KEY_CONTEXT characters of the name, as
 * lower-case words, and ": ". Empty for an empty name (a value with no name: masked on its own).
 * Kept per name: a request resends the same tool inputs every turn, and two regular expressions a
 * member cost more than the memo's lookup of its value; the same name also gives the very same
 * string, whose hash the memo's exact map has already computed.
 */
export function keyContext(name: string): string {
  if (name.length > KEY_CONTEXT_NAME_MAX) return readKeyContext(name);
  let context = keyContexts.get(name);
  if (context === undefined) {
    if (keyContexts.size >= KEY_CONTEXTS) keyContexts.clear();
    keyContexts.set(name, (context = readKeyContext(name)));
  }
  return context;
}

function readKeyContext(name: string): string {
  const tail = name.length > KEY_CONTEXT ? name.slice(-KEY_CONTEXT) : name;
  const words = tail.replace(/([a-z0-9])([A-Z])/g, '$1 $2').replace(/[_\-.\s]+/g, ' ').trim().toLowerCase();
  return words === '' ? '' : `${words}: `;
}

/**
 * `text` masked as it reads after `context`: the masked text (of `text` only) and findings with
 * offsets into `text` (a finding that starts in the context starts at 0).
 */
export function maskInContext(masker: ContextWindowMasker, context: string, text: string): { masked: string; findings: Finding[] } {
  if (context === '') return masker.maskWindow(text, 0, 0, text.length);
  const whole = context + text;
  const n = context.length;
  const r = masker.maskWindow(whole, 0, n, whole.length);
  return { masked: r.masked, findings: r.findings.map((f) => ({ ...f, start: Math.max(0, f.start - n), end: f.end - n })) };
}

/** A character JSON writes numbers with (after the first, which is '-' or a digit). */
export function isNumberChar(ch: string): boolean {
  return (ch >= '0' && ch <= '9') || ch === '.' || ch === 'e' || ch === 'E' || ch === '+' || ch === '-';
}
