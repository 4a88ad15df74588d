// Random passwords written with no keyword near them ("Someone committed f5Rx%9qLm2Tz in …"): a
// whole token run (boundary.ts) of 10-40 password characters, both letter cases, that looks more
// like a uniformly random string than like an identifier or a word. Hard negatives are excluded
// by construction: hex hashes and UUIDs (no upper case, or hex only), base64 blobs (longer than 40
// or with '/', '=' or '.'), order ids and versions (no lower case, or '.'), timestamps (':'),
// Luhn numbers (no letters), typed ids ("toolu_01…"), constants ("SSL_OP_NO_TLSv1"), regex
// ranges ("A-Za-z0-9_"), percent-encoding. Never decides from text after the run.
//
// The randomness test is a likelihood ratio: the bits an identifier model needs for the string
// (class transitions as in camelCase/snake_case, letters from English letter bigrams within a
// word) against log2(62) bits per character for a random alphanumeric string. Tuned on the dev
// split's secret generators and on 21,600 mixed-case identifiers from source, docs and type
// declarations (dev only: 99.3% of random passwords flagged, 0.15% of those tokens; see
// bench/masking/RESULTS.md, run 3).
import type { Detection } from '../entities.js';
import { isTokenChar } from '../boundary.js';
import { BIGRAM_BITS } from '../data/letters.js';

/** Bits per character (identifier model minus random model) above which a string counts as random. */
const THRESHOLD = 0.5;
const RANDOM_BITS = Math.log2(62);

// Class transition costs (bits) of the identifier model: rows = previous class (lower, upper,
// digit, symbol, start), columns = next class (lower, upper, digit, symbol).
const L = 0, U = 1, D = 2, S = 3, START = 4;
const TRANSITION = [
  [0.86, 0.08, 0.03, 0.03],
  [0.6, 0.3, 0.05, 0.05],
  [0.15, 0.15, 0.6, 0.1],
  [0.45, 0.35, 0.15, 0.05],
  [0.5, 0.44, 0.03, 0.03],
].map((row) => row.map((p) => -Math.log2(p)));
const DIGIT_BITS = Math.log2(10);

const classOf = (c: number) => (c >= 97 && c <= 122 ? L : c >= 65 && c <= 90 ? U : c >= 48 && c <= 57 ? D : S);

/** Bits per character by which a random string explains `t` better than an identifier does (> 0: random). */
export function randomness(t: string): number {
  let bits = 0;
  let prev = START;
  let prevLetter = 26;
  for (let i = 0; i < t.length; i++) {
    const c = t.charCodeAt(i);
    const k = classOf(c);
    bits += TRANSITION[prev]![k]!;
    if (k === L || k === U) {
      const letter = (c | 32) - 97;
      // A letter continues a word after a letter (lower after lower or after a capital, capital after capital).
      const continues = (k === L && (prev === L || prev === U)) || (k === U && prev === U);
      bits += BIGRAM_BITS[(continues ? prevLetter : 26) * 27 + letter]!;
      prevLetter = letter;
    } else {
      bits += k === D ? DIGIT_BITS : c === 45 || c === 95 ? 1.5 : 5;
      prevLetter = 26;
    }
    prev = k;
  }
  return (bits - t.length * RANDOM_BITS) / t.length;
}

/** Is `t` (a whole token) shaped like a password rather than an identifier, id, hash or encoding? */
export function looksLikePassword(t: string): boolean {
  const n = t.length;
  if (n < 10 || n > 40) return false;
  let lower = false; let upper = false; let nonHex = false; let ranges = 0; let percent = 0;
  for (let i = 0; i < n; i++) {
    const c = t.charCodeAt(i);
    const k = classOf(c);
    if (k === L) { lower = true; if (c > 102) nonHex = true; }
    else if (k === U) { upper = true; if (c > 70) nonHex = true; }
    else if (k === S && c !== 45) nonHex = true;
    // "a-z", "0-9": character ranges of a regex
    if (c === 45 && i > 0 && i + 1 < n) {
      const a = t.charCodeAt(i - 1); const b = t.charCodeAt(i + 1);
      if (classOf(a) !== S && classOf(a) === classOf(b) && a < b) ranges++;
    }
    if (c === 37 && i + 2 < n && isHexCode(t.charCodeAt(i + 1)) && isHexCode(t.charCodeAt(i + 2))) percent++;
  }
  if (!lower || !upper || !nonHex || ranges >= 2 || percent >= 2) return false;
  if (TYPED_ID.test(t) || CONSTANT.test(t)) return false;
  return randomness(t) > THRESHOLD;
}

const isHexCode = (c: number) => (c >= 48 && c <= 57) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102);
/** "toolu_01…", "msg_01…", "cus_…": a lower-case type prefix names an id, not a secret. */
const TYPED_ID = /^[a-z]{2,16}_/;
/** "SSL_OP_NO_TLSv1", "ZSTD_e_end": an upper-case constant name. */
const CONSTANT = /(?:^|_)[A-Z][A-Z0-9]{2,}_/;

/** Characters a password candidate may contain. */
const PW = new Uint8Array(128); // ASCII only: a read past the end is undefined, not a member
for (const ch of 'abcdefghijklmnopqrstuvwxyz0123456789!#$%^&*+?~@_-') PW[ch.charCodeAt(0)] = 1;
for (let c = 65; c <= 90; c++) PW[c] = 2; // upper case: a candidate needs one

export function detectPasswords(text: string, out: Detection[]): void {
  // Prose is mostly short words between spaces: only a space-free stretch of 10 or more
  // characters can hold a candidate, and indexOf finds the spaces far faster than a loop.
  const n = text.length;
  let from = 0;
  while (from < n) {
    let to = text.indexOf(' ', from);
    if (to < 0) to = n;
    if (to - from >= 10) scanStretch(text, from, to, out);
    from = to + 1;
  }
}

function scanStretch(text: string, from: number, to: number, out: Detection[]): void {
  const n = text.length;
  let i = from;
  while (i < to) {
    // Skip to the next run of password characters, then to its end.
    if (!PW[text.charCodeAt(i)]) { i++; continue; }
    const s = i;
    let upper = 0;
    for (let k; i < to && (k = PW[text.charCodeAt(i)]!) > 0; i++) upper |= k & 2;
    const e = i;
    if (upper === 0 || e - s < 10 || e - s > 48) continue;
    // The candidate is the whole token run, apart from sentence punctuation after it.
    if (s > 0 && isTokenChar(text.charCodeAt(s - 1))) continue;
    let p = e;
    while (p < n && p - e < 3 && (text.charCodeAt(p) === 46 || text.charCodeAt(p) === 58)) p++;
    if (p < n && isTokenChar(text.charCodeAt(p))) continue;
    // Markdown emphasis around it (**x**, _x_): judge the inside, mask the whole.
    let a = s; let b = e;
    while (a < b && (text.charCodeAt(a) === 42 || text.charCodeAt(a) === 95) && text.charCodeAt(b - 1) === text.charCodeAt(a)) { a++; b--; }
    if (looksLikePassword(text.slice(a, b))) out.push({ type: 'SECRET', subtype: 'password', start: s, end: e });
  }
}
