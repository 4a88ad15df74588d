// A scripted upstream for the sidecar's own tests: a real HTTP server on a loopback port that
// records what it received and answers with whatever the test queues (exact bytes, in chosen
// chunks, or a connection that dies mid-way). It stands in for Anthropic's servers only where a
// test needs byte-level control; client-level tests use the fake Claude API and real SDKs.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Received {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  rawHeaders: string[];
  body: Buffer;
}

export interface Reply {
  status?: number;
  headers?: Record<string, string>;
  /** Body chunks written one by one (flushed between writes). */
  chunks?: Array<Buffer | string>;
  /** Destroy the socket after writing the chunks instead of ending the response. */
  die?: boolean;
  /** Keep the response open after the chunks until the test calls release(). */
  hold?: boolean;
  /** Count body bytes without keeping them (large uploads). */
  discardBody?: boolean;
  /** Wait this long (ms) after the request before sending the response head. */
  headDelayMs?: number;
}

export interface UpstreamDouble {
  url: string;
  received: Received[];
  queue(reply: Reply): void;
  /** Resolves when the upstream saw its request aborted by the client (the sidecar). */
  nextAbort(): Promise<void>;
  /** End the held responses, writing `tail` first when given. */
  release(tail?: Buffer): void;
  close(): Promise<void>;
}

export async function startUpstreamDouble(): Promise<UpstreamDouble> {
  const replies: Reply[] = [];
  const received: Received[] = [];
  const abortWaiters: Array<() => void> = [];
  const held: http.ServerResponse[] = [];
  const server = http.createServer(async (req, res) => {
    const reply = replies.shift() ?? { status: 200, headers: { 'content-type': 'application/json' }, chunks: ['{"ok":true}'] };
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const c of req as AsyncIterable<Buffer>) {
      size += c.length;
      if (!reply.discardBody) chunks.push(c);
    }
    received.push({ method: req.method!, url: req.url!, headers: req.headers, rawHeaders: req.rawHeaders, body: reply.discardBody ? Buffer.from(String(size)) : Buffer.concat(chunks) });
    res.on('close', () => {
      if (!res.writableFinished) abortWaiters.splice(0).forEach((w) => w());
    });
    if (reply.headDelayMs) await new Promise((r) => setTimeout(r, reply.headDelayMs));
    res.writeHead(reply.status ?? 200, { 'request-id': 'req_upstream123', ...reply.headers });
    res.flushHeaders();
    for (const chunk of reply.chunks ?? []) {
      res.write(chunk);
      await new Promise((r) => setImmediate(r));
    }
    if (reply.die) return void res.socket?.destroy();
    if (reply.hold) return void held.push(res);
    res.end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    queue: (r) => void replies.push(r),
    nextAbort: () => new Promise<void>((r) => abortWaiters.push(r)),
    release: (tail) => held.splice(0).forEach((r) => (tail ? r.end(tail) : r.end())),
    close: () => new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    }),
  };
}

/** Cut a buffer into random pieces (deterministic from the given cut points). */
export function cut(bytes: Buffer, points: number[]): Buffer[] {
  const sorted = [...new Set(points.filter((p) => p > 0 && p < bytes.length))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let prev = 0;
  for (const p of [...sorted, bytes.length]) {
    out.push(bytes.subarray(prev, p));
    prev = p;
  }
  return out;
}

/** An upstream Claude API whose every answer is an endless stream (a ping every 20 ms): for tests that cut live streams. */
export function endlessSse(): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    req.resume();
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write('event: message_start\ndata: {"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","content":[],"model":"claude-test","usage":{"input_tokens":1,"output_tokens":0}}}\n\n');
    const t = setInterval(() => res.write('event: ping\ndata: {"type": "ping"}\n\n'), 20);
    res.on('close', () => clearInterval(t));
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise((r) => { server.closeAllConnections(); server.close(() => r()); }),
  })));
}
