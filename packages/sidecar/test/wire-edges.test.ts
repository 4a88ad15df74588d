// The data path at the edges of the wire, over real sockets: an upstream that answers an upload
// before it is all sent, a skill that reads its answer slowly or not at all, a skill that stalls
// while sending, heads larger than node:http's defaults, a batch fetched through the egress proxy,
// HEAD on a batch, and requests the egress proxy cannot parse. The upstreams here are raw sockets
// or the scripted double where a test needs byte-level control of what the Claude API does.
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { spawn } from 'node:child_process';
import { pino } from 'pino';
import { startSidecar, type EgressAttempt, type Sidecar, type SidecarConfigInput, type SidecarPorts } from '../src/index.js';
import { createLogger, type Logger } from '../src/log.js';
import { logJournal } from '../src/ports/journal.js';
import type { Exchange } from '../src/exchange.js';
import type { UploadFilter } from '../src/ports/guard.js';
import { startUpstreamDouble, type UpstreamDouble } from './upstream-double.js';

const LISTEN = { claude: 0, egress: 0, dns: 0, health: 0, metrics: 0, adminHost: '127.0.0.1' } as const;

interface RawAnswer { status: number; head: string; headers: Record<string, string>; body: Buffer }

/** Parse one HTTP/1.1 response out of `bytes`; undefined until all of it is there. */
function parseAnswer(bytes: Buffer, bodiless = false): RawAnswer | undefined {
  const end = bytes.indexOf('\r\n\r\n');
  if (end < 0) return undefined;
  const head = bytes.subarray(0, end).toString('latin1');
  const headers: Record<string, string> = {};
  for (const line of head.split('\r\n').slice(1)) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
  }
  const status = Number(head.split(' ')[1]);
  const rest = bytes.subarray(end + 4);
  if (headers['transfer-encoding'] === 'chunked' && !bodiless) {
    const parts: Buffer[] = [];
    for (let at = 0; ;) {
      const lineEnd = rest.indexOf('\r\n', at);
      if (lineEnd < 0) return undefined;
      const size = parseInt(rest.subarray(at, lineEnd).toString(), 16);
      if (size === 0) return { status, head, headers, body: Buffer.concat(parts) };
      if (rest.length < lineEnd + 2 + size + 2) return undefined;
      parts.push(rest.subarray(lineEnd + 2, lineEnd + 2 + size));
      at = lineEnd + 2 + size + 2;
    }
  }
  const length = bodiless ? 0 : Number(headers['content-length'] ?? NaN);
  if (Number.isNaN(length) || rest.length < length) return undefined;
  return { status, head, headers, body: rest.subarray(0, length) };
}

/** Send `request` on a fresh connection and read one answer (or what came before the close). */
function rawCall(port: number, request: string | Buffer, opts: { bodiless?: boolean } = {}): Promise<{ answer?: RawAnswer; bytes: Buffer }> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(request));
    let bytes = Buffer.alloc(0);
    const done = (): void => {
      socket.destroy();
      resolve({ answer: parseAnswer(bytes, opts.bodiless), bytes });
    };
    socket.on('data', (d: Buffer) => {
      bytes = Buffer.concat([bytes, d]);
      if (parseAnswer(bytes, opts.bodiless)) done();
    });
    socket.on('error', () => undefined);
    socket.on('close', done);
  });
}

/**
 * Upload `size` bytes as fast as the sidecar takes them, in 64 KB writes, on `socket`; resolves
 * with the answer as soon as it is all there (the rest of the upload is not sent then).
 */
function upload(socket: net.Socket, size: number): Promise<{ answer?: RawAnswer; sent: number }> {
  return new Promise((resolve) => {
    let bytes = Buffer.alloc(0);
    let answer: RawAnswer | undefined;
    let sent = 0;
    const onData = (d: Buffer): void => {
      bytes = Buffer.concat([bytes, d]);
      answer = parseAnswer(bytes);
      if (answer) finish();
    };
    const finish = (): void => {
      socket.off('data', onData).off('close', finish);
      resolve({ answer, sent });
    };
    socket.on('data', onData).on('close', finish);
    socket.on('error', () => undefined);
    socket.write(`POST /v1/files HTTP/1.1\r\nhost: x\r\nx-api-key: k\r\ncontent-type: application/octet-stream\r\ncontent-length: ${size}\r\n\r\n`);
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    const pump = (): void => {
      while (sent < size && !answer && !socket.destroyed) {
        const n = Math.min(chunk.length, size - sent);
        sent += n;
        if (!socket.write(n === chunk.length ? chunk : chunk.subarray(0, n))) return void socket.once('drain', pump);
      }
    };
    pump();
  });
}

