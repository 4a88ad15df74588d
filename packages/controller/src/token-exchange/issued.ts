// Which workload tokens were issued to whom, shared by every controller replica through Redis, so the
// leader can revoke every token of an offboarded owner or of a reassigned pod, whichever replica
// issued it, and a restart forgets nothing. Two sorted sets per subject (by owner, by pod), scored
// by expiry: expired members are trimmed on write and never returned. Holds jtis and names only,
// never a token.
import type { Redis } from 'ioredis';
import { MAX_TOKEN_TTL_SECONDS, normalizeOwner, type IssuedToken } from '@skillgate/identity';

export interface IssuedTokenIndex {
  record(token: IssuedToken): Promise<void>;
  /** Unexpired tokens issued to skills of this owner. */
  ofOwner(owner: string, now: number): Promise<IssuedToken[]>;
  /** Unexpired tokens issued to this pod. */
  ofPod(namespace: string, pod: string, now: number): Promise<IssuedToken[]>;
}

/** Keys live as long as the longest token could, plus a minute. */
const KEY_TTL_MS = MAX_TOKEN_TTL_SECONDS * 1000 + 60_000;

export class RedisIssuedTokens implements IssuedTokenIndex {
  constructor(private readonly redis: Redis, private readonly prefix: string) {}

  ownerKey(owner: string): string {
    return `${this.prefix}issued:owner:${normalizeOwner(owner)}`;
  }

  podKey(namespace: string, pod: string): string {
    return `${this.prefix}issued:pod:${namespace}/${pod}`;
  }

  async record(t: IssuedToken): Promise<void> {
    const member = JSON.stringify({ jti: t.jti, owner: normalizeOwner(t.owner), skill: t.skill, namespace: t.namespace, pod: t.pod, expiresAt: t.expiresAt });
    const now = Date.now();
    const tx = this.redis.multi();
    for (const key of [this.ownerKey(t.owner), this.podKey(t.namespace, t.pod)]) {
      tx.zremrangebyscore(key, '-inf', String(now)).zadd(key, String(t.expiresAt), member).pexpire(key, KEY_TTL_MS);
    }
    await tx.exec();
  }

  ofOwner(owner: string, now: number): Promise<IssuedToken[]> {
    return this.read(this.ownerKey(owner), now);
  }

  ofPod(namespace: string, pod: string, now: number): Promise<IssuedToken[]> {
    return this.read(this.podKey(namespace, pod), now);
  }

  private async read(key: string, now: number): Promise<IssuedToken[]> {
    const members = await this.redis.zrangebyscore(key, `(${now}`, '+inf');
    const out: IssuedToken[] = [];
    for (const m of members) {
      try {
        out.push(JSON.parse(m) as IssuedToken);
      } catch {
        // a member we did not write: skip it
      }
    }
    return out;
  }
}
