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
// An address is a local part of 1-64 characters, '@', and 2-9 dot-separated labels of 1-63
// characters each (lengths in code points). Letters and digits of any script are allowed
// ("josé@example.com", "info@müller.de", "иван@пример.рф"). Scripts written without spaces between
// words (Han, kana, Hangul, Thai…) glue the words around an address to it ("連絡先jane@example.comまで"):
// a local part or a label is either free of their letters or made of them and characters of no
// script (digits, marks, "._%+-"), so the address ends where the script changes.
//
// The top-level domain: two letters (a country), one of the common ones below, or any other
// alphabetic one of up to 24 letters (or an IDN's "xn--…" form) that is not a file extension
// ("report.pdf", "icon@2x.png"; an address with a file extension after it, "jane@example.com.csv",
// is the address without it) and does not look like code ("this@Outer.method", "q@k.transpose",
// "x@self.weight").
const TLDS = new Set(('com org net edu gov mil int info biz dev app io ai co me us uk tv cc ly to fm sh xyz online site tech '
  + 'cloud email name pro mobi company example test invalid local internal corp lan home arpa news blog shop store '
  + 'agency digital global group solutions services systems network media studio works world today life live '
  + 'health bank finance capital legal law consulting software security team academy education university').split(' '));
/** File extensions that are never a top-level domain here (some are TLDs too: .zip, .mov; files win). */
const FILE_EXT = new Set(('png jpg jpeg gif svg webp ico bmp tif tiff heic avif psd pdf doc docx xls xlsx ppt pptx odt ods rtf '
  + 'csv tsv txt md rst tex log ini cfg conf toml env yaml yml json jsonl xml html htm css scss sass less map js mjs cjs jsx ts tsx '
  + 'vue svelte py pyc ipynb rb go rs java kt kts scala swift php sh bash zsh bat cmd cpp hpp cxx sql db sqlite lock '
  + 'zip gz tgz xz rar tar jar war apk dmg exe msi dll dylib wasm iso img deb rpm whl gem wav flac ogg webm mkv avi mov '
  + 'woff ttf otf eot pem crt cer key bak tmp swp orig patch diff proto gradle sln csproj').split(' '));
/** A language's receivers and labels, not a mailbox or a host (Kotlin's this@Outer.f, Python's x@self.weight). */
const CODE_RECEIVERS = new Set(['this', 'super', 'self', 'cls', 'return', 'break', 'continue']);

const LETTER = /\p{L}/u;
const OTHER_LOCAL = /[\p{M}\p{N}]/u; // marks and digits of any script: characters of no script kind
const UNSPACED = /[\p{scx=Han}\p{scx=Hiragana}\p{scx=Katakana}\p{scx=Hangul}\p{scx=Thai}\p{scx=Lao}\p{scx=Khmer}\p{scx=Myanmar}]/u;
const NONE = 0; const NEUTRAL = 1; const SPACED = 2; const UNSPACED_LETTER = 3;

/** What a code point is in an address: NONE (not in one), NEUTRAL (digits, marks, punctuation allowed), or a letter of a kind. */
function addressKind(cp: number, local: boolean): number {
  if (cp < 0x80) {
    if ((cp >= 65 && cp <= 90) || (cp >= 97 && cp <= 122)) return SPACED;
    if ((cp >= 48 && cp <= 57) || cp === 45) return NEUTRAL;
    return local && (cp === 46 || cp === 95 || cp === 37 || cp === 43) ? NEUTRAL : NONE;
  }
  const ch = String.fromCodePoint(cp);
  if (LETTER.test(ch)) return UNSPACED.test(ch) ? UNSPACED_LETTER : SPACED;
  return OTHER_LOCAL.test(ch) ? NEUTRAL : NONE;
}

/** The code point that ends just before `i` (a surrogate pair read whole), and its length. */
function cpBefore(text: string, i: number): [number, number] {
  const lo = text.charCodeAt(i - 1);
  if (lo >= 0xdc00 && lo <= 0xdfff && i >= 2) {
    const hi = text.charCodeAt(i - 2);
    if (hi >= 0xd800 && hi <= 0xdbff) return [((hi - 0xd800) << 10) + (lo - 0xdc00) + 0x10000, 2];
  }
  return [lo, 1];
}

