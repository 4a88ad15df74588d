// The egress proxy (127.0.0.1:15002): every destination other than Claude goes through here, by
// explicit proxy (HTTP_PROXY: absolute-form requests and CONNECT) or transparently (the pod's
// iptables rules redirect all outbound TCP here: plain HTTP is routed by its Host header, TLS by the
// ClientHello's SNI, without decrypting). Only allowlisted destinations are reached, and only while
// the skill may act at all (standing.ts: workload token, lock feed, locks); every attempt, allowed or
// not, is logged, counted and journaled with its destination, a request node:http cannot parse
// included (the journal masks the destination for the record and the logs: a name or URL the skill
// chose can carry data out). Denials answer 403 (a refused skill: the Claude path's own error; 400/431 for a request
// that cannot be parsed). Each connection let through stays in the live registry while open,
// so a lock or an owner's offboarding cuts it as it cuts the skill's Claude streams, and so does the
// skill losing its standing (token refused, revoked or expired; lock feed lost past its bound).
// Plain HTTP to the Claude upstream itself is not tunnelled: it is handed to the Claude endpoint's
// pipeline, so even a skill that ignores ANTHROPIC_BASE_URL reaches Claude only through the sidecar
// (recorded, credential swapped). Encrypted traffic to the upstream cannot be inspected and is refused.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { http } from '../node-http.js';
import net from 'node:net';
import { codes, errorBody, newRequestId, type GatewayError } from '@skillgate/wire';
import type { SidecarContext } from '../context.js';
import type { Refusal } from '../ports/index.js';
import { countRefusal, egressStanding, refusalReason, type EgressStanding } from './standing.js';
import { parseAuthority, type Destination, type EgressAllowlist } from './allowlist.js';
import { isTlsHandshake, readClientHello } from './sni.js';
import { egressLookup } from './lookup.js';
import type { BudgetedEgressJournal } from './budgeted-journal.js';
import { loggedText } from '../log.js';

export interface EgressOptions {
  allowlist: () => EgressAllowlist;
  /** host:port of the Claude upstream. */
  upstream: Destination;
  /** The Claude endpoint's handler, for plain-HTTP requests addressed to the upstream. */
  claude: (req: IncomingMessage, res: ServerResponse) => void;
  /** Where refused attempts are journaled (a budget a second, shared with the DNS guard's refusals). */
  refusals: BudgetedEgressJournal;
  /** Where allowed attempts are journaled (a budget a second of their own). Absent: straight to the journal. */
  allowed?: BudgetedEgressJournal;
}

const isUpstream = (opts: EgressOptions, dest: Destination | undefined): boolean =>
  dest !== undefined && dest.host === opts.upstream.host && dest.port === opts.upstream.port;

export function createEgressServer(ctx: SidecarContext, opts: EgressOptions): net.Server {
  // What a skill may hold open here is bounded (limits.egressMaxConnections, egressHeadersTimeoutMs):
  // a skill that opens connections and never finishes a request would otherwise hold the sidecar's
  // memory (~64 KB each) until its container is killed, and what it had in flight with it.
  const { headerBytes, egressHeadersTimeoutMs, egressMaxConnections } = ctx.config.limits;
  // The Claude port's header limit: the plain-HTTP requests handed to its pipeline get the same.
  // No limit on a request's whole time (an upload, a long answer), one on its headers.
  const httpSide = http.createServer({
    requestTimeout: 0, headersTimeout: egressHeadersTimeoutMs, connectionsCheckingInterval: Math.min(egressHeadersTimeoutMs, 1000), maxHeaderSize: headerBytes,
  }, (req, res) => forwardHttp(ctx, opts, req, res));
  httpSide.on('connect', (req: IncomingMessage, socket: net.Socket, head: Buffer) => tunnel(ctx, opts, req, socket, head));
  httpSide.on('clientError', (err: NodeJS.ErrnoException & { rawPacket?: Buffer }, socket: net.Socket) => unreadable(ctx, opts, err, socket));

  // Sniff the first bytes: TLS goes to the SNI tunnel, everything else to the HTTP side. A
  // connection that has not sent a whole request head in the headers' time is closed (the HTTP
  // side's headersTimeout covers the requests after the first on a kept-alive connection).
  const server = net.createServer((socket) => {
    socket.setTimeout(egressHeadersTimeoutMs);
    socket.once('timeout', closeUnsent);
    socket.once('data', (first: Buffer) => {
      socket.pause();
      if (isTlsHandshake(first)) {
        // The whole ClientHello (a post-quantum one is larger than a TCP segment), in the head's time.
        return firstFlight(socket, first, (hello) => {
          headArrived(socket);
          transparentTls(ctx, opts, socket, hello);
        });
      }
      unparsedStart.set(socket, first);
      socket.unshift(first);
      httpSide.emit('connection', socket);
      socket.resume();
    });
    socket.on('error', () => socket.destroy());
  });
  server.maxConnections = egressMaxConnections;
  return server;
}

