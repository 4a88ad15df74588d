// PEM private keys: "-----BEGIN … PRIVATE KEY-----" (or OpenPGP's "… PRIVATE KEY BLOCK-----") up
// to its END line. The body is unbounded, so the END line is searched for only within PEM_CAP
// characters; a key without one (truncated, or longer than the cap) is masked to the end of the text. The stream masker calls pemRegionEnd
// itself to know how long to hold, which keeps whole-text and streaming masking identical.
import type { Detection } from '../entities.js';

export const PEM_CAP = 65536;
const BEGIN = '-----BEGIN ';
// An OpenPGP armored private key says "PRIVATE KEY BLOCK".
const HEADER = /^-----BEGIN [A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----/;

/**
 * Where the PEM region starting at `begin` (an index of "-----BEGIN ") ends, given the text so
 * far. Returns: 'not-key' when the header is complete and is not a private key; 'open' when the
 * header or the END line may still arrive (or never will, within the cap); or the end index.
 * With final=true 'open' cannot be returned: a region that has not ended runs to the end.
 */
export function pemRegionEnd(text: string, begin: number, final: boolean): number | 'not-key' | 'open' {
  const head = text.slice(begin, begin + 80);
  const hm = HEADER.exec(head);
  if (!hm) {
    // Not (yet) a complete private-key header: is it still a possible prefix of one?
    const closed = head.indexOf('-----', BEGIN.length) >= 0 || head.length >= 80 || /[^A-Z0-9 \-]/.test(head.slice(BEGIN.length));
    if (closed || final) return 'not-key';
    return 'open';
  }
  const bodyStart = begin + hm[0].length;
  const endAt = text.indexOf('-----END ', bodyStart);
  if (endAt < 0 || endAt - begin > PEM_CAP) {
    if (final || text.length - begin > PEM_CAP) return final ? text.length : 'open';
    return 'open';
  }
  // The END line: "-----END <label>-----"
  let p = endAt + 9;
  while (p < text.length && p - endAt < 60 && /[A-Z0-9 ]/.test(text[p]!)) p++;
  if (text.startsWith('-----', p)) return p + 5;
  if (p >= text.length || text.length - p < 5 && '-----'.startsWith(text.slice(p))) return final ? text.length : 'open';
  return p;
}

export function detectPem(text: string, out: Detection[]): void {
  let from = 0;
  for (;;) {
    const b = text.indexOf(BEGIN, from);
    if (b < 0) return;
    const end = pemRegionEnd(text, b, true);
    if (end === 'not-key' || end === 'open') { from = b + BEGIN.length; continue; }
    out.push({ type: 'SECRET', subtype: 'private_key', start: b, end });
    from = end;
  }
}
