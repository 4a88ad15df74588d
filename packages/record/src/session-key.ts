// Which session a request belongs to. A pure choice over what the request carries, in order of
// trust in the grouping: Claude Code's session header, the request's `container` id, the
// `metadata.user_id` the SDK sends, a header the policy names (recording.sessionHeader), and
// otherwise a gap in time (recording.sessionGapSeconds, default 30 minutes).
// Ids derived from a key are stable across sidecar restarts and include the skill's namespace,
// skill and pod, so two skills never share a chain; the raw key value is never stored in the id.
// The id is an HMAC under the installation masking key (the key of every fingerprint in the record),
// not a plain hash: a key is often a person's (`metadata.user_id` is the skill's end user), and
// whoever reads Redis could otherwise confirm a guess ("was jane@example.com a user of this skill?")
// by hashing it — as with `sessions find`, that takes the key.
import { createHmac, hash } from 'node:crypto';
import type { RecordingSpec, SkillIdentity } from '@skillgate/api';
import { newId } from '@skillgate/wire';
import type { SessionSource } from './event.js';

export const DEFAULT_SESSION_GAP_SECONDS = 30 * 60;

export interface SessionKeyInput {
  identity: SkillIdentity;
  /** Request headers, names in lower case (as node:http gives them). */
  headers: Record<string, string | string[] | undefined>;
  /** The parsed request body, when JSON. Only `container` and `metadata.user_id` are read. */
  body?: unknown;
}

/** The session the previous request of this skill landed in (for the time-gap rule). */
export interface PreviousSession {
  sessionId: string;
  lastSeenMs: number;
}

export interface SessionChoice {
  sessionId: string;
  source: SessionSource;
  /** True when this request starts a session the caller has not seen before. */
  isNew: boolean;
}

function firstValue(v: string | string[] | undefined): string | undefined {
  const s = Array.isArray(v) ? v[0] : v;
  return s && s.trim() !== '' ? s.trim() : undefined;
}

/** The explicit key a request carries, if any, and where it came from. */
export function sessionKeyOf(input: SessionKeyInput, spec: RecordingSpec = {}): { source: SessionSource; key: string } | undefined {
  const claude = firstValue(input.headers['x-claude-code-session-id']);
  if (claude) return { source: 'claude-code-session', key: claude };
  const body = input.body && typeof input.body === 'object' ? (input.body as Record<string, unknown>) : undefined;
  if (body) {
    if (typeof body.container === 'string' && body.container !== '') return { source: 'container', key: body.container };
    const metadata = body.metadata as Record<string, unknown> | undefined;
    if (metadata && typeof metadata === 'object' && typeof metadata.user_id === 'string' && metadata.user_id !== '') {
      return { source: 'metadata-user-id', key: metadata.user_id };
    }
  }
  if (spec.sessionHeader) {
    const v = firstValue(input.headers[spec.sessionHeader.toLowerCase()]);
    if (v) return { source: 'header', key: v };
  }
  return undefined;
}

/**
 * The stable session id for an explicit key: ses_ + 32 hex of HMAC-SHA256 under `secret` (the
 * installation masking key) of (identity scope, source, key); of a plain SHA-256 without one.
 */
export function sessionIdForKey(identity: SkillIdentity, source: SessionSource, key: string, secret?: string): string {
  const scope = `${identity.namespace}\u0000${identity.skill}\u0000${identity.pod}\u0000${source}\u0000${key}`;
  const digest = secret ? createHmac('sha256', secret).update(scope).digest('hex') : hash('sha256', scope, 'hex');
  return `ses_${digest.slice(0, 32)}`;
}

/**
 * sessionIdForKey with the last ids it made remembered: a keyed session's every request carries
 * the same key, and an HMAC per request is work a lookup spares. Bounded (a flood of keys resets it).
 */
export function sessionIds(maxEntries = 256): (identity: SkillIdentity, source: SessionSource, key: string, secret?: string) => string {
  let made = new Map<string, string>();
  return (identity, source, key, secret) => {
    const memo = `${secret ?? ''}\u0000${identity.namespace}\u0000${identity.skill}\u0000${identity.pod}\u0000${source}\u0000${key}`;
    let id = made.get(memo);
    if (id === undefined) {
      id = sessionIdForKey(identity, source, key, secret);
      if (made.size >= maxEntries) made = new Map();
      made.set(memo, id);
    }
    return id;
  };
}

/**
 * Choose the session of a request. `previous` is the time-gap session this skill used last (the
 * caller keeps it); `secret` keys the ids of explicit keys (sessionIdForKey); `idForKey` and
 * `newSessionId` are injectable (a remembering sessionIds(), tests).
 */
export function chooseSession(
  input: SessionKeyInput,
  spec: RecordingSpec | undefined,
  previous: PreviousSession | undefined,
  nowMs: number,
  newSessionId: () => string = () => newId('ses_', 24),
  secret?: string,
  idForKey: typeof sessionIdForKey = sessionIdForKey,
): SessionChoice {
  const keyed = sessionKeyOf(input, spec);
  if (keyed) return { sessionId: idForKey(input.identity, keyed.source, keyed.key, secret), source: keyed.source, isNew: false };
  const gapMs = (spec?.sessionGapSeconds ?? DEFAULT_SESSION_GAP_SECONDS) * 1000;
  if (previous && nowMs - previous.lastSeenMs <= gapMs) return { sessionId: previous.sessionId, source: 'time-gap', isNew: false };
  return { sessionId: newSessionId(), source: 'time-gap', isNew: true };
}
