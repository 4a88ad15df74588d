// The scanner: runs every detector family over a text (folded, fold.ts) and resolves overlaps into a
// sorted list of non-overlapping detections. Pure and deterministic; the per-family detectors keep to the
// boundary rules in boundary.ts so that scanning a window gives the same answer as the whole text.
import type { Detection } from './entities.js';
import { CUSTOM_PRIORITY, PASSWORD_PRIORITY, PRIORITY } from './entities.js';
import { detectNumeric } from './detectors/numeric.js';
import { detectTokens } from './detectors/token.js';
import { detectPem } from './detectors/pem.js';
import { detectPhrases } from './detectors/phrase.js';
import { detectIban } from './detectors/iban.js';
import { detectPasswords } from './detectors/password.js';
import { detectCustom, type CompiledCustom } from './detectors/custom.js';
import { detectionReading } from './fold.js';

export interface ScanConfig {
  /** Entity types to report (others are dropped); undefined = all built-ins and customs. */
  enabled?: Set<string>;
  custom: CompiledCustom[];
}

export function scan(text: string, config: ScanConfig): Detection[] {
  const found = detectAll(text, config);
  const enabled = config.enabled;
  const kept = enabled ? found.filter((d) => enabled.has(d.type)) : found;
  return resolveOverlaps(kept);
}

/**
 * Every detector's raw detections, before the entity filter and overlap resolution. The detectors
 * read the text folded and compacted (fold.ts: vanishing characters dropped, mathematical letters
 * and digits as ASCII): offsets are the original text's. PEM blocks are machine text and are read
 * with their characters as they are (as the stream tracks them, stream-text.ts).
 */
export function detectAll(original: string, config: ScanConfig): Detection[] {
  const found: Detection[] = [];
  if (original.length === 0) return found;
  const { folded, text, at } = detectionReading(original);
  detectNumeric(text, found);
  detectTokens(text, found);
  detectIban(text, found);
  if (at) toOriginal(found, 0, at);
  if (folded.indexOf('-----BEGIN ') >= 0) detectPem(folded, found);
  const after = found.length;
  detectPasswords(text, found);
  detectPhrases(text, found);
  detectCustom(text, config.custom, found);
  if (at) toOriginal(found, after, at);
  return found;
}

/** Map found[from..] from the compacted text back to the original's offsets. */
function toOriginal(found: Detection[], from: number, at: { starts: Uint32Array; ends: Uint32Array }): void {
  for (let i = from; i < found.length; i++) {
    const d = found[i]!;
    d.start = at.starts[d.start]!;
    d.end = at.ends[d.end - 1]!;
  }
}

// A random-looking token is the weakest evidence: any other detection on it wins (a valid bitcoin
// address stays CRYPTO, a keyword-assigned value keeps its subtype).
const priorityOf = (d: Detection) => (d.subtype === 'password' ? PASSWORD_PRIORITY : PRIORITY[d.type] ?? CUSTOM_PRIORITY);

/**
 * Keep the highest-priority detection of every overlapping cluster (ties: the longer, then the
 * earlier). Clusters never cross a safe cut, so the result is the same on any window.
 */
export function resolveOverlaps(found: Detection[]): Detection[] {
  if (found.length <= 1) return found;
  const byStart = [...found].sort((a, b) => a.start - b.start || b.end - a.end);
  const out: Detection[] = [];
  // Sweep clusters of overlapping detections; most clusters hold one detection.
  let i = 0;
  while (i < byStart.length) {
    let j = i + 1;
    let clusterEnd = byStart[i]!.end;
    while (j < byStart.length && byStart[j]!.start < clusterEnd) { clusterEnd = Math.max(clusterEnd, byStart[j]!.end); j++; }
    if (j === i + 1) out.push(byStart[i]!);
    else {
      const ranked = byStart.slice(i, j).sort((a, b) => priorityOf(b) - priorityOf(a) || (b.end - b.start) - (a.end - a.start) || a.start - b.start);
      const kept: Detection[] = [];
      for (const d of ranked) if (kept.every((k) => k.end <= d.start || k.start >= d.end)) kept.push(d);
      kept.sort((a, b) => a.start - b.start);
      for (const d of kept) out.push(d);
    }
    i = j;
  }
  return out;
}
