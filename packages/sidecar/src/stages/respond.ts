// Stage 8 — stream back: send the upstream's answer to the skill as it arrives. SSE is written
// chunk by chunk in the upstream's own framing (byte-identical when no response filter applies) and
// recorded once it has gone out (the head, then each chunk); a response filter (masking) rewrites
// per event, and a downloaded text file as it streams. Batch objects get their results_url pointed
// back at the sidecar so the SDK never goes around it. Ends a stream with a well-formed
// `event: error` when the upstream breaks, and aborts the upstream when the skill leaves. The
// upstream waits while the skill reads slowly; that wait is never blamed on the upstream. A stream
// the upstream sent encoded (gzip, though identity was asked for) goes out as it came, chunk by
// chunk; the record reads a decoded copy, and a break cuts the connection (no event can be written
// into an encoded body).
import type { IncomingMessage } from 'node:http';
import { GatewayError, NOT_RETRIED, SseEventGate, batchResultsPath, bodyDecoder, contentCodingOf, SseParser, clientResponseHeaders, codes, errorBody, fileInfo, formatSse, isRecord, parseJson, type PartInfo, type PartTransform, type SseEvent } from '@skillgate/wire';
import type { Exchange } from '../exchange.js';
import type { SidecarContext } from '../context.js';
import type { Verdict } from '../ports/guard.js';
import { loggedText } from '../log.js';

export async function respond(x: Exchange, ctx: SidecarContext, upstreamRes: IncomingMessage, verdict: Verdict): Promise<void> {
  x.upstreamStatus = upstreamRes.statusCode ?? 502;
  verdict.answered?.(x.upstreamStatus);
  const contentType = String(upstreamRes.headers['content-type'] ?? '');
  const isSse = contentType.startsWith('text/event-stream');
  if (isSse) {
    if (verdict.responseFilter) refuseEncoded(upstreamRes, 'this stream');
    // A stream held for approval was answered 200 in plain SSE already: an encoded one cannot follow it.
    if (x.res.headersSent) refuseEncoded(upstreamRes, 'this stream', 'held');
    return streamBack(x, ctx, upstreamRes, verdict);
  }
  ctx.journal.responseHead(x, upstreamRes.headers, false);
  if (x.res.headersSent) return errorIntoOpenStream(x, upstreamRes);
  // No body to rewrite (HEAD, 204, 304): the head goes out as the upstream sent it, its
  // content-length included (it describes the body a GET would get).
  if (x.req.method === 'HEAD' || x.upstreamStatus === 204 || x.upstreamStatus === 304) return pipeBack(x, ctx, upstreamRes);
  // Batch objects first, in every masking mode: they carry no message content to mask, and a
  // results_url left on the upstream would send the SDK (and its credential) around the sidecar.
  // Filters see answers only: an error body (which can echo the skill's own request, never Claude's
  // answer) reaches the skill as the API sent it, its wording intact for the SDK's retry logic.
  const answer = upstreamRes.statusCode !== undefined && upstreamRes.statusCode >= 200 && upstreamRes.statusCode < 300;
  if ((x.route.kind === 'batch' || x.route.kind === 'batch_create') && contentType.includes('json')) {
    const seen = answer ? verdict.responseFilter?.batch : undefined;
    return bufferedBack(x, ctx, upstreamRes, (b) => rewriteResultsUrls(b, x, ctx, seen));
  }
  // A batch's results (JSONL, whatever its content type says), a downloaded file and any other
  // answer in text (an endpoint this sidecar does not know may answer text/plain) stream through the
  // mode's rewrite; other JSON answers are rewritten whole.
  const results = answer && x.route.kind === 'batch_results' ? verdict.responseFilter?.batchResults?.() : undefined;
  if (!results && verdict.responseFilter && answer && contentType.includes('json')) {
    refuseEncoded(upstreamRes, 'this answer');
    return bufferedBack(x, ctx, upstreamRes, (b) => verdict.responseFilter!.body(b));
  }
  const download = results || !verdict.responseFilter?.download ? undefined
    : isFileDownload(x, upstreamRes) ? 'this file' : answer && isTextAnswer(contentType) ? 'this answer' : undefined;
  const transform = results ?? (download ? verdict.responseFilter!.download!(fileOf(upstreamRes)) : undefined);
  if (transform) refuseEncoded(upstreamRes, download ?? 'this batch\'s results');
  return pipeBack(x, ctx, upstreamRes, transform);
}

