// The one interface every session store implements (the embedded local file store and Redis
// Streams), plus the read-only side that archives implement too. Every CLI command is written
// against these, so it works the same on any of them. Stores never seal or re-order events: they
// keep exactly what they are given, in the order given, and hand it back in that order.
import { normalizeOwner, type SkillIdentity } from '@skillgate/api';
import { canonicalJson } from './canonical.js';
import { markRestated, type ChainHead } from './chain.js';
import type { Checkpoint } from './checkpoint.js';
import type { SessionEvent } from './event.js';

/**
 * One thing to append: a sealed session event or a signed checkpoint. An event entry may carry
 * `json`, the event's text as sealed (exactly `canonicalJson(event)`, see sealEventJson), which
 * stores write instead of serialising the event again; without it they serialise the event.
 */
export type RecordEntry =
  | { type: 'event'; event: SessionEvent; json?: string }
  /** publicKeyPem: the signing key, carried by a checkpoint that waits in a spool (see recorder.ts). */
  | { type: 'checkpoint'; checkpoint: Checkpoint; publicKeyPem?: string };

/**
 * An append found another chain at an entry's place in its session: the store holds a different
 * event at that seq, or the entry is the next event but does not link to the stored head. A write
 * this process counted as failed had landed after all, or another writer records the same session.
 * Nothing of that append was stored; the stored head is the one to continue from.
 */
export class ChainConflictError extends Error {
  constructor(readonly sessionId: string, readonly seq: number) {
    super(`the record already holds another event at ${sessionId} seq ${seq}`);
    this.name = 'ChainConflictError';
  }
}

/** The text a store keeps for an event entry: its canonical JSON, the text it was sealed as. */
export function eventText(entry: { event: SessionEvent; json?: string }): string {
  return entry.json ?? canonicalJson(entry.event);
}

/**
 * An event from the text a store keeps for it (undefined when that is not a JSON object). Stores
 * keep the canonical text an event was sealed as; a text that is not (a member named twice, a
 * string or number spelled another way) parses to a value whose hash may still match while another
 * reader of the same bytes sees something else, so it is marked for verify to name (markRestated).
 */
export function parseEventText(text: string): SessionEvent | undefined {
  let v: unknown;
  try { v = JSON.parse(text); } catch { return undefined; }
  if (!v || typeof v !== 'object' || Array.isArray(v)) return undefined;
  let canonical: string | undefined;
  try { canonical = canonicalJson(v); } catch { /* not canonical JSON at all */ }
  if (canonical !== text) markRestated(v);
  return v as SessionEvent;
}

/** Events from JSON lines as a store keeps them (parseJsonLines, each line read by parseEventText). */
export function parseEventLines(text: string): SessionEvent[] {
  return parseJsonLines(text, parseEventText);
}

/** An entry as one JSON line (the spool's format): the same object as JSON.stringify(entry), minus `json`. */
export function entryLine(entry: RecordEntry): string {
  return entry.type === 'event' ? `{"type":"event","event":${eventText(entry)}}` : JSON.stringify(entry);
}

/**
 * An event kept out of its session's chain by a chain conflict (another writer's chain holds its
 * place) that records something already done (an answer the skill got, a stream's events, an egress
 * attempt), as a store keeps it for responders: outside every chain, never replayed into one.
 */
export interface KeptAsideEvent {
  event: SessionEvent;
  /** The recorder that sealed it (its checkpoint writer id). */
  writer: string;
  /** When it was kept aside (ISO 8601). */
  keptAt: string;
}

export interface SessionFilter {
  skill?: string;
  owner?: string;
  namespace?: string;
  /** Sessions with activity at or after this time. */
  since?: Date;
  /** Sessions that started at or before this time. */
  until?: Date;
}

export interface SessionSummary {
  sessionId: string;
  identity: SkillIdentity;
  firstTs: string;
  lastTs: string;
  /** Events held (last seq + 1 as written). */
  events: number;
  head: string;
  closed: boolean;
}

