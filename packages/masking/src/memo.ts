// A bounded memo of masked strings. Claude's API is stateless: every turn resends the whole
// conversation (system prompt, tool results, earlier turns), so a sidecar masks the same long
// strings again and again. Masking is a pure function of (spec, key, text) — except in tokenize
// mode, where it also fills the vault, so tokenizing maskers never use this — and a hit returns the
// very result a fresh call would. Bounded by total characters; the least recently used go first
// (approximately: an entry used again gets a second chance when eviction reaches it).
// Short texts are memoised too: a lookup costs a fraction of a scan, the sidecar scans a request's
// newest turn for its policy and then masks the whole request for the record (one scan, one hit),
// and short turns ("yes", "go on", small tool results) are resent as often as long ones.
// A value masked with context (a tool input's string after its member's name, json-values.ts) is
// an entry of its own, keyed by both.
import type { MaskResult } from './masker.js';

export interface TextMemoOptions {
  /** Strings shorter than this are masked directly (cheaper than a lookup). */
  minChars: number;
  /**
   * What the memo may hold, in characters: each entry counts its text, its masked text and a fixed
   * ENTRY_OVERHEAD for the entry itself (so many short texts are bounded as well as a few long ones).
   * Beyond it entries are dropped, least recently used first (approximately: see evict).
   */
  maxChars: number;
}

/** What an entry costs beyond its two strings (map slot, result object, findings array), in characters. */
export const ENTRY_OVERHEAD = 96;

export const DEFAULT_TEXT_MEMO: TextMemoOptions = { minChars: 1, maxChars: 16 * 1024 * 1024 };

/** A memoised result, and whether it was used again since eviction last passed it (second chance). */
interface MemoEntry extends MaskResult {
  used: boolean;
}

export class TextMemo {
  private readonly entries = new Map<string, MemoEntry>();
  private chars = 0;
  hits = 0;
  misses = 0;

  constructor(private readonly mask: (text: string, context: string) => MaskResult, private readonly opts: TextMemoOptions = DEFAULT_TEXT_MEMO) {}

  /** `text` masked (as it reads after `context`, when given: json-values.ts). */
  maskText(text: string, context = ''): MaskResult {
    if (text.length < this.opts.minChars) return this.mask(text, context);
    // The key of a text masked in context starts with U+0000 and gives the context's length, so it
    // is never another pair's key; a text of its own that starts with U+0000 is not memoised (its
    // key could be such a pair's).
    let key = text;
    if (context !== '') key = `\u0000${context.length}\u0000${context}${text}`;
    else if (text.charCodeAt(0) === 0) return this.mask(text, context);
    const hit = this.entries.get(key);
    if (hit) {
      this.hits++;
      // Recency is a flag, not a move to the end of the map: a delete and re-insert on every hit
      // left the map rehashing its table every few hits, each new table surviving into the old
      // generation (the sidecar's largest source of scavenge survivors at one connection).
      hit.used = true;
      return { masked: hit.masked, findings: hit.findings.map((f) => ({ ...f })) };
    }
    this.misses++;
    const result = this.mask(text, context);
    this.entries.set(key, { masked: result.masked, findings: result.findings.map((f) => ({ ...f })), used: false });
    this.chars += cost(key, result.masked);
    if (this.chars > this.opts.maxChars) this.evict();
    return result;
  }

  /**
   * Drop entries, oldest first, until the memo fits; an entry used since it was last passed gets a
   * second chance (moved to the newest end, its flag cleared). This approximates least recently
   * used ("clock"), and moves entries only when the memo is full, never on a hit.
   */
  private evict(): void {
    for (const [key, entry] of this.entries) {
      if (this.chars <= this.opts.maxChars) break;
      this.entries.delete(key);
      if (entry.used) {
        entry.used = false;
        this.entries.set(key, entry);
      } else {
        this.chars -= cost(key, entry.masked);
      }
    }
  }
}

function cost(text: string, masked: string): number {
  return text.length + (masked === text ? 0 : masked.length) + ENTRY_OVERHEAD;
}
