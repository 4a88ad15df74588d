// The lock feed's publisher, the controller's side (protocol in lock-feed.ts; the sidecar's side in
// lock-feed-subscriber.ts). It is the only writer: it serialises changes so versions, snapshot,
// stream and channel never disagree. It never logs lock reasons verbatim at info level, nor deletes
// keys it does not own. On ioredis, as the rest of the controller; not exported from the package's
// index, so that what imports the subscriber (the sidecar) does not load ioredis.
import { Redis, type RedisOptions } from 'ioredis';
import { LockSet, type Lock } from './lock.js';
import { encodeMessage, encodeSnapshot, feedKeys, silentFeedLog, streamId, type FeedKeys, type FeedLog, type FeedMessage } from './lock-feed.js';
import { systemClock, type Clock } from './workload-token.js';

function connect(url: string, extra: RedisOptions = {}): Redis {
  return new Redis(url, {
    lazyConnect: true,
    maxRetriesPerRequest: 2,
    enableOfflineQueue: true,
    retryStrategy: (n) => Math.min(50 * 2 ** Math.min(n, 5), 1000),
    ...extra,
  });
}

export interface LockFeedPublisherOptions {
  redisUrl: string;
  prefix?: string;
  /** Entries kept in the replay stream (approximate). */
  streamMaxLen?: number;
  clock?: Clock;
  log?: FeedLog;
}

/** The controller's side: owns the published set. One publisher per installation (the leader). */
export class LockFeedPublisher {
  readonly keys: FeedKeys;
  private readonly redis: Redis;
  private readonly set = new LockSet();
  private chain: Promise<unknown> = Promise.resolve();
  private readonly clock: Clock;
  private readonly log: FeedLog;
  private version = 0;
  /**
   * The set in memory holds changes Redis has not: a commit failed after the set had changed. The
   * next put, remove or heartbeat publishes the whole set (a reset), even when it changes nothing,
   * so a lock whose publication failed once is not lost to "nothing changed".
   */
  private unpublished = false;

  constructor(private readonly opts: LockFeedPublisherOptions) {
    this.keys = feedKeys(opts.prefix);
    this.redis = connect(opts.redisUrl);
    this.clock = opts.clock ?? systemClock;
    this.log = opts.log ?? silentFeedLog;
    // Failures surface through the commands (and the retries above them), not as unhandled events.
    this.redis.on('error', (err: Error) => this.log('debug', 'lock feed publisher connection error', { error: err.message }));
  }

  async start(): Promise<void> {
    await this.redis.connect();
  }

  locks(): Lock[] {
    return this.set.list();
  }

  get currentVersion(): number {
    return this.version;
  }

  /** Replace the whole published set (controller start, full resync). Always publishes. */
  reset(locks: Iterable<Lock>): Promise<number> {
    return this.serial(async () => {
      this.set.replaceAll(locks);
      return this.commit((v) => ({ op: 'reset', v }));
    });
  }

  /** Publish a lock (new or changed). Resolves with the version, or undefined when nothing changed. */
  put(lock: Lock): Promise<number | undefined> {
    return this.serial(async () => this.publish(this.set.put(lock), (v) => ({ op: 'put', v, lock })));
  }

  remove(name: string): Promise<number | undefined> {
    return this.serial(async () => this.publish(this.set.remove(name), (v) => ({ op: 'remove', v, name })));
  }

  /** After a change to the set: its message, or the whole set while an earlier commit has not gone through. */
  private async publish(changed: boolean, make: (v: number) => FeedMessage): Promise<number | undefined> {
    if (this.unpublished) return this.commit((v) => ({ op: 'reset', v }));
    return changed ? this.commit(make) : undefined;
  }

  /**
   * Liveness beacon. If the snapshot vanished (a Redis flush or failover to an empty replica), the
   * set is republished from memory, so the source of truth (the SkillLock objects, mirrored here)
   * wins over Redis' state.
   */
  heartbeat(): Promise<void> {
    return this.serial(async () => {
      if (this.unpublished) {
        this.log('warn', 'lock set changes were not published; republishing the lock set');
        await this.commit((v) => ({ op: 'reset', v }));
        return;
      }
      if (!(await this.redis.exists(this.keys.snapshot))) {
        this.log('warn', 'lock snapshot missing from Redis; republishing the lock set');
        await this.commit((v) => ({ op: 'reset', v }));
        return;
      }
      await this.redis.publish(this.keys.channel, encodeMessage({ op: 'heartbeat', v: this.version }));
    });
  }

  async close(): Promise<void> {
    await this.chain.catch(() => undefined);
    this.redis.disconnect();
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.chain.then(fn, fn);
    this.chain = next.catch(() => undefined);
    return next;
  }

  private async commit(make: (v: number) => FeedMessage): Promise<number> {
    this.unpublished = true; // until this commit is through
    let v = await this.redis.incr(this.keys.version);
    if (v <= this.version) {
      // The version key was lost while the stream survived: jump past what we published before.
      v = this.version + 1;
      await this.redis.set(this.keys.version, String(v));
    }
    const message = encodeMessage(make(v));
    const snapshot = encodeSnapshot({ v, locks: this.set.list(), at: new Date(this.clock()).toISOString() });
    const tx = this.redis.multi()
      .set(this.keys.snapshot, snapshot)
      .xadd(this.keys.stream, 'MAXLEN', '~', String(this.opts.streamMaxLen ?? 10_000), streamId(v), 'm', message)
      .publish(this.keys.channel, message);
    const results = await tx.exec();
    const failed = results?.find(([err]) => err);
    if (failed?.[0]) {
      // An XADD id below the stream's top (version key reset while the stream stayed): start a new stream.
      this.log('warn', 'lock stream rejected the version; recreating the replay stream', { v, error: failed[0].message });
      await this.redis.multi().del(this.keys.stream).set(this.keys.snapshot, snapshot)
        .xadd(this.keys.stream, streamId(v), 'm', message).publish(this.keys.channel, message).exec();
    }
    this.version = v;
    this.unpublished = false;
    this.log('debug', 'lock feed published', { v, locks: this.set.size });
    return v;
  }
}
