// Detectors for the numeric family (boundary.ts): cards, SSN/ITIN, ABA routing and bank account
// numbers, phone numbers, numeric dates of birth and IPv4 addresses. Each numeric run is split into
// digit groups and separators once; the detectors look only at that run and at the context before it.
// Linear in the run: each group starts a bounded number of candidates, which groups are taken is
// kept per group, and a phone candidate is parsed only when its digits could make a valid number.
import { parsePhoneNumber } from './phone.js';
import type { Detection } from '../entities.js';
import { abaValid, cardIssuer, itinValid, luhnValid, ssnValid } from '../checksums.js';
import { CONTEXT, lookback } from './context.js';

const RUN = /[0-9+(][0-9 \t+()\-./]*/g;

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
  // Which groups a detection took (a detection covers whole groups): O(1) per question, so a run
  // with thousands of findings (a long phone list) stays linear.
  const taken = new Uint8Array(groups.length);
  const push = (d: Detection, g: number) => {
    out.push(d);
    for (let k = g; k < groups.length && groups[k]!.s < d.end; k++) taken[k] = 1;
  };
  const free = (g: number) => taken[g] === 0;
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
          push({ type: 'IP_ADDRESS', start: first.s, end: last.e }, g);
          g += 3;
          continue;
        }
      }
    }
    // Credit cards: 12-19 digits in groups joined by one consistent '-', by spaces (a run of up
    // to six: aligned columns, a "\t" or "\u00a0" escape read as spaces, fold.ts) or by tabs. A
    // '+' in front makes it an international phone number ("+4933727317115"), never a card.
    // Groups joined by tabs are cells of a table ("Store 0\t6123\t3322\t9071\t3888": about one
    // row in ten of four random 4-digit numbers passes Luhn and an issuer prefix) unless they have
    // a printed card's shape and either a card word before them or a line of their own (tabCard).
    let card: Detection | undefined;
    let joiner: string | undefined;
    let acc = '';
    // The joiner after group h, worked out once: the next turn reads it as the one before its group.
    let next: string | undefined;
    const plus = first.s > 0 && text.charCodeAt(first.s - 1) === 43;
    for (let h = g; h < groups.length && !plus; h++) {
      if (h > g) {
        const s = next;
        if (s === undefined) break;
        if (joiner === undefined) joiner = s; else if (s !== joiner) break;
      }
      acc += groups[h]!.d;
      if (acc.length > 19) break;
      const endGlued = h === groups.length - 1 && gluedAfter;
      next = h + 1 < groups.length ? cardJoiner(sep(h)) : undefined;
      const continues = next !== undefined && (joiner === undefined || next === joiner) && acc.length + groups[h + 1]!.d.length <= 19;
      if (acc.length >= 12 && !endGlued && cardIssuer(acc) && luhnValid(acc) && (joiner !== '\t' || tabCard(text, groups, g, h))) {
        card = { type: 'CREDIT_CARD', start: first.s, end: groups[h]!.e };
        if (!continues) break;
      }
    }
    if (card) { push(card, g); while (g + 1 < groups.length && groups[g + 1]!.s < card.end) g++; continue; }
    const ctx = () => lookback(text, first.s);
    // SSN / ITIN: 3-2-4.
    if (g + 2 < groups.length && first.d.length === 3 && groups[g + 1]!.d.length === 2 && groups[g + 2]!.d.length === 4
      && sep(g) === sep(g + 1) && (sep(g) === '-' || sep(g) === ' ')
      && !(g + 3 < groups.length && (sep(g + 2) === '-' || sep(g + 2) === ' ') && groups[g + 3]!.d.length <= 4 && sep(g + 2) === sep(g))
      && !(g + 2 === groups.length - 1 && gluedAfter)) {
      const d = first.d + groups[g + 1]!.d + groups[g + 2]!.d;
      const c = ctx();
      const dashed = sep(g) === '-';
      if (itinValid(d) && (dashed || CONTEXT.itin.test(c) || CONTEXT.ssn.test(c))) { push({ type: 'US_ITIN', start: first.s, end: groups[g + 2]!.e }, g); g += 2; continue; }
      if (ssnValid(d) && (dashed || CONTEXT.ssn.test(c))) { push({ type: 'US_SSN', start: first.s, end: groups[g + 2]!.e }, g); g += 2; continue; }
    }
    // Numeric dates of birth: yyyy-mm-dd, dd/mm/yyyy, mm/dd/yyyy, dd.mm.yyyy with a birth context word.
    if (g + 2 < groups.length) {
      const s1 = sep(g); const s2 = sep(g + 1);
      if (s1 === s2 && (s1 === '-' || s1 === '/' || s1 === '.') && !(g + 2 === groups.length - 1 && gluedAfter)
        && !(g + 3 < groups.length && sep(g + 2) === s1)) {
        const [a, b, c] = [first.d, groups[g + 1]!.d, groups[g + 2]!.d];
        if (isDate(a, b, c) && CONTEXT.dob.test(ctx())) { push({ type: 'DATE_OF_BIRTH', start: first.s, end: groups[g + 2]!.e }, g); g += 2; continue; }
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
      if (d.length === 9 && CONTEXT.aba.test(near) && abaValid(d)) { push({ type: 'ABA_ROUTING_NUMBER', start: first.s, end: first.e }, g); continue; }
      if (d.length === 9 && CONTEXT.ssn.test(c) && (ssnValid(d) || itinValid(d))) { push({ type: itinValid(d) ? 'US_ITIN' : 'US_SSN', start: first.s, end: first.e }, g); continue; }
      if (d.length >= 8 && d.length <= 17 && CONTEXT.bankAccount.test(near) && !CONTEXT.phone.test(near)) { push({ type: 'US_BANK_NUMBER', start: first.s, end: first.e }, g); continue; }
    }
  }
  // Phone numbers: candidates of 7-15 digits in groups (what the rules above did not claim), each
  // parsed and validated by libphonenumber-js. Calling its findNumbers on every run cost up to
  // 350 µs per run (it tries every sub-span); a parse of one candidate costs about 16 µs, so only a
  // candidate whose digits could be valid is parsed (nationalCouldBeValid), and a candidate seen
  // lately is not parsed again (a long list of numbers, or of one digit, repeats them). Runs of any
  // length are read: a list of numbers joined by spaces is one run ("+1 415 555 0100 +1 415 …").
  if (gluedBefore) return;
  for (let g = 0; g < groups.length; g++) {
    const first = groups[g]!;
    if (!free(g)) continue;
    if (g > 0 && /^[-.]$/.test(sep(g - 1)) && free(g - 1)) continue; // middle of a dotted/dashed number
    let s = first.s;
    const lead = text.slice(Math.max(runStart, first.s - 2), first.s);
    if (lead.endsWith('+')) s = first.s - 1;
    else if (lead.endsWith('(')) s = first.s - 1;
    else if (lead === '+(') s = first.s - 2;
    let digits = 0;
    let national = '';
    let best: Detection | undefined;
    for (let h = g; h < groups.length; h++) {
      if (h > g) {
        const sp = sep(h - 1);
        if (sp.length > 2 || !/^(?:[ \-.\/]|\) ?|\( ?| \(|\)-)$/.test(sp)) break;
      }
      if (!free(h)) break;
      digits += groups[h]!.d.length;
      national += groups[h]!.d;
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
      if (!intl && !nationalCouldBeValid(national)) continue;
      if (validPhone(raw)) best = { type: 'PHONE_NUMBER', start: s, end: e };
    }
    if (best) { push(best, g); while (g + 1 < groups.length && groups[g + 1]!.s < best.end) g++; }
  }
}

