// Session events: what the record holds about a skill's traffic. One envelope (identity, session,
// sequence, time, hash-chain links) around one body per kind. Plain types plus the small pure
// builders that make a request/response fit for the record. This module must never hold a
// credential or a raw sensitive value: headers pass through `recordHeaders`, bodies arrive already
// masked from the masking engine, and `mcp_servers[].authorization_token` is removed here again.
import { hash } from 'node:crypto';
import type { SkillIdentity } from '@skillgate/api';
import { CREDENTIAL_HEADERS, parseJson } from '@skillgate/wire';

export const EVENT_FORMAT_VERSION = 1;

/**
 * A masking finding as the record keeps it: the entity type, its offsets in the recorded text and
 * the HMAC fingerprint of the raw value (HMAC-SHA256 with the installation key, hex). Never the value.
 * Same shape as @skillgate/masking's findings; `at` says which SSE event of a batch it lies in.
 */
export interface RecordedFinding {
  type: string;
  subtype?: string;
  start: number;
  end: number;
  fingerprint: string;
  at?: number;
  /** Which text the offsets are into, where a body holds several (an upload's files: file#0, …). */
  path?: string;
}

/** How the session of a request was chosen (see session-key.ts). */
export type SessionSource = 'claude-code-session' | 'container' | 'metadata-user-id' | 'header' | 'time-gap';

export interface RequestData {
  method: string;
  path: string;
  query?: string;
  model?: string;
  stream?: boolean;
  /** Request headers minus credentials (see recordHeaders). */
  headers: Record<string, string>;
  /** Masked body as text; absent when policy records digests only (recording.bodies = 'digest'). */
  body?: string;
  /**
   * sha256 (hex) of the bytes forwarded upstream. Absent for a body streamed through (an upload):
   * this event is durable before its bytes are read, so they are recorded with the answer
   * (ResponseData.upload), and bodyBytes is the size the request declared.
   */
  bodySha256?: string;
  bodyBytes: number;
  /** The body is streamed through rather than read first. */
  bodyStreamed?: boolean;
  findings?: RecordedFinding[];
  sessionSource?: SessionSource;
  /** The policies (namespace/name@generation) that allowed the request, when it was simply allowed. */
  allowedBy?: string[];
}

export interface DecisionData {
  action: 'allow' | 'deny' | 'hold' | 'rate_limited';
  policies?: string[];
  rule?: string;
  reason?: string;
}

export interface ApprovalData {
  state: 'held' | 'approved' | 'denied' | 'expired';
  approval: string;
  by?: string;
  reason?: string;
}

export interface ResponseData {
  status: number;
  headers: Record<string, string>;
  stream: boolean;
  /** Masked body text (non-streaming responses); streams are recorded as stream_event batches. */
  body?: string;
  bodySha256?: string;
  bodyBytes?: number;
  findings?: RecordedFinding[];
  /**
   * A request streamed through (an upload), once all of it was sent upstream: the size and sha256
   * of what the skill sent, and the values masking found in its text files (masked before they went
   * upstream under request masking, read on the side otherwise): the distinct ones (up to 1,000,
   * each where it was first found, offsets into its file's text), how many in all, and why the
   * files were not all read (`unread`: not multipart, a file not UTF-8).
   */
  upload?: { bytes: number; sha256: string; findings?: RecordedFinding[]; found?: number; unread?: string };
}

/** One SSE event of a streamed response: name, masked data, ms since the response head arrived. */
export interface RecordedSseEvent {
  event: string;
  data: string;
  t: number;
}

/**
 * A batch of consecutive SSE events of one response (see stream-batch.ts for why they are batched:
 * a long answer has thousands of deltas; one record event each would multiply hashing and Redis
 * volume without adding evidence, since each item keeps its own relative time).
 */
export interface StreamEventData {
  events: RecordedSseEvent[];
  findings?: RecordedFinding[];
}

export interface StreamEndData {
  outcome: 'complete' | 'client_aborted' | 'upstream_broken' | 'killed' | 'error';
  reason?: string;
  events?: number;
  bytes?: number;
  ms?: number;
}

export interface EgressData {
  destination: string; // host:port
  method: string;
  allowed: boolean;
  reason?: string;
  bytesUp?: number;
  bytesDown?: number;
}

export interface LockData {
  target: string; // e.g. skill/ns/name, owner/email, pod/ns/name, session/id
  lock?: string;
  reason?: string;
}

export interface RevocationData {
  token?: string; // token id (jti), never the token
  reason?: string;
}

export interface RefusalData {
  status: number;
  code: string;
  type: string;
  message: string;
  /** A request refused before it was recorded (a bad path or body): what it asked for. */
  method?: string;
  path?: string;
}

export interface SessionCloseData {
  reason: 'idle' | 'shutdown' | 'locked' | 'explicit';
  /** Hash of the last event before this one: the head this close commits. */
  head: string;
  /** Number of events in the session before this one. */
  events: number;
}

