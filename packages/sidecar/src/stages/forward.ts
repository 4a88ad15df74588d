// Stage 7 — forward to the upstream: the skill's request with its credential replaced by the
// sidecar's, the read body (or its rewrite) sent in one write, or an upload streamed through with a
// byte limit (its text files rewritten on the way under request masking, else read on the side for
// the record). Resolves with the upstream response head; never reads the response body. An upstream
// that answers before an upload is all sent (a 413 on its head) has that answer passed on, and gets
// no more of the upload.
// A request can be prepared first (headers built, a pooled connection taken) and sent later: the
// pipeline prepares it while the request event is on its way to the record, and sends it only once
// the record holds that event. Preparing sends nothing: node:http writes a request's head with its
// first body write or end().
import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { GatewayError, NOT_RETRIED, codes, upstreamRequestHeaders } from '@skillgate/wire';
import type { Exchange } from '../exchange.js';
import type { SidecarContext } from '../context.js';
import { bodyLimit, tooLarge } from './read-body.js';
import { wantBody } from '../continue.js';

/** An upstream request built but not sent. */
export interface PreparedForward {
  /** Send it; resolves with the upstream response head. */
  send(): Promise<IncomingMessage>;
  /** Drop it unsent: the request is not forwarded. */
  cancel(): void;
}

/** Build the upstream request for `x` (headers, a pooled connection); nothing is sent until send(). */
export function prepareForward(x: Exchange, ctx: SidecarContext): PreparedForward {
  if (x.abort.aborted) return { send: () => Promise.reject(x.abort.reason), cancel: () => undefined };
  const headers = upstreamRequestHeaders(x.upstreamHeaders ?? x.req.headers, ctx.credential.credential());
  const body = x.upstreamBody ?? x.body;
  if (body) {
    headers['content-length'] = String(body.length);
  } else if (x.uploadFilter) {
    // Masking changes the length: the rewritten upload goes chunked.
    delete headers['content-length'];
    delete headers['transfer-encoding'];
  }
  const upstreamReq = ctx.upstream.request(x.req.method ?? 'GET', x.upstreamUrl ?? x.url, headers);
  x.abort.upstream = upstreamReq;

  let settle!: { resolve: (res: IncomingMessage) => void; reject: (err: unknown) => void };
  const response = new Promise<IncomingMessage>((resolve, reject) => { settle = { resolve, reject }; });
  response.catch(() => undefined); // the sender awaits it; an unsent request's end goes nowhere
  let timer: NodeJS.Timeout | undefined;
  let cancelled = false;
  let sent = false;
  let lostBeforeSend = false;
  // Whether a connection to the upstream was ever made: one refused or never resolved carried nothing.
  let connected = false;
  upstreamReq.once('socket', (socket) => {
    if (!socket.connecting) connected = true;
    else socket.once('connect', () => { connected = true; });
  });
  upstreamReq.on('response', (res) => {
    clearTimeout(timer);
    x.upstreamHeadersAt = process.hrtime.bigint();
    // An answer before the whole body was sent (a 413 on seeing an upload's head): the rest is not
    // sent (streamUpload stops), and a connection whose request was never finished is not reused.
    if (!upstreamReq.writableEnded) res.once('end', () => upstreamReq.destroy());
    settle.resolve(res);
  });
  upstreamReq.on('error', (err: NodeJS.ErrnoException) => {
    clearTimeout(timer);
    if (x.abort.aborted) return settle.reject(x.abort.reason);
    if (cancelled) return settle.reject(err);
    if (!sent) lostBeforeSend = true; // e.g. the upstream closed the pooled connection meanwhile
    settle.reject(sent && err.code?.startsWith('HPE_') ? unreadableAnswer(err, ctx) : unreachable(err, ctx, sent && connected));
  });

  return {
    send() {
      if (x.abort.aborted) {
        upstreamReq.destroy();
        return Promise.reject(x.abort.reason);
      }
      // The connection it took was lost while it waited (an upstream closing an idle keep-alive
      // connection): nothing was sent on it, so build the request again on a live one.
      if (lostBeforeSend || upstreamReq.socket?.destroyed) {
        upstreamReq.destroy();
        return prepareForward(x, ctx).send();
      }
      sent = true;
      x.upstreamStartedAt = process.hrtime.bigint();
      // The wait for the answer's head starts once the request is all sent: an upload streamed
      // through takes as long as the skill takes to send it, which is not the upstream being slow.
      const startWaiting = (): void => {
        if (x.upstreamHeadersAt !== undefined || upstreamReq.destroyed) return; // answered, or given up
        timer = setTimeout(() => {
          settle.reject(new GatewayError(codes.upstreamTimeout, 'timeout_error',
            `The Claude API did not answer within ${ctx.config.limits.upstreamHeadersTimeoutMs} ms; try again.`));
          upstreamReq.destroy();
        }, ctx.config.limits.upstreamHeadersTimeoutMs);
      };
      if (body) {
        upstreamReq.end(body);
        startWaiting();
      } else if (x.route.body === 'stream' || x.req.headers['content-length'] || x.req.headers['transfer-encoding']) {
        upstreamReq.once('finish', startWaiting);
        streamUpload(x, ctx, upstreamReq, settle.reject);
      } else {
        upstreamReq.end();
        startWaiting();
      }
      return response;
    },
    cancel() {
      cancelled = true;
      upstreamReq.destroy();
    },
  };
}