/** A connection that sent no whole request head in time (createEgressServer): closed. */
function closeUnsent(this: net.Socket): void {
  this.destroy();
}

/** A request head (or a TLS ClientHello) arrived: the connection's first timeout is over. */
function headArrived(socket: net.Socket): void {
  socket.off('timeout', closeUnsent);
  socket.setTimeout(0);
}

/**
 * A connection's first bytes, until a request on it parses: a request node:http refuses (headers
 * over the limit) is named by its request line and Host, which the parser's error no longer holds.
 * Kept on the socket itself, not in a WeakMap (an entry per connection costs every scavenge).
 */
const UNPARSED_START = Symbol('skillgate.unparsedStart');
type SniffedSocket = net.Socket & { [UNPARSED_START]?: Buffer | undefined };
const unparsedStart = {
  get: (socket: net.Socket): Buffer | undefined => (socket as SniffedSocket)[UNPARSED_START],
  set: (socket: net.Socket, first: Buffer): void => { (socket as SniffedSocket)[UNPARSED_START] = first; },
  delete: (socket: net.Socket): void => { (socket as SniffedSocket)[UNPARSED_START] = undefined; },
};

interface EgressDecision {
  id: string;
  allowed: boolean;
  /** The skill may reach nothing now (a lock, a refused token, a lock feed it cannot vouch for). */
  refusal?: GatewayError;
  standing: EgressStanding;
}

function decide(ctx: SidecarContext, opts: EgressOptions, method: string, dest: Destination | undefined, raw: string, unparsed = 'unparseable destination'): EgressDecision {
  const id = newRequestId();
  const destination = dest ? `${dest.host}:${dest.port}` : raw;
  const standing = egressStanding(ctx);
  if (standing.refusal) {
    ctx.metrics.egress.labels('denied').inc();
    countRefusal(ctx, standing);
    opts.refusals.record({ requestId: id, method, destination, allowed: false, reason: refusalReason(standing.refusal) });
    return { id, allowed: false, refusal: standing.refusal, standing };
  }
  const allowed = dest !== undefined && opts.allowlist().allows(dest);
  ctx.metrics.egress.labels(allowed ? 'allowed' : 'denied').inc();
  if (allowed) {
    const attempt = { requestId: id, method, destination, allowed };
    if (opts.allowed) opts.allowed.record(attempt);
    else ctx.journal.egress(attempt);
  }
  else opts.refusals.record({ requestId: id, method, destination, allowed, reason: dest ? 'destination not in the egress allowlist' : unparsed });
  return { id, allowed, standing };
}

/**
 * Keep an open connection in the live registry, so a sweep that refuses the skill (a lock that
 * matches it, or its standing lost) cuts it (`cut`, with the error to tell the skill where it still
 * can) and journals that it did (with the bytes of `tunnel`, the skill's socket, when the
 * connection is a tunnel of its own). Returns the function that removes it; the caller calls it
 * when the connection ends.
 */
