// The archive's search index: sessions by skill, owner, namespace and time, and fingerprint ->
// events (which request or response carried a value, without the value). Append-only JSON-lines
// files loaded into memory on open; rebuilt from them after a restart. Holds no payloads.
import { readFile, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { SkillIdentity } from '@skillgate/api';
import {
  fingerprintsOf, matchesFilter, openAppend, parseJsonLines,
  type ChainHead, type EventKind, type SessionEvent, type SessionFilter, type SessionSummary,
} from '@skillgate/record';

interface SessionLine { t: 's'; sessionId: string; identity: SkillIdentity; day: string; firstTs: string }
interface HeadLine { t: 'h'; sessionId: string; seq: number; hash: string; ts: string; closed: boolean }
interface FingerprintLine { t: 'f'; fp: string; sessionId: string; seq: number; kind: EventKind; requestId?: string; ts: string }
type IndexLine = SessionLine | HeadLine | FingerprintLine;

export interface FingerprintRef { sessionId: string; seq: number; kind: EventKind; requestId?: string; ts: string }

export class ArchiveIndex {
  private readonly sessionInfo = new Map<string, { identity: SkillIdentity; firstTs: string; days: string[]; lastTs: string; seq: number; hash: string; closed: boolean }>();
  private readonly fingerprints = new Map<string, FingerprintRef[]>();
  private fh: FileHandle | undefined;

  private constructor(private readonly file: string) {}

  static async load(dir: string): Promise<ArchiveIndex> {
    const idx = new ArchiveIndex(join(dir, 'index.jsonl'));
    let text = '';
    try { text = await readFile(idx.file, 'utf8'); } catch { /* new archive */ }
    for (const line of parseJsonLines<IndexLine>(text)) idx.apply(line);
    return idx;
  }

  private apply(line: IndexLine): void {
    if (line.t === 's') {
      const s = this.sessionInfo.get(line.sessionId);
      if (!s) this.sessionInfo.set(line.sessionId, { identity: line.identity, firstTs: line.firstTs, days: [line.day], lastTs: line.firstTs, seq: -1, hash: '', closed: false });
      else if (!s.days.includes(line.day)) s.days.push(line.day);
    } else if (line.t === 'h') {
      const s = this.sessionInfo.get(line.sessionId);
      if (s && line.seq > s.seq) Object.assign(s, { seq: line.seq, hash: line.hash, lastTs: line.ts, closed: line.closed });
    } else {
      let refs = this.fingerprints.get(line.fp);
      if (!refs) this.fingerprints.set(line.fp, (refs = []));
      const ref: FingerprintRef = { sessionId: line.sessionId, seq: line.seq, kind: line.kind, ts: line.ts };
      if (line.requestId) ref.requestId = line.requestId;
      refs.push(ref);
    }
  }

  /** The head the index recorded for a session (its last archived event), undefined when none. */
  head(sessionId: string): ChainHead | undefined {
    const s = this.sessionInfo.get(sessionId);
    return s && s.seq >= 0 ? { seq: s.seq, hash: s.hash, closed: s.closed } : undefined;
  }

  daysOf(sessionId: string): string[] {
    return this.sessionInfo.get(sessionId)?.days ?? [];
  }

  /** Index archived events (called after they are durable in the archive). */
  async add(events: readonly SessionEvent[]): Promise<void> {
    const lines: IndexLine[] = [];
    const heads = new Map<string, HeadLine>();
    for (const e of events) {
      const day = e.ts.slice(0, 10);
      if (!this.daysOf(e.sessionId).includes(day)) {
        const l: SessionLine = { t: 's', sessionId: e.sessionId, identity: e.identity, day, firstTs: e.ts };
        lines.push(l);
        this.apply(l);
      }
      for (const fp of new Set(fingerprintsOf(e))) {
        const l: FingerprintLine = { t: 'f', fp, sessionId: e.sessionId, seq: e.seq, kind: e.kind, ts: e.ts };
        if (e.requestId) l.requestId = e.requestId;
        lines.push(l);
        this.apply(l);
      }
      heads.set(e.sessionId, { t: 'h', sessionId: e.sessionId, seq: e.seq, hash: e.hash, ts: e.ts, closed: e.kind === 'session_close' });
    }
    for (const h of heads.values()) { lines.push(h); this.apply(h); }
    this.fh ??= (await openAppend(this.file)).fh;
    await this.fh.writeFile(`${lines.map((l) => JSON.stringify(l)).join('\n')}\n`); // all of it (write() may write part), appended
    await this.fh.datasync();
  }

  sessions(filter: SessionFilter = {}): SessionSummary[] {
    const out: SessionSummary[] = [];
    for (const [sessionId, s] of this.sessionInfo) {
      if (!matchesFilter(s.identity, s.firstTs, s.lastTs, filter)) continue;
      out.push({ sessionId, identity: s.identity, firstTs: s.firstTs, lastTs: s.lastTs, events: s.seq + 1, head: s.hash, closed: s.closed });
    }
    return out.sort((a, b) => (a.firstTs < b.firstTs ? -1 : 1));
  }

  /** The events whose findings carry this fingerprint. */
  byFingerprint(fingerprint: string): FingerprintRef[] {
    return this.fingerprints.get(fingerprint) ?? [];
  }

  async close(): Promise<void> {
    await this.fh?.close();
    this.fh = undefined;
  }
}
