// Detectors for the phrase family (boundary.ts): people, places, street addresses and dates of
// birth written with month names. A phrase run is a sequence of capitalised words, digit words and
// name particles joined by one or two of " ,."; decisions use the run and the LOOKBACK window
// before it, never the text after it. Dictionaries come from src/data (generated from faker); a name
// is also found written as the lists do not spell it (nameIn: accents, hyphens, O'…, capitals).
import type { Detection } from '../entities.js';
import { isPhraseGap, isPhraseWord, isWordChar, PARTICLES } from '../boundary.js';
import { FIRST_NAME_KEYS, SURNAME_KEYS } from '../data/names.js';
import { COUNTRIES, EXTRA_PLACES, PLACE_KEYS, STREET_SUFFIXES, US_STATES } from '../data/places.js';
import { CONTEXT, lookback } from './context.js';
import { dateExists } from './numeric.js';
import { WordList } from '../word-list.js';

let dict: {
  first: WordList; last: WordList; places: WordList; suffixes: WordList; major: WordList;
  maxPlaceWords: number;
} | undefined;

/** Capitalised words that are names in some locale but mostly ordinary words in text. */
const COMMON = new Set(('the a an i it is in on at to of and or but if as so no not we you he she they this that these those '
  + 'my our your his her their its me us them what when where who why how which there here then than also just only very '
  + 'all any some each every both few more most other such own same new old good great best first last next one two three '
  + 'monday tuesday wednesday thursday friday saturday sunday january february march april may june july august september '
  + 'october november december today tomorrow yesterday hello hi hey thanks thank please dear yes ok okay sure note warning '
  + 'error info debug true false null none let var const class function return import export from default async await '
  + 'will can could would should shall might must may mark bill grant hope faith joy art rose summer june april august jack '
  + 'frank sky storm chase dawn eve ivy lily iris violet ruby pearl amber crystal sandy rocky rusty buddy angel king queen '
  + 'prince princess baby honey love star major general judge bishop page case long young bell lane park hill wood stone '
  + 'brown white green black gray grey gold silver cook baker mason miller carter hunter fisher taylor walker price rich '
  + 'guy ray earl duke don pat sun ben dean miles wade west north south east street road avenue city state county lake '
  + 'river mountain valley island port bay beach center centre home house office building floor room hall school college '
  + 'university hospital church bank market station airport server client service system data file user admin account '
  + 'api http https json yaml html css sql aws gcp azure linux windows mac apple google amazon microsoft github docker '
  + 'kubernetes node python java rust go ruby swift kotlin react vue angular redis postgres mysql mongo kafka nginx '
  + 'step task issue bug fix feature release version update change add remove create delete get set put post patch '
  + 'summary overview details example examples result results output input total status name names type value key id '
  + 'test tests check run build deploy start stop end open close read write send receive call message email phone '
  + 'address date time day week month year morning evening night team project plan goal notes question answer '
  + 'jenkins travis hudson chef puppet heroku vercel netlify grafana kibana jira confluence slack zoom teams '
  + 'claude anthropic opus sonnet haiku here\'s there\'s it\'s i\'m i\'ve i\'ll let\'s don\'t can\'t won\'t isn\'t that\'s what\'s').split(' '));
