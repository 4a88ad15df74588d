// Stage 7 — forward to the upstream: the skill's request with its credential replaced by the
// sidecar's, the read body (or its rewrite) sent in one write, or an upload streamed through with a
// byte limit. Resolves with the upstream response head; never reads the response body.
import type { IncomingMessage } from 'node:http';
import { GatewayError, codes, upstreamRequestHeaders } from '@skillgate/wire';
import type { Exchange } from '../exchange.js';
import type { SidecarContext } from '../context.js';
import { bodyLimit, tooLarge } from './read-body.js';

export function forward(x: Exchange, ctx: SidecarContext): Promise<IncomingMessage> {
  const headers = upstreamRequestHeaders(x.req.headers, ctx.credential.credential());
  const body = x.upstreamBody ?? x.body;
  if (body) {
    headers['content-length'] = String(body.length);
  }
  x.upstreamStartedAt = process.hrtime.bigint();
  if (x.abort.aborted) return Promise.reject(x.abort.reason);
  const upstreamReq = ctx.upstream.request(x.req.method ?? 'GET', x.url, headers);
  x.abort.upstream = upstreamReq;

  return new Promise<IncomingMessage>((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new GatewayError(codes.upstreamTimeout, 'timeout_error',
        `The Claude API did not answer within ${ctx.config.limits.upstreamHeadersTimeoutMs} ms; try again.`));
      upstreamReq.destroy();
    }, ctx.config.limits.upstreamHeadersTimeoutMs);
    upstreamReq.on('response', (res) => {
      clearTimeout(timer);
      x.upstreamHeadersAt = process.hrtime.bigint();
      resolve(res);
    });
    upstreamReq.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (x.abort.aborted) {
        reject(x.abort.reason);
        return;
      }
      reject(new GatewayError(codes.upstreamUnreachable, 'api_error',
        `skillgate could not reach the Claude API at ${ctx.upstream.url.origin} (${err.code ?? err.message}); the request was not sent. Retry shortly.`,
        { status: 502, cause: err }));
    });

    if (body) {
      upstreamReq.end(body);
    } else if (x.route.body === 'stream' || x.req.headers['content-length'] || x.req.headers['transfer-encoding']) {
      streamUpload(x, ctx, upstreamReq, reject);
    } else {
      upstreamReq.end();
    }
  });
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
  x.req.on('data', (chunk: Buffer) => {
    x.bytesIn += chunk.length;
    if (x.bytesIn > limit) {
      x.req.pause();
      upstreamReq.destroy();
      reject(tooLarge(limit));
      return;
    }
    if (!upstreamReq.write(chunk)) {
      x.req.pause();
      upstreamReq.once('drain', () => x.req.resume());
    }
  });
  x.req.on('end', () => upstreamReq.end());
}
