// The phrase detector's dictionaries are built from the generated lists with whole-string
// operations (phrase.ts says why); they must hold exactly what building them entry by entry holds.
// The generated lists are what the generator writes from faker's data (it runs here in --check
// mode), in the form and parts WordList takes.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { phraseDictionary } from '../src/detectors/phrase.js';
import { FIRST_NAME_KEYS, SURNAME_KEYS } from '../src/data/names.js';
import { COUNTRIES, EXTRA_PLACES, PLACE_KEYS, STREET_SUFFIXES, US_STATES } from '../src/data/places.js';

const EXTRA_SUFFIXES = ['St', 'Ave', 'Rd', 'Blvd', 'Ln', 'Dr', 'Ct', 'Pl', 'Pkwy', 'Hwy', 'Sq', 'Ter', 'Cir', 'Strasse', 'Straße', 'Rue', 'Calle', 'Via', 'Way', 'Close', 'Crescent', 'Gardens', 'Grove', 'Mews', 'Row', 'Walk', 'Square', 'Terrace', 'Hill', 'Green', 'Park', 'Place', 'Lane', 'Drive', 'Court', 'Road', 'Street', 'Avenue', 'Boulevard'];

describe('phrase dictionaries', () => {
  const d = phraseDictionary();
  const key = (p: string) => p.replace(/[.,]/g, '').toLowerCase();

  const wide = /[^\u0000-\u00ff]/;
  /** A generated list: two parts in WordList's keys form, the first with no character above U+00FF. */
  function entriesOfParts(parts: readonly string[]): string[] {
    expect(parts).toHaveLength(2);
    const [narrow, others] = parts.map((p) => {
      expect(p.startsWith('|') && p.endsWith('|')).toBe(true);
      return p.length > 1 ? p.slice(1, -1).split('|') : [];
    }) as [string[], string[]];
    // The first part is what V8 can store at one byte per character; the second holds the rest.
    expect(narrow.filter((e) => wide.test(e))).toEqual([]);
    expect(others.every((e) => wide.test(e))).toBe(true);
    for (const part of [narrow, others]) expect(part).toEqual([...new Set(part)].sort());
    expect(others.length).toBeLessThan(narrow.length / 5);
    return [...narrow, ...others].sort();
  }

  it('are generated from faker\'s data as committed', () => {
    const generator = fileURLToPath(new URL('../../scripts/gen-dictionaries.mjs', import.meta.url));
    const run = spawnSync(process.execPath, [generator, '--check'], { encoding: 'utf8' });
    expect(`${run.stdout}${run.stderr}`).toMatch(/src\/data is up to date/);
    expect(run.status).toBe(0);
  });

  it('hold every name, lower-cased, entry by entry', () => {
    for (const [keys, list] of [[FIRST_NAME_KEYS, d.first], [SURNAME_KEYS, d.last]] as const) {
      const names = entriesOfParts(keys);
      expect(names.every((n) => n.length > 0 && n === n.toLowerCase())).toBe(true);
      expect(list.entries()).toEqual(names);
      expect(names.length).toBeGreaterThan(8000);
    }
    expect(d.first.has('maria') && d.last.has('garcia') && !d.first.has('Maria')).toBe(true);
    expect(d.first.has('\u0142ukasz') || d.last.has('nov\u00e1\u010dek') || d.last.has('dvo\u0159\u00e1k')).toBe(true);
    expect(new Set(d.suffixes.entries())).toEqual(new Set([...STREET_SUFFIXES.split('|'), ...EXTRA_SUFFIXES].map((s) => s.toLowerCase())));
  });

  it('hold every place, the major places and the longest place name', () => {
    const places = entriesOfParts(PLACE_KEYS);
    expect(places.every((p) => p === key(p))).toBe(true);
    expect(d.places.entries()).toEqual(places);
    const major = [COUNTRIES, US_STATES, EXTRA_PLACES].flatMap((l) => l.split('|').map(key));
    for (const p of major) expect(d.places.has(p) && d.major.has(p)).toBe(true);
    expect(new Set(d.major.entries())).toEqual(new Set(major));
    expect(d.places.has('aachen') && d.places.has('new york city') && d.places.has('ho chi minh city') && d.places.has('sao paulo') && d.places.has('s\u00e3o paulo')).toBe(true);
    const longest = Math.max(...places.map((p) => p.split(' ').length));
    expect(d.maxPlaceWords).toBe(Math.min(longest, 5));
  });
});
