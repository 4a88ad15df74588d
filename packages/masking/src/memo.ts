// A bounded memo of masked strings. Claude's API is stateless: every turn resends the whole
// conversation (system prompt, tool results, earlier turns), so a sidecar masks the same long
// strings again and again. Masking is a pure function of (spec, key, text) — except in tokenize
// mode, where it also fills the vault, so tokenizing maskers never use this — and a hit returns the
// very result a fresh call would. Bounded by total characters, least recently used first out.
// Short texts are memoised too: a lookup costs a fraction of a scan, the sidecar scans a request's
// newest turn for its policy and then masks the whole request for the record (one scan, one hit),
// and short turns ("yes", "go on", small tool results) are resent as often as long ones.
import type { MaskResult } from './masker.js';

export interface TextMemoOptions {
  /** Strings shorter than this are masked directly (cheaper than a lookup). */
  minChars: number;
  /**
   * What the memo may hold, in characters: each entry counts its text, its masked text and a fixed
   * ENTRY_OVERHEAD for the entry itself (so many short texts are bounded as well as a few long ones).
   * Beyond it the least recently used entries are dropped.
   */
  maxChars: number;
}

/** What an entry costs beyond its two strings (map slot, result object, findings array), in characters. */
export const ENTRY_OVERHEAD = 96;

export const DEFAULT_TEXT_MEMO: TextMemoOptions = { minChars: 1, maxChars: 16 * 1024 * 1024 };

export class TextMemo {
  private readonly entries = new Map<string, MaskResult>();
  private chars = 0;
  hits = 0;
  misses = 0;

  constructor(private readonly mask: (text: string) => MaskResult, private readonly opts: TextMemoOptions = DEFAULT_TEXT_MEMO) {}

  maskText(text: string): MaskResult {
    if (text.length < this.opts.minChars) return this.mask(text);
    const hit = this.entries.get(text);
    if (hit) {
      this.hits++;
      this.entries.delete(text); // re-insert: Map order is the recency order
      this.entries.set(text, hit);
      return { masked: hit.masked, findings: hit.findings.map((f) => ({ ...f })) };
    }
    this.misses++;
    const result = this.mask(text);
    this.entries.set(text, { masked: result.masked, findings: result.findings.map((f) => ({ ...f })) });
    this.chars += cost(text, result.masked);
    for (const [key, kept] of this.entries) {
      if (this.chars <= this.opts.maxChars) break;
      this.entries.delete(key);
      this.chars -= cost(key, kept.masked);
    }
    return result;
  }
}

function cost(text: string, masked: string): number {
  return text.length + (masked === text ? 0 : masked.length) + ENTRY_OVERHEAD;
}
