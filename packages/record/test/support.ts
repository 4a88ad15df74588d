// Test support for the record package: identities, drafts, a TCP proxy in front of the machine's
// Redis (@skillgate/resp/testing; stopping it simulates Redis being unreachable without touching the
// shared server), and cleanup of the unique key prefix a test run used.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { RedisProxy } from '@skillgate/resp/testing';
import type { SkillIdentity } from '@skillgate/api';
import type { EventDraft } from '../src/event.js';

export const REDIS_URL = process.env.SKILLGATE_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

export const identity: SkillIdentity = {
  namespace: 'payments', serviceAccount: 'refunds-bot', pod: 'refunds-7d9f-abc', skill: 'refunds', owner: 'contractor@example.com',
};

export function tempDir(name: string): string {
  return mkdtempSync(join(tmpdir(), `sg-${name}-`));
}

export function uniquePrefix(): string {
  return `sgtest:${randomBytes(6).toString('hex')}:`;
}

export async function deletePrefix(prefix: string): Promise<void> {
  const redis = new Redis(REDIS_URL);
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await redis.del(...keys);
  } while (cursor !== '0');
  await redis.quit();
}

let counter = 0;
/** A small request draft; `n` varies the content. */
export function requestDraft(sessionId: string, n = counter++, id: SkillIdentity = identity): EventDraft {
  return {
    kind: 'request', sessionId, identity: id, requestId: `req_${n}`,
    data: { method: 'POST', path: '/v1/messages', model: 'claude-sonnet-4-5', stream: false, headers: { 'content-type': 'application/json' }, body: `{"n":${n}}`, bodySha256: 'x'.repeat(64), bodyBytes: 8 },
  };
}

/** A TCP proxy to the test Redis that a test can stop (connections dropped, port refused) and start again. */
export function redisProxy(): RedisProxy {
  return new RedisProxy(REDIS_URL);
}

/** Wait for `predicate` to hold, checking on each event-loop turn; rejects after `timeoutMs`. */
export async function waitFor(predicate: () => boolean | Promise<boolean>, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
