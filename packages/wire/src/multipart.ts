// A multipart/form-data body (a Files API upload) rewritten as it streams: the preamble, every
// delimiter and the epilogue pass through byte for byte, and every part's headers unless a `head`
// rewrite changes them (a file name masked: renamedPart); each part's content goes through the
// transform chosen for it from its headers, or byte for byte when none is. Holds at most one part's
// headers (bounded) and a delimiter's length of content, never a whole part. Pure.

/** A part as its headers describe it (header names lower case). */
export interface PartInfo {
  headers: Record<string, string>;
  /** From Content-Disposition. */
  name?: string;
  filename?: string;
  /** The media type, lower case, without parameters. */
  contentType?: string;
}

/** Rewrites one part's content as it arrives; `end` once its closing delimiter is seen. */
export interface PartTransform {
  push(chunk: Buffer): Buffer;
  end(): Buffer;
}

/** The body cannot be read as multipart/form-data (the message says why). */
export class MultipartError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MultipartError';
  }
}

/** Most bytes one part's headers may take. */
const MAX_HEADERS = 16 * 1024;
const CRLF = Buffer.from('\r\n');
const HEADERS_END = Buffer.from('\r\n\r\n');

/** The boundary of a multipart/form-data Content-Type, or undefined when it is not one. */
export function multipartBoundary(contentType: string | undefined): string | undefined {
  if (!contentType || !/^\s*multipart\/form-data\s*(;|$)/i.test(contentType)) return undefined;
  const m = /;\s*boundary=(?:"([^"]{1,70})"|([^\s;"]{1,70}))/i.exec(contentType);
  return m ? (m[1] ?? m[2]) : undefined;
}

type State = 'preamble' | 'after-delimiter' | 'headers' | 'content' | 'epilogue';

export class MultipartRewriter {
  private state: State = 'preamble';
  private pending: Buffer = Buffer.alloc(0);
  private readonly delimiter: Buffer;   // CRLF "--" boundary: ends a part's content
  private transform: PartTransform | undefined;
  private atStart = true;               // nothing consumed yet: the body may open with "--" boundary

  /**
   * `choose`: a part's content transform, from its headers as sent. `head`: a part's headers (raw
   * text, without the blank line that ends them) as they are to go on; returning `text` itself
   * passes their bytes as sent.
   */
  constructor(
    boundary: string,
    private readonly choose: (part: PartInfo) => PartTransform | undefined,
    private readonly head?: (part: PartInfo, text: string) => string,
  ) {
    this.delimiter = Buffer.from(`\r\n--${boundary}`);
  }

  /** Feed the next bytes of the body; returns the bytes to send on, in order. */
  push(chunk: Buffer): Buffer[] {
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    const out: Buffer[] = [];
    while (this.step(out));
    return out;
  }

  /** The body ended: what is left. Throws MultipartError when it ended before its closing delimiter. */
  end(): Buffer[] {
    if (this.state !== 'epilogue') {
      throw new MultipartError(this.state === 'preamble'
        ? 'no multipart boundary delimiter in the body'
        : 'the body ended before the closing multipart delimiter');
    }
    const rest = this.pending;
    this.pending = Buffer.alloc(0);
    return rest.length ? [rest] : [];
  }

  /** Consume what `pending` allows in the current state; false when more bytes are needed. */
  private step(out: Buffer[]): boolean {
    switch (this.state) {
      case 'preamble':
      case 'content':
        return this.untilDelimiter(out);
      case 'after-delimiter': {
        // "--" closes the body; otherwise optional transport padding, then CRLF and a part's headers.
        if (this.pending.length < 2) return false;
        if (this.pending[0] === 0x2d && this.pending[1] === 0x2d) {
          this.state = 'epilogue';
          return true;
        }
        let i = 0;
        while (i < this.pending.length && (this.pending[i] === 0x20 || this.pending[i] === 0x09)) i++;
        if (i + 2 > this.pending.length) return this.needMore(i, 'a multipart delimiter line is too long');
        if (this.pending[i] !== 0x0d || this.pending[i + 1] !== 0x0a) throw new MultipartError('a multipart delimiter is not followed by a line break');
        this.emit(out, i + 2);
        this.state = 'headers';
        return true;
      }
      case 'headers': {
        const end = this.pending.subarray(0, 2).equals(CRLF) ? 0 : this.pending.indexOf(HEADERS_END);
        if (end < 0) return this.needMore(this.pending.length, `a part's headers exceed ${MAX_HEADERS} bytes`);
        const text = this.pending.subarray(0, end).toString('utf8');
        const part = partInfo(text);
        const head = end > 0 && this.head ? this.head(part, text) : text;
        if (head === text) this.emit(out, end === 0 ? 2 : end + 4);
        else {
          out.push(Buffer.from(`${head}\r\n\r\n`, 'utf8'));
          this.pending = this.pending.subarray(end + 4);
        }
        this.transform = this.choose(part);
        this.state = 'content';
        return true;
      }
      case 'epilogue':
        if (this.pending.length) this.emit(out, this.pending.length);
        return false;
    }
  }

