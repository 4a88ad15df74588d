// The character-class tables of boundary.ts end after their last member (a read past the end is
// undefined): every predicate must still answer for all 65,536 code units as the definitions say.
import { isNumericChar, isTokenChar, isWordChar } from '../src/boundary.js';

const TOKEN_BREAKS = new Set([...' "\'`()<>[]{},;|\u00a0\u1680\u2028\u2029\u202f\u205f\u3000\ufeff\u201c\u201d\u2018\u2019\u00ab\u00bb\u2026\u2014\u2013'].map((ch) => ch.charCodeAt(0)));

describe('character classes', () => {
  it('answer for every code unit as defined, past the end of each table too', () => {
    const wrong: string[] = [];
    for (let c = 0; c < 65536; c++) {
      const ch = String.fromCharCode(c);
      const token = c >= 33 && !TOKEN_BREAKS.has(c) && !(c >= 0x2000 && c < 0x200c) && c !== 0x7f && !(c >= 0x80 && c < 0xa0);
      const numeric = ' \t+()-./0123456789'.includes(ch);
      const latinLetter = c >= 0xc0 && c <= 0x24f && c !== 0xd7 && c !== 0xf7;
      const word = /[0-9A-Za-z'_\u2019-]/.test(ch) || latinLetter;
      if (isTokenChar(c) !== token) wrong.push(`token ${c.toString(16)}`);
      if (isNumericChar(c) !== numeric) wrong.push(`numeric ${c.toString(16)}`);
      if (isWordChar(c) !== word) wrong.push(`word ${c.toString(16)}`);
    }
    expect(wrong).toEqual([]);
  });
});
