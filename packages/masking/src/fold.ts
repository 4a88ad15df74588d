// How detection reads a text. Two kinds of character make a value read differently to the
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
//   prose). Removed: detection reads the text without them, and
//   `withoutVanishing` gives, for each character kept, its offset in the original, so a match is
//   mapped back to the original characters (the vanishing ones inside it included).
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
const VANISHING = new RegExp(VANISHING_CLASS);
const VANISHING_ALL = new RegExp(VANISHING_CLASS, 'g');

/** Whether `text` holds a character that detection reads as another. */
export function hasFoldable(text: string): boolean {
  return FOLDABLE.test(text);
}

/** `text` with each foldable character replaced by its ASCII reading (the same length; see above). */
export function foldForDetection(text: string): string {
  return FOLDABLE.test(text) ? text.replace(FOLDABLE_ALL, foldChar) : text;
}

/** Whether `text` holds a character that detection reads as nothing. */
export function hasVanishing(text: string): boolean {
  return VANISHING.test(text);
}

/** A character that detection reads as nothing (by UTF-16 code unit). */
export function isVanishing(c: number): boolean {
  return c === 0xad || c === 0x180e || (c >= 0x200b && c <= 0x200f) || (c >= 0x202a && c <= 0x202e)
    || (c >= 0x2060 && c <= 0x2069 && c !== 0x2065) || c === 0xfeff;
}

/**
 * `text` without its vanishing characters, and `offsets`: for each character kept, its offset in
 * `text`, then one more entry, text.length. A span [s, e) of the result is [offsets[s],
 * offsets[e - 1] + 1) of the original: the vanishing characters inside it, none after it.
 */
export function withoutVanishing(text: string): { text: string; offsets: Uint32Array } {
  const offsets = new Uint32Array(text.length + 1);
  let kept = '';
  let n = 0;
  let from = 0;
  for (let i = 0; i < text.length; i++) {
    if (!isVanishing(text.charCodeAt(i))) { offsets[n++] = i; continue; }
    kept += text.slice(from, i);
    from = i + 1;
  }
  kept += text.slice(from);
  offsets[n] = text.length;
  return { text: kept, offsets: offsets.subarray(0, n + 1) };
}

/** `text` as the detectors read it: vanishing characters removed, foldable ones folded. */
export function readAsDetected(text: string): string {
  return foldForDetection(VANISHING.test(text) ? text.replace(VANISHING_ALL, '') : text);
}

/**
 * The shortest end of `text` that holds at least `n` characters detection reads (vanishing ones
 * do not count), or all of it: context that must reach a detector's look-back whatever it carries.
 */
export function tailReading(text: string, n: number): string {
  let counted = 0;
  let i = text.length;
  while (i > 0 && counted < n) if (!isVanishing(text.charCodeAt(--i))) counted++;
  return text.slice(i);
}

function foldChar(ch: string): string {
  const c = ch.charCodeAt(0);
  if (c >= 0xff01) return String.fromCharCode(c - 0xfee0); // full-width ASCII
  if (c === 0x2010 || c === 0x2011 || c === 0x2212) return '-';
  for (const zero of DIGIT_ZEROS) if (c >= zero && c <= zero + 9) return String.fromCharCode(48 + c - zero);
  return ' '; // no-break, figure, narrow no-break and ideographic spaces
}
