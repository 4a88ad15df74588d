// The exchanges in flight, so that a lock placed while a stream is open can find and cut it. The
// registry only holds references; the kill itself is the respond stage's `terminate`.
import type { LockHit, LockSubject } from './ports/index.js';

export interface LiveEntry {
  subject: LockSubject;
  kill(hit: LockHit): void;
}

export class LiveExchanges {
  private readonly entries = new Set<LiveEntry>();
  /** Exchanges admitted since start-up (how heap.ts tells a quiet sidecar from a busy one). */
  admitted = 0;

  add(entry: LiveEntry): () => void {
    this.admitted++;
    this.entries.add(entry);
    return () => this.entries.delete(entry);
  }

  get size(): number {
    return this.entries.size;
  }

  /** Kill every live exchange the matcher refuses; returns how many were cut. */
  sweep(match: (subject: LockSubject) => LockHit | undefined): number {
    let killed = 0;
    for (const entry of [...this.entries]) {
      const hit = match(entry.subject);
      if (hit) {
        this.entries.delete(entry);
        entry.kill(hit);
        killed++;
      }
    }
    return killed;
  }
}