const listening = (server: net.Server): Promise<number> =>
  new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
const closing = (server: net.Server): Promise<void> => new Promise((resolve) => server.close(() => resolve()));

async function freePort(): Promise<number> {
  const probe = net.createServer();
  const port = await listening(probe);
  await closing(probe);
  return port;
}

async function withSidecar(input: SidecarConfigInput, use: (s: Sidecar) => Promise<void>, ports: SidecarPorts = {}): Promise<void> {
  const sidecar = await startSidecar({ upstreamApiKey: 'k', listen: LISTEN, ...input }, { logger: createLogger('silent'), ...ports });
  try {
    await use(sidecar);
  } finally {
    await sidecar.close();
  }
}

const portOf = (url: string): number => Number(new URL(url).port);
const TOO_LARGE = '{"type":"error","error":{"type":"request_too_large","message":"Request exceeds the maximum allowed number of bytes."},"request_id":"req_upstream413"}';
const answer413 = `HTTP/1.1 413 Request Entity Too Large\r\ncontent-type: application/json\r\nrequest-id: req_upstream413\r\ncontent-length: ${TOO_LARGE.length}\r\nconnection: close\r\n\r\n${TOO_LARGE}`;

describe('an upstream that answers an upload before it is all sent', () => {
  it('passes its answer (a 413 on seeing the head, then a closed connection) on to the skill, not a 502', async () => {
    // As the Claude API does with an upload over its limit: answer at the head, then close the
    // connection (2 ms later). In a process of its own, so that it closes while the sidecar works.
    const upstream = spawn(process.execPath, ['-e', `
      const net = require('node:net');
      const server = net.createServer((socket) => {
        socket.on('error', () => undefined);
        let seen = '';
        socket.on('data', (d) => {
          if (seen.includes('\\r\\n\\r\\n')) return;
          seen += d.toString('latin1');
          if (!seen.includes('\\r\\n\\r\\n')) return;
          socket.write(${JSON.stringify(answer413)});
          setTimeout(() => socket.destroy(), 2);
        });
      });
      server.listen(0, '127.0.0.1', () => console.log(server.address().port));
    `], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      const upstreamPort = await new Promise<number>((resolve) => upstream.stdout.once('data', (d: Buffer) => resolve(Number(String(d)))));
      // The record reads an upload on the side as it streams through (its multipart parts, for
      // masking findings): a few ms a chunk, during which the upstream's answer and close arrive.
      const busy = (ms: number): void => { const until = performance.now() + ms; while (performance.now() < until); };
      const reader = (): UploadFilter => ({ push: (c) => { busy(3); return [c]; }, end: () => [], findings: [], found: 0 });
      await withSidecar({ upstreamUrl: `http://127.0.0.1:${upstreamPort}` }, async (sidecar) => {
        // The upstream's close races the sidecar's next write: each try is one more chance to lose the answer.
        for (let i = 0; i < 6; i++) {
          const skill = net.connect(portOf(sidecar.claudeUrl), '127.0.0.1');
          const { answer } = await upload(skill, 32 * 1024 * 1024);
          skill.destroy();
          expect(answer?.status).toBe(413);
          expect(answer?.headers['request-id']).toBe('req_upstream413');
          expect(answer?.body.toString()).toBe(TOO_LARGE);
        }
      }, { journal: (l) => ({ ...logJournal(l), readUpload: reader }) });
    } finally {
      upstream.kill();
    }
  });

  it('sends no more of the upload once answered, and the skill\'s connection stays usable', async () => {
    // This upstream answers at the head but reads on (it does not close): what more it gets, it counts.
    let uploadBytes = 0;
    const upstream = net.createServer((socket) => {
      socket.on('error', () => undefined);
      let seen = '';
      socket.on('data', (d: Buffer) => {
        if (seen.includes('\r\n\r\n')) return void (uploadBytes += d.length);
        seen += d.toString('latin1');
        const end = seen.indexOf('\r\n\r\n');
        if (end < 0) return;
        if (seen.startsWith('POST')) {
          uploadBytes += seen.length - end - 4;
          socket.write(answer413.replace('connection: close\r\n', ''));
        } else {
          socket.end('HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 11\r\nconnection: close\r\n\r\n{"data":[]}');
        }
      });
    });
    const upstreamPort = await listening(upstream);
    try {
      await withSidecar({ upstreamUrl: `http://127.0.0.1:${upstreamPort}` }, async (sidecar) => {
        const size = 32 * 1024 * 1024;
        const skill = net.connect(portOf(sidecar.claudeUrl), '127.0.0.1');
        const { answer, sent } = await upload(skill, size);
        expect(answer?.status).toBe(413);
        // The skill sends the rest of its upload (as a client that reads no early answer would), then its next request.
        let bytes = Buffer.alloc(0);
        skill.on('data', (d: Buffer) => void (bytes = Buffer.concat([bytes, d])));
        const next = new Promise<void>((resolve) => skill.on('data', () => { if (parseAnswer(bytes)) resolve(); }));
        skill.write(Buffer.alloc(size - sent, 0x61));
        skill.write('GET /v1/models HTTP/1.1\r\nhost: x\r\nx-api-key: k\r\n\r\n');
        await Promise.race([next, new Promise((r) => setTimeout(r, 5000).unref())]); // bounded: a sidecar that stops reading never answers
        skill.destroy();
        // Some of the upload was on its way before the answer came; by far not all of it.
        expect(uploadBytes).toBeLessThan(size / 4);
        expect(parseAnswer(bytes)?.status).toBe(200);
      });
    } finally {
      await closing(upstream);
    }
  });
});