/**
 * Whether the digits of a candidate written without '+' could be a valid number when parsed as
 * US-national (as the parse below does): ten digits of the North American plan (area code and
 * exchange starting 2-9), those after a '1', or a number dialled out with the US prefix 011. A
 * necessary condition only (libphonenumber decides); checked against its parse on 300,000 random
 * candidates, no valid number among those it refuses.
 */
function nationalCouldBeValid(d: string): boolean {
  if (d.startsWith('011')) return true;
  const n = d.length === 11 && d.charCodeAt(0) === 49 ? 1 : 0;
  return d.length - n === 10 && d.charCodeAt(n) >= 50 && d.charCodeAt(n + 3) >= 50;
}

/** Parses seen lately (a bounded memo: a long list or a run of one digit repeats candidates). */
const parsed = new Map<string, boolean>();
const PARSED_MAX = 512;

function validPhone(raw: string): boolean {
  let valid = parsed.get(raw);
  if (valid !== undefined) return valid;
  try { valid = parsePhoneNumber(raw, 'US')?.isValid() === true; } catch { valid = false; }
  if (parsed.size >= PARSED_MAX) parsed.clear();
  parsed.set(raw, valid);
  return valid;
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

/**
 * The kind of separator between two card groups: '-'; ' ' for a run of 1-6 spaces; '\t' for a run of
 * 1-6 spaces and tabs with a tab (a card pasted from a table or typed with tabs); undefined for
 * any other. A card's groups are joined by one kind throughout.
 */
function cardJoiner(s: string): string | undefined {
  if (s === ' ' || s === '-') return s;
  if (s.length > 6) return undefined;
  let tab = false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 9) tab = true;
    else if (c !== 32) return undefined;
  }
  return tab ? '\t' : ' ';
}

/** Digits per group of a card as printed: 4-4-4-4 (16), 4-4-4-4-3 (19), American Express 4-6-5, Diners Club 4-6-4. */
const CARD_SHAPES = new Set(['4 4 4 4', '4 4 4 4 3', '4 6 5', '4 6 4']);

/**
 * Whether groups[g..h], joined by tabs, are a card rather than cells of a table row: they have a
 * card's printed shape (CARD_SHAPES) and either a card word stands just before them ("card\t4111
 * \t1111…", "cc: …") or they are a line of their own: nothing but blanks before them on their
 * line, no further group in their run, and no tab in the line before (a table's header or rows).
 * Reads only the run and the LOOKBACK characters before it (boundary.ts).
 */
function tabCard(text: string, groups: Group[], g: number, h: number): boolean {
  let shape = '';
  for (let k = g; k <= h; k++) shape += (k > g ? ' ' : '') + groups[k]!.d.length;
  if (!CARD_SHAPES.has(shape)) return false;
  const start = groups[g]!.s;
  const before = lookback(text, start);
  if (CONTEXT.card.test(lookback(text, start, 32))) return true;
  if (h !== groups.length - 1) return false;
  const nl = before.lastIndexOf('\n');
  if (nl < 0 ? start > before.length : false) return false; // a line longer than the look-back
  if (!/^[\t \r]*$/.test(before.slice(nl + 1))) return false;
  return before.slice(before.lastIndexOf('\n', nl - 1) + 1, Math.max(nl, 0)).indexOf('\t') < 0;
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
