// The skill's Claude API endpoint (127.0.0.1:15001): an HTTP server that turns each request into an
// Exchange and runs the pipeline. Also answers Claude Code's warm-up probes locally and turns
// malformed requests (oversized headers, bad framing) and requests the skill stops sending midway
// (the idle limit) into Anthropic-shaped errors; never closes a connection mid-request without one.
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { http } from './node-http.js';
import type { Socket } from 'node:net';
import { GatewayError, classifyRoute, codes, errorBody, newRequestId } from '@skillgate/wire';
import type { SidecarContext } from './context.js';
import type { Exchange } from './exchange.js';
import { refuse, runPipeline } from './pipeline.js';
import { Cut } from './cut.js';
import { awaitContinue } from './continue.js';

export type ClaudeHandler = (req: IncomingMessage, res: ServerResponse) => void;

/** The request handler of the Claude endpoint: every request becomes an Exchange through the pipeline. */
export function claudeHandler(ctx: SidecarContext): ClaudeHandler {
  return (req, res) => {
      const route = classifyRoute(req.method ?? 'GET', req.url ?? '/');
      if (route.kind === 'probe') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(req.method === 'HEAD' ? undefined : '{"ok":true,"service":"skillgate"}');
        return;
      }
      const id = newRequestId();
      if (route.kind === 'unknown') {
        ctx.metrics.refusals.labels(codes.notFound).inc();
        const body = JSON.stringify(errorBody('not_found_error', `skillgate serves the Claude API under /v1/; ${req.method} ${route.path} is not part of it. [${codes.notFound}]`, id));
        res.writeHead(404, { 'content-type': 'application/json', 'request-id': id, 'x-skillgate-error': codes.notFound });
        res.end(body);
        req.resume();
        return;
      }
      const x: Exchange = {
        id, receivedAt: process.hrtime.bigint(), req, res, route, url: req.url ?? '/',
        abort: new Cut(), bytesIn: 0, bytesOut: 0,
      };
      (res as ExchangeResponse)[EXCHANGE] = x;
      void runPipeline(x, ctx);
  };
}

/**
 * Each response's exchange, for the idle limit to answer: a member of the response itself (held no
 * longer than the response is). Not a WeakMap: an entry per request in one cost the full sidecar
 * ~50 µs of CPU a request under load (ephemerons in every scavenge; bench/proxy/profile.mjs).
 */
const EXCHANGE = Symbol('skillgate.exchange');
type ExchangeResponse = ServerResponse & { [EXCHANGE]?: Exchange };

/**
 * The response in progress on a connection: node:http's own link (`_httpMessage`, set while a
 * response has the socket, cleared when it is done). Read only when a connection goes idle, so the
 * request path pays for nothing but the member set above.
 */
function responseOn(socket: Socket): ServerResponse | undefined {
  return (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage ?? undefined;
}

/**
 * A connection idle past limits.idleTimeoutMs. Between requests it is closed. A skill that stalls
 * while sending its request (the pipeline lets the connection be quiet only once the request is
 * read, and an upload's never) gets an Anthropic-shaped 408 timeout_error, and the connection is
 * closed after it: without an answer, an SDK would see a dropped connection and nothing that says
 * why. A half-sent upload is not forwarded further (the upstream request is cut).
 */
function idleConnection(ctx: SidecarContext, socket: Socket): void {
  const res = responseOn(socket);
  const x = (res as ExchangeResponse | undefined)?.[EXCHANGE];
  if (!x || x.req.complete || x.res.headersSent) return void socket.destroy();
  const idleMs = ctx.config.limits.idleTimeoutMs;
  const err = new GatewayError(codes.idleTimeout, 'timeout_error',
    `skillgate received nothing more of the request for ${idleMs / 1000} s (the idle limit), so it did not forward it whole; send the request again.`,
    { status: 408, headers: { connection: 'close' } });
  refuse(x, ctx, err);
  x.abort.abort(err);
  // The request will not end now: once the answer is out, close it, so the stage still reading it
  // (read body) stops waiting and the exchange ends (and is logged) as refused.
  x.res.once('finish', () => x.req.destroy());
}

export function createClaudeServer(ctx: SidecarContext, handler: ClaudeHandler): Server {
  const server = http.createServer(
    { maxHeaderSize: ctx.config.limits.headerBytes, requestTimeout: 0, keepAliveTimeout: 65_000 },
    handler,
  );
  // Expect: 100-continue: node:http would answer "100 Continue" at once; the pipeline does when it wants the body (continue.ts).
  server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => {
    awaitContinue(res);
    handler(req, res);
  });
  server.timeout = ctx.config.limits.idleTimeoutMs;
  server.on('timeout', (socket: Socket) => idleConnection(ctx, socket));
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    if (!socket.writable) return socket.destroy();
    const tooBig = err.code === 'HPE_HEADER_OVERFLOW';
    const [status, text, code, message] = tooBig
      ? [431, 'Request Header Fields Too Large', codes.headersTooLarge, `Request headers exceed ${ctx.config.limits.headerBytes} bytes; send fewer or smaller headers.`]
      : [400, 'Bad Request', codes.badRequest, `Malformed HTTP request (${err.code ?? err.message}).`];
    // Shaped as every error skillgate makes: a request id, the code in the message and in a header.
    const id = newRequestId();
    ctx.metrics.refusals.labels(code).inc();
    const body = JSON.stringify(errorBody(tooBig ? 'request_too_large' : 'invalid_request_error', `${message} [${code}]`, id));
    socket.end(`HTTP/1.1 ${status} ${text}\r\ncontent-type: application/json\r\nrequest-id: ${id}\r\nx-skillgate-error: ${code}\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
  });
  return server;
}
