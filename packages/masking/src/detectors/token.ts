// Detectors for the token family (boundary.ts): emails, IPv6 and MAC addresses, crypto wallets,
// and secrets (vendor formats with their checksums, JWTs, keyword-assigned high-entropy values).
// Every match stays inside one run of token characters; unbounded forms are scanned by hand so a
// failed candidate is never rescanned (linear time on adversarial input).
import { isIPv6 } from 'node:net';
import type { Detection } from '../entities.js';
import { base58checkValid, bech32Valid, entropy, githubTokenValid } from '../checksums.js';
import { isTokenChar } from '../boundary.js';
import { CONTEXT, lookback } from './context.js';

const isAlnum = (c: number) => (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
const isB64url = (c: number) => isAlnum(c) || c === 45 || c === 95;
const isHex = (c: number) => (c >= 48 && c <= 57) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102);

// ---------------------------------------------------------------- email
const EMAIL = /[A-Za-z0-9._%+\-]{1,64}@[A-Za-z0-9\-]{1,63}(?:\.[A-Za-z0-9\-]{1,63}){1,8}/g;
const TLDS = new Set(('com org net edu gov mil int info biz dev app io ai co me us uk tv cc ly to fm sh xyz online site tech '
  + 'cloud email name pro mobi company example test invalid local internal corp lan home arpa news blog shop store '
  + 'agency digital global group solutions services systems network media studio works world today life live '
  + 'health bank finance capital legal law consulting software security team academy education university').split(' '));
const FILE_EXT = new Set('png jpg jpeg gif svg webp ico pdf js ts mjs cjs jsx tsx css scss map json yaml yml md txt html htm xml zip gz tgz py rb go rs java kt swift php sh lock'.split(' '));

// Found from each '@' (indexOf) rather than by running EMAIL from every position of the text,
// which tried up to 64 local-part characters at every word of prose before failing. For each '@'
// the candidate start is the one the global regex would find (the leftmost local-part position at
// or after the end of the previous match, at most 64 back); EMAIL_AT then matches from there.
const EMAIL_AT = new RegExp(EMAIL.source, 'y');
const isLocal = (c: number) => isAlnum(c) || c === 46 || c === 95 || c === 37 || c === 43 || c === 45;

function detectEmail(text: string, out: Detection[]): void {
  let floor = 0; // end of the previous match: the regex never starts a match before it
  let a = text.indexOf('@');
  while (a >= 0) {
    let run = a;
    while (run > floor && a - run < 64 && isLocal(text.charCodeAt(run - 1))) run--;
    const s = run;
    const before = s > 0 ? text.charCodeAt(s - 1) : 32;
    if (s === a) { a = text.indexOf('@', a + 1); continue; } // no local part: no match at this '@'
    EMAIL_AT.lastIndex = s;
    const m = EMAIL_AT.exec(text);
    if (m === null) { a = text.indexOf('@', a + 1); continue; }
    // The local part must start at a boundary (no 65th character glued in front).
    if (isLocal(before)) { a = text.indexOf('@', a + 1); continue; }
    let e = s + m[0].length;
    floor = e;
    a = text.indexOf('@', e);
    const at = m[0].indexOf('@');
    const local = m[0].slice(0, at);
    if (local.startsWith('.') || local.endsWith('.') || local.includes('..')) continue;
    // Trailing dots/hyphens belong to the sentence, not the domain.
    while (e > s && (text.charCodeAt(e - 1) === 46 || text.charCodeAt(e - 1) === 45)) e--;
    const domain = text.slice(s + at + 1, e);
    const tld = domain.slice(domain.lastIndexOf('.') + 1).toLowerCase();
    if (!/^[a-z]{2,24}$/.test(tld) || FILE_EXT.has(tld) || !(tld.length === 2 || TLDS.has(tld))) continue;
    if (domain.split('.').some((l) => l.length === 0 || l.startsWith('-') || l.endsWith('-'))) continue;
    out.push({ type: 'EMAIL_ADDRESS', start: s, end: e });
  }
}

// ---------------------------------------------------------------- IPv6
const IPV6_TRIGGER = /[0-9A-Fa-f]{0,4}:[0-9A-Fa-f]{0,4}:/g;
const isV6 = (c: number) => isHex(c) || c === 58 || c === 46;

