// The finer streaming hold: inside the token run that touches the end of a growing text, from which
// position could a match of some detector still start or reach, whatever text comes next? Text
// before that position can be emitted now. Each rule below must stay conservative: returning a
// position too far right would let raw text out that whole-text masking would replace (the
// property tests in test/stream.test.ts are the guard). Returning `runStart` holds the whole run,
// which is always correct. Never decides anything from text that has not arrived.
//
// Per detector of the token family (boundary.ts), for a run text[runStart, end) still open:
//   emails, IPv6, MAC, crypto wallets, vendor secrets, JWTs, compact and dashed IBANs: their
//     matches are made only of [A-Za-z0-9._%+@:-] and the letters, digits and marks of other
//     scripts (emails), so only the trailing stretch of those characters (every non-ASCII token
//     character counts: holding more is always safe) is open; a match before it is closed by a
//     character it cannot contain, which is already here.
//   URL passwords (`scheme://user:password@host`): open from just after the run's first "://".
//   random passwords: a candidate is the whole run (apart from at most 3 trailing '.'/':'), so it is
//     open only while the run so far is password characters, or those and then only '.'/':'.
//   keyword-assigned values ("password=…"): a value runs to the end of its token run, so it is open
//     from its start when that start lies inside this run (found by the detector's own parser).
//   custom keywords: open from any position where a keyword could begin and still not be complete
//     or cross a later cut; custom regexes: the whole run (their alphabet is not analysed).
// This covers matches that text still to come could create or extend. Matches already complete in
// the text received are the stream's to check (stream-text.ts): it refuses a cut inside the run
// when the scan up to the cut finds a detection in the released part (one that more text could
// still cancel), or when a raw detection of all the text received crosses the cut.
import { assignedValueStart, assignmentKeywords } from './detectors/token.js';
import type { CompiledCustom } from './detectors/custom.js';
import { isTokenChar } from './boundary.js';

/** ASCII characters a structured token match can contain (emails, IPs, MACs, wallets, vendor keys, JWTs). */
const S = new Uint8Array(128); // ASCII only: a read past the end is undefined, not a member
for (const ch of '._%+@:-') S[ch.charCodeAt(0)] = 1;
for (let c = 48; c <= 57; c++) S[c] = 1;
for (let c = 65; c <= 90; c++) S[c] = 1;
for (let c = 97; c <= 122; c++) S[c] = 1;

/** A character a structured match may contain: S, or any token character beyond ASCII (an address in any script). */
const structured = (c: number): boolean => S[c] === 1 || (c >= 0x80 && isTokenChar(c));

/** Characters a random-password candidate may contain (as in detectors/password.ts). */
const PW = new Uint8Array(128);
for (const ch of 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%^&*+?~@_-') PW[ch.charCodeAt(0)] = 1;

/** How far before the run a keyword of an assignment can start (keyword, identifier rest, quotes, spaces, separator). */
export const ASSIGNMENT_REACH = 64;
/** How far before the run the text must be known for this analysis (the longest custom keyword). */
export const HOLD_CONTEXT = 128;

/**
 * The first position of text[runStart, text.length) that a future match could still cover, given
 * that text[runStart - 1] is not a token character and the run touches the end. text must hold at
 * least HOLD_CONTEXT characters before runStart, or start at the start of the whole text.
 */
export function tokenHoldStart(text: string, runStart: number, custom: readonly CompiledCustom[]): number {
  const end = text.length;
  let hold = end;
  // Structured token matches: the trailing stretch of their characters.
  let s = end;
  while (s > runStart && structured(text.charCodeAt(s - 1))) s--;
  hold = s;
  if (hold === runStart) return runStart;
  // A URL's password (detectors/token.ts): from just after the first "://" of the run, as long as the run is open.
  const scheme = text.indexOf('://', runStart);
  if (scheme >= 0 && scheme + 3 < hold) hold = scheme + 3;
  // Random passwords: open while the run is password characters, then at most 3 of '.' ':'.
  let e = runStart;
  while (e < end && PW[text.charCodeAt(e)]) e++;
  let p = e;
  while (p < end && p - e < 3 && (text.charCodeAt(p) === 46 || text.charCodeAt(p) === 58)) p++;
  if (p === end) return runStart;
  // Keyword-assigned values whose value starts inside the run.
  const from = Math.max(0, runStart - ASSIGNMENT_REACH);
  const kw = assignmentKeywords();
  kw.lastIndex = from;
  let m: RegExpExecArray | null;
  while ((m = kw.exec(text)) !== null) {
    // every start position, not the detector's non-overlapping sequence: a superset of its keywords
    kw.lastIndex = m.index + 1;
    const a = assignedValueStart(text, m.index + m[0].length, m[0].toLowerCase());
    if (a && a.vs >= runStart && a.vs < hold) hold = a.vs;
    if (hold === runStart) return runStart;
  }
  // Custom entities.
  let lower: string | undefined;
  const base = Math.max(0, runStart - HOLD_CONTEXT);
  for (const c of custom) {
    if (c.re) return runStart;
    for (const k of c.keywords) {
      if (k.length === 0) continue;
      if (lower === undefined) {
        const slice = text.slice(base);
        lower = slice.toLowerCase();
        if (lower.length !== slice.length) return runStart;
      }
      // An occurrence (complete or still arriving) that starts at q and reaches into the run.
      for (let q = Math.max(base, runStart - k.length + 1); q < hold; q++) {
        const n = Math.min(k.length, end - q);
        if (lower.startsWith(k.slice(0, n), q - base)) { hold = Math.max(q, runStart); break; }
      }
      if (hold === runStart) return runStart;
    }
  }
  return hold;
}
