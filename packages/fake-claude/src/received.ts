// What the fake received, kept for tests to assert on: method, path, query, headers exactly as they
// arrived (raw, repeats kept), and the parsed JSON body. Never used to decide an answer beyond
// scripted `when` predicates.
import type { IncomingHttpHeaders } from 'node:http';

export interface ReceivedRequest {
  method: string;
  /** Path and query as sent. */
  url: string;
  /** Path without the query string. */
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  /** Header names and values in arrival order, repeats kept (e.g. several anthropic-beta lines). */
  rawHeaders: string[];
  /** The parsed JSON body, when the request had one. */
  body: Record<string, unknown> | undefined;
  /** Bytes in the request body (uploads included). */
  bodyBytes: number;
  /** Files received by a multipart upload. */
  uploads?: Array<{ field: string; filename: string; mimeType: string; size: number }>;
  receivedAt: number;
}

/** Every value a header arrived with, in order (works for repeated headers). */
export function headerValues(request: ReceivedRequest, name: string): string[] {
  const lower = name.toLowerCase();
  const out: string[] = [];
  for (let i = 0; i < request.rawHeaders.length; i += 2) {
    if (request.rawHeaders[i]!.toLowerCase() === lower) out.push(request.rawHeaders[i + 1]!);
  }
  return out;
}
