// Which workload tokens were issued to whom, shared by every controller replica through Redis, so the
// leader can revoke every token of an offboarded owner or of a reassigned pod, whichever replica
// issued it, and a restart forgets nothing; and so the token exchange can tell whether a token lock
// names a token this pod held. Two sorted sets per subject (by owner, by pod), scored by expiry:
// revocation reads return unexpired members only; a pod's set keeps its expired members for
// another hour (a responder may lock a token seen after it expired). Holds jtis and names only,
// never a token.
import type { Redis } from 'ioredis';
import { MAX_TOKEN_TTL_SECONDS, normalizeOwner, type IssuedToken } from '@skillgate/identity';

export interface IssuedTokenIndex {
  record(token: IssuedToken): Promise<void>;
  /** Unexpired tokens issued to skills of this owner. */
  ofOwner(owner: string, now: number): Promise<IssuedToken[]>;
  /** Unexpired tokens issued to this pod. */
  ofPod(namespace: string, pod: string, now: number): Promise<IssuedToken[]>;
  /**
   * The jti of every token this pod was issued that the index still holds, expired or not: a token
   * lock binds the pod that held the token. Reading keeps the pod's set for another full retention
   * period, so a pod refused under a token lock (and so writing nothing) is remembered for as long
   * as it keeps asking.
   */
  jtisOfPod(namespace: string, pod: string): Promise<string[]>;
}

/** Owner keys live as long as the longest token could, plus a minute. */
const KEY_TTL_MS = MAX_TOKEN_TTL_SECONDS * 1000 + 60_000;
/** How long a pod's set keeps a token after it expired: a token lock made that late still binds the pod. */
export const POD_KEEPS_EXPIRED_MS = MAX_TOKEN_TTL_SECONDS * 1000;
/** Pod keys outlive their last token by the retention above. */
const POD_KEY_TTL_MS = KEY_TTL_MS + POD_KEEPS_EXPIRED_MS;

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
    const owner = this.ownerKey(t.owner);
    const pod = this.podKey(t.namespace, t.pod);
    await this.redis.multi()
      .zremrangebyscore(owner, '-inf', String(now)).zadd(owner, String(t.expiresAt), member).pexpire(owner, KEY_TTL_MS)
      .zremrangebyscore(pod, '-inf', String(now - POD_KEEPS_EXPIRED_MS)).zadd(pod, String(t.expiresAt), member).pexpire(pod, POD_KEY_TTL_MS)
      .exec();
  }

  ofOwner(owner: string, now: number): Promise<IssuedToken[]> {
    return this.read(this.ownerKey(owner), now);
  }

  ofPod(namespace: string, pod: string, now: number): Promise<IssuedToken[]> {
    return this.read(this.podKey(namespace, pod), now);
  }

  async jtisOfPod(namespace: string, pod: string): Promise<string[]> {
    const key = this.podKey(namespace, pod);
    const replies = await this.redis.multi().zrange(key, '0', '-1').pexpire(key, POD_KEY_TTL_MS).exec();
    const [err, members] = replies?.[0] ?? [new Error('the transaction was discarded'), undefined];
    if (err) throw err;
    return parse(members as string[]).map((t) => t.jti).filter((jti) => typeof jti === 'string');
  }

  private async read(key: string, now: number): Promise<IssuedToken[]> {
    return parse(await this.redis.zrangebyscore(key, `(${now}`, '+inf'));
  }
}

function parse(members: string[]): IssuedToken[] {
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
