// createMasker: a MaskingSpec and an installation key become a Masker that masks plain text,
// Claude Messages requests and responses (structure-aware), and SSE streams. Pure: no I/O; the
// only state is the Vault that tokenize mode fills for restoring placeholders.
import type { MaskingAction, MaskingSpec } from '@skillgate/api';
import { ENTITY_TYPES, type Detection, type Finding } from './entities.js';
import { MaskingKey, render, Vault } from './actions.js';
import { detectAll, scan, type ScanConfig } from './scan.js';
import { compileCustom, spanningKeywords } from './detectors/custom.js';
import { phraseDictionary } from './detectors/phrase.js';
import type { WindowMasker } from './stream-text.js';
import { tokenHoldStart } from './hold.js';
import { fingerprintForm, readAsDetected } from './fold.js';
import { RUN_CAP, RunCap } from './run-cap.js';
import { maskInContext } from './json-values.js';

export interface MaskResult { masked: string; findings: Finding[] }

export interface MaskerOptions {
  /** Installation key for fingerprints, hashes and placeholders (>= 16 bytes). */
  key: Buffer | string;
  /** Vault to fill in tokenize mode (default: a new one, see Masker.vault). */
  vault?: Vault;
  /**
   * Memo of masked strings (resent history), and of the resent tools and tool inputs found clean
   * (clean-parts.ts); false turns both off. Never used when tokenizing.
   */
  memo?: false | { minChars: number; maxChars: number };
}

export class MaskerCore implements WindowMasker {
  readonly key: MaskingKey;
  readonly vault: Vault;
  readonly spec: MaskingSpec;
  readonly spanningKeywords: string[];
  private readonly scanConfig: ScanConfig;
  private readonly actions = new Map<string, MaskingAction>();
  private readonly defaultAction: MaskingAction;

  constructor(spec: MaskingSpec | undefined, opts: MaskerOptions) {
    this.spec = spec ?? {};
    this.key = new MaskingKey(opts.key);
    this.vault = opts.vault ?? new Vault();
    const custom = compileCustom(this.spec.custom);
    this.spanningKeywords = spanningKeywords(custom);
    this.defaultAction = this.spec.defaultAction ?? (this.spec.mode === 'tokenize' ? 'tokenize' : 'redact');
    const enabled = new Set<string>([...ENTITY_TYPES, ...custom.map((c) => c.name)]);
    for (const e of this.spec.entities ?? []) {
      if (e.enabled === false) enabled.delete(e.type);
      else enabled.add(e.type);
      if (e.action) this.actions.set(e.type, e.action);
    }
    for (const c of this.spec.custom ?? []) if (c.action && !this.actions.has(c.name)) this.actions.set(c.name, c.action);
    this.scanConfig = { enabled, custom };
    // Every scan looks words up in the phrase dictionaries: build them now (once per process), so
    // a masker made at start-up is ready before the first request instead of by it.
    phraseDictionary();
  }

  /** Whether any entity is tokenized (masking then has a side effect: the vault). */
  tokenizes(): boolean {
    return this.defaultAction === 'tokenize' || [...this.actions.values()].includes('tokenize');
  }

  actionFor(type: string): MaskingAction {
    return this.actions.get(type) ?? this.defaultAction;
  }

  detect(text: string): Detection[] {
    return scan(text, this.scanConfig);
  }

  /** Raw detections of every detector (no entity filter, no overlap resolution): for the stream's checks. */
  detectAll(text: string): Detection[] {
    return detectAll(text, this.scanConfig);
  }

  /** The finer streaming hold (hold.ts) for this masker's detectors and custom entities; `text` folded (fold.ts). */
  tokenHoldStart(text: string, runStart: number): number {
    return tokenHoldStart(text, runStart, this.scanConfig.custom);
  }

  maskText(text: string): MaskResult {
    return this.maskWindow(text, 0, 0, text.length);
  }

  /** `text` masked as it reads after `context` (a JSON value after its member's name: json-values.ts). */
  maskInContext(context: string, text: string): MaskResult {
    return maskInContext(this, context, text);
  }

  /**
   * Mask text[from, to) scanning text[base, to); findings' offsets are indices into text. A token
   * run longer than RUN_CAP is cut every RUN_CAP characters and each piece between such cuts is
   * masked on its own (run-cap.ts), as the stream masks it.
   */
  maskWindow(text: string, base: number, from: number, to: number): MaskResult {
    if (to - base > RUN_CAP) {
      const cuts = new RunCap().read(text, base, to);
      if (cuts.length > 0) {
        let masked = '';
        const findings: Finding[] = [];
        let start = base;
        for (const end of [...cuts, to]) {
          if (end > from) {
            const r = this.maskPiece(text, start, Math.max(from, start), end);
            masked += r.masked;
            for (const f of r.findings) findings.push(f);
          }
          start = end;
        }
        return { masked, findings };
      }
    }
    return this.maskPiece(text, base, from, to);
  }

  private maskPiece(text: string, base: number, from: number, to: number): MaskResult {
    const window = base === 0 && to === text.length ? text : text.slice(base, to);
    const detections = this.detect(window);
    let masked = '';
    let pos = from;
    const findings: Finding[] = [];
    for (const d of detections) {
      const start = d.start + base;
      const end = d.end + base;
      if (end <= from) continue;
      // A detection crossing the emitted point would mean a boundary bug: mask what is left of it
      // rather than emit any of it raw.
      const s = Math.max(start, from);
      const value = text.slice(start, end);
      // Placeholders and fingerprints are of the value as detection read it ("４１１１…" is the
      // card 4111…, a zero-width space inside it is nothing), a fingerprint of it without the
      // separators people write it with (fingerprintForm); a tokenized value is restored as the
      // skill wrote it.
      const read = readAsDetected(value);
      masked += text.slice(pos, s);
      masked += this.replacement(d, read, value);
      pos = end;
      const f: Finding = { type: d.type, start, end, fingerprint: this.key.fingerprint(fingerprintForm(d.type, read)) };
      if (d.subtype) f.subtype = d.subtype;
      findings.push(f);
    }
    masked += text.slice(pos, to);
    return { masked, findings };
  }

  private replacement(d: Detection, read: string, original: string): string {
    const action = this.actionFor(d.type);
    const r = render(action, d.type, d.subtype, read, this.key);
    if (action === 'tokenize') this.vault.set(r, original);
    return r;
  }
}
