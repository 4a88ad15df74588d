// Detectors for the numeric family (boundary.ts): cards, SSN/ITIN, ABA routing and bank account
// numbers, phone numbers, numeric dates of birth and IPv4 addresses. Each numeric run is split into
// digit groups and separators once; the detectors look only at that run and at the context before it.
import { parsePhoneNumber } from './phone.js';
import type { Detection } from '../entities.js';
import { abaValid, cardIssuer, itinValid, luhnValid, ssnValid } from '../checksums.js';
import { CONTEXT, lookback } from './context.js';

const RUN = /[0-9+(][0-9 +()\-./]*/g;

interface Group { s: number; e: number; d: string }

export function detectNumeric(text: string, out: Detection[]): void {
  RUN.lastIndex = 0;
  let m: RegExpExecArray | null;
  while ((m = RUN.exec(text)) !== null) {
    const runStart = m.index;
    const runEnd = runStart + m[0].length;
    // Fewer than 4 digits can be none of these entities.
    let digits = 0;
    for (let i = runStart; i < runEnd && digits < 4; i++) { const c = text.charCodeAt(i); if (c >= 48 && c <= 57) digits++; }
    if (digits < 4) continue;
    scanRun(text, runStart, runEnd, out);
  }
}

function scanRun(text: string, runStart: number, runEnd: number, out: Detection[]): void {
  const groups: Group[] = [];
  let i = runStart;
  while (i < runEnd) {
    const c = text.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      let e = i + 1;
      while (e < runEnd && text.charCodeAt(e) >= 48 && text.charCodeAt(e) <= 57) e++;
      groups.push({ s: i, e, d: text.slice(i, e) });
      i = e;
    } else i++;
  }
  // A digit run glued to a letter before it ("v1.2.3.4", "order12345678", "id_4111…") is an
  // identifier, not an entity; underscores that stand between it and a space or punctuation are
  // Markdown emphasis ("_4111 1111 1111 1111_", "__536-22-8974__"), not glue.
  const lastGroup = groups[groups.length - 1];
  const gluedBefore = groups.length > 0 && groups[0]!.s === runStart && runStart > 0 && gluedAt(text, runStart - 1, -1);
  const gluedAfter = lastGroup !== undefined && lastGroup.e === runEnd && runEnd < text.length && gluedAt(text, runEnd, 1);
  const taken: Array<[number, number]> = [];
  const push = (d: Detection) => { out.push(d); taken.push([d.start, d.end]); };
  const free = (s: number, e: number) => taken.every(([a, b]) => e <= a || s >= b);
  const sep = (g: number) => text.slice(groups[g]!.e, groups[g + 1]!.s);

  for (let g = 0; g < groups.length; g++) {
    const first = groups[g]!;
    const edgeBefore = g === 0 ? gluedBefore : false;
    if (edgeBefore) continue;
    // IPv4: exactly four dot-separated groups.
    if (g + 3 < groups.length || g + 3 === groups.length - 1) {
      if (g + 3 < groups.length && sep(g) === '.' && sep(g + 1) === '.' && sep(g + 2) === '.') {
        const last = groups[g + 3]!;
        const nextIsDotDigit = g + 4 < groups.length && sep(g + 3) === '.';
        const endGlued = g + 3 === groups.length - 1 && gluedAfter;
        const prevDot = g > 0 && sep(g - 1) === '.';
        if (!nextIsDotDigit && !endGlued && !prevDot && [0, 1, 2, 3].every((k) => octet(groups[g + k]!.d))
          && !CONTEXT.version.test(lookback(text, first.s, 16))) {
          push({ type: 'IP_ADDRESS', start: first.s, end: last.e });
          g += 3;
          continue;
        }
      }
    }
    // Credit cards: 12-19 digits in groups joined by one consistent '-' or by spaces (a run of up
    // to six: aligned columns, a tab or a "\u00a0" escape read as spaces, fold.ts). A '+' in front
    // makes it an international phone number ("+4933727317115"), never a card.
    let card: Detection | undefined;
    let joiner: string | undefined;
    let acc = '';
    const plus = first.s > 0 && text.charCodeAt(first.s - 1) === 43;
    for (let h = g; h < groups.length && !plus; h++) {
      if (h > g) {
        const s = cardJoiner(sep(h - 1));
        if (s === undefined) break;
        if (joiner === undefined) joiner = s; else if (s !== joiner) break;
      }
      acc += groups[h]!.d;
      if (acc.length > 19) break;
      const endGlued = h === groups.length - 1 && gluedAfter;
      const next = h + 1 < groups.length ? cardJoiner(sep(h)) : undefined;
      const continues = next !== undefined && (joiner === undefined || next === joiner) && acc.length + groups[h + 1]!.d.length <= 19;
      if (acc.length >= 12 && !endGlued && cardIssuer(acc) && luhnValid(acc)) {
        card = { type: 'CREDIT_CARD', start: first.s, end: groups[h]!.e };
        if (!continues) break;
      }
    }
    if (card) { push(card); while (g + 1 < groups.length && groups[g + 1]!.s < card.end) g++; continue; }
    const ctx = () => lookback(text, first.s);
    // SSN / ITIN: 3-2-4.
    if (g + 2 < groups.length && first.d.length === 3 && groups[g + 1]!.d.length === 2 && groups[g + 2]!.d.length === 4
      && sep(g) === sep(g + 1) && (sep(g) === '-' || sep(g) === ' ')
      && !(g + 3 < groups.length && (sep(g + 2) === '-' || sep(g + 2) === ' ') && groups[g + 3]!.d.length <= 4 && sep(g + 2) === sep(g))
      && !(g + 2 === groups.length - 1 && gluedAfter)) {
      const d = first.d + groups[g + 1]!.d + groups[g + 2]!.d;
      const c = ctx();
      const dashed = sep(g) === '-';
      if (itinValid(d) && (dashed || CONTEXT.itin.test(c) || CONTEXT.ssn.test(c))) { push({ type: 'US_ITIN', start: first.s, end: groups[g + 2]!.e }); g += 2; continue; }
      if (ssnValid(d) && (dashed || CONTEXT.ssn.test(c))) { push({ type: 'US_SSN', start: first.s, end: groups[g + 2]!.e }); g += 2; continue; }
    }
    // Numeric dates of birth: yyyy-mm-dd, dd/mm/yyyy, mm/dd/yyyy, dd.mm.yyyy with a birth context word.
    if (g + 2 < groups.length) {
      const s1 = sep(g); const s2 = sep(g + 1);
      if (s1 === s2 && (s1 === '-' || s1 === '/' || s1 === '.') && !(g + 2 === groups.length - 1 && gluedAfter)
        && !(g + 3 < groups.length && sep(g + 2) === s1)) {
        const [a, b, c] = [first.d, groups[g + 1]!.d, groups[g + 2]!.d];
        if (isDate(a, b, c) && CONTEXT.dob.test(ctx())) { push({ type: 'DATE_OF_BIRTH', start: first.s, end: groups[g + 2]!.e }); g += 2; continue; }
      }
    }
    // Single groups with context: ABA routing (9, checksum), SSN/ITIN without separators, bank accounts.
    const lone = !(g + 1 < groups.length && (sep(g) === '-' || sep(g) === ' ') && groups[g + 1]!.d.length >= 2)
      && !(g > 0 && (sep(g - 1) === '-' || sep(g - 1) === '.'))
      && !(g === groups.length - 1 && gluedAfter);
    if (lone) {
      const d = first.d;
      const c = ctx();
      const near = lookback(text, first.s, 24); // account/routing words must be close, not two sentences back
      if (d.length === 9 && CONTEXT.aba.test(near) && abaValid(d)) { push({ type: 'ABA_ROUTING_NUMBER', start: first.s, end: first.e }); continue; }
      if (d.length === 9 && CONTEXT.ssn.test(c) && (ssnValid(d) || itinValid(d))) { push({ type: itinValid(d) ? 'US_ITIN' : 'US_SSN', start: first.s, end: first.e }); continue; }
      if (d.length >= 8 && d.length <= 17 && CONTEXT.bankAccount.test(near) && !CONTEXT.phone.test(near)) { push({ type: 'US_BANK_NUMBER', start: first.s, end: first.e }); continue; }
    }
  }
  // Phone numbers: candidates of 7-15 digits in groups (what the rules above did not claim), each
  // parsed and validated by libphonenumber-js. Calling its findNumbers on every run cost up to
  // 350 µs per run (it tries every sub-span); a parse of one candidate costs about 16 µs.
  if (gluedBefore || runEnd - runStart > 256) return;
  for (let g = 0; g < groups.length; g++) {
    const first = groups[g]!;
    if (!free(first.s, first.e)) continue;
    if (g > 0 && /^[-.]$/.test(sep(g - 1)) && free(groups[g - 1]!.s, groups[g - 1]!.e)) continue; // middle of a dotted/dashed number
    let s = first.s;
    const lead = text.slice(Math.max(runStart, first.s - 2), first.s);
    if (lead.endsWith('+')) s = first.s - 1;
    else if (lead.endsWith('(')) s = first.s - 1;
    else if (lead === '+(') s = first.s - 2;
    let digits = 0;
    let best: Detection | undefined;
    for (let h = g; h < groups.length; h++) {
      if (h > g) {
        const sp = sep(h - 1);
        if (sp.length > 2 || !/^(?:[ \-.\/]|\) ?|\( ?| \(|\)-)$/.test(sp)) break;
      }
      if (!free(groups[h]!.s, groups[h]!.e)) break;
      digits += groups[h]!.d.length;
      if (digits > 15) break;
      if (digits < 7) continue;
      const e = groups[h]!.e;
      if (h === groups.length - 1 && gluedAfter) continue;
      const nextJoins = h + 1 < groups.length && /^[-.]$/.test(sep(h)) && groups[h + 1]!.d.length >= 2;
      if (nextJoins && digits + groups[h + 1]!.d.length <= 15) continue; // a longer candidate comes next
      const raw = text.slice(s, e);
      const intl = raw.startsWith('+');
      const formatted = /[ ().\-]/.test(raw);
      if (!intl && !formatted && !CONTEXT.phone.test(lookback(text, s))) continue;
      if (!intl && /^\d{4}[-./]\d{1,2}[-./]\d{1,2}$/.test(raw)) continue; // a date
      if (!intl && /^\d{1,2}[-./]\d{1,2}[-./]\d{2,4}$/.test(raw)) continue;
      let valid = false;
      try { valid = parsePhoneNumber(raw, 'US')?.isValid() === true; } catch { valid = false; }
      if (valid) best = { type: 'PHONE_NUMBER', start: s, end: e };
    }
    if (best) { push(best); while (g + 1 < groups.length && groups[g + 1]!.s < best.end) g++; }
  }
}

