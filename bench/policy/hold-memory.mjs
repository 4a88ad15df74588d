// Memory of held requests: N concurrent streaming requests held for approval in one sidecar (the
// policy Guard with an in-process approval broker standing in for the Kubernetes one, so the number
// is the sidecar's own cost, not the API client's). The HTTP client runs in a SEPARATE process
// (forked below, role "client"), so this process holds only the server side of each connection.
// Side by side with a baseline measured in the same run: a bare Node HTTP server that reads each
// body into one Buffer and holds the response open with SSE headers — the least any holding server
// pays. Run with --expose-gc. Prints markdown; writes bench/results/policy-hold-memory.json.
import { fork } from 'node:child_process';
import http from 'node:http';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
const N = Number(process.env.BENCH_HELD ?? 100);
const BODY_KB = Number(process.env.BENCH_BODY_KB ?? 20);
const PINGS_MS = Number(process.env.BENCH_PINGS_MS ?? 3000);
const body = JSON.stringify({ model: 'claude-sonnet-4-5', max_tokens: 10, stream: true, messages: [{ role: 'user', content: 'x'.repeat(BODY_KB * 1024) }] });

/** The client process: opens N requests when told, reports once each has its first byte, drains on release. */
async function client() {
  const agent = new http.Agent({ keepAlive: false, maxSockets: Infinity });
  const send = (url) => new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'POST', agent, headers: { 'content-type': 'application/json', 'x-api-key': 'k', 'content-length': Buffer.byteLength(body) } }, (res) => {
      res.once('data', () => resolve(res));
      res.resume();
    });
    req.once('error', reject);
    req.end(body);
  });
  process.on('message', async (m) => {
    if (m.type === 'hold') {
      const responses = await Promise.all(Array.from({ length: m.n }, () => send(m.url)));
      process.send({ type: 'held' });
      await Promise.all(responses.map((res) => new Promise((r) => (res.complete ? r() : res.once('close', r)))));
      process.send({ type: 'drained' });
    } else if (m.type === 'exit') process.exit(0);
  });
  process.send({ type: 'ready' });
}

function measure() {
  global.gc(); global.gc();
  const m = process.memoryUsage();
  return { heapUsed: m.heapUsed, external: m.external + m.arrayBuffers, rss: m.rss };
}

const tcpHandles = () => process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap' || r === 'TCPWrap').length;

/** Resolves when this process's TCP handles are back to `count` (server sides closed), bounded. */
async function socketsBackTo(count, ms = 5000) {
  const deadline = Date.now() + ms;
  while (tcpHandles() > count && Date.now() < deadline) await new Promise((r) => setImmediate(r));
}

function once(child, type) {
  return new Promise((resolve) => { const on = (m) => { if (m.type === type) { child.off('message', on); resolve(m); } }; child.on('message', on); });
}

/** Holds N requests against `url` from the client process; `release()` lets them finish. */
async function run(label, child, url, release, pingsMs) {
  const handles = tcpHandles();
  const before = measure();
  child.send({ type: 'hold', url, n: N });
  await once(child, 'held');
  const during = measure();
  await new Promise((r) => setTimeout(r, pingsMs)); // keep-alive pings for a while: must not grow
  const later = measure();
  const drained = once(child, 'drained');
  release();
  await drained;
  await socketsBackTo(handles);
  const after = measure();
  return { label, before, during, later, after };
}

