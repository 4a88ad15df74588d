// How detection reads a text. Five kinds of character make a value read differently to the
// detectors than to a person or Claude:
//
// - Characters read as plain ASCII: full-width forms (as CJK input methods type "４１１１" and
//   "＠"), the decimal digits of other scripts (Arabic-Indic "٤١١١", Persian, Devanagari, Thai…:
//   phone numbers and card numbers written as the text around them is), the no-break and
//   fixed-width spaces that copied text carries between digit groups, and the Unicode hyphens and
//   minus sign. Folded: each is replaced by its ASCII reading, one UTF-16 code unit for one, so an
//   offset in the folded copy is the same offset in the original.
// - Characters that vanish: Unicode's Default_Ignorable_Code_Point set (and U+FFF9–FFFB) — the
//   soft hyphen, zero-width space, non-joiner and joiner, word joiner and zero-width no-break space
//   (BOM) that web pages put inside e-mail addresses and long numbers, the invisible direction
//   marks, embeddings and isolates that right-to-left text carries around numbers, variation
//   selectors, tags, fillers. Removed.
// - Mathematical letters and digits (U+1D400–1D7FF: "𝐣𝐚𝐧𝐞", "𝟒𝟏𝟏𝟏"), which posts on sites without
//   formatting use for bold and italics: each is two UTF-16 code units, read as its one ASCII letter
//   or digit.
// Vanishing characters, mathematical letters and the `\\uXXXX` escapes read as a character (below)
// change lengths: `compactForDetection` gives the text as read and, for each character
// of it, where it starts and ends in the original, so a match is mapped back to the characters as
// written (the vanishing ones inside it included).
//
// Masking replaces the original characters; a value's fingerprint is of the value as detection
// read it (`readAsDetected`), so "jane.doe@…" finds "jane\u200b.doe＠…". Pure.
//
// - Backslash escapes: text that carries JSON as text (a tool that returns JSON.stringify(obj), a
//   log line, code) holds "\\n", "\\t", "\\u00a0"… literally, and the escape's letter would glue to
//   the value after it ("Card:\\n4111…", "KEY\\nsk-ant-…"). Detection reads an escape as what it
//   writes: "\\n \\t \\r \\" \\\\ \\b \\f" as two spaces; "\\/" (PHP's and Java's JSON write every
//   '/' so) as '/' (compacted: a base64 key with its slashes escaped is one value, not three);
//   "\\uXXXX" of a space, a control or a vanishing character as six (folded, the same length);
//   "\\uXXXX" of any other character as that character (compacted, like the mathematical letters
//   below). The reading is local — a character's reading
//   depends on at most the one before it and the five after it, never on how many backslashes came
//   before — so a window that starts anywhere reads the text as the whole text does: in a run of
//   backslashes all but the last read as spaces (an escaped backslash), and the last one as the
//   start of the escape that follows it, if any ("\\\\n" reads as three spaces: more is read as a
//   separator than JSON means, never less). A stream holds a backslash escape that may still be
//   incomplete at its end undecided (stream-text.ts), and never cuts inside one.
//
// - Percent-encoding: URLs carry values encoded ("?email=jane.doe%40example.com",
//   "card=4111%201111%201111%201111"). A "%XX" of a printable ASCII character (space to '~') reads as
//   that character (compacted, like "\\uXXXX"); other bytes (controls, UTF-8 sequences) read as they
//   are written. The reading is local too: a '%' and the two characters after it, never decoded
//   twice ("%2540" reads as "%40"). A stream holds a '%' or "%X" at its end undecided (stream-text.ts).
//
// Not folded: dashes that prose uses between numbers ("1990–2000").

