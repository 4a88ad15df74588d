// The lock feed: how the controller tells every sidecar which locks are in force. Three Redis
// structures under one prefix serve three needs:
//   - `<prefix>locks:events`   pub/sub channel: every change, pushed the moment it happens (speed);
//   - `<prefix>locks:stream`   a stream whose entry ids are `<version>-0`: replay after a short gap;
//   - `<prefix>locks:snapshot` the whole set with its version: resync on (re)connect or a long gap.
// Every change bumps a version by one, so a subscriber always knows whether it missed something.
// This module is the protocol only (names, message shapes, decoding); the Redis I/O is in
// lock-feed-publisher.ts (the controller) and lock-feed-subscriber.ts (the sidecar).
// Decoding reads each lock on its own: a lock this version cannot read (a target kind a newer
// controller added) is handed back as unreadable, never a reason to reject the rest of the set.
import { validateLock, type Lock } from './lock.js';

export const DEFAULT_FEED_PREFIX = 'skillgate:';

/**
 * How long a subscriber lets the publisher stay silent before that counts as the feed being lost,
 * by default (the controller heartbeats every 2 s). A subscriber's owner with a tighter loss bound
 * passes that instead.
 */
export const DEFAULT_MAX_SILENCE_MS = 15_000;

export interface FeedKeys {
  channel: string;
  stream: string;
  snapshot: string;
  version: string;
}

export function feedKeys(prefix = DEFAULT_FEED_PREFIX): FeedKeys {
  return {
    channel: `${prefix}locks:events`,
    stream: `${prefix}locks:stream`,
    snapshot: `${prefix}locks:snapshot`,
    version: `${prefix}locks:version`,
  };
}

export type FeedMessage =
  | { op: 'put'; v: number; lock: Lock }
  | { op: 'remove'; v: number; name: string }
  /** The set was replaced wholesale (controller start, full resync): fetch the snapshot. */
  | { op: 'reset'; v: number }
  /** Liveness: carries the current version so a subscriber notices what it missed. */
  | { op: 'heartbeat'; v: number };

export interface FeedSnapshot {
  v: number;
  locks: Lock[];
  /** RFC 3339, for humans. */
  at: string;
}

/** A published lock this version cannot read: its name when it has one, and why. */
export interface UnreadableLock {
  name?: string;
  error: string;
}

/** A snapshot as read: the locks that could be read, and those that could not. */
export interface DecodedSnapshot extends FeedSnapshot {
  unreadable: UnreadableLock[];
}

/**
 * A message as read: a put whose lock cannot be read comes back as `unreadable`, with its version,
 * so the subscriber keeps its place in the version order and applies everything else.
 */
export type DecodedMessage = FeedMessage | { op: 'unreadable'; v: number; lock: UnreadableLock };

export class FeedFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FeedFormatError';
  }
}

export const encodeMessage = (m: FeedMessage): string => JSON.stringify(m);
export const encodeSnapshot = (s: FeedSnapshot): string => JSON.stringify(s);

export function decodeMessage(text: string): DecodedMessage {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new FeedFormatError('lock feed message is not JSON');
  }
  if (!o || typeof o !== 'object' || typeof o.v !== 'number' || !Number.isInteger(o.v)) throw new FeedFormatError('lock feed message lacks an integer version');
  switch (o.op) {
    case 'put': {
      const read = readLock(o.lock);
      return 'error' in read ? { op: 'unreadable', v: o.v, lock: read } : { op: 'put', v: o.v, lock: read };
    }
    case 'remove':
      if (typeof o.name !== 'string') throw new FeedFormatError('remove message lacks a lock name');
      return { op: 'remove', v: o.v, name: o.name };
    case 'reset': return { op: 'reset', v: o.v };
    case 'heartbeat': return { op: 'heartbeat', v: o.v };
    default: throw new FeedFormatError(`unknown lock feed op ${String(o.op)}`);
  }
}

export function decodeSnapshot(text: string): DecodedSnapshot {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new FeedFormatError('lock snapshot is not JSON');
  }
  if (!o || typeof o !== 'object' || typeof o.v !== 'number' || !Number.isInteger(o.v) || !Array.isArray(o.locks)) throw new FeedFormatError('lock snapshot lacks v or locks');
  const locks: Lock[] = [];
  const unreadable: UnreadableLock[] = [];
  for (const entry of o.locks as unknown[]) {
    const read = readLock(entry);
    if ('error' in read) unreadable.push(read);
    else locks.push(read);
  }
  return { v: o.v, locks, unreadable, at: typeof o.at === 'string' ? o.at : '' };
}

/** One published lock, or why it cannot be read (with its name, when it has a readable one). */
function readLock(input: unknown): Lock | UnreadableLock {
  try {
    return validateLock(input);
  } catch (err) {
    const name = input && typeof input === 'object' ? (input as Record<string, unknown>).name : undefined;
    return { ...(typeof name === 'string' && name ? { name } : {}), error: (err as Error).message };
  }
}

/** Stream entry id for a version: versions are the stream's own order. */
export const streamId = (v: number): string => `${v}-0`;
export const versionOfStreamId = (id: string): number => Number(id.split('-')[0]);

/** How the publisher and the subscriber log (the components pass their pino logger through it). */
export type FeedLog = (level: 'debug' | 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;
export const silentFeedLog: FeedLog = () => undefined;