function isAlnum(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
}

/**
 * Whether the character at `i` glues a digit run to an identifier: a letter or digit, or a run of
 * underscores (at most 8 looked at) that a letter or digit continues in `dir`.
 */
function gluedAt(text: string, i: number, dir: 1 | -1): boolean {
  for (let k = 0; k < 8 && i >= 0 && i < text.length; k++, i += dir) {
    const c = text.charCodeAt(i);
    if (c !== 95) return isAlnum(c);
  }
  return i >= 0 && i < text.length;
}

/** The kind of separator between two card groups: '-', ' ' for a run of 1-6 spaces, undefined for any other. */
function cardJoiner(s: string): string | undefined {
  if (s === ' ' || s === '-') return s;
  if (s.length > 6) return undefined;
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) !== 32) return undefined;
  return ' ';
}

function octet(d: string): boolean {
  return d.length <= 3 && Number(d) <= 255 && !(d.length > 1 && d[0] === '0');
}

/** Does a three-part numeric date exist (year 1900..2030 in either first or last position)? */
export function isDate(a: string, b: string, c: string): boolean {
  let y: number; let m: number; let d: number;
  if (a.length === 4) { y = +a; m = +b; d = +c; if (b.length > 2 || c.length > 2) return false; }
  else if (c.length === 4 && a.length <= 2 && b.length <= 2) {
    y = +c;
    // Month first (US) when it can be; otherwise day first.
    if (+a <= 12) { m = +a; d = +b; if (!dateExists(y, m, d)) { m = +b; d = +a; } }
    else { d = +a; m = +b; }
  } else return false;
  return y >= 1900 && y <= 2030 && dateExists(y, m, d);
}

export function dateExists(y: number, m: number, d: number): boolean {
  if (m < 1 || m > 12 || d < 1) return false;
  const days = [31, (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0 ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
  return d <= days[m - 1]!;
}
