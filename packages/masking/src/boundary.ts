// Where a text may be cut without splitting anything a detector could match. The streaming masker
// emits only up to such a cut, so what it emits equals masking the whole text at once.
//
// Every built-in detector matches inside one *run* of one family below and decides from the run and
// at most LOOKBACK characters before it, never from text after the run. A position is a safe cut
// when no family's run spans it; at the end of the text (more may come) a run that touches the end
// is treated as open. Changing a detector so that it matches across these families breaks the
// streaming invariant: the property tests in test/stream.test.ts are the guard.
//
//   token   runs of non-separator characters (emails, secrets, IPv6, MAC, crypto, JWT, custom regexes)
//   numeric a digit, '+' or '(' and then digits, spaces, tabs and + ( ) - . /  (cards, phones, SSN, dates, IPv4)
//   spaced  an upper-case letter and then A-Z, 0-9 and spaces (IBANs written in groups of four)
//   phrase  capitalised words, digit words and name particles joined by one or two of " ,."
//           (people, places, street addresses, dates with month names)
//   word    letters, digits, apostrophes and hyphens (so no cut lands inside a word)
// PEM blocks and multi-word custom keywords are tracked by the stream itself (stream-text.ts).
//
// Why a stream cannot release the last word of a delta (the hold is minimal for prose): let the
// text so far end in a run r of email local-part characters [A-Za-z0-9._%+-] (r at most 64 long,
// not starting with '.', no "..", the character before it not one of them). The next delta may be
// "@example.com" (or "x@example.com" when r ends in '.'), and then r is the start of an email that
// whole-text masking replaces; any character of r already sent raw would break the invariant. So
// r must be held, whatever the detector could tell about r alone. Claude's text deltas end in such
// a run almost always (tokens are " word"); the benchmark measures the hold against this floor
// (bench/masking/RESULTS.md: equal on Claude-like prose, every character released by the next
// delta). A delta that ends in a token-run character outside that class ("safely:**") is released
// by the finer per-detector hold in hold.ts, as far as no detector could still extend the run
// ("there!" stays held: it could be the start of a random password).

/** Characters of context a detector may look at before its match (keywords like "SSN:"). */
export const LOOKBACK = 64;

// Character classes by UTF-16 code unit. A table ends after its last member: a read past its end is
// undefined, which every test below takes as "not a member" (falsy, and never > 0). Only the token
// class has members everywhere; each 64 K table costs 64 KB in every sidecar.
const T = new Uint8Array(65536);  // token class
const N = new Uint8Array(128);    // numeric class: 1 = member, 2 = member and starter
const A = new Uint8Array(128);    // spaced class: 1 = member, 2 = member and starter
const W = new Uint8Array(0x201a); // word class (through U+2019 ’): 1 = member, 2 = starts a phrase word (upper case or digit)

// Ranges are filled (a builtin), not looped over: a 65,536-iteration loop in a module's top level
// gets it compiled by TurboFan while the sidecar starts, which pages ~5 MB of the compiler's own
// code into every sidecar's resident memory (BENCHMARKS.md, RSS idle).
T.fill(1, 33);
for (const ch of ' "\'`()<>[]{},;|\u00a0\u1680\u2028\u2029\u202f\u205f\u3000\ufeff\u201c\u201d\u2018\u2019\u00ab\u00bb\u2026\u2014\u2013') T[ch.charCodeAt(0)] = 0;
T.fill(0, 0x2000, 0x200c);
T[0x7f] = 0;
T.fill(0, 0x80, 0xa0);

for (const ch of ' \t+()-./') N[ch.charCodeAt(0)] = 1;
for (let c = 48; c <= 57; c++) N[c] = 2;
N[43] = 2; N[40] = 2; // '+' and '(' start a run

A[32] = 1;
for (let c = 48; c <= 57; c++) A[c] = 1;
for (let c = 65; c <= 90; c++) A[c] = 2;

for (let c = 48; c <= 57; c++) W[c] = 2;
for (let c = 65; c <= 90; c++) W[c] = 2;
for (let c = 97; c <= 122; c++) W[c] = 1;
for (const ch of "'-\u2019_") W[ch.charCodeAt(0)] = 1;
for (let c = 0xc0; c <= 0x24f; c++) {
  if (c === 0xd7 || c === 0xf7) continue;
  const ch = String.fromCharCode(c);
  W[c] = ch !== ch.toLowerCase() ? 2 : 1;
}

export const isTokenChar = (c: number): boolean => T[c] === 1;
export const isNumericChar = (c: number): boolean => N[c]! > 0;
export const isWordChar = (c: number): boolean => W[c]! > 0;

/** Lower-case words that join a name or place ("Ludwig van Beethoven", "Juan de la Cruz"). */
export const PARTICLES = new Set(['de', 'da', 'di', 'del', 'della', 'der', 'den', 'van', 'von', 'le', 'la', 'du', 'dos', 'das', 'bin', 'al', 'el', 'ter', 'ten', 'st']);