const TITLES = new Set(['mr', 'mrs', 'ms', 'miss', 'mx', 'dr', 'prof', 'professor', 'sir', 'madam', 'dame', 'lord', 'lady', 'rev', 'fr', 'capt', 'sgt', 'lt', 'col', 'gen', 'hon', 'judge', 'officer', 'detective', 'agent', 'nurse', 'doctor', 'herr', 'frau', 'mme', 'mlle', 'sr', 'sra', 'srta']);
const PERSON_CONTEXT = /(?:\bname(?:d| is|:)|\bi am|\bi'm|\bcontact(?:ed)?|\bfrom:|\bby|\bsigned|\bregards,?|\bsincerely,?|\bcheers,?|\bthanks,?|\bdear|\bhi|\bhello|\bhey|\bpatient|\bcustomer|\bclient|\buser|\bemployee|\bowner|\bassignee|\breporter|\bapplicant|\bcandidate|\bmanager|\bengineer|\bcc:?|\bto:|\battn:?|\bwith|\bask|\basked|\bping|\bpinged|\btell|\btold|\bthank|\bloop in|\bper|\bmet|\bcalled|\bemailed|\bspoke to|\bcontact person|\bfull name|\bholder|\bcardholder|\bsubscriber|\bauthor|\bon behalf of)\s*[:,"']?\s*$/;
const LOCATION_CONTEXT = /(?:\bin|\bat|\bnear|\bfrom|\bto|\bvisit(?:ed|ing)?|\bcity of|\blives? in|\blocated in|\bbased in|\baddress:?|\bmoved to|\btravel(?:led|ing)? to|\bfly(?:ing)? to|\boffice in)\s*$/;
/** Contexts strong enough to call an unknown capitalised word a place. */
const STRONG_LOCATION_CONTEXT = /(?:\bfrom|\bcity of|\btown of|\blives? in|\bliving in|\blocated in|\bbased in|\bborn in|\bmoved to|\brelocated to|\bresides? in|\boffice in|\bvillage of)\s*$/;
const MONTHS: Record<string, number> = { january: 1, jan: 1, february: 2, feb: 2, march: 3, mar: 3, april: 4, apr: 4, may: 5, june: 6, jun: 6, july: 7, jul: 7, august: 8, aug: 8, september: 9, sep: 9, sept: 9, october: 10, oct: 10, november: 11, nov: 11, december: 12, dec: 12 };
const STATE_ABBR = new Set('AL AK AZ AR CA CO CT DE FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ NM NY NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY DC'.split(' '));

// The dictionaries are built on first use with whole-list string operations (word-list.ts) rather
// than a JavaScript callback per entry: ~30,000 calls of a small function would make it hot enough
// for TurboFan during a sidecar's first request, and that one compile leaves ~4 MB of the node
// binary's compiler pages resident in a pod that may never get busy.
const lower = (s: string) => s.toLowerCase();
const keysOf = (...lists: string[]): string => lists.join('|').replace(/[.,]/g, '').toLowerCase();

/** Whether this process has built the phrase dictionaries yet (a masker builds them when made). */
export const phraseDictionaryReady = (): boolean => dict !== undefined;

/** The phrase dictionaries (built once, on first use); exported for tests. */
export function phraseDictionary() {
  if (dict) return dict;
  // The most words in one place name (at most 5 are looked for).
  let maxPlaceWords = 1;
  for (let n = 5; n > 1; n--) {
    const words = new RegExp(`(?<=^|\\|)[^| ]*(?: [^| ]*){${n - 1}}`);
    if (PLACE_KEYS.some((part) => words.test(part))) { maxPlaceWords = n; break; }
  }
  dict = {
    first: new WordList(FIRST_NAME_KEYS, 'keys'),
    last: new WordList(SURNAME_KEYS, 'keys'),
    // A word's key is one word (no spaces), so "is this word a place" is places.has(key): no list
    // of the one-word places is kept beside it.
    places: new WordList(PLACE_KEYS, 'keys'),
    major: new WordList(keysOf(COUNTRIES, US_STATES, EXTRA_PLACES)),
    maxPlaceWords,
    suffixes: new WordList([STREET_SUFFIXES, 'St|Ave|Rd|Blvd|Ln|Dr|Ct|Pl|Pkwy|Hwy|Sq|Ter|Cir|Strasse|Straße|Rue|Calle|Via|Way|Close|Crescent|Gardens|Grove|Mews|Row|Walk|Square|Terrace|Hill|Green|Park|Place|Lane|Drive|Court|Road|Street|Avenue|Boulevard'].join('|').toLowerCase()),
  };
  return dict;
}


interface Word { s: number; e: number; text: string; key: string }

const WORD_START = /[A-Z0-9\u00C0-\u00D6\u00D8-\u00DE\u0100-\u024F]/g;

