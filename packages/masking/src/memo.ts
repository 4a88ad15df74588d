// Bounded memos of what masking a resent request would do again: masked strings (TextMemo) and
// parts of requests found clean (CleanParts, at the end). Claude's API is stateless: every turn
// resends the whole conversation (system prompt, tools, tool results, earlier turns), so a sidecar
// masks the same long strings again and again. Masking is a pure function of (spec, key, text) —
// except in tokenize mode, where it also fills the vault, so tokenizing maskers never use TextMemo —
// and a hit returns the very result a fresh call would. Bounded by total characters; the least
// recently used go first (approximately: an entry used again gets a second chance when eviction
// reaches it).
// Short texts are memoised too: a lookup costs a fraction of a scan, the sidecar scans a request's
// newest turn for its policy and then masks the whole request for the record (one scan, one hit),
// and short turns ("yes", "go on", small tool results) are resent as often as long ones.
// A value masked with context (a tool input's string after its member's name, json-values.ts) is
// an entry of its own, keyed by both.
// A hit costs a signature (32 characters read) and a compare of the text with the entry's, not a
// hash of the whole text (signature, below): a resent request is mostly hits, and hashing every
// character of every text was most of what masking one cost.
import type { MaskResult } from './masker.js';

export interface TextMemoOptions {
  /** Strings shorter than this are masked directly (cheaper than a lookup). */
  minChars: number;
  /**
   * What the memo may hold, in characters: each entry counts its text and context, its masked text
   * and a fixed ENTRY_OVERHEAD for the entry itself (so many short texts are bounded as well as a
   * few long ones).
   * Beyond it entries are dropped, least recently used first (approximately: see evict).
   */
  maxChars: number;
}

/** What an entry costs beyond its strings (its slots in the order and the maps, result object, findings array), in characters. */
export const ENTRY_OVERHEAD = 96;

export const DEFAULT_TEXT_MEMO: TextMemoOptions = { minChars: 1, maxChars: 16 * 1024 * 1024 };

/**
 * A memoised result, what it was masked from (its text, in its context), its signature, and whether
 * it was used again since eviction last passed it (second chance).
 */
interface MemoEntry extends MaskResult {
  readonly text: string;
  readonly context: string;
  readonly signature: number;
  used: boolean;
}

/** Characters read into a signature: all of a text this short, else this many spread over it (ends included). */
const SIGNED = 32;

/**
 * A lookup's signature: the text's length and some of its characters, and its context's. Why not
 * key a Map by the text: a text parsed from a request is a new string every time, and a Map
 * computes a new string's hash from every character (over a microsecond a kilobyte); the
 * signature reads 32 characters, and the hit is then confirmed by comparing the text with the
 * entry's (`===`, a memory compare, an order of magnitude faster than hashing). Texts that share
 * a signature are told apart by the exact maps (TextMemo.exact).
 */
export function signature(text: string, context: string): number {
  let h = Math.imul(text.length, 0x9e3779b1) ^ context.length;
  h = mix(h, text);
  if (context !== '') h = mix(h, context);
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  return (h ^ (h >>> 13)) & 0x3fffffff; // a small integer (V8 keeps it unboxed)
}