/**
 * An answer the masking mode must read (to mask it, or to restore its placeholders) came with a
 * content coding: its bytes cannot be read (the sidecar asks for identity encoding, but the
 * upstream decides), so it is refused before a byte of it reaches the skill — never passed on raw.
 * So is an encoded stream for a request held for approval (`held`): the skill was answered 200 in
 * plain SSE before the upstream was asked, and encoded bytes cannot follow that head.
 */
function refuseEncoded(upstreamRes: IncomingMessage, what: string, why: 'masking' | 'held' = 'masking'): void {
  const coding = contentCodingOf(upstreamRes.headers);
  if (coding === undefined) return;
  upstreamRes.resume();
  if (why === 'held') {
    throw new GatewayError(codes.upstreamInvalidResponse, 'api_error', `skillgate could not pass ${what} on: the Claude API sent it encoded (${coding}) into a stream skillgate had opened in plain SSE while the request waited for approval.`, { headers: { ...NOT_RETRIED } });
  }
  throw new GatewayError(codes.maskingFailed, 'api_error', `skillgate could not read ${what} for the skill's masking mode: the Claude API sent it encoded (${coding}), so it was not passed on.`, { headers: { ...NOT_RETRIED } });
}

/** An answer in text (text/plain, text/csv, text/html…): masked as a text file is, whatever route. */
const isTextAnswer = (contentType: string): boolean => /^\s*text\//i.test(contentType);

/** A file's content, answered whole (GET /v1/files/{id}/content, 200). */
function isFileDownload(x: Exchange, upstreamRes: IncomingMessage): boolean {
  return x.route.kind === 'files' && x.req.method === 'GET' && upstreamRes.statusCode === 200 && /^\/v1\/files\/[^/?]+\/content(\?|$)/.test(x.url);
}

/** The downloaded file as its headers describe it. */
function fileOf(upstreamRes: IncomingMessage): PartInfo {
  const headers: Record<string, string> = {};
  for (const name of ['content-type', 'content-disposition']) {
    const value = upstreamRes.headers[name];
    if (typeof value === 'string') headers[name] = value;
  }
  return fileInfo(headers);
}

function writeHead(x: Exchange, ctx: SidecarContext, upstreamRes: IncomingMessage, dropLength: boolean): void {
  const headers = clientResponseHeaders(upstreamRes.headers);
  if (dropLength) delete headers['content-length'];
  x.res.writeHead(x.upstreamStatus!, headers);
  observeAddedLatency(x, ctx);
}

/**
 * The gateway's own time: from the request read (the whole body, for an inspected route) to its
 * dispatch upstream, less any wait for a human's approval, plus from the upstream's head to ours.
 */
function observeAddedLatency(x: Exchange, ctx: SidecarContext): void {
  if (x.upstreamStartedAt === undefined || x.upstreamHeadersAt === undefined) return;
  const before = x.upstreamStartedAt - (x.readAt ?? x.receivedAt) - (x.heldNs ?? 0n);
  const after = process.hrtime.bigint() - x.upstreamHeadersAt;
  ctx.metrics.latency(x.route.kind, Number(before + after) / 1e9, Number(x.upstreamHeadersAt - x.upstreamStartedAt) / 1e9);
}

/** Write a chunk honouring backpressure from the skill's socket. */
function writeOut(x: Exchange, ctx: SidecarContext, upstreamRes: IncomingMessage, chunk: Buffer): void {
  x.bytesOut += chunk.length;
  if (!x.res.write(chunk)) waitForSkill(x, ctx, upstreamRes);
}