  /** Preamble or content up to the next delimiter: through the part's transform, then the delimiter. */
  private untilDelimiter(out: Buffer[]): boolean {
    const d = this.delimiter;
    // The body may open with the first delimiter itself, without the line break before it.
    if (this.atStart) {
      const first = d.subarray(2);
      const n = Math.min(first.length, this.pending.length);
      if (this.pending.subarray(0, n).equals(first.subarray(0, n))) {
        if (n < first.length) return false;
        this.atStart = false;
        this.emit(out, first.length);
        this.state = 'after-delimiter';
        return true;
      }
      this.atStart = false;
    }
    const at = this.pending.indexOf(d);
    if (at >= 0) {
      this.content(out, this.pending.subarray(0, at), true);
      this.pending = this.pending.subarray(at);
      this.emit(out, d.length);
      this.state = 'after-delimiter';
      return true;
    }
    // Keep what could be the start of a delimiter split across chunks.
    const safe = this.pending.length - (d.length - 1);
    if (safe > 0) {
      this.content(out, this.pending.subarray(0, safe), false);
      this.pending = this.pending.subarray(safe);
    }
    return false;
  }

  private content(out: Buffer[], bytes: Buffer, last: boolean): void {
    const t = this.state === 'content' ? this.transform : undefined;
    if (!t) {
      if (bytes.length) out.push(bytes);
    } else {
      if (bytes.length) {
        const b = t.push(bytes);
        if (b.length) out.push(b);
      }
      if (last) {
        const b = t.end();
        if (b.length) out.push(b);
      }
    }
    if (last) this.transform = undefined;
  }

  private emit(out: Buffer[], n: number): void {
    out.push(this.pending.subarray(0, n));
    this.pending = this.pending.subarray(n);
  }

  private needMore(held: number, tooLong: string): boolean {
    if (held > MAX_HEADERS) throw new MultipartError(tooLong);
    return false;
  }
}

/** A part's headers, as raw text, read into a PartInfo. */
export function partInfo(text: string): PartInfo {
  const headers: Record<string, string> = {};
  for (const line of text.split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return fileInfo(headers);
}

/**
 * A file as its headers (names lower case) describe it — a multipart part's, or a download's
 * response headers: the Content-Disposition name and filename and the media type.
 */
export function fileInfo(headers: Record<string, string>): PartInfo {
  const info: PartInfo = { headers };
  const disposition = headers['content-disposition'];
  if (disposition) {
    const name = dispositionParam(disposition, 'name');
    const filename = dispositionParam(disposition, 'filename');
    if (name !== undefined) info.name = name;
    if (filename !== undefined) info.filename = filename;
  }
  const type = headers['content-type'];
  if (type) info.contentType = type.split(';')[0]!.trim().toLowerCase();
  return info;
}

/** The Content-Disposition parameters fileInfo reads: a token or a quoted string (quoted-pairs undone below). */
const DISPOSITION_PARAMS = {
  name: /;\s*name\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;\s]*))/i,
  filename: /;\s*filename\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;\s]*))/i,
};

/** A parameter of a Content-Disposition value (`name`, `filename`), quotes and escapes undone. */
function dispositionParam(disposition: string, param: keyof typeof DISPOSITION_PARAMS): string | undefined {
  const m = DISPOSITION_PARAMS[param].exec(disposition);
  if (!m) return undefined;
  return m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : m[2];
}

const DISPOSITION_FILENAME = /(;\s*filename\s*=\s*)(?:"((?:[^"\\]|\\.)*)"|([^;\s]*))/gi;
const DISPOSITION_FILENAME_EXT = /(;\s*filename\*\s*=\s*)([^;\s]*)/gi;

/**
 * A part's headers (raw text) with its Content-Disposition's file name — `filename` and RFC 5987's
 * `filename*` — given as `rename` returns it for the name as a server reads it. A changed name is
 * written as a quoted string in which `"`, a backslash, CR and LF are percent-encoded (as browsers write
 * them: no quoted-pair, which multipart/form-data readers disagree on), `filename*` as UTF-8; an
 * unchanged one keeps its bytes. `text` itself when nothing changed.
 */
export function renamedPart(text: string, rename: (filename: string) => string): string {
  let changed = false;
  const lines = text.split('\r\n').map((line) => {
    const colon = line.indexOf(':');
    if (colon <= 0 || line.slice(0, colon).trim().toLowerCase() !== 'content-disposition') return line;
    return line
      .replace(DISPOSITION_FILENAME, (whole: string, lead: string, quoted: string | undefined, token: string | undefined) => {
        const name = quoted !== undefined ? quoted.replace(/\\(.)/g, '$1') : token ?? '';
        const renamed = rename(name);
        if (renamed === name) return whole;
        changed = true;
        return `${lead}"${renamed.replace(/[\\"\r\n]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`)}"`;
      })
      .replace(DISPOSITION_FILENAME_EXT, (whole: string, lead: string, value: string) => {
        const name = extValue(value);
        const renamed = rename(name);
        if (renamed === name) return whole;
        changed = true;
        return `${lead}UTF-8''${encodeURIComponent(renamed).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)}`;
      });
  });
  return changed ? lines.join('\r\n') : text;
}

/** An RFC 5987 extended value (`UTF-8''na%C3%AFve.txt`) decoded; as written when it does not decode. */
function extValue(value: string): string {
  const m = /^([^']*)'[^']*'(.*)$/.exec(value);
  if (!m) return value;
  const bytes = Buffer.from(m[2]!.replace(/%([0-9a-f]{2})/gi, (_, hex: string) => String.fromCharCode(parseInt(hex, 16))), 'latin1');
  return /^utf-8$/i.test(m[1]!) ? bytes.toString('utf8') : bytes.toString('latin1');
}
