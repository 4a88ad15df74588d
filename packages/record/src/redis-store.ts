// Session store on Redis Streams (through @skillgate/resp's RedisConnection). Layout, under a key prefix (default "skillgate:"):
//   {p}ns:<namespace>           STREAM  every event of the namespace, fields s=<sessionId> e=<event JSON>
//   {p}session:<id>             HASH    identity, first/last time, head seq/hash, closed, stream key
//   {p}session:<id>:idx         LIST    the stream entry ids of the session, in append order
//   {p}sessions                 ZSET    session ids scored by first-event time (ms)
//   {p}streams                  SET     the namespace streams (the recorder discovers them here)
//   {p}checkpoints              STREAM  signed checkpoints, field c=<checkpoint JSON>
//   {p}checkpoints:writers      HASH    writer -> "seq:tsMs" of its last stored checkpoint (no duplicates;
//                                       verify checks each writer's checkpoints reach it)
//   {p}keys                     HASH    keyId -> public key PEM
//   {p}conflicts                STREAM  events kept aside after a chain conflict, fields s=<sessionId>
//                                       w=<writer> t=<kept at> e=<event JSON> (outside every chain)
// Why one stream per namespace: the namespace is Kubernetes' tenancy boundary (RBAC, quotas, Redis
// ACL key patterns map onto it), it bounds the number of streams the recorder's consumer group has
// to watch (skills come and go; namespaces are few), and retention is set per tenant. Reading one
// session never scans the stream: its index lists the entry ids, fetched with pipelined XRANGE.
// Appends run as one Lua script per chunk (atomic: the entry, its index entry and the head move
// together) and are idempotent per (session, seq): replaying a spool adds nothing twice. An entry
// that is not the stored event at its seq, or a next event that does not link to the stored head,
// refuses the whole chunk (ChainConflictError): another writer's chain holds that place.
// Retention: XADD MAXLEN ~ n or MINID ~ (now - maxAge); index and head keys expire after maxAge.
// This module never sees a credential: it stores what it is given (already masked) and nothing else.
import { createHash } from 'node:crypto';
import { RedisConnection, RespError } from '@skillgate/resp';
import type { SkillIdentity } from '@skillgate/api';
import type { ChainHead } from './chain.js';
import type { Checkpoint } from './checkpoint.js';
import type { SessionEvent } from './event.js';
import { ChainConflictError, eventText, matchesFilter, parseEventText, type KeptAsideEvent, type RecordEntry, type SessionFilter, type SessionStore, type SessionSummary } from './store.js';

export interface RedisRetention {
  /** Approximate cap on entries per namespace stream (XADD MAXLEN ~). */
  maxLen?: number;
  /** Drop entries older than this (XADD MINID ~), and expire session indexes after it. */
  maxAgeMs?: number;
}

export interface RedisStoreOptions {
  /** redis://host:port/db (rediss:// for TLS; a user and password for AUTH). */
  redis: string;
  prefix?: string;
  retention?: RedisRetention;
  /**
   * For a recorder on the request path: a command waits at most 2 s for a connection, so the
   * recorder can spool instead of waiting. Otherwise (the CLI) up to 5 s.
   */
  failFast?: boolean;
}

const ENTRY_ARGS = 9;
const ENTRY_KEYS = 3;
const CHUNK = 512;

