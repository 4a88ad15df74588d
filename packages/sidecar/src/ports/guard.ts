// The guard port: policy, masking and approvals as the request path sees them. `inspect` turns a
// read request into a verdict (throwing a GatewayError denies it); `hold` waits for a human when the
// verdict asks for approval; `responseFilter` may rewrite what the skill receives (masking modes).
// The default guard allows everything and rewrites nothing: pure pass-through.
import type { IncomingHttpHeaders } from 'node:http';
import type { PartInfo, PartTransform, SseEvent } from '@skillgate/wire';
import type { Finding } from '@skillgate/masking';
import type { Exchange } from '../exchange.js';

export interface Verdict {
  /** Approval rules that matched: the request must be held until a human decides. */
  approval?: { rules: string[]; reasons: string[]; timeoutMs: number };
  /** Replacement body for upstream (request masking / tokenize); the original is kept for the record. */
  upstreamBody?: Buffer;
  /** The skill's headers with their values masked, to build the upstream request from (request masking / tokenize). */
  upstreamHeaders?: IncomingHttpHeaders;
  /** Path and query string for upstream, the query's values masked (request masking / tokenize). */
  upstreamUrl?: string;
  /** Rewrites the response the skill receives (response masking / tokenize restore). */
  responseFilter?: ResponseFilter;
  /** Rewrites an upload as it streams upstream (request masking of uploaded text files). */
  uploadFilter?: UploadFilter;
  /**
   * Checks still running that must pass before forwarding (e.g. shared rate limits counted in
   * Redis): awaited together with the durable request event, so their round trips overlap. Rejects
   * with a GatewayError to refuse the request.
   */
  admitted?: Promise<void>;
  /** Told the upstream's status once its answer starts (first use of a tool counts only when the API took the request). */
  answered?(status: number): void;
}

export interface ResponseFilter {
  /** Transform one SSE event into the bytes to send (possibly none while holding back). */
  event(ev: SseEvent): Buffer[];
  /** Flush whatever is held back at the end of the stream. */
  end(): Buffer[];
  /** Transform a whole non-streaming JSON body of a 2xx answer (error bodies go as the upstream sent them). */
  body(body: Buffer): Buffer;
  /**
   * A file's content downloaded as it streams (Files API): the transform for this file, or
   * undefined when it goes as sent (a binary file). Its transform throws when it cannot read it.
   */
  download?(file: PartInfo): PartTransform | undefined;
  /** A Message Batch's results (JSONL, 2xx) as they stream: each result's message rewritten as `body` would. */
  batchResults?(): PartTransform;
  /** A batch object the API answered (2xx), parsed: tokenize mode keeps a created batch's vault for its results. */
  batch?(batch: Record<string, unknown>): void;
}

/** What a masking mode adds to a verdict. */
export type MaskingVerdict = Pick<Verdict, 'upstreamBody' | 'upstreamHeaders' | 'upstreamUrl' | 'responseFilter' | 'uploadFilter'>;

export interface UploadFilter {
  /** The next bytes the skill sent: the bytes to send upstream. Throws a GatewayError to refuse. */
  push(chunk: Buffer): Buffer[];
  /** The upload ended: the bytes still to send. Throws a GatewayError to refuse. */
  end(): Buffer[];
  /**
   * The distinct values found so far, each where it was first found (offsets into its file's
   * text; `path` names the file), at most UPLOAD_FINDINGS of them; `found` counts every finding.
   */
  readonly findings: readonly Finding[];
  readonly found: number;
  /** Why the upload's files were not all read (only a filter that reads on the side says so). */
  readonly unread?: string;
}

export interface Guard {
  inspect(x: Exchange): Verdict | Promise<Verdict>;
  /** Resolve when approved; reject with a GatewayError when denied or expired. */
  hold(x: Exchange, approval: NonNullable<Verdict['approval']>, keepAlive: () => void): Promise<void>;
}

export const allowAll: Guard = {
  inspect: () => ({}),
  hold: async () => undefined,
};
