// A bounded memo of what masking a resent request would do again: masked strings (TextMemo; the
// parts of requests found clean are clean-parts.ts's). Claude's API is stateless: every turn
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
