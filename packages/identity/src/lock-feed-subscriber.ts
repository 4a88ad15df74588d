// The lock feed's subscriber, the sidecar's side (protocol in lock-feed.ts; the controller's
// publisher in lock-feed-publisher.ts). It keeps a LockSet in memory, applies pushed changes in
// version order, replays short gaps from the stream, resyncs the whole set each time it is
// subscribed (the first time included: a start while Redis is away syncs on the first connection
// that works), and reports how long it has been cut off so its owner can fail closed. Cut off means:
// not subscribed or not yet resynced since, a sync that failed, a version gap it could not fill, or
// a publisher silent too long. A lock it cannot read (a kind a newer controller added) is skipped,
// counted and logged once; the rest of the set still applies. It never logs lock reasons verbatim.
// On @skillgate/resp (a subscriber that resubscribes by itself, and a command connection for the
// snapshot and the stream), not ioredis: the sidecar does not load ioredis.
import { RedisConnection, RedisSubscriber } from '@skillgate/resp';
import { LockSet } from './lock.js';
import { DEFAULT_MAX_SILENCE_MS, decodeMessage, decodeSnapshot, feedKeys, silentFeedLog, streamId, versionOfStreamId, type DecodedMessage, type FeedKeys, type FeedLog, type UnreadableLock } from './lock-feed.js';
import { systemClock, type Clock } from './workload-token.js';

export interface LockFeedSubscriberOptions {
  redisUrl: string;
  prefix?: string;
  clock?: Clock;
  log?: FeedLog;
  /** Called after every change of the in-memory set (never for heartbeats). */
  onChange?: (locks: LockSet, version: number) => void;
  /**
   * The publisher heartbeats every few seconds (controller: 2 s). Nothing from it for longer than
   * this (ms, default 15 s) counts as the feed being lost since its last message: a publisher that
   * stopped (no leader able to take over the feed) leaves a mirror that only looks up to date.
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
  /** Published locks this version cannot read, by name (or `v<version>` without one): not enforced here. */
  readonly unreadable = new Map<string, UnreadableLock>();
  /** Published lock entries skipped as unreadable since start (each snapshot or put counts its own). */
  skippedLocks = 0;
  private readonly sub: RedisSubscriber;
  private readonly cmd: RedisConnection;
  private readonly clock: Clock;
  private readonly log: FeedLog;
  private readonly listeners: Array<(locks: LockSet, version: number) => void> = [];
  private readonly createdAt: number;
  private buffer: DecodedMessage[] | undefined;
  private syncing: Promise<void> | undefined;
  /** Since when the feed is not known good: not subscribed, not resynced since, or a sync failed. */
  private lostSince: number | undefined;
  /** Since when a version the publisher announced is one this mirror has not reached. */
  private behindSince: number | undefined;
  /** The version the publisher's newest message carried. */
  private announced: number | undefined;
  private syncFailed = false;
  private lastMessageAt: number | undefined;
  private closed = false;
  /** Unreadable locks already logged (once each). */
  private readonly loggedUnreadable = new Set<string>();
  private readonly syncWaiters: Array<() => void> = [];

  private readonly maxSilenceMs: number;

  constructor(opts: LockFeedSubscriberOptions) {
    this.keys = feedKeys(opts.prefix);
    this.maxSilenceMs = opts.maxSilenceMs ?? DEFAULT_MAX_SILENCE_MS;
    this.clock = opts.clock ?? systemClock;
    this.log = opts.log ?? silentFeedLog;
    if (opts.onChange) this.listeners.push(opts.onChange);
    this.createdAt = this.clock();
    this.lostSince = this.createdAt;
    this.cmd = new RedisConnection(opts.redisUrl);
    this.sub = new RedisSubscriber(opts.redisUrl, {
      channels: [this.keys.channel],
      onMessage: (_channel, text) => this.onMessage(text),
      // Every subscription, the first included, loads the whole set: nothing published while this
      // mirror was not listening can be missed. It is back only once that load has succeeded.
      onSubscribed: () => {
        if (this.version >= 0) this.log('info', 'lock feed subscribed again; resynchronising');
        void this.resync();
      },
      onLost: (err) => {
        // From the first loss (or from construction) until subscribed and resynced again.
        if (this.lostSince === undefined) {
          this.lostSince = this.clock();
          this.log('warn', 'lock feed connection lost', { error: err.message });
        } else {
          this.log('debug', 'lock feed connection attempt failed', { error: err.message });
        }
      },
    });
  }

