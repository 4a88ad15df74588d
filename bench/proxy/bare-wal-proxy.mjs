// The floor for any write-ahead Node.js proxy: the bare proxy (bare-proxy.mjs) that reads each
// request, appends it to a Redis stream (one XADD of method, path, headers and body) and forwards it
// only once Redis has acknowledged it. That round trip is what skillgate's "nothing is forwarded
// unrecorded" costs at the least; this proxy pays it and nothing else (no policy, masking, hash
// chain, session, metrics or logs), so its added latency is the lowest a recording sidecar could
// reach on this machine. It buffers each request body (the record needs it whole), as the sidecar does.
// Usage: node bare-wal-proxy.mjs <upstream-url> <redis-url>; prints `READY <url>`. The stream
// (`bench-wal:<pid>`, capped at ~10,000 entries) is deleted when it exits on SIGTERM.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const http = require('node:http');
const net = require('node:net');

const upstream = new URL(process.argv[2]);
const redisUrl = new URL(process.argv[3]);
const stream = `bench-wal:${process.pid}`;
const agent = new http.Agent({ keepAlive: true, maxFreeSockets: 64, scheduling: 'lifo' });

// One Redis connection, commands pipelined, replies matched in order (XADD answers a bulk string,
// or an error line).
const redis = net.connect(Number(redisUrl.port || 6379), redisUrl.hostname);
redis.setNoDelay(true);
const waiting = [];
let pending = Buffer.alloc(0);
redis.on('data', (chunk) => {
  pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
  for (;;) {
    const eol = pending.indexOf('\r\n');
    if (eol < 0) return;
    let end = eol + 2;
    if (pending[0] === 0x24 /* $ */) {
      end += Number(pending.toString('latin1', 1, eol)) + 2;
      if (pending.length < end) return;
    }
    const failed = pending[0] === 0x2d; /* - */
    waiting.shift()?.(failed ? new Error(pending.toString('latin1', 1, eol)) : undefined);
    pending = pending.subarray(end);
  }
});
redis.on('error', (err) => { console.error(`redis: ${err.message}`); process.exit(1); });
const CRLF = Buffer.from('\r\n');
const bulk = (s) => `$${Buffer.byteLength(s)}\r\n${s}\r\n`;
function xadd(req, body, done) {
  waiting.push(done);
  const head = `*14\r\n${bulk('XADD')}${bulk(stream)}${bulk('MAXLEN')}${bulk('~')}${bulk('10000')}${bulk('*')}${bulk('m')}${bulk(req.method)}${bulk('p')}${bulk(req.url)}${bulk('h')}${bulk(JSON.stringify(req.headers))}${bulk('b')}$${body.length}\r\n`;
  redis.write(Buffer.concat([Buffer.from(head), body, CRLF]));
}

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks);
    xadd(req, body, (err) => {
      if (err) { res.writeHead(503).end(); return; }
      const up = http.request({ hostname: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: { ...req.headers, host: upstream.host }, agent }, (upRes) => {
        res.writeHead(upRes.statusCode, upRes.headers);
        upRes.pipe(res);
      });
      up.on('error', () => res.destroy());
      up.end(body);
    });
  });
});
server.keepAliveTimeout = 65_000;
process.on('SIGTERM', () => {
  waiting.push(() => process.exit(0));
  redis.write(`*2\r\n${bulk('DEL')}${bulk(stream)}`);
  setTimeout(() => process.exit(0), 1000).unref();
});
server.listen(0, '127.0.0.1', () => console.log(`READY http://127.0.0.1:${server.address().port}`));