export interface EventDataByKind {
  request: RequestData;
  decision: DecisionData;
  approval: ApprovalData;
  response: ResponseData;
  stream_event: StreamEventData;
  stream_end: StreamEndData;
  egress: EgressData;
  lock: LockData;
  revocation: RevocationData;
  refusal: RefusalData;
  session_close: SessionCloseData;
}

export type EventKind = keyof EventDataByKind;
export const EVENT_KINDS: readonly EventKind[] = [
  'request', 'decision', 'approval', 'response', 'stream_event', 'stream_end',
  'egress', 'lock', 'revocation', 'refusal', 'session_close',
];

/** What a caller hands the recorder: everything but the chain fields. */
export type EventDraft = {
  [K in EventKind]: {
    kind: K;
    sessionId: string;
    identity: SkillIdentity;
    requestId?: string;
    /** ISO-8601 time; the recorder stamps now when absent. */
    ts?: string;
    data: EventDataByKind[K];
  };
}[EventKind];

/** A sealed event: the draft plus its place in the session's hash chain. */
export type SessionEvent = {
  [K in EventKind]: {
    v: typeof EVENT_FORMAT_VERSION;
    kind: K;
    sessionId: string;
    seq: number;
    ts: string;
    identity: SkillIdentity;
    requestId?: string;
    data: EventDataByKind[K];
    /** Hash of the previous event in the session (GENESIS for seq 0). */
    prev: string;
    /** sha256 hex of the canonical JSON of this event without `hash`. */
    hash: string;
  };
}[EventKind];

export type EventOf<K extends EventKind> = Extract<SessionEvent, { kind: K }>;

/** sha256 hex of bytes (a string is hashed as its UTF-8). One-shot: no Hash object per call. */
export function sha256Hex(bytes: Buffer | string): string {
  return hash('sha256', bytes, 'hex');
}

const TOKENISH = /(^|-)(token|secret|password|api-key|apikey|auth)($|-)/;

/**
 * Request headers whose values are the protocol's and the clients' own (versions, media types, SDK
 * telemetry, session ids), recorded as sent. Any other header is the skill's to fill, so its value is
 * masked as a body is (`x-customer-email: …`).
 */
const PLAIN_HEADERS = new Set([
  'accept', 'accept-encoding', 'accept-language', 'anthropic-beta', 'anthropic-dangerous-direct-browser-access', 'anthropic-version',
  'connection', 'content-length', 'content-type', 'host', 'keep-alive', 'sec-fetch-mode', 'te', 'traceparent', 'tracestate',
  'transfer-encoding', 'user-agent', 'x-app', 'x-claude-code-agent-id', 'x-claude-code-parent-agent-id', 'x-claude-code-session-id',
  // The Anthropic SDKs' telemetry (Stainless-generated clients); another x-stainless-* name is the skill's to fill.
  'x-stainless-arch', 'x-stainless-async', 'x-stainless-helper', 'x-stainless-helper-method', 'x-stainless-lang', 'x-stainless-os',
  'x-stainless-package-version', 'x-stainless-poll-helper', 'x-stainless-read-timeout', 'x-stainless-retry-count',
  'x-stainless-runtime', 'x-stainless-runtime-version', 'x-stainless-stream-helper', 'x-stainless-timeout',
]);
const isPlainHeader = (lower: string): boolean => PLAIN_HEADERS.has(lower);

/** How a request header is recorded: not at all (a credential), as sent, or with its value masked. */
type HeaderTreatment = { name: string; masked: boolean } | null;

// Each header name a sidecar sees is classified once: the names are few and repeat on every
// request. Bounded: a flood of unique names only costs a reset.
const HEADER_NAMES_MAX = 1024;
let headerTreatments = new Map<string, HeaderTreatment>();

function headerTreatment(rawName: string): HeaderTreatment {
  let t = headerTreatments.get(rawName);
  if (t === undefined) {
    const lower = rawName.toLowerCase();
    t = CREDENTIAL_HEADERS.has(lower) || TOKENISH.test(lower) ? null : { name: lower, masked: !isPlainHeader(lower) };
    if (headerTreatments.size >= HEADER_NAMES_MAX) headerTreatments = new Map();
    headerTreatments.set(rawName, t);
  }
  return t;
}

/** Masks one header value: the text to record and its findings (offsets into the value). */
export type HeaderMasker = (value: string) => { masked: string; findings: RecordedFinding[] };

/**
 * Headers fit for the record: credential headers (x-api-key, authorization, cookies), workload
 * tokens and anything named like a secret are dropped, repeated values joined. With `mask`, the
 * value of every header that is not the protocol's own goes through it, and its findings (with the
 * path `headers.<name>`) are added to `findings`; without one such values are not recorded.
 */
export function recordHeaders(
  headers: Record<string, string | string[] | undefined>, mask?: HeaderMasker | null, findings?: RecordedFinding[],
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const rawName in headers) {
    if (!Object.hasOwn(headers, rawName)) continue;
    const raw = headers[rawName];
    if (raw === undefined) continue;
    const t = headerTreatment(rawName);
    if (t === null) continue;
    const value = Array.isArray(raw) ? raw.join(', ') : raw;
    if (!t.masked || mask === undefined) {
      out[t.name] = value;
    } else if (mask === null) {
      out[t.name] = '[value not recorded]';
    } else {
      const r = mask(value);
      out[t.name] = r.masked;
      for (const f of r.findings) findings?.push({ ...f, path: `headers.${t.name}` });
    }
  }
  return out;
}