/** The read side: what forensics (list, show, replay, find, verify, export) needs. */
export interface SessionReader {
  /** A human description of where the records are (for messages). */
  readonly location: string;
  /** The session's events in stored order (which verify checks against seq order). */
  readSession(sessionId: string): Promise<SessionEvent[]>;
  listSessions(filter?: SessionFilter): Promise<SessionSummary[]>;
  /** Checkpoints in stored order. */
  checkpoints(): Promise<Checkpoint[]>;
  /** Public keys by key id, as published by writers. */
  publicKeys(): Promise<Record<string, string>>;
  /** Every event of the sessions matching the filter (order within a session preserved). */
  scanEvents(filter?: SessionFilter): AsyncIterable<SessionEvent>;
  /** A live store's own head of a session (updated with every append), which verify checks chains against. */
  head?(sessionId: string): Promise<ChainHead | undefined>;
  /** A live store's own record of each checkpoint writer's last checkpoint (Redis), which verify checks against. */
  checkpointWriters?(): Promise<Map<string, { seq: number; tsMs?: number }>>;
  /** Events kept aside after chain conflicts (see KeptAsideEvent), oldest first. */
  keptAside?(): Promise<KeptAsideEvent[]>;
  /**
   * Every session the store holds a chain for, found by its own keys or files rather than by the
   * listing (which an attacker can edit to hide a session): `verify --all` checks each.
   */
  heldSessions?(): Promise<string[]>;
  /**
   * How many of a session's first events the store's retention removed (Redis trims a stream from
   * its start): verify checks the chain from the first event kept instead of naming them missing.
   */
  trimmed?(sessionId: string): Promise<number>;
  close(): Promise<void>;
}

/** The write side used by SessionRecorder. */
export interface SessionStore extends SessionReader {
  /**
   * Append entries in order; resolves once they are durable. Idempotent per (session, seq): an
   * event whose seq is not beyond the session's stored head is skipped, so replaying a spool that
   * partly reached the store adds nothing twice.
   */
  append(entries: readonly RecordEntry[]): Promise<void>;
  /** The stored head of a session, or undefined when the store holds none of it. */
  head(sessionId: string): Promise<ChainHead | undefined>;
  publishKey(keyId: string, publicKeyPem: string): Promise<void>;
  /** Keep events aside, outside their chains, for responders to read (keptAside); durable when it resolves. */
  keepAside?(entries: ReadonlyArray<{ event: SessionEvent; json?: string }>, writer: string, keptAt: string): Promise<void>;
}

/**
 * The sessions a store holds but does not list (SessionReader.heldSessions): its listing was altered
 * to hide them from `sessions list`, `find` and `export --all` (verify names each as misfiled).
 * None when the reader cannot tell.
 */
export async function unlistedSessions(reader: SessionReader): Promise<string[]> {
  if (!reader.heldSessions) return [];
  const held = await reader.heldSessions();
  if (held.length === 0) return [];
  const listed = new Set((await reader.listSessions()).map((s) => s.sessionId));
  return held.filter((id) => !listed.has(id));
}

export function matchesFilter(identity: SkillIdentity, firstTs: string, lastTs: string, filter: SessionFilter = {}): boolean {
  if (filter.skill && identity.skill !== filter.skill) return false;
  if (filter.owner && normalizeOwner(identity.owner) !== normalizeOwner(filter.owner)) return false;
  if (filter.namespace && identity.namespace !== filter.namespace) return false;
  if (filter.since && Date.parse(lastTs) < filter.since.getTime()) return false;
  if (filter.until && Date.parse(firstTs) > filter.until.getTime()) return false;
  return true;
}

/** Parse JSON lines, skipping a torn last line and lines that are not JSON objects. */
export function parseJsonLines<T>(text: string, parseLine?: (line: string) => T | undefined): T[] {
  const out: T[] = [];
  let start = 0;
  while (start < text.length) {
    const nl = text.indexOf('\n', start);
    if (nl === -1) break; // torn tail: never acknowledged, never counted
    const line = text.slice(start, nl);
    start = nl + 1;
    if (line.length === 0) continue;
    if (parseLine) {
      const v = parseLine(line);
      if (v !== undefined) out.push(v);
      continue;
    }
    try {
      const v = JSON.parse(line) as unknown;
      if (v && typeof v === 'object') out.push(v as T);
    } catch {
      // an unparseable line is reported by verify as the seq it should have held
    }
  }
  return out;
}
