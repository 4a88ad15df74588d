// Custom entities a SkillPolicy declares (MaskingSpec.custom): a regular expression or a keyword
// list. Policy patterns are untrusted input: validateCustomEntity rejects what RE2 cannot run
// (re2.ts, the check approval patterns share) and what could backtrack or cannot stream, and
// matching runs on re2js (a pure-JS port of RE2: linear time by construction).
//
// Streaming contract (boundary.ts): a custom pattern's findings are those it makes on each token
// run on its own. The whole text is scanned once; a match that would cross a run boundary is
// dropped and the runs it touched are scanned one by one, which gives the same result. A pattern
// with a part that only a separator can fill ("CASE [0-9]{6}", "MRN:\s?[0-9]{7}", "PT\([0-9]{5}\)")
// could never match that way, so validation refuses it rather than admit a rule that silently
// finds nothing. Matching across runs is not offered: a stream releases text up to any cut
// between runs (boundary.ts), so "CASE " could leave before the number that makes it a match.
import type { RE2JS } from 're2js';
import type { CustomEntity } from '@skillgate/api';
import type { Detection } from '../entities.js';
import { isTokenChar } from '../boundary.js';
import { compileRe2, re2 } from './re2.js';

export interface CustomEntityProblem {
  field: 'name' | 'pattern' | 'keywords' | 'action';
  message: string;
  /** The pattern is not one RE2 can run (re2.ts), rather than against one of the masker's own rules. */
  syntax?: true;
}

const NAME = /^[A-Z][A-Z0-9_]{1,63}$/;
const ACTIONS = new Set(['redact', 'partial', 'hash', 'tokenize']);
export const MAX_PATTERN_LENGTH = 512;
export const MAX_KEYWORD_LENGTH = 128;

/**
 * Checks a custom entity from a policy; returns the problems (empty when valid). The webhook calls
 * this on SkillPolicy admission so a bad pattern is refused with a message, not at request time.
 */
export function validateCustomEntity(entity: CustomEntity): CustomEntityProblem[] {
  const problems: CustomEntityProblem[] = [];
  if (typeof entity.name !== 'string' || !NAME.test(entity.name)) {
    problems.push({ field: 'name', message: 'name must be UPPER_SNAKE_CASE, 2-64 characters (e.g. EMPLOYEE_ID)' });
  }
  if (entity.action !== undefined && !ACTIONS.has(entity.action)) {
    problems.push({ field: 'action', message: `action must be one of ${[...ACTIONS].join(', ')}` });
  }
  if (entity.pattern === undefined && (!entity.keywords || entity.keywords.length === 0)) {
    problems.push({ field: 'pattern', message: 'give a pattern or a non-empty keywords list' });
  }
  if (entity.pattern !== undefined) {
    const why = patternProblem(entity.pattern);
    if (why) problems.push({ field: 'pattern', ...why });
  }
  if (entity.keywords !== undefined) {
    if (!Array.isArray(entity.keywords)) problems.push({ field: 'keywords', message: 'keywords must be a list of strings' });
    else {
      for (const k of entity.keywords) {
        if (typeof k !== 'string' || k.trim().length === 0) problems.push({ field: 'keywords', message: 'keywords must be non-empty strings' });
        else if (k.length > MAX_KEYWORD_LENGTH) problems.push({ field: 'keywords', message: `keyword longer than ${MAX_KEYWORD_LENGTH} characters: ${k.slice(0, 20)}…` });
        else if (/\s{2,}|[\t\n\r]/.test(k.trim())) problems.push({ field: 'keywords', message: `keyword "${k}" may contain single spaces between words, not tabs, newlines or runs of spaces` });
      }
    }
  }
  return problems;
}

/** Why a custom entity's pattern cannot be one: RE2 cannot run it (`syntax`), or it breaks a rule of the masker's. */
function patternProblem(p: string): { message: string; syntax?: true } | undefined {
  if (typeof p !== 'string' || p.length === 0) return { message: 'pattern must be a non-empty string' };
  if (p.length > MAX_PATTERN_LENGTH) return { message: `pattern longer than ${MAX_PATTERN_LENGTH} characters` };
  const { re, problem } = compileRe2(p, 'custom masking entity patterns');
  if (!re) return { message: problem, syntax: true };
  const why = ruleProblem(p, re);
  return why ? { message: why } : undefined;
}

