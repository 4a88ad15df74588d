// WordList (word-list.ts): a sorted '|'-joined string searched by position must answer exactly as a
// Set of its entries does, for every entry and for the strings around them.
import { WordList } from '../src/word-list.js';
import { FIRST_NAME_KEYS, SURNAME_KEYS } from '../src/data/names.js';
import { PLACE_KEYS } from '../src/data/places.js';

/** The entries of a list in keys form, whole or in parts. */
const entriesOf = (parts: readonly string[]) => parts.flatMap((p) => (p.length > 1 ? p.slice(1, -1).split('|') : []));

function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x9e3779b9) >>> 0) / 2 ** 32);
}

describe('WordList', () => {
  it('answers as a Set of its entries for every entry, its prefixes and extensions', () => {
    const lists: Array<[string, WordList]> = [
      [entriesOf(FIRST_NAME_KEYS).join('|'), new WordList(FIRST_NAME_KEYS, 'keys')],
      [entriesOf(SURNAME_KEYS).join('|'), new WordList(entriesOf(SURNAME_KEYS).join('|'))],
      [entriesOf(PLACE_KEYS).join('|'), new WordList(PLACE_KEYS, 'keys')],
    ];
    for (const [joined, list] of lists) {
      const set = new Set(joined.split('|'));
      expect(list.size).toBe(set.size);
      for (const w of set) {
        expect(list.has(w)).toBe(true);
        for (const probe of [w.slice(0, -1), `${w}a`, `${w}~`, `${w} `, `a${w}`, w.toUpperCase(), `${w.slice(0, -1)}\u00ff`]) {
          expect(list.has(probe)).toBe(set.has(probe));
        }
      }
    }
  });

  it('answers as a Set for random lists and keys (duplicates, non-Latin, one entry, none)', () => {
    const rnd = random(7);
    const alphabet = 'ab z\u00e9\u0107\u4e2d';
    const word = () => Array.from({ length: 1 + Math.floor(rnd() * 4) }, () => alphabet[Math.floor(rnd() * alphabet.length)]).join('');
    for (let round = 0; round < 300; round++) {
      const words = Array.from({ length: Math.floor(rnd() * 12) }, word);
      const list = new WordList(words.join('|'));
      const set = new Set(words.filter(Boolean));
      for (let i = 0; i < 40; i++) {
        const k = i < words.length ? words[i]! : word();
        expect(list.has(k)).toBe(set.has(k));
      }
    }
  });

  it('answers as a Set when the list comes in parts, a prefix\'s entries spread over them', () => {
    const rnd = random(11);
    const alphabet = 'ajn \u00e9\u0159\u0142';
    const word = () => Array.from({ length: 1 + Math.floor(rnd() * 4) }, () => alphabet[Math.floor(rnd() * alphabet.length)]).join('');
    const keysForm = (entries: string[]) => `|${entries.join('|')}${entries.length ? '|' : ''}`;
    for (let round = 0; round < 300; round++) {
      const set = new Set(Array.from({ length: Math.floor(rnd() * 16) }, word));
      const sorted = [...set].sort();
      // As the generator splits them: entries up to U+00FF, then the others.
      const parts = [keysForm(sorted.filter((w) => !/[^\u0000-\u00ff]/.test(w))), keysForm(sorted.filter((w) => /[^\u0000-\u00ff]/.test(w)))];
      const list = new WordList(parts, 'keys');
      expect(list.entries()).toEqual(sorted);
      expect(list.size).toBe(set.size);
      for (let i = 0; i < 40; i++) {
        const k = i < sorted.length ? sorted[i]! : word();
        expect(list.has(k)).toBe(set.has(k));
      }
    }
    // One prefix, entries in both parts: the first lookup must find both.
    const names = new WordList(['|jan|jana|', '|ja\u0159e|\u0142ukasz|'], 'keys');
    expect(['ja\u0159e', 'jan', 'jana', '\u0142ukasz'].map((k) => names.has(k))).toEqual([true, true, true, true]);
    expect(['ja', 'j', '\u0142', 'jar'].map((k) => names.has(k))).toEqual([false, false, false, false]);
    expect(() => new WordList(['|a|', 'b|'], 'keys')).toThrow(/start and end with '\|'/);
  });

  it('stays right, and bounded, through any number of prefixes it lacks and one-character keys', () => {
    const list = new WordList('a|b|ab|abc|z\u4e2d|\u4e2d');
    const kept = list as unknown as { lacking: Set<number>; singles: Map<number, boolean> };
    for (let c = 0x3000; c < 0x3000 + 5000; c++) {
      const ch = String.fromCharCode(c);
      expect(list.has(`${ch}x`)).toBe(false);
      expect(list.has(ch)).toBe(false);
      expect(kept.lacking.size).toBeLessThanOrEqual(1024);
      expect(kept.singles.size).toBeLessThanOrEqual(1024);
    }
    for (let round = 0; round < 2; round++) {
      expect(['a', 'b', 'ab', 'abc', 'z\u4e2d', '\u4e2d'].map((k) => list.has(k))).toEqual([true, true, true, true, true, true]);
      expect(['c', 'ac', 'abd', 'z', '\u4e2e', 'b\u4e2d'].map((k) => list.has(k))).toEqual([false, false, false, false, false, false]);
    }
  });

  it('keeps one-character keys apart from two-character prefixes', () => {
    const list = new WordList('\uffff|b');
    expect(list.has('\uffff\u0000')).toBe(false); // its prefix is lacking
    expect(list.has('\uffff')).toBe(true);
    expect(list.has('\u0000')).toBe(false);
    expect(list.has('\uffff\u0000')).toBe(false);
  });

  it('holds no empty entry and never matches across a separator', () => {
    const list = new WordList('|new york||york|');
    expect(list.size).toBe(2);
    expect(list.entries()).toEqual(['new york', 'york']);
    expect(list.has('')).toBe(false);
    expect(list.has('new york|york')).toBe(false);
    expect(list.has('york|')).toBe(false);
    expect(new WordList('').has('a')).toBe(false);
    expect(new WordList('').entries()).toEqual([]);
    expect(new WordList('').size).toBe(0);
    const keys = new WordList('|a|b c|d|', 'keys');
    expect([keys.size, keys.has('b c'), keys.has('b'), keys.has('d'), keys.has('e')]).toEqual([3, true, false, true, false]);
    expect(() => new WordList('a|b', 'keys')).toThrow(/start and end with '\|'/);
  });
});
