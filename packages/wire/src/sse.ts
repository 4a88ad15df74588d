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

export class SseParser {
  private pending: Buffer = Buffer.alloc(0);

  /** Feed bytes; returns the events completed by them (possibly none). */
  push(chunk: Buffer): SseEvent[] {
    const buf = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    const events: SseEvent[] = [];
    let eventStart = 0;
    let lineStart = 0;
    let i = 0;
    let fields: Array<[string, string]> = [];
    while (i < buf.length) {
      const b = buf[i]!;
      if (b !== LF && b !== CR) { i++; continue; }
      // A lone CR at the very end may be the first half of CRLF: wait for more bytes.
      if (b === CR && i + 1 === buf.length) break;
      const lineEnd = i;
      i += b === CR && buf[i + 1] === LF ? 2 : 1;
      if (lineEnd === lineStart) {
        // Blank line: dispatch (even an event with no fields is kept as raw bytes, e.g. stray blank lines).
        const raw = buf.subarray(eventStart, i);
        events.push(toEvent(fields, raw));
        fields = [];
        eventStart = i;
      } else {
        fields.push(splitField(buf.toString('utf8', lineStart, lineEnd)));
      }
      lineStart = i;
    }
    this.pending = Buffer.from(buf.subarray(eventStart));
    return events;
  }

  /** Bytes received that do not yet form a complete event. */
  get buffered(): number {
    return this.pending.length;
  }

  /** The incomplete tail (for a stream that ended without a final blank line). */
  takeRemainder(): Buffer {
    const rest = this.pending;
    this.pending = Buffer.alloc(0);
    return rest;
  }
}

function splitField(line: string): [string, string] {
  const colon = line.indexOf(':');
  if (colon === -1) return [line, ''];
  const value = line.charCodeAt(colon + 1) === 0x20 ? line.slice(colon + 2) : line.slice(colon + 1);
  return [line.slice(0, colon), value];
}

function toEvent(fields: Array<[string, string]>, raw: Buffer): SseEvent {
  let event = 'message';
  const data: string[] = [];
  for (const [name, value] of fields) {
    if (name === 'event') event = value;
    else if (name === 'data') data.push(value);
  }
  return { event, data: data.join('\n'), raw };
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
