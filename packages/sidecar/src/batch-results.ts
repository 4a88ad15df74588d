// A Message Batch's results (GET /v1/messages/batches/{id}/results: JSONL, one
// `{"custom_id", "result": {"type", "message"?}}` per line) rewritten a line at a time as they stream,
// for the masking modes that rewrite answers (response, both: masked; tokenize: placeholders
// restored). Each result's message goes through the same rewrite as a non-streaming answer; lines
// it leaves alone keep their bytes. Pure: bytes in, bytes out.
import { StringDecoder } from 'node:string_decoder';
import { isRecord, parseJson, type PartTransform } from '@skillgate/wire';

/** The longest result line held while it streams in: one answer (the largest max_tokens gives well under 2 MB). */
export const MAX_RESULT_LINE_BYTES = 16 * 1024 * 1024;

export interface ResultsRewrite {
  /** Lines known to need nothing without being parsed (tokenize: no placeholder in them). */
  untouched?(line: string): boolean;
  /** A result's message rewritten, or undefined when nothing in it changes. */
  message(message: unknown): unknown;
  /** A line that is not JSON: what goes out instead (never anything unread when masking). */
  unreadable(line: string): string;
}

/** Rewrites a batch's JSONL results line by line; throws (cutting the answer) on a line past `maxLineBytes`. */
export function batchResultsRewriter(rewrite: ResultsRewrite, maxLineBytes = MAX_RESULT_LINE_BYTES): PartTransform {
  const decoder = new StringDecoder('utf8');
  // The line being read, in the pieces it came in (joined once it ends: a long line is not copied per chunk).
  let pending: string[] = [];
  let pendingBytes = 0;
  const line = (text: string): string => {
    if (text.trim() === '' || rewrite.untouched?.(text)) return text;
    let parsed: unknown;
    try {
      parsed = parseJson(text);
    } catch {
      return rewrite.unreadable(text);
    }
    if (!isRecord(parsed) || !isRecord(parsed.result) || parsed.result.message === undefined) return text;
    const message = rewrite.message(parsed.result.message);
    if (message === undefined) return text;
    parsed.result.message = message;
    return JSON.stringify(parsed);
  };
  return {
    push(chunk: Buffer): Buffer {
      const text = decoder.write(chunk);
      const cut = text.lastIndexOf('\n'); // only the new text is searched
      if (cut < 0) {
        pending.push(text);
        pendingBytes += chunk.length;
        if (pendingBytes > maxLineBytes) throw new Error(`a batch result line is longer than ${maxLineBytes} bytes`);
        return Buffer.alloc(0);
      }
      const lines = (pending.join('') + text.slice(0, cut)).split('\n');
      const rest = text.slice(cut + 1);
      pending = rest === '' ? [] : [rest];
      pendingBytes = Buffer.byteLength(rest);
      return Buffer.from(`${lines.map(line).join('\n')}\n`);
    },
    end(): Buffer {
      const rest = pending.join('') + decoder.end();
      pending = [];
      pendingBytes = 0;
      return Buffer.from(rest === '' ? '' : line(rest));
    },
  };
}
