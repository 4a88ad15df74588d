// The floor for any Node.js proxy: a dozen-line pass-through on node:http with a keep-alive agent,
// no inspection, no logging. Usage: node bare-proxy.mjs <upstream-url>; prints `READY <url>`.
// node:http is required, not imported: an ES module import of it reads its lazy WebSocket getters
// and loads Node's bundled undici (~12 MB resident) that a proxy never uses (the sidecar does the same).
import { createRequire } from 'node:module';

const http = createRequire(import.meta.url)('node:http');

const upstream = new URL(process.argv[2]);
const agent = new http.Agent({ keepAlive: true, maxFreeSockets: 64, scheduling: 'lifo' });
const server = http.createServer((req, res) => {
  const up = http.request({ hostname: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: { ...req.headers, host: upstream.host }, agent }, (upRes) => {
    res.writeHead(upRes.statusCode, upRes.headers);
    upRes.pipe(res);
  });
  up.on('error', () => res.destroy());
  req.pipe(up);
});
server.keepAliveTimeout = 65_000;
process.on('SIGTERM', () => process.exit(0)); // exit cleanly so --cpu-prof can write its profile
server.listen(0, '127.0.0.1', () => console.log(`READY http://127.0.0.1:${server.address().port}`));