function holdLive(ctx: SidecarContext, opts: EgressOptions, d: EgressDecision, method: string, destination: string, tunnel: net.Socket | undefined, cut: (error: GatewayError) => void): () => void {
  return ctx.live.addConnection({
    subject: d.standing.subject,
    kill: ({ error, hit }: Refusal) => {
      if (hit) ctx.locks.count?.(hit, 'streamsKilled');
      opts.refusals.record({
        requestId: d.id, method, destination, allowed: false,
        ...(tunnel ? { bytesUp: tunnel.bytesRead, bytesDown: tunnel.bytesWritten } : {}),
        reason: `connection cut: ${refusalReason(error)}`,
      });
      cut(error);
    },
  });
}

/**
 * An answer as a raw HTTP/1.1 response, for a CONNECT that got no tunnel: a refusal (with its stable
 * code) or a failure to reach the destination (no code: skillgate refused nothing).
 */
function rawResponse(status: number, code: string | undefined, body: string, headers: Record<string, string> = {}): string {
  const extra = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('');
  const coded = code === undefined ? '' : `x-skillgate-error: ${code}\r\n`;
  return `HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? 'Error'}\r\ncontent-type: application/json\r\n${coded}${extra}content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`;
}

/** The refusal's message, ending with its stable code as every error skillgate makes does. */
function denialMessage(dest: string, upstream = false): string {
  if (upstream) return `skillgate refused an encrypted connection to the Claude API at ${dest}: call Claude through the sidecar (ANTHROPIC_BASE_URL=http://127.0.0.1:15001) so the request can be inspected and recorded. [${codes.egressDenied}]`;
  return `skillgate egress proxy refused ${dest}: it is not in this skill's egress allowlist (SkillPolicy spec.egress.allowHosts). The attempt was recorded. [${codes.egressDenied}]`;
}

/**
 * A request node:http could not parse (headers over the limit, a target or header it refuses): an
 * attempt all the same, denied, logged, counted and journaled with as much of its destination as
 * its first bytes tell, and answered 400 (431 for oversized headers) in the refusal's shape. Only
 * a connection that broke (no parse error) is closed without a word.
 */
function unreadable(ctx: SidecarContext, opts: EgressOptions, err: NodeJS.ErrnoException & { rawPacket?: Buffer }, socket: net.Socket): void {
  if (!err.code?.startsWith('HPE_')) return void socket.destroy();
  const { method, destination } = attemptOf(unparsedStart.get(socket) ?? err.rawPacket);
  const { id, refusal } = decide(ctx, opts, method, undefined, destination, `request the proxy could not parse (${err.code})`);
  if (!socket.writable) return void socket.destroy();
  if (refusal) return void socket.end(rawResponse(refusal.status, refusal.code, JSON.stringify(refusal.body(id)), refusal.headers));
  const tooBig = err.code === 'HPE_HEADER_OVERFLOW';
  const code = tooBig ? codes.headersTooLarge : codes.badRequest;
  const why = tooBig ? `its headers exceed ${ctx.config.limits.headerBytes} bytes` : `it is not well-formed HTTP (${err.code})`;
  const message = `skillgate egress proxy refused a request${destination === 'unparseable' ? '' : ` to ${destination}`}: ${why}. The attempt was recorded. [${code}]`;
  socket.end(rawResponse(tooBig ? 431 : 400, code, JSON.stringify(errorBody(tooBig ? 'request_too_large' : 'invalid_request_error', message, id))));
}

/** The method and destination a request's first bytes name, as far as they can be read. */
function attemptOf(raw: Buffer | undefined): { method: string; destination: string } {
  const text = raw ? raw.toString('latin1', 0, Math.min(raw.length, 8192)) : '';
  const lineEnd = text.indexOf('\r\n');
  const [method = '', target = ''] = (lineEnd < 0 ? text : text.slice(0, lineEnd)).split(' ');
  const host = /\r\nhost:[ \t]*([^\r\n]*)/i.exec(text)?.[1];
  const named = method === 'CONNECT' ? target : /^http:\/\/([^/]*)/i.exec(target)?.[1] ?? host;
  // Printable and short: it goes to the log and the record as the skill wrote it.
  const printable = (s: string | undefined, max: number): string => (s ?? '').replace(/[^\x21-\x7e]/g, '?').slice(0, max);
  return { method: /^[A-Z]{1,16}$/.test(method) ? method : 'unparseable', destination: printable(named, 256) || 'unparseable' };
}