// KEYS: sessions zset, streams set, then per entry (stream, index, head hash) or (checkpoints,
// checkpoint writers, checkpoints)
// ARGV: maxLen, minId, ttlMs, then per entry: type, sessionId, seq, tsMs, closed, json,
// identityJson, hash, prev (a checkpoint: 'c', writer, seq, '', '', json, '', '', ''). Each event travels once,
// as its sealed text. The session's identity (kept on its head for listing) is sent with the
// session's first event (seq 0) only; should a later event find no head (expired by retention,
// say), the script reads the identity out of the event's text.
// Per session and call, the head is read once, the new entry ids go to its index in one RPUSH and
// the head moves once, after the last event: a batch of a session's events costs one XADD each
// plus three commands, not four commands each.
// (Lua: unpack() only expands as the last argument, so XADD's arguments are built as a table.)
const APPEND_SCRIPT = `
local maxlen, minid, ttl = ARGV[1], ARGV[2], ARGV[3]
local n = (#ARGV - 3) / ${ENTRY_ARGS}
local added = 0
local xargs = {''}
if maxlen ~= '' then xargs = {'', 'MAXLEN', '~', maxlen}
elseif minid ~= '' then xargs = {'', 'MINID', '~', minid} end
table.insert(xargs, '*')
local base = #xargs
local function xadd(stream, f1, v1, f2, v2)
  xargs[1] = stream
  xargs[base + 1], xargs[base + 2] = f1, v1
  if f2 then xargs[base + 3], xargs[base + 4] = f2, v2 else xargs[base + 3], xargs[base + 4] = nil, nil end
  return redis.call('XADD', unpack(xargs))
end
local heads, order = {}, {}
local function conflict(a, seq)
  return redis.error_reply('CHAINCONFLICT ' .. ARGV[a + 2] .. ' ' .. seq)
end
-- First, before anything is written: each session's stored head, and any entry of another chain
-- (not the stored event at its seq, or a next event not linked to the stored head) refuses the
-- whole append.
for i = 0, n - 1 do
  local a = 3 + i * ${ENTRY_ARGS}
  local k = 2 + i * ${ENTRY_KEYS}
  if ARGV[a + 1] ~= 'c' then
    local headKey = KEYS[k + 3]
    local h = heads[headKey]
    if not h then
      local stored = redis.call('HMGET', headKey, 'seq', 'hash')
      h = { last = stored[1] and tonumber(stored[1]) or -1, lastHash = stored[2], fresh = not stored[1], idx = KEYS[k + 2], ids = {} }
      heads[headKey] = h
      table.insert(order, headKey)
    end
    local seq = tonumber(ARGV[a + 3])
    if seq == h.last and ARGV[a + 8] ~= h.lastHash then return conflict(a, seq) end
    -- The next event links to another head than the stored one: another writer's chain.
    if seq == h.last + 1 and not h.fresh and ARGV[a + 9] ~= h.lastHash then return conflict(a, seq) end
    if seq < h.last then
      -- Behind the head (a spool replayed, a write retried): stored already only if the event
      -- stored at this seq is this one. The index holds one entry id per seq (from the first
      -- stored one); an entry trimmed or not found at its seq cannot be compared and counts as stored.
      local id = redis.call('LINDEX', h.idx, seq)
      local got = id and redis.call('XRANGE', KEYS[k + 1], id, id)
      if got and got[1] then
        local ok, stored = pcall(cjson.decode, got[1][2][4])
        if ok and type(stored) == 'table' and stored.seq == seq and stored.hash ~= ARGV[a + 8] then return conflict(a, seq) end
      end
    end
  end
end
for i = 0, n - 1 do
  local a = 3 + i * ${ENTRY_ARGS}
  local k = 2 + i * ${ENTRY_KEYS}
  local stream = KEYS[k + 1]
  if ARGV[a + 1] == 'c' then
    -- Once per (writer, checkpoint seq): a replayed or retried checkpoint is not stored twice.
    local seen = redis.call('HGET', KEYS[k + 2], ARGV[a + 2])
    if not seen or tonumber(string.match(seen, '^%d+')) < tonumber(ARGV[a + 3]) then
      xadd(stream, 'c', ARGV[a + 6])
      redis.call('HSET', KEYS[k + 2], ARGV[a + 2], ARGV[a + 3] .. ':' .. ARGV[a + 4])
      added = added + 1
    end
  else
    local sid, seq, ts, closed, json = ARGV[a + 2], tonumber(ARGV[a + 3]), ARGV[a + 4], ARGV[a + 5], ARGV[a + 6]
    local headKey = KEYS[k + 3]
    local h = heads[headKey]
    if h.last < seq then
      table.insert(h.ids, xadd(stream, 's', sid, 'e', json))
      if h.fresh then
        local identity = ARGV[a + 7]
        if identity == '' then
          local ok, ev = pcall(cjson.decode, json)
          identity = (ok and type(ev) == 'table' and type(ev.identity) == 'table') and cjson.encode(ev.identity) or '{}'
        end
        redis.call('HSET', headKey, 'identity', identity, 'firstTs', ts, 'stream', stream)
        redis.call('ZADD', KEYS[1], ts, sid)
        redis.call('SADD', KEYS[2], stream)
        h.fresh = false
      end
      h.last, h.hash, h.ts, h.closed = seq, ARGV[a + 8], ts, closed
      added = added + 1
    end
  end
end
for _, headKey in ipairs(order) do
  local h = heads[headKey]
  if #h.ids > 0 then
    redis.call('RPUSH', h.idx, unpack(h.ids))
    redis.call('HSET', headKey, 'seq', h.last, 'hash', h.hash, 'lastTs', h.ts, 'closed', h.closed)
    if ttl ~= '' then
      redis.call('PEXPIRE', h.idx, ttl)
      redis.call('PEXPIRE', headKey, ttl)
    end
  end
end
return added
`;
const APPEND_SHA = createHash('sha1').update(APPEND_SCRIPT).digest('hex');

