// A dictionary of words kept as one sorted string, expanded into hash sets piece by piece as text
// asks for them. The phrase detector's name and place lists (~25,000 entries) held as Sets of
// strings cost ~1.7 MB of heap in every sidecar, most of which idles; as one '|'-separated string
// each they cost what their text does (~0.4 MB together). A lookup expands the entries that share
// the key's first two characters (a few dozen, found in the sorted string by binary search) into a
// Set of their own, once; later lookups with that prefix are a Map and a Set probe. Text touches a
// small part of the lists, so a sidecar holds the compact form plus the prefixes its traffic has
// used: at most, once every prefix the lists have has been asked for, what the Sets held
// (BENCHMARKS.md, RSS idle). A one-character key, or one whose prefix no entry has, costs a binary
// search (~15 comparisons) each time: nothing grows with text the lists do not know.
//
// Built with whole-list operations only (split, a native sort, join): no JavaScript runs per entry,
// so building the lists at start-up compiles nothing with TurboFan (phrase.ts says why that matters).
//
// A list may come in parts, each in the sorted form (an entry in one part only): V8 stores a string
// holding any character above U+00FF at two bytes per character, so the generated lists keep their
// few entries with such characters (Polish, Czech, Romanian names) apart, and the rest, nearly all
// of it, is stored at one byte per character (src/data/names.ts; ~0.3 MB less in every sidecar).

/** How many answers about prefixes the list lacks and one-character keys are kept at once. */
const RECENT_ANSWERS = 1024;

export class WordList {
  /** The parts of the list, each '|' + its entries in code-unit order + '|'. */
  private readonly parts: readonly string[];
  /** The entries of each two-character prefix asked for so far that the list has, by prefixId. */
  private readonly byPrefix = new Map<number, ReadonlySet<string>>();
  /**
   * Answers the list's text cannot bound: the prefixes it lacks (by prefixId) and whether each
   * one-character key is an entry (by code unit). Text may hold any number of them, so each forgets
   * all it holds once it holds RECENT_ANSWERS (capped); each is then a binary search again.
   */
  private readonly lacking = new Set<number>();
  private readonly singles = new Map<number, boolean>();

  /**
   * `joined`: entries separated by '|' (any order, duplicates allowed; empty entries dropped).
   * Or, with `form` 'keys', a list already in this class's own form, whole or in parts — each '|',
   * then unique non-empty entries in code-unit order each followed by '|', no entry in two parts —
   * taken as it is, without a copy (the generated lists are written so: src/data/).
   */
  constructor(joined: string | readonly string[], form: 'joined' | 'keys' = 'joined') {
    if (form === 'keys') {
      const parts = typeof joined === 'string' ? [joined] : joined;
      for (const part of parts) if (!part.startsWith('|') || !part.endsWith('|')) throw new Error("WordList keys must start and end with '|'");
      this.parts = parts;
    } else {
      if (typeof joined !== 'string') throw new TypeError('a joined WordList is one string');
      this.parts = [`|${joined.split('|').filter(Boolean).sort().join('|')}|`];
    }
  }

  /** How many entries (counted when asked: tests and tools). */
  get size(): number {
    return this.entries().length;
  }

  has(key: string): boolean {
    if (key.length < 2) {
      if (key.length === 0) return false;
      const c = key.charCodeAt(0);
      let answer = this.singles.get(c);
      if (answer === undefined) capped(this.singles).set(c, (answer = this.parts.some((part) => isEntryAt(part, lowerBound(part, key), key))));
      return answer;
    }
    const id = (key.charCodeAt(0) << 16) | key.charCodeAt(1); // prefixId
    let entries = this.byPrefix.get(id);
    if (entries === undefined) {
      if (this.lacking.has(id)) return false;
      const prefix = key.slice(0, 2);
      let run: string[] | undefined;
      for (const part of this.parts) {
        const found = runOf(part, prefix);
        if (found) run = run ? run.concat(found) : found;
      }
      if (run === undefined) {
        capped(this.lacking).add(id);
        return false;
      }
      this.byPrefix.set(id, (entries = new Set(run)));
    }
    return entries.has(key);
  }

  /** Every entry, in code-unit order (tests and tools; not for the request path). */
  entries(): string[] {
    const all = this.parts.flatMap((part) => (part.length <= 2 ? [] : part.slice(1, -1).split('|')));
    return this.parts.length > 1 ? all.sort() : all;
  }
}

/** Where the first entry of `list` not below `key` starts (list.length when every entry is below it). */
function lowerBound(list: string, key: string): number {
  // lo starts an entry and every entry before it is below key; hi starts an entry not below key,
  // or is list.length. An entry and its separator take two characters at least.
  let lo = 1;
  let hi = list.length;
  while (lo < hi) {
    const start = list.lastIndexOf('|', (lo + hi - 2) >>> 1) + 1;
    const end = list.indexOf('|', start);
    if (compareEntry(key, list, start, end) <= 0) hi = start;
    else lo = end + 1;
  }
  return lo;
}

function isEntryAt(list: string, at: number, key: string): boolean {
  return at < list.length && list.startsWith(key, at) && list.charCodeAt(at + key.length) === 124; // '|'
}

/** The entries of `list` that start with `prefix` (one run of the sorted list), or undefined for none. */
function runOf(list: string, prefix: string): string[] | undefined {
  const first = lowerBound(list, prefix);
  if (!list.startsWith(prefix, first)) return undefined;
  let end = first;
  while (list.startsWith(prefix, end)) end = list.indexOf('|', end) + 1;
  return list.slice(first, end - 1).split('|');
}

/** `answers`, emptied first when it holds RECENT_ANSWERS. */
function capped<T extends { readonly size: number; clear(): void }>(answers: T): T {
  if (answers.size >= RECENT_ANSWERS) answers.clear();
  return answers;
}

/** key against list[start, end), in UTF-16 code-unit order (that of Array.prototype.sort). */
function compareEntry(key: string, list: string, start: number, end: number): number {
  const n = end - start;
  const len = key.length < n ? key.length : n;
  for (let i = 0; i < len; i++) {
    const d = key.charCodeAt(i) - list.charCodeAt(start + i);
    if (d !== 0) return d;
  }
  return key.length - n;
}
