import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { LockFeedSubscriber, decodeMessage, decodeSnapshot, FeedFormatError, type FeedLog, type Lock } from '../src/index.js';
import { LockFeedPublisher } from '../src/lock-feed-publisher.js';
import { RedisProxy } from '@skillgate/resp/testing';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

function waitFor(cond: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  return new Promise((resolve, reject) => {
    const deadline = Date.now() + timeoutMs;
    const tick = (): void => {
      if (cond()) return resolve();
      if (Date.now() > deadline) return reject(new Error(`timed out waiting for ${what}`));
      setImmediate(tick);
    };
    tick();
  });
}

const lock = (name: string, value: string): Lock => ({ name, target: { kind: 'owner', value }, reason: `r-${name}` });
const subjectOf = (owner: string) => ({ identity: { namespace: 'n', serviceAccount: 'sa', pod: 'p', skill: 's', owner } });

describe('lock feed protocol', () => {
  test('malformed messages are rejected with a reason', () => {
    expect(() => decodeMessage('nope')).toThrow(FeedFormatError);
    expect(() => decodeMessage('{"op":"put","lock":{"name":"x","target":{"kind":"owner","value":"a"}}}')).toThrow(/integer version/);
    expect(decodeMessage('{"op":"remove","v":3,"name":"x"}')).toEqual({ op: 'remove', v: 3, name: 'x' });
  });

  test('a lock this version cannot read is handed back as unreadable, with its version and name, never failing the rest', () => {
    expect(decodeMessage('{"op":"put","v":1,"lock":{"name":"x","target":{"kind":"serviceAccount","value":"a"}}}'))
      .toEqual({ op: 'unreadable', v: 1, lock: { name: 'x', error: expect.stringMatching(/target.kind/) } });
    const snap = decodeSnapshot(JSON.stringify({ v: 7, at: '', locks: [
      { name: 'sa-lock', target: { kind: 'serviceAccount', value: 'n/sa' }, reason: 'newer' },
      lock('offboard-o', 'o@example.com'),
      { target: { kind: 'owner' } },
    ] }));
    expect(snap.v).toBe(7);
    expect(snap.locks).toEqual([lock('offboard-o', 'o@example.com')]);
    expect(snap.unreadable).toEqual([{ name: 'sa-lock', error: expect.stringMatching(/target.kind/) }, { error: expect.stringMatching(/name/) }]);
    expect(() => decodeSnapshot('{"v":7}')).toThrow(FeedFormatError);
  });
});

