// The numeric detector's phone parser (detectors/phone.ts) is libphonenumber-js's core parser with
// the full metadata: it must answer exactly as the package's "max" index does, for valid, invalid,
// national and international numbers.
import fc from 'fast-check';
import { parsePhoneNumberFromString } from 'libphonenumber-js/max';
import { parsePhoneNumber } from '../src/detectors/phone.js';

const answer = (p: ReturnType<typeof parsePhoneNumber>) => (p ? { number: p.number, country: p.country, valid: p.isValid(), type: p.getType() } : undefined);

describe('phone parser', () => {
  it.each([
    '+1 (415) 555-0132', '+44 20 7946 0958', '(212) 555-0187', '415.555.0132', '+49 30 901820', '+33 1 42 68 53 00',
    '+61 2 9374 4000', '+1 555 555 5555', '123-45-6788', '+999 123', '12/29/2024', '', '+', 'not a number', '+81 3-3224-9999',
  ])('answers as libphonenumber-js/max for %j', (text) => {
    expect(answer(parsePhoneNumber(text, 'US'))).toEqual(answer(parsePhoneNumberFromString(text, 'US')));
  });

  it('agrees with the package index on random digit strings', () => {
    fc.assert(fc.property(fc.constantFrom('', '+', '+1 ', '+44 ', '('), fc.stringMatching(/^[0-9 ()\-.]{4,18}$/), (prefix, rest) => {
      const text = prefix + rest;
      expect(answer(parsePhoneNumber(text, 'US'))).toEqual(answer(parsePhoneNumberFromString(text, 'US')));
    }), { numRuns: 500 });
  });
});
