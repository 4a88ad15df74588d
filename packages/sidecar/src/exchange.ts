// One request through the sidecar, from the skill's socket to the upstream and back. Each stage
// reads what earlier stages put here and adds its own part; no stage reaches back to change an
// earlier stage's result. Plain data plus the two sockets.
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { SkillIdentity } from '@skillgate/api';
import type { MessagesRequest, Route } from '@skillgate/wire';
import type { Cut } from './cut.js';
import type { Finding } from '@skillgate/masking';
import type { UploadFilter } from './ports/guard.js';

export interface Exchange {
  /** skillgate's id for this request (req_...), on every log line and record event. */
  readonly id: string;
  readonly receivedAt: bigint; // process.hrtime.bigint() at arrival
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly route: Route;
  /** Path with query string, as the skill sent it. */
  readonly url: string;
  /** Cut when the client goes away or a lock kills the exchange. */
  readonly abort: Cut;

  // identify
  identity?: SkillIdentity;
  sessionId?: string;
  /** jti of the workload token this exchange runs under, when tokens are in use. */
  tokenId?: string;

  // read-body (routes whose body is inspected)
  body?: Buffer;
  /** process.hrtime.bigint() once the whole body was read: the skill's sending is not the gateway's latency. */
  readAt?: bigint;
  /** The parsed Messages-like request, when the body is JSON. */
  request?: MessagesRequest;
  model?: string;
  stream?: boolean;

  /** Body to send upstream: the original bytes unless a stage rewrote it (request masking). */
  upstreamBody?: Buffer;
  /** Headers to build the upstream request from: the skill's unless request masking rewrote their values. */
  upstreamHeaders?: IncomingHttpHeaders;
  /** Path and query for upstream: `url` unless request masking rewrote the query's values. */
  upstreamUrl?: string;
  /** Rewrites a streamed upload before it goes upstream (request masking of uploaded text files). */
  uploadFilter?: UploadFilter;
  /**
   * The request body already masked by a rewriting masking mode, reused by the record (masked once):
   * set only when the record's own walk would give the same (masking-modes.ts).
   */
  maskedRequest?: { text: string; findings: Finding[] };

  /** How long the request waited for a human's decision (ns): not the gateway's latency either. */
  heldNs?: bigint;

  /** Set once an SSE response has started to the skill: later errors become `event: error`. */
  sseOpen?: boolean;

  // forward / respond
  upstreamStatus?: number;
  upstreamStartedAt?: bigint;
  upstreamHeadersAt?: bigint;
  bytesIn: number;
  bytesOut: number;
  /**
   * A body streamed through (an upload), once all of it was sent upstream: the size and sha256 of
   * what the skill sent, and what masking found in its text files (masked upstream by request
   * masking, else read for the record only): the distinct values, bounded, how many in all, and why
   * some were not read.
   */
  uploaded?: { bytes: number; sha256: string; findings?: readonly Finding[]; found?: number; unread?: string };
  /** The error skillgate answered with, when it refused or cut the exchange. */
  refusal?: { status: number; code: string; type: string; message: string };
  /** How the exchange ended, for metrics and the record. */
  outcome?: 'complete' | 'client_aborted' | 'upstream_broken' | 'killed' | 'refused' | 'error';
  outcomeReason?: string;
}