/**
 * The skill reads slower than the upstream sends: the upstream is paused until the skill's socket
 * drains. Its silence meanwhile is the sidecar's own doing, so the upstream's idle clock stops, and
 * starts again on drain. The skill's own idle limit runs instead: a skill that reads nothing for that
 * long (no write to it completes, as node:http's own idle timeout counts) is cut, its connection
 * closed and the upstream dropped, as a skill that stopped reading.
 */
function waitForSkill(x: Exchange, ctx: SidecarContext, upstreamRes: IncomingMessage): void {
  if (upstreamRes.isPaused()) return; // waiting already (a chunk that became several writes)
  upstreamRes.pause();
  const idleMs = ctx.config.limits.idleTimeoutMs;
  upstreamRes.setTimeout(0);
  let queued = x.res.writableLength;
  const look = (): void => {
    // Some of what was queued went out since the last look: the skill reads, slowly. Wait on.
    if (x.res.writableLength < queued) {
      queued = x.res.writableLength;
      stalled = setTimeout(look, idleMs);
      return;
    }
    x.res.off('drain', drained).off('close', left);
    // The answer is all written (the exchange is over): the connection's own idle limit closes it.
    if (x.res.writableEnded) return;
    x.outcome = 'client_aborted';
    x.outcomeReason = `the skill read nothing of the answer for ${idleMs} ms (the idle limit); skillgate closed its connection`;
    ctx.log.warn({ requestId: x.id, idleMs, bytesOut: x.bytesOut }, 'the skill stopped reading the answer; its connection was closed');
    x.abort.abort(new GatewayError(codes.idleTimeout, 'timeout_error',
      `The skill read nothing of the answer for ${idleMs / 1000} s; skillgate closed the connection.`));
    x.res.destroy();
  };
  let stalled = setTimeout(look, idleMs);
  // The skill left (or a lock cut it): nothing more to wait for.
  const left = (): void => {
    clearTimeout(stalled);
    x.res.off('drain', drained);
  };
  const drained = (): void => {
    clearTimeout(stalled);
    x.res.off('close', left);
    upstreamRes.setTimeout(idleMs);
    upstreamRes.resume();
  };
  x.res.once('drain', drained);
  x.res.once('close', left);
}

