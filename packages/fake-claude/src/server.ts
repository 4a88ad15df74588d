// The fake Claude API server: node:http, no framework. Routes each request to the endpoint it
// imitates, answers with the real API's shapes, headers and error wording, and keeps what it
// received for tests. It is also the upstream for the sidecar's benchmarks, so the Messages path
// does the minimum: read the body, parse it once, write the answer in one go unless a delay is set.
// It must never talk to anything but its own clients: no outbound traffic, ever.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { EventEmitter } from 'node:events';
import { createReadStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { AddressInfo } from 'node:net';
import { LIMITS, newId, SSE_HEADERS, STATUS_OF_TYPE, type AnthropicErrorType } from '@skillgate/wire';
import { BatchStore, type BatchResult } from './batches.js';
import { FileStore } from './files.js';
import { chunkByEvent, chunkBytes, FixtureLibrary } from './fixtures.js';
import { listPage, ModelCatalogue, type ModelInfo } from './models.js';
import { receiveMultipart, UploadTooLarge, type StoredUpload } from './multipart.js';
import { headerValues, type ReceivedRequest } from './received.js';
import {
  buildMessage, echoReply, eventData, foldFixture, formatEvents, generationLimits, isDieMidStreamReply, isErrorMidStreamReply, isErrorReply,
  isFixtureReply, splitText, streamErrorEvent, streamEvents, type ContentReply, type Reply, type ScriptedError, type StreamEvent,
} from './reply.js';
import { exhaustedRateLimitHeaders, responseHeaders } from './response-headers.js';
import { ReplyScript } from './script.js';
import { SkillStore } from './skills.js';
import { estimateInputTokens } from './tokens.js';
import { DEFAULT_ERROR_MESSAGES, listLimitProblem, parseJsonBody, validateCompleteRequest, validateMessagesRequest, type RequestProblem } from './validation.js';

export interface FakeClaudeOptions {
  /** Port to listen on; 0 (default) picks a free one. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** Delay before each streamed delta, in ms (default 0: the whole stream is written at once). */
  deltaDelayMs?: number;
  /** Where recorded SSE streams live (default: the bundled packages/fake-claude/fixtures/anthropic-sse, or SKILLGATE_FIXTURES). */
  fixturesDir?: string;
  /** When set, only these credentials are accepted (as x-api-key or Bearer); others get a 401. */
  apiKeys?: readonly string[];
  /** Keep received requests for tests: true (default, the last 1000), false, or how many to keep. */
  recordRequests?: boolean | number;
  /** How long a batch stays in_progress after creation, in ms (default 0: ended on the next read). */
  batchProcessingMs?: number;
  /** The origin used in absolute URLs (batch results_url); default the listening URL. */
  publicUrl?: string;
  models?: readonly ModelInfo[];
  /** Largest Messages body accepted, in bytes (default 32 MB, as upstream). */
  maxMessagesBytes?: number;
}

export interface FakeClaude {
  readonly url: string;
  readonly port: number;
  readonly host: string;
  readonly fixturesDir: string;
  /** Queue replies for coming Messages requests (see Reply). */
  script(...replies: Reply[]): void;
  /** Replies still queued. */
  readonly pendingReplies: number;
  /** Requests received so far, oldest first (bounded by recordRequests). */
  readonly requests: readonly ReceivedRequest[];
  /** The most recent request, optionally only those to `path`. */
  lastRequest(path?: string): ReceivedRequest | undefined;
  /** Resolves with the first received request (past or future) the predicate accepts. */
  waitForRequest(predicate: (r: ReceivedRequest) => boolean, timeoutMs?: number): Promise<ReceivedRequest>;
  clearRequests(): void;
  /** Forget scripted replies and received requests. */
  reset(): void;
  fixtureNames(): string[];
  close(): Promise<void>;
}

const JSON_HEADERS = { 'content-type': 'application/json' } as const;

interface Context {
  req: IncomingMessage;
  res: ServerResponse;
  received: ReceivedRequest;
}

export async function startFakeClaude(options: FakeClaudeOptions = {}): Promise<FakeClaude> {
  const host = options.host ?? '127.0.0.1';
  const defaultDelay = options.deltaDelayMs ?? 0;
  const keep = options.recordRequests === false ? 0 : options.recordRequests === true || options.recordRequests === undefined ? 1000 : options.recordRequests;
  const maxMessagesBytes = options.maxMessagesBytes ?? LIMITS.messages;
  const apiKeys = options.apiKeys ? new Set(options.apiKeys) : undefined;
  const fixtures = new FixtureLibrary(options.fixturesDir);
  const catalogue = new ModelCatalogue(options.models);
  const script = new ReplyScript();
  const uploadDir = await mkdtemp(join(tmpdir(), 'fake-claude-'));
  const files = new FileStore();
  const skills = new SkillStore();
  let origin = '';
  const batches = new BatchStore(options.batchProcessingMs ?? 0, () => options.publicUrl ?? origin);
  let requests: ReceivedRequest[] = [];
  const arrivals = new EventEmitter();
  arrivals.setMaxListeners(0);

  const remember = (r: ReceivedRequest): void => {
    if (keep > 0) {
      requests.push(r);
      if (requests.length > keep) requests.splice(0, requests.length - keep);
    }
    arrivals.emit('request', r);
  };

  // ---- writing answers -------------------------------------------------------------------

  const sendJson = (res: ServerResponse, status: number, body: unknown, extra?: Record<string, string>): void => {
    const { headers } = responseHeaders(extra ? { ...JSON_HEADERS, ...extra } : JSON_HEADERS);
    const text = JSON.stringify(body);
    headers['content-length'] = String(Buffer.byteLength(text));
    res.writeHead(status, headers);
    res.end(text);
  };

  const sendError = (res: ServerResponse, err: ScriptedError | RequestProblem): void => {
    const type = err.type as AnthropicErrorType;
    const status = err.status ?? STATUS_OF_TYPE[type] ?? 500;
    const message = err.message ?? DEFAULT_ERROR_MESSAGES[type] ?? 'Error';
    let extra: Record<string, string> | undefined = 'headers' in err ? err.headers : undefined;
    if (status === 429 && !('spendLimit' in err && err.spendLimit)) {
      const retryAfter = Number(extra?.['retry-after'] ?? 1);
      extra = { 'retry-after': '1', ...exhaustedRateLimitHeaders(Number.isFinite(retryAfter) ? retryAfter : 1, message), ...extra };
    }
    if (status === 529 || status >= 500) extra = { 'x-should-retry': 'true', ...extra };
    const { headers, requestId } = responseHeaders(extra ? { ...JSON_HEADERS, ...extra } : JSON_HEADERS);
    const text = JSON.stringify({ type: 'error', error: { type, message }, request_id: requestId });
    headers['content-length'] = String(Buffer.byteLength(text));
    res.writeHead(status, headers);
    res.end(text);
  };

  /** A list page, after checking `limit` as the real API does (1..1000, an integer). */
  const sendList = (res: ServerResponse, query: URLSearchParams, page: (q: URLSearchParams) => unknown): void => {
    const problem = listLimitProblem(query);
    if (problem) return sendError(res, problem);
    sendJson(res, 200, page(query));
  };

  const openStream = (res: ServerResponse, extra?: Record<string, string>): void => {
    const { headers } = responseHeaders(extra ? { ...SSE_HEADERS, ...extra } : SSE_HEADERS);
    res.writeHead(200, headers);
  };

  /** Write events, waiting `delayMs` before each delta; stops early if the client went away. */
  const writeEvents = async (res: ServerResponse, events: readonly StreamEvent[], delayMs: number): Promise<boolean> => {
    if (delayMs <= 0) {
      if (!res.destroyed) res.write(formatEvents(events));
      return !res.destroyed;
    }
    for (const e of events) {
      if (e.event === 'content_block_delta' || e.event === 'completion') await sleep(delayMs);
      if (res.destroyed) return false;
      res.write(`event: ${e.event}\ndata: ${eventData(e)}\n\n`);
    }
    return !res.destroyed;
  };

  /** Write bytes in chunks, letting each reach the socket before the next (so chunking is real). */
  const writeChunks = async (res: ServerResponse, chunks: readonly Buffer[], delayMs: number): Promise<void> => {
    for (let i = 0; i < chunks.length; i++) {
      if (res.destroyed) return;
      if (i > 0) {
        if (delayMs > 0) await sleep(delayMs);
        else await new Promise<void>((done) => setImmediate(done));
      }
      const flushed = res.write(chunks[i]);
      if (!flushed) await new Promise<void>((done) => { res.once('drain', done); res.once('close', done); });
    }
  };

  // ---- the Messages reply engine ---------------------------------------------------------

  const contentOrEcho = (reply: Reply | undefined, body: Record<string, unknown>): ContentReply =>
    reply && !isErrorReply(reply) && !isErrorMidStreamReply(reply) && !isDieMidStreamReply(reply) && !isFixtureReply(reply) ? reply : echoReply(body);

  const answerMessages = async (ctx: Context, body: Record<string, unknown>): Promise<void> => {
    const { res } = ctx;
    const reply = script.take(ctx.received, true);
    const stream = body.stream === true;
    const model = String(body.model);
    const delayMs = reply?.delayMs ?? defaultDelay;
    const extra = reply?.headers;

    if (reply && isErrorReply(reply)) return sendError(res, { ...reply.error, headers: { ...reply.error.headers, ...extra } });

    if (reply && isFixtureReply(reply)) {
      const bytes = fixtures.bytes(reply.fixture);
      if (!stream) {
        // A non-streaming request gets the message the recording adds up to (a recording that does not fold is refused with a 500 saying why).
        const folded = foldFixture(bytes);
        if (typeof folded === 'string') return sendError(res, { type: 'api_error', message: `fake Claude: fixture ${reply.fixture} cannot answer a non-streaming request: it has ${folded}` });
        return sendJson(res, 200, folded, extra);
      }
      openStream(res, extra);
      await writeChunks(res, reply.chunks ? chunkBytes(bytes, reply.chunks) : chunkByEvent(bytes), delayMs);
      res.end();
      return;
    }

    if (reply && (isErrorMidStreamReply(reply) || isDieMidStreamReply(reply))) {
      const scripted: ScriptedError = isErrorMidStreamReply(reply) && reply.errorMidStream !== true ? reply.errorMidStream : { type: 'overloaded_error' };
      if (!stream && isErrorMidStreamReply(reply)) return sendError(res, scripted);
      const message = buildMessage({ text: reply.text ?? 'This answer is cut off before it ends, on purpose.' }, model, estimateInputTokens(body));
      const events = streamEvents(message);
      // Keep message_start, the first block's start, the ping and half of its deltas.
      const firstStop = events.findIndex((e) => e.event === 'content_block_stop');
      const deltas = Math.max(1, Math.floor((firstStop - 3) / 2));
      const partial = events.slice(0, 3 + deltas);
      if (!stream) {
        const { headers } = responseHeaders({ ...JSON_HEADERS, ...extra });
        res.writeHead(200, headers);
        res.write(JSON.stringify(message).slice(0, 40));
        res.socket?.destroy();
        return;
      }
      openStream(res, extra);
      if (!(await writeEvents(res, partial, delayMs))) return;
      if (isDieMidStreamReply(reply)) {
        if (reply.midEvent) {
          const next = formatEvents(events.slice(partial.length, partial.length + 1));
          res.write(next.slice(0, next.indexOf('data: ') + 12));
        }
        // Let the partial stream reach the client, then drop the connection without a final chunk.
        await new Promise<void>((done) => setImmediate(done));
        res.socket?.destroy();
        return;
      }
      const type = scripted.type;
      const errorMessage = scripted.message ?? DEFAULT_ERROR_MESSAGES[type as AnthropicErrorType] ?? 'Error';
      await writeEvents(res, [streamErrorEvent(type, errorMessage)], 0);
      res.end();
      return;
    }

    const message = buildMessage(contentOrEcho(reply, body), model, estimateInputTokens(body), generationLimits(body));
    if (!stream) return sendJson(res, 200, message, extra);
    openStream(res, extra);
    if (await writeEvents(res, streamEvents(message), delayMs)) res.end();
  };

  /** A batch entry answered by the same engine, non-streaming. */
  const answerBatchEntry = (received: ReceivedRequest, params: unknown): BatchResult => {
    const problem = params !== null && typeof params === 'object' && !Array.isArray(params)
      ? validateMessagesRequest(params as Record<string, unknown>, { requireMaxTokens: true, betas: betasOf(received) })
      : { status: 400, type: 'invalid_request_error' as const, message: 'params: Field required' };
    if (problem) return { type: 'errored', error: { type: 'error', error: { type: problem.type, message: problem.message } } };
    const body = params as Record<string, unknown>;
    if (!catalogue.knows(String(body.model))) return { type: 'errored', error: { type: 'error', error: { type: 'not_found_error', message: `model: ${String(body.model)}` } } };
    const reply = script.take({ ...received, body }, true);
    if (reply && isErrorReply(reply)) {
      return { type: 'errored', error: { type: 'error', error: { type: reply.error.type, message: reply.error.message ?? DEFAULT_ERROR_MESSAGES[reply.error.type as AnthropicErrorType] ?? 'Error' } } };
    }
    return { type: 'succeeded', message: buildMessage(contentOrEcho(reply, body), String(body.model), estimateInputTokens(body), generationLimits(body)) };
  };

  // ---- the legacy Text Completions endpoint ----------------------------------------------

  const answerComplete = async (ctx: Context, body: Record<string, unknown>): Promise<void> => {
    const reply = script.take(ctx.received, true);
    if (reply && isErrorReply(reply)) return sendError(ctx.res, reply.error);
    const prompt = String(body.prompt);
    const human = prompt.slice(prompt.lastIndexOf('\n\nHuman:') + 8).replace(/\n\nAssistant:\s*$/, '').trim();
    const text = reply && 'text' in reply && typeof reply.text === 'string' ? reply.text : ` echo: ${human}`;
    const id = newId('compl_01');
    const model = String(body.model);
    if (body.stream !== true) {
      return sendJson(ctx.res, 200, { type: 'completion', id, completion: text, stop_reason: 'stop_sequence', model, stop: '\n\nHuman:', log_id: id });
    }
    const events: StreamEvent[] = splitText(text).map((completion) => ({ event: 'completion', data: { type: 'completion', id, completion, stop_reason: null, model, stop: null, log_id: id } }));
    events.push({ event: 'completion', data: { type: 'completion', id, completion: '', stop_reason: 'stop_sequence', model, stop: '\n\nHuman:', log_id: id } });
    openStream(ctx.res, reply?.headers);
    if (await writeEvents(ctx.res, events, reply?.delayMs ?? defaultDelay)) ctx.res.end();
  };

  // ---- request plumbing ------------------------------------------------------------------

  /** Read a bounded JSON body; answers 413 itself and resolves undefined when it is too large. */
  const readBody = (ctx: Context, limit: number): Promise<Buffer | undefined> => {
    const { req, res } = ctx;
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > limit) {
      res.setHeader('connection', 'close');
      sendError(res, { type: 'request_too_large' });
      req.resume();
      return Promise.resolve(undefined);
    }
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      let over = false;
      req.on('data', (chunk: Buffer) => {
        if (over) return;
        size += chunk.length;
        if (size > limit) {
          over = true;
          res.setHeader('connection', 'close');
          sendError(res, { type: 'request_too_large' });
          resolve(undefined);
          return;
        }
        chunks.push(chunk);
      });
      req.on('end', () => { if (!over) resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size)); });
      req.on('error', reject);
    });
  };

  /** Read, record and parse a JSON body; answers the error itself and resolves undefined on failure. */
  const jsonBody = async (ctx: Context, limit: number): Promise<Record<string, unknown> | undefined> => {
    const bytes = await readBody(ctx, limit);
    if (!bytes) {
      remember(ctx.received);
      return undefined;
    }
    ctx.received.bodyBytes = bytes.length;
    const parsed = parseJsonBody(bytes.toString('utf8'));
    if ('body' in parsed) ctx.received.body = parsed.body;
    remember(ctx.received);
    if (!authorized(ctx)) return undefined;
    if ('problem' in parsed) {
      sendError(ctx.res, parsed.problem);
      return undefined;
    }
    return parsed.body;
  };

  /** 401 in Anthropic's words unless the request carries an accepted credential. */
  const authorized = (ctx: Context): boolean => {
    const h = ctx.req.headers;
    const apiKey = typeof h['x-api-key'] === 'string' ? h['x-api-key'] : undefined;
    const auth = typeof h.authorization === 'string' ? h.authorization : undefined;
    const bearer = auth?.startsWith('Bearer ') ? auth.slice(7) : undefined;
    if (!apiKey && !bearer) {
      sendError(ctx.res, { type: 'authentication_error', message: 'x-api-key header is required' });
      return false;
    }
    if (apiKeys && !(apiKey && apiKeys.has(apiKey)) && !(bearer && apiKeys.has(bearer))) {
      sendError(ctx.res, { type: 'authentication_error', message: apiKey ? 'invalid x-api-key' : 'Invalid bearer token' });
      return false;
    }
    // The API refuses a request that names no API version (the SDKs always send one).
    if (typeof h['anthropic-version'] !== 'string' || h['anthropic-version'] === '') {
      sendError(ctx.res, { type: 'invalid_request_error', message: 'anthropic-version: header is required' });
      return false;
    }
    return true;
  };

  /** For requests without a JSON body: record, drain, check the credential. */
  const noBody = (ctx: Context): boolean => {
    remember(ctx.received);
    ctx.req.resume();
    return authorized(ctx);
  };

  const multipart = async (ctx: Context): Promise<{ fields: Map<string, string>; files: StoredUpload[] } | undefined> => {
    const type = ctx.req.headers['content-type'] ?? '';
    if (!type.startsWith('multipart/form-data')) {
      noBody(ctx) && sendError(ctx.res, { type: 'invalid_request_error', message: 'Content-Type must be multipart/form-data' });
      return undefined;
    }
    if (!authorized(ctx)) {
      remember(ctx.received);
      ctx.req.resume();
      return undefined;
    }
    try {
      const form = await receiveMultipart(ctx.req, uploadDir, LIMITS.files);
      ctx.received.uploads = form.files.map((f) => ({ field: f.field, filename: f.filename, mimeType: f.mimeType, size: f.size }));
      ctx.received.bodyBytes = form.files.reduce((n, f) => n + f.size, 0);
      remember(ctx.received);
      return form;
    } catch (err) {
      remember(ctx.received);
      ctx.res.setHeader('connection', 'close');
      sendError(ctx.res, err instanceof UploadTooLarge ? { type: 'request_too_large' } : { type: 'invalid_request_error', message: `Malformed multipart body: ${(err as Error).message}` });
      return undefined;
    }
  };

  const notFound = (ctx: Context, message = 'Not Found'): void => sendError(ctx.res, { type: 'not_found_error', message });

  // ---- routes ----------------------------------------------------------------------------

  const route = async (ctx: Context): Promise<void> => {
    const { req, res, received } = ctx;
    const method = received.method;
    const path = received.path;

    // Claude Code's warm-up probes: answered at once, no credential needed.
    if ((path === '/' || path === '/api/hello') && (method === 'HEAD' || method === 'GET')) {
      remember(received);
      req.resume();
      const { headers } = responseHeaders(path === '/' ? { 'content-type': 'text/plain; charset=utf-8' } : JSON_HEADERS);
      const text = path === '/' ? 'fake Claude API\n' : '{"message":"hello"}';
      headers['content-length'] = String(Buffer.byteLength(text));
      res.writeHead(200, headers);
      res.end(method === 'HEAD' ? undefined : text);
      return;
    }

    const seg = path.split('/');
    // seg[0] is '' and seg[1] should be 'v1'.
    if (seg[1] !== 'v1') {
      if (noBody(ctx)) notFound(ctx);
      return;
    }
    const [, , a, b, c, d, e, f] = seg;

    if (a === 'messages' && method === 'POST' && b === undefined) {
      const body = await jsonBody(ctx, maxMessagesBytes);
      if (!body) return;
      const problem = validateMessagesRequest(body, { requireMaxTokens: true, betas: betasOf(received) });
      if (problem) return sendError(res, problem);
      if (!catalogue.knows(String(body.model))) return notFound(ctx, `model: ${String(body.model)}`);
      return answerMessages(ctx, body);
    }

    if (a === 'messages' && b === 'count_tokens' && method === 'POST' && c === undefined) {
      const body = await jsonBody(ctx, maxMessagesBytes);
      if (!body) return;
      const problem = validateMessagesRequest(body, { requireMaxTokens: false, betas: betasOf(received) });
      if (problem) return sendError(res, problem);
      if (!catalogue.knows(String(body.model))) return notFound(ctx, `model: ${String(body.model)}`);
      const scripted = script.take(received, false);
      if (scripted && isErrorReply(scripted)) return sendError(res, scripted.error);
      return sendJson(res, 200, { input_tokens: estimateInputTokens(body) });
    }

    if (a === 'complete' && method === 'POST' && b === undefined) {
      const body = await jsonBody(ctx, maxMessagesBytes);
      if (!body) return;
      const problem = validateCompleteRequest(body);
      if (problem) return sendError(res, problem);
      if (!catalogue.knows(String(body.model))) return notFound(ctx, `model: ${String(body.model)}`);
      return answerComplete(ctx, body);
    }

    if (a === 'messages' && b === 'batches') {
      if (c === undefined && method === 'POST') {
        const body = await jsonBody(ctx, LIMITS.batches);
        if (!body) return;
        if (body.requests === undefined) return sendError(res, { status: 400, type: 'invalid_request_error', message: 'requests: Field required' });
        if (!Array.isArray(body.requests) || body.requests.length === 0) return sendError(res, { status: 400, type: 'invalid_request_error', message: 'requests: List should have at least 1 item after validation, not 0' });
        const entries: Array<{ custom_id: string; result: BatchResult }> = [];
        for (let i = 0; i < body.requests.length; i++) {
          const item = body.requests[i] as { custom_id?: unknown; params?: unknown } | null;
          if (!item || typeof item.custom_id !== 'string') return sendError(res, { status: 400, type: 'invalid_request_error', message: `requests.${i}.custom_id: Field required` });
          if (item.params === undefined) return sendError(res, { status: 400, type: 'invalid_request_error', message: `requests.${i}.params: Field required` });
          entries.push({ custom_id: item.custom_id, result: answerBatchEntry(received, item.params) });
        }
        return sendJson(res, 200, batches.create(entries));
      }
      if (!noBody(ctx)) return;
      if (c === undefined && method === 'GET') return sendList(res, received.query, (q) => listPage(batches.list(), q));
      if (c !== undefined && d === undefined && method === 'GET') {
        const batch = batches.get(c);
        return batch ? sendJson(res, 200, batch) : notFound(ctx, `batch not found: ${c}`);
      }
      if (c !== undefined && d === undefined && method === 'DELETE') {
        const outcome = batches.delete(c);
        if (outcome === 'missing') return notFound(ctx, `batch not found: ${c}`);
        if (outcome === 'in_progress') return sendError(res, { status: 400, type: 'invalid_request_error', message: `Batch ${c} cannot be deleted while it is in progress. Cancel it first.` });
        return sendJson(res, 200, { id: c, type: 'message_batch_deleted' });
      }
      if (c !== undefined && d === 'cancel' && method === 'POST') {
        const batch = batches.cancel(c);
        return batch ? sendJson(res, 200, batch) : notFound(ctx, `batch not found: ${c}`);
      }
      if (c !== undefined && d === 'results' && method === 'GET') {
        const jsonl = batches.resultsJsonl(c);
        if (jsonl === undefined) return batches.get(c) ? sendError(res, { status: 400, type: 'invalid_request_error', message: `Batch ${c} has not finished processing.` }) : notFound(ctx, `batch not found: ${c}`);
        const { headers } = responseHeaders({ 'content-type': 'application/binary', 'content-length': String(Buffer.byteLength(jsonl)) });
        res.writeHead(200, headers);
        res.end(jsonl);
        return;
      }
      return notFound(ctx);
    }

    if (a === 'models' && method === 'GET' && c === undefined) {
      if (!noBody(ctx)) return;
      if (b === undefined) return sendList(res, received.query, (q) => listPage(catalogue.models, q));
      const found = catalogue.get(decodeURIComponent(b));
      return found ? sendJson(res, 200, found) : notFound(ctx, `model: ${decodeURIComponent(b)}`);
    }

    if (a === 'files') {
      if (b === undefined && method === 'POST') {
        const form = await multipart(ctx);
        if (!form) return;
        const upload = form.files.find((x) => x.field === 'file');
        if (!upload) return sendError(res, { status: 400, type: 'invalid_request_error', message: 'file: Field required' });
        return sendJson(res, 200, files.add(upload));
      }
      if (!noBody(ctx)) return;
      if (b === undefined && method === 'GET') return sendList(res, received.query, (q) => cursorPage(files.list(), q));
      const file = b === undefined ? undefined : files.get(b);
      if (!file) return notFound(ctx, `File not found: ${b ?? ''}`);
      if (c === undefined && method === 'GET') return sendJson(res, 200, file.meta);
      if (c === undefined && method === 'DELETE') {
        await files.delete(file.meta.id);
        return sendJson(res, 200, { id: file.meta.id, type: 'file_deleted' });
      }
      if (c === 'content' && method === 'GET') {
        const { headers } = responseHeaders({
          'content-type': file.meta.mime_type || 'application/octet-stream',
          'content-length': String(file.meta.size_bytes),
          'content-disposition': `attachment; filename="${file.meta.filename.replace(/"/g, '')}"`,
        });
        res.writeHead(200, headers);
        createReadStream(file.path).pipe(res);
        return;
      }
      return notFound(ctx);
    }

    if (a === 'skills') {
      if (b === undefined && method === 'POST') {
        const form = await multipart(ctx);
        if (!form) return;
        const created = await skills.create(form.fields.get('display_name') ?? form.fields.get('display_title'), form.files);
        return typeof created === 'string' ? sendError(res, { status: 400, type: 'invalid_request_error', message: created }) : sendJson(res, 200, created);
      }
      if (b !== undefined && c === 'versions' && d === undefined && method === 'POST') {
        const form = await multipart(ctx);
        if (!form) return;
        const version = await skills.addVersion(b, form.files);
        if (version === undefined) return notFound(ctx, `Skill not found: ${b}`);
        return typeof version === 'string' ? sendError(res, { status: 400, type: 'invalid_request_error', message: version }) : sendJson(res, 200, version);
      }
      if (!noBody(ctx)) return;
      if (b === undefined && method === 'GET') return sendList(res, received.query, (q) => cursorPage(skills.list(), q));
      const skill = b === undefined ? undefined : skills.get(b);
      if (!skill) return notFound(ctx, `Skill not found: ${b ?? ''}`);
      if (c === undefined && method === 'GET') return sendJson(res, 200, skill);
      if (c === undefined && method === 'DELETE') {
        skills.delete(skill.id);
        return sendJson(res, 200, { id: skill.id, type: 'skill_deleted' });
      }
      if (c === 'versions' && d === undefined && method === 'GET') return sendList(res, received.query, (q) => cursorPage(skills.versions(skill.id) ?? [], q));
      if (c === 'versions' && d !== undefined) {
        const version = skills.version(skill.id, d);
        if (!version) return notFound(ctx, `Skill version not found: ${d}`);
        if (e === undefined && method === 'GET') return sendJson(res, 200, version.object);
        if (e === undefined && method === 'DELETE') {
          skills.deleteVersion(skill.id, version.object.id);
          return sendJson(res, 200, { id: version.object.id, type: 'skill_version_deleted' });
        }
        if (e === 'content' && f === undefined && method === 'GET') {
          const zip = await skills.archive(version);
          const { headers } = responseHeaders({
            'content-type': 'application/zip', 'content-length': String(zip.length),
            'content-disposition': `attachment; filename="${version.object.name}.zip"`,
          });
          res.writeHead(200, headers);
          res.end(zip);
          return;
        }
      }
      return notFound(ctx);
    }

    // Any other /v1 path: the real API answers 404 (after checking the credential).
    if (noBody(ctx)) notFound(ctx);
  };

  // Headers as large as a gateway in front passes on (the sidecar's own limit is 64 KB), not Node's 16 KB default.
  const server: Server = createServer({ keepAliveTimeout: 65_000, maxHeaderSize: 64 * 1024 }, (req, res) => {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const received: ReceivedRequest = {
      method: req.method ?? 'GET',
      url,
      path: q === -1 ? url : url.slice(0, q),
      query: new URLSearchParams(q === -1 ? '' : url.slice(q + 1)),
      headers: req.headers,
      rawHeaders: req.rawHeaders,
      body: undefined,
      bodyBytes: 0,
      receivedAt: Date.now(),
    };
    route({ req, res, received }).catch((err: unknown) => {
      if (!res.headersSent) sendError(res, { type: 'api_error', message: `fake Claude failed: ${(err as Error).message}` });
      else res.destroy();
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  origin = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;

  return {
    url: origin,
    port,
    host,
    fixturesDir: fixtures.dir,
    script: (...replies: Reply[]) => script.add(replies),
    get pendingReplies() { return script.pending; },
    get requests() { return requests; },
    lastRequest(path?: string) {
      for (let i = requests.length - 1; i >= 0; i--) if (path === undefined || requests[i]!.path === path) return requests[i];
      return undefined;
    },
    waitForRequest(predicate, timeoutMs = 10_000) {
      const seen = requests.find(predicate);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const onRequest = (r: ReceivedRequest): void => {
          if (!predicate(r)) return;
          clearTimeout(timer);
          arrivals.off('request', onRequest);
          resolve(r);
        };
        const timer = setTimeout(() => {
          arrivals.off('request', onRequest);
          reject(new Error(`fake Claude: no matching request within ${timeoutMs} ms (received ${requests.length})`));
        }, timeoutMs);
        arrivals.on('request', onRequest);
      });
    },
    clearRequests() { requests = []; },
    reset() { requests = []; script.clear(); },
    fixtureNames: () => fixtures.names(),
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await rm(uploadDir, { recursive: true, force: true });
    },
  };
}

/** The betas a request names: every `anthropic-beta` value, of every line the header was sent on. */
function betasOf(received: ReceivedRequest): string[] {
  return headerValues(received, 'anthropic-beta').flatMap((v) => v.split(',')).map((b) => b.trim());
}

/** Lists paged by an opaque `page` token (Files, Skills): `{data, has_more, first_id, last_id, next_page}`. */
function cursorPage<T extends { id: string }>(items: readonly T[], query: URLSearchParams): ReturnType<typeof listPage<T>> & { next_page: string | null } {
  const page = query.get('page');
  const q = new URLSearchParams(query);
  if (page) q.set('after_id', page);
  const out = listPage(items, q);
  return { ...out, next_page: out.has_more ? out.last_id : null };
}
