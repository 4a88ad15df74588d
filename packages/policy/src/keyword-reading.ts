// How keyword rules read text — a policy's keywords when it compiles, the newest turn of every
// request it judges — so that what Claude reads as a keyword matches it: spelled with full-width
// forms, marks, look-alike letters or compatibility forms, or with any whitespace between its words.
// Pure, but for a bounded memo of how each symbol reads.
import { readAsDetected } from '@skillgate/masking/fold';

const KEYWORD_SPECIAL = /[.*+?^${}()|[\]\\]/g;

/**
 * Cyrillic and Greek letters that look like Latin ones, and the Latin letters they are read as (with
 * the dotless ı and ȷ): "sаlary" with a Cyrillic а is salary. Only this set; other scripts' letters,
 * and look-alikes that are no letters (digits for letters: "5alary"), read as they are. Each letter
 * comes with its other case, read as the same Latin letter in that case, so the expressions' case
 * folding (`iu`) sees the reading as it saw the letter: a Greek or Cyrillic keyword still matches its
 * own words in either case. Where the two cases look like different Latin letters (Greek Ν ν, Η η),
 * the capital decides. Compatibility variants (ϰ, ϱ, µ) reach their letter by NFKD first; the
 * Cyrillic small letters' old forms (U+1C80–1C85, which fold to в, о, с, т) are listed.
 */
const LOOKALIKES = [
  // Cyrillic: capital, small, and the Latin capital and small they read as.
  'АаAa', 'ВвBb', 'ЕеEe', 'КкKk', 'МмMm', 'НнHh', 'ОоOo', 'РрPp', 'СсCc', 'ТтTt', 'УуYy', 'ХхXx',
  'ЅѕSs', 'ІіIi', 'ЈјJj', 'ԚԛQq', 'ԜԝWw', 'ҺһHh', 'ӀӏLl', 'ԀԁDd', 'ҮүYy', 'ѴѵVv',
  // Greek, likewise.
  'ΑαAa', 'ΒβBb', 'ΕεEe', 'ΖζZz', 'ΗηHh', 'ΙιIi', 'ΚκKk', 'ΜμMm', 'ΝνNn', 'ΟοOo', 'ΡρPp', 'ΤτTt',
  'ΥυYy', 'ΧχXx', 'ϹϲCc', 'ͿϳJj',
  // One case each: old forms of Cyrillic в о с т т, and Latin letters without their dots.
  '\u1c80b', '\u1c82o', '\u1c83c', '\u1c84t', '\u1c85t', 'ıi', 'ȷj',
];
const LATIN_LOOKALIKES = new Map<string, string>(LOOKALIKES.flatMap((e): Array<[string, string]> => (e.length === 4 ? [[e[0]!, e[2]!], [e[1]!, e[3]!]] : [[e[0]!, e[1]!]])));
const LATIN_LOOKALIKE = new RegExp(`[${[...LATIN_LOOKALIKES.keys()].join('')}]`, 'gu');
const MARKS = /\p{M}+/gu;
/** A run of whitespace as Unicode defines it (spaces, tabs, line breaks, no-break spaces); split ignores the g flag. */
const WHITESPACE_RUN = /\p{White_Space}+/gu;

/**
 * How keyword rules read a text — the policy's keywords and the newest turn alike (evaluate.ts) — so
 * that what Claude reads as the keyword matches it: as masking's detectors read it (readAsDetected:
 * full-width forms as ASCII, zero-width characters as nothing), then compatibility forms as their
 * plain letters (NFKD: "ﬁ" is fi, "ⓢ" s; a sign NFKD would spell as several, "™", as a space), without combining marks ("s̲a̲l̲a̲r̲y̲" and "sálary"
 * are salary, "CREDİT" CREDIT), and with the Latin look-alikes above as Latin. Case is left to the
 * expressions' `iu` folding, the same in the prefilter and in each rule. Lengths change, so an offset
 * in the reading is no offset in the text: nothing reports one (a reason quotes the keyword read).
 * Pure; an ASCII text (most turns) is returned as masking reads it, without another pass.
 */
export function readAsKeywords(text: string): string {
  return keywordReading(readAsDetected(text));
}

/** readAsKeywords of a text already read as masking's detectors read it (readAsDetected). */
export function keywordReading(detected: string): string {
  // All ASCII iff one UTF-8 byte per code unit: Node counts them with SIMD, a third of the time a
  // /[^\x00-\x7f]/ scan takes on a turn of some KB (bench/policy/evaluate.mjs).
  if (Buffer.byteLength(detected, 'utf8') === detected.length) return detected;
  return detected.replace(SYMBOL, symbolReading).normalize('NFKD').replace(MARKS, '').replace(LATIN_LOOKALIKE, (c) => LATIN_LOOKALIKES.get(c)!);
}

/**
 * Symbols and number signs whose compatibility form is several characters ("™" TM, "⑩" 10, "½"
 * 1⁄2) read as a space: NFKD would glue them to the word before ("salary™" would read "salaryTM",
 * and no keyword would match there), while Claude reads a word and a sign. One that is one character
 * ("ⓢ" s, "①" 1) is left for NFKD. Kept per symbol (emoji are symbols too), bounded.
 */
const SYMBOL = /[\p{S}\p{No}]/gu;
const SYMBOL_READINGS_MAX = 4096;
const symbolReadings = new Map<string, string>();
function symbolReading(c: string): string {
  let reading = symbolReadings.get(c);
  if (reading === undefined) {
    reading = [...c.normalize('NFKD').replace(MARKS, '')].length > 1 ? ' ' : c;
    if (symbolReadings.size >= SYMBOL_READINGS_MAX) symbolReadings.clear();
    symbolReadings.set(c, reading);
  }
  return reading;
}

/**
 * The keywords as one alternation, each read as the turn is (readAsKeywords) and escaped; a keyword
 * of several words matches them with any run of whitespace between (Unicode White_Space: spaces,
 * tabs, line breaks, no-break spaces). A keyword that reads as nothing is left out (policyProblems
 * refuses it).
 */
export function keywordAlternation(keywords: readonly string[]): string {
  return keywords.map(keywordSource).filter((k) => k.length > 0).join('|');
}

function keywordSource(keyword: string): string {
  return keywordWords(keyword).map((w) => w.replace(KEYWORD_SPECIAL, '\\$&')).join('\\p{White_Space}+');
}

/** A keyword's words as the turn is read (none: it would match anywhere; policyProblems refuses it). */
export function keywordWords(keyword: string): string[] {
  return readAsKeywords(keyword).split(WHITESPACE_RUN).filter((w) => w.length > 0);
}

/** A keyword as a reason quotes it: as read, lower-cased, its words one space apart (not the turn's line breaks). */
export function quotedKeyword(match: string): string {
  return match.replace(WHITESPACE_RUN, ' ').toLowerCase();
}