describe('lock feed over real Redis', () => {
  const prefix = `sgtest:${randomBytes(6).toString('hex')}:`;
  const admin = new Redis(REDIS_URL);
  let pub: LockFeedPublisher;
  let sub: LockFeedSubscriber;

  beforeAll(async () => {
    pub = new LockFeedPublisher({ redisUrl: REDIS_URL, prefix });
    await pub.start();
    await pub.reset([lock('first', 'a@example.com')]);
    sub = new LockFeedSubscriber({ redisUrl: REDIS_URL, prefix });
    await sub.start();
    await sub.whenSynced(5000);
  });

  afterAll(async () => {
    await sub.close();
    await pub.close();
    const keys = await admin.keys(`${prefix}*`);
    if (keys.length) await admin.del(...keys);
    admin.disconnect();
  });

  test('a subscriber starts from the snapshot', () => {
    expect(sub.locks.match(subjectOf('a@example.com'), Date.now())?.lockName).toBe('first');
  });

  test('a published lock reaches the subscriber and fires onChange; removal lifts it', async () => {
    let changes = 0;
    sub.onChange(() => { changes++; });
    await pub.put(lock('second', 'b@example.com'));
    await waitFor(() => sub.locks.match(subjectOf('b@example.com'), Date.now()) !== undefined, 'put to arrive');
    expect(changes).toBeGreaterThan(0);
    await pub.remove('second');
    await waitFor(() => sub.locks.match(subjectOf('b@example.com'), Date.now()) === undefined, 'remove to arrive');
    expect(sub.version).toBe(pub.currentVersion);
  });

  test('a lock whose publication failed once is published by the next put, even one that changes nothing', async () => {
    const redis = (pub as unknown as { redis: { incr: (key: string) => Promise<number> } }).redis;
    const incr = redis.incr.bind(redis);
    redis.incr = () => { redis.incr = incr; return Promise.reject(new Error('Redis failover')); };
    await expect(pub.put(lock('offboarded', 'd@example.com'))).rejects.toThrow(/failover/);
    expect(await pub.put(lock('offboarded', 'd@example.com'))).toBeGreaterThan(0); // the retry is not "nothing changed"
    await waitFor(() => sub.locks.match(subjectOf('d@example.com'), Date.now()) !== undefined, 'the lock to arrive');
    await pub.remove('offboarded');
  });

  test('a failed publication is retried by the heartbeat', async () => {
    const redis = (pub as unknown as { redis: { incr: (key: string) => Promise<number> } }).redis;
    const incr = redis.incr.bind(redis);
    redis.incr = () => { redis.incr = incr; return Promise.reject(new Error('Redis failover')); };
    await expect(pub.put(lock('beat', 'e@example.com'))).rejects.toThrow(/failover/);
    await pub.heartbeat();
    await waitFor(() => sub.locks.match(subjectOf('e@example.com'), Date.now()) !== undefined, 'the lock to arrive');
    await pub.remove('beat');
  });

  test('a publisher gone silent counts as the feed being lost, and its next heartbeat ends that', async () => {
    const watcher = new LockFeedSubscriber({ redisUrl: REDIS_URL, prefix, maxSilenceMs: 200 });
    await watcher.start();
    await watcher.whenSynced(5000);
    expect(watcher.lostForMs()).toBe(0);
    await new Promise((r) => setTimeout(r, 450)); // no heartbeat meanwhile
    expect(watcher.lostForMs()).toBeGreaterThan(100);
    await pub.heartbeat();
    await waitFor(() => watcher.lostForMs() === 0, 'the heartbeat to arrive');
    await watcher.close();
  });

  test('a subscriber that reconnects after changes resyncs the whole set', async () => {
    const before = sub.version;
    await sub.close();
    await pub.put(lock('third', 'c@example.com'));
    const resub = new LockFeedSubscriber({ redisUrl: REDIS_URL, prefix });
    await resub.start();
    await resub.whenSynced(5000);
    expect(resub.version).toBeGreaterThan(before);
    expect(resub.locks.match(subjectOf('c@example.com'), Date.now())?.lockName).toBe('third');
    sub = resub;
  });

  test('after the snapshot vanishes, the publisher republishes on its heartbeat', async () => {
    await admin.del(`${prefix}locks:snapshot`);
    await pub.heartbeat();
    expect(await admin.exists(`${prefix}locks:snapshot`)).toBe(1);
    await waitFor(() => sub.version === pub.currentVersion, 'subscriber to follow the reset');
    expect(sub.locks.match(subjectOf('a@example.com'), Date.now())?.lockName).toBe('first');
  });

  test('a gap in versions is filled from the replay stream', async () => {
    // Drop the subscriber's view back by one version and let a heartbeat reveal the gap.
    const v = sub.version;
    await pub.put(lock('fourth', 'd@example.com'));
    await waitFor(() => sub.version === v + 1, 'put');
    (sub as unknown as { version: number }).version = v; // simulate a lost pub/sub message
    sub.locks.remove('fourth');
    await pub.heartbeat();
    await waitFor(() => sub.locks.match(subjectOf('d@example.com'), Date.now()) !== undefined, 'replay');
    expect(sub.version).toBe(v + 1);
  });
});

describe('lock feed over a connection that drops', () => {
  test('after a reconnect it subscribes again; closing while that SUBSCRIBE is unanswered rejects nothing unhandled', async () => {
    const prefix = `sgtest:${randomBytes(6).toString('hex')}:`;
    const admin = new Redis(REDIS_URL);
    const pub = new LockFeedPublisher({ redisUrl: REDIS_URL, prefix });
    const proxy = await new RedisProxy(REDIS_URL).start();
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => { unhandled.push(reason); };
    process.on('unhandledRejection', onUnhandled);
    try {
      await pub.start();
      await pub.reset([]);
      const sub = new LockFeedSubscriber({ redisUrl: proxy.url, prefix });
      await sub.start();
      await sub.whenSynced(5000);

      // A blip: the subscriber reconnects, subscribes again and hears what is published next.
      proxy.cut();
      await waitFor(() => sub.state() === 'lost', 'the loss to be noticed');
      await waitFor(() => sub.state() === 'synced', 'the reconnect');
      await pub.put(lock('after-blip', 'c@example.com'));
      await waitFor(() => sub.locks.match(subjectOf('c@example.com'), Date.now()) !== undefined, 'a lock published after the reconnect');

      // Another blip, and this time the SUBSCRIBE after it never gets an answer; then shut down.
      proxy.swallowSubscribe = true;
      proxy.cut();
      await waitFor(() => proxy.swallowed > 0, 'the resubscribe to be sent');
      await sub.close();
      await new Promise((r) => setTimeout(r, 200));
      expect(unhandled.map(String)).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
      await pub.close();
      await proxy.stop();
      const keys = await admin.keys(`${prefix}*`);
      if (keys.length) await admin.del(...keys);
      admin.disconnect();
    }
  });
});

