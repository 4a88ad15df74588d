// Incremental masking of one growing text (a content block's text, or one JSON string inside a
// tool input). It emits only up to a safe cut (boundary.ts), so everything it emits, concatenated,
// equals masking the whole text at once; text with no possible match flows through at once.
import { isSafeCut } from './boundary.js';
import { pemRegionEnd } from './detectors/pem.js';
import type { Finding } from './entities.js';

/** What the stream needs from the masker: mask a window, reporting findings with absolute offsets. */
export interface WindowMasker {
  /** Mask text[from, to) scanning text[base, to); findings' offsets are absolute (indices into text). */
  maskWindow(text: string, base: number, from: number, to: number): { masked: string; findings: Finding[] };
  /** Multi-word custom keywords (lower case): a cut must not split one. */
  readonly spanningKeywords: string[];
}

/** How far before the emitted point the window starts: more than any detector's look-back. */
const WINDOW_BACK = 256;
/** How far back from the end the stream looks for a cut on each push (holding longer is always safe). */
const CUT_SEARCH = 512;

export class TextStream {
  private text = '';
  private emitted = 0;
  private pemFrom = 0;          // where to look for the next "-----BEGIN "
  private pemOpen = -1;         // start of a PEM region that has not ended yet
  private pemClosed: Array<[number, number]> = []; // ended regions not yet fully emitted
  readonly findings: Finding[] = [];

  constructor(private readonly masker: WindowMasker) {}

  /** Characters received but not yet emitted. */
  get held(): number { return this.text.length - this.emitted; }
  get length(): number { return this.text.length; }

  push(delta: string): string {
    if (delta.length === 0) return '';
    this.text += delta;
    const cut = this.findCut(delta.length);
    return cut > this.emitted ? this.emit(cut) : '';
  }

  /** The block ended: emit everything that is left. */
  end(): string {
    return this.text.length > this.emitted ? this.emit(this.text.length) : '';
  }

  private emit(cut: number): string {
    const base = Math.max(0, this.emitted - WINDOW_BACK);
    const { masked, findings } = this.masker.maskWindow(this.text, base, this.emitted, cut);
    for (const f of findings) this.findings.push(f);
    this.emitted = cut;
    return masked;
  }

  private findCut(deltaLength: number): number {
    const text = this.text;
    const end = text.length;
    const limit = this.pemLimit();
    // Positions further back were tried on earlier pushes; holding longer is always correct.
    const floor = Math.max(this.emitted, end - deltaLength - CUT_SEARCH);
    this.pemClosed = this.pemClosed.filter(([, e]) => e > this.emitted);
    for (let c = Math.min(end, limit); c > floor; c--) {
      if (this.insidePem(c)) continue;
      if (isSafeCut(text, c) && this.keywordSafe(c)) return c;
    }
    return this.emitted;
  }

  /** No cut inside a PEM private key that has not ended: hold from its BEGIN line. */
  private pemLimit(): number {
    const text = this.text;
    for (;;) {
      if (this.pemOpen < 0) {
        const b = text.indexOf('-----BEGIN ', Math.max(0, this.pemFrom));
        if (b < 0) { this.pemFrom = Math.max(0, text.length - 10); return text.length; }
        this.pemOpen = b;
      }
      const r = pemRegionEnd(text, this.pemOpen, false);
      if (r === 'open') return this.pemOpen;
      if (r !== 'not-key') this.pemClosed.push([this.pemOpen, r]);
      this.pemFrom = r === 'not-key' ? this.pemOpen + 11 : r;
      this.pemOpen = -1;
    }
  }

  private insidePem(c: number): boolean {
    for (const [b, e] of this.pemClosed) if (c > b && c < e) return true;
    return false;
  }

