// Start-up memory handed back (heap.ts): in a fresh Node process that loads and starts the whole
// sidecar (policy, masking, recording), the young generation is at its maximum after start-up and
// one settleHeap() brings it down to almost nothing; without --expose-gc it does nothing and says so.
// It never loads Node's bundled undici (an ES module import of node:http does: ~12 MB resident),
// even after serving a request, nor TLS for a plain-HTTP upstream without Redis.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const dist = fileURLToPath(new URL('../src/', import.meta.url)); // packages/sidecar/dist/src/

const script = `
import v8 from 'node:v8';
import { createRequire } from 'node:module';
import { resolveConfig, settleHeap, startSidecar } from ${JSON.stringify(join(dist, 'index.js'))};
import { sidecarPorts } from ${JSON.stringify(join(dist, 'wiring.js'))};
const youngMb = () => v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').physical_space_size / 1048576;
const config = resolveConfig({
  upstreamUrl: 'http://127.0.0.1:9', upstreamApiKey: 'k', recordDir: process.env.RECORD_DIR, logLevel: 'silent',
  listen: { claude: 0, egress: 0, health: 0, metrics: 0, adminHost: '127.0.0.1' },
});
const sidecar = await startSidecar(config, await sidecarPorts(config, { SKILLGATE_POLICY_FILE: process.env.POLICY_FILE }));
// One request through the sidecar (the upstream refuses: a 502 answer), with node:http required.
const http = createRequire(import.meta.url)('node:http');
const status = await new Promise((resolve, reject) => {
  const req = http.request(new URL('/v1/messages', sidecar.claudeUrl), { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': 'x' } }, (res) => { res.resume(); res.on('end', () => resolve(res.statusCode)); });
  req.on('error', reject);
  req.end(JSON.stringify({ model: 'claude-sonnet-4-5', max_tokens: 8, messages: [{ role: 'user', content: 'hello' }] }));
});
const loaded = (name) => process.moduleLoadList.some((m) => m.includes(name));
const before = youngMb();
const settled = settleHeap();
const after = youngMb();
await sidecar.close();
console.log(JSON.stringify({ before, after, settled: settled ?? null, status, undici: loaded('undici'), tls: loaded('NativeModule tls') }));
`;

const policy = `apiVersion: skillgate.dev/v1alpha1
kind: SkillPolicy
metadata: { name: heap-test }
spec:
  models: { allow: ["claude-*"] }
  masking: { mode: record }
`;

describe('start-up memory', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'sg-heap-'));
    writeFileSync(join(dir, 'run.mjs'), script);
    writeFileSync(join(dir, 'policy.yaml'), policy);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const run = (flags: string[]) => JSON.parse(execFileSync(process.execPath, [...flags, join(dir, 'run.mjs')], {
    env: { ...process.env, NODE_OPTIONS: '', RECORD_DIR: join(dir, 'records'), POLICY_FILE: join(dir, 'policy.yaml') }, encoding: 'utf8',
  }).trim().split('\n').at(-1)!) as { before: number; after: number; settled: { rssBeforeBytes: number; rssAfterBytes: number } | null; status: number; undici: boolean; tls: boolean };

  it('is handed back once the sidecar has started, when gc is exposed', () => {
    const r = run(['--expose-gc']);
    expect(r.before).toBeGreaterThanOrEqual(4); // loading the sidecar grew the young generation
    expect(r.after).toBeLessThanOrEqual(1);
    expect(r.settled!.rssAfterBytes).toBeLessThan(r.settled!.rssBeforeBytes);
  }, 30_000);

  it('is left alone without --expose-gc (nothing breaks)', () => {
    const r = run([]);
    expect(r.settled).toBeNull();
    expect(r.after).toBe(r.before);
  }, 30_000);

  it('loads neither undici nor, for a plain-HTTP upstream, TLS', () => {
    const r = run(['--expose-gc']);
    expect(r.status).toBe(502); // the request went through the pipeline to the (absent) upstream
    expect(r.undici).toBe(false);
    expect(r.tls).toBe(false);
  }, 30_000);
});
