// Session events: what the record holds about a skill's traffic. One envelope (identity, session,
// sequence, time, hash-chain links) around one body per kind. Plain types plus the small pure
// builders that make a request/response fit for the record. This module must never hold a
// credential or a raw sensitive value: request and response headers pass through `recordHeaders`
// with a masker (every value masked but short numbers and the API's own answer headers, which no
// entity can hide in: a skill writes its headers, and an upstream's answer can quote what it was
// sent — a downloaded file's name in content-disposition), paths through `recordedPath`, an
// egress destination (a DNS name or URL can carry data out) through `recordedDestination`, bodies
// and free text arrive already masked from the masking engine, and
// `mcp_servers[].authorization_token` is removed here again.
import { isIP } from 'node:net';
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

// Free text in the events below (a decision's reason, a refusal's message, …) can quote what the
// skill sent (a refused MCP server URL, a member name, a JSON parser's excerpt of the body): the
// record keeps it masked, and its findings (path: the member) let `find` reach the event.

export interface DecisionData {
  action: 'allow' | 'deny' | 'hold' | 'rate_limited';
  policies?: string[];
  rule?: string;
  reason?: string;
  findings?: RecordedFinding[];
}

export interface ApprovalData {
  state: 'held' | 'approved' | 'denied' | 'expired';
  approval: string;
  by?: string;
  reason?: string;
  findings?: RecordedFinding[];
}

export interface ResponseData {
  status: number;
  /** The answer's headers as recordHeaders keeps them (values masked, findings `headers.<name>`). */
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
  findings?: RecordedFinding[];
  events?: number;
  bytes?: number;
  ms?: number;
}

export interface EgressData {
  /**
   * host:port, or what an attempt that named none wrote (a Host header, a URL), masked
   * (recordedDestination): a DNS name or a URL the skill chose can carry data out.
   */
  destination: string;
  method: string;
  allowed: boolean;
  reason?: string;
  bytesUp?: number;
  bytesDown?: number;
  /** Findings in `destination` and `reason` (path: the member). */
  findings?: RecordedFinding[];
}

// A lock's name and reason, and a revocation's reason, are people's words (an admin's, a
// controller's): masked as a decision's reason is, findings named by member.

export interface LockData {
  target: string; // e.g. skill/ns/name, owner/email, pod/ns/name, session/id
  lock?: string;
  reason?: string;
  findings?: RecordedFinding[];
}

export interface RevocationData {
  token?: string; // token id (jti), never the token
  reason?: string;
  findings?: RecordedFinding[];
}