// The zero of each run of ten decimal digits (Unicode Nd) in the BMP besides ASCII's and the
// full-width ones (those fold with the full-width forms).
const DIGIT_ZEROS = [
  0x0660, 0x06f0, 0x07c0, 0x0966, 0x09e6, 0x0a66, 0x0ae6, 0x0b66, 0x0be6, 0x0c66, 0x0ce6, 0x0d66, 0x0de6, 0x0e50, 0x0ed0, 0x0f20,
  0x1040, 0x1090, 0x17e0, 0x1810, 0x1946, 0x19d0, 0x1a80, 0x1a90, 0x1b50, 0x1bb0, 0x1c40, 0x1c50, 0xa620, 0xa8d0, 0xa900, 0xa9d0,
  0xa9f0, 0xaa50, 0xabf0,
];
const u = (c: number): string => `\\u${c.toString(16).padStart(4, '0')}`;
// Spaces: no-break, the fixed-width ones (en, em, thin, hair, figure…), narrow no-break, medium
// mathematical and ideographic.
const FOLDABLE_CLASS = `[\\u00a0\\u2000-\\u200a\\u2010\\u2011\\u202f\\u205f\\u2212\\u3000\\uff01-\\uff5e${DIGIT_ZEROS.map((z) => `${u(z)}-${u(z + 9)}`).join('')}]`;
/** A backslash escape, or a run of backslashes (see above: each match is read on its own, escapeReading). */
const ESCAPE = '\\\\+(?:[ntr"/bf]|u[0-9A-Fa-f]{4})?';
const FOLDABLE = new RegExp(`${FOLDABLE_CLASS}|\\\\`);
const FOLDABLE_ALL = new RegExp(`${ESCAPE}|${FOLDABLE_CLASS}`, 'g');
// Unicode's Default_Ignorable_Code_Point (DerivedCoreProperties.txt) in the BMP, and the
// interlinear annotation characters; those beyond it (tags, variation selectors supplement,
// shorthand format controls, musical formatting) are read as nothing by their surrogate pair
// (vanishingPair).
const VANISHING_CLASS = '[\\u00ad\\u034f\\u061c\\u115f\\u1160\\u17b4\\u17b5\\u180b-\\u180f\\u200b-\\u200f\\u202a-\\u202e\\u2060-\\u206f\\u3164\\ufe00-\\ufe0f\\ufeff\\uffa0\\ufff0-\\ufffb]';
/**
 * A vanishing character (isVanishing, as a class); the high surrogate of the mathematical
 * alphanumerics block, or of a vanishing pair; a "\\uXXXX" escape (of a character folding did
 * not read as a space: compacted into it); or a percent-encoded printable ASCII character ("%40").
 */
const COMPACTABLE = new RegExp(`${VANISHING_CLASS}|[\\ud835\\ud82f\\ud834\\udb40-\\udb43]|\\\\u[0-9A-Fa-f]{4}|\\\\/|%[2-7][0-9A-Fa-f]`);
const MATH_HIGH = 0xd835;

/** Whether `text` holds a character that detection reads as another. */
export function hasFoldable(text: string): boolean {
  return FOLDABLE.test(text);
}

/** `text` with each foldable character replaced by its ASCII reading (the same length; see above). */
export function foldForDetection(text: string): string {
  return FOLDABLE.test(text) ? text.replace(FOLDABLE_ALL, foldChar) : text;
}

/** A character that detection reads as nothing (by UTF-16 code unit). */
export function isVanishing(c: number): boolean {
  if (c < 0x2000) return c === 0xad || c === 0x34f || c === 0x61c || c === 0x115f || c === 0x1160 || c === 0x17b4 || c === 0x17b5 || (c >= 0x180b && c <= 0x180f);
  return (c >= 0x200b && c <= 0x200f) || (c >= 0x202a && c <= 0x202e) || (c >= 0x2060 && c <= 0x206f) || c === 0x3164
    || (c >= 0xfe00 && c <= 0xfe0f) || c === 0xfeff || c === 0xffa0 || (c >= 0xfff0 && c <= 0xfffb);
}

/**
 * Whether the surrogate pair (hi, lo) is a vanishing character beyond the BMP: tags and variation
 * selectors supplement (U+E0000–E0FFF), shorthand format controls (U+1BCA0–1BCA3), musical
 * formatting (U+1D173–1D17A).
 */
