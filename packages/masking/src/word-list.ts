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

/** How many answers about prefixes the list lacks and one-character keys are kept at once. */
const RECENT_ANSWERS = 1024;

export class WordList {
  /** '|' + the entries in code-unit order + '|'. */
  private readonly list: string;
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
   * Or, with `form` 'keys', a list already in this class's own form — '|', then unique non-empty
   * entries in code-unit order each followed by '|' — taken as it is, without a copy (the generated
   * name lists are written so: src/data/names.ts).
   */
  constructor(joined: string, form: 'joined' | 'keys' = 'joined') {
    if (form === 'keys') {
      if (!joined.startsWith('|') || !joined.endsWith('|')) throw new Error("WordList keys must start and end with '|'");
      this.list = joined;
    } else {
      this.list = `|${joined.split('|').filter(Boolean).sort().join('|')}|`;
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
      if (answer === undefined) capped(this.singles).set(c, (answer = this.isEntryAt(this.lowerBound(key), key)));
      return answer;
    }
    const id = (key.charCodeAt(0) << 16) | key.charCodeAt(1); // prefixId
    let entries = this.byPrefix.get(id);
    if (entries === undefined) {
      if (this.lacking.has(id)) return false;
      const prefix = key.slice(0, 2);
      const first = this.lowerBound(prefix);
      if (!this.list.startsWith(prefix, first)) {
        capped(this.lacking).add(id);
        return false;
      }
      this.byPrefix.set(id, (entries = this.run(prefix, first)));
    }
    return entries.has(key);
  }

  /** Every entry, in code-unit order (tests and tools; not for the request path). */
  entries(): string[] {
    return this.list.length <= 2 ? [] : this.list.slice(1, -1).split('|');
  }

  /** Where the first entry not below `key` starts (list.length when every entry is below it). */
  private lowerBound(key: string): number {
    const list = this.list;
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

  private isEntryAt(at: number, key: string): boolean {
    return at < this.list.length && this.list.startsWith(key, at) && this.list.charCodeAt(at + key.length) === 124; // '|'
  }

  /** The entries from `first` on that start with `prefix`: one run of the sorted list. */
  private run(prefix: string, first: number): ReadonlySet<string> {
    const list = this.list;
    let end = first;
    while (list.startsWith(prefix, end)) end = list.indexOf('|', end) + 1;
    return new Set(list.slice(first, end - 1).split('|'));
  }
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