export function detectPhrases(text: string, out: Detection[]): void {
  const d = phraseDictionary();
  WORD_START.lastIndex = 0;
  let m: RegExpExecArray | null;
  while ((m = WORD_START.exec(text)) !== null) {
    const s = m.index;
    if (s > 0 && isWordChar(text.charCodeAt(s - 1))) {
      // inside a word: skip to its end
      let e = s; while (e < text.length && isWordChar(text.charCodeAt(e))) e++;
      WORD_START.lastIndex = e; continue;
    }
    let e = s; while (e < text.length && isWordChar(text.charCodeAt(e))) e++;
    if (!isPhraseWord(text, s, e)) { WORD_START.lastIndex = e; continue; }
    // Collect the run: words joined by phrase gaps.
    const words: Word[] = [{ s, e, text: text.slice(s, e), key: '' }];
    let p = e;
    for (;;) {
      let q = p;
      while (q < text.length && q - p < 3 && !isWordChar(text.charCodeAt(q))) q++;
      if (q >= text.length || !isWordChar(text.charCodeAt(q)) || !isPhraseGap(text.slice(p, q))) break;
      let qe = q; while (qe < text.length && isWordChar(text.charCodeAt(qe))) qe++;
      if (!isPhraseWord(text, q, qe)) break;
      words.push({ s: q, e: qe, text: text.slice(q, qe), key: '' });
      p = qe;
    }
    WORD_START.lastIndex = p;
    // A run of only one lower-risk word (sentence starts, acronyms) is the common case: make it cheap.
    for (const w of words) w.key = lower(stripPossessive(w.text));
    if (words.length === 1 && words[0]!.text.length <= 1) continue;
    analyseRun(text, words, d, out);
  }
}

function stripPossessive(w: string): string {
  return w.endsWith("'s") || w.endsWith('\u2019s') ? w.slice(0, -2) : w.endsWith("'") ? w.slice(0, -1) : w;
}

/** A capitalised word: "Smith", "McDonald", and with an apostrophe after the first letter "O'Brien", "D’Angelo". */
const isCap = (w: Word) => {
  const t = w.text; const c = t.charCodeAt(0);
  if (c >= 48 && c <= 57) return false;
  if (t.length === 1) return true;
  if (t[1] !== t[1]!.toUpperCase()) return true;
  return (t[1] === "'" || t[1] === '\u2019') && t.length > 3 && t[3] !== t[3]!.toUpperCase();
};
/** A word written in capitals ("JOHN", "O'BRIEN"): a name only as a known first name and surname pair. */
const isUpperWord = (w: Word) => { const t = w.text; return t.length >= 2 && !isDigitWord(w) && t === t.toUpperCase() && t !== t.toLowerCase(); };
const isDigitWord = (w: Word) => { const c = w.text.charCodeAt(0); return c >= 48 && c <= 57; };
const gapBefore = (text: string, words: Word[], i: number) => text.slice(words[i - 1]!.e, words[i]!.s);

