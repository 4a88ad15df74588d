// The headers every real API response carries: `request-id`, `anthropic-organization-id` and the
// `anthropic-ratelimit-*` family. Built from a per-second cache so the hot path only adds a fresh
// request id (the fake is also the upstream for the sidecar's benchmarks).
import { newRequestId } from '@skillgate/wire';

export const FAKE_ORGANIZATION_ID = '5b0c6a4e-0f4b-4c8e-9d2a-6f1e2d3c4b5a';

export const RATE_LIMITS = {
  requests: 4000,
  tokens: 2_000_000,
  'input-tokens': 1_600_000,
  'output-tokens': 400_000,
} as const;

let cachedSecond = -1;
let cachedHeaders: Record<string, string> = {};

function baseHeaders(now: number): Record<string, string> {
  const second = Math.floor(now / 1000);
  if (second !== cachedSecond) {
    cachedSecond = second;
    const reset = resetTime((second + 1) * 1000);
    const h: Record<string, string> = { 'anthropic-organization-id': FAKE_ORGANIZATION_ID };
    for (const [name, limit] of Object.entries(RATE_LIMITS)) {
      h[`anthropic-ratelimit-${name}-limit`] = String(limit);
      h[`anthropic-ratelimit-${name}-remaining`] = String(limit - 1);
      h[`anthropic-ratelimit-${name}-reset`] = reset;
    }
    cachedHeaders = h;
  }
  return cachedHeaders;
}

/** Headers for one response: the common set, a new request id, and any extras (which win). */
export function responseHeaders(extra?: Record<string, string>): { headers: Record<string, string>; requestId: string } {
  const requestId = newRequestId();
  const headers = { ...baseHeaders(Date.now()), 'request-id': requestId, ...extra };
  return { headers, requestId };
}

/** An RFC 3339 time in whole seconds, as the API writes every `…-reset` (`2026-11-28T00:26:29Z`). */
export function resetTime(ms: number): string {
  return new Date(Math.ceil(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

/**
 * Rate-limit headers describing an exhausted limit, for scripted 429s. When the error message says
 * input (request) tokens were exceeded, the input-tokens limit is exhausted too.
 */
export function exhaustedRateLimitHeaders(retryAfterSeconds: number, message = ''): Record<string, string> {
  const reset = resetTime(Date.now() + retryAfterSeconds * 1000);
  const h: Record<string, string> = {
    'anthropic-ratelimit-requests-remaining': '0',
    'anthropic-ratelimit-requests-reset': reset,
    'anthropic-ratelimit-tokens-remaining': '0',
    'anthropic-ratelimit-tokens-reset': reset,
  };
  if (/\b(request|input) tokens\b/i.test(message)) {
    h['anthropic-ratelimit-input-tokens-remaining'] = '0';
    h['anthropic-ratelimit-input-tokens-reset'] = reset;
  }
  return h;
}
