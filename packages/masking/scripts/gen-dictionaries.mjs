// Generates src/data/names.ts and src/data/places.ts from @faker-js/faker's locale data (MIT) and
// the well-known places below. Run: node packages/masking/scripts/gen-dictionaries.mjs (from the
// repo root); with --check it writes nothing and fails when the committed files differ from what it
// would write (a test runs it so). The output is committed so the library needs no faker at run
// time. Locales held out here (pl, sv, tr, fi, hu) are what the benchmark uses to measure recall on
// names the dictionary has never seen.
import { allLocales } from '@faker-js/faker';
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { resolve } from 'node:path';

const out = resolve(fileURLToPath(new URL('.', import.meta.url)), '../src/data');
const LOCALES = ['en', 'en_US', 'en_GB', 'en_AU', 'en_CA', 'en_IE', 'en_IN', 'en_NG', 'en_ZA', 'de', 'fr', 'es', 'es_MX', 'it', 'nl', 'pt_BR', 'pt_PT', 'da', 'nb_NO', 'ro', 'cs_CZ', 'id_ID'];
const latin = /^[A-Za-z\u00C0-\u024F][A-Za-z\u00C0-\u024F'’-]+$/;
/** Well-known places the locale lists lack (capitals and big cities worldwide), kept by hand. */
const EXTRA_PLACES = 'London|Paris|Berlin|Madrid|Rome|Lisbon|Dublin|Amsterdam|Brussels|Vienna|Zurich|Geneva|Munich|Hamburg|Frankfurt|Milan|Barcelona|Prague|Warsaw|Budapest|Stockholm|Oslo|Copenhagen|Helsinki|Athens|Istanbul|Moscow|Kyiv|Tokyo|Osaka|Kyoto|Seoul|Beijing|Shanghai|Hong Kong|Singapore|Bangkok|Jakarta|Manila|Mumbai|Delhi|New Delhi|Bangalore|Bengaluru|Chennai|Kolkata|Karachi|Lahore|Dhaka|Dubai|Abu Dhabi|Riyadh|Doha|Tel Aviv|Jerusalem|Cairo|Lagos|Nairobi|Johannesburg|Cape Town|Casablanca|Sydney|Melbourne|Brisbane|Perth|Auckland|Wellington|Toronto|Vancouver|Montreal|Ottawa|Calgary|Mexico City|Guadalajara|Sao Paulo|São Paulo|Rio de Janeiro|Buenos Aires|Santiago|Lima|Bogota|Bogotá|Caracas|New York|New York City|Los Angeles|San Francisco|San Diego|San Jose|Seattle|Portland|Chicago|Boston|Philadelphia|Washington|Atlanta|Miami|Houston|Dallas|Austin|Denver|Phoenix|Las Vegas|Detroit|Minneapolis|Nashville|Baltimore|Pittsburgh|Cleveland|Brooklyn|Manhattan|Queens|Silicon Valley|Mountain View|Palo Alto|Menlo Park|Cupertino|Sunnyvale|Redmond|Cambridge|Oxford|Manchester|Birmingham|Liverpool|Leeds|Glasgow|Edinburgh|Bristol|Lyon|Marseille|Toulouse|Nice|Bordeaux|Cologne|Stuttgart|Dusseldorf|Düsseldorf|Leipzig|Dresden|Rotterdam|Utrecht|Antwerp|Porto|Seville|Valencia|Naples|Turin|Florence|Venice|Krakow|Kraków|Gdansk|Wroclaw|Bucharest|Sofia|Belgrade|Zagreb|Ljubljana|Bratislava|Vilnius|Riga|Tallinn|Reykjavik|Taipei|Hanoi|Ho Chi Minh City|Kuala Lumpur|England|Scotland|Wales|Northern Ireland|Europe|Asia|Africa|North America|South America|Bavaria|Ontario|Quebec|British Columbia|Alberta|New South Wales|Victoria|Queensland|UK|USA|US|U.S.|U.K.|UAE|EU';

function collect(v, acc) {
  if (typeof v === 'string') acc.add(v);
  else if (Array.isArray(v)) v.forEach((x) => collect(x, acc));
  else if (v && typeof v === 'object') Object.values(v).forEach((x) => collect(x, acc));
  return acc;
}

const first = new Set();
const last = new Set();
const cities = new Set();
const countries = new Set();
const states = new Set();
const streetSuffixes = new Set();
for (const code of LOCALES) {
  const l = allLocales[code];
  if (!l) continue;
  for (const n of collect(l.person?.first_name, new Set())) for (const w of n.split(' ')) if (latin.test(w)) first.add(w);
  for (const n of collect(l.person?.middle_name, new Set())) for (const w of n.split(' ')) if (latin.test(w)) first.add(w);
  for (const n of collect(l.person?.last_name, new Set())) for (const w of n.split(/[ -]/)) if (latin.test(w) && !w.includes('{')) last.add(w);
  for (const c of collect(l.location?.city_name, new Set())) if (!c.includes('{') && c.length < 40) cities.add(c);
  if (code === 'en') {
    for (const c of collect(l.location?.country, new Set())) countries.add(c);
    for (const s of collect(l.location?.state, new Set())) states.add(s);
    for (const s of collect(l.location?.street_suffix, new Set())) streetSuffixes.add(s);
  }
}
const pack = (set) => [...set].sort().join('|');
// Names and places are looked up by key (lower-cased; a place also without '.' and ','): they are
// written as the phrase detector's WordList holds them (unique, in code-unit order, '|' before and
// after each), so it uses the text as it is. In two parts: V8 stores a string with any character
// above U+00FF at two bytes per character, so the entries with such characters (ł, ř, ș, ’...)
// are kept apart, and the rest, nearly all of each list, is stored at one byte per character.
const wide = /[^\u0000-\u00ff]/;
const keyParts = (keys) => {
  const sorted = [...new Set(keys)].filter(Boolean).sort();
  const part = (entries) => `|${entries.join('|')}${entries.length ? '|' : ''}`;
  return [part(sorted.filter((k) => !wide.test(k))), part(sorted.filter((k) => wide.test(k)))];
};
const nameKeys = (set) => keyParts([...set].map((n) => n.toLowerCase()));
const placeKey = (p) => p.replace(/[.,]/g, '').toLowerCase();
const firstKeys = nameKeys(first);
const lastKeys = nameKeys(last);
const placeKeys = keyParts([...cities, ...countries, ...states, ...EXTRA_PLACES.split('|')].map(placeKey));
const count = (parts) => parts.reduce((n, k) => n + (k.length > 1 ? k.split('|').length - 2 : 0), 0);
const literal = (parts) => `[\n  ${parts.map((p) => JSON.stringify(p)).join(',\n  ')},\n]`;
const files = {
  'names.ts': `// Generated by scripts/gen-dictionaries.mjs from @faker-js/faker locale data (MIT): do not edit.
// Locales: ${LOCALES.join(', ')}. ${count(firstKeys)} first names, ${count(lastKeys)} surnames, lower-cased, as WordList keys
// in two parts: entries with characters up to U+00FF, then the others.
export const FIRST_NAME_KEYS: readonly string[] = ${literal(firstKeys)};
export const SURNAME_KEYS: readonly string[] = ${literal(lastKeys)};
`,
  'places.ts': `// Generated by scripts/gen-dictionaries.mjs from @faker-js/faker locale data (MIT) and the
// well-known places listed there: do not edit. PLACE_KEYS: every place (cities, countries, US
// states, the well-known places), as WordList keys in two parts like the names.
export const PLACE_KEYS: readonly string[] = ${literal(placeKeys)};
export const COUNTRIES = ${JSON.stringify(pack(countries))};
export const US_STATES = ${JSON.stringify(pack(states))};
export const EXTRA_PLACES = ${JSON.stringify(EXTRA_PLACES)};
export const STREET_SUFFIXES = ${JSON.stringify(pack(streetSuffixes))};
`,
};
if (process.argv.includes('--check')) {
  const stale = Object.entries(files).filter(([name, text]) => readFileSync(resolve(out, name), 'utf8') !== text).map(([name]) => name);
  if (stale.length) {
    console.error(`gen-dictionaries: ${stale.join(', ')} differ from what the generator writes; run node packages/masking/scripts/gen-dictionaries.mjs`);
    process.exit(1);
  }
  console.log('gen-dictionaries: src/data is up to date');
} else {
  for (const [name, text] of Object.entries(files)) writeFileSync(resolve(out, name), text);
  console.log({ first: first.size, last: last.size, cities: cities.size, countries: countries.size, states: states.size, suffixes: streetSuffixes.size, places: count(placeKeys) });
}
