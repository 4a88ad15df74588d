// RESP, the Redis serialization protocol (version 2): commands encoded as arrays of bulk strings,
// replies parsed from a byte buffer that may hold a partial reply. Pure: no sockets here.
/**
 * A RESP reply: simple string, integer, bulk string (null when absent) or array. An error reply is a
 * RespError (a connection rejects the command with it); inside an array (a transaction's EXEC) it
 * comes back as its message text.
 */
export type RespReply = string | number | null | RespReply[];

export class RespError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RespError';
  }
}

/**
 * Encode one command as a RESP array of bulk strings (lengths in bytes). An append is dozens of
 * short arguments (keys, numbers, ids) around a few long event texts: ASCII strings are copied as
 * Latin-1 (byte for byte, no encoding), others through the buffer's UTF-8 encoder, and non-negative
 * integers are written as their digits. Nothing is built on the way but the buffer: gathering the
 * short arguments into strings first cost ~5 KB of garbage per exchange (bench/proxy/profile.mjs
 * --alloc) and was slower (bench/record/seal.mjs).
 */
export function encodeCommand(args: ReadonlyArray<string | number>): Buffer {
  const n = args.length;
  // undefined: a non-negative integer, written as its digits without a string for it.
  const strings = new Array<string | undefined>(n);
  const lengths = new Array<number>(n);
  let size = 3 + decimalDigits(n);
  for (let i = 0; i < n; i++) {
    const a = args[i]!;
    let len: number;
    if (typeof a === 'number' && Number.isSafeInteger(a) && a >= 0) {
      strings[i] = undefined;
      len = decimalDigits(a);
    } else {
      const s = typeof a === 'string' ? a : String(a);
      strings[i] = s;
      len = Buffer.byteLength(s);
    }
    lengths[i] = len;
    size += 5 + decimalDigits(len) + len;
  }
  const out = Buffer.allocUnsafe(size);
  out[0] = 0x2a; // *
  let o = writeDecimal(out, 1, n);
  out[o++] = 13;
  out[o++] = 10;
  for (let i = 0; i < n; i++) {
    const s = strings[i];
    const len = lengths[i]!;
    out[o++] = 0x24; // $
    o = writeDecimal(out, o, len);
    out[o++] = 13;
    out[o++] = 10;
    if (s === undefined) {
      o = writeDecimal(out, o, args[i] as number);
    } else if (len === s.length) {
      // As many bytes as characters: ASCII, copied as it is.
      o += out.write(s, o, len, 'latin1');
    } else {
      o += out.write(s, o, 'utf8');
    }
    out[o++] = 13;
    out[o++] = 10;
  }
  return out;
}

function decimalDigits(n: number): number {
  let d = 1;
  while (n >= 10) {
    n = Math.floor(n / 10);
    d++;
  }
  return d;
}

/** Write non-negative integer `n` in decimal at `o`; returns the position after it. */
function writeDecimal(out: Buffer, o: number, n: number): number {
  const end = o + decimalDigits(n);
  for (let p = end - 1; p >= o; p--) {
    out[p] = 48 + (n % 10);
    n = Math.floor(n / 10);
  }
  return end;
}

/**
 * Parse one RESP reply from `buf` at `pos`; returns the reply and the position after it, or
 * undefined when `buf` does not hold a whole reply yet. Errors come back as RespError values.
 */
export function parseReply(buf: Buffer, pos = 0): { reply: RespReply | RespError; next: number } | undefined {
  const eol = buf.indexOf('\r\n', pos, 'latin1');
  if (eol < 0) return undefined;
  const line = buf.toString('latin1', pos + 1, eol);
  const next = eol + 2;
  switch (buf[pos]) {
    case 0x2b: return { reply: line, next }; // +
    case 0x2d: return { reply: new RespError(line), next }; // -
    case 0x3a: return { reply: Number(line), next }; // :
    case 0x24: { // $
      const n = Number(line);
      if (n < 0) return { reply: null, next };
      if (buf.length < next + n + 2) return undefined;
      return { reply: buf.toString('utf8', next, next + n), next: next + n + 2 };
    }
    case 0x2a: { // *
      const n = Number(line);
      if (n < 0) return { reply: null, next };
      const items: RespReply[] = [];
      let p = next;
      for (let i = 0; i < n; i++) {
        const r = parseReply(buf, p);
        if (!r) return undefined;
        items.push(r.reply instanceof RespError ? r.reply.message : r.reply);
        p = r.next;
      }
      return { reply: items, next: p };
    }
    default:
      throw new RespError(`unexpected RESP reply type ${JSON.stringify(String.fromCharCode(buf[pos] ?? 0))}`);
  }
}

