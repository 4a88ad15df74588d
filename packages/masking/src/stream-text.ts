// Incremental masking of one growing text (a content block's text, or one JSON string inside a
// tool input). It emits only up to a safe cut (boundary.ts), so everything it emits, concatenated,
// equals masking the whole text at once; text with no possible match flows through at once. A
// separator-free run longer than RUN_CAP is cut regardless (run-cap.ts), as the whole-text masker
// cuts it, so what a stream holds is bounded. Never emits text that masking could still change.
import { isSafeCut, isTokenChar } from './boundary.js';
import { compactForDetection, foldForDetection, hasCompactable, hasFoldable, mayCompact, openEscapeLength, openPercentLength, splitsEscape, tailReading } from './fold.js';
import { HOLD_CONTEXT } from './hold.js';
import { PEM_CAP, pemRegionEnd } from './detectors/pem.js';
import { PASSPHRASE_MAX, passphraseSpans } from './detectors/token.js';
import type { Detection, Finding } from './entities.js';
import { RunCap } from './run-cap.js';
import { KEY_CONTEXT, NUMBER_MAX, isNumberChar, keyContext, maskInContext } from './json-values.js';

/** What the stream needs from the masker: mask a window, reporting findings with absolute offsets. */
export interface WindowMasker {
  /** Mask text[from, to) scanning text[base, to); findings' offsets are absolute (indices into text). */
  maskWindow(text: string, base: number, from: number, to: number): { masked: string; findings: Finding[] };
  /** Multi-word custom keywords (lower case): a cut must not split one. */
  readonly spanningKeywords: string[];
  /**
   * Optional finer hold (hold.ts): the first position of the token run text[runStart, end) at the
   * end of the text that a future match could cover. Without it the whole run is held.
   */
  tokenHoldStart?(text: string, runStart: number): number;
  /** Raw detections (before filtering and overlap resolution); the finer hold needs it too. */
  detectAll?(text: string): Detection[];
}

/** No passphrase spans (shared, never written: findCut pushes only to a fresh array). */
const NO_SPANS: Array<[number, number]> = [];

/** Whether a password keyword (detectors/token.ts) occurs from lastIndex on: the cheap test before passphraseSpans. */
const PASSWORD_GATE = /pass|pwd/gi;

/** How far before the emitted point the window starts: more than any detector's look-back. */
const WINDOW_BACK = 256;
/** How far back from the end the stream looks for a cut on each push (holding longer is always safe). */
const CUT_SEARCH = 512;
/** Text the cut search sees before its first candidate: room for the boundary rules' own look-back. */
const CUT_CONTEXT = 4400;
/**
 * Longest open token run that the finer hold may cut inside: the run and the context its detectors
 * read before it (LOOKBACK, keywords) must fit in the next window (WINDOW_BACK), so the next scan
 * sees the run whole.
 */
const MAX_FINE_RUN = 128;

/**
 * Storage note: the text is kept as the last WINDOW_BACK emitted characters plus the held chunks,
 * never as one growing string; appending to a string and reading it back would re-flatten the
 * whole held text on every push (quadratic on a long held run).
 */
export class TextStream {
  private lookback = '';        // the last WINDOW_BACK characters already emitted
  private chunks: string[] = []; // held text, in order
  private heldLength = 0;
  private emitted = 0;          // absolute offset of the first held character
  private segmentStart = 0;     // absolute offset where the text being masked as one begins (RUN_CAP)
  private readonly runCap = new RunCap();
  private pemScanFrom = 0;      // absolute offset from which to look for "-----BEGIN "
  private pemOpen = -1;         // absolute start of a PEM region that has not ended yet
  private pemForever = false;   // that region can no longer end inside the block
  private pemClosed: Array<[number, number]> = []; // ended regions not yet fully emitted
  /** Password keywords before this (absolute) were read for good: their passphrase spans are phraseKept (findCut). */
  private phraseSettled = 0;
  private phraseKept: Array<{ start: number; end: number }> = [];
  /** A delta held a character detection folds (fold.ts): from then on cuts are decided on folded text. */
  private folding = false;
  /** A delta held a character detection reads as nothing or two code units read as one (fold.ts): from then on cuts are decided on compacted text. */
  private compacting = false;
  readonly findings: Finding[] = [];

  /**
   * `context`: text read before the stream's own as if already emitted, never emitted itself (a JSON
   * value's member name, json-values.ts). Findings' offsets count it: they are into context + text.
   */
  constructor(private readonly masker: WindowMasker, context = '') {
    if (context !== '') {
      this.lookback = context;
      this.emitted = context.length;
      this.runCap.read(context);
      if (hasFoldable(context)) this.folding = true;
      if (mayCompact(context)) this.compacting = true;
    }
  }