/** The masker's own rules for a pattern RE2 runs: a match inside one token, made in linear time. */
function ruleProblem(p: string, re: RE2JS): string | undefined {
  if (/(^|[^\\])[\^$]/.test(p.replace(/\[[^\]]*\]/g, ''))) return 'anchors ^ and $ are not allowed: patterns match inside the text, within one token';
  if (hasNestedQuantifier(p)) return 'nested quantifiers such as (a+)+ or (\\d{1,3})* are not allowed: write the repetition once';
  if (re.matcher('').find()) return 'pattern matches the empty string: it must match at least one character';
  const separator = separatorOnlyPart(re);
  if (separator) {
    return `pattern has a part only a separator can fill (${separator}), but custom patterns match within one run of characters between separators (whitespace, quotes, brackets, parentheses, commas, semicolons, |): a match through that part is never made. Match the value without what surrounds it (for "CASE [0-9]{6}": [0-9]{6}, or CASE-[0-9]{6} where it is written so)`;
  }
  return undefined;
}

/** One instruction of an RE2 program, as re2js compiles it (the fields this module reads). */
interface ProgInst { op: number; runes: ArrayLike<number> }
// re2js's instruction codes (Inst.RUNE, RUNE1, RUNE_ANY, RUNE_ANY_NOT_NL): pinned with the package.
const RUNE = 8; const RUNE1 = 9; const RUNE_ANY = 10; const RUNE_ANY_NOT_NL = 11;

/**
 * The characters of a part of `re` that only non-token characters can fill (a literal space, \s, a
 * parenthesis, [ ,;]), described for a message; undefined when every part can match inside a
 * token run. Read from the compiled program, where every character test is one instruction.
 */
function separatorOnlyPart(re: RE2JS): string | undefined {
  const prog = (re as unknown as { re2Input?: { prog?: { inst?: unknown } } }).re2Input?.prog?.inst;
  if (!Array.isArray(prog)) return undefined; // not the program this module knows: nothing to say
  for (const inst of prog as ProgInst[]) {
    if (inst.op === RUNE_ANY || inst.op === RUNE_ANY_NOT_NL) continue;
    if (inst.op !== RUNE && inst.op !== RUNE1) continue;
    const r = inst.runes;
    // One rune (case folding leaves a separator as it is), or [lo, hi] ranges.
    const ranges: Array<[number, number]> = r.length === 1 ? [[r[0]!, r[0]!]] : [];
    for (let i = 0; i + 1 < r.length; i += 2) ranges.push([r[i]!, r[i + 1]!]);
    if (ranges.length === 0 || ranges.some(([lo, hi]) => admitsTokenChar(lo, hi))) continue;
    // Name what the part accepts: a space first (\s), visible characters before control ones.
    const chars: number[] = [];
    for (const [lo, hi] of ranges) for (let c = lo; c <= hi && chars.length < 64; c++) chars.push(c);
    const rank = (c: number): number => (c === 32 ? 0 : c > 32 ? 1 : 2);
    chars.sort((a, b) => rank(a) - rank(b) || a - b);
    const shown = chars.slice(0, 3).map((c) => JSON.stringify(String.fromCharCode(c)));
    const total = ranges.reduce((n, [lo, hi]) => n + hi - lo + 1, 0);
    return total === 1 ? shown[0] : `${shown.join(' or ')}${total > shown.length ? ' or another' : ''}`;
  }
  return undefined;
}

/** Whether a code point in [lo, hi] is a token character (one beyond the BMP is: its surrogates are). */
function admitsTokenChar(lo: number, hi: number): boolean {
  if (hi > 0xffff) return true;
  for (let c = lo; c <= hi; c++) if (isTokenChar(c)) return true;
  return false;
}

/** True when a quantified group contains a quantifier: (x+)+, (x*)*, (x{2,})+, (?:a|b+){3}. */
function hasNestedQuantifier(p: string): boolean {
  const stack: boolean[] = []; // per open group: does it contain a quantifier?
  for (let i = 0; i < p.length; i++) {
    const c = p[i]!;
    if (c === '\\') { i++; continue; }
    if (c === '[') { // skip a character class
      i++;
      if (p[i] === '^') i++;
      if (p[i] === ']') i++;
      while (i < p.length && p[i] !== ']') { if (p[i] === '\\') i++; i++; }
      continue;
    }
    if (c === '(') { stack.push(false); continue; }
    const quant = c === '*' || c === '+' || c === '?' || (c === '{' && /^\{\d+(,\d*)?\}/.test(p.slice(i)));
    if (c === ')') {
      const inner = stack.pop() ?? false;
      const next = p[i + 1];
      const quantified = next === '*' || next === '+' || next === '?' || (next === '{' && /^\{\d+(,\d*)?\}/.test(p.slice(i + 1)));
      // (x)? is harmless; (x+)+ and (x+){n} are not.
      if (inner && quantified && next !== '?') return true;
      if (stack.length > 0 && (inner || quantified)) stack[stack.length - 1] = true;
      continue;
    }
    if (quant && c !== '?' && stack.length > 0) stack[stack.length - 1] = true;
    if (c === '?' && stack.length > 0 && p[i - 1] !== '(' ) stack[stack.length - 1] = true;
  }
  return false;
}

