// The lock feed over Redis: the controller's publisher and the sidecar's subscriber (protocol in
// lock-feed.ts). The publisher is the only writer: it serialises changes so versions, snapshot,
// stream and channel never disagree. The subscriber keeps a LockSet in memory, applies pushed changes
// in version order, replays short gaps from the stream, resyncs the whole set on (re)connect, and
// reports how long it has been cut off so its owner can fail closed. Neither ever logs lock reasons
// verbatim at info level, nor deletes keys it does not own.
import { Redis, type RedisOptions } from 'ioredis';
import { LockSet, type Lock } from './lock.js';
import {
  decodeMessage, decodeSnapshot, encodeMessage, encodeSnapshot, feedKeys, streamId, versionOfStreamId,
  type FeedKeys, type FeedMessage,
} from './lock-feed.js';
import { systemClock, type Clock } from './workload-token.js';

export type FeedLog = (level: 'debug' | 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;
const silent: FeedLog = () => undefined;

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
    this.log = opts.log ?? silent;
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

export interface LockFeedSubscriberOptions {
  redisUrl: string;
  prefix?: string;
  clock?: Clock;
  log?: FeedLog;
  /** Called after every change of the in-memory set (never for heartbeats). */
  onChange?: (locks: LockSet, version: number) => void;
  /**
   * The publisher heartbeats every few seconds (controller: 2 s). Nothing from it for longer than
   * this (ms, default 15 s) counts as the feed being lost, from then on: a publisher that stopped
   * (no leader able to take over the feed) leaves a mirror that only looks up to date.
   */
  maxSilenceMs?: number;
}

export type FeedState = 'connecting' | 'synced' | 'lost';

/** The sidecar's side: a live mirror of the published lock set. */
export class LockFeedSubscriber {
  readonly keys: FeedKeys;
  readonly locks = new LockSet();
  /** -1 until the first snapshot. */
  version = -1;
  private readonly sub: Redis;
  private readonly cmd: Redis;
  private readonly clock: Clock;
  private readonly log: FeedLog;
  private readonly listeners: Array<(locks: LockSet, version: number) => void> = [];
  private buffer: FeedMessage[] | undefined;
  private syncing: Promise<void> | undefined;
  private subReady = false;
  private lostSince: number | undefined;
  private lastMessageAt: number | undefined;
  private closed = false;
  private started = false;
  private readonly syncWaiters: Array<() => void> = [];

  private readonly maxSilenceMs: number;

  constructor(opts: LockFeedSubscriberOptions) {
    this.keys = feedKeys(opts.prefix);
    this.maxSilenceMs = opts.maxSilenceMs ?? 15_000;
    this.clock = opts.clock ?? systemClock;
    this.log = opts.log ?? silent;
    if (opts.onChange) this.listeners.push(opts.onChange);
    // Resubscribed by us on each reconnect ('ready' below), not by ioredis' autoResubscribe: the
    // SUBSCRIBE that sends is left without a handler, so a connection lost again before its reply
    // would end in an unhandled rejection, and that stops a Node process.
    this.sub = connect(opts.redisUrl, { maxRetriesPerRequest: null, autoResubscribe: false });
    this.cmd = connect(opts.redisUrl);
    this.lostSince = this.clock();
    this.sub.on('message', (_channel: string, text: string) => this.onMessage(text));
    this.sub.on('ready', () => {
      this.subReady = true;
      this.lostSince = undefined;
      if (!this.started) return; // start() subscribes and syncs the first time
      this.log('info', 'lock feed connected; resynchronising');
      void this.resubscribe();
    });
    const onLost = (): void => {
      if (this.subReady || this.lostSince === undefined) this.lostSince = this.clock();
      if (this.subReady) this.log('warn', 'lock feed connection lost');
      this.subReady = false;
    };
    this.sub.on('close', onLost);
    this.sub.on('end', onLost);
    this.sub.on('error', (err: Error) => this.log('debug', 'lock feed connection error', { error: err.message }));
    this.cmd.on('error', (err: Error) => this.log('debug', 'lock feed command connection error', { error: err.message }));
  }

  onChange(listener: (locks: LockSet, version: number) => void): void {
    this.listeners.push(listener);
  }

  /** Connect, subscribe and load the set; later reconnects resubscribe and resync on 'ready'. */
  async start(): Promise<void> {
    await Promise.all([this.cmd.connect(), this.sub.connect()]);
    await this.sub.subscribe(this.keys.channel);
    this.started = true;
    // Sync once subscribed, so nothing published meanwhile can be missed.
    await this.resync();
  }

  /** Resolves when the set has been loaded at least once, or rejects after timeoutMs. */
  whenSynced(timeoutMs: number): Promise<void> {
    if (this.version >= 0) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`lock feed not synchronised within ${timeoutMs} ms (is the controller publishing to ${this.keys.snapshot}?)`)), timeoutMs);
      this.syncWaiters.push(() => { clearTimeout(t); resolve(); });
    });
  }

  state(): FeedState {
    if (this.version < 0) return 'connecting';
    return this.subReady ? 'synced' : 'lost';
  }

  /**
   * Milliseconds the feed has been unusable (0 when fine): the subscription down, or nothing from
   * the publisher for longer than maxSilenceMs (counted from when that bound passed). Never-synced
   * counts from construction.
   */
  lostForMs(): number {
    if (this.version >= 0 && this.subReady) {
      const silent = this.lastMessageAt === undefined ? 0 : this.clock() - this.lastMessageAt - this.maxSilenceMs;
      return Math.max(0, silent);
    }
    return this.lostSince === undefined ? 0 : Math.max(0, this.clock() - this.lostSince);
  }

  get synced(): boolean {
    return this.version >= 0;
  }

  get lastMessageAgeMs(): number | undefined {
    return this.lastMessageAt === undefined ? undefined : this.clock() - this.lastMessageAt;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.sub.disconnect();
    this.cmd.disconnect();
  }

  private onMessage(text: string): void {
    let m: FeedMessage;
    try {
      m = decodeMessage(text);
    } catch (err) {
      this.log('warn', 'malformed lock feed message; resynchronising', { error: (err as Error).message });
      void this.resync();
      return;
    }
    this.lastMessageAt = this.clock();
    if (this.buffer) {
      this.buffer.push(m);
      return;
    }
    this.apply(m);
  }

  private apply(m: FeedMessage): void {
    if (m.op === 'heartbeat') {
      if (m.v !== this.version) void this.catchUp();
      return;
    }
    if (m.op === 'reset') {
      if (m.v !== this.version) void this.resync();
      return;
    }
    if (m.v <= this.version) return; // already have it
    if (m.v !== this.version + 1) {
      void this.catchUp();
      return;
    }
    const changed = m.op === 'put' ? this.locks.put(m.lock) : this.locks.remove(m.name);
    this.version = m.v;
    if (changed) this.emit();
  }

  /** Replay a gap from the stream; fall back to the snapshot if the stream no longer holds it. */
  private catchUp(): Promise<void> {
    if (this.version < 0) return this.resync();
    return this.exclusive(async () => {
      const from = this.version + 1;
      const entries = await this.cmd.xrange(this.keys.stream, streamId(from), '+');
      const msgs = entries.map(([id, fields]) => ({ id: versionOfStreamId(id), m: decodeMessage(fields[1] ?? '') }));
      if (msgs.length === 0 || msgs[0]!.id !== from || msgs.some((x) => x.m.op === 'reset')) {
        await this.loadSnapshot();
        return;
      }
      let changed = false;
      for (const { m } of msgs) {
        if (m.op === 'put') changed = this.locks.put(m.lock) || changed;
        else if (m.op === 'remove') changed = this.locks.remove(m.name) || changed;
        this.version = m.v;
      }
      if (changed) this.emit();
    });
  }

  /** After a reconnect: subscribe again, then resync (a failure waits for the next reconnect). */
  private async resubscribe(): Promise<void> {
    try {
      await this.sub.subscribe(this.keys.channel);
    } catch (err) {
      if (!this.closed) this.log('warn', 'lock feed resubscribe failed; will retry on reconnect', { error: (err as Error).message });
      return;
    }
    await this.resync();
  }

  private resync(): Promise<void> {
    return this.exclusive(() => this.loadSnapshot());
  }

  private async loadSnapshot(): Promise<void> {
    const text = await this.cmd.get(this.keys.snapshot);
    if (text === null) {
      this.log('warn', 'no lock snapshot in Redis yet; waiting for the controller', { key: this.keys.snapshot });
      return;
    }
    const snap = decodeSnapshot(text);
    const changed = this.locks.replaceAll(snap.locks);
    const first = this.version < 0;
    this.version = snap.v;
    // The snapshot is the publisher's word too: silence is counted from here until its next message.
    this.lastMessageAt ??= this.clock();
    if (first) for (const w of this.syncWaiters.splice(0)) w();
    if (changed || first) this.emit();
  }

  /** Run a sync step with incoming messages buffered, then apply what arrived meanwhile. */
  private exclusive(step: () => Promise<void>): Promise<void> {
    if (this.closed) return Promise.resolve();
    if (this.syncing) return this.syncing.then(() => this.exclusive(step));
    this.buffer = [];
    this.syncing = (async () => {
      try {
        await step();
      } catch (err) {
        this.log('warn', 'lock feed sync failed; will retry on the next message or reconnect', { error: (err as Error).message });
      } finally {
        const pending = (this.buffer ?? []).sort((a, b) => a.v - b.v);
        this.buffer = undefined;
        this.syncing = undefined;
        for (const m of pending) this.apply(m);
      }
    })();
    return this.syncing;
  }

  private emit(): void {
    for (const l of this.listeners) {
      try {
        l(this.locks, this.version);
      } catch (err) {
        this.log('error', 'lock change listener threw', { error: (err as Error).message });
      }
    }
  }
}
