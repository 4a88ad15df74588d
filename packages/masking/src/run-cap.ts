// The cap on separator-free runs. A run of token characters (boundary.ts: base64, hex, a long
// identifier) has no safe cut inside it, so a stream would hold one whole however long it grew — a
// 25 MB base64 upload held whole, and a few hundred MB would end the sidecar. Past RUN_CAP
// characters a run is cut anyway: the text between two such forced cuts is masked as a text of its
// own, by the whole-text masker (MaskerCore.maskWindow) and by the stream (TextStream) alike, so
// streaming still equals whole-text masking and a stream holds about RUN_CAP characters at most.
// The price: a value lying across a forced cut, 64 K characters deep into an unbroken run, is read
// in two parts. No detected value is that long (the longest, an assigned secret, stops at 4096;
// PEM keys break into lines), so what a run that long holds is base64 or hex, not prose.
// A forced cut never splits a surrogate pair.
import { isTokenChar } from './boundary.js';

/** Longest run of token characters read as one text; a longer one is cut every RUN_CAP characters. */
export const RUN_CAP = 65536;

const NONE: readonly number[] = [];

const isHighSurrogate = (c: number): boolean => c >= 0xd800 && c <= 0xdbff;

/**
 * Follows the token runs of a text that arrives in pieces and says where the forced cuts fall: before
 * the token character that would make a run (counted from its start or its last forced cut) longer
 * than the cap, or the character after it when that would split a surrogate pair.
 * Reads by jumps: a cut can fall no earlier than `cap` characters into a run, so only the character
 * there and the run back from it are read (prose costs a few reads per 64 K characters, not one per
 * character: this runs on every text the masker scans).
 */
export class RunCap {
  /** Token characters since the current run began or was last cut. */
  private run = 0;
  /** The last character read was the first half of a surrogate pair. */
  private pairOpen = false;

  constructor(private readonly cap = RUN_CAP) {}

  /** Read text[from, to); the indices into `text` before which a forced cut falls, ascending. */
  read(text: string, from = 0, to = text.length): readonly number[] {
    if (to <= from) return NONE;
    let cuts: number[] | undefined;
    let run = this.run;
    let i = from;
    while (i < to) {
      // The first position a cut may fall at: where the run would have `cap` characters before it.
      const at = i + Math.max(this.cap - run, 0);
      if (at >= to) {
        // No cut in this piece: the run it ends in.
        let j = to;
        while (j > i && isTokenChar(text.charCodeAt(j - 1))) j--;
        run = j > i ? to - j : run + (to - i);
        break;
      }
      // A cut falls at `at` only if text[i, at] are all token characters (text[at] too: it is the
      // character after the cut, still in the run).
      let j = at;
      while (j >= i && isTokenChar(text.charCodeAt(j))) j--;
      if (j >= i) {
        run = 0; // a separator: the run starts again after it
        i = j + 1;
        continue;
      }
      const pairBefore = at > from ? isHighSurrogate(text.charCodeAt(at - 1)) : this.pairOpen;
      if (pairBefore) {
        run += at - i + 1; // the cut waits for the pair's second half
        i = at + 1;
        continue;
      }
      (cuts ??= []).push(at);
      run = 1;
      i = at + 1;
    }
    this.run = run;
    this.pairOpen = isHighSurrogate(text.charCodeAt(to - 1));
    return cuts ?? NONE;
  }
}
