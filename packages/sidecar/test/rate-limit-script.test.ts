// The shared rate limit runs its Lua script by SHA and still works on a Redis that has never seen
// the script (or forgot it after SCRIPT FLUSH / a restart): NOSCRIPT falls back to EVAL once.
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { redisRateLimiter } from '../src/cluster/guard.js';

it('counts requests by SHA and recovers from a Redis without the script', async () => {
  const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
  const prefix = `test-rl-${randomBytes(4).toString('hex')}:`;
  try {
    await redis.script('FLUSH'); // other suites' scripts recover the same way (NOSCRIPT → load)
    const limiter = redisRateLimiter(redis, { prefix });
    const identity = { namespace: 'ns', serviceAccount: 'sa', pod: 'p', skill: 'rl-skill', owner: 'o@example.com' };
    const limits = { requestsPerMinute: { value: 2, policy: 'ns/p' } };
    expect(await limiter.take(identity, limits, 10)).toBeUndefined();
    expect(await limiter.take(identity, limits, 10)).toBeUndefined();
    const hit = await limiter.take(identity, limits, 10);
    expect(hit).toMatchObject({ kind: 'requests', limit: 2, policy: 'ns/p' });
    expect(hit!.retryAfterSeconds).toBeGreaterThanOrEqual(1);
  } finally {
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length) await redis.del(...keys);
    redis.disconnect();
  }
});