/**
 * Whole replies out of a byte stream that may split them anywhere (one reader per connection):
 * feed it each chunk as it arrives; it calls `onReply` for every reply completed so far, in order,
 * and keeps the incomplete rest for the next chunk. Throws on bytes that are not RESP.
 *
 * Linear in the bytes however a reply is split: a large reply (a thousand stream entries of a few
 * KB, a long session index) arrives in many 64 KB chunks, and parsing it afresh at every chunk, or
 * copying what came so far into a new buffer each time, costs time quadratic in its size (5,000
 * entries of 2.4 KB: 1.5 s that way, against ~40 ms for ioredis' parser). So the bytes collect in a
 * buffer that grows by doubling, a scan that resumes where it stopped finds where the first reply
 * ends (jumping over bulk strings by their length), and the reply is parsed once, when whole.
 */
export class ReplyReader {
  /** Bytes of the replies not yet whole: buf[start, end). Empty in the usual case. */
  private buf: Buffer = EMPTY;
  private start = 0;
  private end = 0;
  /** Where the scan of the first incomplete reply goes on, and how many elements its open arrays still expect. */
  private scanAt = 0;
  private readonly open: number[] = [];

  constructor(private readonly onReply: (reply: RespReply | RespError) => void) {}

  feed(chunk: Buffer): void {
    if (this.start === this.end) {
      // Nothing pending (the usual case: small replies, each whole in its chunk): read it in place.
      this.scanAt = 0;
      const used = this.deliver(chunk, 0, chunk.length);
      if (used < chunk.length) {
        this.scanAt -= used; // from here on, positions are in buf
        this.start = this.end = 0;
        this.append(chunk.subarray(used));
      }
      return;
    }
    this.append(chunk);
    this.start = this.deliver(this.buf, this.start, this.end);
    if (this.start === this.end) {
      this.start = this.end = this.scanAt = 0;
      if (this.buf.length > 65536) this.buf = EMPTY; // a large reply's buffer is not kept
    }
  }

  /** Hand over every whole reply in buf[from, to), in order; returns where the first incomplete one starts. */
  private deliver(buf: Buffer, from: number, to: number): number {
    let at = from;
    for (let replyEnd = this.scan(buf, to); replyEnd >= 0; replyEnd = this.scan(buf, to)) {
      const parsed = parseReply(buf.subarray(0, replyEnd), at);
      if (!parsed || parsed.next !== replyEnd) throw new RespError('a RESP reply did not end where it was scanned to');
      at = this.scanAt = replyEnd;
      this.onReply(parsed.reply);
    }
    return at;
  }

  /**
   * Scan on from scanAt: where the reply being scanned ends in buf[..to), or -1 when it is not
   * whole yet (scanAt and the open arrays then say where to go on when more bytes come).
   */
  private scan(buf: Buffer, to: number): number {
    let pos = this.scanAt;
    for (;;) {
      const eol = buf.indexOf('\r\n', pos, 'latin1');
      if (eol < 0 || eol + 2 > to) break;
      const type = buf[pos];
      let next = eol + 2;
      if (type === 0x24) { // $: a string, jumped over once it is all here
        const n = Number(buf.toString('latin1', pos + 1, eol));
        if (n >= 0) {
          if (next + n + 2 > to) break;
          next += n + 2;
        }
      } else if (type === 0x2a) { // *: an array opens
        const n = Number(buf.toString('latin1', pos + 1, eol));
        if (n > 0) {
          this.open.push(n);
          pos = this.scanAt = next;
          continue;
        }
      } else if (type !== 0x2b && type !== 0x2d && type !== 0x3a) {
        throw new RespError(`unexpected RESP reply type ${JSON.stringify(String.fromCharCode(type ?? 0))}`);
      }
      // An element is whole, and with it maybe the arrays around it.
      pos = this.scanAt = next;
      while (this.open.length > 0 && --this.open[this.open.length - 1]! === 0) this.open.pop();
      if (this.open.length === 0) return pos;
    }
    this.scanAt = pos;
    return -1;
  }

  /** Keep `bytes` after those pending: moved to the front of a buffer that grows by doubling. */
  private append(bytes: Buffer): void {
    const pending = this.end - this.start;
    const need = pending + bytes.length;
    if (this.start > 0 || this.buf.length < need) {
      // Not from the shared pool: a pooled slice would keep its whole slab resident.
      const target = this.buf.length >= need ? this.buf : Buffer.allocUnsafeSlow(Math.max(need, 2 * this.buf.length, 4096));
      this.buf.copy(target, 0, this.start, this.end);
      this.scanAt -= this.start;
      this.buf = target;
      this.start = 0;
      this.end = pending;
    }
    bytes.copy(this.buf, this.end);
    this.end += bytes.length;
  }
}

const EMPTY = Buffer.alloc(0);
