// Taking over the lock feed needs Redis. A takeover that fails leaves no publisher (and no open
// connection) behind, and the next attempt takes over cleanly: the controller retries it for as
// long as it holds the lease (controller.ts), so a leader is never left without a lock writer.
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { LockFeedSubscriber } from '@skillgate/identity';
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