function forwardHttp(ctx: SidecarContext, opts: EgressOptions, req: IncomingMessage, res: ServerResponse): void {
  unparsedStart.delete(req.socket);
  headArrived(req.socket);
  let target: URL | undefined;
  try {
    target = new URL(req.url?.startsWith('http') ? req.url : `http://${req.headers.host ?? ''}${req.url ?? '/'}`);
  } catch {
    target = undefined;
  }
  const dest = target && target.protocol === 'http:' ? parseAuthority(target.host, 80) : undefined;
  if (target && isUpstream(opts, dest)) {
    req.url = target.pathname + target.search;
    return opts.claude(req, res);
  }
  const method = req.method ?? 'GET';
  const decision = decide(ctx, opts, method, dest, req.headers.host ?? req.url ?? '?');
  const { id, allowed, refusal } = decision;
  if (refusal) {
    res.writeHead(refusal.status, { 'content-type': 'application/json', 'x-skillgate-error': refusal.code, ...refusal.headers });
    res.end(JSON.stringify(refusal.body(id)));
    req.resume();
    return;
  }
  if (!allowed || !target || !dest) {
    const body = JSON.stringify(errorBody('permission_error', denialMessage(dest ? `${dest.host}:${dest.port}` : String(req.url)), id));
    res.writeHead(403, { 'content-type': 'application/json', 'x-skillgate-error': codes.egressDenied });
    res.end(body);
    req.resume();
    return;
  }
  const headers = { ...req.headers };
  delete headers['proxy-connection'];
  delete headers['proxy-authorization'];
  // The host the allowlist approved is the host asked for: a Host header naming another (domain
  // fronting through an allowed server) is replaced, as a proxy does for an absolute-form request.
  headers.host = target.host;
  const upstream = http.request({ host: dest.host, port: dest.port, method: req.method, path: target.pathname + target.search, headers, lookup: egressLookup });
  // A lock (or a lost standing) cuts the request: refused in the Claude path's words if no answer
  // has started, else the connection is closed mid-answer (plain HTTP has no way to say why there).
  const leave = holdLive(ctx, opts, decision, method, `${dest.host}:${dest.port}`, undefined, (err) => {
    if (res.headersSent) {
      res.destroy();
    } else {
      res.writeHead(err.status, { 'content-type': 'application/json', 'x-skillgate-error': err.code, ...err.headers, connection: 'close' });
      res.end(JSON.stringify(err.body(id)));
    }
    upstream.destroy();
  });
  // The skill went away: so does the request it made.
  res.on('close', () => {
    leave();
    if (!res.writableFinished) upstream.destroy();
  });
  upstream.on('response', (up) => {
    // A status node:http parses but will not send (000–099): the server is answered for, not crashed on.
    const status = up.statusCode ?? 0;
    if (status < 100 || status > 999) {
      up.destroy();
      upstream.destroy();
      return badGateway(res, id, `egress to ${dest.host}:${dest.port} failed: it answered HTTP status ${status}, which is not one`);
    }
    res.writeHead(status, up.headers);
    up.pipe(res);
  });
  // An upgrade the skill's request asked for (or one the server sent unasked): this proxy relays
  // plain HTTP only, and node:http hands a 101 to no 'response' listener.
  upstream.on('upgrade', (up, upSocket) => {
    upSocket.destroy();
    badGateway(res, id, `egress to ${dest.host}:${dest.port}: the server switched protocols (HTTP ${up.statusCode ?? 101}), which this proxy does not relay; connect with CONNECT instead`);
  });
  upstream.on('error', (err: NodeJS.ErrnoException) => {
    badGateway(res, id, `egress to ${dest.host}:${dest.port} failed: ${err.code === 'EGRESS_OWN_ADDRESS' ? err.message : err.code ?? err.message}`);
  });
  req.pipe(upstream);
}