function streamBack(x: Exchange, ctx: SidecarContext, upstreamRes: IncomingMessage, verdict: Verdict): Promise<void> {
  const filter = verdict.responseFilter;
  // An encoded stream (no filter: one that must read it refused it) has no event boundaries to see
  // in its bytes: they go out as they come, and the record reads what a decoder makes of them.
  const coding = filter ? undefined : contentCodingOf(upstreamRes.headers);
  // The record's response event for a stream is sealed once the head has gone out (below), before
  // any of the stream's events: the skill's first bytes do not wait for it.
  let headRecorded = false;
  const recordHead = (): void => {
    if (headRecorded) return;
    headRecorded = true;
    try {
      ctx.journal.responseHead(x, upstreamRes.headers, true);
    } catch (err) {
      // Off the request's own path (a later turn of the event loop): said, not thrown.
      ctx.log.error({ requestId: x.id, err: (err as Error).message }, 'the stream\'s response event could not be recorded');
    }
  };
  if (!x.res.headersSent) {
    writeHead(x, ctx, upstreamRes, filter !== undefined);
    // The head goes out with the first event when that is already here (one write instead of two);
    // when the upstream has sent only its head, it goes out alone right after this turn of the
    // event loop, so the skill's SDK sees the stream open without waiting for the first token.
    setImmediate(() => {
      if (x.bytesOut === 0 && !x.res.writableEnded && !x.res.destroyed) x.res.flushHeaders();
    });
  } else observeAddedLatency(x, ctx);
  setImmediate(recordHead);
  x.sseOpen = coding === undefined; // an encoded body cannot take an `event: error` of ours (refuse then cuts the connection)
  const parser = new SseParser();
  ctx.metrics.streamsInFlight.inc();
  // Without a filter the bytes go out as they came (in whole events, below) and the record reads them after. Node holds a
  // response's writes until the end of the current tick (it corks the socket), so the record reads
  // each chunk on the next turn of the event loop, and the last one once the stream's end has gone
  // out: no chunk waits for the record's parsing and masking.
  const unread: Buffer[] = [];
  let readScheduled = false;
  const scheduleRead = (): void => {
    if (readScheduled) return;
    readScheduled = true;
    setImmediate(readForRecord);
  };
  // Whole events only go out (an event split across chunks waits for its end): an `event: error`
  // written when the upstream dies or the stream is cut then starts on an event boundary.
  const gate = new SseEventGate();
  let decoder = coding === undefined ? undefined : bodyDecoder(coding);
  if (coding !== undefined && !decoder) ctx.log.warn({ requestId: x.id, coding }, 'the stream came in a content coding skillgate cannot decode; its events are not recorded');
  decoder?.on('data', (plain: Buffer) => {
    unread.push(plain);
    scheduleRead();
  });
  decoder?.on('error', (err: Error) => {
    ctx.log.error({ requestId: x.id, coding, err: err.message }, 'the stream\'s encoded bytes could not be decoded for the record; its later events are not recorded');
    decoder = undefined;
  });
  /** The stream broke or went silent: what the decoder still holds is not recorded. */
  const dropDecoder = (): void => {
    decoder?.destroy();
    decoder = undefined;
  };
  // An `event: error` the Claude API sent (overloaded mid-stream, say): the stream ends after it,
  // well-formed, but not complete.
  let upstreamError: string | undefined;
  const read = (ev: SseEvent): void => {
    if (ev.event === 'error') upstreamError ??= errorTypeOf(ev.data);
    ctx.journal.streamEvent(x, ev);
  };
  const readForRecord = (): void => {
    recordHead();
    readScheduled = false;
    try {
      for (const chunk of unread.splice(0)) for (const ev of parser.push(chunk)) read(ev);
    } catch (err) {
      ctx.log.error({ requestId: x.id, err: (err as Error).message }, 'stream events could not be recorded');
    }
  };

  return new Promise<void>((resolve) => {
    let done = false;
    /** The upstream has ended; the decoder's last events are still to come. */
    let decoding = false;
    /** `ended`: the upstream ended the stream itself; how it ended is known once every event is read. */
    const finish = (ended = false): void => {
      if (done) return;
      done = true;
      readForRecord();
      if (ended) {
        if (upstreamError !== undefined && x.outcome === undefined) {
          x.outcome = 'error';
          x.outcomeReason = `the Claude API ended the stream with an error event (${upstreamError})`;
        }
        x.outcome ??= 'complete';
      }
      ctx.metrics.streamsInFlight.dec();
      resolve();
    };
    upstreamRes.on('data', (chunk: Buffer) => {
      if (x.res.writableEnded) return;
      if (filter) {
        recordHead();
        for (const ev of parser.push(chunk)) {
          read(ev);
          for (const out of filter.event(ev)) writeOut(x, ctx, upstreamRes, out);
        }
      } else if (coding !== undefined) {
        writeOut(x, ctx, upstreamRes, chunk);
        decoder?.write(chunk);
      } else {
        const whole = gate.pass(chunk);
        if (whole.length > 0) writeOut(x, ctx, upstreamRes, whole);
        unread.push(chunk);
        scheduleRead();
      }
    });
    upstreamRes.on('end', () => {
      if (!x.res.writableEnded) {
        if (filter) for (const out of filter.end()) writeOut(x, ctx, upstreamRes, out);
        else if (gate.held > 0) writeOut(x, ctx, upstreamRes, gate.flush());
        x.res.end();
      }
      // The record reads the decoder's last events before the stream's end is told.
      const d = decoder;
      if (!d) return finish(true);
      decoding = true;
      d.once('end', () => finish(true)).once('error', () => finish(true));
      d.end();
    });
    upstreamRes.on('close', () => {
      if (upstreamRes.complete || done) return decoding ? undefined : finish();
      dropDecoder();
      // The upstream connection died mid-stream (or we aborted it because the skill left or a lock hit).
      if (!x.abort.aborted && !x.res.writableEnded) {
        x.outcome = 'upstream_broken';
        x.outcomeReason = 'upstream connection closed before message_stop';
        const err = new GatewayError(codes.upstreamStreamBroken, 'api_error',
          'The connection to the Claude API broke mid-stream; the answer is incomplete. Retry the request.');
        // An encoded body cannot take an event of ours: cutting the connection is the signal.
        if (coding !== undefined) x.res.destroy();
        else x.res.end(formatSse('error', err.body(x.id)));
      }
      finish();
    });
    upstreamRes.on('error', () => undefined); // 'close' above decides what the skill sees
    // An upstream that goes silent mid-stream: tell the skill instead of leaving it hanging.
    upstreamRes.setTimeout(ctx.config.limits.idleTimeoutMs, () => {
      if (x.res.writableEnded) return;
      x.outcome = 'upstream_broken';
      x.outcomeReason = `no bytes from the upstream for ${ctx.config.limits.idleTimeoutMs} ms`;
      const err = new GatewayError(codes.idleTimeout, 'timeout_error',
        `The Claude API sent nothing for ${ctx.config.limits.idleTimeoutMs / 1000} s mid-stream; skillgate closed the stream. Retry the request.`);
      if (coding !== undefined) x.res.destroy();
      else x.res.end(formatSse('error', err.body(x.id)));
      dropDecoder();
      x.abort.abort(err);
      finish();
    });
  });
}

