// The recorder worker: a member of a Redis consumer group on every namespace stream, on the
// checkpoint stream and on the stream of events writers kept aside after chain conflicts. It reads
// new entries (XREADGROUP), writes them durably to the archive and only then acknowledges them
// (XACK); entries a crashed consumer left unacknowledged are reclaimed after `claimIdleMs`
// (XAUTOCLAIM). Per session, events reach the archive in seq order: an event whose predecessor is
// not archived yet (it sits with another consumer) is left unacknowledged and retried, for at most
// `gapTimeoutMs`, after which it is archived anyway and verify will name the gap. It never deletes
// stream entries: Redis retention (MAXLEN/MINID) does that.
import { Redis } from 'ioredis';
import { keptAsideEntry, parseField, recordKeys, type Checkpoint, type KeptAsideEvent, type SessionEvent } from '@skillgate/record';
import type { Archive } from './archive.js';
import type { RecorderMetrics } from './metrics.js';

export interface RecorderLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface RecorderWorkerOptions {
  /** A dedicated connection (XREADGROUP BLOCK holds it). */
  redis: Redis;
  prefix?: string;
  group?: string;
  consumer: string;
  archive: Archive;
  count?: number;
  blockMs?: number;
  claimIdleMs?: number;
  gapTimeoutMs?: number;
  metrics?: RecorderMetrics;
  log?: RecorderLog;
}

type StreamEntry = [id: string, fields: string[]];

export class RecorderWorker {
  private readonly redis: Redis;
  /** The record's keys under the prefix (as the store names them). */
  private readonly keys: ReturnType<typeof recordKeys>;
  readonly group: string;
  readonly consumer: string;
  private readonly archive: Archive;
  private readonly count: number;
  private readonly blockMs: number;
  private readonly claimIdleMs: number;
  private readonly gapTimeoutMs: number;
  private readonly metrics: RecorderMetrics | undefined;
  private readonly log: RecorderLog;
  private readonly groupsMade = new Set<string>();
  private readonly deferredSince = new Map<string, number>();
  private stopping = false;
  private archivingNow = 0;
  private lastLagAt = 0;

  constructor(opts: RecorderWorkerOptions) {
    this.redis = opts.redis;
    this.keys = recordKeys(opts.prefix ?? 'skillgate:');
    this.group = opts.group ?? 'skillgate-recorder';
    this.consumer = opts.consumer;
    this.archive = opts.archive;
    this.count = opts.count ?? 500;
    this.blockMs = opts.blockMs ?? 2000;
    this.claimIdleMs = opts.claimIdleMs ?? 60_000;
    this.gapTimeoutMs = opts.gapTimeoutMs ?? 5 * 60_000;
    this.metrics = opts.metrics;
    this.log = opts.log ?? { info: () => undefined, warn: () => undefined };
  }

  /** The streams to consume: every namespace stream the writers registered, plus checkpoints and kept-aside events. */
  async streams(): Promise<string[]> {
    const streams = [...(await this.redis.smembers(this.keys.streams)).sort(), this.keys.checkpoints, this.keys.conflicts];
    for (const s of streams) {
      if (this.groupsMade.has(s)) continue;
      try {
        await this.redis.xgroup('CREATE', s, this.group, '0', 'MKSTREAM');
      } catch (err) {
        if (!/BUSYGROUP/.test(String(err))) throw err;
      }
      this.groupsMade.add(s);
    }
    return streams;
  }

  /** One round: reclaim stuck entries, retry deferred ones, read new ones. Returns entries handled. */
  async runOnce(block = true): Promise<number> {
    const streams = await this.streams();
    const refusedKeys = await this.archive.putKeys(await this.redis.hgetall(this.keys.keys));
    if (refusedKeys.length > 0) this.log.warn({ keyIds: refusedKeys }, 'the record store holds public keys that are not the keys their ids name (altered in Redis?); not archived, checkpoints signed under those ids will not verify from Redis');
    let handled = 0;
    for (const s of streams) {
      const [, claimed] = (await this.redis.call('XAUTOCLAIM', s, this.group, this.consumer, String(this.claimIdleMs), '0-0', 'COUNT', String(this.count))) as [string, Array<StreamEntry | null>];
      const entries = claimed.filter((e): e is StreamEntry => e !== null);
      if (entries.length > 0) {
        this.metrics?.claimed.inc(entries.length);
        this.log.info({ stream: s, claimed: entries.length }, 'reclaimed entries from a stopped consumer');
        handled += await this.handle(s, entries);
      }
    }
    if (this.deferredSince.size > 0) handled += await this.read(streams, '0', false);
    handled += await this.read(streams, '>', block);
    if (Date.now() - this.lastLagAt > 5000) await this.updateLag(streams);
    this.metrics?.deferred.set(this.deferredSince.size);
    return handled;
  }

  private async read(streams: string[], id: '0' | '>', block: boolean): Promise<number> {
    const args = ['GROUP', this.group, this.consumer, 'COUNT', String(this.count)];
    if (block) args.push('BLOCK', String(this.blockMs));
    const reply = (await this.redis.call('XREADGROUP', ...args, 'STREAMS', ...streams, ...streams.map(() => id))) as unknown[] | null;
    let handled = 0;
    for (const [stream, entries] of streamReplies(reply)) if (entries.length > 0) handled += await this.handle(stream, entries);
    return handled;
  }

