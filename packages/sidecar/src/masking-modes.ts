// Masking modes in the data path (SkillPolicy spec.masking.mode):
//   record   — nothing sent or received is rewritten; only records hold masked copies (the journal)
//   request  — Claude never sees the values: the request body is masked before forwarding, and an
//              uploaded text file (Files API) as it streams
//   response — the skill never sees values Claude returns: responses are masked, streams per event,
//              and a text file the skill downloads (Files API) as it streams
//   both     — request and response
//   tokenize — Claude sees stable placeholders (<EMAIL_ADDRESS_1>), the skill sees real values again
// Rewriting modes are opt-in because they break prompt caching and signed thinking blocks (see
// ANTHROPIC-WIRE.md). On any masking error the request is refused, never forwarded raw.
import type { MaskingSpec } from '@skillgate/api';
import { Vault, createMasker, type Finding, type Masker, type StreamMasker } from '@skillgate/masking';
import { GatewayError, MultipartRewriter, codes, multipartBoundary, type PartInfo, type PartTransform } from '@skillgate/wire';
import type { Exchange } from './exchange.js';
import type { MaskingVerdict, ResponseFilter, UploadFilter } from './ports/guard.js';

export type MaskingMode = NonNullable<MaskingSpec['mode']>;

export interface MaskingModeOptions {
  key: string;
  onFindings?: (direction: 'request' | 'response', findings: readonly Finding[]) => void;
}

/** Caches one masker per masking spec (specs change only with policy generations). */
export class MaskerBook {
  private cache: { spec: MaskingSpec | undefined; masker: Masker } | undefined;
  constructor(private readonly key: string) {}

  forSpec(spec: MaskingSpec | undefined): Masker {
    if (this.cache && this.cache.spec === spec) return this.cache.masker;
    const masker = createMasker(spec, { key: this.key });
    this.cache = { spec, masker };
    return masker;
  }

  /** A fresh masker with its own vault (tokenize mode: placeholders of this conversation). */
  fresh(spec: MaskingSpec | undefined): Masker {
    return createMasker(spec, { key: this.key });
  }

  /**
   * Tokenize mode for an upload: the same placeholders, kept nowhere — nothing of an upload comes
   * back to restore, and a file may hold millions of values.
   */
  forgetful(spec: MaskingSpec | undefined): Masker {
    return createMasker(spec, { key: this.key, vault: new ForgetfulVault() });
  }
}

class ForgetfulVault extends Vault {
  override set(): void {}
}

const maskingFailed = (err: unknown): GatewayError => new GatewayError(codes.maskingFailed, 'api_error',
  'skillgate could not mask this request as its policy requires, so it was not forwarded. The request id is in the sidecar log.', { cause: err });

/** The verdict parts (upstream body, response filter) that a masking mode adds to one exchange. */
export function maskingVerdict(x: Exchange, spec: MaskingSpec & { mode: MaskingMode }, book: MaskerBook, opts: MaskingModeOptions): MaskingVerdict {
  const mode = spec.mode;
  if (mode === 'record') return {};
  const upload = x.route.kind === 'file_upload';
  const masker = mode !== 'tokenize' ? book.forSpec(spec) : upload ? book.forgetful(spec) : book.fresh(spec);
  const out: MaskingVerdict = {};
  if ((mode === 'request' || mode === 'both' || mode === 'tokenize') && upload) {
    out.uploadFilter = uploadMaskFilter(x, masker, opts);
  }
  if ((mode === 'request' || mode === 'both' || mode === 'tokenize') && x.request) {
    try {
      const r = masker.maskMessagesRequest(x.request);
      opts.onFindings?.('request', r.findings);
      const text = JSON.stringify(r.body);
      x.maskedRequest = { text, findings: r.findings };
      if (r.findings.length > 0) out.upstreamBody = Buffer.from(text);
    } catch (err) {
      throw maskingFailed(err);
    }
  }
  if (mode === 'response' || mode === 'both') out.responseFilter = responseMaskFilter(masker, opts);
  else if (mode === 'tokenize') out.responseFilter = restoreFilter(masker);
  return out;
}

/** The media types of files masked as text, and the file name endings that say so when the type does not. */
const TEXT_TYPES = /^(text\/.+|application\/(json|x-ndjson|jsonl|x-jsonlines|xml|csv|yaml|x-yaml|toml|sql|javascript|x-sh))$/;
const TEXT_NAMES = /\.(txt|text|csv|tsv|md|markdown|json|jsonl|ndjson|xml|ya?ml|toml|html?|log|sql|ini|env|sh|py|js|ts)$/i;

/** Whether an upload's part is a text file: masked (binary files go as sent). */
export function isTextFile(part: PartInfo): boolean {
  if (part.filename === undefined) return false;
  if (part.contentType && TEXT_TYPES.test(part.contentType)) return true;
  return (!part.contentType || part.contentType === 'application/octet-stream') && TEXT_NAMES.test(part.filename);
}

