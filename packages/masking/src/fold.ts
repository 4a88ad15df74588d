// Characters that a person and Claude read as plain ASCII but the detectors would not: full-width
// forms (as CJK input methods type "４１１１" and "＠"), the no-break and fixed-width spaces that
// copied text carries between digit groups, and the Unicode hyphens and minus sign. Detection, and
// every streaming decision about where a match could start or end, reads a copy of the text in which
// each of them is replaced by its ASCII reading — one UTF-16 code unit for one, so an offset in the
// copy is the same offset in the original, and masking replaces the original characters. Pure.
//
// Not folded: characters that vanish (zero-width spaces, soft hyphens) — removing them would move
// every offset after them — and dashes that prose uses between numbers ("1990–2000").

const FOLDABLE_CLASS = '[\\u00a0\\u2007\\u2010\\u2011\\u202f\\u2212\\u3000\\uff01-\\uff5e]';
const FOLDABLE = new RegExp(FOLDABLE_CLASS);
const FOLDABLE_ALL = new RegExp(FOLDABLE_CLASS, 'g');

/** Whether `text` holds a character that detection reads as another. */
export function hasFoldable(text: string): boolean {
  return FOLDABLE.test(text);
}

/** `text` as the detectors read it: the same length, each foldable character replaced (see above). */
export function foldForDetection(text: string): string {
  return FOLDABLE.test(text) ? text.replace(FOLDABLE_ALL, foldChar) : text;
}

function foldChar(ch: string): string {
  const c = ch.charCodeAt(0);
  if (c >= 0xff01) return String.fromCharCode(c - 0xfee0); // full-width ASCII
  if (c === 0x2010 || c === 0x2011 || c === 0x2212) return '-';
  return ' '; // no-break, figure, narrow no-break and ideographic spaces
}