/**
 * Non-streaming answer: forward chunk by chunk (through `transform` when a masking mode rewrites
 * it: a downloaded text file), keeping a bounded copy of what was sent for the record.
 */
function pipeBack(x: Exchange, ctx: SidecarContext, upstreamRes: IncomingMessage, transform?: PartTransform): Promise<void> {
  writeHead(x, ctx, upstreamRes, transform !== undefined);
  const keep: Buffer[] = [];
  let kept = 0;
  // A copy is kept only for a journal that records bodies, and only up to the record limit.
  const cap = ctx.journal.keepsResponseBodies ? ctx.config.limits.recordBodyBytes : -1;
  const send = (chunk: Buffer): void => {
    if (kept + chunk.length <= cap) {
      keep.push(chunk);
      kept += chunk.length;
    } else {
      kept = cap + 1;
    }
    if (chunk.length) writeOut(x, ctx, upstreamRes, chunk);
  };
  /** The transform could not read the answer (a file, a batch's results): nothing more of it reaches the skill, it is cut. */
  const unreadable = (err: unknown): void => {
    x.outcome = 'error';
    const what = x.route.kind === 'batch_results' ? 'batch results' : 'download';
    x.outcomeReason = `masking the ${what} failed: ${(err as Error).message}`;
    // The error can name the file (`the text file <name> is not UTF-8`): masked as the record masks it.
    ctx.log.error({ requestId: x.id, err: loggedText((err as Error).message, ctx.journal.maskText) }, `the ${what} could not be masked; the answer was cut`);
    upstreamRes.destroy();
    x.res.destroy();
  };
  return new Promise<void>((resolve) => {
    upstreamRes.on('data', (chunk: Buffer) => {
      if (!transform) return send(chunk);
      try {
        send(transform.push(chunk));
      } catch (err) {
        unreadable(err);
      }
    });
    upstreamRes.on('end', () => {
      if (transform) {
        try {
          send(transform.end());
        } catch (err) {
          unreadable(err);
          return resolve();
        }
      }
      x.res.end();
      if (cap >= 0 && kept <= cap) ctx.journal.responseBody(x, keep.length === 1 ? keep[0]! : Buffer.concat(keep, kept));
      x.outcome ??= 'complete';
      resolve();
    });
    upstreamRes.on('close', () => {
      if (!upstreamRes.complete && !x.res.writableEnded && x.outcome !== 'error') {
        // Mid-body failure of a non-streaming answer: the only honest signal is to cut the connection.
        x.outcome = x.abort.aborted ? x.outcome ?? 'client_aborted' : 'upstream_broken';
        x.res.destroy();
      }
      resolve();
    });
    upstreamRes.on('error', () => undefined);
    // An upstream that goes silent mid-body: cut it (the 'close' above then cuts the skill's
    // connection, the only honest signal once a body has started).
    upstreamRes.setTimeout(ctx.config.limits.idleTimeoutMs, () => {
      x.outcome = 'upstream_broken';
      x.outcomeReason = `no bytes from the upstream for ${ctx.config.limits.idleTimeoutMs} ms`;
      upstreamRes.destroy();
    });
  });
}

