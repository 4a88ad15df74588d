// A policy's rate limits in a sidecar without Redis (local mode: `skillgate dev`, `skillgate sidecar`
// with no REDIS_URL): counted in the sidecar's memory and answered with the same 429s as the shared
// Redis limiter. Real sockets and the container wiring; the same-decisions property runs the Redis
// limiter against the real Redis (unique key prefix, keys deleted after), both on one fake clock.
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { Redis } from 'ioredis';
import { RedisConnection } from '@skillgate/resp';
import type { Sidecar } from '../src/index.js';
import { memoryRateLimiter } from '../src/memory-rate-limit.js';
import { redisRateLimiter } from '../src/cluster/guard.js';
import type { RateLimitHit } from '../src/rate-limit.js';
import type { UpstreamDouble } from './upstream-double.js';
import { OK_ANSWER, startLocalSidecar, type LocalSidecar } from './local-sidecar.js';
import { askMessages } from './skill-client.js';

const identity = { namespace: 'team-a', serviceAccount: 'sa', pod: 'p', skill: 'triage', owner: 'carol@example.com' };

describe('a local sidecar (no Redis) with a requests-per-minute limit', () => {
  let local: LocalSidecar;
  let upstream: UpstreamDouble;
  let sidecar: Sidecar;

  beforeAll(async () => {
    local = await startLocalSidecar('apiVersion: skillgate.dev/v1alpha1\nkind: SkillPolicy\nmetadata: { name: one-a-minute }\nspec:\n  rateLimits: { requestsPerMinute: 1 }\n', { identity });
    ({ upstream, sidecar } = local);
  });
  afterAll(() => local.close());

  it('refuses the request past the limit with the rate_limit_error, retry-after and refusal count of the Redis limiter', async () => {
    const post = () => askMessages(sidecar.claudeUrl, { model: 'claude-sonnet-4-5', max_tokens: 8, messages: [{ role: 'user', content: 'hi' }] });
    upstream.queue(OK_ANSWER);
    expect((await post()).status).toBe(200);
    const limited = await post();
    expect(limited.status).toBe(429);
    const retryAfter = Number(limited.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1); // how long exactly: the same as Redis (below)
    const body = await limited.json() as { type: string; error: { type: string; message: string }; request_id: string };
    expect(body).toEqual({
      type: 'error',
      error: { type: 'rate_limit_error', message: `SkillPolicy team-a/one-a-minute limits this skill to 1 requests per minute; retry after ${retryAfter} s. [SG_RATE_LIMITED]` },
      request_id: expect.stringMatching(/^req_/),
    });
    expect(upstream.received.length).toBe(1);
    const metrics = await (await fetch(`${sidecar.metricsUrl}/metrics`)).text();
    expect(metrics).toMatch(/^skillgate_sidecar_refusals_total\{code="SG_RATE_LIMITED"\} 1$/m);
  });
});

describe('the in-memory rate limiter', () => {
  const limits = (rpm: number, tpm: number) => ({
    ...(rpm ? { requestsPerMinute: { value: rpm, policy: 'team-a/rpm' } } : {}),
    ...(tpm ? { tokensPerMinute: { value: tpm, policy: 'team-a/tpm' } } : {}),
  });

  it('slides its window: the previous minute counts as much as it still overlaps', () => {
    let t = 120_000; // the start of a window
    const limiter = memoryRateLimiter({ now: () => t });
    expect(limiter.take(identity, limits(0, 1000), 800)).toBeUndefined();
    expect(limiter.take(identity, limits(0, 1000), 300)).toMatchObject({ kind: 'tokens', limit: 1000, policy: 'team-a/tpm' });
    t += 60_000 + 45_000; // 45 s into the next window: 25 % of the 800 still counts
    expect(limiter.take(identity, limits(0, 1000), 700)).toBeUndefined();
    expect(limiter.take(identity, limits(0, 1000), 200)).toMatchObject({ kind: 'tokens' });
  });

  it('counts each skill on its own, and refuses a request over the whole token limit as not retryable', () => {
    const limiter = memoryRateLimiter({ now: () => 0 });
    expect(limiter.take(identity, limits(1, 0), 1)).toBeUndefined();
    expect(limiter.take({ ...identity, skill: 'other' }, limits(1, 0), 1)).toBeUndefined();
    expect(limiter.take(identity, limits(1, 0), 1)).toMatchObject({ kind: 'requests', limit: 1, policy: 'team-a/rpm' });
    expect(limiter.take(identity, limits(0, 100), 101)).toEqual({ kind: 'tokens', limit: 100, policy: 'team-a/tpm', retryAfterSeconds: 1, oversize: { tokens: 101 } });
  });

  describe('decides as the Redis limiter does', () => {
    const prefix = `sg-test-${randomBytes(6).toString('hex')}:`;
    let redis: Redis;
    let connection: RedisConnection;
    beforeAll(async () => {
      redis = new Redis('redis://127.0.0.1:6379', { lazyConnect: true });
      await redis.connect();
      connection = new RedisConnection('redis://127.0.0.1:6379');
    });
    afterAll(async () => {
      const keys = await redis.keys(`${prefix}*`);
      if (keys.length) await redis.del(...keys);
      redis.disconnect();
      connection.close();
    });

    it('take after take, over sliding windows (one sidecar, no lease: exact)', async () => {
      let run = 0;
      const take = fc.record({ gapMs: fc.integer({ min: 0, max: 40_000 }), tokens: fc.integer({ min: 1, max: 400 }) });
      await fc.assert(fc.asyncProperty(fc.integer({ min: 0, max: 6 }), fc.integer({ min: 0, max: 1000 }), fc.array(take, { minLength: 1, maxLength: 25 }), async (rpm, tpm, takes) => {
        fc.pre(rpm > 0 || tpm > 0);
        let t = 1_000_000 * ++run; // each run on windows of its own
        const clock = () => t;
        const viaRedis = redisRateLimiter(connection, { prefix: `${prefix}${run}:`, now: clock, leaseDivisor: Number.MAX_SAFE_INTEGER });
        const inMemory = memoryRateLimiter({ now: clock });
        for (const { gapMs, tokens } of takes) {
          t += gapMs;
          const expected: RateLimitHit | undefined = await viaRedis.take(identity, limits(rpm, tpm), tokens);
          expect(inMemory.take(identity, limits(rpm, tpm), tokens)).toEqual(expected);
        }
      }), { numRuns: 60 });
    });
  });
});
