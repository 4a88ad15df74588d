// RedisLockGuard against real Redis and real in-process sidecars: a lock published by the
// controller's LockFeedPublisher cuts the matching live stream with a well-formed `event: error`,
// refuses the next request, and leaves other skills streaming. The upstream is a tiny local SSE
// server (an endless, slow stream), so the cut is provably the lock and not the stream ending.
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { RedisProxy } from '@skillgate/resp/testing';
import type { SkillIdentity } from '@skillgate/api';
import { LockFeedPublisher } from '@skillgate/identity/lock-feed-publisher';
import { revocationLock, revocationLockName } from '@skillgate/identity';
import { startSidecar, type Sidecar } from '../src/index.js';
import { RedisLockGuard, LOCK_FEED_LOST, MIN_FEED_LOSS_MS, redisLockGuardFromEnv } from '../src/cluster/locks.js';
import { endlessSse } from './upstream-double.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';


interface Stream {
  status: number;
  text: () => string;
  ended: Promise<void>;
  firstBytes: Promise<void>;
  close(): void;
}

function openStream(base: string): Promise<Stream> {
  return new Promise((resolve, reject) => {
    const body = JSON.stringify({ model: 'claude-test', max_tokens: 10, stream: true, messages: [{ role: 'user', content: 'hi' }] });
    const req = http.request(`${base}/v1/messages`, { method: 'POST', headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01', 'content-length': Buffer.byteLength(body) } }, (res) => {
      let text = '';
      let gotBytes!: () => void;
      const firstBytes = new Promise<void>((r) => { gotBytes = r; });
      const ended = new Promise<void>((r) => { res.on('end', r); res.on('close', r); });
      res.on('data', (c: Buffer) => { text += c.toString('utf8'); gotBytes(); });
      resolve({ status: res.statusCode ?? 0, text: () => text, ended, firstBytes, close: () => req.destroy() });
    });
    req.on('error', reject);
    req.end(body);
  });
}

function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout;
  return Promise.race([p, new Promise<T>((_, rej) => { t = setTimeout(() => rej(new Error(`timed out: ${what}`)), ms); })]).finally(() => clearTimeout(t));
}

const who = (skill: string, owner: string): Partial<SkillIdentity> => ({ namespace: 'team-a', serviceAccount: 'sa', pod: `${skill}-pod`, skill, owner });