  /** Characters received but not yet emitted. */
  get held(): number { return this.heldLength; }
  get length(): number { return this.emitted + this.heldLength; }

  push(delta: string): string {
    if (delta.length === 0) return '';
    const cuts = this.runCap.read(delta);
    if (cuts.length === 0) return this.pushPiece(delta);
    // A run past RUN_CAP: the text up to each forced cut ends as a block ends, and what follows is
    // masked as a text of its own (run-cap.ts).
    let out = '';
    let from = 0;
    for (const cut of cuts) {
      if (cut > from) out += this.pushPiece(delta.slice(from, cut));
      out += this.endSegment();
      from = cut;
    }
    return out + this.pushPiece(delta.slice(from));
  }

  /** Emit everything held, as at the end, and start a new text to mask at this point. */
  private endSegment(): string {
    const out = this.end();
    this.lookback = '';
    this.segmentStart = this.length;
    this.pemScanFrom = this.length;
    this.pemOpen = -1;
    this.pemForever = false;
    this.pemClosed = [];
    return out;
  }

  private pushPiece(delta: string): string {
    if (delta.length === 0) return '';
    if (!this.folding && hasFoldable(delta)) this.folding = true;
    // A backslash may start a "\\uXXXX" escape, a '%' a "%XX", that the next delta completes (compacted, fold.ts).
    if (!this.compacting && mayCompact(delta)) this.compacting = true;
    this.chunks.push(delta);
    this.heldLength += delta.length;
    // Merge like a binary counter: O(log n) chunks, each character copied O(log n) times.
    while (this.chunks.length >= 2 && this.chunks[this.chunks.length - 1]!.length >= this.chunks[this.chunks.length - 2]!.length) {
      const last = this.chunks.pop()!;
      this.chunks[this.chunks.length - 1] += last;
    }
    const found = this.findCut(delta.length, true);
    if (found.cut <= this.emitted) return '';
    const out = this.emit(found.cut, found.runStart);
    if (out !== undefined) return out;
    // The prefix scan found a detection in the part of the open run we meant to release: hold the run.
    const coarse = this.findCut(delta.length, false);
    return coarse.cut > this.emitted ? this.emit(coarse.cut) ?? '' : '';
  }

  /** The block ended: emit everything that is left. */
  end(): string {
    return this.heldLength > 0 ? this.emit(this.length) ?? '' : '';
  }

  /** The findings made since the last call, handed over (for a text too long to keep them all). */
  takeFindings(): Finding[] {
    return this.findings.splice(0);
  }

  private held_(): string {
    if (this.chunks.length > 1) this.chunks = [this.chunks.join('')];
    return this.chunks[0] ?? '';
  }

  /** The last `n` characters received (or all there is), and the absolute offset where they start. */
  private recent(n: number): { text: string; start: number; openStart: boolean } {
    let len = 0;
    let k = this.chunks.length;
    while (k > 0 && len < n) { k--; len += this.chunks[k]!.length; }
    let text: string;
    if (len <= n) text = (k === 0 ? this.lookback : '') + this.chunks.slice(k).join('');
    else {
      // Only the part of the oldest chunk we need (a slice, not a copy of the whole chunk).
      const later = len - this.chunks[k]!.length;
      text = this.chunks[k]!.slice(-(n - later)) + this.chunks.slice(k + 1).join('');
    }
    const start = this.length - text.length;
    return { text, start, openStart: start > this.segmentStart };
  }

  /**
   * Emit up to `cut`. With `runStart` (a cut inside the open token run that starts there), nothing
   * is emitted and undefined returned when masking the text up to the cut finds anything in the
   * run (a longer text could still change that detection), or masking all the text received finds
   * a detection in the run that starts before the cut.
   */
  private emit(cut: number, runStart = -1): string | undefined {
    const held = this.held_();
    const window = this.lookback + held.slice(0, cut - this.emitted);
    const base = this.emitted - this.lookback.length;
    const { masked, findings } = this.masker.maskWindow(window, 0, this.lookback.length, window.length);
    if (runStart >= 0) {
      if (findings.some((f) => f.end + base > runStart)) return undefined;
      // A detection the text received so far already holds, crossing the cut ("a::" cut after
      // "a:"), is invisible to the scan up to the cut: look at every raw detection in all of it
      // (raw: overlap resolution against a detection the future may cancel could hide it).
      if (cut < this.length && this.masker.detectAll) {
        const all = this.lookback + held;
        if (this.masker.detectAll(all).some((d) => d.start + base < cut && d.end + base > runStart)) return undefined;
      }
    }
    for (const f of findings) this.findings.push({ ...f, start: f.start + base, end: f.end + base });
    // Enough context for the next window's detectors, however many vanishing characters it holds.
    this.lookback = this.compacting ? tailReading(window, WINDOW_BACK) : window.slice(-WINDOW_BACK);
    const rest = held.slice(cut - this.emitted);
    this.chunks = rest.length > 0 ? [rest] : [];
    this.heldLength = rest.length;
    this.emitted = cut;
    return masked;
  }