/** The most distinct values an upload's record keeps (each with where it was first found). */
export const UPLOAD_FINDINGS = 1000;

const unreadableUpload = (why: string): GatewayError => new GatewayError(codes.badRequest, 'invalid_request_error',
  `skillgate masks uploaded text files under this skill's masking mode and could not read this upload: ${why}. It was cut off before the Claude API had all of it.`);

/**
 * Request masking of a Files API upload: each text file in the multipart body is decoded as UTF-8
 * and masked as it streams (TextStream: the same masking as a whole text); other parts and binary
 * files pass as sent. A body that is not multipart, or a text file that is not UTF-8, cannot be
 * masked and is refused rather than sent raw.
 */
function uploadMaskFilter(x: Exchange, masker: Masker, opts: MaskingModeOptions): UploadFilter {
  const boundary = multipartBoundary(x.req.headers['content-type']);
  // An upload may hold millions of values: the record keeps the distinct ones, up to a bound.
  const distinct = new Map<string, Finding>();
  let found = 0;
  let files = 0;
  const rewriter = boundary === undefined ? undefined : new MultipartRewriter(boundary, (part) => {
    if (!isTextFile(part)) return undefined;
    const path = `file#${files++}`;
    return textFileMasking(masker, path, () => unreadableUpload(`the text file ${path} is not UTF-8`), (fresh) => {
      found += fresh.length;
      for (const f of fresh) {
        if (distinct.size >= UPLOAD_FINDINGS) break;
        const key = `${f.type}/${f.subtype ?? ''}/${f.fingerprint}`;
        if (!distinct.has(key)) distinct.set(key, f);
      }
      opts.onFindings?.('request', fresh);
    });
  });
  const guarded = (step: () => Buffer[]): Buffer[] => {
    if (!rewriter) throw unreadableUpload('it is not multipart/form-data with a boundary');
    try {
      return step();
    } catch (err) {
      throw err instanceof GatewayError ? err : unreadableUpload((err as Error).message);
    }
  };
  return {
    get findings() { return [...distinct.values()]; },
    get found() { return found; },
    push: (chunk) => guarded(() => rewriter!.push(chunk)),
    end: () => guarded(() => rewriter!.end()),
  };
}

/** One text file's content through a TextMasker, as UTF-8 (a byte that is not throws `notUtf8()`). */
function textFileMasking(masker: Masker, path: string, notUtf8: () => Error, report: (found: Finding[]) => void): PartTransform {
  const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
  const text = masker.createTextMasker();
  const decode = (chunk?: Buffer): string => {
    try {
      return chunk ? decoder.decode(chunk, { stream: true }) : decoder.decode();
    } catch {
      throw notUtf8();
    }
  };
  const masked = (s: string): Buffer => {
    const fresh = text.takeFindings();
    if (fresh.length) report(fresh.map((f) => ({ ...f, path })));
    return Buffer.from(s, 'utf8');
  };
  return {
    push: (chunk) => masked(text.push(decode(chunk))),
    end: () => masked(text.push(decode()) + text.end()),
  };
}

function streamFilter(make: () => StreamMasker, onFindings?: (f: readonly Finding[]) => void): Pick<ResponseFilter, 'event' | 'end'> {
  let stream: StreamMasker | undefined;
  let seen = 0;
  const report = (): void => {
    if (!stream || !onFindings) return;
    const fresh = stream.findings.slice(seen);
    seen = stream.findings.length;
    if (fresh.length) onFindings(fresh);
  };
  return {
    event(ev) {
      stream ??= make();
      const out = stream.push(ev).map((o) => o.raw);
      report();
      return out;
    },
    end() {
      if (!stream) return [];
      const out = stream.end().map((o) => o.raw);
      report();
      return out;
    },
  };
}

function responseMaskFilter(masker: Masker, opts: MaskingModeOptions): ResponseFilter {
  return {
    ...streamFilter(() => masker.createStreamMasker(), (f) => opts.onFindings?.('response', f)),
    download: (file) => (isTextFile(file) ? textFileMasking(masker, 'file#0', () => new Error(`the text file ${file.filename ?? ''} is not UTF-8`), (f) => opts.onFindings?.('response', f)) : undefined),
    body(body) {
      const text = body.toString('utf8');
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        // Labelled JSON but not: masked as text, never passed on raw.
        const t = masker.maskText(text);
        if (t.findings.length === 0) return body;
        opts.onFindings?.('response', t.findings);
        return Buffer.from(t.masked);
      }
      const r = masker.maskMessagesResponse(parsed);
      if (r.findings.length === 0) return body; // untouched bytes: error bodies reach the skill as sent
      opts.onFindings?.('response', r.findings);
      return Buffer.from(JSON.stringify(r.body));
    },
  };
}

function restoreFilter(masker: Masker): ResponseFilter {
  return {
    ...streamFilter(() => masker.createStreamRestorer()),
    body: (body) => Buffer.from(JSON.stringify(masker.restoreMessagesResponse(JSON.parse(body.toString('utf8'))))),
  };
}
