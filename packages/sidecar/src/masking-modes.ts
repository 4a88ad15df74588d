// Masking modes in the data path (SkillPolicy spec.masking.mode):
//   record   — nothing sent or received is rewritten; only records hold masked copies (the journal)
//   request  — Claude never sees the values: the request body is masked before forwarding (its
//              metadata.user_id too), the values of its headers but the protocol's own and of its
//              query string, and an upload (Files API, a skill's folder on the Skills API) as it
//              streams: its text files, form fields and file names
//   response — the skill never sees values Claude returns: responses are masked, streams per event,
//              a text file the skill downloads (Files API), any other answer in text and a batch's
//              results as they stream
//   both     — request and response
//   tokenize — Claude sees stable placeholders (<EMAIL_ADDRESS_1a2b…>), the skill sees real values again
// Rewriting modes are opt-in because they break prompt caching and signed thinking blocks (see
// ANTHROPIC-WIRE.md). On any masking error the request is refused, never forwarded raw; an answer
// that must be read to be masked or restored but came content-encoded is refused too (respond.ts).
import type { IncomingHttpHeaders } from 'node:http';
import type { MaskingSpec } from '@skillgate/api';
import { Vault, createMasker, type Finding, type Masker, type StreamMasker } from '@skillgate/masking';
import { PlaceholderCollision } from '@skillgate/masking/actions';
import { GatewayError, NOT_RETRIED, PROTOCOL_HEADERS, codes, forwardsHeader, isRecord, parseJson, uploadsFiles } from '@skillgate/wire';
import type { Exchange } from './exchange.js';
import type { MaskingVerdict, ResponseFilter } from './ports/guard.js';
import { downloadMasking, uploadMaskFilter } from './file-masking.js';
import { batchResultsRewriter } from './batch-results.js';
import { cleanHeaderValues, coveredBy, decodeQueryComponent, rememberCleanValue } from '@skillgate/record/event';

export type MaskingMode = NonNullable<MaskingSpec['mode']>;

export interface MaskingModeOptions {
  onFindings?: (direction: 'request' | 'response', findings: readonly Finding[]) => void;
}

/** How much of tokenize mode's batch vaults a sidecar keeps (MaskerBook.keepForBatch). */
export const BATCH_VAULTS = { batches: 64, bytes: 16 * 1024 * 1024, keepMs: 29 * 24 * 3600 * 1000 };

/**
 * Caches one masker per masking spec (specs change only with policy generations). The installation
 * key is read each time (in a cluster it arrives with the first workload token, before any request
 * is served); a changed key makes new maskers.
 */
export class MaskerBook {
  private cache: { spec: MaskingSpec | undefined; key: string; masker: Masker } | undefined;
  private readonly keyOf: () => string;
  /** Tokenize mode: what each Message Batch the skill created was masked with, by batch id, oldest first. */
  private readonly batches = new Map<string, { vault: Vault; bytes: number; until: number }>();
  private readonly now: () => number;
  private readonly bounds: typeof BATCH_VAULTS;
  constructor(key: string | (() => string), opts: { now?: () => number; batchVaults?: typeof BATCH_VAULTS } = {}) {
    this.keyOf = typeof key === 'string' ? () => key : key;
    this.now = opts.now ?? Date.now;
    this.bounds = opts.batchVaults ?? BATCH_VAULTS;
  }

  /**
   * The shared masker of a spec: the record's, the guard's and the modes that do not tokenize. Its
   * vault forgets (placeholders as in tokenize mode, values kept nowhere): nothing restores through
   * it, and a vault it filled would keep every value the record ever masked for the process's life.
   */
  forSpec(spec: MaskingSpec | undefined): Masker {
    const key = this.keyOf();
    if (this.cache && this.cache.spec === spec && this.cache.key === key) return this.cache.masker;
    const masker = createMasker(spec, { key, vault: new ForgetfulVault() });
    this.cache = { spec, key, masker };
    return masker;
  }

  /** A fresh masker with its own vault (tokenize mode: placeholders of this conversation). */
  fresh(spec: MaskingSpec | undefined): Masker {
    return createMasker(spec, { key: this.keyOf() });
  }

  /**
   * Tokenize mode for an upload: the same placeholders, kept nowhere — nothing of an upload comes
   * back to restore, and a file may hold millions of values.
   */
  forgetful(spec: MaskingSpec | undefined): Masker {
    return createMasker(spec, { key: this.keyOf(), vault: new ForgetfulVault() });
  }