describe('a skill that reads its answer slowly', () => {
  let upstream: http.Server;
  let upstreamUrl: string;
  const upstreamClosed: Array<() => void> = [];

  beforeAll(async () => {
    // An answer far larger than the socket buffers between the sidecar and the skill, sent as fast as
    // the sidecar takes it: SSE for /v1/messages, a file's content for /v1/files/{id}/content.
    upstream = http.createServer(async (req, res) => {
      req.resume();
      res.on('close', () => upstreamClosed.splice(0).forEach((f) => f()));
      const sse = req.url!.startsWith('/v1/messages');
      const total = Number(new URL(req.url!, 'http://x').searchParams.get('mb') ?? 32) * 1024 * 1024;
      res.writeHead(200, sse ? { 'content-type': 'text/event-stream; charset=utf-8' } : { 'content-type': 'application/octet-stream', 'content-length': String(total) });
      const piece = sse
        ? Buffer.from(`event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"${'x'.repeat(16 * 1024)}"}}\n\n`)
        : Buffer.alloc(16 * 1024, 0x62);
      let sent = 0;
      while (sent < total && !res.destroyed) {
        const n = Math.min(piece.length, total - sent);
        sent += n;
        if (!res.write(n === piece.length ? piece : piece.subarray(0, n))) await new Promise((r) => { res.once('drain', r); res.once('close', r); });
      }
      if (sse && !res.destroyed) res.write('event: message_stop\ndata: {"type":"message_stop"}\n\n');
      res.end();
    });
    upstreamUrl = `http://127.0.0.1:${await listening(upstream)}`;
  });
  afterAll(async () => {
    upstream.closeAllConnections();
    await closing(upstream);
  });

  const body = JSON.stringify({ model: 'claude-sonnet-4-5', max_tokens: 8, stream: true, messages: [{ role: 'user', content: 'hi' }] });
  const request = (path: string): string => path.startsWith('/v1/messages')
    ? `POST ${path} HTTP/1.1\r\nhost: x\r\nx-api-key: k\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body}`
    : `GET ${path} HTTP/1.1\r\nhost: x\r\nx-api-key: k\r\n\r\n`;

  it.each([['a stream', '/v1/messages?mb=32'], ['a download', '/v1/files/file_1/content?mb=32']])(
    'cuts one that stops reading %s after its own idle limit, as the skill\'s doing, not a silent upstream\'s',
    async (_what, path) => {
      let exchangeEnded!: (x: Exchange) => void;
      const ended = new Promise<Exchange>((resolve) => { exchangeEnded = resolve; });
      await withSidecar({ upstreamUrl, limits: { idleTimeoutMs: 400 } }, async (sidecar) => {
        const upstreamGone = new Promise<void>((r) => upstreamClosed.push(r));
        const skill = net.connect(portOf(sidecar.claudeUrl), '127.0.0.1', () => skill.write(request(path)));
        skill.on('error', () => undefined);
        // Reads the first bytes, then nothing more.
        let got = '';
        await new Promise<void>((resolve) => skill.once('data', (d: Buffer) => { got = d.toString('latin1'); skill.pause(); resolve(); }));
        expect(got).toMatch(/^HTTP\/1.1 200/);
        await upstreamGone; // the sidecar dropped the upstream
        const x = await ended;
        skill.destroy();
        expect(x.outcome).toBe('client_aborted');
        expect(x.outcomeReason).toMatch(/the skill read nothing of the answer for 400 ms/);
      }, { journal: (l) => ({ ...logJournal(l), end: exchangeEnded }) });
    });

  it('streams the whole answer to one that pauses often, each pause shorter than the idle limit', async () => {
    let exchangeEnded!: (x: Exchange) => void;
    const ended = new Promise<Exchange>((resolve) => { exchangeEnded = resolve; });
    await withSidecar({ upstreamUrl, limits: { idleTimeoutMs: 600 } }, async (sidecar) => {
      const skill = net.connect(portOf(sidecar.claudeUrl), '127.0.0.1', () => skill.write(request('/v1/messages?mb=24')));
      let tail = '';
      let total = 0;
      skill.on('data', (d: Buffer) => {
        total += d.length;
        tail = (tail + d.toString('latin1')).slice(-200);
        // Reads ~4 MB, then pauses a while: the whole stream takes several idle limits.
        if (total % (4 * 1024 * 1024) < d.length) {
          skill.pause();
          setTimeout(() => skill.resume(), 300);
        }
      });
      // The answer's end: the last event and the chunked body's terminator (the connection stays open).
      await new Promise<void>((resolve) => skill.on('data', () => { if (tail.endsWith('0\r\n\r\n')) resolve(); }));
      expect(tail).toContain('event: message_stop');
      expect(tail).not.toContain('event: error');
      expect((await ended).outcome).toBe('complete');
      skill.destroy();
    }, { journal: (l) => ({ ...logJournal(l), end: exchangeEnded }) });
  });
});