/** Whether a character of kind `k` may join a run whose letters are of kind `run` (NONE: no letter yet). */
const joins = (k: number, run: number): boolean => k !== NONE && (k === NEUTRAL || run === NONE || k === run);

/**
 * The labels of a domain starting at `p`: its end, or -1 when there is no domain of at least two
 * labels there. Each label is 1-63 code points of one kind; the domain ends at the first character
 * that neither continues a label nor is a '.' followed by one (at most 9 labels).
 */
function domainEnd(text: string, p: number): number {
  let labels = 0;
  let end = -1;
  let i = p;
  for (;;) {
    let run = NONE; let n = 0; let j = i;
    while (j < text.length && n < 63) {
      const cp = text.codePointAt(j)!;
      const k = addressKind(cp, false);
      if (!joins(k, run)) break;
      if (k !== NEUTRAL) run = k;
      j += cp > 0xffff ? 2 : 1; n++;
    }
    if (n === 0) return labels >= 2 ? end : -1;
    labels++;
    end = j;
    // The first label must be followed by '.' and another label; later ones may end the domain.
    if (labels === 9 || text.charCodeAt(j) !== 46) return labels >= 2 ? end : -1;
    i = j + 1;
    if (i >= text.length || addressKind(text.codePointAt(i)!, false) === NONE) return labels >= 2 ? end : -1;
  }
}

/**
 * Whether `domain` (labels joined by '.') and `local` make a plausible address: no empty label or
 * one starting or ending with '-', and a top-level domain as described above.
 */
export function plausibleEmail(local: string, domain: string): boolean {
  const labels = domain.split('.');
  if (labels.some((l) => l.length === 0 || l.startsWith('-') || l.endsWith('-'))) return false;
  const tld = labels[labels.length - 1]!;
  const lower = tld.toLowerCase();
  if (/^xn--[a-z0-9-]{2,59}$/.test(lower)) return true;
  // Letters (a combining mark only after one: a label that starts with a mark is no name).
  if (!/^\p{L}[\p{L}\p{M}]{1,23}$/u.test(tld) || FILE_EXT.has(lower)) return false;
  if ((lower.length === 2 && /^[a-z]{2}$/.test(lower)) || TLDS.has(lower)) return true;
  // Any other top-level domain: not what code written around an '@' makes.
  return (tld === lower || tld === tld.toUpperCase())
    && [...labels[labels.length - 2]!].length >= 2
    && !/^\d+x$/i.test(labels[0]!)
    && !CODE_RECEIVERS.has(local.toLowerCase()) && !CODE_RECEIVERS.has(labels[0]!.toLowerCase());
}

/**
 * A file named after an address ("jane.doe@example.com.csv"): the domain without the file
 * extension, when what is left is a plausible address ending in a country code or a common
 * top-level domain; undefined otherwise ("icon@2x.png", "report@v2.final.pdf" stay no address).
 */
export function domainBeforeFileExtension(local: string, domain: string): string | undefined {
  const dot = domain.lastIndexOf('.');
  if (dot < 0 || !FILE_EXT.has(domain.slice(dot + 1).toLowerCase())) return undefined;
  const rest = domain.slice(0, dot);
  const tld = rest.slice(rest.lastIndexOf('.') + 1).toLowerCase();
  if (rest.indexOf('.') < 0 || !(/^[a-z]{2}$/.test(tld) || TLDS.has(tld))) return undefined;
  return plausibleEmail(local, rest) ? rest : undefined;
}

