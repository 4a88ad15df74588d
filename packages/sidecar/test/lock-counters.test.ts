// The lock counters (wiring.ts countingLocks): each refusal and each cut stream a lock causes in
// this sidecar is counted in Redis (HINCRBY <prefix>locks:stats:<lock>), on the sidecar's one
// policy-state client; the controller copies the counts into the SkillLock's status. Real Redis.
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { RedisConnection } from '@skillgate/resp';
import { countingLocks } from '../src/wiring.js';
import { createLogger } from '../src/log.js';
import { noLocks, type LockHit } from '../src/ports/index.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const log = createLogger('silent');

describe('lock counters', () => {
  const prefix = `sglockcount${randomBytes(4).toString('hex')}:`;
  let redis: Redis;
  let connection: RedisConnection;
  beforeAll(() => { redis = new Redis(REDIS_URL); connection = new RedisConnection(REDIS_URL); });
  afterAll(async () => {
    await connection.quit();
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length) await redis.del(...keys);
    await redis.quit();
  });

  it('counts refusals and cut streams per lock in Redis, and passes matching through', async () => {
    const hit: LockHit = { lockName: 'offboard-carol', reason: 'owner offboarded' };
    const guard = countingLocks({ ...noLocks, match: () => hit }, connection, prefix, log);
    expect(guard.match({ identity: { namespace: 'a', serviceAccount: 's', pod: 'p', skill: 'k', owner: 'o' }, sessionId: '' })).toBe(hit);
    guard.count!(hit, 'requestsRefused');
    guard.count!(hit, 'requestsRefused');
    guard.count!(hit, 'streamsKilled');
    // The counts are sent without waiting (the request path never waits on them): poll briefly.
    const expected = { requestsRefused: '2', streamsKilled: '1' };
    let stats: Record<string, string> = {};
    for (let i = 0; i < 50; i++) {
      stats = await redis.hgetall(`${prefix}locks:stats:offboard-carol`);
      if (stats.requestsRefused === expected.requestsRefused && stats.streamsKilled === expected.streamsKilled) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(stats).toEqual(expected);
  });

  it('is the lock guard unchanged without Redis', () => {
    expect(countingLocks(noLocks, undefined, prefix, log)).toBe(noLocks);
  });
});
