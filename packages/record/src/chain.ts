// The per-session hash chain: each event commits to the previous one (`prev`) and to its own
// canonical content (`hash`), so changing, dropping or moving any event breaks a link that
// `verifySession` finds and names. Pure functions over plain events; no I/O, no clocks except the
// `now` a caller passes in.
import { canonicalJson } from './canonical.js';
import type { SkillIdentity } from '@skillgate/api';
import { EVENT_FORMAT_VERSION, sha256Hex, type EventDraft, type SessionEvent } from './event.js';
import { isoTimestamp } from './timestamp.js';

/** The `prev` of a session's first event. */
export const GENESIS = '0'.repeat(64);

/** Where a session's chain stands: the last sealed event's seq and hash. */
export interface ChainHead {
  seq: number;
  hash: string;
  closed: boolean;
}

/** sha256 of the canonical JSON of the event without its `hash` field. */
export function eventHash(event: Omit<SessionEvent, 'hash'> & { hash?: string }): string {
  return sha256Hex(canonicalJson({ ...event, hash: undefined }));
}

/**
 * A sealed event and the text a store keeps for it: `json` is exactly `canonicalJson(event)`
 * (hash included), built from the same pieces that were hashed, so an event is serialised once.
 */
export interface SealedEvent {
  event: SessionEvent;
  json: string;
}

/** Seal a draft as the next event after `head` (undefined: the session's first event). */
export function sealEvent(draft: EventDraft, head: ChainHead | undefined, now: Date = new Date()): SessionEvent {
  return sealEventJson(draft, head, now).event;
}

/**
 * Seal a draft and serialise it in one pass. The envelope's members are written in canonical
 * (sorted) order by hand — data, hash, identity, kind, prev, requestId, seq, sessionId, ts, v — so
 * the hashed text (without `hash`) and the stored text (with it) share every other byte; the data
 * goes through canonicalJson and the identity through a small cache (one sidecar records one
 * identity). Equal, byte for byte, to canonicalJson of the event without and with its hash.
 */
export function sealEventJson(draft: EventDraft, head: ChainHead | undefined, now: Date = new Date()): SealedEvent {
  const seq = head ? head.seq + 1 : 0;
  const prev = head ? head.hash : GENESIS;
  const data = draft.kind === 'session_close' ? { ...draft.data, head: prev, events: seq } : draft.data;
  const ts = draft.ts ?? isoTimestamp(now.getTime());
  const unsealed = {
    v: EVENT_FORMAT_VERSION,
    kind: draft.kind,
    sessionId: draft.sessionId,
    seq,
    ts,
    identity: draft.identity,
    requestId: draft.requestId,
    data,
    prev,
  };
  if (unsealed.requestId === undefined) delete unsealed.requestId;
  if (data === undefined || draft.identity === undefined || typeof draft.identity !== 'object') {
    // Not an event the types allow; keep the generic definition rather than guess.
    const hash = eventHash(unsealed as Omit<SessionEvent, 'hash'>);
    const event = { ...unsealed, hash } as SessionEvent;
    return { event, json: canonicalJson(event) };
  }
  const dataJson = canonicalJson(data);
  let rest = `"identity":${identityJson(draft.identity)},"kind":${JSON.stringify(draft.kind)},"prev":${JSON.stringify(prev)}`;
  if (draft.requestId !== undefined) rest += `,"requestId":${JSON.stringify(draft.requestId)}`;
  rest += `,"seq":${seq},"sessionId":${JSON.stringify(draft.sessionId)},"ts":${JSON.stringify(ts)},"v":${EVENT_FORMAT_VERSION}}`;
  const hash = sha256Hex(`{"data":${dataJson},${rest}`);
  const event = { ...unsealed, hash } as SessionEvent;
  return { event, json: `{"data":${dataJson},"hash":"${hash}",${rest}` };
}

// The canonical text of the last identity sealed, with a shallow copy of its members to check a
// hit against (an identity is a flat object of strings; a changed or different one misses).
let cachedIdentity: { members: Array<[string, unknown]>; json: string } | undefined;

function identityJson(identity: SkillIdentity): string {
  const obj = identity as unknown as Record<string, unknown>;
  const proto = Object.getPrototypeOf(obj) as unknown;
  if (proto !== Object.prototype && proto !== null) return canonicalJson(identity);
  const cached = cachedIdentity;
  if (cached) {
    let i = 0;
    let hit = true;
    for (const k in obj) {
      const m = cached.members[i++];
      if (!m || m[0] !== k || m[1] !== obj[k]) { hit = false; break; }
    }
    if (hit && i === cached.members.length) return cached.json;
  }
  const json = canonicalJson(identity);
  const members: Array<[string, unknown]> = [];
  let flat = true;
  for (const k in obj) {
    const v = obj[k];
    if (v !== null && typeof v === 'object') { flat = false; break; }
    members.push([k, v]);
  }
  cachedIdentity = flat ? { members, json } : undefined;
  return json;
}

/** Events read from a stored text that is not the canonical text they were sealed as (parseEventText). */
const restated = new WeakSet<object>();

/** Mark an event whose stored text is not its canonical text: verifySession names it altered. */
export function markRestated(event: object): void {
  restated.add(event);
}

