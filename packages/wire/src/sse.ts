// Server-sent events as Claude streams them: `event: <name>\ndata: <json>\n\n`. The parser is
// incremental and byte-preserving: every parsed event carries the exact bytes it came from, so a
// proxy that does not rewrite can forward `raw` and stay byte-identical to the upstream, whatever
// the chunking. Lines may end in \n, \r\n or \r (the SSE spec allows all three).

export interface SseEvent {
  /** The `event:` field, or 'message' when absent (SSE default). */
  event: string;
  /** The `data:` lines joined with \n. */
  data: string;
  /** The exact bytes of this event, its terminating blank line included. */
  raw: Buffer;
}

const LF = 0x0a;
const CR = 0x0d;

const COLON = 0x3a;
const SPACE = 0x20;
const EMPTY = Buffer.alloc(0);

export class SseParser {
  private pending: Buffer = EMPTY;

  /**
   * Feed bytes; returns the events completed by them (possibly none). Fields are read off the
   * bytes: only an `event:` or `data:` value becomes a string (a stream's every line used to be
   * decoded whole, then split), and an incomplete tail is the only copy kept between calls.
   */
  push(chunk: Buffer): SseEvent[] {
    const buf = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    const events: SseEvent[] = [];
    let eventStart = 0;
    let lineStart = 0;
    let i = 0;
    let event = 'message';
    let data: string | undefined;
    while (i < buf.length) {
      const b = buf[i]!;
      if (b !== LF && b !== CR) { i++; continue; }
      // A lone CR at the very end may be the first half of CRLF: wait for more bytes.
      if (b === CR && i + 1 === buf.length) break;
      const lineEnd = i;
      i += b === CR && buf[i + 1] === LF ? 2 : 1;
      if (lineEnd === lineStart) {
        // Blank line: dispatch (even an event with no fields is kept as raw bytes, e.g. stray blank lines).
        events.push({ event, data: data ?? '', raw: buf.subarray(eventStart, i) });
        event = 'message';
        data = undefined;
        eventStart = i;
      } else {
        // `name: value` (one space after the colon dropped), `name` alone (empty value), or a
        // comment (`: ...`, an empty name). Only `event` and `data` mean anything here.
        let colon = lineStart;
        while (colon < lineEnd && buf[colon] !== COLON) colon++;
        const nameLength = colon - lineStart;
        const field = nameLength === 5 && isName(buf, lineStart, 'event') ? 'event' : nameLength === 4 && isName(buf, lineStart, 'data') ? 'data' : undefined;
        if (field) {
          let valueStart = colon < lineEnd ? colon + 1 : lineEnd;
          if (valueStart < lineEnd && buf[valueStart] === SPACE) valueStart++;
          const value = buf.toString('utf8', valueStart, lineEnd);
          if (field === 'event') event = value;
          else data = data === undefined ? value : `${data}\n${value}`;
        }
      }
      lineStart = i;
    }
    this.pending = eventStart === buf.length ? EMPTY : Buffer.from(buf.subarray(eventStart));
    return events;
  }

  /** Bytes received that do not yet form a complete event. */
  get buffered(): number {
    return this.pending.length;
  }

  /** The incomplete tail (for a stream that ended without a final blank line). */
  takeRemainder(): Buffer {
    const rest = this.pending;
    this.pending = EMPTY;
    return rest;
  }
}

// Field names are compared with ASCII strings, not module-level Buffers: a small Buffer is a slice of
// Node's shared pool (64 KB slabs on Node 24) and a constant one keeps its whole slab resident.
function isName(buf: Buffer, at: number, name: string): boolean {
  for (let k = 0; k < name.length; k++) if (buf[at + k] !== name.charCodeAt(k)) return false;
  return true;
}

/**
 * Where the last complete event in `buf` ends (just past its blank line), or 0 when no event ends in
 * it. `startsAtBoundary`: `buf` begins at an event boundary (a stream's start, or just past an earlier
 * event), so a line end at its very start ends a blank line. A CR at the very end may be the first
 * half of a CRLF, so it ends nothing yet (as in SseParser).
 */