describe('a lock feed this subscriber cannot fully read or keep up with', () => {
  const base = `sgtest:${randomBytes(6).toString('hex')}:`;
  const admin = new Redis(REDIS_URL);
  const subs: LockFeedSubscriber[] = [];
  const proxies: RedisProxy[] = [];
  let n = 0;
  /** A lock of a target kind a newer controller might add. */
  const future = (name: string) => ({ name, target: { kind: 'serviceAccount', value: 'n/sa' }, reason: 'a kind this version does not know' });

  /**
   * A feed of its own, written raw as the controller commits a change (snapshot, stream entry and
   * message in one transaction), so that what this version cannot read can be published.
   */
  function rawFeed() {
    const prefix = `${base}${n++}:`;
    const keys = { channel: `${prefix}locks:events`, stream: `${prefix}locks:stream`, snapshot: `${prefix}locks:snapshot` };
    return {
      prefix,
      keys,
      async commit(v: number, m: Record<string, unknown>, locks: unknown[], publish = true): Promise<void> {
        const msg = JSON.stringify({ ...m, v });
        const tx = admin.multi().set(keys.snapshot, JSON.stringify({ v, locks, at: '' })).xadd(keys.stream, `${v}-0`, 'm', msg);
        await (publish ? tx.publish(keys.channel, msg) : tx).exec();
      },
      heartbeat: (v: number) => admin.publish(keys.channel, JSON.stringify({ op: 'heartbeat', v })),
    };
  }
  const track = (sub: LockFeedSubscriber): LockFeedSubscriber => { subs.push(sub); return sub; };
  /**
   * A raw feed at version 1 (a reset, no locks) and a subscriber synced to it on a clock the test
   * moves (`clock.now`); `redisUrl` another way to Redis (a proxy to cut), `maxSilenceMs` its bound.
   */
  async function syncedSubscriber(opts: { redisUrl?: string; maxSilenceMs?: number } = {}) {
    const feed = rawFeed();
    const clock = { now: 1_000_000 };
    await feed.commit(1, { op: 'reset' }, []);
    const sub = track(new LockFeedSubscriber({ redisUrl: opts.redisUrl ?? REDIS_URL, prefix: feed.prefix, clock: () => clock.now, ...(opts.maxSilenceMs ? { maxSilenceMs: opts.maxSilenceMs } : {}) }));
    await sub.start();
    await sub.whenSynced(5000);
    return { feed, sub, clock };
  }

  afterAll(async () => {
    for (const s of subs) await s.close();
    for (const p of proxies) await p.stop();
    const keys = await admin.keys(`${base}*`);
    if (keys.length) await admin.del(...keys);
    admin.disconnect();
  });

  test('a lock it cannot read is skipped, counted and logged once, and every other lock applies: from the snapshot, pushed, and replayed', async () => {
    const feed = rawFeed();
    await feed.commit(1, { op: 'reset' }, [future('sa-lock'), lock('offboard-a', 'a@example.com')]);
    const logged: Array<{ level: string; fields?: Record<string, unknown> }> = [];
    const log: FeedLog = (level, _msg, fields) => void logged.push({ level, ...(fields ? { fields } : {}) });
    const sub = track(new LockFeedSubscriber({ redisUrl: REDIS_URL, prefix: feed.prefix, log }));
    await sub.start();
    await sub.whenSynced(5000);
    expect(sub.locks.match(subjectOf('a@example.com'), Date.now())?.lockName).toBe('offboard-a');

    // Pushed: a put it cannot read, then one it can.
    await feed.commit(2, { op: 'put', lock: future('sa-lock-2') }, []);
    await feed.commit(3, { op: 'put', lock: lock('offboard-b', 'b@example.com') }, []);
    await waitFor(() => sub.version === 3, 'the pushed changes');
    expect(sub.locks.match(subjectOf('b@example.com'), Date.now())?.lockName).toBe('offboard-b');

    // Replayed: two changes whose messages never came, found in the stream when a heartbeat shows the gap.
    await feed.commit(4, { op: 'put', lock: future('sa-lock-3') }, [], false);
    await feed.commit(5, { op: 'put', lock: lock('offboard-c', 'c@example.com') }, [], false);
    await feed.heartbeat(5);
    await waitFor(() => sub.version === 5, 'the replay');
    expect(sub.locks.match(subjectOf('c@example.com'), Date.now())?.lockName).toBe('offboard-c');
    expect([...sub.unreadable.keys()].sort()).toEqual(['sa-lock', 'sa-lock-2', 'sa-lock-3']);

    // A resync reads the first again: counted again, logged once all the same.
    await feed.commit(6, { op: 'reset' }, [future('sa-lock'), lock('offboard-a', 'a@example.com')]);
    await waitFor(() => sub.version === 6, 'the resync');
    expect([...sub.unreadable.keys()]).toEqual(['sa-lock']);
    expect(sub.skippedLocks).toBe(4);
    expect(logged.filter((l) => l.level === 'error').map((l) => l.fields?.lock)).toEqual(['sa-lock', 'sa-lock-2', 'sa-lock-3']);
    expect(sub.lostForMs()).toBe(0);
  });

  test('a sync that fails counts as the feed being lost until a retry succeeds', async () => {
    const { feed, sub, clock } = await syncedSubscriber();
    expect(sub.lostForMs()).toBe(0);

    // The snapshot a reset points at cannot be read at all; the publisher keeps heartbeating.
    const reset = JSON.stringify({ op: 'reset', v: 2 });
    await admin.multi().set(feed.keys.snapshot, 'not json').xadd(feed.keys.stream, '2-0', 'm', reset).publish(feed.keys.channel, reset).exec();
    await waitFor(() => sub.state() === 'lost', 'the failed sync to count as loss');
    clock.now += 10_000;
    await feed.heartbeat(2);
    await waitFor(() => sub.lastMessageAgeMs === 0, 'the heartbeat');
    expect(sub.lostForMs()).toBeGreaterThanOrEqual(10_000);

    // Readable again: the next heartbeat retries, and the loss is over.
    await admin.set(feed.keys.snapshot, JSON.stringify({ v: 2, locks: [lock('offboard-a', 'a@example.com')], at: '' }));
    await feed.heartbeat(2);
    await waitFor(() => sub.version === 2 && sub.state() === 'synced', 'the retry');
    expect(sub.lostForMs()).toBe(0);
    expect(sub.locks.match(subjectOf('a@example.com'), clock.now)?.lockName).toBe('offboard-a');
  });

  test('a version gap it cannot fill counts as the feed being lost from when it showed, until it is filled', async () => {
    const { feed, sub, clock } = await syncedSubscriber();

    // A heartbeat announces version 4, which neither the stream nor the snapshot holds.
    await feed.heartbeat(4);
    await waitFor(() => sub.state() === 'lost', 'the gap to count as loss');
    clock.now += 10_000;
    await feed.heartbeat(4);
    await waitFor(() => sub.lastMessageAgeMs === 0, 'the next heartbeat');
    expect(sub.version).toBe(1);
    expect(sub.lostForMs()).toBeGreaterThanOrEqual(10_000);

    await feed.commit(4, { op: 'put', lock: lock('offboard-a', 'a@example.com') }, [lock('offboard-a', 'a@example.com')]);
    await waitFor(() => sub.version === 4 && sub.state() === 'synced', 'the gap to be filled');
    expect(sub.lostForMs()).toBe(0);
  });

  test('silence counts from the publisher\'s last message, and the resync after an outage counts it afresh', async () => {
    const proxy = await new RedisProxy(REDIS_URL).start();
    proxies.push(proxy);
    const { sub, clock } = await syncedSubscriber({ redisUrl: proxy.url, maxSilenceMs: 5000 });
    clock.now += 4999;
    expect(sub.lostForMs()).toBe(0);
    clock.now += 2;
    expect(sub.lostForMs()).toBe(5001); // the whole silence, not what exceeds the bound

    await proxy.stop();
    await waitFor(() => sub.state() === 'lost', 'the outage to be noticed');
    clock.now += 60_000;
    expect(sub.lostForMs()).toBeGreaterThanOrEqual(60_000);
    await proxy.start();
    await waitFor(() => sub.state() === 'synced', 'the reconnect and resync', 10_000);
    expect(sub.lostForMs()).toBe(0);
  });

  test('a subscriber started while Redis is unreachable does not reject: it counts as lost, and syncs on the first connection that works', async () => {
    const feed = rawFeed();
    await feed.commit(1, { op: 'reset' }, [lock('offboard-a', 'a@example.com')]);
    const proxy = await new RedisProxy(REDIS_URL).start();
    proxies.push(proxy);
    await proxy.stop(); // the port refuses
    const sub = track(new LockFeedSubscriber({ redisUrl: proxy.url, prefix: feed.prefix }));
    await expect(sub.start()).resolves.toBeUndefined();
    expect(sub.state()).toBe('connecting');
    expect(sub.lostForMs()).toBeGreaterThanOrEqual(0);
    await proxy.start();
    await sub.whenSynced(10_000);
    expect(sub.locks.match(subjectOf('a@example.com'), Date.now())?.lockName).toBe('offboard-a');
    expect(sub.state()).toBe('synced');
  });
});