export function headOf(event: SessionEvent): ChainHead {
  return { seq: event.seq, hash: event.hash, closed: event.kind === 'session_close' };
}

export type ChainProblemKind =
  | 'altered'            // content does not match its hash
  | 'missing'            // a seq is absent
  | 'reordered'          // a seq appears at the wrong position
  | 'duplicate'          // a seq appears twice
  | 'broken-link'        // prev does not match the previous event's hash
  | 'after-close'        // events after session_close
  | 'foreign'            // an event of another session
  | 'checkpoint-mismatch'// a signed checkpoint commits a different hash for this seq
  | 'checkpoint-signature' // a checkpoint's signature or hash does not verify
  | 'checkpoint-missing' // a writer's checkpoint sequence has a gap or broken link
  | 'unknown-key'        // a checkpoint was signed by a key the verifier does not hold
  | 'untrusted-key'      // a checkpoint's key is held but not trusted (e.g. not endorsed by the controller)
  | 'unanchored'         // no trusted checkpoint commits any event of a session (when one is required)
  | 'out-of-scope'       // a checkpoint commits a session outside the scope its key is trusted for
  | 'unknown-session'    // a session asked for by name that the record does not hold at all
  | 'misfiled'           // the store lists a session otherwise than its events say (identity, times)
  | 'failed-at-export';  // a bundle whose source record failed verification when it was exported (--force)

export interface ChainProblem {
  kind: ChainProblemKind;
  sessionId?: string;
  /** The seq of the event the problem is about (the one expected at `position` when altered). */
  seq?: number;
  /** Index in the stored order where it was found. */
  position?: number;
  checkpoint?: string;
  message: string;
}

/** A head a signed checkpoint vouches for. */
export interface HeadCommitment {
  seq: number;
  hash: string;
  checkpoint: string;
}

/**
 * Verify one session's events in stored order. Returns the FIRST problem, or undefined when the
 * chain is intact and agrees with every commitment (checkpoint heads) given.
 */
export function verifySession(sessionId: string, events: readonly SessionEvent[], commitments: readonly HeadCommitment[] = [], trimmed = 0): ChainProblem | undefined {
  let closedAt = -1;
  for (let i = 0; i < events.length; i++) {
    const e = events[i]!;
    const expected = i + trimmed;
    if (e.sessionId !== sessionId) {
      return { kind: 'foreign', sessionId, seq: expected, position: i, message: `position ${i} holds an event of session ${e.sessionId}, not ${sessionId}` };
    }
    if (eventHash(e) !== e.hash) {
      return { kind: 'altered', sessionId, seq: expected, position: i, message: `event seq ${expected} of session ${sessionId} was altered: its content does not match its hash` };
    }
    if (restated.has(e)) {
      return { kind: 'altered', sessionId, seq: expected, position: i, message: `event seq ${expected} of session ${sessionId} was altered: its stored text is not the canonical text it was sealed as (a member named twice, or a value spelled another way), so readers of the record may see other values than the ones hashed` };
    }
    if (e.seq !== expected) {
      const later = events.findIndex((x, j) => j > i && x.seq === expected);
      if (later !== -1) {
        return { kind: 'reordered', sessionId, seq: expected, position: later, message: `event seq ${expected} of session ${sessionId} is out of order: found at position ${later}, expected at ${i}` };
      }
      if (e.seq > expected) {
        return { kind: 'missing', sessionId, seq: expected, position: i, message: `event seq ${expected} of session ${sessionId} is missing (position ${i} holds seq ${e.seq})` };
      }
      const first = events.findIndex((x) => x.seq === e.seq);
      return { kind: first < i ? 'duplicate' : 'reordered', sessionId, seq: e.seq, position: i, message: `event seq ${e.seq} of session ${sessionId} appears again at position ${i}` };
    }
    // The first event kept after retention's cut links to one that is gone: its link is not checked.
    const prev = i === 0 ? (trimmed > 0 ? e.prev : GENESIS) : events[i - 1]!.hash;
    if (e.prev !== prev) {
      return { kind: 'broken-link', sessionId, seq: expected, position: i, message: `event seq ${expected} of session ${sessionId} does not follow seq ${expected - 1}: its prev hash does not match` };
    }
    if (closedAt !== -1) {
      return { kind: 'after-close', sessionId, seq: expected, position: i, message: `event seq ${expected} of session ${sessionId} comes after the session was closed at seq ${closedAt}` };
    }
    if (e.kind === 'session_close') closedAt = e.seq;
  }
  for (const c of commitments) {
    if (c.seq < trimmed) continue; // an event retention removed: nothing left to compare
    if (c.seq >= events.length + trimmed) {
      const seq = events.length + trimmed;
      return { kind: 'missing', sessionId, seq, position: events.length, checkpoint: c.checkpoint, message: `event seq ${seq} of session ${sessionId} is missing: checkpoint ${c.checkpoint} commits seq ${c.seq} but the record ends at seq ${seq - 1}` };
    }
    if (events[c.seq - trimmed]!.hash !== c.hash) {
      return { kind: 'checkpoint-mismatch', sessionId, seq: c.seq, position: c.seq, checkpoint: c.checkpoint, message: `event seq ${c.seq} of session ${sessionId} differs from what checkpoint ${c.checkpoint} signed` };
    }
  }
  return undefined;
}
