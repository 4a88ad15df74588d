// The durable archive the recorder moves session events into, behind one interface so an object
// store can implement it later. The file implementation keeps append-only JSON lines, one file per
// session per UTC day, fsync'd before a write resolves (the recorder acknowledges Redis only then),
// plus the signed checkpoints and public keys, so an archive verifies on its own, and the events
// writers kept aside after chain conflicts (conflicts.jsonl, outside every chain). It also serves
// the read side (SessionReader), so every forensics command can run on an archive.
// It never rewrites or deletes a line: retention of the archive is an operator's decision.
import { existsSync, mkdirSync } from 'node:fs';
import { readdir, readFile, writeFile, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import {
  NewFiles, assertSessionId, canonicalJson, isKeyOf, openAppend, parseEventLines, parseJsonLines, readLastLine, syncDir,
  type ChainHead, type Checkpoint, type KeptAsideEvent, type SessionEvent, type SessionFilter, type SessionReader, type SessionSummary,
} from '@skillgate/record';
import { ArchiveIndex } from './search-index.js';

export interface Archive extends SessionReader {
  /** Append events (each session's in seq order) durably. */
  appendEvents(events: readonly SessionEvent[]): Promise<void>;
  appendCheckpoints(checkpoints: readonly Checkpoint[]): Promise<void>;
  /** Append events kept aside after chain conflicts (idempotent on read: keptAside drops repeats). */
  appendKeptAside(kept: readonly KeptAsideEvent[]): Promise<void>;
  /** Keep public keys by id, never replacing one; returns ids refused (not the key they name). */
  putKeys(keys: Record<string, string>): Promise<string[]>;
  /** The highest seq archived for a session, or undefined when none is. */
  lastSeq(sessionId: string): Promise<number | undefined>;
  readonly index: ArchiveIndex;
}

const dayOf = (ts: string) => ts.slice(0, 10);

export class FileArchive implements Archive {
  readonly location: string;
  readonly index: ArchiveIndex;
  private readonly last = new Map<string, number>();
  /** Key ids whose file is in the archive, and those refused (their key is not the one the id names). */
  private readonly keysKept = new Set<string>();
  private readonly keysRefused = new Set<string>();
  private readonly handles = new Map<string, FileHandle>();
  /** Files the archive made whose names are not durable yet. */
  private readonly newFiles = new NewFiles();

  private constructor(readonly dir: string, index: ArchiveIndex) {
    this.location = `archive ${dir}`;
    this.index = index;
  }

  static async open(dir: string): Promise<FileArchive> {
    for (const d of ['sessions', 'keys', 'index']) mkdirSync(join(dir, d), { recursive: true });
    return new FileArchive(dir, await ArchiveIndex.load(join(dir, 'index')));
  }

  /** An archive the recorder made, for reading only: nothing is created, and a directory that is none is refused. */
  static async openForReading(dir: string): Promise<FileArchive> {
    const missing = ['sessions', 'index'].filter((d) => !existsSync(join(dir, d)));
    if (missing.length > 0) throw new Error(`${dir} is not a recorder archive (no ${missing.join('/ or ')}/ in it)`);
    return new FileArchive(dir, await ArchiveIndex.load(join(dir, 'index')));
  }

  private file(sessionId: string, day: string): string {
    return join(this.dir, 'sessions', day, `${sessionId}.jsonl`);
  }

  async lastSeq(sessionId: string): Promise<number | undefined> {
    const cached = this.last.get(sessionId);
    if (cached !== undefined) return cached;
    const days = this.index.daysOf(sessionId);
    const day = days.at(-1);
    if (!day) return undefined;
    const line = await readLastLine(this.file(sessionId, day));
    if (!line) return undefined;
    const seq = (JSON.parse(line) as SessionEvent).seq;
    this.last.set(sessionId, seq);
    return seq;
  }

  async appendEvents(events: readonly SessionEvent[]): Promise<void> {
    const byFile = new Map<string, SessionEvent[]>();
    for (const e of events) {
      assertSessionId(e.sessionId);
      const f = this.file(e.sessionId, dayOf(e.ts));
      let list = byFile.get(f);
      if (!list) byFile.set(f, (list = []));
      list.push(e);
    }
    let newDay = false;
    for (const day of new Set([...byFile.keys()].map((f) => dirname(f)))) {
      if (mkdirSync(day, { recursive: true }) !== undefined) newDay = true; // made now
    }
    await Promise.all([...byFile].map(async ([f, list]) => {
      const fh = await this.handle(f);
      await fh.writeFile(`${list.map((e) => canonicalJson(e)).join('\n')}\n`); // the text it was sealed as; all of it (write() may write part), appended
      await fh.datasync();
    }));
    // The new files' names in their day directories, and the new days' names, are durable too.
    await this.newFiles.sync();
    if (newDay) await syncDir(join(this.dir, 'sessions'));
    // The index follows the data: after a crash between the two, the index is rebuilt from files.
    await this.index.add(events);
    for (const e of events) this.last.set(e.sessionId, Math.max(e.seq, this.last.get(e.sessionId) ?? -1));
  }

  appendCheckpoints(checkpoints: readonly Checkpoint[]): Promise<void> {
    return this.appendLines('checkpoints.jsonl', checkpoints);
  }

  appendKeptAside(kept: readonly KeptAsideEvent[]): Promise<void> {
    return this.appendLines('conflicts.jsonl', kept);
  }

  /** Append values as JSON lines to a file of the archive's top directory, fsync'd. */
  private async appendLines(name: string, values: readonly unknown[]): Promise<void> {
    if (values.length === 0) return;
    const fh = await this.handle(join(this.dir, name));
    await fh.writeFile(`${values.map((v) => JSON.stringify(v)).join('\n')}\n`);
    await fh.datasync();
    await this.newFiles.sync();
  }

  /**
   * Keep the record's public keys: each only when it is the key its id names (an id is a digest of
   * its key, keyIdOf) and only once — a key file is never replaced, so whatever Redis later holds
   * under a key's id, the archive keeps the key its checkpoints were signed with. Returns the ids
   * refused for the first time (a key that is not the one its id names).
   */
  async putKeys(keys: Record<string, string>): Promise<string[]> {
    const refused: string[] = [];
    for (const [keyId, pem] of Object.entries(keys)) {
      if (!/^[A-Za-z0-9_.-]+$/.test(keyId) || this.keysKept.has(keyId)) continue;
      const file = join(this.dir, 'keys', `${keyId}.pem`);
      if (existsSync(file)) {
        this.keysKept.add(keyId);
        continue;
      }
      if (!isKeyOf(keyId, pem)) {
        if (!this.keysRefused.has(keyId)) refused.push(keyId);
        this.keysRefused.add(keyId);
        continue;
      }
      try {
        await writeFile(file, pem, { flag: 'wx' });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      this.keysKept.add(keyId);
    }
    return refused;
  }

  private async handle(file: string): Promise<FileHandle> {
    let fh = this.handles.get(file);
    if (!fh) {
      const opened = await openAppend(file);
      fh = opened.fh;
      if (opened.created) this.newFiles.add(file);
      this.handles.set(file, fh);
      if (this.handles.size > 256) {
        const [k, old] = this.handles.entries().next().value as [string, FileHandle];
        this.handles.delete(k);
        await old.close();
      }
    }
    return fh;
  }

  // ---- read side ----

  async readSession(sessionId: string): Promise<SessionEvent[]> {
    assertSessionId(sessionId);
    const out: SessionEvent[] = [];
    for (const day of this.index.daysOf(sessionId)) {
      try { out.push(...parseEventLines(await readFile(this.file(sessionId, day), 'utf8'))); } catch { /* a missing day file reads as missing events */ }
    }
    return out;
  }

  async listSessions(filter: SessionFilter = {}): Promise<SessionSummary[]> {
    return this.index.sessions(filter);
  }

  /**
   * The head the index recorded with each archived batch (written after the events it names): a
   * session file missing its last events shows against it in verify.
   */
  async head(sessionId: string): Promise<ChainHead | undefined> {
    return this.index.head(sessionId);
  }

  async checkpoints(): Promise<Checkpoint[]> {
    try { return parseJsonLines<Checkpoint>(await readFile(join(this.dir, 'checkpoints.jsonl'), 'utf8')); } catch { return []; }
  }

  /** Kept-aside events, oldest first; one archived twice (a reclaimed entry) is listed once. */
  async keptAside(): Promise<KeptAsideEvent[]> {
    let lines: KeptAsideEvent[];
    try { lines = parseJsonLines<KeptAsideEvent>(await readFile(join(this.dir, 'conflicts.jsonl'), 'utf8')); } catch { return []; }
    const seen = new Set<string>();
    return lines.filter((k) => {
      const key = `${k.writer}\0${k.event?.hash}`;
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    });
  }

  async publicKeys(): Promise<Record<string, string>> {
    const out: Record<string, string> = {};
    for (const name of await readdir(join(this.dir, 'keys'))) {
      if (name.endsWith('.pem')) out[name.slice(0, -4)] = await readFile(join(this.dir, 'keys', name), 'utf8');
    }
    return out;
  }

  async *scanEvents(filter: SessionFilter = {}): AsyncIterable<SessionEvent> {
    for (const s of await this.listSessions(filter)) yield* await this.readSession(s.sessionId);
  }

  async close(): Promise<void> {
    const hs = [...this.handles.values()];
    this.handles.clear();
    await Promise.all(hs.map((h) => h.close()));
    await this.index.close();
  }
}

