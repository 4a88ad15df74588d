// Taking over the lock feed needs Redis. A takeover that fails leaves no publisher (and no open
// connection) behind, and the next attempt takes over cleanly: the controller retries it for as
// long as it holds the lease (controller.ts), so a leader is never left without a lock writer. Nor
// does a takeover lift the previous leader's token revocations, which live only in the feed.
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { LockFeedSubscriber, revocationLock } from '@skillgate/identity';
import { LockFeedPublisher } from '@skillgate/identity/lock-feed-publisher';
import { LockReconciler } from '../src/locks/reconciler.js';
import { ControllerMetrics } from '../src/metrics.js';
import { createLogger } from '../src/log.js';
import type { KubeClients } from '../src/kube.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

test('a failed takeover can be tried again, and then publishes the lock set', async () => {
  const prefix = `sgtest:${randomBytes(6).toString('hex')}:`;
  const made: LockFeedPublisher[] = [];
  let redisUrl = 'redis://127.0.0.1:1'; // nothing listens: the first takeover fails
  const locks = new LockReconciler({
    kube: {} as unknown as KubeClients,
    publisher: () => { const p = new LockFeedPublisher({ redisUrl, prefix }); made.push(p); return p; },
    log: createLogger('silent'), metrics: new ControllerMetrics(false),
  });
  await expect(locks.lead()).rejects.toThrow();
  expect(locks.leading).toBe(false);
  // The failed attempt's connection is closed, not left retrying (and erroring) forever.
  let retries = 0;
  (made[0] as unknown as { redis: { on: (e: string, f: () => void) => void } }).redis.on('reconnecting', () => { retries++; });
  await new Promise((r) => setTimeout(r, 600));
  expect(retries).toBe(0);
  redisUrl = REDIS_URL;
  await locks.lead();
  expect(locks.leading).toBe(true);
  expect(made).toHaveLength(2);
  const sub = new LockFeedSubscriber({ redisUrl: REDIS_URL, prefix });
  await sub.start();
  await sub.whenSynced(5000); // the set was published by the second takeover
  await sub.close();
  await locks.stop();
  const admin = new Redis(REDIS_URL);
  const keys = await admin.keys(`${prefix}*`);
  if (keys.length) await admin.del(...keys);
  admin.disconnect();
});

test('a takeover that cannot read the previous snapshot fails (to be retried) rather than lift the previous leader\'s token revocations', async () => {
  const prefix = `sgtest:${randomBytes(6).toString('hex')}:`;
  const admin = new Redis(REDIS_URL);
  // The previous leader published a token revocation (it lives only in the feed) and a lapsed one.
  const previous = new LockFeedPublisher({ redisUrl: REDIS_URL, prefix });
  await previous.start();
  const revoked = revocationLock({ jti: 'jti-revoked', expiresAt: Date.now() + 600_000 }, 'owner offboarded');
  const lapsed = revocationLock({ jti: 'jti-lapsed', expiresAt: Date.now() - 1000 }, 'owner offboarded');
  await previous.reset([revoked, lapsed]);
  await previous.close();
  let readFails = true;
  const redis = { get: async (key: string) => { if (readFails) throw new Error('connection reset'); return admin.get(key); } } as unknown as Redis;
  const locks = new LockReconciler({
    kube: {} as unknown as KubeClients, redis, prefix,
    publisher: () => new LockFeedPublisher({ redisUrl: REDIS_URL, prefix }),
    log: createLogger('silent'), metrics: new ControllerMetrics(false),
  });
  await expect(locks.lead()).rejects.toThrow(/previous leader's lock snapshot.*connection reset/);
  expect(locks.leading).toBe(false);
  const sub = new LockFeedSubscriber({ redisUrl: REDIS_URL, prefix });
  await sub.start();
  await sub.whenSynced(5000);
  expect(sub.locks.get(revoked.name)).toBeDefined(); // still in force: nothing was published over it
  readFails = false;
  await locks.lead();
  expect(locks.leading).toBe(true);
  expect(locks.inForce.get(revoked.name)).toBeDefined();
  expect(locks.inForce.get(lapsed.name)).toBeUndefined();
  expect(await admin.get(`${prefix}locks:snapshot`)).toContain('jti-revoked'); // published again by the new leader
  await sub.close();
  await locks.stop();
  const keys = await admin.keys(`${prefix}*`);
  if (keys.length) await admin.del(...keys);
  admin.disconnect();
});
