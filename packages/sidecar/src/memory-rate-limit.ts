// The policy's rate limits counted in this process: what a local sidecar (no REDIS_URL) uses in
// place of the shared Redis limiter (cluster/guard.ts redisRateLimiter), with the same semantics —
// a sliding window over the previous and the current minute, requests and tokens at once, a take
// counted only when admitted, the same retry-after — so the guard answers the same 429s: both
// decide with rate-limit.ts, and this module never loads the Redis one. Only a single sidecar's
// requests are counted: it must never stand in for a limit shared by replicas (a cluster sidecar
// always has Redis).
import type { SkillIdentity } from '@skillgate/api';
import { countedSkill, oversizeHit, rateLimitHit, slidingWindowOver, slidingWindowWaitMs, type RateLimiter } from './rate-limit.js';

/** One skill's counts: requests and tokens of the current window and of the one before. */
interface Counts {
  window: number;
  requests: number;
  tokens: number;
  previousRequests: number;
  previousTokens: number;
}

/**
 * Sliding-window counter, decided synchronously. The previous minute's count weighs as much as it
 * still overlaps the window ending now; a refused take is not counted. Counts are per skill,
 * whatever limits the policy sets (as the Redis keys are), and kept for two windows.
 */
export function memoryRateLimiter(opts: { windowMs?: number; now?: () => number } = {}): RateLimiter {
  const win = opts.windowMs ?? 60_000;
  const now = opts.now ?? Date.now;
  const skills = new Map<string, Counts>();

  /** The counts of a skill rolled forward to window `w`. */
  function countsOf(skill: string, w: number): Counts {
    let c = skills.get(skill);
    if (!c) {
      if (skills.size >= 1000) skills.clear(); // a local sidecar serves one skill; bounded all the same
      skills.set(skill, (c = { window: w, requests: 0, tokens: 0, previousRequests: 0, previousTokens: 0 }));
    } else if (c.window !== w) {
      const adjacent = c.window === w - 1;
      Object.assign(c, { window: w, previousRequests: adjacent ? c.requests : 0, previousTokens: adjacent ? c.tokens : 0, requests: 0, tokens: 0 });
    }
    return c;
  }

  return {
    take(identity: SkillIdentity, limits, tokens) {
      const rpm = limits.requestsPerMinute?.value ?? 0;
      const tpm = limits.tokensPerMinute?.value ?? 0;
      const cost = tpm ? tokens : 0;
      // A request larger than the whole token limit can never be admitted.
      const oversize = oversizeHit(limits, tokens);
      if (oversize) return oversize;
      const t = now();
      const c = countsOf(countedSkill(identity), Math.floor(t / win));
      const off = t % win;
      // The Redis script's arithmetic (rate-limit.ts), shared: the previous window's count weighs
      // as much as it still overlaps the window ending now, compared in whole numbers.
      if (rpm && slidingWindowOver(c.requests, c.previousRequests, rpm, 1, off, win)) {
        return rateLimitHit('requests', limits, slidingWindowWaitMs(c.requests, c.previousRequests, rpm, 1, off, win));
      }
      if (tpm && slidingWindowOver(c.tokens, c.previousTokens, tpm, cost, off, win)) {
        return rateLimitHit('tokens', limits, slidingWindowWaitMs(c.tokens, c.previousTokens, tpm, cost, off, win));
      }
      c.requests += 1;
      c.tokens += cost;
      return undefined;
    },
  };
}