function detectIpv6(text: string, out: Detection[]): void {
  if (text.indexOf(':') < 0) return;
  IPV6_TRIGGER.lastIndex = 0;
  let m: RegExpExecArray | null;
  let scannedTo = -1;
  while ((m = IPV6_TRIGGER.exec(text)) !== null) {
    if (m.index < scannedTo) continue;
    let s = m.index;
    while (s > 0 && isV6(text.charCodeAt(s - 1)) && m.index - s < 46) s--;
    let e = m.index + m[0].length;
    while (e < text.length && isV6(text.charCodeAt(e)) && e - s < 47) e++;
    scannedTo = e;
    IPV6_TRIGGER.lastIndex = Math.max(IPV6_TRIGGER.lastIndex, e);
    if (e - s > 45) continue;
    const before = s > 0 ? text.charCodeAt(s - 1) : 32;
    const after = e < text.length ? text.charCodeAt(e) : 32;
    if (isAlnum(before) || isAlnum(after) || before === 95 || after === 95) continue;
    let cand = text.slice(s, e);
    while (cand.endsWith('.') || (cand.endsWith(':') && !cand.endsWith('::'))) cand = cand.slice(0, -1);
    if (!/[0-9A-Fa-f]/.test(cand) || cand.split(':').length < 3) continue;
    if (isIPv6(cand)) out.push({ type: 'IP_ADDRESS', start: s, end: s + cand.length });
  }
}

// ---------------------------------------------------------------- MAC
// Found from the separators (rare in prose) rather than from hex letters (everywhere in prose).
const MAC_TRIGGER = /[:\-][0-9A-Fa-f]{2}[:\-]|\.[0-9A-Fa-f]{4}\./g;
const MAC_AT = /[0-9A-Fa-f]{2}([:-])[0-9A-Fa-f]{2}\1[0-9A-Fa-f]{2}\1[0-9A-Fa-f]{2}\1[0-9A-Fa-f]{2}\1[0-9A-Fa-f]{2}|[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}/y;

function detectMac(text: string, out: Detection[]): void {
  MAC_TRIGGER.lastIndex = 0;
  let m: RegExpExecArray | null;
  let last = -1;
  while ((m = MAC_TRIGGER.exec(text)) !== null) {
    MAC_TRIGGER.lastIndex = m.index + 1;
    // The trigger is the 1st..4th separator of a colon form, or the 1st of a dotted form.
    const candidates = m[0][0] === '.' ? [m.index - 4] : [m.index - 2, m.index - 5, m.index - 8, m.index - 11];
    for (const s of candidates) {
      if (s < 0 || s <= last) continue;
      MAC_AT.lastIndex = s;
      const mm = MAC_AT.exec(text);
      if (!mm) continue;
      const e = s + mm[0].length;
      const before = s > 0 ? text.charCodeAt(s - 1) : 32;
      const after = e < text.length ? text.charCodeAt(e) : 32;
      const afterNext = e + 1 < text.length ? text.charCodeAt(e + 1) : 32;
      if (isAlnum(before) || isAlnum(after) || before === 58 || before === 45 || ((after === 58 || after === 45 || after === 46) && isHex(afterNext))) continue;
      out.push({ type: 'MAC_ADDRESS', start: s, end: e });
      last = e;
      MAC_TRIGGER.lastIndex = e;
      break;
    }
  }
}

// ---------------------------------------------------------------- crypto wallets
const BTC = /[13][1-9A-HJ-NP-Za-km-z]{25,34}/g;
const BECH = /(?:bc1|tb1|BC1|TB1)[02-9ac-hj-np-zAC-HJ-NP-Z]{6,87}/g;
const ETH = /0x[0-9a-fA-F]{40}/g;

function detectCrypto(text: string, out: Detection[]): void {
  for (const re of [BTC, BECH, ETH]) {
    re.lastIndex = 0;
    let m: RegExpExecArray | null;
    while ((m = re.exec(text)) !== null) {
      const s = m.index; const e = s + m[0].length;
      const before = s > 0 ? text.charCodeAt(s - 1) : 32;
      const after = e < text.length ? text.charCodeAt(e) : 32;
      if (isAlnum(before) || isAlnum(after)) continue;
      const v = m[0];
      const ok = re === BTC ? base58checkValid(v) : re === BECH ? bech32Valid(v) : CONTEXT.eth.test(lookback(text, s));
      if (ok) out.push({ type: 'CRYPTO', start: s, end: e });
    }
  }
}