/** Small JSON answers that must be rewritten (batch objects, masked responses): read whole, bounded. */
async function bufferedBack(
  x: Exchange, ctx: SidecarContext, upstreamRes: IncomingMessage, rewrite: (body: Buffer) => Buffer,
): Promise<void> {
  const chunks: Buffer[] = [];
  let size = 0;
  // Nothing has reached the skill yet: an upstream gone silent mid-answer becomes a clear error.
  upstreamRes.setTimeout(ctx.config.limits.idleTimeoutMs, () => upstreamRes.destroy(new GatewayError(codes.idleTimeout, 'timeout_error',
    `The Claude API sent nothing for ${ctx.config.limits.idleTimeoutMs / 1000} s in the middle of its answer; skillgate gave up on it. Retry the request.`)));
  try {
    for await (const chunk of upstreamRes as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > ctx.config.limits.recordBodyBytes * 8) {
        throw new GatewayError(codes.internal, 'api_error', 'The upstream answer is too large for skillgate to rewrite; ask an operator to raise limits.recordBodyBytes.', { headers: { ...NOT_RETRIED } });
      }
      chunks.push(chunk);
    }
  } catch (err) {
    // Ours (too large, silent), or a cut (the skill left, a lock: already answered): as they are.
    if (err instanceof GatewayError || x.abort.aborted) throw err;
    // The upstream connection died in the middle of the answer: the API's failure, not skillgate's.
    // It had the request: a read (GET) may be retried, a POST (a batch created) only once checked.
    x.outcome = 'upstream_broken';
    x.outcomeReason = 'upstream connection closed before the answer was complete';
    const read = x.req.method === 'GET' || x.req.method === 'HEAD';
    throw new GatewayError(codes.upstreamStreamBroken, 'api_error',
      `The connection to the Claude API broke in the middle of its answer; the API had the request${read ? '. Retry the request.' : ' and may have acted on it: check (list your batches, say) before sending it again.'}`,
      { status: 502, cause: err, ...(read ? {} : { headers: { ...NOT_RETRIED } }) });
  }
  const body = Buffer.concat(chunks, size);
  const out = rewrite(body);
  const headers = clientResponseHeaders(upstreamRes.headers);
  headers['content-length'] = String(out.length);
  // A rewritten body is plain text; one returned as it came keeps its encoding (the upstream is
  // asked for none, but an encoded answer must not lose the header that says how to read it).
  if (out !== body) delete headers['content-encoding'];
  x.res.writeHead(x.upstreamStatus!, headers);
  observeAddedLatency(x, ctx);
  x.bytesOut += out.length;
  x.res.end(out);
  ctx.journal.responseBody(x, out);
  x.outcome ??= 'complete';
}

/**
 * A held streaming request already answered 200: an upstream error becomes an `event: error` whose
 * data is the API's error body as it sent it (one `data:` line per line of it, which SSE joins back
 * with newlines), or the gateway's own when the body is not JSON.
 */
