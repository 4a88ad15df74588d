// A dictionary of words kept as one sorted string, expanded into hash sets piece by piece as text
// asks for them. The phrase detector's name and place lists (~25,000 entries) held as Sets of
// strings cost ~1.7 MB of heap in every sidecar, most of which idles; as one '|'-separated string
// each they cost what their text does (~0.4 MB together). A lookup expands the entries that share
// the key's first two characters (a few dozen, found in the sorted string by indexOf) into a Set of
// their own, once; later lookups with that prefix are a Map and a Set probe. Text touches a small
// part of the lists, so a sidecar holds the compact form plus the prefixes its traffic has used: at
// most, once every prefix has been asked for, what the Sets held (BENCHMARKS.md, RSS idle).
//
// Built with whole-list operations only (split, a native sort, join): no JavaScript runs per entry,
// so building the lists at start-up compiles nothing with TurboFan (phrase.ts says why that matters).

const NONE: ReadonlySet<string> = new Set();

export class WordList {
  /** '|' + the entries in code-unit order + '|'. */
  private readonly list: string;
  /** The entries of each two-character prefix asked for so far, by (first << 16 | second) code unit. */
  private readonly byPrefix = new Map<number, ReadonlySet<string>>();
  readonly size: number;

  /** `joined`: entries separated by '|' (any order, duplicates allowed; empty entries dropped). */
  constructor(joined: string) {
    const entries = joined.split('|').filter(Boolean).sort();
    this.size = entries.length;
    this.list = `|${entries.join('|')}|`;
  }

  has(key: string): boolean {
    if (key.length < 2) return key.length === 1 && this.list.includes(`|${key}|`);
    const id = (key.charCodeAt(0) << 16) | key.charCodeAt(1);
    let entries = this.byPrefix.get(id);
    if (entries === undefined) this.byPrefix.set(id, (entries = this.withPrefix(key.slice(0, 2))));
    return entries.has(key);
  }

  /** Every entry, in code-unit order (tests and tools; not for the request path). */
  entries(): string[] {
    return this.size === 0 ? [] : this.list.slice(1, -1).split('|');
  }

  /** The entries starting with `prefix` (two characters): one run of the sorted list. */
  private withPrefix(prefix: string): ReadonlySet<string> {
    const list = this.list;
    const at = list.indexOf(`|${prefix}`);
    if (at < 0) return NONE;
    let end = at + 1;
    while (list.startsWith(prefix, end)) end = list.indexOf('|', end) + 1;
    return new Set(list.slice(at + 1, end - 1).split('|'));
  }
}