describe('a skill that stalls while sending its request', () => {
  // An upstream that takes whatever comes and never answers: the skill's stall is all there is.
  let upstream: net.Server;
  let upstreamUrl: string;
  let upstreamBytes = 0;
  beforeAll(async () => {
    upstream = net.createServer((socket) => socket.on('data', (d: Buffer) => void (upstreamBytes += d.length)).on('error', () => undefined));
    upstreamUrl = `http://127.0.0.1:${await listening(upstream)}`;
  });
  afterAll(() => closing(upstream));

  /** A logger whose request lines the test reads; `next()` resolves with the next one. */
  function requestLines(): { logger: Logger; next: () => Promise<Record<string, unknown>> } {
    const lines: Array<Record<string, unknown>> = [];
    const waiting: Array<(line: Record<string, unknown>) => void> = [];
    const logger = pino({ level: 'info' }, new Writable({
      write(chunk, _enc, cb) {
        const line = JSON.parse(String(chunk)) as Record<string, unknown>;
        if (line.msg === 'request') (waiting.shift() ?? ((l) => void lines.push(l)))(line);
        cb();
      },
    }));
    return { logger, next: () => (lines.length ? Promise.resolve(lines.shift()!) : new Promise((resolve) => waiting.push(resolve))) };
  }
  const stalled = (requestLine: string, contentType: string, partial: string): string =>
    `${requestLine} HTTP/1.1\r\nhost: x\r\nx-api-key: k\r\ncontent-type: ${contentType}\r\ncontent-length: 1000\r\n\r\n${partial}`;

  it.each([['a Messages request', 'POST /v1/messages', 'application/json', '{"model":"claude-'], ['an upload', 'POST /v1/files', 'multipart/form-data; boundary=b', '--b\r\n']])(
    'gets a 408 timeout_error past the idle limit (%s), and the log says 408',
    async (_what, requestLine, contentType, partial) => {
      const { logger, next } = requestLines();
      upstreamBytes = 0;
      await withSidecar({ upstreamUrl, limits: { idleTimeoutMs: 300 } }, async (sidecar) => {
        const { answer } = await rawCall(portOf(sidecar.claudeUrl), stalled(requestLine, contentType, partial));
        expect(answer?.status).toBe(408);
        expect(answer?.headers['x-skillgate-error']).toBe('SG_IDLE_TIMEOUT');
        expect(answer?.headers.connection).toBe('close');
        const error = JSON.parse(answer!.body.toString());
        expect(error).toMatchObject({ type: 'error', error: { type: 'timeout_error' }, request_id: answer!.headers['request-id'] });
        expect(error.error.message).toMatch(/received nothing more of the request for 0.3 s .*\[SG_IDLE_TIMEOUT\]$/);
        expect(await next()).toMatchObject({ requestId: error.request_id, status: 408, outcome: 'refused', reason: 'SG_IDLE_TIMEOUT' });
      }, { logger });
      // A Messages request is read whole before anything is forwarded: nothing of it went out.
      if (requestLine.includes('messages')) expect(upstreamBytes).toBe(0);
    });

  it('logs status 0 for a skill that leaves mid-request, having been sent nothing (not a status never sent)', async () => {
    const { logger, next } = requestLines();
    let inFlight!: () => void;
    const forwarding = new Promise<void>((resolve) => { inFlight = resolve; });
    await withSidecar({ upstreamUrl }, async (sidecar) => {
      const skill = net.connect(portOf(sidecar.claudeUrl), '127.0.0.1', () => skill.write(stalled('POST /v1/files', 'multipart/form-data; boundary=b', '--b\r\n')));
      skill.on('error', () => undefined);
      await forwarding; // the upload is on its way upstream
      skill.destroy();
      expect(await next()).toMatchObject({ status: 0, outcome: 'client_aborted' });
    }, { logger, journal: (l) => ({ ...logJournal(l), request: async () => inFlight() }) });
  });
});

