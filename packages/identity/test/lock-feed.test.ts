import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { LockFeedSubscriber, decodeMessage, FeedFormatError, type Lock } from '../src/index.js';
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
    expect(() => decodeMessage('{"op":"put","v":1,"lock":{"name":"x","target":{"kind":"user","value":"a"}}}')).toThrow(/target.kind/);
    expect(decodeMessage('{"op":"remove","v":3,"name":"x"}')).toEqual({ op: 'remove', v: 3, name: 'x' });
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