/** A 502 in Anthropic's shape, unless the skill was answered already (a lock's refusal) or the answer has begun. */
function badGateway(res: ServerResponse, id: string, message: string): void {
  if (res.writableEnded) return;
  if (res.headersSent) return void res.destroy();
  res.writeHead(502, { 'content-type': 'application/json' });
  res.end(JSON.stringify(errorBody('api_error', message, id)));
}

function tunnel(ctx: SidecarContext, opts: EgressOptions, req: IncomingMessage, socket: net.Socket, head: Buffer): void {
  unparsedStart.delete(socket);
  headArrived(socket);
  const dest = parseAuthority(req.url ?? '', 443);
  const toUpstream = isUpstream(opts, dest);
  const decision = decide(ctx, opts, 'CONNECT', toUpstream ? undefined : dest, req.url ?? '?');
  const { id, allowed, refusal } = decision;
  if (refusal) {
    socket.end(rawResponse(refusal.status, refusal.code, JSON.stringify(refusal.body(id)), refusal.headers));
    return;
  }
  if (!allowed || !dest) {
    const body = JSON.stringify(errorBody('permission_error', denialMessage(req.url ?? '?', toUpstream), id));
    socket.end(rawResponse(403, codes.egressDenied, body));
    return;
  }
  let established = false;
  const upstream = net.connect({ port: dest.port, host: dest.host, lookup: egressLookup }, () => {
    established = true;
    socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
    // The server's bytes flow at once (a protocol where the server speaks first); the skill's wait
    // for a look at its first flight. TLS inside the tunnel must name the host the tunnel was
    // allowed for: a server that fronts others (a CDN) would otherwise route by the ClientHello's
    // name to a host nobody allowlisted.
    upstream.pipe(socket);
    firstFlight(socket, head, (first) => {
      const fronted = frontedName(dest.host, first);
      if (fronted !== undefined) {
        opts.refusals.record({ requestId: newRequestId(), method: 'CONNECT', destination: `${dest.host}:${dest.port}`, allowed: false, reason: fronted });
        ctx.metrics.egress.labels('denied').inc();
        upstream.destroy();
        socket.destroy(); // inside the tunnel there is no HTTP left to refuse in
        return;
      }
      upstream.write(first);
      socket.pipe(upstream);
      socket.resume();
    });
  });
  // A lock (or a lost standing) cuts the tunnel: refused in the Claude path's words if it is not
  // open yet, else closed.
  const leave = holdLive(ctx, opts, decision, 'CONNECT', `${dest.host}:${dest.port}`, socket, (err) => {
    upstream.destroy();
    if (established) return void socket.destroy();
    socket.end(rawResponse(err.status, err.code, JSON.stringify(err.body(id)), err.headers));
  });
  upstream.on('error', (err: NodeJS.ErrnoException) => {
    // A name under an allowlisted wildcard is the skill's to choose: masked as the record masks it.
    if (err.code === 'EGRESS_OWN_ADDRESS') ctx.log.warn({ destination: loggedText(`${dest.host}:${dest.port}`, ctx.journal.maskText), err: loggedText(err.message, ctx.journal.maskText) }, 'egress refused: an allowlisted name resolved to the node or the pod itself');
    if (established || socket.destroyed) return void socket.destroy(); // no HTTP answer inside an open tunnel
    const body = JSON.stringify(errorBody('api_error', `egress to ${dest.host}:${dest.port} failed: ${err.code === 'EGRESS_OWN_ADDRESS' ? err.message : err.code ?? err.message}`, id));
    socket.end(rawResponse(502, undefined, body));
  });
  socket.on('error', () => upstream.destroy());
  socket.on('close', () => {
    leave();
    upstream.destroy();
  });
}

/**
 * What the skill sends first, paused: `head` (what came with the CONNECT, or the first read) and,
 * when it starts a TLS handshake, the rest of its ClientHello (split over TCP reads or TLS records,
 * up to CLIENT_HELLO_MAX); anything else as it comes.
 */