/**
 * Remove credentials a request body may carry even after masking (MCP server authorization
 * tokens), in a Messages request and in each request of a Message Batch. Returns the text
 * unchanged when it is not JSON or holds none.
 */
export function scrubRequestBody(maskedBody: string): string {
  if (!maskedBody.includes('authorization_token')) return maskedBody;
  try {
    const parsed = parseJson(maskedBody) as { mcp_servers?: unknown; requests?: unknown };
    let changed = scrubMcpServers(parsed);
    if (Array.isArray(parsed.requests)) {
      for (const r of parsed.requests) {
        if (r && typeof r === 'object' && 'params' in r) changed = scrubMcpServers((r as { params: unknown }).params) || changed;
      }
    }
    return changed ? JSON.stringify(parsed) : maskedBody;
  } catch {
    // Not JSON: a masked body that mentions the name without being JSON carries no token field.
    return maskedBody;
  }
}

/** Replace the authorization_token of each MCP server in `params.mcp_servers`; true when one was. */
function scrubMcpServers(params: unknown): boolean {
  if (!params || typeof params !== 'object') return false;
  const servers = (params as { mcp_servers?: unknown }).mcp_servers;
  if (!Array.isArray(servers)) return false;
  let changed = false;
  for (const server of servers) {
    if (server && typeof server === 'object' && 'authorization_token' in server) {
      (server as Record<string, unknown>).authorization_token = '[credential removed]';
      changed = true;
    }
  }
  return changed;
}

/** Build the data of a request event from what the sidecar has after masking. */
export function requestData(input: {
  method: string;
  url: string;
  headers: Record<string, string | string[] | undefined>;
  /** The bytes forwarded upstream (for the digest and size); for a streamed body, its declared size. */
  forwarded: Buffer | { streamedBytes: number };
  /** The masked body text, or undefined to record the digest only. */
  maskedBody?: string;
  model?: string;
  stream?: boolean;
  findings?: RecordedFinding[];
  sessionSource?: SessionSource;
  /**
   * Masks the values of the skill's own headers, and its query string; null: masking is off, such
   * values are not recorded.
   */
  maskHeader?: HeaderMasker | null;
}): RequestData {
  const q = input.url.indexOf('?');
  // Members in sorted order (canonical JSON's), so sealing serialises this object without a copy.
  const out = {} as RequestData;
  if (input.maskedBody !== undefined) out.body = scrubRequestBody(input.maskedBody);
  if (Buffer.isBuffer(input.forwarded)) {
    out.bodyBytes = input.forwarded.length;
    out.bodySha256 = sha256Hex(input.forwarded);
  } else {
    out.bodyBytes = input.forwarded.streamedBytes;
    out.bodyStreamed = true;
  }
  // The headers' findings join the body's (a copy only when there are some: every request passes here).
  const headerFindings: RecordedFinding[] = [];
  const headers = recordHeaders(input.headers, input.maskHeader ?? null, headerFindings);
  const findings = headerFindings.length > 0 ? [...(input.findings ?? []), ...headerFindings] : input.findings;
  if (findings && findings.length > 0) out.findings = findings;
  out.headers = headers;
  out.method = input.method;
  if (input.model !== undefined) out.model = input.model;
  out.path = q === -1 ? input.url : input.url.slice(0, q);
  // The query string is the skill's to fill, as its headers are: masked the same way, read decoded
  // (jane%40example.com is an email address), and not recorded when masking is off (null). Its
  // findings carry the path `query`, their offsets into the decoded text recorded.
  if (q !== -1 && input.maskHeader !== null) {
    const query = input.url.slice(q + 1);
    if (input.maskHeader === undefined) out.query = query;
    else {
      const r = input.maskHeader(decodedQuery(query));
      out.query = r.masked;
      if (r.findings.length > 0) out.findings = [...(out.findings ?? []), ...r.findings.map((f) => ({ ...f, path: 'query' }))];
    }
  }
  if (input.sessionSource) out.sessionSource = input.sessionSource;
  if (input.stream !== undefined) out.stream = input.stream;
  return out;
}

/** A query string with its names and values percent-decoded ('+' as a space), for masking. */
function decodedQuery(query: string): string {
  if (!/[%+]/.test(query)) return query;
  return query.split('&').map((pair) => pair.split('=').map(decodeComponent).join('=')).join('&');
}

function decodeComponent(text: string): string {
  const spaced = text.replace(/\+/g, ' ');
  try {
    return decodeURIComponent(spaced);
  } catch {
    return spaced; // a stray '%' or a broken UTF-8 sequence: read as written
  }
}

/** Every fingerprint an event's findings carry. */
export function fingerprintsOf(event: SessionEvent): string[] {
  const data = event.data as { findings?: RecordedFinding[] };
  return data.findings ? data.findings.map((f) => f.fingerprint) : [];
}