export interface RefusalData {
  status: number;
  code: string;
  type: string;
  message: string;
  /** A request refused before it was recorded (a bad path or body): what it asked for (the path masked). */
  method?: string;
  path?: string;
  findings?: RecordedFinding[];
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
 * How a header is recorded: not at all (a credential), or under its lower-case name, its value
 * masked — except, in the Claude API's answer, a header the API makes itself (`apiMade`).
 */
type HeaderTreatment = { name: string; apiMade: boolean } | null;

/**
 * Headers of an answer whose values the Claude API (or the CDN in front of it) makes itself, from
 * nothing the skill sent: ids, times, rate limits, transport. Recorded as sent in an answer: masking
 * would find nothing to protect and something to break (a `cf-ray` or `request-id` read as a
 * secret, a ratelimit reset time read as a date of birth), and each is new on every exchange, so
 * no memo spares the scan. Every other answer header is masked: a download's content-disposition
 * names the file the skill uploaded, and its content-type is the one the skill gave.
 */
const API_MADE_ANSWER_HEADERS = new Set([
  'request-id', 'date', 'retry-after', 'x-should-retry', 'anthropic-organization-id', 'cf-ray', 'cf-cache-status',
  'server', 'via', 'connection', 'keep-alive', 'transfer-encoding', 'content-length', 'content-encoding', 'cache-control', 'vary',
  'strict-transport-security', 'x-robots-tag', 'x-envoy-upstream-service-time',
]);
const isApiMadeAnswerHeader = (lower: string): boolean => API_MADE_ANSWER_HEADERS.has(lower) || lower.startsWith('anthropic-ratelimit-');

/**
 * The value of each header (by recorded name) a masker last found nothing in: the values of a
 * header repeat from exchange to exchange (user-agent, the SDK's x-stainless-*, an answer's
 * content-type), and a lookup is all such a repeat then costs — no masker call, no result to
 * allocate. Kept per masker, so the request's and the answer's maskers (one each per journal) do
 * not evict each other's values of a header both have (content-type). Bounded as the names are.
 */
const cleanValues = new WeakMap<object, Map<string, string>>();

/**
 * The values each header (by name) had when `masker` last found nothing in them (cleanValues) —
 * the record's HeaderMasker here, a Masker in the rewriting masking modes (sidecar): a repeat is a
 * lookup there too.
 */
export function cleanHeaderValues(masker: object): Map<string, string> {
  let clean = cleanValues.get(masker);
  if (clean === undefined) cleanValues.set(masker, clean = new Map());
  return clean;
}

/** Remember that `value` of header `name` holds nothing, within the bound on names. */
export function rememberCleanValue(clean: Map<string, string>, name: string, value: string): void {
  if (clean.size >= HEADER_NAMES_MAX) clean.clear();
  clean.set(name, value);
}

// Each header name a sidecar sees is classified once: the names are few and repeat on every
// request. Bounded: a flood of unique names only costs a reset.
const HEADER_NAMES_MAX = 1024;
let headerTreatments = new Map<string, HeaderTreatment>();

function headerTreatment(rawName: string): HeaderTreatment {
  let t = headerTreatments.get(rawName);
  if (t === undefined) {
    const lower = rawName.toLowerCase();
    t = CREDENTIAL_HEADERS.has(lower) || TOKENISH.test(lower) ? null : { name: lower, apiMade: isApiMadeAnswerHeader(lower) };
    if (headerTreatments.size >= HEADER_NAMES_MAX) headerTreatments = new Map();
    headerTreatments.set(rawName, t);
  }
  return t;
}

/**
 * Values no entity can hide in, recorded as sent: a number of at most six digits (content-length, a
 * retry count, a timeout: every card, SSN, phone, account or routing number is longer), and the
 * sidecar's own loopback address (the host a skill dialled it by: no one's IP address). The check
 * spares the masker a scan of each new content-length (a value seen before is a memo hit anyway).
 */
const PLAIN_VALUE = /^(?:\d{1,6}|(?:127\.0\.0\.1|localhost|\[::1\])(?::\d{1,5})?)$/;

/**
 * Masks one header value: the text to record and its findings (offsets into the value). A pure
 * function of the value (recordHeaders remembers values it found clean): one per masker, not one
 * per request.
 */
export type HeaderMasker = (value: string) => { masked: string; findings: RecordedFinding[] };

/**
 * Headers fit for the record: credential headers (x-api-key, authorization, cookies), workload
 * tokens and anything named like a secret are dropped, repeated values joined. Every other value is
 * the sender's to fill (a "protocol" header such as user-agent, accept-language or an SDK's
 * x-stainless-os can carry anything the skill puts there; an answer's content-disposition names a
 * file the skill chose), so with `mask` each value goes through it and its findings (with the path
 * `headers.<name>`) are added to `findings`; with `null` (no masker) values are not recorded;
 * without one (undefined) they are returned as sent — for callers that mask them afterwards or
 * hold no sensitive values (tests, tools); the sidecar always passes a masker or null. Either way
 * a value no entity can hide in (PLAIN_VALUE: a short number, the sidecar's loopback address) is
 * kept as sent, and so, in the Claude API's answer (`apiAnswer`), are the headers the API makes
 * itself (API_MADE_ANSWER_HEADERS); in a request, a header of that name is the skill's like any other.
 */
export function recordHeaders(
  headers: Record<string, string | string[] | undefined>, mask?: HeaderMasker | null, findings?: RecordedFinding[], apiAnswer = false,
): Record<string, string> {
  const out: Record<string, string> = {};
  const clean = mask ? cleanHeaderValues(mask) : undefined;
  for (const rawName in headers) {
    if (!Object.hasOwn(headers, rawName)) continue;
    const raw = headers[rawName];
    if (raw === undefined) continue;
    const t = headerTreatment(rawName);
    if (t === null) continue;
    const value = Array.isArray(raw) ? raw.join(', ') : raw;
    // The lookup first: it settles most values of an exchange (a repeat found clean before).
    if (mask === undefined || (apiAnswer && t.apiMade) || clean?.get(t.name) === value || PLAIN_VALUE.test(value)) {
      out[t.name] = value;
    } else if (mask === null) {
      out[t.name] = VALUE_NOT_RECORDED;
    } else {
      const r = mask(value);
      out[t.name] = r.masked;
      if (r.findings.length === 0) rememberCleanValue(clean!, t.name, value);
      for (const f of r.findings) findings?.push({ ...f, path: `headers.${t.name}` });
    }
  }
  return out;
}

const VALUE_NOT_RECORDED = '[value not recorded]';

// The words of the Claude API's paths: every other segment (an id, a model, a version) is the
// skill's to write, and so masked (or, where nothing masks, left out) in the record and the logs.
const API_SEGMENTS = new Set([
  'v1', 'messages', 'count_tokens', 'batches', 'results', 'cancel', 'complete', 'chat', 'completions',
  'files', 'content', 'models', 'skills', 'versions', 'api', 'hello',
]);
/** Ids the Claude API hands out (msgbatch_…, file_…, skill_…) and model names: kept in the shape of a path. */
const API_ID = /^(?:(?:msgbatch|file|skill|msg)_[A-Za-z0-9]{1,64}|claude-[a-z0-9.-]{1,64})$/;

/**
 * A path with every segment that is neither a word of the API nor an id it hands out replaced by
 * `[redacted]`: what a log line, or a record without a masker, may keep of a path the skill wrote
 * (`/v1/files/4111-1111-1111-1111` → `/v1/files/[redacted]`). Paths of the API's own come back as they are.
 */
export function pathShape(path: string): string {
  if (apiWordsOnly(path)) return path; // /v1/messages: no split per request
  let out: string[] | undefined;
  const segments = path.split('/');
  for (let i = 0; i < segments.length; i++) {
    const s = segments[i]!;
    if (s === '' || API_SEGMENTS.has(s) || API_ID.test(s)) continue;
    out ??= segments.slice();
    out[i] = '[redacted]';
  }
  return out ? out.join('/') : path;
}

/** Whether every segment of `path` is a word of the API (no id, no model: nothing the skill wrote). */
function apiWordsOnly(path: string): boolean {
  let from = 1;
  if (path.charCodeAt(0) !== 47 /* / */) return false;
  while (from <= path.length) {
    let to = path.indexOf('/', from);
    if (to === -1) to = path.length;
    if (!API_SEGMENTS.has(path.slice(from, to))) return false;
    from = to + 1;
  }
  return true;
}

/**
 * A request's path as the record keeps it: masked as a header value is (read percent-decoded, as
 * the query is: a path refused for its encoding is recorded too), its findings with the path
 * `path`; without a masker, its shape (pathShape).
 */
export function recordedPath(path: string, mask: HeaderMasker | null | undefined, findings: RecordedFinding[]): string {
  if (apiWordsOnly(path)) return path; // /v1/messages: nothing to mask (and no masker call per request)
  if (!mask) return pathShape(path);
  const r = mask(path.includes('%') ? decodeComponent(path, false) : path);
  for (const f of r.findings) findings.push({ ...f, path: 'path' });
  return r.masked;
}

/**
 * An egress attempt's destination as the record keeps it: masked as a header value is (a DNS name
 * such as `4111111111111111.attacker.example`, or the URL or Host an unparseable request named, can
 * carry what the skill meant to send out), its findings with the path `destination`; a clean name
 * comes back as it is (`api.github.com:443`), a masked one keeps its shape
 * (`[CREDIT_CARD].attacker.example:443`). An IP literal host is kept: it is where the traffic went,
 * a server's address and no one's data, and masking finds nothing in the few bytes it could carry.
 * Without a masker (null), nothing of it is recorded.
 */
export function recordedDestination(destination: string, mask: HeaderMasker | null, findings: RecordedFinding[]): string {
  if (isIpDestination(destination)) return destination;
  if (!mask) return DESTINATION_NOT_RECORDED;
  const r = mask(destination);
  for (const f of r.findings) findings.push({ ...f, path: 'destination' });
  return r.masked;
}

const DESTINATION_NOT_RECORDED = '[destination not recorded: it could not be masked]';

/**
 * Whether a destination is an IP literal, with or without a port (`10.0.0.7:80`, `[::1]:443`,
 * `::1:443`). Not one with an IPv6 zone id (`fe80::1%eth0`): node:net takes any letters and digits
 * there, so the skill could write what it likes after the `%` (`[fe80::1%4111111111111111]:443`).
 */
export function isIpDestination(destination: string): boolean {
  if (destination.indexOf('%') >= 0) return false;
  if (isIP(destination) !== 0) return true;
  const m = /^\[?([^\]]*?)\]?:\d{1,5}$/.exec(destination);
  return m !== null && isIP(m[1]!) !== 0;
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
   * Masks the request's header values, its path and its query string; null (masking is off): header
   * values and the query are not recorded, the path only in its shape (pathShape).
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
  // The headers', the path's and the query's findings join the body's (a copy only when there are
  // some: every request passes here).
  const ownFindings: RecordedFinding[] = [];
  const headers = recordHeaders(input.headers, input.maskHeader ?? null, ownFindings);
  const path = recordedPath(q === -1 ? input.url : input.url.slice(0, q), input.maskHeader, ownFindings);
  // The query string is the skill's to fill, as its headers are: masked the same way, read decoded
  // (jane%40example.com is an email address), and not recorded when masking is off (null). Its
  // findings carry the path `query`, their offsets into the decoded text recorded.
  let query: string | undefined;
  if (q !== -1 && input.maskHeader !== null) {
    query = input.url.slice(q + 1);
    if (input.maskHeader !== undefined) {
      let r = input.maskHeader(decodedQuery(query));
      // '+' is a space to a server and a sign to a person (+14155552671, jane+tag@example.com): a
      // query with one is read both ways, and the record keeps the reading that masks more of it.
      if (query.includes('+')) {
        const kept = input.maskHeader(decodedQuery(query, false));
        if (coveredBy(kept.findings) > coveredBy(r.findings)) r = kept;
      }
      query = r.masked;
      for (const f of r.findings) ownFindings.push({ ...f, path: 'query' });
    }
  }
  const findings = ownFindings.length > 0 ? [...(input.findings ?? []), ...ownFindings] : input.findings;
  if (findings && findings.length > 0) out.findings = findings;
  out.headers = headers;
  out.method = input.method;
  if (input.model !== undefined) out.model = input.model;
  out.path = path;
  if (query !== undefined) out.query = query;
  if (input.sessionSource) out.sessionSource = input.sessionSource;
  if (input.stream !== undefined) out.stream = input.stream;
  return out;
}