export function completeEventsEnd(buf: Buffer, startsAtBoundary = true): number {
  for (let i = buf.length - 1; i >= 0; i--) {
    const b = buf[i]!;
    if (b !== LF && b !== CR) continue;
    if (b === CR && (i === buf.length - 1 || buf[i + 1] === LF)) continue; // CRLF is read at its LF
    // The line terminator that ends here starts at `t` (CRLF is one terminator); a terminator right
    // before it (or the start of a buffer that begins at a boundary) makes this line blank: an event ends here.
    const t = b === LF && i > 0 && buf[i - 1] === CR ? i - 1 : i;
    if (t === 0 ? startsAtBoundary : buf[t - 1] === LF || buf[t - 1] === CR) return i + 1;
  }
  return 0;
}

/** Bytes before new data that decide whether a line end in it ends a blank line (CR LF, and the terminator before). */
const LOOK_BACK = 3;

/**
 * Passes a stream on in whole events: the bytes of an event that has not ended yet are held until
 * its blank line comes (an SSE client can do nothing with half an event anyway). So when the
 * upstream dies, goes silent or is cut mid-event, the `event: error` written after what went out
 * starts on a boundary instead of being glued onto half a `data:` line. Each chunk is scanned once
 * (with a few bytes before it) and held pieces are joined once, when their event ends. A tail
 * longer than `maxHeldBytes` (no Claude event is near it) is passed on as it comes, and so is the
 * rest of that stream.
 */
export class SseEventGate {
  private pieces: Buffer[] = [];
  private heldBytes = 0;
  private open = false;

  constructor(private readonly maxHeldBytes = 1 << 20) {}

  /** What may go out now: `chunk`, after any held bytes, up to its last complete event (possibly empty). */
  pass(chunk: Buffer): Buffer {
    if (this.open) return chunk;
    const n = chunk.length;
    if (this.heldBytes === 0) {
      // The usual case: nothing held, and the chunk ends an event.
      if (n >= 2 && chunk[n - 1] === LF && chunk[n - 2] === LF) return chunk;
      const end = completeEventsEnd(chunk);
      if (end === n) return chunk;
      this.hold(chunk.subarray(end));
      if (this.open) {
        this.flush(); // the tail just held is in `chunk` itself
        return chunk;
      }
      return end === 0 ? EMPTY : chunk.subarray(0, end);
    }
    const look = this.lookBack();
    const end = completeEventsEnd(Buffer.concat([look, chunk]), look.length === this.heldBytes);
    if (end === 0) {
      this.hold(chunk);
      return this.open ? this.flush() : EMPTY;
    }
    const cut = end - look.length; // where in `chunk` the last complete event ends (0: right at its start)
    const out = Buffer.concat([...this.pieces, chunk.subarray(0, cut)]);
    this.pieces = [];
    this.heldBytes = 0;
    if (cut < n) this.hold(chunk.subarray(cut));
    return this.open ? Buffer.concat([out, this.flush()]) : out;
  }

  /** The held bytes, for a stream that ended cleanly without a final blank line: passed on as they came. */
  flush(): Buffer {
    const rest = this.pieces.length === 1 ? this.pieces[0]! : Buffer.concat(this.pieces);
    this.pieces = [];
    this.heldBytes = 0;
    return rest;
  }

  /** Bytes held back now. */
  get held(): number {
    return this.heldBytes;
  }

  /** Keeps `piece`; past the bound the gate opens (the caller then passes everything on). */
  private hold(piece: Buffer): void {
    // A copy: a socket's chunk can be a slice of a larger allocation, which a reference would keep.
    this.pieces.push(Buffer.from(piece));
    this.heldBytes += piece.length;
    if (this.heldBytes > this.maxHeldBytes) this.open = true;
  }

  /** The last few held bytes (fewer when less is held). */
  private lookBack(): Buffer {
    const want = Math.min(LOOK_BACK, this.heldBytes);
    const parts: Buffer[] = [];
    let got = 0;
    for (let k = this.pieces.length - 1; k >= 0 && got < want; k--) {
      const piece = this.pieces[k]!;
      const take = Math.min(want - got, piece.length);
      parts.unshift(piece.subarray(piece.length - take));
      got += take;
    }
    return Buffer.concat(parts, got);
  }
}

/** Serialise one event the way Anthropic does. */
export function formatSse(event: string, data: unknown): string {
  return `event: ${event}\ndata: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`;
}

/** Parse an event's data as JSON, or undefined when it is not JSON (comments, keep-alives). */
export function eventJson(ev: SseEvent): Record<string, unknown> | undefined {
  if (ev.data === '') return undefined;
  try {
    const v: unknown = JSON.parse(ev.data);
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

export const SSE_HEADERS = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache',
} as const;