  /**
   * The furthest safe cut (absolute), and, when it lies inside the open token run at the end (only
   * when `fine`), where that run starts.
   */
  private findCut(deltaLength: number, fine: boolean): { cut: number; runStart: number } {
    const recent = this.recent(deltaLength + CUT_SEARCH + CUT_CONTEXT);
    const { start, openStart } = recent;
    // Where a match could start or end is decided on the text as the detectors read it: folded and
    // compacted. A position i there is the absolute offset at(i): a cut between two characters read
    // is made after the vanishing ones between them, never inside a character's code units.
    // A surrogate pair's first half at the very end reads as nothing yet: what it becomes (a
    // mathematical letter or digit extending a run, a vanishing character) arrives with the next
    // delta, so it is held undecided. So is a backslash escape that may not be complete yet ("\\",
    // "\\u00"): how it and the backslashes before it read depends on what comes (fold.ts); and so is
    // a '%' or "%4" at the end (a "%XX" still arriving).
    let raw = recent.text;
    if (this.folding) {
      const open = openEscapeLength(raw);
      if (open > 0) raw = raw.slice(0, raw.length - open);
    }
    if (this.compacting) {
      const open = openPercentLength(raw);
      if (open > 0) raw = raw.slice(0, raw.length - open);
    }
    let folded = this.folding ? foldForDetection(raw) : raw;
    if (this.compacting) {
      const last = folded.charCodeAt(folded.length - 1);
      if (last >= 0xd800 && last <= 0xdbff) folded = folded.slice(0, -1);
    }
    const compact = this.compacting && hasCompactable(folded) ? compactForDetection(folded) : undefined;
    const text = compact ? compact.text : folded;
    const at = compact ? (i: number): number => start + compact.starts[i]! : (i: number): number => start + i;
    const end = start + folded.length;
    const limit = this.pemLimit(folded, start);
    // Positions further back were tried on earlier pushes; holding longer is always correct.
    const floor = Math.max(this.emitted, end - deltaLength - CUT_SEARCH);
    this.pemClosed = this.pemClosed.filter(([, e]) => e > this.emitted);
    // The open token run at the end: cuts inside it up to the detectors' hold (hold.ts).
    let runStart = end; let hold = end;
    if (fine && this.masker.tokenHoldStart && this.masker.detectAll) {
      let rs = text.length;
      while (rs > 0 && text.length - rs <= MAX_FINE_RUN && isTokenChar(text.charCodeAt(rs - 1))) rs--;
      const whole = rs === 0 ? !openStart : !isTokenChar(text.charCodeAt(rs - 1));
      if (rs < text.length && whole && (!openStart || rs >= HOLD_CONTEXT)) {
        runStart = at(rs);
        hold = at(this.masker.tokenHoldStart(text, rs));
      }
    }
    // Passphrases after a password keyword run over spaces (detectors/token.ts): no cut inside one,
    // nor after the start of one that may still grow. Only keywords that can reach past the floor,
    // and only passphrases that end past it. Keywords read for good on an earlier push are not read
    // again: their spans are kept (absolute offsets; not while compacting, whose offsets move) and
    // the scan starts where they end, so text full of keywords ("pwd=pwd=…") in one-character
    // deltas is read about once. What the spans forbid is worked out once per push: no cut after
    // `phraseCap` (the first open one's start), none inside the merged closed spans, which the loop
    // below walks once from the end.
    const phraseFrom = Math.max(0, text.length - (end - floor) - PASSPHRASE_MAX - 128);
    let scanFrom = phraseFrom;
    if (compact) { this.phraseSettled = 0; this.phraseKept = []; } else {
      scanFrom = Math.max(phraseFrom, this.phraseSettled - start);
      if (this.phraseKept.length > 0) this.phraseKept = this.phraseKept.filter((p) => p.end > floor);
    }
    // Nothing allocated on a push with no passphrase in reach (the usual one).
    let spans: Array<{ start: number; end: number; open: boolean }> | undefined = this.phraseKept.length > 0
      ? this.phraseKept.map((p) => ({ start: p.start - start, end: p.end - start, open: false })) : undefined;
    PASSWORD_GATE.lastIndex = scanFrom;
    if (PASSWORD_GATE.test(text)) {
      const found = passphraseSpans(text, scanFrom);
      for (const p of found.spans) {
        (spans ??= []).push(p);
        if (!compact && p.final) this.phraseKept.push({ start: start + p.start, end: start + p.end });
      }
      if (!compact) this.phraseSettled = start + found.settled;
    } else if (!compact) {
      // No keyword from scanFrom on; one may still be arriving in the last three characters.
      this.phraseSettled = start + Math.max(scanFrom, text.length - 3);
    }
    let phraseCap = text.length;
    const closed: Array<[number, number]> = spans ? [] : NO_SPANS;
    if (spans) {
      for (const p of spans.sort((a, b) => a.start - b.start)) {
        if (p.open) { phraseCap = Math.min(phraseCap, p.start); continue; }
        if (p.end - p.start < 2 || at(p.end) <= floor) continue;
        const top = closed[closed.length - 1];
        if (top && p.start < top[1]) top[1] = Math.max(top[1], p.end); else closed.push([p.start, p.end]);
      }
    }
    let k = closed.length - 1;
    for (let i = text.length; i > 0; i--) {
      const c = at(i);
      if (c <= floor) break;
      if (c > limit || this.insidePem(c)) continue;
      if (i > phraseCap) continue;
      while (k >= 0 && closed[k]![0] >= i) k--;
      if (k >= 0 && i < closed[k]![1]) continue;
      // Never inside a backslash escape: the text up to the cut would read it otherwise (fold.ts).
      if (this.folding && splitsEscape(raw, c - start)) continue;
      const inRun = c > runStart;
      if (inRun && c > hold) continue;
      if (isSafeCut(text, i, false, openStart, inRun) && this.keywordSafe(text, i)) return { cut: c, runStart: inRun ? runStart : -1 };
    }
    return { cut: this.emitted, runStart: -1 };
  }