function analyseRun(text: string, words: Word[], d: NonNullable<typeof dict>, out: Detection[]): void {
  const used = new Array<boolean>(words.length).fill(false);
  const mark = (a: number, b: number) => { for (let k = a; k <= b; k++) used[k] = true; };

  // 1. Dates of birth with month names: "March 3, 1990", "3 March 1990", "Mar 3rd 1990" after a birth word.
  for (let i = 0; i + 2 < words.length; i++) {
    const a = words[i]!; const b = words[i + 1]!; const c = words[i + 2]!;
    let y = 0; let mo = 0; let day = 0;
    if (MONTHS[a.key] && isDigitWord(b) && isDigitWord(c)) { mo = MONTHS[a.key]!; day = parseInt(b.text, 10); y = +c.text; }
    else if (isDigitWord(a) && MONTHS[b.key] && isDigitWord(c)) { day = parseInt(a.text, 10); mo = MONTHS[b.key]!; y = +c.text; }
    else continue;
    if (!/^\d{4}$/.test(c.text) || y < 1900 || y > 2030 || !dateExists(y, mo, day)) continue;
    if (!CONTEXT.dob.test(lookback(text, a.s))) continue;
    out.push({ type: 'DATE_OF_BIRTH', start: a.s, end: c.e });
    mark(i, i + 2);
    i += 2;
  }

  // 2. Street addresses: number, 1-4 capitalised words, a street suffix; then optional ", City, ST 12345".
  for (let i = 0; i < words.length; i++) {
    if (used[i] || !isDigitWord(words[i]!) || words[i]!.text.length > 6) continue;
    let j = i + 1;
    let end = -1;
    let lastName = -1;
    while (j < words.length && j - i <= 5 && !used[j]) {
      if (j > i + 1 && gapBefore(text, words, j).includes(',')) break;
      const w = words[j]!;
      if (isDigitWord(w) && !/^\d{1,3}(?:st|nd|rd|th)$/i.test(w.text)) break; // "4th Street" is fine
      if (!isCap(w) && !isDigitWord(w)) break;
      lastName = j;
      if (d.suffixes.has(w.key) && j > i + 1) { end = j; break; }
      j++;
    }
    if (end < 0 && lastName > i) {
      // No street suffix ("500 Broadway"), but a US tail follows: ", City, ST 12345".
      let k = lastName + 1; let sawState = false;
      while (k < words.length && k - lastName <= 5) {
        if (STATE_ABBR.has(words[k]!.text) && k + 1 < words.length && /^\d{5}(?:-\d{4})?$/.test(words[k + 1]!.text)) { sawState = true; break; }
        k++;
      }
      if (sawState && gapBefore(text, words, lastName + 1) === ', ') end = lastName;
    }
    if (end < 0) continue;
    let last = end;
    // ", City, ST 12345" or ", City" tail
    let k = end + 1;
    if (k < words.length && text[words[k - 1]!.e] === '.') { /* "St." */ }
    let tail = 0;
    while (k < words.length && tail < 6 && !used[k]) {
      const w = words[k]!;
      const g = gapBefore(text, words, k);
      if (g !== ' ' && g !== ', ' && !(g === '. ' && k === end + 1)) break;
      if (isDigitWord(w) && !/^\d{5}(?:-\d{4})?$/.test(w.text) && !/^\d{4}$/.test(w.text)) break;
      if (!isCap(w) && !isDigitWord(w) && !STATE_ABBR.has(w.text)) break;
      last = k; k++; tail++;
    }
    out.push({ type: 'LOCATION', start: words[i]!.s, end: words[last]!.e });
    mark(i, last);
    i = last;
  }

  // 3. Places from the gazetteer (longest match first) and people (dictionaries + context).
  for (let i = 0; i < words.length; i++) {
    if (used[i]) continue;
    const w = words[i]!;
    // places: up to maxPlaceWords words joined by single spaces
    let placeEnd = -1;
    let key = '';
    for (let j = i; j < words.length && j - i < d.maxPlaceWords && !used[j]; j++) {
      if (j > i && gapBefore(text, words, j) !== ' ') break;
      key = j === i ? words[j]!.key : `${key} ${words[j]!.key}`;
      if (d.places.has(key)) placeEnd = j;
    }
    const personStart = personAt(text, words, i, used, d);
    let personWins = !!personStart && (placeEnd < 0 || personStart.end > placeEnd);
    if (personStart && placeEnd >= 0 && !personWins) {
      // The same words are a name and a place: the context decides, then how well-known the place is.
      const ctx = lookback(text, w.s, 24);
      if (STRONG_LOCATION_CONTEXT.test(ctx) || LOCATION_CONTEXT.test(ctx)) personWins = false;
      else if (PERSON_CONTEXT.test(lookback(text, w.s))) personWins = true;
      else personWins = personStart.strong && personStart.end >= placeEnd ? true : !d.major.has(key.split(' ').slice(0, placeEnd - i + 1).join(' ')) && d.first.has(w.key);
    }
    if (personStart && personWins) {
      out.push({ type: 'PERSON', start: words[personStart.from]!.s, end: words[personStart.end]!.e });
      mark(i, personStart.end);
      i = personStart.end;
      continue;
    }
    if (placeEnd < 0 && isCap(w) && !COMMON.has(w.key) && !d.first.has(w.key) && w.text.length >= 3 && w.text !== w.text.toUpperCase()
      && STRONG_LOCATION_CONTEXT.test(lookback(text, w.s, 24))) {
      // "lives in Wojkowice", "from Tekirdağ": a place the gazetteer does not know (up to 3 words).
      let end = i;
      for (let j = i + 1; j < words.length && j - i < 3 && !used[j] && gapBefore(text, words, j) === ' ' && isCap(words[j]!) && !COMMON.has(words[j]!.key); j++) end = j;
      out.push({ type: 'LOCATION', start: w.s, end: words[end]!.e });
      mark(i, end);
      i = end;
      continue;
    }
    if (placeEnd >= 0) {
      const single = placeEnd === i;
      const ctx = lookback(text, w.s, 24);
      // A lone common word that is also a town ("Mobile", "Reading") needs a place context.
      if (!(single && COMMON.has(w.key) && !LOCATION_CONTEXT.test(ctx)) && !(single && w.text.length <= 2)) {
        let end = placeEnd;
        // "City, ST" / "City, Country"
        if (end + 1 < words.length && gapBefore(text, words, end + 1) === ', ' && (STATE_ABBR.has(words[end + 1]!.text) || d.places.has(words[end + 1]!.key))) end++;
        out.push({ type: 'LOCATION', start: w.s, end: words[end]!.e });
        mark(i, end);
        i = end;
      }
    }
  }
}