describe('heads larger than node:http\'s defaults', () => {
  let upstream: UpstreamDouble;
  beforeAll(async () => { upstream = await startUpstreamDouble(); });
  afterAll(async () => { await upstream.close(); });

  it('passes on an answer whose headers exceed 16 KB, and says what went wrong, not retried, past the sidecar\'s limit', async () => {
    await withSidecar({ upstreamUrl: upstream.url }, async (sidecar) => {
      upstream.queue({ headers: { 'content-type': 'application/json', 'x-long': 'a'.repeat(20_000) }, chunks: ['{"data":[]}'] });
      const ok = await rawCall(portOf(sidecar.claudeUrl), 'GET /v1/models HTTP/1.1\r\nhost: x\r\nx-api-key: k\r\n\r\n');
      expect(ok.answer?.status).toBe(200);
      expect(ok.answer?.headers['x-long']).toHaveLength(20_000);
      expect(ok.answer?.body.toString()).toBe('{"data":[]}');

      upstream.queue({ headers: { 'content-type': 'application/json', 'x-long': 'a'.repeat(70_000) }, chunks: ['{"data":[]}'] });
      const over = await rawCall(portOf(sidecar.claudeUrl), 'GET /v1/models HTTP/1.1\r\nhost: x\r\nx-api-key: k\r\n\r\n');
      expect(over.answer?.status).toBe(502);
      expect(over.answer?.headers['x-skillgate-error']).toBe('SG_UPSTREAM_INVALID_RESPONSE');
      expect(over.answer?.headers['x-should-retry']).toBe('false');
      const message = JSON.parse(over.answer!.body.toString()).error.message as string;
      expect(message).toMatch(/answered with response headers over 64 KB/);
      expect(message).not.toMatch(/could not reach/);
    });
  });

  it('refuses request headers over the limit with 431 request_too_large (headers, not the body\'s 413)', async () => {
    await withSidecar({ upstreamUrl: upstream.url, limits: { headerBytes: 8 * 1024 } }, async (sidecar) => {
      const { answer } = await rawCall(portOf(sidecar.claudeUrl), `GET /v1/models HTTP/1.1\r\nhost: x\r\nx-api-key: k\r\nx-big: ${'a'.repeat(10_000)}\r\n\r\n`);
      expect(answer?.status).toBe(431);
      expect(answer?.headers['x-skillgate-error']).toBe('SG_HEADERS_TOO_LARGE');
      expect(JSON.parse(answer!.body.toString()).error.type).toBe('request_too_large');
    });
  });
});

