// How detection reads a text. Three kinds of character make a value read differently to the
// detectors than to a person or Claude:
//
// - Characters read as plain ASCII: full-width forms (as CJK input methods type "４１１１" and
//   "＠"), the decimal digits of other scripts (Arabic-Indic "٤١١١", Persian, Devanagari, Thai…:
//   phone numbers and card numbers written as the text around them is), the no-break and
//   fixed-width spaces that copied text carries between digit groups, and the Unicode hyphens and
//   minus sign. Folded: each is replaced by its ASCII reading, one UTF-16 code unit for one, so an
//   offset in the folded copy is the same offset in the original.
// - Characters that vanish: the soft hyphen, zero-width space, non-joiner and joiner, word joiner
//   and zero-width no-break space (BOM) — which web pages put inside e-mail addresses and long
//   numbers, and which copied text keeps — and the invisible direction marks, embeddings and
//   isolates that right-to-left text carries around numbers (a phone number in Hebrew or Arabic
//   prose). Removed.
// - Mathematical letters and digits (U+1D400–1D7FF: "𝐣𝐚𝐧𝐞", "𝟒𝟏𝟏𝟏"), which posts on sites without
//   formatting use for bold and italics: each is two UTF-16 code units, read as its one ASCII letter
//   or digit.
// The last two change lengths: `compactForDetection` gives the text as read and, for each character
// of it, where it starts and ends in the original, so a match is mapped back to the characters as
// written (the vanishing ones inside it included).
//
// Masking replaces the original characters; a value's fingerprint is of the value as detection
// read it (`readAsDetected`), so "jane.doe@…" finds "jane\u200b.doe＠…". Pure.
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
const FOLDABLE_CLASS = `[\\u00a0\\u2007\\u2010\\u2011\\u202f\\u2212\\u3000\\uff01-\\uff5e${DIGIT_ZEROS.map((z) => `${u(z)}-${u(z + 9)}`).join('')}]`;
const FOLDABLE = new RegExp(FOLDABLE_CLASS);
const FOLDABLE_ALL = new RegExp(FOLDABLE_CLASS, 'g');
const VANISHING_CLASS = '[\\u00ad\\u180e\\u200b-\\u200f\\u202a-\\u202e\\u2060-\\u2064\\u2066-\\u2069\\ufeff]';
/** A vanishing character (isVanishing, as a class), or the high surrogate of the mathematical alphanumerics block. */
const COMPACTABLE = new RegExp(`${VANISHING_CLASS}|\\ud835`);
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
  return c === 0xad || c === 0x180e || (c >= 0x200b && c <= 0x200f) || (c >= 0x202a && c <= 0x202e)
    || (c >= 0x2060 && c <= 0x2069 && c !== 0x2065) || c === 0xfeff;
}

/** Whether `text` holds a character that detection reads as nothing, or two code units read as one. */
export function hasCompactable(text: string): boolean {
  return COMPACTABLE.test(text);
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
    if (c >= 0xdc00 && c <= 0xdfff && i > 0 && text.charCodeAt(i - 1) === MATH_HIGH) i--;
    counted++;
  }
  return text.slice(i);
}

function foldChar(ch: string): string {
  const c = ch.charCodeAt(0);
  if (c >= 0xff01) return String.fromCharCode(c - 0xfee0); // full-width ASCII
  if (c === 0x2010 || c === 0x2011 || c === 0x2212) return '-';
  for (const zero of DIGIT_ZEROS) if (c >= zero && c <= zero + 9) return String.fromCharCode(48 + c - zero);
  return ' '; // no-break, figure, narrow no-break and ideographic spaces
}
