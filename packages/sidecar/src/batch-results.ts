// A Message Batch's results (GET /v1/messages/batches/{id}/results: JSONL, one
// `{"custom_id", "result": {"type", "message"?}}` per line) rewritten a line at a time as they stream,
// for the masking modes that rewrite answers (response, both: masked; tokenize: placeholders
// restored). Each result's message goes through the same rewrite as a non-streaming answer; lines
// it leaves alone keep their bytes. Pure: bytes in, bytes out.
import { StringDecoder } from 'node:string_decoder';
import { isRecord, type PartTransform } from '@skillgate/wire';

/** The longest result line held while it streams in (a whole answer of the largest max_tokens is far less). */
export const MAX_RESULT_LINE_BYTES = 64 * 1024 * 1024;

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
  let pending = '';
  const line = (text: string): string => {
    if (text.trim() === '' || rewrite.untouched?.(text)) return text;
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
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
      pending += decoder.write(chunk);
      const cut = pending.lastIndexOf('\n');
      if (cut < 0) {
        if (Buffer.byteLength(pending) > maxLineBytes) throw new Error(`a batch result line is longer than ${maxLineBytes} bytes`);
        return Buffer.alloc(0);
      }
      const lines = pending.slice(0, cut).split('\n');
      pending = pending.slice(cut + 1);
      return Buffer.from(`${lines.map(line).join('\n')}\n`);
    },
    end(): Buffer {
      pending += decoder.end();
      const rest = pending;
      pending = '';
      return Buffer.from(rest === '' ? '' : line(rest));
    },
  };
}
