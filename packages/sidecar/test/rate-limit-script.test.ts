// The shared rate limit runs its Lua script by SHA and still works on a Redis that has never seen
// the script (or forgot it after SCRIPT FLUSH / a restart): NOSCRIPT falls back to EVAL once.
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { RedisConnection } from '@skillgate/resp';
import fc from 'fast-check';
import { redisRateLimiter } from '../src/cluster/guard.js';
import { slidingWindowWaitMs } from '../src/rate-limit.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A connection (the sidecar's client), counting the script calls (EVALSHA/EVAL) made through it. */
function countingScripts(): { client: RedisConnection; calls: () => number } {
  let calls = 0;
  const client = new RedisConnection(REDIS_URL);
  const command = client.command.bind(client);
  client.command = (args) => {
    if (args[0] === 'EVALSHA' || args[0] === 'EVAL') calls++;
    return command(args);
  };
  return { client, calls: () => calls };
}

/**
 * The sidecar's connection, an ioredis client to look at what it wrote, and a key prefix of the
 * test's own; its keys are deleted afterwards.
 */
async function withRedis(test: (admin: Redis, prefix: string, counted: ReturnType<typeof countingScripts>) => Promise<void>): Promise<void> {
  const redis = new Redis(REDIS_URL);
  const counted = countingScripts();
  const prefix = `test-rl-${randomBytes(4).toString('hex')}:`;
  try {
    await test(redis, prefix, counted);
  } finally {
    counted.client.close();
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length) await redis.del(...keys);
    redis.disconnect();
  }
}

it('counts requests by SHA and recovers from a Redis without the script', () => withRedis(async (redis, prefix, { client }) => {
  await redis.script('FLUSH'); // other suites' scripts recover the same way (NOSCRIPT → load)
  const limiter = redisRateLimiter(client, { prefix });
  const identity = { namespace: 'ns', serviceAccount: 'sa', pod: 'p', skill: 'rl-skill', owner: 'o@example.com' };
  const limits = { requestsPerMinute: { value: 2, policy: 'ns/p' } };
  expect(await limiter.take(identity, limits, 10)).toBeUndefined();
  expect(await limiter.take(identity, limits, 10)).toBeUndefined();
  const hit = await limiter.take(identity, limits, 10);
  expect(hit).toMatchObject({ kind: 'requests', limit: 2, policy: 'ns/p' });
  expect(hit!.retryAfterSeconds).toBeGreaterThanOrEqual(1);
}));

it('decides concurrent takes in order, exactly, in fewer round trips than takes', () => withRedis(async (redis, prefix, { client: counted, calls: scriptCalls }) => {
  const midMinute = 90_000; // a fixed time: a burst on the real clock could straddle two minutes' counts
  const limiter = redisRateLimiter(counted, { prefix, now: () => midMinute });
  const identity = { namespace: 'ns', serviceAccount: 'sa', pod: 'p', skill: 'burst', owner: 'o@example.com' };
  const limits = { requestsPerMinute: { value: 25, policy: 'ns/p' }, tokensPerMinute: { value: 10_000, policy: 'ns/t' } };
  const results = await Promise.all(Array.from({ length: 40 }, () => limiter.take(identity, limits, 100)));
  const admitted = results.filter((r) => r === undefined).length;
  expect(admitted).toBe(25);
  // Order is kept: the first 25 takes are the admitted ones.
  expect(results.slice(0, 25).every((r) => r === undefined)).toBe(true);
  expect(results.slice(25).every((r) => r?.kind === 'requests' && r.retryAfterSeconds >= 1)).toBe(true);
  expect(scriptCalls()).toBeLessThan(40);
  const keys = await redis.keys(`${prefix}rl:*`);
  const counts = Object.fromEntries(await Promise.all(keys.map(async (k) => [k.includes(':r:') ? 'requests' : 'tokens', Number(await redis.get(k))])));
  // Every admitted request is counted; tokens include what is left of a lease (at most 1/20).
  expect(counts.requests).toBe(25);
  expect(counts.tokens).toBeGreaterThanOrEqual(2500);
  expect(counts.tokens).toBeLessThanOrEqual(2500 + 10_000 / 20);
  // A take that alone exceeds the token limit is refused as oversize, and counts nothing.
  const big = await limiter.take(identity, { tokensPerMinute: { value: 1000, policy: 'ns/t' } }, 5000);
  expect(big?.oversize?.tokens).toBe(5000);
}));

