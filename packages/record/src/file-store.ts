// The embedded local store (default when REDIS_URL is unset): append-only JSON-lines files in one
// directory, fsync'd before an append resolves.
//   sessions/<sessionId>.jsonl   one sealed event per line, in append order
//   sessions.jsonl               one line per session when it starts: id, identity, first time
//   checkpoints.jsonl            signed checkpoints, in append order
//   keys/<keyId>.pem             public keys of the writers
//   conflicts.jsonl              events kept aside after a chain conflict (writer, time, event), outside every chain
// It never rewrites or truncates a file: tampering is for `verify` to find, not for us to hide.
// Opened read-only (the forensics commands) it creates nothing, not even its directories, and
// refuses every write.
import { mkdirSync } from 'node:fs';
import { mkdir, open, readdir, readFile, writeFile, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { SkillIdentity } from '@skillgate/api';
import { headOf, type ChainHead } from './chain.js';
import type { Checkpoint } from './checkpoint.js';
import type { SessionEvent } from './event.js';
import { NewFiles, openAppend } from './durable-file.js';
import { ChainConflictError, eventText, matchesFilter, parseEventLines, parseJsonLines, type KeptAsideEvent, type RecordEntry, type SessionFilter, type SessionStore, type SessionSummary } from './store.js';

/** The entries of a local record directory (the layout above). */
const ENTRY = { sessions: 'sessions', index: 'sessions.jsonl', checkpoints: 'checkpoints.jsonl', keys: 'keys', conflicts: 'conflicts.jsonl' } as const;
/** Names any one of which makes a directory a local record (the CLI refuses a --dir holding none of them). */
export const LOCAL_RECORD_ENTRIES: readonly string[] = Object.values(ENTRY);

const SESSION_ID = /^[A-Za-z0-9_.:-]{1,128}$/;
const MAX_OPEN_FILES = 128;

interface SessionIndexLine {
  sessionId: string;
  identity: SkillIdentity;
  firstTs: string;
}

export function assertSessionId(sessionId: string): void {
  if (!SESSION_ID.test(sessionId)) throw new Error(`not a session id: ${JSON.stringify(sessionId.slice(0, 80))}`);
}

export class FileSessionStore implements SessionStore {
  readonly location: string;
  private readonly handles = new Map<string, FileHandle>();
  /** Files this store made whose names are not durable yet. */
  private readonly newFiles = new NewFiles();
  private readonly heads = new Map<string, ChainHead | null>();
  /** Each writer's last stored checkpoint seq (read from checkpoints.jsonl on first need). */
  private lastCheckpointOf: Map<string, number> | undefined;
  /**
   * The sessions the index names (read from sessions.jsonl on first need). A session file is written
   * before the index line naming it: one whose line never followed (a crash, a failed write between
   * the two) is named with its session's next append.
   */
  private indexed: Set<string> | undefined;
  private queue: Promise<unknown> = Promise.resolve();

  private readonly readOnly: boolean;

  constructor(readonly dir: string, opts: { readOnly?: boolean } = {}) {
    this.location = `local store ${dir}`;
    this.readOnly = opts.readOnly ?? false;
    if (this.readOnly) return;
    mkdirSync(join(dir, ENTRY.sessions), { recursive: true });
    mkdirSync(join(dir, ENTRY.keys), { recursive: true });
  }

  append(entries: readonly RecordEntry[]): Promise<void> {
    if (this.readOnly) return this.refuseWrite();
    return this.serially(() => this.appendNow(entries));
  }

  private refuseWrite(): Promise<never> {
    return Promise.reject(new Error(`${this.location} was opened read-only: it is not written to`));
  }

  /** Run writes one after another, in call order (a failed one does not stop the next). */
  private serially(write: () => Promise<void>): Promise<void> {
    const run = this.queue.then(write);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async appendNow(entries: readonly RecordEntry[]): Promise<void> {
    const lines = new Map<string, string[]>();
    const push = (file: string, line: string) => {
      let l = lines.get(file);
      if (!l) lines.set(file, (l = []));
      l.push(line);
    };
    const newHeads = new Map<string, ChainHead>();
    const newIndexed = new Set<string>();
    const writersSeen = new Map<string, number>();
    // Per session, the stored events' hashes by seq (the first stored at each), read once per
    // append however many of its entries are behind the stored head.
    const storedHashes = new Map<string, Map<number, string>>();
    const storedHashAt = async (sessionId: string, seq: number): Promise<string | undefined> => {
      let bySeq = storedHashes.get(sessionId);
      if (!bySeq) {
        bySeq = new Map();
        for (const x of await this.readSession(sessionId)) if (!bySeq.has(x.seq)) bySeq.set(x.seq, x.hash);
        storedHashes.set(sessionId, bySeq);
      }
      return bySeq.get(seq);
    };
    for (const entry of entries) {
      if (entry.type === 'checkpoint') {
        // Once per (writer, checkpoint seq): a replayed or retried checkpoint is not stored twice.
        const { writer, seq } = entry.checkpoint;
        this.lastCheckpointOf ??= new Map((await this.checkpoints()).map((c) => [c.writer, c.seq]));
        const last = writersSeen.get(writer) ?? this.lastCheckpointOf.get(writer) ?? -1;
        if (seq <= last) continue;
        writersSeen.set(writer, seq);
        push(join(this.dir, ENTRY.checkpoints), JSON.stringify(entry.checkpoint));
        continue;
      }
      const e = entry.event;
      assertSessionId(e.sessionId);
      const head = newHeads.get(e.sessionId) ?? (await this.head(e.sessionId));
      if (head && e.seq === head.seq && e.hash !== head.hash) throw new ChainConflictError(e.sessionId, e.seq);
      // The next event links to another head than the stored one: another writer's chain.
      if (head && e.seq === head.seq + 1 && e.prev !== head.hash) throw new ChainConflictError(e.sessionId, e.seq);
      if (head && e.seq < head.seq && !newHeads.has(e.sessionId)) {
        // Behind the stored head (a retried write): stored already only if it is the same event.
        const stored = await storedHashAt(e.sessionId, e.seq);
        if (stored !== undefined && stored !== e.hash) throw new ChainConflictError(e.sessionId, e.seq);
      }
      if (!newHeads.has(e.sessionId) && !newIndexed.has(e.sessionId) && !(head && await this.isIndexed(e.sessionId))) {
        // A new session, or one whose file the index does not name yet: named as its first event says.
        const first = head ? (await this.readSession(e.sessionId))[0] ?? e : e;
        const index: SessionIndexLine = { sessionId: e.sessionId, identity: first.identity, firstTs: first.ts };
        push(join(this.dir, ENTRY.index), JSON.stringify(index));
        newIndexed.add(e.sessionId);
      }
      if (head && e.seq <= head.seq) continue; // already stored (spool replay)
      push(this.sessionFile(e.sessionId), eventText(entry));
      newHeads.set(e.sessionId, headOf(e));
    }
    // Session files first, then the index naming them, then checkpoints that commit them.
    const indexFile = join(this.dir, ENTRY.index);
    const checkpointFile = join(this.dir, ENTRY.checkpoints);
    const rank = (f: string) => (f === indexFile ? 1 : f === checkpointFile ? 2 : 0);
    const order = [...lines.keys()].sort((a, b) => rank(a) - rank(b));
    try {
      // One file at a time: the handle cache closes the least recently used handle when it is
      // full, which must not be one another write of this batch is still using.
      // The new session files' names are durable before the index names them.
      for (const f of order.filter((f) => rank(f) === 0)) await this.writeDurably(f, lines.get(f)!);
      await this.newFiles.sync();
      for (const f of order.filter((f) => rank(f) > 0)) await this.writeDurably(f, lines.get(f)!);
      await this.newFiles.sync();
    } catch (err) {
      // Some files may hold their lines already: read the heads (and writers) back from the files
      // next time, so a retry skips what is there instead of writing it twice.
      for (const sid of newHeads.keys()) this.heads.delete(sid);
      this.lastCheckpointOf = undefined;
      this.indexed = undefined;
      throw err;
    }
    for (const [sid, head] of newHeads) this.heads.set(sid, head);
    for (const sid of newIndexed) this.indexed?.add(sid);
    for (const [writer, seq] of writersSeen) this.lastCheckpointOf!.set(writer, seq);
  }

  private async isIndexed(sessionId: string): Promise<boolean> {
    this.indexed ??= new Set(parseJsonLines<SessionIndexLine>(await readText(join(this.dir, ENTRY.index))).map((l) => l.sessionId));
    return this.indexed.has(sessionId);
  }

  private async writeDurably(file: string, lines: string[]): Promise<void> {
    const fh = await this.handle(file);
    await fh.writeFile(`${lines.join('\n')}\n`); // all of it (write() may write part), appended
    await fh.datasync();
  }

  private async handle(file: string): Promise<FileHandle> {
    let fh = this.handles.get(file);
    if (fh) {
      this.handles.delete(file);
      this.handles.set(file, fh); // most recently used last
      return fh;
    }
    const opened = await openAppend(file);
    fh = opened.fh;
    if (opened.created) this.newFiles.add(file);
    this.handles.set(file, fh);
    if (this.handles.size > MAX_OPEN_FILES) {
      const [oldest, old] = this.handles.entries().next().value as [string, FileHandle];
      this.handles.delete(oldest);
      await old.close();
    }
    return fh;
  }

  private sessionFile(sessionId: string): string {
    return join(this.dir, ENTRY.sessions, `${sessionId}.jsonl`);
  }

  async head(sessionId: string): Promise<ChainHead | undefined> {
    const cached = this.heads.get(sessionId);
    if (cached !== undefined) return cached ?? undefined;
    assertSessionId(sessionId);
    const last = await readLastLine(this.sessionFile(sessionId));
    let head: ChainHead | undefined;
    if (last) {
      try { head = headOf(JSON.parse(last) as SessionEvent); } catch { head = undefined; }
    }
    this.heads.set(sessionId, head ?? null);
    return head;
  }

  async publishKey(keyId: string, publicKeyPem: string): Promise<void> {
    if (this.readOnly) return this.refuseWrite();
    await writeFile(join(this.dir, ENTRY.keys, `${keyId}.pem`), publicKeyPem, { mode: 0o644 });
  }

  async readSession(sessionId: string): Promise<SessionEvent[]> {
    assertSessionId(sessionId);
    return parseEventLines(await readText(this.sessionFile(sessionId)));
  }

  /**
   * The sessions whose files hold an event, listed or not. A file a crash left empty, or with a torn
   * first line (never acknowledged), holds no session.
   */
  async heldSessions(): Promise<string[]> {
    let names: string[];
    try { names = await readdir(join(this.dir, ENTRY.sessions)); } catch { return []; }
    const out: string[] = [];
    for (const n of names) {
      const id = n.endsWith('.jsonl') ? n.slice(0, -'.jsonl'.length) : '';
      if (SESSION_ID.test(id) && (await this.head(id)) !== undefined) out.push(id);
    }
    return out;
  }

  async listSessions(filter: SessionFilter = {}): Promise<SessionSummary[]> {
    const index = parseJsonLines<SessionIndexLine>(await readText(join(this.dir, ENTRY.index)));
    const seen = new Set<string>();
    const out: SessionSummary[] = [];
    for (const s of index) {
      if (seen.has(s.sessionId) || !SESSION_ID.test(s.sessionId)) continue;
      seen.add(s.sessionId);
      if (!matchesFilter(s.identity, s.firstTs, new Date(8.64e15).toISOString(), { ...filter, since: undefined })) continue;
      const lastLine = await readLastLine(this.sessionFile(s.sessionId));
      let last: SessionEvent | undefined;
      try { last = lastLine ? (JSON.parse(lastLine) as SessionEvent) : undefined; } catch { last = undefined; }
      const lastTs = last?.ts ?? s.firstTs;
      if (!matchesFilter(s.identity, s.firstTs, lastTs, filter)) continue;
      out.push({
        sessionId: s.sessionId, identity: s.identity, firstTs: s.firstTs, lastTs,
        events: last ? last.seq + 1 : 0, head: last?.hash ?? '', closed: last?.kind === 'session_close',
      });
    }
    return out.sort((a, b) => (a.firstTs < b.firstTs ? -1 : a.firstTs > b.firstTs ? 1 : 0));
  }

  async checkpoints(): Promise<Checkpoint[]> {
    return parseJsonLines<Checkpoint>(await readText(join(this.dir, ENTRY.checkpoints)));
  }

  keepAside(entries: ReadonlyArray<{ event: SessionEvent; json?: string }>, writer: string, keptAt: string): Promise<void> {
    if (this.readOnly) return this.refuseWrite();
    if (entries.length === 0) return Promise.resolve();
    const lines = entries.map((e) => `{"writer":${JSON.stringify(writer)},"keptAt":${JSON.stringify(keptAt)},"event":${eventText(e)}}`);
    return this.serially(async () => {
      await this.writeDurably(join(this.dir, ENTRY.conflicts), lines);
      await this.newFiles.sync();
    });
  }

  async keptAside(): Promise<KeptAsideEvent[]> {
    return parseJsonLines<KeptAsideEvent>(await readText(join(this.dir, ENTRY.conflicts)));
  }

  async publicKeys(): Promise<Record<string, string>> {
    const out: Record<string, string> = {};
    let names: string[] = [];
    try { names = await readdir(join(this.dir, ENTRY.keys)); } catch { return out; }
    for (const name of names) {
      if (name.endsWith('.pem')) out[name.slice(0, -4)] = await readFile(join(this.dir, ENTRY.keys, name), 'utf8');
    }
    return out;
  }

  async *scanEvents(filter: SessionFilter = {}): AsyncIterable<SessionEvent> {
    for (const s of await this.listSessions(filter)) yield* await this.readSession(s.sessionId);
  }

  async close(): Promise<void> {
    await this.queue;
    const handles = [...this.handles.values()];
    this.handles.clear();
    await Promise.all(handles.map((h) => h.close()));
  }
}


async function readText(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw err;
  }
}

/** The last complete line of a file (reading backwards in chunks), or undefined. */
export async function readLastLine(file: string): Promise<string | undefined> {
  let fh: FileHandle;
  try { fh = await open(file, 'r'); } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  try {
    let pos = (await fh.stat()).size;
    let tail = Buffer.alloc(0);
    while (pos > 0) {
      const start = Math.max(0, pos - 64 * 1024);
      const buf = Buffer.alloc(pos - start);
      await fh.read(buf, 0, buf.length, start);
      tail = Buffer.concat([buf, tail]);
      pos = start;
      // A torn tail without '\n' is not a line: look for the last newline, then the one before it.
      const lastNl = tail.lastIndexOf(0x0a);
      if (lastNl === -1) continue;
      const prevNl = lastNl === 0 ? -1 : tail.lastIndexOf(0x0a, lastNl - 1);
      if (prevNl !== -1 || pos === 0) {
        const text = tail.subarray(prevNl + 1, lastNl).toString('utf8');
        return text.length > 0 ? text : undefined;
      }
    }
    return undefined;
  } finally {
    await fh.close();
  }
}

export async function ensureDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
}