  /** Archive entries of one stream in order, then acknowledge what is durable. */
  private async handle(stream: string, entries: StreamEntry[]): Promise<number> {
    this.archivingNow++;
    try {
      return await this.archiveEntries(stream, entries);
    } finally {
      this.archivingNow--;
    }
  }

  /** Whether a round is writing to the archive now (a stop then waits for it before the archive closes). */
  get archiving(): boolean {
    return this.archivingNow > 0;
  }

  private async archiveEntries(stream: string, entries: StreamEntry[]): Promise<number> {
    const ack: string[] = [];
    const events: SessionEvent[] = [];
    const checkpoints: Checkpoint[] = [];
    const keptAside: KeptAsideEvent[] = [];
    const next = new Map<string, number>();
    const held = new Set<string>();
    for (const [id, fields] of entries) {
      if (!fields) { ack.push(id); continue; } // deleted while pending
      if (stream === this.keys.checkpoints) {
        const cp = parseField(fields, 'c') as Checkpoint | undefined;
        if (cp) checkpoints.push(cp);
        ack.push(id);
        continue;
      }
      if (stream === this.keys.conflicts) {
        const kept = keptAsideEntry(fields);
        if (kept) keptAside.push(kept);
        ack.push(id);
        continue;
      }
      const e = parseField(fields, 'e') as SessionEvent | undefined;
      if (!e || typeof e.sessionId !== 'string') {
        this.log.warn({ stream, id }, 'stream entry is not a session event; acknowledged without archiving');
        ack.push(id);
        continue;
      }
      if (held.has(e.sessionId)) { this.defer(id); continue; }
      const last = next.has(e.sessionId) ? next.get(e.sessionId)! - 1 : await this.archive.lastSeq(e.sessionId);
      if (last !== undefined && e.seq <= last) { ack.push(id); this.deferredSince.delete(id); continue; } // already archived
      const inOrder = last === undefined || e.seq === last + 1;
      const since = this.deferredSince.get(id);
      if (!inOrder && !(since !== undefined && Date.now() - since > this.gapTimeoutMs)) {
        this.defer(id);
        held.add(e.sessionId);
        continue;
      }
      events.push(e);
      next.set(e.sessionId, e.seq + 1);
      ack.push(id);
      this.deferredSince.delete(id);
    }
    if (events.length > 0) await this.archive.appendEvents(events);
    if (checkpoints.length > 0) await this.archive.appendCheckpoints(checkpoints);
    if (keptAside.length > 0) await this.archive.appendKeptAside(keptAside);
    // Acknowledge only after the archive write resolved (fsync'd): a crash before this line leaves
    // the entries pending, to be reclaimed and (idempotently) archived again.
    if (ack.length > 0) await this.redis.xack(stream, this.group, ...ack);
    this.metrics?.archived.inc(events.length);
    this.metrics?.checkpoints.inc(checkpoints.length);
    this.metrics?.keptAside.inc(keptAside.length);
    return entries.length;
  }

  private defer(id: string): void {
    if (!this.deferredSince.has(id)) this.deferredSince.set(id, Date.now());
  }

  private async updateLag(streams: string[]): Promise<void> {
    this.lastLagAt = Date.now();
    for (const s of streams) {
      const groups = (await this.redis.call('XINFO', 'GROUPS', s)) as Array<Array<string | number | null>>;
      for (const g of groups) {
        const info: Record<string, unknown> = {};
        for (let i = 0; i + 1 < g.length; i += 2) info[String(g[i])] = g[i + 1];
        if (info.name === this.group && typeof info.lag === 'number') this.metrics?.lag.set({ stream: s }, info.lag);
      }
    }
  }

  /** Run rounds until stop(); errors are logged and retried after a short pause. */
  async run(): Promise<void> {
    while (!this.stopping) {
      try {
        await this.runOnce(true);
      } catch (err) {
        if (this.stopping) break;
        this.log.warn({ err: (err as Error).message }, 'recorder round failed; retrying');
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
  }

  /** Stop after the current round (at most blockMs). */
  stop(): void {
    this.stopping = true;
  }
}

/**
 * XREADGROUP's reply per stream. RESP2 answers [[stream, entries], ...]; over RESP3 (ioredis 6's
 * default with Redis 7) the map arrives flattened as [stream, entries, stream, entries, ...].
 */
export function streamReplies(reply: unknown[] | null): Array<[string, StreamEntry[]]> {
  if (!reply || reply.length === 0) return [];
  if (typeof reply[0] === 'string') {
    const out: Array<[string, StreamEntry[]]> = [];
    for (let i = 0; i + 1 < reply.length; i += 2) out.push([reply[i] as string, reply[i + 1] as StreamEntry[]]);
    return out;
  }
  return reply as Array<[string, StreamEntry[]]>;
}

/** A connection for a worker: waits through Redis restarts instead of failing commands. */
export function recorderRedis(url: string, onError: (err: Error) => void): Redis {
  const redis = new Redis(url, { maxRetriesPerRequest: null });
  redis.on('error', onError);
  return redis;
}