interface PersonSpan { from: number; end: number; strong: boolean }

function personAt(text: string, words: Word[], i: number, used: boolean[], d: NonNullable<typeof dict>): PersonSpan | undefined {
  const w = words[i]!;
  if (!isCap(w)) return upperCaseName(text, words, i, used, d);
  const k = w.key;
  // title + name: "Dr. Smith", "Mrs Jane Doe" (the title itself is not part of the finding)
  if (TITLES.has(k)) {
    const j = i + 1;
    if (j < words.length && !used[j] && isCap(words[j]!) && !COMMON.has(words[j]!.key) && /^\.? ?$|^ $/.test(gapBefore(text, words, j))) {
      return { from: j, end: extendName(text, words, j, used, d, true), strong: true };
    }
    return undefined;
  }
  const isFirst = nameIn(d.first, k, false);
  const isLast = nameIn(d.last, k, true);
  const common = COMMON.has(k);
  let ctxCache: string | undefined;
  let contextualCache: boolean | undefined;
  const ctxOf = () => (ctxCache ??= lookback(text, w.s));
  const isContextual = () => (contextualCache ??= PERSON_CONTEXT.test(ctxOf()));
  // next word joined by one space
  const nextName = i + 1 < words.length && !used[i + 1] && gapBefore(text, words, i + 1) === ' ' && isCap(words[i + 1]!)
    ? words[i + 1]! : undefined;
  const nextKnown = nextName && (nameIn(d.last, nextName.key, true) || nameIn(d.first, nextName.key, false)) && !COMMON.has(nextName.key);
  if (isFirst && !common) {
    const end = extendName(text, words, i, used, d, false);
    if (end > i || !isSentenceStart(text, w.s) || isContextual()) return { from: i, end, strong: end > i };
    return { from: i, end, strong: false };
  }
  if ((isFirst || isLast) && common && nextKnown) return { from: i, end: extendName(text, words, i, used, d, false), strong: true };
  if (isLast && !common && isContextual()) return { from: i, end: extendName(text, words, i, used, d, false), strong: true };
  if (!common && w.text.length > 1 && isContextual() && !d.places.has(k) && !sentenceStartAfterContext(ctxOf())) {
    // unknown capitalised word right after a person context ("Dear Xyzzy Plugh")
    if (nextName && !COMMON.has(nextName.key)) return { from: i, end: extendName(text, words, i, used, d, false), strong: true };
  }
  if (isLast && !common && nextName && !nameIn(d.first, nextName.key, false) && nameIn(d.last, nextName.key, true)) return { from: i, end: i + 1, strong: true };
  return undefined;
}