// ---------------------------------------------------------------- vendor secrets
interface SecretRule { subtype: string; re: RegExp; check?: (v: string) => boolean; extend?: boolean }
const SECRET_RULES: SecretRule[] = [
  { subtype: 'anthropic', re: /sk-ant-(?:api\d\d|admin\d\d|oat\d\d|ort\d\d|sid\d\d)-[A-Za-z0-9_\-]{20,300}/g, extend: true },
  { subtype: 'openai', re: /sk-(?:proj|svcacct|admin|None)-[A-Za-z0-9_\-]{20,300}/g, extend: true },
  { subtype: 'openai', re: /sk-[A-Za-z0-9]{20}T3BlbkFJ[A-Za-z0-9]{20}/g },
  { subtype: 'aws', re: /(?:AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])[A-Z2-7]{16}/g },
  { subtype: 'github', re: /gh[pousr]_[A-Za-z0-9]{36}/g, check: githubTokenValid },
  { subtype: 'github', re: /github_pat_[A-Za-z0-9_]{60,255}/g, extend: true },
  { subtype: 'slack', re: /xox[baprse]-[0-9A-Za-z\-]{10,250}/g, extend: true },
  { subtype: 'slack', re: /xapp-\d-[A-Z0-9]{6,32}-\d{6,16}-[a-z0-9]{32,80}/g },
  { subtype: 'stripe', re: /(?:sk|rk)_(?:live|test)_[0-9A-Za-z]{16,247}/g, extend: true },
  { subtype: 'stripe', re: /whsec_[0-9A-Za-z]{24,80}/g },
  { subtype: 'google', re: /AIza[0-9A-Za-z_\-]{35}/g },
  { subtype: 'google', re: /GOCSPX-[0-9A-Za-z_\-]{28}/g },
  { subtype: 'gitlab', re: /glpat-[0-9A-Za-z_\-]{20,64}/g, extend: true },
  { subtype: 'npm', re: /npm_[A-Za-z0-9]{36}/g },
  { subtype: 'huggingface', re: /hf_[A-Za-z]{34}/g },
];
const SECRET_GATE = /sk-|AKIA|ASIA|ABIA|ACCA|A3T|gh[pousr]_|github_pat_|xox|xapp-|sk_|rk_|whsec_|AIza|GOCSPX-|glpat-|npm_|hf_/;

function detectVendorSecrets(text: string, out: Detection[]): void {
  if (!SECRET_GATE.test(text)) return;
  for (const rule of SECRET_RULES) {
    rule.re.lastIndex = 0;
    let m: RegExpExecArray | null;
    while ((m = rule.re.exec(text)) !== null) {
      const s = m.index;
      let e = s + m[0].length;
      const before = s > 0 ? text.charCodeAt(s - 1) : 32;
      if (isAlnum(before)) continue;
      if (rule.extend) { while (e < text.length && isB64url(text.charCodeAt(e))) e++; rule.re.lastIndex = e; }
      else if (e < text.length && isAlnum(text.charCodeAt(e))) continue;
      if (rule.check && !rule.check(text.slice(s, e))) continue;
      out.push({ type: 'SECRET', subtype: rule.subtype, start: s, end: e });
    }
  }
}

// ---------------------------------------------------------------- JWT
function detectJwt(text: string, out: Detection[]): void {
  let from = 0;
  let scannedTo = 0;
  for (;;) {
    const s = text.indexOf('eyJ', from);
    if (s < 0) return;
    from = s + 3;
    if (s < scannedTo) continue; // inside a segment already scanned: same outcome
    if (s > 0 && isB64url(text.charCodeAt(s - 1))) continue;
    // header . payload . signature, each base64url; the signature may be empty (alg none).
    let e = s;
    const segEnds: number[] = [];
    for (let seg = 0; seg < 3; seg++) {
      while (e < text.length && isB64url(text.charCodeAt(e))) e++;
      segEnds.push(e);
      if (seg < 2) { if (text.charCodeAt(e) !== 46) break; e++; }
    }
    scannedTo = e;
    if (segEnds.length < 3 || segEnds[0]! - s < 10 || segEnds[1]! - segEnds[0]! < 6) continue;
    let header: unknown;
    try { header = JSON.parse(Buffer.from(text.slice(s, segEnds[0]), 'base64url').toString('utf8')); } catch { continue; }
    if (header === null || typeof header !== 'object' || !('alg' in header)) continue;
    out.push({ type: 'SECRET', subtype: 'jwt', start: s, end: segEnds[2]! });
  }
}