function vanishingPair(hi: number, lo: number): boolean {
  if (lo < 0xdc00 || lo > 0xdfff) return false;
  if (hi >= 0xdb40 && hi <= 0xdb43) return true;
  if (hi === 0xd82f) return lo >= 0xdca0 && lo <= 0xdca3;
  if (hi === 0xd834) return lo >= 0xdd73 && lo <= 0xdd7a;
  return false;
}

/** Whether character `c` (a code unit) written as "\\uXXXX" reads as a space: white space, a control, a vanishing character. */
function escapesSeparator(c: number): boolean {
  return c <= 0x20 || (c >= 0x7f && c <= 0xa0) || c === 0x1680 || (c >= 0x2000 && c <= 0x200a) || c === 0x2028 || c === 0x2029
    || c === 0x202f || c === 0x205f || c === 0x3000 || isVanishing(c);
}

const SPACES = ' '.repeat(64);
const spaces = (n: number): string => (n <= 64 ? SPACES.slice(0, n) : ' '.repeat(n));

/** How folding reads a backslash run and the escape after it (ESCAPE's match), the same length. */
function escapeReading(m: string): string {
  const n = m.length;
  const last = m.charCodeAt(n - 1);
  // A run with no escape after it: all but the last backslash are escaped backslashes.
  if (last === 92) return n === 1 ? m : spaces(n - 1) + '\\';
  if (n >= 6 && m.charCodeAt(n - 5) === 117 && m.charCodeAt(n - 6) === 92) {
    if (escapesSeparator(parseInt(m.slice(n - 4), 16))) return spaces(n);
    // Any other character: compacted into it (compactForDetection).
    return n === 6 ? m : spaces(n - 6) + m.slice(n - 6);
  }
  // "\\/": compacted into '/' (compactForDetection).
  if (last === 47) return n === 2 ? m : spaces(n - 2) + m.slice(n - 2);
  return spaces(n); // "\\n", "\\t"…
}

/** The character a "\\uXXXX" at text[i] writes, if there is one there (hex digits checked). */
function escapedAt(text: string, i: number): number {
  if (text.charCodeAt(i + 1) !== 117 || i + 6 > text.length) return -1;
  let v = 0;
  for (let k = i + 2; k < i + 6; k++) {
    const c = text.charCodeAt(k);
    const d = c >= 48 && c <= 57 ? c - 48 : c >= 65 && c <= 70 ? c - 55 : c >= 97 && c <= 102 ? c - 87 : -1;
    if (d < 0) return -1;
    v = v * 16 + d;
  }
  return v;
}

/** The printable ASCII character a "%XX" at text[i] encodes, if there is one there; else -1. */
function percentAt(text: string, i: number): number {
  const hi = hexValue(text.charCodeAt(i + 1));
  const lo = hexValue(text.charCodeAt(i + 2));
  if (hi < 2 || hi > 7 || lo < 0) return -1;
  const v = hi * 16 + lo;
  return v === 0x7f ? -1 : v;
}

const hexValue = (c: number): number => (c >= 48 && c <= 57 ? c - 48 : c >= 65 && c <= 70 ? c - 55 : c >= 97 && c <= 102 ? c - 87 : -1);

/** The length of a percent-encoding that `text` may end in before it is complete ("%", "%4"): its reading may still change. */
export function openPercentLength(text: string): number {
  const n = text.length;
  if (n >= 1 && text.charCodeAt(n - 1) === 37) return 1;
  if (n >= 2 && text.charCodeAt(n - 2) === 37 && hexValue(text.charCodeAt(n - 1)) >= 0) return 2;
  return 0;
}

/**
 * The length of a backslash escape that `text` may end in before it is complete (a run of
 * backslashes, "\\u", "\\u0"…): its reading, and that of the characters before it, may still change.
 */
export function openEscapeLength(text: string): number {
  let i = text.length;
  let k = 0;
  while (k < 4 && i > 0 && isHexCode(text.charCodeAt(i - 1))) { i--; k++; }
  if (i > 0 && text.charCodeAt(i - 1) === 117 && i > 1 && text.charCodeAt(i - 2) === 92) i -= 1;
  else i = text.length;
  let j = i;
  while (j > 0 && text.charCodeAt(j - 1) === 92) j--;
  if (j === i) return 0;
  // "\\u" with four hex digits is complete; a run of backslashes before it still matters only when it ends there.
  if (i < text.length && text.length - i === 5) return 0;
  return text.length - j;
}