function mix(h: number, s: string): number {
  const n = s.length;
  if (n <= SIGNED) {
    for (let i = 0; i < n; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
    return h;
  }
  // The first and last eight characters, and sixteen spread between them.
  for (let i = 0; i < 8; i++) h = Math.imul(h ^ s.charCodeAt(i) ^ (s.charCodeAt(n - 1 - i) << 16), 0x01000193);
  const step = (n - 16) / 16;
  for (let k = 0; k < 16; k++) h = Math.imul(h ^ s.charCodeAt(8 + Math.floor(k * step)), 0x01000193);
  return h;
}

export class TextMemo {
  /** Every entry, oldest first: the order eviction passes them in (and what the bound counts). */
  private readonly order = new Set<MemoEntry>();
  /** One entry per signature: the lookup that reads no more of a text than its signature and a compare. */
  private readonly bySignature = new Map<number, MemoEntry>();
  /** Every entry by context, then text: the exact lookup, for texts whose signature another entry holds. */
  private readonly exact = new Map<string, Map<string, MemoEntry>>();
  private chars = 0;
  hits = 0;
  misses = 0;

  constructor(private readonly mask: (text: string, context: string) => MaskResult, private readonly opts: TextMemoOptions = DEFAULT_TEXT_MEMO) {}

  /** `text` masked (as it reads after `context`, when given: json-values.ts). */
  maskText(text: string, context = ''): MaskResult {
    if (text.length < this.opts.minChars) return this.mask(text, context);
    const sig = signature(text, context);
    let hit = this.bySignature.get(sig);
    if (hit === undefined || hit.text !== text || hit.context !== context) {
      hit = this.exact.get(context)?.get(text);
      // Its signature's entry was evicted (or never was this one): this one holds it from now on.
      if (hit !== undefined && !this.bySignature.has(sig)) this.bySignature.set(sig, hit);
    }
    if (hit !== undefined) {
      this.hits++;
      // Recency is a flag, not a move to the end of the order: a delete and re-insert on every hit
      // left the map rehashing its table every few hits, each new table surviving into the old
      // generation (the sidecar's largest source of scavenge survivors at one connection).
      hit.used = true;
      return { masked: hit.masked, findings: hit.findings.map((f) => ({ ...f })) };
    }
    this.misses++;
    const result = this.mask(text, context);
    const entry: MemoEntry = { text, context, signature: sig, masked: result.masked, findings: result.findings.map((f) => ({ ...f })), used: false };
    this.order.add(entry);
    if (!this.bySignature.has(sig)) this.bySignature.set(sig, entry);
    let texts = this.exact.get(context);
    if (texts === undefined) this.exact.set(context, (texts = new Map()));
    texts.set(text, entry);
    this.chars += cost(entry);
    if (this.chars > this.opts.maxChars) this.evict();
    return result;
  }

  /**
   * Drop entries, oldest first, until the memo fits; an entry used since it was last passed gets a
   * second chance (moved to the newest end, its flag cleared). This approximates least recently
   * used ("clock"), and moves entries only when the memo is full, never on a hit.
   */
  private evict(): void {
    for (const entry of this.order) {
      if (this.chars <= this.opts.maxChars) break;
      this.order.delete(entry);
      if (entry.used) {
        entry.used = false;
        this.order.add(entry);
        continue;
      }
      this.chars -= cost(entry);
      if (this.bySignature.get(entry.signature) === entry) this.bySignature.delete(entry.signature);
      const texts = this.exact.get(entry.context)!;
      texts.delete(entry.text);
      if (texts.size === 0) this.exact.delete(entry.context);
    }
  }
}

/** What an entry holds, in characters: its text, its context, its masked text when not the text itself, and ENTRY_OVERHEAD. */
function cost(e: MemoEntry): number {
  return e.text.length + e.context.length + (e.masked === e.text ? 0 : e.masked.length) + ENTRY_OVERHEAD;
}

// ---------------------------------------------------------------- parts found clean
// Claude Code resends the same tools (tens of kilobytes of descriptions and schemas) and the same
// tool calls on every request of a session, and almost always none of it holds anything to mask.
// A part found so is remembered, and an identical copy of it later is passed over whole: compared
// member by member with the remembered copy (strings by `===`, a memory compare) — no walk, no
// lookup per string, no copy of the body. Sound for every masker, memoising or not: masking is a
// pure function of (spec, key, text), and a part with nothing to mask touches no vault.

/** What CleanParts may hold, in characters (its copies' strings and names, and a fixed cost a node). */
export const DEFAULT_CLEAN_PARTS_CHARS = 4 * 1024 * 1024;

/** What a node of a copy (an object, an array, a member, a value) costs beyond its strings, in characters. */
const NODE_OVERHEAD = 16;

interface CleanEntry {
  /** A copy of the part (never the caller's own object, which it may change); undefined: seen once, not yet kept. */
  copy: unknown;
  chars: number;
  used: boolean;
  /** The part under this key was too large to keep (a quarter of the bound): not copied again. */
  large?: boolean;
}

/**
 * Parts of request bodies (a tools array, a tool call's input) found to hold nothing to mask, by a
 * key their caller gives (the tools' names, the tool call's id): a hint, never trusted — a part is
 * clean only if it equals the copy kept under its key. A part is copied the second time its key
 * is seen, so a masker that sees a body once (tokenize mode's, made per request) never copies
 * one. Bounded by characters; eviction as TextMemo's (clock).
 */
export class CleanParts {
  private readonly entries = new Map<string, CleanEntry>();
  private chars = 0;

  constructor(private readonly maxChars = DEFAULT_CLEAN_PARTS_CHARS) {}

  /** Whether `part` equals the part kept clean under `key`. */
  has(key: string, part: unknown): boolean {
    const entry = this.entries.get(key);
    if (entry === undefined || entry.copy === undefined || !sameJson(part, entry.copy)) return false;
    entry.used = true;
    return true;
  }

  /** `part` was walked and holds nothing to mask: kept under `key` if the key was seen before. */
  add(key: string, part: unknown): void {
    const entry = this.entries.get(key);
    if (entry === undefined) {
      this.keep(key, { copy: undefined, chars: key.length + NODE_OVERHEAD, used: false });
      return;
    }
    if (entry.large) return;
    const size = { chars: key.length + NODE_OVERHEAD };
    const copy = copyJson(part, size);
    this.chars -= entry.chars;
    this.entries.delete(key);
    // A part this large would push out most of the rest: its key is kept, so that it is not copied again.
    if (size.chars > this.maxChars / 4) this.keep(key, { copy: undefined, chars: key.length + NODE_OVERHEAD, used: false, large: true });
    else this.keep(key, { copy, chars: size.chars, used: false });
  }

  /** `key` was seen with a part that is not clean: whatever was kept under it goes. */
  forget(key: string): void {
    const entry = this.entries.get(key);
    if (entry === undefined) return;
    this.chars -= entry.chars;
    this.entries.delete(key);
  }

  private keep(key: string, entry: CleanEntry): void {
    this.entries.set(key, entry);
    this.chars += entry.chars;
    if (this.chars <= this.maxChars) return;
    for (const [k, e] of this.entries) {
      if (this.chars <= this.maxChars) break;
      this.entries.delete(k);
      if (e.used) {
        e.used = false;
        this.entries.set(k, e);
      } else {
        this.chars -= e.chars;
      }
    }
  }
}

/** A kept object: its own members' names, in order, and their values (kept alike). */
class KeptObject {
  constructor(readonly names: readonly string[], readonly values: readonly unknown[]) {}
}

/**
 * Whether JSON value `v` equals `kept` (copyJson's): the same strings, numbers, booleans and
 * nulls, arrays of equal items, objects with equal members in the same order (names compare as
 * pointers: JSON.parse interns them, and the kept names are the parsed ones).
 */
function sameJson(v: unknown, kept: unknown): boolean {
  if (v === kept) return true;
  if (typeof v !== 'object' || v === null || typeof kept !== 'object' || kept === null) return false;
  if (Array.isArray(v)) {
    if (!Array.isArray(kept) || v.length !== kept.length) return false;
    for (let i = 0; i < v.length; i++) if (!sameJson(v[i], kept[i])) return false;
    return true;
  }
  if (!(kept instanceof KeptObject)) return false;
  const { names, values } = kept;
  const o = v as Record<string, unknown>;
  let i = 0;
  // An inherited enumerable member (none, for what JSON.parse makes) is one the copy does not have.
  for (const k in o) {
    if (i === names.length || names[i] !== k || !sameJson(o[k], values[i])) return false;
    i++;
  }
  return i === names.length;
}

/** A copy of JSON value `v` for sameJson (sharing nothing with it but its strings), counting what it holds into `size`. */
function copyJson(v: unknown, size: { chars: number }): unknown {
  size.chars += NODE_OVERHEAD;
  if (typeof v === 'string') {
    size.chars += v.length;
    return v;
  }
  if (typeof v !== 'object' || v === null) return v;
  if (Array.isArray(v)) return v.map((x) => copyJson(x, size));
  const names = Object.keys(v);
  for (const k of names) size.chars += k.length;
  return new KeptObject(names, names.map((k) => copyJson((v as Record<string, unknown>)[k], size)));
}
