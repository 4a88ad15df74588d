// Start-up memory handed back (heap.ts): in a fresh Node process that loads and starts the whole
// sidecar (policy, masking, recording), the young generation is at its maximum after start-up and
// one settleHeap() brings it down to almost nothing; without --expose-gc it does nothing and says so.
// It never loads Node's bundled undici (an ES module import of node:http does: ~12 MB resident),
// even after serving a request, nor TLS for a plain-HTTP upstream without Redis, nor the RE2 engine
// for a policy without custom patterns (re2js: loaded on first use).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { settleWhenIdle } from '../src/heap.js';

const dist = fileURLToPath(new URL('../src/', import.meta.url)); // packages/sidecar/dist/src/

const script = `
import v8 from 'node:v8';
import { createRequire } from 'node:module';
import { resolveConfig, settleHeap, settleWhenIdle, startSidecar } from ${JSON.stringify(join(dist, 'index.js'))};
import { sidecarPorts } from ${JSON.stringify(join(dist, 'wiring.js'))};
const youngMb = () => v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').physical_space_size / 1048576;
const config = resolveConfig({
  upstreamUrl: 'http://127.0.0.1:9', upstreamApiKey: 'k', recordDir: process.env.RECORD_DIR, logLevel: 'silent',
  listen: { claude: 0, egress: 0, dns: 0, health: 0, metrics: 0, adminHost: '127.0.0.1' },
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
// A burst of requests, then quiet: the idle hand-back runs once, as the entrypoint wires it.
let idleSettles = 0;
// The quiet time is long against a round of the burst (a few ms) so that a child the machine
// starves for a while mid-burst still does not count as quiet.
const idle = settleWhenIdle(sidecar.context.live, { idleMs: 400, tickMs: 50, onSettled: () => idleSettles++ });
const one = () => new Promise((resolve, reject) => {
  const req = http.request(new URL('/v1/messages', sidecar.claudeUrl), { method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => { res.resume(); res.on('end', resolve); });
  req.on('error', reject);
  req.end(JSON.stringify({ model: 'claude-sonnet-4-5', max_tokens: 8, messages: [{ role: 'user', content: 'x'.repeat(2000) }] }));
});
for (let i = 0; i < 40; i++) await Promise.all([one(), one(), one(), one(), one()]);
const settlesDuringBurst = idleSettles;
await new Promise((r) => setTimeout(r, 1200));
idle.stop();
const burst = { admitted: sidecar.context.live.admitted, settlesDuringBurst, idleSettles, youngQuiet: youngMb() };
await sidecar.close();
const packages = globalThis.resolvedPackages;
console.log(JSON.stringify({ before, after, settled: settled ?? null, status, undici: loaded('undici'), tls: loaded('NativeModule tls'), burst,
  packages: { re2js: packages.has('re2js'), libphonenumber: packages.has('libphonenumber-js/core') } }));
`;

// Loaded with --import before the script: every package specifier resolved in the process, by
// import or require (the sidecar loads some packages on first use through createRequire).
const hooks = `
import { registerHooks } from 'node:module';
globalThis.resolvedPackages = new Set();
registerHooks({
  resolve(specifier, context, next) {
    if (!/^(node:|\\.|\\/|file:)/.test(specifier)) globalThis.resolvedPackages.add(specifier);
    return next(specifier, context);
  },
});
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
    writeFileSync(join(dir, 'hooks.mjs'), hooks);
    writeFileSync(join(dir, 'policy.yaml'), policy);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  type Run = { before: number; after: number; settled: { rssBeforeBytes: number; rssAfterBytes: number } | null; status: number; undici: boolean; tls: boolean;
    burst: { admitted: number; settlesDuringBurst: number; idleSettles: number; youngQuiet: number };
    packages: { re2js: boolean; libphonenumber: boolean } };
  // One child process per set of flags, shared by the tests that read it.
  const runs = new Map<string, Run>();
  const run = (flags: string[]): Run => {
    const key = flags.join(' ');
    if (!runs.has(key)) {
      runs.set(key, JSON.parse(execFileSync(process.execPath, [...flags, '--import', join(dir, 'hooks.mjs'), join(dir, 'run.mjs')], {
        env: { ...process.env, NODE_OPTIONS: '', RECORD_DIR: join(dir, 'records'), POLICY_FILE: join(dir, 'policy.yaml') }, encoding: 'utf8',
      }).trim().split('\n').at(-1)!) as Run);
    }
    return runs.get(key)!;
  };

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

  it('is handed back again once a burst of requests is over and the sidecar is quiet', () => {
    const { burst } = run(['--expose-gc']);
    expect(burst.admitted).toBeGreaterThanOrEqual(201); // every request went through the pipeline
    expect(burst.settlesDuringBurst).toBe(0);
    expect(burst.idleSettles).toBe(1);
    expect(burst.youngQuiet).toBeLessThanOrEqual(1);
  }, 30_000);

  it('loads neither undici nor, for a plain-HTTP upstream, TLS', () => {
    const r = run(['--expose-gc']);
    expect(r.status).toBe(502); // the request went through the pipeline to the (absent) upstream
    expect(r.undici).toBe(false);
    expect(r.tls).toBe(false);
  }, 30_000);

  it('does not load the RE2 engine for a policy without custom patterns', () => {
    const { packages } = run(['--expose-gc']);
    expect(packages.libphonenumber).toBe(true); // the hook sees what masking does load
    expect(packages.re2js).toBe(false);
  }, 30_000);
});

describe('settleWhenIdle', () => {
  // A fake clock and gc: check() is what the timer calls.
  const setup = (idleMs = 1000) => {
    let t = 0;
    const calls: unknown[] = [];
    const activity = { admitted: 0, size: 0 };
    const settled: unknown[] = [];
    const s = settleWhenIdle(activity, { idleMs, gc: (o: unknown) => calls.push(o), now: () => t, tickMs: 60_000, onSettled: (x) => settled.push(x) });
    return { s, activity, calls, settled, advance: (ms: number) => { t += ms; } };
  };

  it('hands memory back once after a burst, when nothing has been in flight for idleMs', () => {
    const { s, activity, calls, settled, advance } = setup();
    expect(s.check()).toBeUndefined(); // nothing served yet: nothing to hand back
    activity.admitted = 5; activity.size = 2;
    s.check();
    advance(5000);
    expect(s.check()).toBeUndefined(); // requests still in flight
    activity.size = 0;
    s.check(); // the burst ended here
    advance(999);
    expect(s.check()).toBeUndefined();
    advance(1);
    expect(s.check()).toMatchObject({ ms: expect.any(Number) });
    expect(calls).toEqual([{ type: 'major', execution: 'sync', flavor: 'last-resort' }]);
    expect(settled).toHaveLength(1);
    advance(60_000);
    expect(s.check()).toBeUndefined(); // once per quiet spell
    activity.admitted = 6; // another request
    s.check();
    advance(1000);
    expect(s.check()).toBeDefined();
    expect(calls).toHaveLength(2);
    s.stop();
  });

  it('does nothing without gc or with idleMs 0', () => {
    const activity = { admitted: 3, size: 0 };
    expect(settleWhenIdle(activity, { idleMs: 1000, gc: undefined, now: () => 1e9 }).check()).toBeUndefined();
    const calls: unknown[] = [];
    const off = settleWhenIdle(activity, { idleMs: 0, gc: (o: unknown) => calls.push(o), now: () => 1e9 });
    activity.admitted = 4;
    off.check();
    expect(off.check()).toBeUndefined();
    expect(calls).toHaveLength(0);
  });
});
