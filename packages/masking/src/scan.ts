// The scanner: runs every detector family over a text and resolves overlaps into a sorted list of
// non-overlapping detections. Pure and deterministic; the per-family detectors keep to the
// boundary rules in boundary.ts so that scanning a window gives the same answer as the whole text.
import type { Detection } from './entities.js';
import { CUSTOM_PRIORITY, PRIORITY } from './entities.js';
import { detectNumeric } from './detectors/numeric.js';
import { detectTokens } from './detectors/token.js';
import { detectPem } from './detectors/pem.js';
import { detectPhrases } from './detectors/phrase.js';
import { detectIban } from './detectors/iban.js';
import { detectCustom, type CompiledCustom } from './detectors/custom.js';

export interface ScanConfig {
  /** Entity types to report (others are dropped); undefined = all built-ins and customs. */
  enabled?: Set<string>;
  custom: CompiledCustom[];
}

export function scan(text: string, config: ScanConfig): Detection[] {
  if (text.length === 0) return [];
  const found: Detection[] = [];
  detectNumeric(text, found);
  detectTokens(text, found);
  detectIban(text, found);
  if (text.indexOf('-----BEGIN ') >= 0) detectPem(text, found);
  detectPhrases(text, found);
  detectCustom(text, config.custom, found);
  const enabled = config.enabled;
  const kept = enabled ? found.filter((d) => enabled.has(d.type)) : found;
  return resolveOverlaps(kept);
}

const priorityOf = (d: Detection) => PRIORITY[d.type] ?? CUSTOM_PRIORITY;

/**
 * Keep the highest-priority detection of every overlapping cluster (ties: the longer, then the
 * earlier). Clusters never cross a safe cut, so the result is the same on any window.
 */
export function resolveOverlaps(found: Detection[]): Detection[] {
  if (found.length <= 1) return found;
  const ranked = [...found].sort((a, b) => priorityOf(b) - priorityOf(a) || (b.end - b.start) - (a.end - a.start) || a.start - b.start);
  const kept: Detection[] = [];
  // Interval check against kept detections: sorted insert, binary search (found lists are small).
  const starts: Detection[] = [];
  for (const d of ranked) {
    let lo = 0; let hi = starts.length;
    while (lo < hi) { const mid = (lo + hi) >> 1; if (starts[mid]!.start < d.start) lo = mid + 1; else hi = mid; }
    const prev = lo > 0 ? starts[lo - 1] : undefined;
    const next = lo < starts.length ? starts[lo] : undefined;
    if ((prev && prev.end > d.start) || (next && next.start < d.end)) continue;
    starts.splice(lo, 0, d);
    kept.push(d);
  }
  return starts;
}
