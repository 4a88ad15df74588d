// Memory of held requests: 100 concurrent streaming requests held for approval in one sidecar
// (the policy Guard with an in-process approval broker standing in for the Kubernetes one, so the
// number is the sidecar's own cost, not the API client's), compared with the bodies' own size.
// Run with --expose-gc. Prints a markdown table; writes bench/results/policy-hold-memory.json.
import http from 'node:http';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { combine } from '@skillgate/policy';
import { startSidecar, createLogger } from '@skillgate/sidecar';
import { createPolicyGuard } from '@skillgate/sidecar/cluster/guard';

const HERE = dirname(fileURLToPath(import.meta.url));
const N = Number(process.env.BENCH_HELD ?? 100);
const BODY_KB = Number(process.env.BENCH_BODY_KB ?? 20);
if (!global.gc) throw new Error('run with node --expose-gc');

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
const sidecar = await startSidecar({ upstreamUrl: `http://127.0.0.1:${upstream.address().port}`, upstreamApiKey: 'k', listen: { claude: 0, egress: 0, health: 0, metrics: 0, adminHost: '127.0.0.1' } },
  { logger: log, guard: createPolicyGuard({ policy: () => ({ effective: policy }), approvals: broker, log, keepAliveMs: 1000 }) });
const url = new URL(sidecar.claudeUrl);
const body = JSON.stringify({ model: 'claude-sonnet-4-5', max_tokens: 10, stream: true, messages: [{ role: 'user', content: 'x'.repeat(BODY_KB * 1024) }] });

function measure() {
  global.gc(); global.gc();
  const m = process.memoryUsage();
  return { heapUsed: m.heapUsed, external: m.external + m.arrayBuffers, rss: m.rss };
}
// Warm up one held request so code paths and lazily built objects are not counted.
const agent = new http.Agent({ keepAlive: false, maxSockets: Infinity });
function send() {
  return new Promise((resolve) => {
    const req = http.request({ host: url.hostname, port: url.port, path: '/v1/messages', method: 'POST', agent, headers: { 'content-type': 'application/json', 'x-api-key': 'k', 'content-length': Buffer.byteLength(body) } }, (res) => {
      res.once('data', () => resolve(res));
      res.resume();
    });
    req.end(body);
  });
}
const warm = await send(); held.shift()(); await new Promise((r) => warm.on('end', r));
const before = measure();
const responses = await Promise.all(Array.from({ length: N }, send)); // resolves after the first ping of each
const during = measure();
await new Promise((r) => setTimeout(r, 3000)); // three keep-alive pings later: must not grow
const later = measure();
for (const release of held.splice(0)) release();
await Promise.all(responses.map((res) => new Promise((r) => (res.complete ? r() : res.on('end', r)))));
const after = measure();
await sidecar.close();
upstream.close();

const bodies = N * Buffer.byteLength(body);
const kb = (n) => (n / 1024).toFixed(0);
const rows = [
  ['held requests', N],
  ['request bodies (total KB)', kb(bodies)],
  ['heap+external growth while held (KB)', kb(during.heapUsed + during.external - before.heapUsed - before.external)],
  ['... per held request beyond its body (KB)', ((during.heapUsed + during.external - before.heapUsed - before.external - bodies) / N / 1024).toFixed(1)],
  ['growth over 3 s of keep-alive pings (KB)', kb(later.heapUsed + later.external - during.heapUsed - during.external)],
  ['left after release (KB)', kb(after.heapUsed + after.external - before.heapUsed - before.external)],
];
console.log(`\n### Holding ${N} concurrent streaming requests (${BODY_KB} KB bodies)\n`);
console.log('| measure | value |\n|---|---:|');
for (const [k, v] of rows) console.log(`| ${k} | ${v} |`);
const out = join(HERE, '..', 'results');
mkdirSync(out, { recursive: true });
writeFileSync(join(out, 'policy-hold-memory.json'), JSON.stringify({ at: new Date().toISOString(), node: process.version, n: N, bodyBytes: Buffer.byteLength(body), before, during, later, after }, null, 2));