  /**
   * Tokenize mode: keep what a Message Batch's requests were masked with — the placeholders and
   * their values, copied out of the request's text — until its results are read (the API keeps
   * them 29 days), so they come back with the skill's values. Bounded: the newest
   * BATCH_VAULTS.batches batches, at most BATCH_VAULTS.bytes of placeholders and values in all; a
   * batch past that, or a sidecar restarted since, gets its results with the placeholders Claude saw.
   */
  keepForBatch(id: string, masker: Masker): void {
    if (masker.vault.size === 0) return;
    const { vault, bytes } = masker.vault.detached();
    if (bytes > this.bounds.bytes) return;
    this.batches.delete(id);
    this.batches.set(id, { vault, bytes, until: this.now() + this.bounds.keepMs });
    let held = 0;
    for (const e of this.batches.values()) held += e.bytes;
    for (const [old, e] of this.batches) {
      if (this.batches.size <= this.bounds.batches && held <= this.bounds.bytes && e.until > this.now()) break;
      this.batches.delete(old);
      held -= e.bytes;
    }
  }

  /** A masker over what a batch's requests were masked with (tokenize mode), while kept. */
  forBatch(id: string, spec: MaskingSpec | undefined): Masker | undefined {
    const e = this.batches.get(id);
    if (e && e.until <= this.now()) this.batches.delete(id);
    return e && e.until > this.now() ? createMasker(spec, { key: this.keyOf(), vault: e.vault }) : undefined;
  }
}

class ForgetfulVault extends Vault {
  override set(): void {}
}

const maskingFailed = (err: unknown): GatewayError => new GatewayError(codes.maskingFailed, 'api_error',
  err instanceof PlaceholderCollision
    // 64-bit tags make this a chance of about 1 in 10^9 for a batch of 200,000 values; a retry meets it again.
    ? `skillgate could not tokenize this request: two different values in it would get the same placeholder (${err.placeholder}), and the answer could then give back the wrong one, so it was not forwarded. Send them in separate requests, or mask this skill with another mode.`
    : 'skillgate could not mask this request as its policy requires, so it was not forwarded. The request id is in the sidecar log.', { cause: err, headers: { ...NOT_RETRIED } });

/** The verdict parts (upstream body, upload filter, response filter) that a masking mode adds to one exchange. */
export function maskingVerdict(x: Exchange, spec: MaskingSpec & { mode: MaskingMode }, book: MaskerBook, opts: MaskingModeOptions): MaskingVerdict {
  const mode = spec.mode;
  if (mode === 'record') return {};
  if (x.route.kind === 'openai_chat') {
    // Rewriting what Claude and the skill exchange is done in the Claude API's own shapes only; the
    // OpenAI-compatible answers (and their streams) would go through unmasked: refused instead.
    throw new GatewayError(codes.policyDenied, 'permission_error', `this skill's masking mode (${mode}) rewrites what Claude and the skill exchange, which skillgate does for the Claude API's own endpoints only: call /v1/messages instead of the OpenAI-compatible /v1/chat/completions.`);
  }
  if (x.route.kind === 'complete' && x.stream && mode !== 'request') {
    // A legacy Text Completions stream's `completion` events are not Messages blocks, which the live
    // rewriter masks (and tokenize restores): they would reach the skill as Claude wrote them.
    throw new GatewayError(codes.policyDenied, 'permission_error', `this skill's masking mode (${mode}) rewrites answers as they stream, which skillgate does for Messages streams only: call /v1/complete without "stream": true, or /v1/messages.`);
  }
  const upload = uploadsFiles(x.route.kind);
  const masksRequests = mode === 'request' || mode === 'both' || mode === 'tokenize';
  const batch = mode === 'tokenize' ? x.route.batchId : undefined;
  const masker = mode !== 'tokenize' ? book.forSpec(spec) : upload ? book.forgetful(spec) : (batch && book.forBatch(batch, spec)) || book.fresh(spec);
  const out: MaskingVerdict = {};
  if (masksRequests && upload) out.uploadFilter = uploadMaskFilter(x.req.headers['content-type'], masker, (f) => opts.onFindings?.('request', f));
  if (masksRequests) {
    try {
      // What goes upstream besides the body: the skill's own header values and its query string,
      // through the policy's shared masker (in tokenize mode the same placeholders, kept nowhere:
      // Claude never reads them back, and a kept batch's vault is not to grow with them). Their
      // findings are the record's to count (it masks the same values: record-journal.ts).
      const shared = book.forSpec(spec);
      const headers = maskedHeaders(x.req.headers, shared);
      if (headers) out.upstreamHeaders = headers;
      const url = maskedQuery(x.url, shared);
      if (url !== undefined) out.upstreamUrl = url;
    } catch (err) {
      throw maskingFailed(err);
    }
  }
  if (masksRequests && x.request) {
    try {
      const r = masker.maskMessagesRequest(x.request);
      const ids = maskedUserIds(r.body, masker);
      const findings = ids.findings.length > 0 ? [...r.findings, ...ids.findings] : r.findings;
      opts.onFindings?.('request', findings);
      // The record reuses this copy (the body masked once) unless its own walk comes out different:
      // what only the record masks (thinking, server tool results, stop_sequences…) holds a value,
      // or base64 media that the record keeps by digest only. Nothing found: the body goes upstream
      // as sent, and the record keeps those bytes too.
      if (findings.length > 0) {
        const text = JSON.stringify(ids.body);
        if (!r.recordDiffers) x.maskedRequest = { text, findings };
        out.upstreamBody = Buffer.from(text);
      } else if (!r.recordDiffers && x.body) {
        x.maskedRequest = { text: x.body.toString('utf8'), findings: [] };
      }
    } catch (err) {
      throw maskingFailed(err);
    }
  }
  if (mode === 'response' || mode === 'both') out.responseFilter = responseMaskFilter(masker, opts);
  else if (mode === 'tokenize') out.responseFilter = restoreFilter(masker, x.route.kind === 'batch_create' ? (id) => book.keepForBatch(id, masker) : undefined);
  return out;
}