const isHexCode = (c: number): boolean => (c >= 48 && c <= 57) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102);

/** Whether a cut before text[c] would split a backslash escape (or a run of backslashes from the escape it starts). */
export function splitsEscape(text: string, c: number): boolean {
  if (c <= 0 || c >= text.length) return false;
  if (text.charCodeAt(c - 1) === 92) return true;
  for (let j = Math.max(0, c - 5); j < c - 1; j++) if (text.charCodeAt(j) === 92 && text.charCodeAt(j + 1) === 117 && j + 6 > c) return true;
  return false;
}

/** Whether `text` holds a character that detection reads as nothing, or two code units read as one. */
export function hasCompactable(text: string): boolean {
  return COMPACTABLE.test(text);
}

const MAY_COMPACT = new RegExp(`${VANISHING_CLASS}|[\\ud835\\ud82f\\ud834\\udb40-\\udb43]|[\\\\%]`);
/**
 * Whether a stream must read `text`, and everything after it, compacted: it holds a compactable
 * character or the start of an escape that a later piece may complete (a backslash, a '%'). One
 * scan; the same answer as hasCompactable(text) or a '\\' or a '%' anywhere.
 */
export function mayCompact(text: string): boolean {
  return MAY_COMPACT.test(text);
}

/** The ASCII letter or digit a mathematical alphanumeric (U+1D400–1D7FF, by its low surrogate) reads as, if any. */
const mathReadings = new Map<number, string>();
function mathReading(low: number): string {
  let r = mathReadings.get(low);
  if (r === undefined) {
    const nfkc = String.fromCharCode(MATH_HIGH, low).normalize('NFKC');
    r = /^[A-Za-z0-9]$/.test(nfkc) ? nfkc : '';
    mathReadings.set(low, r);
  }
  return r;
}

/**
 * `text` as detection reads it when lengths change: vanishing characters removed, mathematical
 * letters and digits as ASCII. `starts[i]` and `ends[i]` are where character i of the result starts
 * and ends in `text` (`starts` has one more entry, text.length): a span [s, e) of the result is
 * [starts[s], ends[e - 1]) of the original, the vanishing characters inside it, none after it.
 */
export function compactForDetection(text: string): { text: string; starts: Uint32Array; ends: Uint32Array } {
  const starts = new Uint32Array(text.length + 1);
  const ends = new Uint32Array(text.length);
  let read = '';
  let n = 0;
  let from = 0; // start of the run of characters read as they are, not yet copied
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === MATH_HIGH && i + 1 < text.length) {
      const low = text.charCodeAt(i + 1);
      const ascii = low >= 0xdc00 && low <= 0xdfff ? mathReading(low) : '';
      if (ascii) {
        read += text.slice(from, i) + ascii;
        from = i + 2;
        starts[n] = i;
        ends[n++] = i + 2;
        i++;
        continue;
      }
    }
    if (isVanishing(c)) {
      read += text.slice(from, i);
      from = i + 1;
      continue;
    }
    if (c >= 0xd82f && c <= 0xdb43 && i + 1 < text.length && vanishingPair(c, text.charCodeAt(i + 1))) {
      read += text.slice(from, i);
      from = i + 2;
      i++;
      continue;
    }
    if (c === 37 && i + 2 < text.length) {
      const e = percentAt(text, i);
      if (e >= 0) {
        read += text.slice(from, i) + String.fromCharCode(e);
        from = i + 3;
        starts[n] = i;
        ends[n++] = i + 3;
        i += 2;
        continue;
      }
    }
    if (c === 92 && text.charCodeAt(i + 1) === 47) {
      read += text.slice(from, i) + '/';
      from = i + 2;
      starts[n] = i;
      ends[n++] = i + 2;
      i++;
      continue;
    }
    if (c === 92) {
      const e = escapedAt(text, i);
      if (e >= 0) {
        read += text.slice(from, i);
        from = i + 6;
        if (!isVanishing(e)) {
          read += String.fromCharCode(e);
          starts[n] = i;
          ends[n++] = i + 6;
        }
        i += 5;
        continue;
      }
    }
    starts[n] = i;
    ends[n++] = i + 1;
  }
  read += text.slice(from);
  starts[n] = text.length;
  return { text: read, starts: starts.subarray(0, n + 1), ends: ends.subarray(0, n) };
}