async function main() {
  if (!global.gc) throw new Error('run with node --expose-gc');
  const { combine } = await import('@skillgate/policy');
  const { startSidecar, createLogger } = await import('@skillgate/sidecar');
  const { createPolicyGuard } = await import('@skillgate/sidecar/cluster/guard');

  const policy = combine([{ apiVersion: 'skillgate.dev/v1alpha1', kind: 'SkillPolicy', metadata: { name: 'hold', namespace: 'bench', generation: 1 },
    spec: { approval: { rules: [{ name: 'all', when: { models: ['*'] } }] } } }]);
  const held = [];
  const broker = { hold: (req, signal, onCreated) => new Promise((resolve, reject) => {
    onCreated?.({ name: req.requestId.toLowerCase(), namespace: 'bench', expiresAt: new Date(Date.now() + req.timeoutMs).toISOString() });
    held.push(() => resolve({ name: req.requestId, namespace: 'bench', phase: 'Denied', approvedBy: [], deniedBy: ['bench'], reasons: ['bench over'] }));
    signal.addEventListener('abort', () => reject(signal.reason), { once: true });
  }), close() {} };

  const upstream = http.createServer((_req, res) => res.end('{}')).listen(0, '127.0.0.1');
  await new Promise((r) => upstream.once('listening', r));
  const log = createLogger('silent');
  const sidecar = await startSidecar({ upstreamUrl: `http://127.0.0.1:${upstream.address().port}`, upstreamApiKey: 'k', listen: { claude: 0, egress: 0, dns: 0, health: 0, metrics: 0, adminHost: '127.0.0.1' } },
    { logger: log, guard: createPolicyGuard({ policy: () => ({ effective: policy }), approvals: broker, log, keepAliveMs: 1000 }) });

  // Baseline: read the body into one Buffer, answer 200 + SSE headers + a ping every second, end on release.
  const bare = [];
  const baseline = http.createServer((req, res) => {
    let chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const held = { body: Buffer.concat(chunks), res };
      chunks = undefined; // the listeners live as long as the request: do not keep the chunks twice
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      res.write('event: ping\ndata: {"type": "ping"}\n\n');
      held.timer = setInterval(() => res.write('event: ping\ndata: {"type": "ping"}\n\n'), 1000);
      bare.push(held);
    });
  }).listen(0, '127.0.0.1');
  await new Promise((r) => baseline.once('listening', r));

  const child = fork(fileURLToPath(import.meta.url), ['client'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  await once(child, 'ready');
  const releaseBare = () => { for (const h of bare.splice(0)) { clearInterval(h.timer); h.res.end('event: error\ndata: {}\n\n'); } };
  const releaseHeld = () => { for (const r of held.splice(0)) r(); };
  const sidecarUrl = `${sidecar.claudeUrl}/v1/messages`;
  const baselineUrl = `http://127.0.0.1:${baseline.address().port}/v1/messages`;

  // Warm both paths (lazily built objects, JIT, pools) with one uncounted round each.
  await run('warm-baseline', child, baselineUrl, releaseBare, 0);
  await run('warm-sidecar', child, sidecarUrl, releaseHeld, 0);
  const runs = [];
  runs.push(await run('baseline: bare Node server holding the body', child, baselineUrl, releaseBare, PINGS_MS));
  runs.push(await run('sidecar: policy guard holding for approval', child, sidecarUrl, releaseHeld, PINGS_MS));
  child.send({ type: 'exit' });
  await sidecar.close();
  upstream.close();
  baseline.close();

  const bodies = N * Buffer.byteLength(body);
  const total = (m) => m.heapUsed + m.external;
  const kb = (n) => (n / 1024).toFixed(0);
  const perReq = (r) => (total(r.during) - total(r.before) - bodies) / N / 1024;
  console.log(`\n### Holding ${N} concurrent streaming requests (${BODY_KB} KB bodies), client in a separate process\n`);
  console.log(`Request bodies: ${kb(bodies)} KB in total. Heap + external (ArrayBuffers) of the server process after a full GC.\n`);
  console.log('| server | growth while held (KB) | per request beyond its body (KB) | growth over ' + (PINGS_MS / 1000) + ' s of pings (KB) | left after release (KB) | RSS growth while held (KB) |');
  console.log('|---|---:|---:|---:|---:|---:|');
  for (const r of runs) {
    console.log(`| ${r.label} | ${kb(total(r.during) - total(r.before))} | ${perReq(r).toFixed(1)} | ${kb(total(r.later) - total(r.during))} | ${kb(total(r.after) - total(r.before))} | ${kb(r.during.rss - r.before.rss)} |`);
  }
  const [b, s] = runs;
  console.log(`\nWhat holding in the sidecar adds over the bare baseline: ${(perReq(s) - perReq(b)).toFixed(1)} KB per held request.`);
  const out = join(HERE, '..', 'results');
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'policy-hold-memory.json'), JSON.stringify({ at: new Date().toISOString(), node: process.version, n: N, bodyBytes: Buffer.byteLength(body), runs }, null, 2));
}

if (process.argv[2] === 'client') await client();
else await main();