/**
 * The record's keys that are not per session or namespace, under a prefix: named here once, for
 * the store and for the recorder worker that consumes them.
 */
export function recordKeys(prefix: string) {
  return {
    sessions: `${prefix}sessions`,
    streams: `${prefix}streams`,
    checkpoints: `${prefix}checkpoints`,
    checkpointWriters: `${prefix}checkpoints:writers`,
    keys: `${prefix}keys`,
    conflicts: `${prefix}conflicts`,
  };
}

export class RedisSessionStore implements SessionStore {
  readonly location: string;
  readonly prefix: string;
  /** The record's keys under the prefix (recordKeys). */
  readonly keys: ReturnType<typeof recordKeys>;
  private readonly retention: RedisRetention;
  /** One connection for the append script and the reads (packages/resp). */
  private readonly redis: RedisConnection;

  constructor(opts: RedisStoreOptions) {
    this.prefix = opts.prefix ?? 'skillgate:';
    this.keys = recordKeys(this.prefix);
    this.retention = opts.retention ?? {};
    this.redis = new RedisConnection(opts.redis, { connectTimeoutMs: opts.failFast ? 2000 : 5000 });
    this.location = `Redis ${this.redis.location} (prefix ${this.prefix})`;
  }

  /** Resolve once connected; reject with a one-line reason after `timeoutMs`. */
  async ready(timeoutMs = 5000): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`cannot reach ${this.location} within ${timeoutMs} ms`)), timeoutMs); });
    try {
      await Promise.race([this.redis.connected().catch((err: Error) => { throw new Error(`cannot reach ${this.location}: ${err.message}`); }), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  streamKey(namespace: string): string { return `${this.prefix}ns:${namespace}`; }
  headKey(sessionId: string): string { return `${this.prefix}session:${sessionId}`; }
  indexKey(sessionId: string): string { return `${this.prefix}session:${sessionId}:idx`; }

  /** The retention a stream append applies: MAXLEN ~ n, else MINID ~ (now - maxAge), else none ('' each). */
  private trim(): { maxLen: string; minId: string } {
    const maxLen = this.retention.maxLen ? String(this.retention.maxLen) : '';
    const minId = !maxLen && this.retention.maxAgeMs ? `${Date.now() - this.retention.maxAgeMs}-0` : '';
    return { maxLen, minId };
  }

  async append(entries: readonly RecordEntry[]): Promise<void> {
    if (entries.length === 0) return;
    const { maxLen, minId } = this.trim();
    const ttl = this.retention.maxAgeMs ? String(this.retention.maxAgeMs) : '';
    const calls: Array<[number, ...string[]]> = [];
    for (let i = 0; i < entries.length; i += CHUNK) {
      const keys: string[] = [this.keys.sessions, this.keys.streams];
      const args: string[] = [maxLen, minId, ttl];
      for (const entry of entries.slice(i, i + CHUNK)) {
        if (entry.type === 'checkpoint') {
          keys.push(this.keys.checkpoints, this.keys.checkpointWriters, this.keys.checkpoints);
          args.push('c', entry.checkpoint.writer, String(entry.checkpoint.seq), String(Date.parse(entry.checkpoint.ts)), '', JSON.stringify(entry.checkpoint), '', '', '');
        } else {
          const e = entry.event;
          keys.push(this.streamKey(e.identity.namespace), this.indexKey(e.sessionId), this.headKey(e.sessionId));
          args.push('e', e.sessionId, String(e.seq), String(Date.parse(e.ts)), e.kind === 'session_close' ? '1' : '0', eventText(entry), e.seq === 0 ? JSON.stringify(e.identity) : '', e.hash, e.prev);
        }
      }
      calls.push([keys.length, ...keys, ...args]);
    }
    // One EVALSHA per chunk (the usual batch is one), written back to back on the connection.
    const errors = await Promise.all(calls.map((call) => this.redis.command(['EVALSHA', APPEND_SHA, ...call]).then(() => null, (err: unknown) => err)));
    // A broken connection is the store being unreachable: the recorder spools.
    const lost = errors.find((err) => err && !(err instanceof RespError));
    if (lost) throw lost;
    const conflict = errors.map((err) => /CHAINCONFLICT (\S+) (\d+)/.exec(String(err))).find(Boolean);
    if (conflict) throw new ChainConflictError(conflict[1]!, Number(conflict[2]));
    if (errors.some((err) => err && /NOSCRIPT/.test(String(err)))) {
      await this.redis.command(['SCRIPT', 'LOAD', APPEND_SCRIPT]);
      // Entries that did land before the NOSCRIPT are skipped by the script's seq check.
      return this.append(entries);
    }
    const failed = errors.find((err) => err);
    if (failed) throw new Error(`Redis append failed: ${String(failed)}`);
  }

  /** Each checkpoint writer's last stored checkpoint (seq, and its time in ms when known), as the append script recorded it. */
  async checkpointWriters(): Promise<Map<string, { seq: number; tsMs?: number }>> {
    const all = await this.hgetall(this.keys.checkpointWriters);
    return new Map(Object.entries(all).map(([writer, v]) => {
      const [seq, ts] = v.split(':');
      return [writer, { seq: Number(seq), ...(ts ? { tsMs: Number(ts) } : {}) }];
    }));
  }

  async head(sessionId: string): Promise<ChainHead | undefined> {
    const [seq, hash, closed] = (await this.redis.command(['HMGET', this.headKey(sessionId), 'seq', 'hash', 'closed'])) as Array<string | null>;
    if (seq === null || seq === undefined || hash === null || hash === undefined) return undefined;
    return { seq: Number(seq), hash, closed: closed === '1' };
  }

  async publishKey(keyId: string, publicKeyPem: string): Promise<void> {
    await this.redis.command(['HSET', this.keys.keys, keyId, publicKeyPem]);
  }

  /** The sessions whose head keys the store holds, listed or not (SCAN: a pass over the key space). */
  async heldSessions(): Promise<string[]> {
    const from = `${this.prefix}session:`;
    const out: string[] = [];
    let cursor = '0';
    do {
      const [next, keys] = (await this.redis.command(['SCAN', cursor, 'MATCH', `${globEscaped(from)}*`, 'COUNT', 1000])) as [string, string[]];
      cursor = next;
      for (const key of keys) if (!key.endsWith(':idx')) out.push(key.slice(from.length));
    } while (cursor !== '0');
    return [...new Set(out)]; // SCAN may return a key more than once
  }

  async readSession(sessionId: string): Promise<SessionEvent[]> {
    const stream = (await this.redis.command(['HGET', this.headKey(sessionId), 'stream'])) as string | null;
    const ids = (await this.redis.command(['LRANGE', this.indexKey(sessionId), 0, -1])) as string[];
    if (!stream || ids.length === 0) return [];
    const out: SessionEvent[] = [];
    for (let i = 0; i < ids.length; i += 1000) {
      // Sent back to back, answered in order: one round trip per thousand.
      const replies = await Promise.all(ids.slice(i, i + 1000).map((id) => this.redis.command(['XRANGE', stream, id, id])));
      for (const reply of replies) {
        const entries = reply as Array<[string, string[]]>;
        // An id whose entry is gone (XDEL, trimmed) yields nothing: verify names the seq missing.
        const text = entries[0] ? fieldText(entries[0][1], 'e') : undefined;
        const event = text === undefined ? undefined : parseEventText(text);
        if (event) out.push(event);
      }
    }
    return out;
  }

  /**
   * How many of the session's first events retention removed: its index names entries older than
   * the oldest its stream still holds (XADD MAXLEN/MINID trims a stream from its start, all
   * sessions alike). An entry deleted from the middle (XDEL) is not counted: verify names it missing.
   */
  async trimmed(sessionId: string): Promise<number> {
    const stream = (await this.redis.command(['HGET', this.headKey(sessionId), 'stream'])) as string | null;
    if (!stream) return 0;
    const [ids, oldest] = await Promise.all([
      this.redis.command(['LRANGE', this.indexKey(sessionId), 0, -1]) as Promise<string[]>,
      this.redis.command(['XRANGE', stream, '-', '+', 'COUNT', 1]) as Promise<Array<[string, string[]]>>,
    ]);
    const first = oldest[0]?.[0];
    let n = 0;
    while (n < ids.length && (first === undefined || streamIdBefore(ids[n]!, first))) n++;
    return n;
  }

  async listSessions(filter: SessionFilter = {}): Promise<SessionSummary[]> {
    const min = '-inf';
    const max = filter.until ? String(filter.until.getTime()) : '+inf';
    const ids = (await this.redis.command(['ZRANGEBYSCORE', this.keys.sessions, min, max])) as string[];
    const out: SessionSummary[] = [];
    for (let i = 0; i < ids.length; i += 500) {
      const chunk = ids.slice(i, i + 500);
      const heads = await Promise.all(chunk.map((id) => this.hgetall(this.headKey(id))));
      heads.forEach((h, j) => {
        if (!h.identity) return; // expired by retention
        const identity = JSON.parse(h.identity) as SkillIdentity;
        const firstTs = new Date(Number(h.firstTs)).toISOString();
        const lastTs = new Date(Number(h.lastTs)).toISOString();
        if (!matchesFilter(identity, firstTs, lastTs, filter)) return;
        out.push({ sessionId: chunk[j]!, identity, firstTs, lastTs, events: Number(h.seq) + 1, head: h.hash ?? '', closed: h.closed === '1' });
      });
    }
    return out;
  }

  async checkpoints(): Promise<Checkpoint[]> {
    const out: Checkpoint[] = [];
    for await (const [, fields] of this.rangeAll(this.keys.checkpoints)) {
      const cp = parseField(fields, 'c');
      if (cp) out.push(cp as Checkpoint);
    }
    return out;
  }

  async keepAside(entries: ReadonlyArray<{ event: SessionEvent; json?: string }>, writer: string, keptAt: string): Promise<void> {
    const { maxLen, minId } = this.trim();
    const retention = maxLen ? ['MAXLEN', '~', maxLen] : minId ? ['MINID', '~', minId] : [];
    // Written back to back on the connection, in order; resolves once Redis has them all.
    await Promise.all(entries.map((e) => this.redis.command(['XADD', this.keys.conflicts, ...retention, '*', 's', e.event.sessionId, 'w', writer, 't', keptAt, 'e', eventText(e)])));
  }

  async keptAside(): Promise<KeptAsideEvent[]> {
    const out: KeptAsideEvent[] = [];
    for await (const [, fields] of this.rangeAll(this.keys.conflicts)) {
      const kept = keptAsideEntry(fields);
      if (kept) out.push(kept);
    }
    return out;
  }

  async publicKeys(): Promise<Record<string, string>> {
    return this.hgetall(this.keys.keys);
  }

  /** A hash as an object (HGETALL's flat field, value list). */
  private async hgetall(key: string): Promise<Record<string, string>> {
    const flat = (await this.redis.command(['HGETALL', key])) as string[];
    const out: Record<string, string> = {};
    for (let i = 0; i + 1 < flat.length; i += 2) out[flat[i]!] = flat[i + 1]!;
    return out;
  }

  async *scanEvents(filter: SessionFilter = {}): AsyncIterable<SessionEvent> {
    for (const s of await this.listSessions(filter)) yield* await this.readSession(s.sessionId);
  }

  /** Every entry of a stream, in chunks (for checkpoints and the recorder's backfill). */
  async *rangeAll(stream: string, count = 1000): AsyncIterable<[string, string[]]> {
    let start = '-';
    for (;;) {
      const batch = (await this.redis.command(['XRANGE', stream, start, '+', 'COUNT', count])) as Array<[string, string[]]>;
      for (const entry of batch) yield entry;
      if (batch.length < count) return;
      start = `(${batch[batch.length - 1]![0]}`;
    }
  }

  async close(): Promise<void> {
    await this.redis.quit();
  }
}

/** The text in field `name` of a stream entry's flat field list. */
function fieldText(fields: string[], name: string): string | undefined {
  for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i] === name) return fields[i + 1];
  return undefined;
}

