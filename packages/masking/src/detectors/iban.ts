// IBANs: country code, check digits, BBAN; validated by per-country length and mod-97 (on the value
// upper-cased, without separators). Written compact ("GB29NWBK60161331926819", a token run), with
// dashes between groups ("DE89-3704-0044-…", a token run too), or in groups of four separated by
// spaces — upper case ("GB29 NWBK 6016 …", a spaced run, see boundary.ts), or with a country code in
// any case and digit groups only ("de89 3704 0044 …", a numeric run from the check digits on). A
// spaced IBAN in lower case with letters in its BBAN ("gb29 nwbk 6016 …") is not found: no run
// joins its groups, so a stream could release the first before the rest arrives.
import type { Detection } from '../entities.js';
import { ibanValid } from '../checksums.js';

const COMPACT = /[A-Za-z]{2}\d{2}[A-Za-z0-9]{11,30}/g;
const GROUPED: Array<[RegExp, string]> = [
  [/[A-Z]{2}\d{2}(?: [A-Z0-9]{1,4}){2,8}/g, ' '],
  [/[A-Za-z]{2}\d{2}(?: \d{1,4}){2,8}/g, ' '],
  [/[A-Za-z]{2}\d{2}(?:-[A-Za-z0-9]{1,4}){2,8}/g, '-'],
];
const isAlnum = (c: number) => (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122);

export function detectIban(text: string, out: Detection[]): void {
  COMPACT.lastIndex = 0;
  let m: RegExpExecArray | null;
  while ((m = COMPACT.exec(text)) !== null) {
    const s = m.index; const e = s + m[0].length;
    if ((s > 0 && isAlnum(text.charCodeAt(s - 1))) || (e < text.length && isAlnum(text.charCodeAt(e)))) continue;
    if (ibanValid(m[0].toUpperCase())) out.push({ type: 'IBAN_CODE', start: s, end: e });
  }
  for (const [re, sep] of GROUPED) {
    re.lastIndex = 0;
    while ((m = re.exec(text)) !== null) {
      const s = m.index;
      if (s > 0 && isAlnum(text.charCodeAt(s - 1))) continue;
      // Longest prefix of whole groups that validates.
      const parts = m[0].split(sep);
      let found = false;
      for (let n = parts.length; n >= 3; n--) {
        const cand = parts.slice(0, n).join(sep);
        const e = s + cand.length;
        if (e < text.length && isAlnum(text.charCodeAt(e))) continue;
        if (ibanValid(parts.slice(0, n).join('').toUpperCase())) {
          out.push({ type: 'IBAN_CODE', start: s, end: e }); // found twice in upper case: overlap resolution keeps one
          re.lastIndex = e; found = true; break;
        }
      }
      if (!found) re.lastIndex = s + 1;
    }
  }
}
