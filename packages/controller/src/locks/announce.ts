// Announcing a lock ahead of its SkillLock object, from whichever replica took the call. The lock
// feed has one writer (the leader), so a follower hands the lock to the leader over a Redis pub/sub
// channel (`<prefix>controller:announce`) and the leader puts it in force at once; the object written
// meanwhile makes it durable, and the SkillLock watch remains the path of record. Only owner locks
// travel this way: the channel can add a lock for a person, never remove or widen anything else, so
// a message forged by someone with Redis access achieves no more than they could by writing the feed.
import { Redis } from 'ioredis';
import { validateLock, type Lock } from '@skillgate/identity';
import type { Logger } from '../log.js';
import type { LockReconciler } from './reconciler.js';

export const announceChannel = (prefix: string): string => `${prefix}controller:announce`;

export class LockAnnouncer {
  private readonly sub: Redis;
  private started = false;

  constructor(
    private readonly locks: LockReconciler,
    private readonly redis: Redis,
    redisUrl: string,
    private readonly prefix: string,
    private readonly log: Logger,
  ) {
    // Resubscribed by us after a reconnect, not by ioredis' autoResubscribe, whose SUBSCRIBE has no
    // handler: a connection lost again before its reply would end in an unhandled rejection.
    this.sub = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: null, autoResubscribe: false, retryStrategy: (n) => Math.min(50 * 2 ** Math.min(n, 5), 1000) });
    this.sub.on('error', (err: Error) => this.log.debug({ err: err.message }, 'announce channel connection error'));
    this.sub.on('ready', () => {
      if (!this.started) return;
      this.sub.subscribe(announceChannel(this.prefix)).catch((err: Error) => this.log.warn({ err: err.message }, 'announce channel resubscribe failed; will retry on reconnect'));
    });
    this.sub.on('message', (_channel: string, text: string) => void this.received(text));
  }

  async start(): Promise<void> {
    await this.sub.connect();
    await this.sub.subscribe(announceChannel(this.prefix));
    this.started = true;
  }

  async stop(): Promise<void> {
    this.sub.disconnect();
  }

  /** Put an owner lock in force now: directly when leading, through the leader otherwise. */
  async announce(lock: Lock): Promise<void> {
    if (lock.target.kind !== 'owner') throw new Error(`only owner locks are announced, not ${lock.target.kind}`);
    if (this.locks.leading) {
      await this.locks.putProvisional(lock);
      return;
    }
    await this.redis.publish(announceChannel(this.prefix), JSON.stringify(lock));
  }

  private async received(text: string): Promise<void> {
    if (!this.locks.leading) return;
    let lock: Lock;
    try {
      lock = validateLock(JSON.parse(text));
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'malformed lock announcement ignored');
      return;
    }
    if (lock.target.kind !== 'owner' || lock.expiresAt !== undefined) {
      this.log.warn({ lock: lock.name, kind: lock.target.kind }, 'lock announcement of another kind ignored');
      return;
    }
    await this.locks.putProvisional(lock).catch((err: Error) => this.log.warn({ lock: lock.name, err: err.message }, 'announced lock not published'));
  }
}
