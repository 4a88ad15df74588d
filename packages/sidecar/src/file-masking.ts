// Masking of files on the Files API (and of a skill's folder uploaded to the Skills API), for the
// masking modes (masking-modes.ts): a text file the skill uploads (request masking) or downloads
// (response masking) is decoded as UTF-8 and masked as it streams, through one TextMasker per file,
// so what comes out equals masking the file whole; binary files go as sent. A file is text when its
// media type or name says so, and otherwise what its first bytes read as (sniffedText: a CSV sent as
// application/vnd.ms-excel, application/octet-stream or image/png is text all the same; a PDF is
// binary by its signature). An upload's form fields (a skill's display_title) are masked as text
// files are, and its file names as text, keeping their extension. A file that cannot be
// read as text is never passed on raw: an upload is refused, a download cut. In record mode an upload
// goes as sent and its text files, form fields and file names are read on the side, for the record
// only (uploadReader).
import type { Finding, Masker } from '@skillgate/masking';
import { GatewayError, MultipartRewriter, codes, multipartBoundary, renamedPart, type PartInfo, type PartTransform } from '@skillgate/wire';
import type { UploadFilter } from './ports/guard.js';

/** The media types of files masked as text, and the file name endings that say so when the type does not. */
const TEXT_TYPES = /^(text\/.+|application\/(json|x-ndjson|jsonl|x-jsonlines|xml|csv|yaml|x-yaml|toml|sql|javascript|x-sh|[\w.-]+\+(json|xml)))$/;
const TEXT_NAMES = /\.(txt|text|csv|tsv|md|markdown|json|jsonl|ndjson|xml|ya?ml|toml|html?|log|sql|ini|env|sh|py|js|ts)$/i;

/** Whether a file (an upload's file part, a download) says it is text, to be masked whatever its first bytes. */
export function isTextFile(file: PartInfo): boolean {
  if (file.contentType && TEXT_TYPES.test(file.contentType)) return true;
  return (!file.contentType || file.contentType === 'application/octet-stream') && file.filename !== undefined && TEXT_NAMES.test(file.filename);
}

/**
 * A file's masking transform: masked as text when it says it is text, else read by its first bytes
 * (sniffedText) — a binary type is the sender's word only, and a CSV sent as image/png is text all the same.
 */
function fileMasking(file: PartInfo, masking: () => PartTransform): PartTransform {
  return isTextFile(file) ? masking() : sniffedText(masking);
}

/** How many of a file's first bytes decide whether a file that does not say it is text reads as text. */
export const SNIFF_BYTES = 4096;

/**
 * A file that does not say it is text: its first SNIFF_BYTES (or all of it, when shorter) are held
 * and read — UTF-8 without a NUL byte is text, masked from its first byte by `text()`; anything
 * else (a PNG's 0x89, a PDF's binary comment, a NUL) goes as sent, the held bytes first.
 */
export function sniffedText(text: () => PartTransform): PartTransform {
  let held: Buffer[] = [];
  let heldBytes = 0;
  let masking: PartTransform | null | undefined; // undefined: not decided yet; null: binary, as sent
  const decide = (whole: boolean): Buffer => {
    const head = held.length === 1 ? held[0]! : Buffer.concat(held, heldBytes);
    held = [];
    masking = readsAsText(head, whole) ? text() : null;
    return masking ? masking.push(head) : head;
  };
  return {
    push(chunk) {
      if (masking === null) return chunk;
      if (masking) return masking.push(chunk);
      held.push(chunk);
      heldBytes += chunk.length;
      return heldBytes >= SNIFF_BYTES ? decide(false) : EMPTY;
    },
    end() {
      if (masking === undefined) {
        const head = decide(true);
        return masking ? Buffer.concat([head, (masking as PartTransform).end()]) : head;
      }
      return masking ? masking.end() : EMPTY;
    },
  };
}

const EMPTY = Buffer.alloc(0);

/**
 * The first bytes of binary formats whose opening reads as ASCII text (a PDF may stay ASCII for its
 * first 4 KB and more): such a file is binary, whatever follows — masking it would move its offsets.
 */
const BINARY_SIGNATURES = ['%PDF-', '%!PS', 'GIF87a', 'GIF89a', 'BZh'].map((s) => Buffer.from(s, 'latin1'));

/**
 * Text: UTF-8 with no NUL byte that does not open with a binary format's signature (`whole`: the
 * file's every byte; else a prefix, which may end mid-character).
 */
function readsAsText(head: Buffer, whole: boolean): boolean {
  if (head.includes(0) || BINARY_SIGNATURES.some((sig) => head.subarray(0, sig.length).equals(sig))) return false;
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(head, { stream: !whole });
    return true;
  } catch {
    return false;
  }
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
export function uploadMaskFilter(contentType: string | undefined, masker: Masker, onFindings: (found: Finding[]) => void): UploadFilter {
  const boundary = multipartBoundary(contentType);
  const tally = new FindingTally(onFindings);
  const rewriter = boundary === undefined ? undefined : textFilesMasked(boundary, masker, tally, (what) => unreadableUpload(`${what} is not UTF-8`));
  const guarded = (step: () => Buffer[]): Buffer[] => {
    if (!rewriter) throw unreadableUpload('it is not multipart/form-data with a boundary');
    try {
      return step();
    } catch (err) {
      throw err instanceof GatewayError ? err : unreadableUpload((err as Error).message);
    }
  };
  return {
    get findings() { return tally.distinct(); },
    get found() { return tally.found; },
    push: (chunk) => guarded(() => rewriter!.push(chunk)),
    end: () => guarded(() => rewriter!.end()),
  };
}