describe('RedisLockGuard with live sidecars', () => {
  const prefix = `sgtest:${randomBytes(6).toString('hex')}:`;
  const admin = new Redis(REDIS_URL);
  let upstream: Awaited<ReturnType<typeof endlessSse>>;
  let pub: LockFeedPublisher;
  const guards: RedisLockGuard[] = [];
  const proxies: RedisProxy[] = [];
  const sidecars: Sidecar[] = [];

  async function sidecarFor(identity: Partial<SkillIdentity>): Promise<Sidecar> {
    const guard = new RedisLockGuard({ redisUrl: REDIS_URL, prefix });
    guards.push(guard);
    await guard.start();
    await guard.whenSynced(5000);
    const s = await startSidecar({
      upstreamUrl: upstream.url, upstreamApiKey: 'sk-test', identity, logLevel: 'silent',
      listen: { host: '127.0.0.1', claude: 0, egress: 0, dns: 0, adminHost: '127.0.0.1', health: 0, metrics: 0 },
      recordDir: `/tmp/sg-locks-test-${process.pid}`,
    }, { locks: guard });
    sidecars.push(s);
    return s;
  }

  beforeAll(async () => {
    upstream = await endlessSse();
    pub = new LockFeedPublisher({ redisUrl: REDIS_URL, prefix });
    await pub.start();
    await pub.reset([]);
  });

  afterAll(async () => {
    for (const s of sidecars) await s.close();
    for (const g of guards) await g.close();
    for (const p of proxies) await p.stop();
    await pub.close();
    await upstream.close();
    const keys = await admin.keys(`${prefix}*`);
    if (keys.length) await admin.del(...keys);
    admin.disconnect();
  });

  test('an owner lock cuts that owner\'s live stream with a permission_error naming the lock, while another owner keeps streaming', async () => {
    const alice = await sidecarFor(who('summarize', 'alice@example.com'));
    const bob = await sidecarFor(who('triage', 'bob@example.com'));
    const a = await openStream(alice.claudeUrl);
    const b = await openStream(bob.claudeUrl);
    expect(a.status).toBe(200);
    await within(Promise.all([a.firstBytes, b.firstBytes]), 5000, 'streams to start');

    await pub.put({ name: 'offboard-alice', target: { kind: 'owner', value: 'alice@example.com' }, reason: 'owner alice@example.com was offboarded' });
    await within(a.ended, 5000, 'alice stream to be cut');
    expect(a.text()).toMatch(/event: error\ndata: .*"permission_error"/);
    expect(a.text()).toContain('offboard-alice');

    const bobBytes = b.text().length;
    await within(new Promise<void>((r) => { const t = setInterval(() => { if (b.text().length > bobBytes + 50) { clearInterval(t); r(); } }, 5); }), 5000, 'bob to keep streaming');
    expect(b.text()).not.toContain('event: error');
    b.close();

    const next = await openStream(alice.claudeUrl);
    await next.ended;
    expect(next.status).toBe(403);
    expect(next.text()).toContain('SG_LOCKED');

    await pub.remove('offboard-alice');
    await within(new Promise<void>((r) => { const t = setInterval(() => { if (!guards[0]!.match({ identity: alice.context.identity.identity(), sessionId: 'x' })) { clearInterval(t); r(); } }, 5); }), 5000, 'unlock to arrive');
    const again = await openStream(alice.claudeUrl);
    expect(again.status).toBe(200);
    again.close();
  });

  test('a responder\'s lock on a token this pod held before its current one binds the pod; the controller\'s revocation of such a token does not', async () => {
    let former: string[] = [];
    const guard = new RedisLockGuard({ redisUrl: REDIS_URL, prefix, formerTokens: () => former });
    guards.push(guard);
    await guard.start();
    await guard.whenSynced(5000);
    const me = { identity: who('ledger', 'dana@example.com') as SkillIdentity, sessionId: 's', tokenId: 'jti-current' };
    await pub.put(revocationLock({ jti: 'jti-revoked', expiresAt: Date.now() + 600_000 }, 'owner reassigned'));
    await pub.put({ name: 'inc-77-token', target: { kind: 'token', value: 'jti-refreshed-away' }, reason: 'INC-77: token seen exfiltrating', createdBy: 'responder@example.com' });
    const arrived = () => guard.feed.locks.get('inc-77-token') !== undefined && guard.feed.locks.get(revocationLockName('jti-revoked')) !== undefined;
    await within(new Promise<void>((r) => { const t = setInterval(() => { if (arrived()) { clearInterval(t); r(); } }, 5); }), 5000, 'the locks to arrive');
    // Neither names the current token, and the pod held neither: nothing matches.
    expect(guard.match(me)).toBeUndefined();
    // The pod had held both before refreshing: the responder's lock binds it, the revocation does not.
    former = ['jti-revoked', 'jti-refreshed-away'];
    expect(guard.match(me)).toEqual({ lockName: 'inc-77-token', reason: 'INC-77: token seen exfiltrating (it locks workload token jti-refreshed-away, which this pod held before its current one)' });
    former = ['jti-revoked'];
    expect(guard.match(me)).toBeUndefined();
    // A responder's lock on a token the controller also revoked: the revocation does not hide it.
    await pub.put({ name: 'inc-78-token', target: { kind: 'token', value: 'jti-revoked' }, reason: 'INC-78', createdBy: 'responder@example.com' });
    await within(new Promise<void>((r) => { const t = setInterval(() => { if (guard.feed.locks.get('inc-78-token')) { clearInterval(t); r(); } }, 5); }), 5000, 'the lock to arrive');
    expect(guard.match(me)?.lockName).toBe('inc-78-token');
    await pub.remove('inc-78-token');
    await pub.remove('inc-77-token');
    await pub.remove(revocationLockName('jti-revoked'));
  });

  test('a lock on one session or skill in another namespace leaves this skill alone', async () => {
    const s = await sidecarFor(who('report', 'carol@example.com'));
    await pub.put({ name: 'other-ns', target: { kind: 'skill', value: 'report', namespace: 'team-b' }, reason: 'elsewhere' });
    await pub.put({ name: 'a-session', target: { kind: 'session', value: 'sess-nobody' }, reason: 'elsewhere' });
    const st = await openStream(s.claudeUrl);
    expect(st.status).toBe(200);
    st.close();
  });

  test('a sidecar that has never received the lock set refuses with 503 rather than guess', async () => {
    const guard = new RedisLockGuard({ redisUrl: REDIS_URL, prefix: `${prefix}empty:` });
    guards.push(guard);
    await guard.start();
    const err = guard.refusal();
    expect(err?.code).toBe(LOCK_FEED_LOST);
    expect(err?.status).toBe(503);
    expect(guard.readiness()).toEqual(['lock feed not synchronised yet']);
  });

  test('a sidecar that loses the feed longer than the bound fails closed, and recovers on reconnect', async () => {
    let now = Date.now();
    // The guard reaches Redis through a proxy the test can cut, as a network partition would (a
    // CLIENT KILL on the shared server could hit another suite's subscriber that started meanwhile).
    const proxy = await new RedisProxy(REDIS_URL).start();
    proxies.push(proxy);
    const guard = new RedisLockGuard({ redisUrl: proxy.url, prefix, maxFeedLossMs: 1000, clock: () => now });
    guards.push(guard);
    await guard.start();
    await guard.whenSynced(5000);
    expect(guard.refusal()).toBeUndefined();
    proxy.cut();
    await within(new Promise<void>((r) => { const t = setInterval(() => { if (guard.feed.state() === 'lost') { clearInterval(t); r(); } }, 1); }), 5000, 'loss to be noticed');
    expect(guard.refusal()).toBeUndefined(); // within the bound: still serving
    now += 5000;
    expect(guard.refusal()?.code).toBe(LOCK_FEED_LOST);
    await within(new Promise<void>((r) => { const t = setInterval(() => { if (guard.feed.state() === 'synced') { clearInterval(t); r(); } }, 5); }), 10_000, 'reconnect');
    expect(guard.refusal()).toBeUndefined();
  });

  test('past the bound, a timer fails it closed and tells the sidecar to cut, once, with no request asking; back in sync, it says so', async () => {
    let now = Date.now();
    const proxy = await new RedisProxy(REDIS_URL).start();
    proxies.push(proxy);
    const events: string[] = [];
    const guard = new RedisLockGuard({ redisUrl: proxy.url, prefix, maxFeedLossMs: 1000, clock: () => now, onEvent: (e) => events.push(e.type) });
    guards.push(guard);
    let told = 0;
    guard.onStandingLost(() => told++);
    await guard.start();
    await guard.whenSynced(5000);
    await proxy.stop(); // Redis unreachable, and stays so
    await within(new Promise<void>((r) => { const t = setInterval(() => { if (guard.feed.state() === 'lost') { clearInterval(t); r(); } }, 1); }), 5000, 'loss to be noticed');
    expect(told).toBe(0); // within the bound
    now += 1001;
    await within(new Promise<void>((r) => { const t = setInterval(() => { if (told > 0) { clearInterval(t); r(); } }, 5); }), 5000, 'the watch to tell');
    expect(events.filter((e) => e.startsWith('feed_'))).toEqual(['feed_lost']);
    expect(guard.refusal()?.code).toBe(LOCK_FEED_LOST);
    await proxy.start();
    await within(new Promise<void>((r) => { const t = setInterval(() => { if (events.includes('feed_restored')) { clearInterval(t); r(); } }, 5); }), 10_000, 'the watch to see the feed back');
    expect(told).toBe(1);
    expect(guard.refusal()).toBeUndefined();
  });

  test('a publisher gone silent fails the sidecar closed after the configured bound, not after a fixed silence on top of it', async () => {
    let now = Date.now();
    const guard = new RedisLockGuard({ redisUrl: REDIS_URL, prefix, maxFeedLossMs: 5000, clock: () => now });
    guards.push(guard);
    await guard.start();
    await guard.whenSynced(5000);
    now += 5000;
    expect(guard.refusal()).toBeUndefined();
    now += 1;
    expect(guard.refusal()?.code).toBe(LOCK_FEED_LOST);
    expect(guard.readiness()).toEqual(['lock feed lost for 5 s']);
  });

  test('a sidecar started while Redis is unreachable comes up refusing (503, not ready) and syncs once Redis is back', async () => {
    const proxy = await new RedisProxy(REDIS_URL).start();
    proxies.push(proxy);
    await proxy.stop(); // the port refuses, as an unreachable Redis does
    const guard = new RedisLockGuard({ redisUrl: proxy.url, prefix });
    guards.push(guard);
    await expect(guard.start()).resolves.toBeUndefined();
    const err = guard.refusal();
    expect([err?.code, err?.status]).toEqual([LOCK_FEED_LOST, 503]);
    expect(err?.message).toMatch(/not yet received the lock set/);
    expect(guard.readiness()).toEqual(['lock feed not synchronised yet']);
    await proxy.start();
    await guard.whenSynced(10_000);
    expect(guard.refusal()).toBeUndefined();
    expect(guard.readiness()).toEqual([]);
  });
});

test('a loss bound under twice the controller\'s heartbeat is refused at start-up, with why', async () => {
  for (const bad of ['0', '1500', 'soon']) {
    expect(() => redisLockGuardFromEnv({ REDIS_URL: REDIS_URL, SKILLGATE_LOCK_FEED_MAX_LOSS_MS: bad })).toThrow(/at least 4000 ms: twice the controller's 2 s heartbeat/);
  }
  const guard = redisLockGuardFromEnv({ REDIS_URL: REDIS_URL, SKILLGATE_LOCK_FEED_MAX_LOSS_MS: String(MIN_FEED_LOSS_MS) });
  expect(guard).toBeInstanceOf(RedisLockGuard);
  await guard!.close();
});