  onChange(listener: (locks: LockSet, version: number) => void): void {
    this.listeners.push(listener);
  }

  /**
   * Connect, subscribe and load the set. Never rejects: resolves once the first attempt is over,
   * synced or not. When Redis cannot be reached it keeps trying in the background, and the first
   * subscription that works loads the set; until then the feed counts as lost (its owner refuses).
   */
  async start(): Promise<void> {
    try {
      await this.sub.start();
    } catch (err) {
      if (!this.closed) this.log('warn', 'lock feed: Redis not reachable yet; the lock set loads once it is', { error: (err as Error).message });
      return;
    }
    // onSubscribed has started the first sync; it is the last step queued.
    await this.syncing;
  }

  /** Resolves when the set has been loaded at least once, or rejects after timeoutMs. */
  whenSynced(timeoutMs: number): Promise<void> {
    if (this.version >= 0) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`lock feed not synchronised within ${timeoutMs} ms (is Redis reachable, and is the controller publishing to ${this.keys.snapshot}?)`)), timeoutMs);
      this.syncWaiters.push(() => { clearTimeout(t); resolve(); });
    });
  }

  state(): FeedState {
    if (this.version < 0) return 'connecting';
    return this.lostSince === undefined && this.behindSince === undefined ? 'synced' : 'lost';
  }

  /**
   * Milliseconds the feed has been unusable (0 when fine), from the earliest of: never synced
   * (since construction), not subscribed or not resynced since (since the loss), a failed sync, a
   * version gap not filled (since it showed), nothing from the publisher for longer than
   * maxSilenceMs (since its last message).
   */
  lostForMs(): number {
    const now = this.clock();
    let since = Infinity;
    if (this.version < 0) since = this.createdAt;
    if (this.lostSince !== undefined) since = Math.min(since, this.lostSince);
    if (this.behindSince !== undefined) since = Math.min(since, this.behindSince);
    if (this.lastMessageAt !== undefined && now - this.lastMessageAt > this.maxSilenceMs) since = Math.min(since, this.lastMessageAt);
    return since === Infinity ? 0 : Math.max(0, now - since);
  }

  get synced(): boolean {
    return this.version >= 0;
  }

  get lastMessageAgeMs(): number | undefined {
    return this.lastMessageAt === undefined ? undefined : this.clock() - this.lastMessageAt;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.sub.close();
    this.cmd.close();
  }

  private onMessage(text: string): void {
    let m: DecodedMessage;
    try {
      m = decodeMessage(text);
    } catch (err) {
      this.log('warn', 'malformed lock feed message; resynchronising', { error: (err as Error).message });
      void this.resync();
      return;
    }
    this.lastMessageAt = this.clock();
    this.announced = m.v;
    if (this.buffer) {
      this.buffer.push(m);
      return;
    }
    this.apply(m);
    this.noteBehind();
  }

  private apply(m: DecodedMessage): void {
    if (m.op === 'heartbeat') {
      // A sync that failed is retried on each heartbeat until one succeeds.
      if (m.v !== this.version || this.syncFailed) void this.catchUp();
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
    const changed = this.applyChange(m);
    this.version = m.v;
    if (changed) this.emit();
  }

  /** One change in version order; true when the set changed. */
  private applyChange(m: Extract<DecodedMessage, { op: 'put' | 'remove' | 'unreadable' }>): boolean {
    if (m.op === 'put') {
      this.unreadable.delete(m.lock.name);
      return this.locks.put(m.lock);
    }
    if (m.op === 'remove') {
      this.unreadable.delete(m.name);
      return this.locks.remove(m.name);
    }
    // A lock it cannot read replaces whatever that name held before, as the snapshot would.
    this.skip([m.lock], m.v);
    return m.lock.name !== undefined && this.locks.remove(m.lock.name);
  }

  /** Count unreadable locks, keep them named, and log each once. */
  private skip(entries: readonly UnreadableLock[], v: number): void {
    for (const entry of entries) {
      const key = entry.name ?? `v${v}`;
      this.skippedLocks += 1;
      this.unreadable.set(key, entry);
      if (this.loggedUnreadable.has(key)) continue;
      this.loggedUnreadable.add(key);
      this.log('error', 'a published lock cannot be read by this sidecar and is not enforced here (is the sidecar older than the controller?); the other locks apply', { lock: key, version: v, error: entry.error });
    }
  }

  /** Replay a gap from the stream; fall back to the snapshot if the stream no longer holds it. */
  private catchUp(): Promise<void> {
    if (this.version < 0) return this.resync();
    return this.exclusive(async () => {
      const from = this.version + 1;
      const entries = (await this.cmd.command(['XRANGE', this.keys.stream, streamId(from), '+'])) as Array<[string, string[]]>;
      let msgs: Array<{ id: number; m: DecodedMessage }>;
      try {
        msgs = entries.map(([id, fields]) => ({ id: versionOfStreamId(id), m: decodeMessage(fields[1] ?? '') }));
      } catch (err) {
        this.log('warn', 'malformed lock feed stream entry; loading the snapshot instead', { error: (err as Error).message });
        msgs = [];
      }
      if (msgs.length === 0 || msgs[0]!.id !== from || msgs.some((x) => x.m.op === 'reset')) {
        await this.loadSnapshot();
        return;
      }
      let changed = false;
      for (const { m } of msgs) {
        if (m.op === 'put' || m.op === 'remove' || m.op === 'unreadable') changed = this.applyChange(m) || changed;
        this.version = m.v;
      }
      if (changed) this.emit();
    });
  }

  private resync(): Promise<void> {
    return this.exclusive(() => this.loadSnapshot());
  }

  private async loadSnapshot(): Promise<void> {
    const text = (await this.cmd.command(['GET', this.keys.snapshot])) as string | null;
    if (text === null) {
      this.log('warn', 'no lock snapshot in Redis yet; waiting for the controller', { key: this.keys.snapshot });
      return;
    }
    const snap = decodeSnapshot(text);
    const changed = this.locks.replaceAll(snap.locks);
    this.unreadable.clear();
    this.skip(snap.unreadable, snap.v);
    const first = this.version < 0;
    this.version = snap.v;
    // The snapshot is the publisher's word too: silence is counted from here until its next
    // message (not from a message before an outage, which would count the outage twice).
    this.lastMessageAt = this.clock();
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
        if (this.syncFailed) this.log('info', 'lock feed synchronised again', { version: this.version });
        this.syncFailed = false;
        // Subscribed and in sync: whatever loss there was is over.
        if (this.sub.subscribed) this.lostSince = undefined;
        if (this.version >= 0) for (const w of this.syncWaiters.splice(0)) w();
      } catch (err) {
        // Until a sync succeeds this mirror cannot vouch for the set: that counts as the feed
        // being lost (its owner fails closed past its bound). Retried on the next heartbeat.
        if (!this.syncFailed) this.log('warn', 'lock feed sync failed; counting the feed as lost until a retry succeeds', { error: (err as Error).message });
        else this.log('debug', 'lock feed sync failed again', { error: (err as Error).message });
        this.syncFailed = true;
        this.lostSince ??= this.clock();
      } finally {
        const pending = (this.buffer ?? []).sort((a, b) => a.v - b.v);
        this.buffer = undefined;
        this.syncing = undefined;
        for (const m of pending) this.apply(m);
        this.noteBehind();
      }
    })();
    return this.syncing;
  }

  /**
   * Whether the newest version announced is ahead of this mirror, and since when. (One behind it —
   * a snapshot newer than the last message heard, versions restarted by an emptied Redis — is no
   * gap: the next message or the resync it triggers settles it.)
   */
  private noteBehind(): void {
    const behind = this.version >= 0 && this.announced !== undefined && this.announced > this.version;
    if (!behind) this.behindSince = undefined;
    else this.behindSince ??= this.clock();
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