it('spends a lease of 1/20 of the limit locally, and lets it lapse with its minute', () => withRedis(async (redis, prefix, { client: counted, calls: scriptCalls }) => {
  let t = 600_000; // the start of a minute
  const limiter = redisRateLimiter(counted, { prefix, now: () => t });
  const identity = { namespace: 'ns', serviceAccount: 'sa', pod: 'p', skill: 'lease', owner: 'o@example.com' };
  const limits = { requestsPerMinute: { value: 100, policy: 'ns/p' } };
  const first = limiter.take(identity, limits, 10);
  expect(first).toBeInstanceOf(Promise); // nothing leased yet: Redis decides
  expect(await first).toBeUndefined();
  // The lease answers at once, without a promise (the guard then has nothing to wait for).
  for (let i = 1; i < 6; i++) expect(limiter.take(identity, limits, 10)).toBeUndefined();
  expect(scriptCalls()).toBe(1); // one call admitted the first and leased 5 more
  expect(Number(await redis.get(`${prefix}rl:{ns/lease}:r:10`))).toBe(6);
  expect(await limiter.take(identity, limits, 10)).toBeUndefined();
  expect(scriptCalls()).toBe(2);
  t += 60_000; // the next minute: what is left of the lease lapses
  expect(await limiter.take(identity, limits, 10)).toBeUndefined();
  expect(scriptCalls()).toBe(3);
  // Another replica sharing the count is refused once the limit (leases included) is reached.
  const otherConnection = new RedisConnection(REDIS_URL);
  const other = redisRateLimiter(otherConnection, { prefix, now: () => t });
  let admitted = 0;
  while ((await other.take(identity, limits, 10)) === undefined) admitted++;
  otherConnection.close();
  expect(admitted).toBeGreaterThanOrEqual(100 - 12 - 6 - 5); // the previous minute still weighs in
  // Under 20 per minute nothing is leased: every take asks Redis.
  const before = scriptCalls();
  const small = { requestsPerMinute: { value: 10, policy: 'ns/small' } };
  const smallId = { ...identity, skill: 'small' };
  for (let i = 0; i < 3; i++) await limiter.take(smallId, small, 10);
  expect(scriptCalls() - before).toBe(3);
}));

it('a client retrying at the advertised retry-after is admitted when this minute alone is full (not refused again with 30 s)', () => withRedis(async (_redis, prefix, { client }) => {
  let t = 6_000_000 + 59_000; // 59 s into a minute
  const limiter = redisRateLimiter(client, { prefix, now: () => t });
  const identity = { namespace: 'ns', serviceAccount: 'sa', pod: 'p', skill: 'full-minute', owner: 'o@example.com' };
  const limits = { requestsPerMinute: { value: 2, policy: 'ns/p' } };
  expect(await limiter.take(identity, limits, 1)).toBeUndefined();
  expect(await limiter.take(identity, limits, 1)).toBeUndefined();
  const hit = await limiter.take(identity, limits, 1);
  // The two requests of this minute still weigh 2 × (1 - f) in the next: room for one at f = 1/2.
  expect(hit).toMatchObject({ kind: 'requests', retryAfterSeconds: 1 + 30 });
  t += (hit!.retryAfterSeconds - 1) * 1000;
  expect(await limiter.take(identity, limits, 1)).toMatchObject({ kind: 'requests', retryAfterSeconds: 1 });
  t += 1000;
  expect(await limiter.take(identity, limits, 1)).toBeUndefined();
}));

it('retry-after is the first whole second at which the take is admitted, for requests and tokens, as slidingWindowWaitMs reckons it', async () => {
  const redis = new Redis(REDIS_URL);
  const client = new RedisConnection(REDIS_URL);
  const prefix = `test-rl-${randomBytes(4).toString('hex')}:`;
  const win = 60_000;
  let run = 0;
  try {
    await fc.assert(fc.asyncProperty(
      fc.record({ limit: fc.integer({ min: 1, max: 40 }), previous: fc.integer({ min: 0, max: 40 }), off: fc.integer({ min: 0, max: win - 1 }), tokens: fc.boolean(), cost: fc.integer({ min: 1, max: 7 }) }),
      async ({ limit, previous, off, tokens, cost }) => {
        const skill = `prop-${run++}`;
        const identity = { namespace: 'ns', serviceAccount: 'sa', pod: 'p', skill, owner: 'o@example.com' };
        const need = tokens ? Math.min(cost, limit) : 1;
        const limits = tokens ? { tokensPerMinute: { value: limit, policy: 'ns/t' } } : { requestsPerMinute: { value: limit, policy: 'ns/r' } };
        let t = 1000 * win + 5_000; // the previous minute
        // No lease: each take is the script's own decision.
        const limiter = redisRateLimiter(client, { prefix, now: () => t, leaseDivisor: Number.MAX_SAFE_INTEGER });
        let prev = 0;
        for (let i = 0; i < previous; i++) if ((await limiter.take(identity, limits, need)) === undefined) prev += need;
        t = 1001 * win + off;
        let cur = 0;
        let hit;
        while ((hit = await limiter.take(identity, limits, need)) === undefined) cur += need;
        expect(hit.retryAfterSeconds).toBe(Math.max(1, Math.ceil(slidingWindowWaitMs(cur, prev, limit, need, off, win) / 1000)));
        const at = t;
        if (hit.retryAfterSeconds > 1) {
          t = at + (hit.retryAfterSeconds - 1) * 1000;
          expect(await limiter.take(identity, limits, need)).toBeDefined();
        }
        t = at + hit.retryAfterSeconds * 1000;
        expect(await limiter.take(identity, limits, need)).toBeUndefined();
      }), { numRuns: 60 });
  } finally {
    client.close();
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length) await redis.del(...keys);
    redis.disconnect();
  }
});