/**
 * The skill's headers with every value masked as text but those the API parses (PROTOCOL_HEADERS:
 * versions, beta names, media types) and those never forwarded (credentials, hop-by-hop): a copy
 * when a value changed, else undefined (the headers go as sent). A value this masker left as it was
 * before (user-agent, an SDK's x-stainless-*) is a lookup, not a masker call (cleanHeaderValues).
 */
function maskedHeaders(headers: IncomingHttpHeaders, masker: Masker): IncomingHttpHeaders | undefined {
  const clean = cleanHeaderValues(masker);
  let out: IncomingHttpHeaders | undefined;
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined || PROTOCOL_HEADERS.has(name) || !forwardsHeader(name)) continue;
    if (clean.get(name) === value) continue;
    const masked = Array.isArray(value) ? value.map((v) => masker.maskText(v).masked) : masker.maskText(value).masked;
    if (Array.isArray(value) ? value.every((v, i) => v === masked[i]) : value === masked) {
      if (typeof value === 'string') rememberCleanValue(clean, name, value);
      continue;
    }
    out ??= { ...headers };
    (out as Record<string, string | string[]>)[name] = masked;
  }
  return out;
}


/**
 * The path and query with each parameter masked as it reads decoded (`customer=jane%40example.com`
 * is an email address; a name gives its value context, as `ssn=…`), re-encoded where masking
 * changed it; a parameter with nothing in it keeps its bytes as sent (`beta=true`). Undefined: the
 * URL goes as sent.
 */
export function maskedQuery(url: string, masker: Masker): string | undefined {
  const q = url.indexOf('?');
  if (q === -1) return undefined;
  let changed = false;
  const params = url.slice(q + 1).split('&').map((param) => {
    if (param === '') return param;
    const eq = param.indexOf('=');
    const read = (plusIsSpace: boolean) => {
      const name = decodeQueryComponent(eq === -1 ? param : param.slice(0, eq), plusIsSpace);
      const text = eq === -1 ? name : `${name}=${decodeQueryComponent(param.slice(eq + 1), plusIsSpace)}`;
      const r = masker.maskText(text);
      return { name, text, masked: r.masked, covered: coveredBy(r.findings) };
    };
    // '+' is a space to a server and a sign to a person (+14155552671, jane+tag@example.com): a
    // parameter with one is read both ways, and the reading that masks more of it goes upstream.
    let reading = read(true);
    if (param.includes('+')) {
      const kept = read(false);
      if (kept.covered > reading.covered) reading = kept;
    }
    const { name, text, masked } = reading;
    if (masked === text) return param;
    changed = true;
    if (eq === -1) return encodeQueryPart(masked);
    // Most often the value alone held something: the name keeps its bytes.
    if (masked.startsWith(`${name}=`)) return `${param.slice(0, eq)}=${encodeQueryPart(masked.slice(name.length + 1))}`;
    const at = masked.indexOf('=');
    return at === -1 ? encodeQueryPart(masked) : `${encodeQueryPart(masked.slice(0, at))}=${encodeQueryPart(masked.slice(at + 1))}`;
  });
  return changed ? `${url.slice(0, q + 1)}${params.join('&')}` : undefined;
}