/** True when position i (0 <= i < text.length) belongs to a run of the starter/member table. */
function inRun(text: string, i: number, table: Uint8Array, openStart: boolean): boolean {
  // Walk back over members until a starter (in a run) or a non-member (not in a run).
  let budget = 4096;
  for (let j = i; j >= 0; j--) {
    const v = table[text.charCodeAt(j)]!;
    if (v === 2) return true;
    if (!v) return false;
    if (--budget === 0) return true; // conservative: treat as a run (holds more, never less)
  }
  return openStart; // the text we see starts mid-run: unknown, so conservative
}

interface WordSpan { start: number; end: number }

/** The word that ends at or before position p (skipping at most two separator characters). */
function wordBefore(text: string, p: number): { word: WordSpan; conservative: boolean } | undefined {
  let e = p;
  while (e > 0 && p - e < 3 && !W[text.charCodeAt(e - 1)]) e--;
  if (e === 0 || !W[text.charCodeAt(e - 1)]) return undefined;
  let s = e;
  while (s > 0 && W[text.charCodeAt(s - 1)] && e - s < 256) s--;
  // A word longer than we look (or cut off by the start of what we see) counts as a phrase word.
  const conservative = e - s >= 256 || s === 0;
  return { word: { start: s, end: e }, conservative };
}

/** Is text[s,e) a word that belongs to a phrase run: capitalised, starting with a digit, or a particle. */
export function isPhraseWord(text: string, s: number, e: number): boolean {
  const c = text.charCodeAt(s);
  if (W[c] === 2) return true;
  if (c === 39 || c === 45 || c === 95 || c === 0x2019) return false;
  return e - s <= 5 && PARTICLES.has(text.slice(s, e));
}

/** Separators allowed between two words of one phrase run. */
export function isPhraseGap(gap: string): boolean {
  if (gap.length === 0 || gap.length > 2) return false;
  for (let i = 0; i < gap.length; i++) {
    const c = gap.charCodeAt(i);
    if (c !== 32 && c !== 44 && c !== 46) return false;
  }
  return gap !== ',,' && gap !== '..';
}

/**
 * May the text be cut at c (0 < c <= text.length) without splitting a run? `final` says whether the
 * text is complete (end of block): then the end is a cut and nothing is open. `tokenOpenOk` skips
 * the token-run rule only: for a cut inside the token run at the end of a growing text, which the
 * caller has checked detector by detector (hold.ts); every other family still applies.
 */
export function isSafeCut(text: string, c: number, final = false, openStart = false, tokenOpenOk = false): boolean {
  const end = text.length;
  if (c <= 0) return true;
  if (c >= end && final) return true;
  const prev = text.charCodeAt(c - 1);
  const atEnd = c >= end;
  const next = atEnd ? -1 : text.charCodeAt(c);
  // Never between the halves of a surrogate pair.
  if (prev >= 0xd800 && prev <= 0xdbff) return false;
  // token and word runs (tokenOpenOk: the caller has checked the open token run itself, hold.ts)
  if (!tokenOpenOk && T[prev] === 1 && (atEnd || T[next] === 1)) return false;
  if (W[prev] && (atEnd || W[next])) return false;
  // numeric and spaced runs
  if (N[prev] && (atEnd || N[next]) && inRun(text, c - 1, N, openStart)) return false;
  if (A[prev] && (atEnd || A[next]) && inRun(text, c - 1, A, openStart)) return false;
  // phrase runs: c lies between two phrase words joined by a phrase gap (or the right side is unknown yet)
  const before = wordBefore(text, c);
  if (before && ((before.conservative && (openStart || before.word.start > 0)) || isPhraseWord(text, before.word.start, before.word.end))) {
    // gap text from the end of that word, through c, up to the next word
    let e = c;
    while (e < end && !W[text.charCodeAt(e)] && e - before.word.end < 3) e++;
    const gap = text.slice(before.word.end, e);
    if (e >= end) {
      // The next word has not arrived: open if the gap so far could still become a phrase gap.
      if (gap.length === 0 || (gap.length <= 2 && isPhraseGap(gap))) return false;
    } else if (W[text.charCodeAt(e)] && isPhraseGap(gap)) {
      // The next word has started; it is known complete only when followed by a non-word char.
      let we = e;
      while (we < end && W[text.charCodeAt(we)]) we++;
      if (we >= end) {
        // Still being typed: open unless it already cannot become a phrase word (lower case, no particle prefix).
        if (W[text.charCodeAt(e)] === 2) return false;
        const partial = text.slice(e, we);
        for (const p of PARTICLES) if (p.startsWith(partial)) return false;
        return true;
      }
      if (isPhraseWord(text, e, we)) return false;
    }
  }
  return true;
}