/** Whether stream entry id `a` ("ms-seq") comes before `b`. */
function streamIdBefore(a: string, b: string): boolean {
  const [am, as] = a.split('-');
  const [bm, bs] = b.split('-');
  const ams = BigInt(am ?? '0'), bms = BigInt(bm ?? '0');
  return ams < bms || (ams === bms && BigInt(as ?? '0') < BigInt(bs ?? '0'));
}

/** A kept-aside event from its entry's fields in the conflicts stream (undefined when it holds none). */
export function keptAsideEntry(fields: string[]): KeptAsideEvent | undefined {
  const event = parseField(fields, 'e');
  if (!event || typeof event !== 'object') return undefined;
  return { event: event as SessionEvent, writer: fieldText(fields, 'w') ?? '', keptAt: fieldText(fields, 't') ?? '' };
}

/** The JSON in field `name` of a stream entry's flat field list. */
export function parseField(fields: string[], name: string): unknown {
  const text = fieldText(fields, name);
  if (text === undefined) return undefined;
  try { return JSON.parse(text) as unknown; } catch { return undefined; }
}

/** `text` with the characters Redis glob patterns give a meaning escaped. */
function globEscaped(text: string): string {
  return text.replace(/[\\*?[\]]/g, (c) => `\\${c}`);
}
