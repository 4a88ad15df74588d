// The local bounded spool: where record entries go, fsync'd, while Redis is unreachable, so the
// sidecar can keep forwarding without losing a record. Segment files of JSON lines, replayed
// oldest first when Redis returns and deleted only after the store accepted them. Bounded by bytes:
// when a write would exceed the bound it throws SpoolFull and the caller fails closed. A torn last
// line (a crash mid-write) was never acknowledged and is skipped on replay. Entries the store can
// never take (another writer's chain holds their place) are moved to conflicts.jsonl beside them.
import { mkdirSync, readdirSync, statSync } from 'node:fs';
import { open, readFile, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { openAppend, syncDir } from './durable-file.js';
import { entryLine, parseJsonLines, type RecordEntry } from './store.js';

export interface SpoolOptions {
  dir: string;
  /** Upper bound of spooled bytes; 0 disables the spool. */
  maxBytes: number;
  /** Roll to a new segment after this many bytes. */
  segmentBytes?: number;
}

export class SpoolFull extends Error {
  constructor(readonly maxBytes: number) {
    super(`the record spool is full (${maxBytes} bytes)`);
    this.name = 'SpoolFull';
  }
}

const SEGMENT = /^spool-(\d{12})\.jsonl$/;
/** Where entries that conflict with the store are kept (see quarantine). */
const QUARANTINE = 'conflicts.jsonl';

export class Spool {
  private segments: Array<{ n: number; bytes: number }> = [];
  private current: { n: number; fh: FileHandle; bytes: number } | undefined;
  private bytes = 0;
  private readonly segmentBytes: number;

  constructor(readonly options: SpoolOptions) {
    this.segmentBytes = options.segmentBytes ?? 1024 * 1024;
    if (options.maxBytes <= 0) return;
    mkdirSync(options.dir, { recursive: true });
    for (const name of readdirSync(options.dir).sort()) {
      const m = SEGMENT.exec(name);
      if (!m) continue;
      const bytes = statSync(join(options.dir, name)).size;
      this.segments.push({ n: Number(m[1]), bytes });
      this.bytes += bytes;
    }
  }

  get enabled(): boolean { return this.options.maxBytes > 0; }
  get isEmpty(): boolean { return this.segments.length === 0; }
  get usedBytes(): number { return this.bytes; }

  private file(n: number): string {
    return join(this.options.dir, `spool-${String(n).padStart(12, '0')}.jsonl`);
  }

  /** Append entries durably (write + fdatasync). Throws SpoolFull when over the bound or disabled. */
  async write(entries: readonly RecordEntry[]): Promise<void> {
    const text = `${entries.map(entryLine).join('\n')}\n`;
    const size = Buffer.byteLength(text);
    if (!this.enabled || this.bytes + size > this.options.maxBytes) throw new SpoolFull(this.options.maxBytes);
    if (!this.current || this.current.bytes >= this.segmentBytes) await this.roll();
    const cur = this.current!;
    try {
      await cur.fh.writeFile(text); // all of it (write() may write part), appended
      await cur.fh.datasync();
    } catch (err) {
      // Part of it may be in the file: the next write starts a new segment rather than continue a
      // torn line.
      cur.bytes = Math.max(cur.bytes, this.segmentBytes);
      throw err;
    }
    cur.bytes += size;
    this.segments[this.segments.length - 1]!.bytes = cur.bytes;
    this.bytes += size;
  }

  private async roll(): Promise<void> {
    if (this.current) await this.current.fh.close();
    const n = (this.segments.at(-1)?.n ?? 0) + 1;
    const fh = await open(this.file(n), 'a');
    // Make the new file's directory entry durable before anything is acknowledged from it.
    await syncDir(this.options.dir);
    this.current = { n, fh, bytes: 0 };
    this.segments.push({ n, bytes: 0 });
  }

  /** The oldest segment's entries (closing it for writes if it is the current one). */
  async oldest(): Promise<{ segment: number; entries: RecordEntry[] } | undefined> {
    const first = this.segments[0];
    if (!first) return undefined;
    if (this.current && this.current.n === first.n) {
      await this.current.fh.close();
      this.current = undefined;
    }
    const text = await readFile(this.file(first.n), 'utf8');
    return { segment: first.n, entries: parseJsonLines<RecordEntry>(text) };
  }

  /** Delete a replayed segment. */
  async remove(segment: number): Promise<void> {
    const i = this.segments.findIndex((s) => s.n === segment);
    if (i === -1) return;
    await unlink(this.file(segment));
    this.bytes -= this.segments[i]!.bytes;
    this.segments.splice(i, 1);
  }

  /**
   * Set entries aside that can never be replayed: a fork of a session whose place in the store
   * another writer's chain took (ChainConflictError). Appended, fsync'd, to conflicts.jsonl in the
   * spool directory (not a segment: never replayed), so they are kept as evidence, not lost.
   * They were counted against the bound as spooled; the segment they came from is removed after.
   */
  async quarantine(entries: readonly RecordEntry[]): Promise<string> {
    const file = join(this.options.dir, QUARANTINE);
    const { fh, created } = await openAppend(file);
    try {
      await fh.writeFile(`${entries.map(entryLine).join('\n')}\n`);
      await fh.datasync();
    } finally {
      await fh.close();
    }
    if (created) await syncDir(this.options.dir);
    return file;
  }

  /** Every spooled entry, oldest first (for recovering chain heads on start). */
  async *entries(): AsyncIterable<RecordEntry> {
    for (const s of [...this.segments]) yield* parseJsonLines<RecordEntry>(await readFile(this.file(s.n), 'utf8'));
  }

  async close(): Promise<void> {
    if (this.current) await this.current.fh.close();
    this.current = undefined;
  }
}