  private keywordSafe(c: number): boolean {
    const kws = this.masker.spanningKeywords;
    if (kws.length === 0) return true;
    const text = this.text;
    for (const k of kws) {
      for (let j = 1; j < k.length; j++) {
        if (c - j < 0) break;
        if (text.slice(c - j, c).toLowerCase() !== k.slice(0, j)) continue;
        const rest = text.slice(c, c + k.length - j).toLowerCase();
        if (k.slice(j).startsWith(rest)) return false;
      }
    }
    return true;
  }
}

/**
 * The partial_json of an input_json_delta stream is JSON text cut anywhere. This lexer passes
 * structure through, decodes each string value (not keys), masks it with a TextStream and
 * re-encodes it, so the concatenated output is valid JSON whose string values are masked.
 */
export class JsonTextStream {
  private stack: Array<'object' | 'array'> = [];
  private expectKey = false;
  private inString = false;
  private isKey = false;
  private escape = '';              // pending escape sequence, starting with '\'
  private value: TextStream | undefined;
  readonly findings: Finding[] = [];
  private strings = 0;

  constructor(private readonly masker: WindowMasker, private readonly pathPrefix = 'input') {}

  /** Characters received but not yet emitted (a held value tail or a partial escape). */
  get held(): number { return (this.value?.held ?? 0) + this.escape.length; }

  push(chunk: string): string {
    let out = '';
    let decoded = '';
    const flushDecoded = () => {
      if (decoded.length > 0 && this.value) { out += encode(this.value.push(decoded)); decoded = ''; }
    };
    for (let i = 0; i < chunk.length; i++) {
      const ch = chunk[i]!;
      if (!this.inString) {
        out += ch;
        switch (ch) {
          case '"':
            this.inString = true;
            this.isKey = this.stack[this.stack.length - 1] === 'object' && this.expectKey;
            if (!this.isKey) this.value = new TextStream(this.masker);
            break;
          case '{': this.stack.push('object'); this.expectKey = true; break;
          case '[': this.stack.push('array'); this.expectKey = false; break;
          case '}': case ']': this.stack.pop(); this.expectKey = false; break;
          case ':': this.expectKey = false; break;
          case ',': this.expectKey = this.stack[this.stack.length - 1] === 'object'; break;
          default: break;
        }
        continue;
      }
      if (this.isKey) {
        // keys pass through verbatim
        out += ch;
        if (this.escape) { this.escape = ''; continue; }
        if (ch === '\\') { this.escape = '\\'; continue; }
        if (ch === '"') { this.inString = false; }
        continue;
      }
      if (this.escape) {
        this.escape += ch;
        const e = this.escape;
        if (e[1] === 'u') {
          if (e.length < 6) continue;
          decoded += String.fromCharCode(parseInt(e.slice(2), 16));
        } else {
          decoded += ({ n: '\n', t: '\t', r: '\r', b: '\b', f: '\f', '"': '"', '\\': '\\', '/': '/' } as Record<string, string>)[e[1]!] ?? e[1];
        }
        this.escape = '';
        continue;
      }
      if (ch === '\\') { this.escape = '\\'; continue; }
      if (ch === '"') {
        flushDecoded();
        if (decoded.length > 0 && this.value) out += encode(this.value.push(decoded));
        decoded = '';
        if (this.value) {
          out += encode(this.value.end());
          for (const f of this.value.findings) this.findings.push({ ...f, path: `${this.pathPrefix}#${this.strings}` });
        }
        this.strings++;
        this.value = undefined;
        this.inString = false;
        out += '"';
        continue;
      }
      decoded += ch;
    }
    flushDecoded();
    return out;
  }

  /** The stream ended (content_block_stop): emit what a value string still holds. */
  end(): string {
    if (this.value) {
      const rest = encode(this.value.end());
      for (const f of this.value.findings) this.findings.push({ ...f, path: `${this.pathPrefix}#${this.strings}` });
      this.value = undefined;
      return rest;
    }
    return '';
  }
}

function encode(s: string): string {
  return s.length === 0 ? '' : JSON.stringify(s).slice(1, -1);
}