async function errorIntoOpenStream(x: Exchange, upstreamRes: IncomingMessage): Promise<void> {
  const chunks: Buffer[] = [];
  for await (const chunk of upstreamRes as AsyncIterable<Buffer>) chunks.push(chunk);
  const text = Buffer.concat(chunks).toString('utf8');
  let data: string;
  try {
    JSON.parse(text);
    data = text.split(/\r\n|\r|\n/).join('\ndata: ');
  } catch {
    data = JSON.stringify(errorBody('api_error', `The Claude API answered ${x.upstreamStatus} after approval.`, x.id));
  }
  x.outcome = 'error';
  x.res.end(formatSse('error', data));
}

/** `/v1/messages/batches/{id}/results` (and its query) of an absolute results URL on any origin. */
function resultsPathOf(absolute: string): string | undefined {
  let u: URL;
  try {
    u = new URL(absolute);
  } catch {
    return undefined;
  }
  const results = batchResultsPath(u.pathname);
  return results ? results.path + u.search : undefined;
}

/**
 * Point every results_url back at the sidecar the skill called (and show the parsed batch object to
 * `seen`, the masking mode's look at it): one on the upstream keeps its path
 * under the upstream's base; one on another origin (an upstream proxy answering with Anthropic's own
 * URL, say) that names a batch's results is pointed at that batch's results here all the same, so no
 * SDK is sent around the sidecar.
 */
export function rewriteResultsUrls(body: Buffer, x: Exchange, ctx: SidecarContext, seen?: (batch: Record<string, unknown>) => void): Buffer {
  let parsed: unknown;
  try {
    parsed = parseJson(body.toString('utf8'));
  } catch {
    return body;
  }
  if (seen && isRecord(parsed)) seen(parsed);
  const origin = claudeOrigin(x, ctx);
  let changed = false;
  const visit = (v: unknown): void => {
    if (Array.isArray(v)) return v.forEach(visit);
    if (!isRecord(v)) return;
    for (const [k, child] of Object.entries(v)) {
      if (k === 'results_url' && typeof child === 'string') {
        let local = ctx.upstream.localPath(child);
        if (local === undefined) {
          local = resultsPathOf(child);
          if (local !== undefined) ctx.log.warn({ requestId: x.id, resultsOrigin: new URL(child).origin }, 'a batch results_url named another origin than the upstream; pointed it at the sidecar all the same');
          else ctx.log.warn({ requestId: x.id }, 'a batch results_url names no batch results path; left as it came');
        }
        if (local !== undefined) {
          v[k] = origin + local;
          changed = true;
        }
      } else if (typeof child === 'object') visit(child);
    }
  };
  visit(parsed);
  return changed ? Buffer.from(JSON.stringify(parsed)) : body;
}

/**
 * The sidecar's Claude endpoint as the skill reaches it: the Host it called, when it called that
 * endpoint; else (a request the egress proxy handed over, whose Host names the upstream, or one
 * without a Host) the endpoint's listen address, where ANTHROPIC_BASE_URL points.
 */
function claudeOrigin(x: Exchange, ctx: SidecarContext): string {
  const { host, claude } = ctx.config.listen;
  const called = x.req.headers.host;
  // A listener on an ephemeral port (claude: 0, tests) cannot be told from the egress proxy's: its Host is taken.
  if (called && (claude === 0 || x.req.socket.localPort === claude)) return `http://${called}`;
  return `http://${host.includes(':') ? `[${host}]` : host}:${claude}`;
}

/** The error type an SSE `event: error` names (`overloaded_error`), or what it is when it names none. */
function errorTypeOf(data: string): string {
  try {
    const parsed = JSON.parse(data) as { error?: { type?: unknown } };
    if (typeof parsed.error?.type === 'string') return parsed.error.type;
  } catch {
    // not JSON: said as such below
  }
  return 'unreadable error data';
}
