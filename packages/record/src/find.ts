// Finding a value without storing it, the way Vault's audit hash works: records hold only the HMAC
// fingerprint of each sensitive value the masking engine found; an investigator who knows a value
// computes its fingerprint with the installation key and looks for it. The value itself is never
// written, logged or returned by this module.
import { createHmac } from 'node:crypto';
import type { EventKind, RecordedFinding, SessionEvent } from './event.js';
import type { SessionFilter, SessionReader } from './store.js';

/** HMAC-SHA256(installation key, value) as lower-case hex; the key is used as its UTF-8 bytes. */
export function fingerprintOf(installationKey: string | Buffer, value: string): string {
  return createHmac('sha256', installationKey).update(value, 'utf8').digest('hex');
}

export interface FingerprintHit {
  sessionId: string;
  seq: number;
  ts: string;
  kind: EventKind;
  requestId?: string;
  /** 'request': the skill sent it to Claude; 'response': it came back from Claude (returned it). */
  direction: 'request' | 'response' | 'other';
  types: string[];
  skill: string;
  owner: string;
  namespace: string;
}

const DIRECTION: Partial<Record<EventKind, FingerprintHit['direction']>> = {
  request: 'request', response: 'response', stream_event: 'response',
};

/** Pure: the hit for one event, when its findings hold the fingerprint (or one of them). */
export function matchFingerprint(event: SessionEvent, fingerprint: string | ReadonlySet<string>): FingerprintHit | undefined {
  const data = event.data as { findings?: RecordedFinding[]; upload?: { findings?: RecordedFinding[] } };
  const wanted = typeof fingerprint === 'string' ? (f: RecordedFinding) => f.fingerprint === fingerprint : (f: RecordedFinding) => fingerprint.has(f.fingerprint);
  let matching = data.findings?.filter(wanted) ?? [];
  let direction = DIRECTION[event.kind] ?? 'other';
  if (matching.length === 0) {
    // A file the skill uploaded (recorded with the answer to the upload): the skill sent it.
    matching = data.upload?.findings?.filter(wanted) ?? [];
    direction = 'request';
  }
  if (matching.length === 0) return undefined;
  const hit: FingerprintHit = {
    sessionId: event.sessionId, seq: event.seq, ts: event.ts, kind: event.kind,
    direction,
    types: [...new Set(matching.map((f) => (f.subtype ? `${f.type}/${f.subtype}` : f.type)))],
    skill: event.identity.skill, owner: event.identity.owner, namespace: event.identity.namespace,
  };
  if (event.requestId) hit.requestId = event.requestId;
  return hit;
}

/** Every event of the reader (optionally filtered) whose findings hold the fingerprint (or one of them). */
export async function findFingerprint(
  reader: SessionReader,
  fingerprint: string | ReadonlySet<string>,
  filter: SessionFilter = {},
  onProgress?: (scanned: number) => void,
): Promise<FingerprintHit[]> {
  const hits: FingerprintHit[] = [];
  let scanned = 0;
  for await (const event of reader.scanEvents(filter)) {
    const hit = matchFingerprint(event, fingerprint);
    if (hit) hits.push(hit);
    if (++scanned % 10_000 === 0) onProgress?.(scanned);
  }
  return hits;
}