/** The upstream could not be reached, or the connection broke before it answered. */
function unreachable(err: NodeJS.ErrnoException, ctx: SidecarContext, carried: boolean): GatewayError {
  // Once sent on a connection, the upstream may have acted on it before the connection broke: say so.
  const fate = carried ? 'the connection broke after the request was sent, so the Claude API may have processed it' : 'the request was not sent';
  return new GatewayError(codes.upstreamUnreachable, 'api_error',
    `skillgate could not reach the Claude API at ${ctx.upstream.url.origin} (${err.code ?? err.message}); ${fate}. Retry shortly.`,
    { status: 502, cause: err });
}

/**
 * The upstream answered, but not in HTTP that skillgate can read (node:http's parser refused it):
 * response headers over the upstream header limit, or malformed. The request reached the API.
 */
function unreadableAnswer(err: NodeJS.ErrnoException, ctx: SidecarContext): GatewayError {
  if (err.code === 'HPE_HEADER_OVERFLOW') {
    // The same request gets the same headers again: a retry would only repeat the call.
    return new GatewayError(codes.upstreamInvalidResponse, 'api_error',
      `The Claude API at ${ctx.upstream.url.origin} answered with response headers over ${Math.round(ctx.upstream.maxHeaderSize / 1024)} KB, more than skillgate accepts, so the answer cannot be passed on; the API may have processed the request. Ask an operator to look at what sets such headers between skillgate and the API.`,
      { status: 502, cause: err, headers: { ...NOT_RETRIED } });
  }
  return new GatewayError(codes.upstreamInvalidResponse, 'api_error',
    `The Claude API at ${ctx.upstream.url.origin} answered with a malformed HTTP response (${err.code}); the API may have processed the request. Retry shortly.`,
    { status: 502, cause: err });
}

/** Pipe an upload through without holding it: count bytes, stop at the limit, respect backpressure. */
function streamUpload(
  x: Exchange, ctx: SidecarContext, upstreamReq: ReturnType<SidecarContext['upstream']['request']>, reject: (e: unknown) => void,
): void {
  const limit = bodyLimit(x, ctx);
  const declared = Number(x.req.headers['content-length'] ?? NaN);
  if (declared > limit) {
    reject(tooLarge(limit));
    upstreamReq.destroy();
    return;
  }
  wantBody(x);
  // The record's request event was written before these bytes were read: what was sent is
  // recorded with the answer (x.uploaded).
  const digest = createHash('sha256');
  // A masking mode's rewrite, else the record's reader on the side (bytes passed on as they came).
  const filter = x.uploadFilter ?? ctx.journal.readUpload?.(x);
  let failed = false;
  const fail = (err: unknown): void => {
    failed = true;
    x.req.pause();
    upstreamReq.destroy();
    reject(err);
  };
  // What the skill sends goes upstream one chunk a turn of the event loop, after its poll for I/O
  // (setImmediate): an answer the upstream sent meanwhile (a 413 on seeing the upload's head) is
  // read before the next write. An upstream that answers early and closes would otherwise fail that
  // write (EPIPE), and node:http closes a connection whose write failed without reading what had
  // arrived on it: the skill would get a 502, and its SDK retry the whole upload, for the API's 413.
  const resume = (): void => void x.req.resume();
  /** Send on what the filter makes of the skill's bytes (all of them when there is none). */
  const send = (chunks: Buffer[]): boolean => {
    let full = false;
    for (const c of chunks) if (c.length && !upstreamReq.write(c)) full = true;
    return full;
  };
  // The upstream answered before the upload was all sent: nothing more is sent, and what the skill
  // still sends is read and dropped, so the answer reaches it and its connection stays usable.
  upstreamReq.once('response', () => {
    if (failed || upstreamReq.writableEnded) return;
    failed = true;
    upstreamReq.off('drain', resume);
    x.req.resume();
  });
  x.req.on('data', (chunk: Buffer) => {
    if (failed) return;
    x.bytesIn += chunk.length;
    digest.update(chunk);
    if (x.bytesIn > limit) return fail(tooLarge(limit));
    let out: Buffer[];
    try {
      out = filter ? filter.push(chunk) : [chunk];
    } catch (err) {
      return fail(err);
    }
    x.req.pause();
    setImmediate(() => {
      if (failed) return;
      if (send(out)) upstreamReq.once('drain', resume);
      else x.req.resume();
    });
  });
  x.req.on('end', () => {
    if (failed) return;
    let out: Buffer[];
    try {
      out = filter ? filter.end() : [];
    } catch (err) {
      return fail(err);
    }
    // After the last chunk's turn (setImmediate runs in order).
    setImmediate(() => {
      if (failed) return;
      send(out);
      x.uploaded = {
        bytes: x.bytesIn, sha256: digest.digest('hex'),
        ...(filter ? { findings: filter.findings, found: filter.found } : {}), ...(filter?.unread ? { unread: filter.unread } : {}),
      };
      upstreamReq.end();
    });
  });
}