describe('a skill that asks before it sends its body (Expect: 100-continue)', () => {
  let upstream: UpstreamDouble;
  beforeAll(async () => { upstream = await startUpstreamDouble(); });
  afterAll(async () => { await upstream.close(); });
  const head = (path: string, length: number) =>
    `POST ${path} HTTP/1.1\r\nhost: x\r\nx-api-key: k\r\ncontent-type: application/json\r\ncontent-length: ${length}\r\nexpect: 100-continue\r\n\r\n`;

  it('is refused on its head, without "100 Continue", when the body it announces is over the limit, and the connection is closed', async () => {
    await withSidecar({ upstreamUrl: upstream.url }, async (sidecar) => {
      for (const path of ['/v1/messages', '/v1/files']) {
        const socket = net.connect(portOf(sidecar.claudeUrl), '127.0.0.1', () => socket.write(head(path, 1024 ** 3)));
        let bytes = Buffer.alloc(0);
        socket.on('data', (d: Buffer) => { bytes = Buffer.concat([bytes, d]); });
        await new Promise((r) => socket.on('close', r)); // closed by the sidecar: no body is coming
        const answer = parseAnswer(bytes);
        expect({ path, status: answer?.status, connection: answer?.headers.connection, code: answer?.headers['x-skillgate-error'] }).toEqual({ path, status: 413, connection: 'close', code: 'SG_BODY_TOO_LARGE' });
        expect(bytes.toString('latin1')).not.toMatch(/100 Continue/);
      }
    });
  });

  it('is told "100 Continue" once its body is wanted, and answered as any other', async () => {
    await withSidecar({ upstreamUrl: upstream.url }, async (sidecar) => {
      upstream.queue({ headers: { 'content-type': 'application/json' }, chunks: ['{"id":"msg_1"}'] });
      const body = JSON.stringify({ model: 'claude-sonnet-4-6', max_tokens: 8, messages: [{ role: 'user', content: 'hi' }] });
      const socket = net.connect(portOf(sidecar.claudeUrl), '127.0.0.1', () => socket.write(head('/v1/messages', body.length)));
      let bytes = Buffer.alloc(0);
      const answer = await new Promise<RawAnswer | undefined>((resolve) => {
        socket.on('data', (d: Buffer) => {
          bytes = Buffer.concat([bytes, d]);
          if (bytes.toString('latin1') === 'HTTP/1.1 100 Continue\r\n\r\n') return void socket.write(body);
          const final = parseAnswer(bytes.subarray(bytes.indexOf('\r\n\r\n') + 4));
          if (final) resolve(final);
        });
        socket.on('close', () => resolve(undefined));
      });
      socket.destroy();
      expect(bytes.toString('latin1')).toMatch(/^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 /);
      expect(answer?.body.toString()).toBe('{"id":"msg_1"}');
      expect(upstream.received.at(-1)?.body.toString()).toBe(body);
    });
  });
});