// Found from each '@' (indexOf) rather than by a pattern run from every position of the text.
// For each '@' the local part starts where a leftmost-first scan would start it: as far back as
// its characters go (at most 64, not before the end of the previous address); a 65th one glued in
// front means no address.
function detectEmail(text: string, out: Detection[]): void {
  let floor = 0; // end of the previous address
  let a = text.indexOf('@');
  while (a >= 0) {
    let s = a; let run = NONE; let n = 0;
    while (s > floor && n < 64) {
      const [cp, w] = cpBefore(text, s);
      const k = addressKind(cp, true);
      if (!joins(k, run)) break;
      if (k !== NEUTRAL) run = k;
      s -= w; n++;
    }
    const next = () => { a = text.indexOf('@', a + 1); };
    if (s === a) { next(); continue; } // no local part at this '@'
    let e = domainEnd(text, a + 1);
    if (e < 0) { next(); continue; }
    // The local part must start at a boundary (no 65th character glued in front).
    if (s > 0 && joins(addressKind(cpBefore(text, s)[0], true), run)) { next(); continue; }
    const at = a;
    floor = e;
    a = text.indexOf('@', e);
    const local = text.slice(s, at);
    if (local.startsWith('.') || local.endsWith('.') || local.includes('..')) continue;
    // Trailing hyphens belong to the sentence, not the domain.
    while (e > at && text.charCodeAt(e - 1) === 45) e--;
    const domain = text.slice(at + 1, e);
    if (!plausibleEmail(local, domain)) {
      const rest = domainBeforeFileExtension(local, domain);
      if (rest === undefined) continue;
      e = at + 1 + rest.length;
    }
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
// "password=…", "DB_PASSWORD: …", "api_key": "…", "aws_secret_access_key = …",
// "Authorization: Bearer …" and "Authorization: Basic …" (base64 of "user:password"). The keyword
// and the separator stay visible; only the value is a finding. A password's value is one token
// run, or a passphrase of several when it is quoted or the value of a "key: value" line with a
// space after the separator (passphraseKind; "KEY=value" glued is a shell assignment, which a space
// ends): the one family of detections that crosses spaces; a stream holds it by passphraseSpans
// (stream-text.ts).
const KEYWORD = /pass(?:word|wd|phrase)?|pwd|secret|token|api[_\-]?key|apikey|access[_\-]?key|auth[_\-]?key|credentials?|private[_\-]?key|client[_\-]?secret|bearer|\bbasic\b|\bkey\b/gi;
/** Schemes of an Authorization header: their value follows a space, and is judged by its own rule. */
const AUTH_SCHEMES = new Set(['bearer', 'basic']);
const PLACEHOLDER = /^(?:\*+|x+|\.+|<[^>]*>?|\$\{?[A-Za-z_][A-Za-z0-9_]*\}?|\{\{.*|%[A-Za-z_]+%?|null|none|nil|undefined|true|false|redacted|\[redacted\]|changeme_?|your[_\-].*|example|dummy|required|optional|string|env|process\.env.*)$/i;

/** [A-Za-z0-9_-]: a character of an identifier glued to a keyword. */
const identifierChar = (c: number): boolean => (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c === 95 || c === 45;

/**
 * Where the value assigned after a keyword that ends at `p` starts, and whether it was assigned with
 * spaces only ("token X"); undefined when the text after the keyword is no assignment. Reads the
 * text from `p` on only as far as it needs, so on a text that may still grow (a stream) a start
 * before the end is final (hold.ts relies on this).
 */
export function assignedValueStart(text: string, p: number, kw: string): { vs: number; spaced: boolean } | undefined {
  // rest of an identifier (DB_PASSWORD_FILE, secretKey), bounded
  let k = 0;
  while (p < text.length && k < 24 && identifierChar(text.charCodeAt(p))) { p++; k++; }
  if (k === 24) return undefined;
  if (text[p] === '"' || text[p] === "'") p++;
  let sp = 0;
  while (p < text.length && sp < 3 && (text[p] === ' ' || text[p] === '\t')) { p++; sp++; }
  let sepOk = false;
  if (text[p] === '=' && text[p + 1] === '>') { p += 2; sepOk = true; }
  else if (text[p] === ':' || text[p] === '=') { p++; sepOk = true; }
  else if (sp > 0) sepOk = true; // "key X", "token X": only a random-looking X counts (below)
  if (!sepOk) return undefined;
  const spaced = !(text[p - 1] === ':' || text[p - 1] === '=' || text[p - 1] === '>') && !AUTH_SCHEMES.has(kw);
  sp = 0;
  while (p < text.length && sp < 3 && (text[p] === ' ' || text[p] === '\t')) { p++; sp++; }
  if (text[p] === '"' || text[p] === "'" || text[p] === '`') p++;
  // "token: Bearer x", "credentials: Basic x": handled by the scheme's own keyword.
  // (The regex only where it could match: a 'b', a space or a non-ASCII space first; this runs for
  // every keyword of a stream's window on every push, stream-text.ts.)
  const c0 = text.charCodeAt(p);
  if ((c0 === 98 || c0 === 66 || c0 <= 32 || c0 > 127) && /^\s*(?:bearer|basic)\s/i.test(text.slice(p, p + 8)) && !AUTH_SCHEMES.has(kw)) return undefined;
  return { vs: p, spaced };
}

const isPasswordKeyword = (kw: string): boolean => kw.startsWith('pass') || kw === 'pwd';

/** Longest passphrase read after a password keyword (characters from the value's start). */
export const PASSPHRASE_MAX = 128;
/** What may stand before a password key on its line: indentation, a list or quote marker, "export", a quote, an identifier glued to the keyword (DB_PASSWORD). */
const KEY_LINE_PREFIX = /^[\t ]*(?:[-*>#]+[\t ]*)?(?:export[\t ]+)?["'`]?[A-Za-z0-9_.-]*$/;
/** How far before a password keyword passphraseKind reads (within a stream's window, stream-text.ts). */
const KEY_LINE_REACH = 64;

/**
 * Words of English prose, never a word of a passphrase written unquoted: a "key: value" line that
 * goes on with them is a sentence about the password ("password: must be at least 12 characters
 * long"), so an unquoted first value that is one of them is no password, and an unquoted
 * passphrase ends before one ("password: hunter22 is the old one").
 */
const PROSE_WORDS = new Set(('a an the this that these those it its is are was were be been being am has have had do does did '
  + 'must should shall will would can could cannot may might not no nor to of in on at by for with within without from into '
  + 'as than then and or but if when where which who whom whose what why how least most more less only also both either '
  + 'neither each every any some all contain contains containing include includes including need needs require '
  + 'requires use uses used').split(' '));

/**
 * Whether a password value starting at `vs` (its keyword starting at `kw`) may run on past spaces,
 * and how: 'quoted' when a quote opened it ('"password": "correct horse battery staple"'); 'line'
 * when the separator is followed by a space and the keyword is the key of its line ("password:
 * correct horse battery staple", "passphrase = correct horse"); undefined otherwise. A value glued
 * to its separator is a shell or ENV assignment ("DB_PASSWORD=s3cret npm run migrate"), which a
 * space ends; in prose ("the password=hunter2 worked") the value is its first token run. Reads at
 * most KEY_LINE_REACH characters before the keyword.
 */
function passphraseKind(text: string, kw: number, vs: number): 'quoted' | 'line' | undefined {
  const q = text.charCodeAt(vs - 1);
  if (q === 34 || q === 39 || q === 96) return 'quoted';
  if (q !== 32 && q !== 9) return undefined;
  const from = Math.max(0, kw - KEY_LINE_REACH);
  let nl = kw - 1;
  while (nl >= from && text.charCodeAt(nl) !== 10) nl--;
  if (nl < from && from > 0) return undefined;
  return KEY_LINE_PREFIX.test(text.slice(nl + 1, kw)) ? 'line' : undefined;
}

/** A first value that is no password: too short, a placeholder, or (unquoted on a key line) a word of prose. */
function refusedPassword(value: string, kind: 'quoted' | 'line' | undefined): boolean {
  return value.length < 4 || PLACEHOLDER.test(value) || (kind === 'line' && PROSE_WORDS.has(value.toLowerCase()));
}

/**
 * The end of a passphrase whose first token run is text[vs, ve): it runs on over one space and the
 * next token run, as long as the whole stays within PASSPHRASE_MAX; a newline, two spaces, a
 * quote or other punctuation end it, and so does a word that starts a shell operator or comment
 * ("&&", "&", "2>", "#"; ';', '|', '<' and '>' are no token characters) or, unquoted, a word of
 * prose (PROSE_WORDS). A word is judged once it is complete. `open`: the text ends where the
 * passphrase could still go on (a stream must hold it from `vs`).
 */
function passphraseEnd(text: string, vs: number, ve: number, quoted: boolean): { end: number; open: boolean } {
  let e = ve;
  for (;;) {
    if (e >= text.length) return { end: e, open: true };
    if (text.charCodeAt(e) !== 32) return { end: e, open: false };
    if (e + 1 >= text.length) return { end: e, open: true };
    const c = text.charCodeAt(e + 1);
    if (!isTokenChar(c) || c === 38 || c === 35) return { end: e, open: false }; // '&', '#'
    let f = e + 1;
    while (f < text.length && isTokenChar(text.charCodeAt(f)) && f - vs <= PASSPHRASE_MAX) f++;
    if (f - vs > PASSPHRASE_MAX) return { end: e, open: false };
    if (f >= text.length) return { end: f, open: true };
    const after = text.charCodeAt(f);
    if ((after === 62 || after === 60) && /^\d*$/.test(text.slice(e + 1, f))) return { end: e, open: false }; // "2>", "1<"
    if (!quoted && PROSE_WORDS.has(text.slice(e + 1, f).toLowerCase())) return { end: e, open: false };
    e = f;
  }
}

/** The keyword pattern passphraseSpans scans with (made once: it runs on a stream's every push, never reentered). */
const SPAN_KEYWORDS = new RegExp(KEYWORD.source, 'gi');

/** A passphrase span (passphraseSpans): [start, end); `open` when it may still grow, `final` when more text cannot change it. */
export interface PassphraseSpan { start: number; end: number; open: boolean; final: boolean }

/** How far past a keyword's end assignedValueStart may read (identifier, quotes, spaces, separator, "bearer "). */
const ASSIGNMENT_AHEAD = 48;

/**
 * Where a stream must not cut for passphrases: for each password assignment whose keyword starts
 * at or after `from` and that may run on past its first value, [value start, passphrase end), and
 * whether it may still grow. A superset of what detectAssigned masks across spaces: a first value
 * is refused (refusedPassword) only once complete, and one over PASSPHRASE_MAX characters or
 * ending in '.'/':' has no continuation (its own token run is held as a token run, boundary.ts).
 * `settled`: every password keyword before it is read for good (its span, if any, is `final`), so
 * a stream may keep those spans and start its next call there. Linear in the text from `from`: a
 * first value is read at most PASSPHRASE_MAX + 1 characters, and a token run holding many keywords
 * ("pwd=pwd=…") is read once for all of them.
 */
export function passphraseSpans(text: string, from: number): { spans: PassphraseSpan[]; settled: number } {
  const spans: PassphraseSpan[] = [];
  let settled = -1; // the start of the first keyword not read for good, once there is one
  const kwRe = SPAN_KEYWORDS;
  kwRe.lastIndex = from;
  // text[runFrom, runTo) is known to be token characters only.
  let runFrom = 0; let runTo = 0;
  let scanned = from;
  let m: RegExpExecArray | null;
  while ((m = kwRe.exec(text)) !== null) {
    scanned = kwRe.lastIndex;
    const kw = m[0].toLowerCase();
    if (!isPasswordKeyword(kw)) continue;
    const unsettled = () => { if (settled < 0) settled = m!.index; };
    const a = assignedValueStart(text, m.index + m[0].length, kw);
    const kind = a && !a.spaced ? passphraseKind(text, m.index, a.vs) : undefined;
    if (!a || kind === undefined) {
      // Decided from at most ASSIGNMENT_AHEAD characters after the keyword (and 64 before it).
      if (m.index + m[0].length + ASSIGNMENT_AHEAD > text.length) unsettled();
      continue;
    }
    const limit = Math.min(text.length, a.vs + PASSPHRASE_MAX + 1);
    let ve = a.vs >= runFrom && a.vs <= runTo ? Math.min(runTo, limit) : a.vs;
    while (ve < limit && isTokenChar(text.charCodeAt(ve))) ve++;
    if (ve > runTo || a.vs < runFrom) { runFrom = a.vs; runTo = ve; }
    if (ve - a.vs > PASSPHRASE_MAX) continue;
    if (ve >= text.length) { unsettled(); spans.push({ start: a.vs, end: ve, open: true, final: false }); continue; }
    const last = text.charCodeAt(ve - 1);
    if (last === 46 || last === 58) continue; // '.', ':': detectAssigned ends the value before them
    if (refusedPassword(text.slice(a.vs, ve), kind)) continue;
    const p = passphraseEnd(text, a.vs, ve, kind === 'quoted');
    if (p.open) unsettled();
    spans.push({ start: a.vs, end: p.end, open: p.open, final: settled < 0 });
  }
  // A keyword may still be arriving in the last three characters ("pas", "pw").
  return { spans, settled: settled >= 0 ? settled : Math.max(scanned, text.length - 3) };
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
    const isPassword = isPasswordKeyword(kw) && !spaced;
    const kind = isPassword ? passphraseKind(text, m.index, vs) : undefined;
    if (isPassword && refusedPassword(value, kind)) continue;
    if (kw === 'basic') {
      // "Basic" is a word too: only base64 of "user:password" counts.
      if (!basicCredentials(value)) continue;
    } else if (spaced) {
      // No '=' or ':': only a value that looks generated (length, mixed classes, entropy).
      if (value.length < 12 || value.length > 128 || entropy(value) < 3.5 || !/[a-z]/.test(value) || !/[A-Z]/.test(value) || !/\d/.test(value)) continue;
    } else if (!isPassword) {
      // tokens and keys must look random: long enough and high entropy
      if (value.length < 12 || entropy(value) < 3.0 || !/\d/.test(value) && !/[A-Z]/.test(value)) continue;
    }
    // A passphrase ("password: correct horse battery staple"): the words after the first, to the
    // end of the quoted value or of the line, or to a shell operator or (unquoted) a word of prose.
    if (kind !== undefined) {
      ve = passphraseEnd(text, vs, ve, kind === 'quoted').end;
      while (ve > vs && /[.:]/.test(text[ve - 1]!)) ve--;
    }
    const ctx = lookback(text, vs, 48);
    const subtype = /aws/.test(ctx) && value.length === 40 ? 'aws' : 'generic';
    out.push({ type: 'SECRET', subtype, start: vs, end: ve });
    KEYWORD.lastIndex = Math.max(KEYWORD.lastIndex, vs);
  }
}

/** HTTP Basic credentials: base64 (padded) of printable "user:password" with a password. */
function basicCredentials(value: string): boolean {
  if (value.length < 8 || value.length % 4 !== 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(value)) return false;
  const decoded = Buffer.from(value, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  // eslint-disable-next-line no-control-regex
  return colon >= 0 && colon < decoded.length - 1 && !/[\u0000-\u001f\u007f\ufffd]/.test(decoded);
}

/**
 * The password of a URL's user information (`postgres://app:Xk9pQ2mW@db:5432/app`,
 * `redis://:pw@cache:6379`): connection strings carry database and cache passwords so, whatever
 * the host looks like. The password is what is masked; the user, the host and the rest stay. It
 * runs to the last '@' before the host (an unencoded '@' in it, as URL parsers read it). Only token
 * characters (boundary.ts): the whole URL is one token run, which the stream holds from its "://"
 * on (hold.ts); a password with `(),;'` in it (RFC 3986 allows them unencoded) is not read.
 */
const URL_PASSWORD = /(?<![A-Za-z0-9+.-])[A-Za-z][A-Za-z0-9+.-]{0,31}:\/\/[A-Za-z0-9\-._~!$&*+=%]*:([A-Za-z0-9\-._~!$&*+=%:@]{1,256})@(?=[A-Za-z0-9[])/g;

function detectUrlPasswords(text: string, out: Detection[]): void {
  URL_PASSWORD.lastIndex = 0;
  let m: RegExpExecArray | null;
  while ((m = URL_PASSWORD.exec(text)) !== null) {
    const password = m[1]!;
    if (PLACEHOLDER.test(password)) continue;
    const end = m.index + m[0].length - 1; // before the '@'
    out.push({ type: 'SECRET', subtype: 'url-password', start: end - password.length, end });
  }
}

export function detectTokens(text: string, out: Detection[]): void {
  if (text.indexOf('://') >= 0) detectUrlPasswords(text, out);
  detectEmail(text, out);
  detectIpv6(text, out);
  detectMac(text, out);
  detectCrypto(text, out);
  detectVendorSecrets(text, out);
  if (text.indexOf('eyJ') >= 0) detectJwt(text, out);
  detectAssigned(text, out);
}