/**
 * A name written in capitals ("JOHN SMITH", "Name: MARY O'BRIEN"): a known first name and, joined by
 * one space, a known surname, or any word in capitals after a person context. Headings and acronyms
 * in capitals are common, so nothing less counts.
 */
function upperCaseName(text: string, words: Word[], i: number, used: boolean[], d: NonNullable<typeof dict>): PersonSpan | undefined {
  const w = words[i]!;
  const n = words[i + 1];
  if (!n || used[i + 1] || !isUpperWord(w) || !isUpperWord(n) || gapBefore(text, words, i + 1) !== ' ') return undefined;
  if (COMMON.has(w.key) || COMMON.has(n.key) || !nameIn(d.first, w.key, false)) return undefined;
  if (!nameIn(d.last, n.key, true) && !PERSON_CONTEXT.test(lookback(text, w.s))) return undefined;
  return { from: i, end: i + 1, strong: true };
}

const MARKS = /\p{M}/gu;
const IRISH_SURNAME = /^[od]['\u2019]\p{L}{2,}$/u;

/**
 * Whether `key` (a lower-cased word) is a name of `list`, read the ways names are written beyond the
 * list's own spelling: without accents ("seán" as "sean"), hyphenated from names of the list
 * ("mary-jane", "zeta-jones"), and for surnames with an O' or D' prefix ("o'brien", "d'angelo").
 * The readings cost nothing on plain ASCII words the list has or lacks.
 */
function nameIn(list: WordList, key: string, surname: boolean): boolean {
  if (list.has(key)) return true;
  let plain = key;
  for (let i = 0; i < key.length; i++) {
    if (key.charCodeAt(i) >= 0x80) { plain = key.normalize('NFD').replace(MARKS, ''); break; }
  }
  if (plain !== key && list.has(plain)) return true;
  if (plain.indexOf('-') > 0) {
    const parts = plain.split('-');
    if (parts.length <= 3 && parts.every((p) => p.length >= 2 && list.has(p))) return true;
  }
  return surname && IRISH_SURNAME.test(plain);
}

function sentenceStartAfterContext(ctx: string): boolean {
  return /[.!?]\s*$/.test(ctx);
}

/** Extend a name over following capitalised words, initials and particles (at most 4 words). */
function extendName(text: string, words: Word[], i: number, used: boolean[], d: NonNullable<typeof dict>, afterTitle: boolean): number {
  let end = i;
  for (let j = i + 1; j < words.length && j - i <= 3 && !used[j]; j++) {
    const gap = gapBefore(text, words, j);
    const w = words[j]!;
    const prev = words[j - 1]!;
    const initialGap = prev.text.length === 1 && (gap === '. ' || gap === '.');
    if (gap !== ' ' && !initialGap) break;
    if (PARTICLES.has(w.key)) continue;
    if (!isCap(w) || COMMON.has(w.key)) break;
    if (d.places.has(w.key) && !nameIn(d.last, w.key, true) && !nameIn(d.first, w.key, false)) break;
    end = j;
    if (afterTitle && j - i >= 2) break;
  }
  // a trailing particle is not part of the name
  while (end > i && PARTICLES.has(words[end]!.key)) end--;
  return end;
}

function isSentenceStart(text: string, s: number): boolean {
  let p = s - 1;
  while (p >= 0 && p >= s - 64 && (text[p] === ' ' || text[p] === '\t' || text[p] === '"' || text[p] === '*' || text[p] === '#' || text[p] === '>' || text[p] === '-')) p--;
  if (p < 0) return true;
  const c = text[p]!;
  return c === '.' || c === '!' || c === '?' || c === '\n' || c === ':' || c === '|';
}