  /** No cut inside a PEM private key that has not ended: hold from its BEGIN line. */
  private pemLimit(recent: string, recentStart: number): number {
    const end = recentStart + recent.length;
    for (;;) {
      if (this.pemOpen < 0) {
        const from = Math.max(this.pemScanFrom, recentStart);
        const b = recent.indexOf('-----BEGIN ', from - recentStart);
        if (b < 0) { this.pemScanFrom = Math.max(this.emitted, end - 10); return end; }
        this.pemOpen = recentStart + b;
        this.pemForever = false;
      }
      if (this.pemForever) return this.pemOpen;
      // The region's text: it starts at or after `emitted`, so it is in the held chunks.
      const held = this.held_().slice(this.pemOpen - this.emitted);
      const region = this.folding ? foldForDetection(held) : held;
      const r = pemRegionEnd(region, 0, false);
      if (r === 'open') {
        if (region.length > PEM_CAP + 100) this.pemForever = true;
        return this.pemOpen;
      }
      if (r !== 'not-key') this.pemClosed.push([this.pemOpen, this.pemOpen + r]);
      this.pemScanFrom = r === 'not-key' ? this.pemOpen + 11 : this.pemOpen + r;
      this.pemOpen = -1;
    }
  }

  private insidePem(c: number): boolean {
    for (const [b, e] of this.pemClosed) if (c > b && c < e) return true;
    return false;
  }