describe('batch objects', () => {
  let upstream: UpstreamDouble;
  beforeAll(async () => { upstream = await startUpstreamDouble(); });
  afterAll(async () => { await upstream.close(); });

  const batch = (origin: string): string => JSON.stringify({ id: 'msgbatch_1', type: 'message_batch', processing_status: 'ended', results_url: `${origin}/v1/messages/batches/msgbatch_1/results` });

  it('point results_url at the sidecar\'s Claude endpoint when the batch is fetched through the egress proxy', async () => {
    const claude = await freePort();
    await withSidecar({ upstreamUrl: upstream.url, listen: { ...LISTEN, claude } }, async (sidecar) => {
      // A skill that ignores ANTHROPIC_BASE_URL: plain HTTP to the upstream, handed to the Claude pipeline.
      upstream.queue({ headers: { 'content-type': 'application/json' }, chunks: [batch(upstream.url)] });
      const { answer } = await rawCall(portOf(sidecar.egressUrl), `GET ${upstream.url}/v1/messages/batches/msgbatch_1 HTTP/1.1\r\nhost: ${new URL(upstream.url).host}\r\nx-api-key: k\r\n\r\n`);
      expect(answer?.status).toBe(200);
      expect(JSON.parse(answer!.body.toString()).results_url).toBe(`http://127.0.0.1:${claude}/v1/messages/batches/msgbatch_1/results`);
      // Called on its Claude endpoint, the Host the skill called is kept.
      upstream.queue({ headers: { 'content-type': 'application/json' }, chunks: [batch(upstream.url)] });
      const direct = await rawCall(claude, `GET /v1/messages/batches/msgbatch_1 HTTP/1.1\r\nhost: localhost:${claude}\r\nx-api-key: k\r\n\r\n`);
      expect(JSON.parse(direct.answer!.body.toString()).results_url).toBe(`http://localhost:${claude}/v1/messages/batches/msgbatch_1/results`);
    });
  });

  it('answer HEAD with the upstream\'s head, its content-length included', async () => {
    await withSidecar({ upstreamUrl: upstream.url }, async (sidecar) => {
      upstream.queue({ headers: { 'content-type': 'application/json', 'content-length': '523' } });
      const { answer } = await rawCall(portOf(sidecar.claudeUrl), 'HEAD /v1/messages/batches/msgbatch_1 HTTP/1.1\r\nhost: x\r\nx-api-key: k\r\n\r\n', { bodiless: true });
      expect(answer?.status).toBe(200);
      expect(answer?.headers['content-length']).toBe('523');
      expect(upstream.received.at(-1)?.method).toBe('HEAD');
    });
  });
});

describe('the egress proxy, given requests it cannot parse', () => {
  it('answers, logs, counts and journals each as a denied attempt', async () => {
    const attempts: EgressAttempt[] = [];
    await withSidecar({ upstreamUrl: 'http://127.0.0.1:1', egressAllowHosts: ['allowed.test'] }, async (sidecar) => {
      const egress = portOf(sidecar.egressUrl);
      const cases: Array<[string, number, string, string]> = [
        ['CONNECT evil.test#allowed.test:443 HTTP/1.1\r\nhost: evil.test\r\n\r\n', 400, 'SG_BAD_REQUEST', 'evil.test#allowed.test:443'],
        ['GET http://evil.test\\@allowed.test/ HTTP/1.1\r\nhost: evil.test\r\n\r\n', 400, 'SG_BAD_REQUEST', 'evil.test\\@allowed.test'],
        [`GET http://evil.test/ HTTP/1.1\r\nhost: evil.test\r\nx-h: ${'a'.repeat(70_000)}\r\n\r\n`, 431, 'SG_HEADERS_TOO_LARGE', 'evil.test'],
        ['\x01\x02 nonsense\r\n\r\n', 400, 'SG_BAD_REQUEST', 'unparseable'],
      ];
      for (const [request, status, code, destination] of cases) {
        const { answer } = await rawCall(egress, request);
        expect([destination, answer?.status]).toEqual([destination, status]);
        expect(answer?.headers['x-skillgate-error']).toBe(code);
        const error = JSON.parse(answer!.body.toString());
        expect(error.request_id).toMatch(/^req_/);
        expect(error.error.message).toMatch(new RegExp(`The attempt was recorded. \\[${code}\\]$`));
        expect(attempts.at(-1)).toMatchObject({ destination, allowed: false, requestId: error.request_id });
      }
      const metrics = await (await fetch(`${sidecar.metricsUrl}/metrics`)).text();
      expect(metrics).toContain('skillgate_sidecar_egress_total{decision="denied"} 4');
    }, { journal: (l) => ({ ...logJournal(l), egress: (a) => void attempts.push(a) }) });
  });

  it('takes headers up to the Claude port\'s limit (an allowlisted request with 20 KB of headers goes through)', async () => {
    const target = http.createServer({ maxHeaderSize: 64 * 1024 }, (req, res) => res.end(`target saw ${req.headers['x-h']?.length}`));
    const targetPort = await listening(target);
    try {
      await withSidecar({ upstreamUrl: 'http://127.0.0.1:1', egressAllowHosts: [`localhost:${targetPort}`] }, async (sidecar) => {
        const { answer } = await rawCall(portOf(sidecar.egressUrl), `GET http://localhost:${targetPort}/ HTTP/1.1\r\nhost: localhost:${targetPort}\r\nx-h: ${'a'.repeat(20_000)}\r\nconnection: close\r\n\r\n`);
        expect(answer?.status).toBe(200);
      });
    } finally {
      await closing(target);
    }
  });
});