/**
 * How the detectors read `text`: `folded` (the same length), then `text` compacted from it; `at`
 * maps the compacted text back to the original (compactForDetection), absent when nothing was
 * compacted and `text` is `folded`.
 */
export function detectionReading(original: string): { folded: string; text: string; at?: { starts: Uint32Array; ends: Uint32Array } } {
  const folded = foldForDetection(original);
  if (!COMPACTABLE.test(folded)) return { folded, text: folded };
  const { text, starts, ends } = compactForDetection(folded);
  return { folded, text, at: { starts, ends } };
}

/** `text` as the detectors read it: foldable characters folded, compactable ones compacted. */
export function readAsDetected(text: string): string {
  return detectionReading(text).text;
}

/**
 * Entities people write with or without separators (a card in groups or not, an SSN with hyphens or
 * without, a phone number with parentheses, an IBAN in fours, a MAC address with colons or dashes):
 * their fingerprint is of the value without them, upper-cased, so one card has one fingerprint
 * however it was written. An email address's is of it in lower case (how mail systems treat it).
 */
const WRITTEN_WITH_SEPARATORS: ReadonlySet<string> = new Set([
  'CREDIT_CARD', 'IBAN_CODE', 'US_SSN', 'US_ITIN', 'ABA_ROUTING_NUMBER', 'US_BANK_NUMBER', 'PHONE_NUMBER', 'MAC_ADDRESS',
]);
const SEPARATORS = /[\s\-.()/:]/g;

/** The form of a detected value (as detection read it) that its fingerprint is taken of. */
export function fingerprintForm(type: string, read: string): string {
  if (WRITTEN_WITH_SEPARATORS.has(type)) return read.replace(SEPARATORS, '').toUpperCase();
  if (type === 'EMAIL_ADDRESS') return read.toLowerCase();
  return read;
}

/**
 * Every form a value someone searches for may have been fingerprinted in, whatever its type: as
 * detection reads it (other entities, and records made before the forms above), without separators,
 * in lower case. A search looks for all of them.
 */
export function searchForms(value: string): string[] {
  const read = readAsDetected(value);
  return [...new Set([read, read.replace(SEPARATORS, '').toUpperCase(), read.toLowerCase()])];
}

/**
 * The shortest end of `text` that holds at least `n` characters detection reads (vanishing ones do
 * not count, a mathematical letter counts once), or all of it: context that must reach a detector's
 * look-back whatever it carries.
 */
export function tailReading(text: string, n: number): string {
  let counted = 0;
  let i = text.length;
  while (i > 0 && counted < n) {
    const c = text.charCodeAt(--i);
    if (isVanishing(c)) continue;
    if (c >= 0xdc00 && c <= 0xdfff && i > 0) {
      const hi = text.charCodeAt(i - 1);
      if (vanishingPair(hi, c)) { i--; continue; }
      if (hi === MATH_HIGH) i--;
    }
    counted++;
  }
  return text.slice(i);
}

function foldChar(ch: string): string {
  const c = ch.charCodeAt(0);
  if (c === 92) return escapeReading(ch);
  if (c >= 0xff01) return String.fromCharCode(c - 0xfee0); // full-width ASCII
  if (c === 0x2010 || c === 0x2011 || c === 0x2212) return '-';
  for (const zero of DIGIT_ZEROS) if (c >= zero && c <= zero + 9) return String.fromCharCode(48 + c - zero);
  return ' '; // no-break, figure, narrow no-break and ideographic spaces
}
