// The upstream request is built while the request event travels to Redis, but not one byte of it
// leaves before Redis has accepted the event. Real sockets: the sidecar records to the real Redis
// through a proxy that holds every Redis reply back for DELAY ms, and the upstream stamps the moment
// the first byte of each request reaches it.
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { resolveConfig, startSidecar } from '../src/index.js';
import { sidecarPorts } from '../src/wiring.js';

const REDIS = new URL(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
const DELAY = 250;

/** A TCP proxy to Redis that delays every reply by `delayMs` (in order). */
function slowRedis(delayMs: number): Promise<{ url: string; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const redis = net.connect(Number(REDIS.port || 6379), REDIS.hostname);
    sockets.add(client).add(redis);
    client.on('data', (d) => redis.write(d));
    redis.on('data', (d) => setTimeout(() => { if (!client.destroyed) client.write(d); }, delayMs));
    const done = () => { client.destroy(); redis.destroy(); };
    client.on('close', done).on('error', done);
    redis.on('close', done).on('error', done);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({
    url: `redis://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise((r) => { for (const s of sockets) s.destroy(); server.close(() => r()); }),
  })));
}

/** An upstream that answers a fixed Messages reply and stamps each request's first byte. */
function stampingUpstream(): Promise<{ url: string; firstBytes: number[]; close(): Promise<void> }> {
  const firstBytes: number[] = [];
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const body = JSON.stringify({ id: 'msg_1', type: 'message', role: 'assistant', model: 'claude-test', content: [{ type: 'text', text: 'hi' }], stop_reason: 'end_turn', stop_sequence: null, usage: { input_tokens: 1, output_tokens: 1 } });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    });
  });
  // Every byte of a request arrives on a connection's socket: stamp the first of each request
  // (a keep-alive connection carries several; they are sequential here).
  server.on('connection', (socket) => {
    let waiting = true;
    socket.on('data', () => { if (waiting) { firstBytes.push(performance.now()); waiting = false; } });
    server.on('request', (req) => { if (req.socket === socket) req.on('end', () => { waiting = true; }); });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    firstBytes,
    close: () => new Promise((r) => { server.closeAllConnections(); server.close(() => r()); }),
  })));
}

/**
 * An upstream that closes a keep-alive connection 50 ms after its last answer without saying so in
 * advance (no Keep-Alive hint), as servers behind load balancers do. Raw HTTP/1.1 over net.
 */
function idleClosingUpstream(): Promise<{ url: string; answered: number; connections: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const state = { answered: 0, connections: 0 };
  const body = JSON.stringify({ id: 'msg_1', type: 'message', role: 'assistant', model: 'claude-test', content: [{ type: 'text', text: 'hi' }], stop_reason: 'end_turn', stop_sequence: null, usage: { input_tokens: 1, output_tokens: 1 } });
  const server = net.createServer((socket) => {
    state.connections++;
    sockets.add(socket);
    let buf = Buffer.alloc(0);
    let idle: NodeJS.Timeout | undefined;
    socket.on('data', (d) => {
      clearTimeout(idle);
      buf = Buffer.concat([buf, d]);
      for (;;) {
        const head = buf.indexOf('\r\n\r\n');
        if (head < 0) return;
        const length = Number(/content-length: *(\d+)/i.exec(buf.subarray(0, head).toString('latin1'))?.[1] ?? 0);
        if (buf.length < head + 4 + length) return;
        buf = buf.subarray(head + 4 + length);
        state.answered++;
        socket.write(`HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
        idle = setTimeout(() => socket.destroy(), 50);
      }
    });
    socket.on('error', () => undefined);
    socket.on('close', () => { clearTimeout(idle); sockets.delete(socket); });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    get answered() { return state.answered; },
    get connections() { return state.connections; },
    close: () => new Promise((r) => { for (const s of sockets) s.destroy(); server.close(() => r()); }),
  })));
}

/** A sidecar recording to Redis through `slowRedis(DELAY)`, in front of `upstream`; `run` gets its URL. */
async function withSlowRecord(upstream: { url: string }, run: (claudeUrl: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'sg-forward-after-record-'));
  const redis = await slowRedis(DELAY);
  const prefix = `sgtest:${randomBytes(4).toString('hex')}:`;
  const config = resolveConfig({
    upstreamUrl: upstream.url, upstreamApiKey: 'k', recordDir: join(dir, 'records'), redisUrl: redis.url,
    listen: { claude: 0, egress: 0, dns: 0, health: 0, metrics: 0, adminHost: '127.0.0.1' }, logLevel: 'silent',
  });
  const sidecar = await startSidecar(config, await sidecarPorts(config, { SKILLGATE_REDIS_PREFIX: prefix, SKILLGATE_RECORD_SPOOL_BYTES: '0' }));
  try {
    await run(sidecar.claudeUrl);
  } finally {
    await sidecar.close();
    await redis.close();
    const r = new Redis(REDIS.href);
    const keys = await r.keys(`${prefix}*`);
    if (keys.length) await r.del(...keys);
    r.disconnect();
    rmSync(dir, { recursive: true, force: true });
  }
}

const ask = (claudeUrl: string, text: string) => fetch(`${claudeUrl}/v1/messages`, {
  method: 'POST', headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
  body: JSON.stringify({ model: 'claude-test', max_tokens: 8, messages: [{ role: 'user', content: text }] }),
});

it(`sends nothing upstream until Redis has the request event (Redis answering ${DELAY} ms late)`, async () => {
  const upstream = await stampingUpstream();
  try {
    await withSlowRecord(upstream, async (claudeUrl) => {
      for (let i = 0; i < 3; i++) {
        const sentAt = performance.now();
        const res = await ask(claudeUrl, `hi ${i}`);
        expect(res.status).toBe(200);
        await res.text();
        expect(upstream.firstBytes).toHaveLength(i + 1);
        // The request event's write and its reply: at least DELAY before the upstream saw anything.
        expect(upstream.firstBytes[i]! - sentAt).toBeGreaterThanOrEqual(DELAY - 5);
      }
    });
  } finally {
    await upstream.close();
  }
});

it('a pooled connection the upstream closes while the request waits for the record is replaced, not a 502', async () => {
  // The upstream drops idle connections 50 ms after an answer; recording takes DELAY (250 ms), so a
  // connection taken from the pool for the next request is gone by the time it may be sent.
  const upstream = await idleClosingUpstream();
  try {
    await withSlowRecord(upstream, async (claudeUrl) => {
      for (let i = 0; i < 3; i++) {
        const res = await ask(claudeUrl, `again ${i}`);
        expect(`${res.status} ${await res.text()}`).toMatch(/^200 /);
        await new Promise((r) => setTimeout(r, 10)); // the connection is back in the pool
      }
      expect(upstream.answered).toBe(3);
      expect(upstream.connections).toBeGreaterThanOrEqual(3); // each pooled one was closed and replaced
    });
  } finally {
    await upstream.close();
  }
});