  private keywordSafe(text: string, c: number): boolean {
    const kws = this.masker.spanningKeywords;
    if (kws.length === 0) return true;
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

/** An object or array the JSON lexer is inside, and the context its values are read with. */
interface JsonLevel { array: boolean; context: string }

const ESCAPES: Record<string, string> = { n: '\n', t: '\t', r: '\r', b: '\b', f: '\f', '"': '"', '\\': '\\', '/': '/' };

/**
 * The partial_json of an input_json_delta stream is JSON text cut anywhere. This lexer passes
 * structure through and masks what a person may have written, as the walk of a parsed input does
 * (messages.ts, json-values.ts): each string value, decoded, masked with a TextStream that reads
 * its member's name first, and re-encoded; each member name, masked as text of its own; each
 * number, read whole and masked as text with its member's name — a number that holds a value
 * becomes the masked text as a JSON string ({"card": 4111111111111111} → {"card": "[CREDIT_CARD]"}).
 * The concatenated output is valid JSON. Findings' paths are `<prefix>#<n>`: the n-th name, string
 * or number of the input.
 */
export class JsonTextStream {
  private stack: JsonLevel[] = [];
  private expectKey = false;
  /** The string being read (a member name or a value), masked as it comes; undefined outside strings. */
  private string: TextStream | undefined;
  private contextLength = 0;        // of the string being read
  private isKey = false;
  private keyTail = '';             // the end of the member name being read (keyContext reads no more)
  private escape = '';              // pending escape sequence, starting with '\'
  private number = '';              // a number being read
  private longNumber = false;       // the number being read is past NUMBER_MAX: it passes as it comes
  private tokens = 0;
  readonly findings: Finding[] = [];

  constructor(private readonly masker: WindowMasker, private readonly pathPrefix = 'input') {}

  /** Characters received but not yet emitted (a held string tail, a partial escape, a number). */
  get held(): number { return (this.string?.held ?? 0) + this.escape.length + this.number.length; }

  push(chunk: string): string {
    let out = '';
    let decoded = '';
    for (let i = 0; i < chunk.length; i++) {
      const ch = chunk[i]!;
      if (this.string) {
        if (this.escape) {
          this.escape += ch;
          const e = this.escape;
          if (e[1] === 'u') {
            if (e.length < 6) continue;
            decoded += String.fromCharCode(parseInt(e.slice(2), 16));
          } else {
            decoded += ESCAPES[e[1]!] ?? e[1];
          }
          this.escape = '';
          continue;
        }
        if (ch === '\\') { this.escape = '\\'; continue; }
        if (ch === '"') {
          out += this.feed(decoded) + this.closeString() + '"';
          decoded = '';
          continue;
        }
        decoded += ch;
        continue;
      }
      if (this.number !== '') {
        if (isNumberChar(ch)) {
          this.number += ch;
          if (this.number.length > NUMBER_MAX) { out += this.number; this.number = ''; this.longNumber = true; }
          continue;
        }
        out += this.closeNumber();
      } else if (this.longNumber) {
        if (isNumberChar(ch)) { out += ch; continue; }
        this.longNumber = false;
      }
      switch (ch) {
        case '"': {
          const top = this.stack[this.stack.length - 1];
          this.isKey = top !== undefined && !top.array && this.expectKey;
          const context = this.isKey ? '' : this.context();
          this.string = new TextStream(this.masker, context);
          this.contextLength = context.length;
          this.keyTail = '';
          break;
        }
        case '{': this.stack.push({ array: false, context: '' }); this.expectKey = true; break;
        case '[': this.stack.push({ array: true, context: this.context() }); this.expectKey = false; break;
        case '}': case ']': this.stack.pop(); this.expectKey = false; break;
        case ':': this.expectKey = false; break;
        case ',': this.expectKey = this.stack.length > 0 && !this.stack[this.stack.length - 1]!.array; break;
        default:
          if (ch === '-' || (ch >= '0' && ch <= '9')) { this.number = ch; continue; }
      }
      out += ch;
    }
    return out + this.feed(decoded);
  }

  /** The stream ended (content_block_stop): emit what is still held. */
  end(): string {
    if (this.string) return this.closeString();
    if (this.number !== '') return this.closeNumber();
    return '';
  }

  /** The context a value read now gets: its member's name, or for an array's items the array's. */
  private context(): string {
    return this.stack.length > 0 ? this.stack[this.stack.length - 1]!.context : '';
  }

  /** Decoded characters of the string being read, masked as far as they can be. */
  private feed(decoded: string): string {
    if (decoded.length === 0 || !this.string) return '';
    if (this.isKey) this.keyTail = (this.keyTail + decoded).slice(-KEY_CONTEXT);
    return encode(this.string.push(decoded));
  }

  /** The string being read ended: the rest of it, its findings kept; a member name becomes its value's context. */
  private closeString(): string {
    const s = this.string!;
    const rest = encode(s.end());
    this.report(s.findings, this.contextLength);
    if (this.isKey && this.stack.length > 0) this.stack[this.stack.length - 1]!.context = keyContext(this.keyTail);
    this.string = undefined;
    return rest;
  }

  /** The number being read ended: as it came, or as a JSON string of its masked text. */
  private closeNumber(): string {
    const text = this.number;
    this.number = '';
    const r = maskInContext(this.masker, this.context(), text);
    this.report(r.findings, 0);
    return r.findings.length === 0 ? text : JSON.stringify(r.masked);
  }

  private report(findings: readonly Finding[], shift: number): void {
    for (const f of findings) this.findings.push({ ...f, start: Math.max(0, f.start - shift), end: f.end - shift, path: `${this.pathPrefix}#${this.tokens}` });
    this.tokens++;
  }
}

function encode(s: string): string {
  return s.length === 0 ? '' : JSON.stringify(s).slice(1, -1);
}