/** How many characters findings cover (their spans do not overlap): which of two readings masks more. */
export const coveredBy = (findings: readonly { start: number; end: number }[]): number => findings.reduce((n, f) => n + f.end - f.start, 0);

/** A query string with its names and values percent-decoded ('+' as a space, or kept), for masking. */
function decodedQuery(query: string, plusIsSpace = true): string {
  if (!/[%+]/.test(query)) return query;
  return query.split('&').map((pair) => pair.split('=').map((part) => decodeQueryComponent(part, plusIsSpace)).join('=')).join('&');
}

/**
 * A query string's name or value as a server reads it, for masking: '+' a space (`plusIsSpace`),
 * percent-escapes decoded; one that does not decode (a stray '%', broken UTF-8) read as written but
 * for its '+'s, so `4111+1111+1111+1111%` is still a card. The record and the rewriting masking modes
 * read queries so, and read one with a '+' again with its '+'s kept (`+14155552671` is a phone
 * number), keeping the reading that masks more.
 */
export function decodeQueryComponent(text: string, plusIsSpace = true): string {
  return /[%+]/.test(text) ? decodeComponent(text, plusIsSpace) : text;
}

/** Percent-decoded text ('+' as a space in a query, not in a path). */
function decodeComponent(text: string, plusIsSpace = true): string {
  const spaced = plusIsSpace ? text.replace(/\+/g, ' ') : text;
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