const encodeQueryPart = (text: string): string => encodeURIComponent(text);

/**
 * `metadata.user_id` of a Messages request (or of each request of a Message Batch) masked as text:
 * an id the skill chose for its end user, which some fill with an email address. The API reads it
 * as an opaque id only (abuse detection), so a placeholder or hash serves it as well; the body walk
 * for the wire leaves it as sent (it masks it for the record only). Never mutates `body`.
 */
function maskedUserIds(body: unknown, masker: Masker): { body: unknown; findings: Finding[] } {
  const findings: Finding[] = [];
  const params = (p: unknown, path: string): unknown => {
    if (!isRecord(p) || !isRecord(p.metadata) || typeof p.metadata.user_id !== 'string') return p;
    const r = masker.maskText(p.metadata.user_id);
    if (r.masked === p.metadata.user_id) return p;
    for (const f of r.findings) findings.push({ ...f, path: `${path}metadata.user_id` });
    return { ...p, metadata: { ...p.metadata, user_id: r.masked } };
  };
  let out = params(body, '');
  if (isRecord(out) && Array.isArray(out.requests)) {
    const requests = out.requests.map((req: unknown, i: number) => {
      if (!isRecord(req)) return req;
      const p = params(req.params, `requests[${i}].params.`);
      return p === req.params ? req : { ...req, params: p };
    });
    if (requests.some((req, i) => req !== (out as { requests: unknown[] }).requests[i])) out = { ...out, requests };
  }
  return { body: out, findings };
}

function streamFilter(make: () => StreamMasker, onFindings?: (f: readonly Finding[]) => void): Pick<ResponseFilter, 'event' | 'end'> {
  let stream: StreamMasker | undefined;
  let seen = 0;
  const report = (): void => {
    if (!stream || !onFindings) return;
    const fresh = stream.findings.slice(seen);
    seen = stream.findings.length;
    if (fresh.length) onFindings(fresh);
  };
  return {
    event(ev) {
      stream ??= make();
      const out = stream.push(ev).map((o) => o.raw);
      report();
      return out;
    },
    end() {
      if (!stream) return [];
      const out = stream.end().map((o) => o.raw);
      report();
      return out;
    },
  };
}

function responseMaskFilter(masker: Masker, opts: MaskingModeOptions): ResponseFilter {
  return {
    ...streamFilter(() => masker.createStreamMasker(), (f) => opts.onFindings?.('response', f)),
    download: (file) => downloadMasking(file, masker, (f) => opts.onFindings?.('response', f)),
    batchResults: () => batchResultsRewriter({
      message(message) {
        const r = masker.maskAnswer(message);
        if (r.findings.length === 0) return undefined;
        opts.onFindings?.('response', r.findings);
        return r.body;
      },
      unreadable(line) {
        const t = masker.maskText(line);
        if (t.findings.length > 0) opts.onFindings?.('response', t.findings);
        return t.masked;
      },
    }),
    body(body) {
      // Labelled JSON but not: masked as text, never passed on raw.
      const r = masker.maskAnswerText(body.toString('utf8'));
      if (r.findings.length === 0) return body; // untouched bytes
      opts.onFindings?.('response', r.findings);
      return Buffer.from(r.masked);
    },
  };
}

function restoreFilter(masker: Masker, batchCreated?: (id: string) => void): ResponseFilter {
  return {
    ...(batchCreated ? { batch: (b: Record<string, unknown>) => { if (typeof b.id === 'string') batchCreated(b.id); } } : {}),
    ...streamFilter(() => masker.createStreamRestorer()),
    batchResults: () => batchResultsRewriter({
      untouched: (line) => masker.restoreText(line) === line,
      message: (message) => masker.restoreMessagesResponse(message),
      unreadable: (line) => line,
    }),
    body(body) {
      const text = body.toString('utf8');
      // No placeholder in it: nothing to restore, and the bytes go as sent.
      if (masker.restoreText(text) === text) return body;
      let parsed: unknown;
      try {
        parsed = parseJson(text);
      } catch {
        return body; // labelled JSON but not: placeholders stay (they give nothing away)
      }
      return Buffer.from(JSON.stringify(masker.restoreMessagesResponse(parsed)));
    },
  };
}
