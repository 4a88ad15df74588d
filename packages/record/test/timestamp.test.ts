import fc from 'fast-check';
import { isoTimestamp } from '../src/timestamp.js';

describe('isoTimestamp', () => {
  it('writes exactly what Date.prototype.toISOString writes, for any millisecond of 1970–9999', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 253_402_300_799_999 }), (ms) => {
      expect(isoTimestamp(ms)).toBe(new Date(ms).toISOString());
    }), { numRuns: 20_000 });
  });

  it('gets the calendar edges right: epoch, leap days, century years, the last millisecond of 9999', () => {
    for (const text of [
      '1970-01-01T00:00:00.000Z', '1972-02-29T23:59:59.999Z', '1999-12-31T23:59:59.999Z', '2000-02-29T12:00:00.000Z',
      '2000-03-01T00:00:00.000Z', '2024-02-29T00:00:00.001Z', '2026-11-26T13:05:09.040Z', '2100-02-28T23:59:59.999Z',
      '2100-03-01T00:00:00.000Z', '2400-02-29T00:00:00.000Z', '9999-12-31T23:59:59.999Z',
    ]) expect(isoTimestamp(Date.parse(text))).toBe(text);
  });

  it('leaves times it does not cover to toISOString: before 1970, from 10000 on, fractions; NaN throws as it does', () => {
    for (const ms of [-1, -62_198_755_200_000, 253_402_300_800_000, 8.64e15, 1.5]) expect(isoTimestamp(ms)).toBe(new Date(ms).toISOString());
    expect(() => isoTimestamp(Number.NaN)).toThrow(RangeError);
  });
});
