// The phrase detector's dictionaries are built from the generated lists with whole-string
// operations (phrase.ts says why); they must hold exactly what building them entry by entry holds.
import { phraseDictionary } from '../src/detectors/phrase.js';
import { FIRST_NAME_KEYS, SURNAME_KEYS } from '../src/data/names.js';
import { CITIES, COUNTRIES, STREET_SUFFIXES, US_STATES } from '../src/data/places.js';

const EXTRA_SUFFIXES = ['St', 'Ave', 'Rd', 'Blvd', 'Ln', 'Dr', 'Ct', 'Pl', 'Pkwy', 'Hwy', 'Sq', 'Ter', 'Cir', 'Strasse', 'Straße', 'Rue', 'Calle', 'Via', 'Way', 'Close', 'Crescent', 'Gardens', 'Grove', 'Mews', 'Row', 'Walk', 'Square', 'Terrace', 'Hill', 'Green', 'Park', 'Place', 'Lane', 'Drive', 'Court', 'Road', 'Street', 'Avenue', 'Boulevard'];

describe('phrase dictionaries', () => {
  const d = phraseDictionary();
  const key = (p: string) => p.replace(/[.,]/g, '').toLowerCase();

  it('hold every name, lower-cased, entry by entry', () => {
    // The generated name lists are WordList keys already: lower-cased, unique, in code-unit order.
    for (const keys of [FIRST_NAME_KEYS, SURNAME_KEYS]) {
      const names = keys.slice(1, -1).split('|');
      expect(keys.startsWith('|') && keys.endsWith('|')).toBe(true);
      expect(names.every((n) => n.length > 0 && n === n.toLowerCase())).toBe(true);
      expect(names).toEqual([...new Set(names)].sort());
    }
    expect(d.first.entries()).toEqual(FIRST_NAME_KEYS.slice(1, -1).split('|'));
    expect(d.last.entries()).toEqual(SURNAME_KEYS.slice(1, -1).split('|'));
    expect(d.first.has('maria') && d.last.has('garcia') && !d.first.has('Maria')).toBe(true);
    expect(new Set(d.suffixes.entries())).toEqual(new Set([...STREET_SUFFIXES.split('|'), ...EXTRA_SUFFIXES].map((s) => s.toLowerCase())));
  });

  it('hold every place, the major places and the longest place name', () => {
    const lists = [CITIES, COUNTRIES, US_STATES];
    const places = new Set(lists.flatMap((l) => l.split('|').map(key)));
    for (const p of places) expect(d.places.has(p)).toBe(true);
    expect(new Set(d.places.entries())).toEqual(new Set([...places, ...d.major.entries()]));
    for (const p of [COUNTRIES, US_STATES].flatMap((l) => l.split('|').map(key))) expect(d.major.has(p)).toBe(true);
    expect(d.major.has('new york city')).toBe(true);
    expect(d.places.has('ho chi minh city')).toBe(true);
    const longest = Math.max(...d.places.entries().map((p) => p.split(' ').length));
    expect(d.maxPlaceWords).toBe(Math.min(longest, 5));
  });
});