function firstFlight(socket: net.Socket, head: Buffer, done: (first: Buffer) => void): void {
  let got = head;
  const complete = (): boolean => got.length > 0 && (!isTlsHandshake(got) || readClientHello(got).kind !== 'more');
  if (complete()) return void (socket.pause(), done(got));
  const more = (chunk: Buffer): void => {
    got = got.length ? Buffer.concat([got, chunk]) : chunk;
    if (!complete()) return;
    socket.off('data', more);
    socket.pause();
    done(got);
  };
  socket.on('data', more);
  socket.resume();
}

/** A plain HTTP/1.x request's first line: a method, a target and the version (SMTP's `EHLO x`, Redis's `AUTH pw` are none). */
const HTTP_REQUEST_LINE = /^[A-Z]{3,16} [^ \r\n]+ HTTP\/1\.[01]\r?\n/;

/**
 * Why a tunnel allowed for `host` must not carry this first flight, or undefined. TLS must name
 * the allowed host (case and a trailing dot aside) or none at all: a server that fronts others (a
 * CDN) routes by the ClientHello's name, so one naming another host, one whose name is not a host
 * name, or one that cannot be read whole (and might name either) is refused. A tunnel to an IP
 * literal names no host to compare with. Plain HTTP is refused in any tunnel: its Host header could
 * name another host just the same, and the proxy checks it (and sets it) only for requests sent to
 * the proxy itself.
 */
export function frontedName(host: string, first: Buffer): string | undefined {
  if (!isTlsHandshake(first)) {
    return HTTP_REQUEST_LINE.test(first.toString('latin1', 0, 8192))
      ? `plain HTTP inside a CONNECT tunnel to ${host}: refused (its Host header could name another host; send http:// requests to the proxy itself)`
      : undefined;
  }
  if (net.isIP(host) !== 0) return undefined;
  const hello = readClientHello(first);
  if (hello.kind !== 'hello') return `TLS inside a CONNECT tunnel to the allowlisted ${host} that is not a ClientHello skillgate can read whole: refused (it could name another host)`;
  if (hello.unreadableName) return `TLS inside a CONNECT tunnel to the allowlisted ${host} named no host name: refused (a host fronting others would route by that name)`;
  const sni = hello.name;
  if (sni === undefined || sni.toLowerCase().replace(/\.$/, '') === host.toLowerCase().replace(/\.$/, '')) return undefined;
  return `TLS inside a CONNECT tunnel to the allowlisted ${host} named ${sni}: refused (a host fronting others would route by that name)`;
}

function transparentTls(ctx: SidecarContext, opts: EgressOptions, socket: net.Socket, first: Buffer): void {
  const hello = readClientHello(first);
  const sni = hello.kind === 'hello' ? hello.name : undefined;
  const dest = sni ? { host: sni, port: 443 } : undefined;
  const unnamed = hello.kind !== 'hello' ? 'TLS without a ClientHello skillgate can read whole' : hello.unreadableName ? 'TLS naming no host name' : 'TLS without SNI';
  const decision = decide(ctx, opts, 'TLS', isUpstream(opts, dest) ? undefined : dest, sni ?? unnamed);
  if (!decision.allowed || !dest) {
    socket.destroy(); // no way to send a readable refusal inside someone else's TLS handshake
    return;
  }
  const upstream = net.connect({ port: dest.port, host: dest.host, lookup: egressLookup }, () => {
    upstream.write(first);
    upstream.pipe(socket);
    socket.pipe(upstream);
    socket.resume();
  });
  // A lock (or a lost standing) cuts the connection: closed, as a refusal is.
  const leave = holdLive(ctx, opts, decision, 'TLS', `${dest.host}:${dest.port}`, socket, () => {
    upstream.destroy();
    socket.destroy();
  });
  upstream.on('error', () => socket.destroy());
  socket.on('error', () => upstream.destroy());
  socket.on('close', () => {
    leave();
    upstream.destroy();
  });
}