// ---------------------------------------------------------------- keyword-assigned values
// "password=…", "DB_PASSWORD: …", "api_key": "…", "aws_secret_access_key = …". The keyword and the
// separator stay visible; only the value is a finding.
const KEYWORD = /pass(?:word|wd|phrase)?|pwd|secret|token|api[_\-]?key|apikey|access[_\-]?key|auth[_\-]?key|credentials?|private[_\-]?key|client[_\-]?secret|bearer|\bkey\b/gi;
const PLACEHOLDER = /^(?:\*+|x+|\.+|<[^>]*>?|\$\{?[A-Za-z_][A-Za-z0-9_]*\}?|\{\{.*|%[A-Za-z_]+%?|null|none|nil|undefined|true|false|redacted|\[redacted\]|changeme_?|your[_\-].*|example|dummy|required|optional|string|env|process\.env.*)$/i;

/**
 * Where the value assigned after a keyword that ends at `p` starts, and whether it was assigned with
 * spaces only ("token X"); undefined when the text after the keyword is no assignment. Reads the
 * text from `p` on only as far as it needs, so on a text that may still grow (a stream) a start
 * before the end is final (hold.ts relies on this).
 */
export function assignedValueStart(text: string, p: number, kw: string): { vs: number; spaced: boolean } | undefined {
  // rest of an identifier (DB_PASSWORD_FILE, secretKey), bounded
  let k = 0;
  while (p < text.length && k < 24 && /[A-Za-z0-9_\-]/.test(text[p]!)) { p++; k++; }
  if (k === 24) return undefined;
  if (text[p] === '"' || text[p] === "'") p++;
  let sp = 0;
  while (p < text.length && sp < 3 && (text[p] === ' ' || text[p] === '\t')) { p++; sp++; }
  let sepOk = false;
  if (text[p] === '=' && text[p + 1] === '>') { p += 2; sepOk = true; }
  else if (text[p] === ':' || text[p] === '=') { p++; sepOk = true; }
  else if (sp > 0) sepOk = true; // "key X", "token X": only a random-looking X counts (below)
  if (!sepOk) return undefined;
  const spaced = !(text[p - 1] === ':' || text[p - 1] === '=' || text[p - 1] === '>') && kw !== 'bearer';
  sp = 0;
  while (p < text.length && sp < 3 && (text[p] === ' ' || text[p] === '\t')) { p++; sp++; }
  if (text[p] === '"' || text[p] === "'" || text[p] === '`') p++;
  if (/^\s*bearer\s/i.test(text.slice(p, p + 8)) && kw !== 'bearer') return undefined; // "Authorization: Bearer x" is handled by the bearer keyword
  return { vs: p, spaced };
}

/** A fresh copy of the keyword pattern (global, case-insensitive) for callers that scan on their own. */
export const assignmentKeywords = (): RegExp => new RegExp(KEYWORD.source, 'gi');

function detectAssigned(text: string, out: Detection[]): void {
  KEYWORD.lastIndex = 0;
  let m: RegExpExecArray | null;
  while ((m = KEYWORD.exec(text)) !== null) {
    const kw = m[0].toLowerCase();
    const assigned = assignedValueStart(text, m.index + m[0].length, kw);
    if (!assigned) continue;
    const { vs, spaced } = assigned;
    let ve = vs;
    while (ve < text.length && isTokenChar(text.charCodeAt(ve)) && ve - vs <= 4096) ve++;
    while (ve > vs && /[.:]/.test(text[ve - 1]!)) ve--;
    const value = text.slice(vs, ve);
    if (value.length < 4 || value.length > 4096 || PLACEHOLDER.test(value)) continue;
    const isPassword = (kw.startsWith('pass') || kw === 'pwd') && !spaced;
    if (spaced) {
      // No '=' or ':': only a value that looks generated (length, mixed classes, entropy).
      if (value.length < 12 || value.length > 128 || entropy(value) < 3.5 || !/[a-z]/.test(value) || !/[A-Z]/.test(value) || !/\d/.test(value)) continue;
    } else if (!isPassword) {
      // tokens and keys must look random: long enough and high entropy
      if (value.length < 12 || entropy(value) < 3.0 || !/\d/.test(value) && !/[A-Z]/.test(value)) continue;
    }
    const ctx = lookback(text, vs, 48);
    const subtype = /aws/.test(ctx) && value.length === 40 ? 'aws' : 'generic';
    out.push({ type: 'SECRET', subtype, start: vs, end: ve });
    KEYWORD.lastIndex = Math.max(KEYWORD.lastIndex, vs);
  }
}

export function detectTokens(text: string, out: Detection[]): void {
  detectEmail(text, out);
  detectIpv6(text, out);
  detectMac(text, out);
  detectCrypto(text, out);
  detectVendorSecrets(text, out);
  if (text.indexOf('eyJ') >= 0) detectJwt(text, out);
  detectAssigned(text, out);
}
