// The lock feed's subscriber, the sidecar's side (protocol in lock-feed.ts; the controller's
// publisher in lock-feed-publisher.ts). It keeps a LockSet in memory, applies pushed changes in
// version order, replays short gaps from the stream, resyncs the whole set each time it is
// (re)subscribed, and reports how long it has been cut off so its owner can fail closed. It never
// logs lock reasons verbatim at info level. On @skillgate/resp (a subscriber that resubscribes by
// itself, and a command connection for the snapshot and the stream), not ioredis: the sidecar does
// not load ioredis.
import { RedisConnection, RedisSubscriber } from '@skillgate/resp';
import { LockSet } from './lock.js';
import { decodeMessage, decodeSnapshot, feedKeys, silentFeedLog, streamId, versionOfStreamId, type FeedKeys, type FeedLog, type FeedMessage } from './lock-feed.js';
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
  private readonly sub: RedisSubscriber;
  private readonly cmd: RedisConnection;
  private readonly clock: Clock;
  private readonly log: FeedLog;
  private readonly listeners: Array<(locks: LockSet, version: number) => void> = [];
  private buffer: FeedMessage[] | undefined;
  private syncing: Promise<void> | undefined;
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
    this.log = opts.log ?? silentFeedLog;
    if (opts.onChange) this.listeners.push(opts.onChange);
    this.lostSince = this.clock();
    this.cmd = new RedisConnection(opts.redisUrl);
    this.sub = new RedisSubscriber(opts.redisUrl, {
      channels: [this.keys.channel],
      onMessage: (_channel, text) => this.onMessage(text),
      onSubscribed: () => {
        this.lostSince = undefined;
        if (!this.started) return; // start() syncs the first time
        this.log('info', 'lock feed subscribed again; resynchronising');
        void this.resync();
      },
      onLost: (err) => {
        // From the first loss (or from construction) until subscribed again.
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
   * Connect, subscribe and load the set; rejects when the first connection fails (it keeps trying).
   * Each later resubscription resyncs.
   */
  async start(): Promise<void> {
    await Promise.all([this.cmd.connected(), this.sub.start()]);
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
    return this.sub.subscribed ? 'synced' : 'lost';
  }

  /**
   * Milliseconds the feed has been unusable (0 when fine): the subscription down, or nothing from
   * the publisher for longer than maxSilenceMs (counted from when that bound passed). Never-synced
   * counts from construction.
   */
  lostForMs(): number {
    if (this.version >= 0 && this.sub.subscribed) {
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
    this.sub.close();
    this.cmd.close();
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
      const entries = (await this.cmd.command(['XRANGE', this.keys.stream, streamId(from), '+'])) as Array<[string, string[]]>;
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