export interface CompiledCustom {
  name: string;
  re?: RE2JS;
  keywords: string[]; // lower-cased
}

export function compileCustom(entities: CustomEntity[] | undefined): CompiledCustom[] {
  const out: CompiledCustom[] = [];
  for (const e of entities ?? []) {
    const problems = validateCustomEntity(e);
    if (problems.length > 0) throw new Error(`custom entity ${String(e.name)}: ${problems.map((p) => `${p.field}: ${p.message}`).join('; ')}`);
    out.push({
      name: e.name,
      re: e.pattern !== undefined ? re2().compile(e.pattern) : undefined,
      keywords: (e.keywords ?? []).map((k) => k.trim().toLowerCase()),
    });
  }
  return out;
}

/** Multi-word keywords (those with characters outside the token class) need the stream's help. */
export function spanningKeywords(custom: CompiledCustom[]): string[] {
  const out: string[] = [];
  for (const c of custom) for (const k of c.keywords) {
    for (let i = 0; i < k.length; i++) if (!isTokenChar(k.charCodeAt(i))) { out.push(k); break; }
  }
  return out;
}

const isAlnum = (c: number) => (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95 || c >= 0xc0;

export function detectCustom(text: string, custom: CompiledCustom[], out: Detection[]): void {
  if (custom.length === 0) return;
  let lowerText: string | undefined;
  for (const c of custom) {
    if (c.re) matchPattern(text, c.name, c.re, out);
    if (c.keywords.length > 0) {
      lowerText ??= lowerSameLength(text);
      matchKeywords(text, lowerText, c.name, c.keywords, out);
    }
  }
}

/** Lower-cases without changing length (a few characters, e.g. U+0130, grow when lower-cased). */
function lowerSameLength(text: string): string {
  const l = text.toLowerCase();
  if (l.length === text.length) return l;
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    const lc = ch.toLowerCase();
    out += lc.length === 1 ? lc : ch;
  }
  return out;
}

function runBounds(text: string, i: number): [number, number] {
  let s = i; while (s > 0 && isTokenChar(text.charCodeAt(s - 1))) s--;
  let e = i; while (e < text.length && isTokenChar(text.charCodeAt(e))) e++;
  return [s, e];
}

function matchPattern(text: string, name: string, re: RE2JS, out: Detection[]): void {
  const m = re.matcher(text);
  let from = 0;
  let rescannedTo = 0;
  while (from <= text.length && m.find(from)) {
    const s = m.start(); const e = m.end();
    from = e > s ? e : s + 1;
    let crosses = false;
    for (let i = s; i < e; i++) if (!isTokenChar(text.charCodeAt(i))) { crosses = true; break; }
    if (!crosses && e > s) {
      if (s >= rescannedTo) out.push({ type: name, start: s, end: e });
      continue;
    }
    // Scan each token run the crossing match touched on its own.
    let i = Math.max(s, rescannedTo);
    while (i < e) {
      if (!isTokenChar(text.charCodeAt(i))) { i++; continue; }
      const [rs, re_] = runBounds(text, i);
      if (rs >= rescannedTo || i === Math.max(s, rescannedTo)) {
        const sub = text.slice(rs, re_);
        const mm = re.matcher(sub);
        let f = 0;
        while (f <= sub.length && mm.find(f)) {
          const a = mm.start(); const b = mm.end();
          f = b > a ? b : a + 1;
          if (b > a && rs + a >= rescannedTo) out.push({ type: name, start: rs + a, end: rs + b });
        }
      }
      rescannedTo = re_;
      i = re_;
    }
    from = Math.max(from, rescannedTo);
  }
}

function matchKeywords(text: string, lowerText: string, name: string, keywords: string[], out: Detection[]): void {
  const spans: Array<[number, number]> = [];
  for (const k of keywords) {
    if (k.length === 0) continue;
    let p = lowerText.indexOf(k);
    while (p >= 0) {
      const e = p + k.length;
      const okStart = !isAlnum(k.charCodeAt(0)) || p === 0 || !isAlnum(text.charCodeAt(p - 1));
      const okEnd = !isAlnum(k.charCodeAt(k.length - 1)) || e === text.length || !isAlnum(text.charCodeAt(e));
      if (okStart && okEnd) spans.push([p, e]);
      p = lowerText.indexOf(k, p + 1);
    }
  }
  if (spans.length === 0) return;
  // Overlapping occurrences merge into one finding: independent of where a scan starts.
  spans.sort((a, b) => a[0] - b[0] || b[1] - a[1]);
  let [cs, ce] = spans[0]!;
  for (let i = 1; i < spans.length; i++) {
    const [s, e] = spans[i]!;
    if (s < ce) { ce = Math.max(ce, e); continue; }
    out.push({ type: name, start: cs, end: ce });
    cs = s; ce = e;
  }
  out.push({ type: name, start: cs, end: ce });
}
