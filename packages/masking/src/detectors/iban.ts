// IBANs, compact (a token run) or in groups of four (a spaced run, see boundary.ts): country code,
// check digits, BBAN; validated by per-country length and mod-97. Upper case only, as printed.
import type { Detection } from '../entities.js';
import { ibanValid } from '../checksums.js';

const COMPACT = /[A-Z]{2}\d{2}[A-Z0-9]{11,30}/g;
const SPACED = /[A-Z]{2}\d{2}(?: [A-Z0-9]{1,4}){2,8}/g;
const isAlnum = (c: number) => (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122);

export function detectIban(text: string, out: Detection[]): void {
  COMPACT.lastIndex = 0;
  let m: RegExpExecArray | null;
  while ((m = COMPACT.exec(text)) !== null) {
    const s = m.index; const e = s + m[0].length;
    if ((s > 0 && isAlnum(text.charCodeAt(s - 1))) || (e < text.length && isAlnum(text.charCodeAt(e)))) continue;
    if (ibanValid(m[0])) out.push({ type: 'IBAN_CODE', start: s, end: e });
  }
  SPACED.lastIndex = 0;
  while ((m = SPACED.exec(text)) !== null) {
    const s = m.index;
    if (s > 0 && isAlnum(text.charCodeAt(s - 1))) continue;
    // Longest prefix of whole groups that validates.
    const parts = m[0].split(' ');
    let found = false;
    for (let n = parts.length; n >= 3; n--) {
      const cand = parts.slice(0, n).join(' ');
      const e = s + cand.length;
      if (e < text.length && isAlnum(text.charCodeAt(e))) continue;
      if (ibanValid(cand.replace(/ /g, ''))) { out.push({ type: 'IBAN_CODE', start: s, end: e }); SPACED.lastIndex = e; found = true; break; }
    }
    if (!found) SPACED.lastIndex = s + 1;
  }
}
