// The policy's rate limits as the guard reads them, whoever counts them: the limiter the guard asks
// (RateLimiter), the refused take it answers with a 429 (RateLimitHit), and what both limiters —
// the shared one in Redis (cluster/guard.ts redisRateLimiter, its script in Lua) and a local
// sidecar's in memory (memory-rate-limit.ts) — must decide alike: which skill a take is counted
// against, the request no limit can ever admit, and the sliding-window arithmetic. Pure: it never
// counts, and never talks to Redis.
import type { SkillIdentity } from '@skillgate/api';
import type { EffectivePolicy } from '@skillgate/policy';

export interface RateLimitHit { kind: 'requests' | 'tokens'; limit: number; policy: string; retryAfterSeconds: number; /** The request alone exceeds tokensPerMinute: retrying cannot help. */ oversize?: { tokens: number } }

export interface RateLimiter {
  /**
   * Count one request of `tokens` against the limits; undefined = admitted. Answers at once when
   * it can decide locally (a lease covers the request), with a promise when it has to ask Redis.
   */
  take(identity: SkillIdentity, limits: EffectivePolicy['rateLimits'], tokens: number): RateLimitHit | undefined | Promise<RateLimitHit | undefined>;
}

/** The skill a take is counted against: every replica (pod) of a skill shares its counts, whatever limits the policy sets. */
export function countedSkill(identity: SkillIdentity): string {
  return `${identity.namespace}/${identity.skill}`;
}

/** A request larger than the whole token limit can never be admitted: refused before anything is counted. */
export function oversizeHit(limits: EffectivePolicy['rateLimits'], tokens: number): RateLimitHit | undefined {
  const tpm = limits.tokensPerMinute?.value ?? 0;
  return tpm && tokens > tpm ? rateLimitHit('tokens', limits, 0, tokens) : undefined;
}

/** A refused take as the guard answers it: the limit hit, and retry-after in whole seconds (at least 1). */
export function rateLimitHit(kind: RateLimitHit['kind'], limits: EffectivePolicy['rateLimits'], retryMs: number, oversizeTokens?: number): RateLimitHit {
  const limit = kind === 'tokens' ? limits.tokensPerMinute! : limits.requestsPerMinute!;
  return { kind, limit: limit.value, policy: limit.policy, retryAfterSeconds: Math.max(1, Math.ceil((retryMs || 1000) / 1000)), ...(oversizeTokens !== undefined ? { oversize: { tokens: oversizeTokens } } : {}) };
}

/**
 * The Redis script's sliding-window arithmetic (cluster/guard.ts RATE_LIMIT_LUA `over`) in
 * TypeScript, for a limiter counting elsewhere (in memory): whether `need` more exceeds `limit`
 * `offMs` into a window of `windowMs`, given this window's count `cur` and the previous one's
 * `prev`, compared in whole numbers as the script does.
 */
export function slidingWindowOver(cur: number, prev: number, limit: number, need: number, offMs: number, windowMs: number): boolean {
  return (cur + need) * windowMs + prev * (windowMs - offMs) > limit * windowMs;
}

/** Milliseconds until `need` more fits (nobody else taking meanwhile), exactly as the script's `wait`. */
export function slidingWindowWaitMs(cur: number, prev: number, limit: number, need: number, offMs: number, windowMs: number): number {
  const rest = windowMs - offMs;
  if (cur + need > limit) return cur <= 0 ? rest : rest + Math.max(0, Math.ceil(windowMs * (cur + need - limit) / cur));
  if (prev <= 0) return 1000;
  return Math.max(1000, Math.ceil(windowMs * (prev - (limit - cur - need)) / prev) - offMs);
}