/**
 * Record mode: the upload goes upstream exactly as sent, and its text files are read on the side
 * (masked, the output dropped) so the record can name the values in them — its first `maxBytes`
 * only, so that an upload the skill did not ask to have masked is not slowed past that. A body or
 * file that cannot be read is left unread from there on (`unread` says why).
 */
export function uploadReader(contentType: string | undefined, masker: Masker, onFindings: (found: Finding[]) => void, maxBytes: number): UploadFilter {
  const boundary = multipartBoundary(contentType);
  const tally = new FindingTally(onFindings);
  let unread: string | undefined = boundary === undefined ? 'not multipart/form-data with a boundary' : undefined;
  let reader = boundary === undefined ? undefined : textFilesMasked(boundary, masker, tally, (what) => new Error(`${what} is not UTF-8`));
  let bytes = 0;
  const read = (step: (r: MultipartRewriter) => void): void => {
    if (!reader) return;
    if (bytes > maxBytes) {
      reader = undefined;
      unread = `only its first ${maxBytes} bytes were read`;
      return;
    }
    try {
      step(reader);
    } catch (err) {
      reader = undefined;
      unread = (err as Error).message;
    }
  };
  return {
    get findings() { return tally.distinct(); },
    get found() { return tally.found; },
    get unread() { return unread; },
    push: (chunk) => {
      bytes += chunk.length;
      read((r) => r.push(chunk));
      return [chunk];
    },
    end: () => { read((r) => r.end()); return []; },
  };
}

/**
 * A multipart body whose text files (file#0, file#1, … in order) and form fields (field#0, … a
 * skill's display_title) go through textFileMasking, and whose file names (filename#0, … of every
 * part that has one, binary files' too; `filename` and `filename*`) are masked as text; binary files
 * and binary fields pass as sent. `notUtf8(what)` is what a file or field that is not UTF-8 throws.
 */
function textFilesMasked(boundary: string, masker: Masker, tally: FindingTally, notUtf8: (what: string) => Error): MultipartRewriter {
  let files = 0;
  let fields = 0;
  let names = 0;
  return new MultipartRewriter(boundary, (part) => {
    const field = part.filename === undefined;
    const masking = (): PartTransform => {
      const path = field ? `field#${fields++}` : `file#${files++}`;
      return textFileMasking(masker, path, () => notUtf8(`${field ? 'the form field' : 'the text file'} ${path}`), tally.add);
    };
    return fileMasking(part, masking);
  }, (_part, head) => {
    // Every part's: a name given only as `filename*` (RFC 5987) is no less the skill's.
    let path: string | undefined;
    return renamedPart(head, (name) => {
      path ??= `filename#${names++}`;
      const r = maskedFilename(name, masker);
      if (r.findings.length) tally.add(r.findings.map((f) => ({ ...f, path })));
      return r.masked;
    });
  });
}

/** A trailing extension (`.csv`, `.md`): kept on a masked file name, which the API may read it by. */
const EXTENSION = /\.[A-Za-z][A-Za-z0-9]{0,9}$/;

/**
 * A file name (a folder path on the Skills API) masked as text, its extension kept. Masked twice:
 * without its extension first, since a value that runs into it does not read as one
 * (`jane.doe@example.com.csv` is no email address: `.csv` is no domain), then whole, since the
 * extension may be a value's own end (`jane.doe@example.com` → `[EMAIL_ADDRESS].com`). Findings of
 * the second pass have offsets into the name as the first left it (their fingerprints are exact).
 */
function maskedFilename(name: string, masker: Masker): { masked: string; findings: Finding[] } {
  const ext = EXTENSION.exec(name)?.[0];
  const first = ext ? masker.maskText(name.slice(0, -ext.length)) : { masked: name, findings: [] };
  const named = ext ? first.masked + ext : name;
  const whole = masker.maskText(named);
  const masked = ext && whole.masked !== named && !whole.masked.endsWith(ext) ? whole.masked + ext : whole.masked;
  return { masked, findings: [...first.findings, ...whole.findings] };
}

/** The findings of an upload: counted all, kept distinct (type and fingerprint) up to UPLOAD_FINDINGS. */
class FindingTally {
  found = 0;
  private readonly kept = new Map<string, Finding>();

  constructor(private readonly onFindings: (found: Finding[]) => void) {}

  readonly add = (fresh: Finding[]): void => {
    this.found += fresh.length;
    for (const f of fresh) {
      if (this.kept.size >= UPLOAD_FINDINGS) break;
      const key = `${f.type}/${f.subtype ?? ''}/${f.fingerprint}`;
      if (!this.kept.has(key)) this.kept.set(key, f);
    }
    this.onFindings(fresh);
  };

  distinct(): Finding[] {
    return [...this.kept.values()];
  }
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

/** Response masking of a downloaded file: its transform when it is text (undefined: it goes as sent). */
export function downloadMasking(file: PartInfo, masker: Masker, onFindings: (found: Finding[]) => void): PartTransform {
  return fileMasking(file, () => textFileMasking(masker, 'file#0', () => new Error(`the text file ${file.filename ?? ''} is not UTF-8`), onFindings));
}
