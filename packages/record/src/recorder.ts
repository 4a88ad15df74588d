// SessionRecorder: what the sidecar calls to record. It seals drafts into each session's hash
// chain, batches appends (one batch in flight at a time, so order is kept and many concurrent
// appends share one round trip), and resolves each append only once its event is durable: accepted
// by the store, or fsync'd to the local spool while the store is unreachable. The spool is replayed
// in order when the store returns; until it is empty, new entries queue behind it in the spool.
// When neither store nor spool can take an entry, the append rejects with a GatewayError
// (SG_RECORD_UNAVAILABLE, 503 overloaded_error): the sidecar must then refuse the request.
// Chain heads survive a restart: spooled heads are read on open, others are read lazily from the
// store the first time a session is touched. It never drops an entry silently and never logs payloads.
import { EventEmitter } from 'node:events';
import { hostname } from 'node:os';
import { GatewayError, codes } from '@skillgate/wire';
import { headOf, sealEventJson, type ChainHead } from './chain.js';
import { signCheckpoint, type Checkpoint, type RecordSigner } from './checkpoint.js';
import type { EventDraft, SessionEvent } from './event.js';
import { Spool, type SpoolOptions } from './spool.js';
import { ChainConflictError, type RecordEntry, type SessionStore } from './store.js';

/** The subset of a pino logger the recorder uses. */
export interface RecorderLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface SessionRecorderOptions {
  store: SessionStore;
  signer: RecordSigner;
  /** Identifies this process in checkpoints. Default: host/pid/start time. */
  writer?: string;
  /** Local spool for store outages; absent or maxBytes 0: disabled (store errors fail closed). */
  spool?: SpoolOptions;
  /** Sign a checkpoint of changed session heads this often (ms); 0 disables the timer. Default 10 s. */
  checkpointIntervalMs?: number;
  /**
   * How long an append made with `linger` may wait for company (ms). Default 5. Events nobody waits
   * for (responses, stream events, ends) then ride along with the next request's event, which is
   * written at once: one store write per exchange instead of two when traffic is sequential.
   */
  lingerMs?: number;
  /**
   * How long work handed to `later` may wait for a store write to overlap (ms). Default 1. A
   * sequential skill's next request comes sooner, and its record work then runs while that
   * request's event travels to the store.
   */
  laterMs?: number;
  /** Most entries per store write. Default 1024. */
  maxBatch?: number;
  /** A store write slower than this counts as unreachable (entries go to the spool). Default 2 s. */
  storeTimeoutMs?: number;
  /** Wait between attempts to replay the spool. Default 200 ms. */
  retryMs?: number;
  /**
   * Chain heads kept in memory, at most (default 10,000). The skill chooses its session ids, so
   * without a bound it could grow this without end; past it, the oldest sessions with nothing in
   * flight are forgotten (their next event reads its head from the store again). Nothing is
   * forgotten while the store is away (spooling), when that read could not be answered.
   */
  maxSessions?: number;
  log?: RecorderLog;
  now?: () => Date;
}

export interface RecorderStats {
  /** Sessions whose chain head is held in memory (at most maxSessions, outside store outages). */
  sessions: number;
  appended: number;
  spooled: number;
  replayed: number;
  refused: number;
  /**
   * Events the store could never take into a chain, kept aside (the spool directory's conflicts.jsonl,
   * and the store's own kept-aside record): spooled events that fork a stored chain, and events
   * nobody waited for (an answer already given) refused by one.
   */
  quarantined: number;
  pending: number;
  spooling: boolean;
  spoolBytes: number;
  checkpoints: number;
}

interface Pending {
  entry: RecordEntry;
  resolve: () => void;
  reject: (err: Error) => void;
  /** Appended with `linger`: nobody waits for it, so what it records has already happened. */
  linger: boolean;
}

interface SessionState {
  /** Head after the last sealed event (durable or not). */
  head: ChainHead | undefined;
  /** Head after the last durable event. */
  durable: ChainHead | undefined;
  loaded: boolean;
  loading: boolean;
  /** Appends waiting for the head to load; `at`: the time to stamp them with when not the time they are sealed. */
  waiting: Array<{ draft: EventDraft; at: Date | undefined; resolve: (e: SessionEvent) => void; reject: (err: Error) => void }>;
}

const quietLog: RecorderLog = { info: () => undefined, warn: () => undefined };

/**
 * A backlog this long (entries) is written in two halves, each still large enough that the work
 * per entry outweighs the work per store write (bench/record: events/s with 256 appends in flight).
 */
const SPLIT_BACKLOG = 64;

export function recordUnavailable(reason: string, cause?: unknown): GatewayError {
  return new GatewayError(codes.recordUnavailable, 'overloaded_error',
    `skillgate could not record this request (${reason}), so it was not forwarded. Retry later; operators: check Redis and the sidecar's record spool.`,
    { status: 503, cause });
}

export class SessionRecorder extends EventEmitter {
  readonly writer: string;
  private readonly store: SessionStore;
  private readonly signer: RecordSigner;
  private readonly spool: Spool;
  private readonly log: RecorderLog;
  private readonly now: () => Date;
  private readonly maxBatch: number;
  private readonly lingerMs: number;
  private lingerTimer: NodeJS.Timeout | undefined;
  /** Lingering entries have waited lingerMs (or a flush asked for them): they go with the next write. */
  private lingerDue = false;
  /** Entries in `pending` that someone waits for: a write goes out for them at once. */
  private awaited = 0;
  /** Work handed to `later`, in order, with when it was handed over; and what will run it: the next store write, or a timer. */
  private laterTasks: Array<{ task: () => void; at: Date }> = [];
  /** While a task handed to `later` runs: when it was handed over, the time its events are stamped with. */
  private laterAt: Date | undefined;
  private laterTimer: NodeJS.Timeout | undefined;
  private laterScheduled = false;
  private readonly laterMs: number;
  /** Appends waiting for their session's head to be read from the store (not yet sealed). */
  private loadingAppends = 0;
  private readonly storeTimeoutMs: number;
  private readonly retryMs: number;
  private readonly sessions = new Map<string, SessionState>();
  private readonly maxSessions: number;
  private readonly changed = new Map<string, ChainHead>();
  private pending: Pending[] = [];
  /** The next batch, handed to the store as the last one was accepted (handOn); run() awaits it. */
  private handedOn: { batch: Pending[]; written: Promise<void> } | undefined;
  private running = false;
  private spooling = false;
  private nextDrainAt = 0;
  private drainTimer: NodeJS.Timeout | undefined;
  private checkpointTimer: NodeJS.Timeout | undefined;
  private checkpointWaiters: Array<{ resolve: (cp: Checkpoint | undefined) => void; reject: (err: Error) => void }> = [];
  private idleWaiters: Array<() => void> = [];
  private lastCheckpoint: Checkpoint | undefined;
  private keyPublished = false;
  private closed = false;
  private readonly counters = { appended: 0, spooled: 0, replayed: 0, refused: 0, quarantined: 0, checkpoints: 0 };
  /** Per session: the hash of the last spooled event set aside as a fork (splitForks). */
  private readonly forkTips = new Map<string, string>();
  /** Hashes of the spooled events set aside so far (a segment retried after a failure holds them again). */
  private readonly setAsideHashes = new Set<string>();
  /** The last reason a spool replay failed, and when it was logged. */
  private drainError: { message: string; at: number } | undefined;

  private constructor(opts: SessionRecorderOptions) {
    super();
    this.store = opts.store;
    this.signer = opts.signer;
    this.writer = opts.writer ?? `${hostname()}/${process.pid}/${Date.now().toString(36)}`;
    this.spool = new Spool(opts.spool ?? { dir: '', maxBytes: 0 });
    this.log = opts.log ?? quietLog;
    this.now = opts.now ?? (() => new Date());
    this.maxBatch = opts.maxBatch ?? 1024;
    this.lingerMs = opts.lingerMs ?? 5;
    this.laterMs = opts.laterMs ?? 1;
    this.storeTimeoutMs = opts.storeTimeoutMs ?? 2000;
    this.retryMs = opts.retryMs ?? 200;
    this.maxSessions = opts.maxSessions ?? 10_000;
  }

  /** Open a recorder: recover chain heads from the spool, publish the signing key, start checkpoints. */
  static async open(opts: SessionRecorderOptions): Promise<SessionRecorder> {
    const r = new SessionRecorder(opts);
    for await (const entry of r.spool.entries()) {
      if (entry.type !== 'event') continue;
      const head = headOf(entry.event);
      r.sessions.set(entry.event.sessionId, { head, durable: head, loaded: true, loading: false, waiting: [] });
      r.changed.set(entry.event.sessionId, head);
    }
    if (!r.spool.isEmpty) {
      r.spooling = true;
      r.log.info({ spoolBytes: r.spool.usedBytes }, 'record spool holds entries from a previous run; replaying');
      r.kick();
    }
    await r.publishKey();
    const interval = opts.checkpointIntervalMs ?? 10_000;
    if (interval > 0) {
      r.checkpointTimer = setInterval(() => {
        r.checkpoint().catch((err: Error) => r.log.warn({ err: err.message }, 'checkpoint failed; will retry'));
      }, interval);
      r.checkpointTimer.unref();
    }
    return r;
  }

  /**
   * Seal `draft` as the next event of its session; resolves with it once it is durable.
   * `newSession`: the caller just created this session id (a time-gap session, see chooseSession's
   * isNew), so there is no stored head to look up; this keeps new sessions recordable while the
   * store is away. Otherwise the head of a session this process has not touched yet is read from
   * the store first, and if the store cannot answer the append is refused.
   * `linger`: nobody waits for this event (it is not in front of a request), so its write may wait
   * up to lingerMs for the next event's: sealed (and in the chain) at once, durable a little later.
   */
  append(draft: EventDraft, opts: { newSession?: boolean; linger?: boolean } = {}): Promise<SessionEvent> {
    if (this.closed) return Promise.reject(recordUnavailable('the recorder is shutting down'));
    const st = this.state(draft.sessionId);
    if (!st.loaded && opts.newSession && !st.loading) st.loaded = true;
    const at = this.laterAt;
    if (st.loaded) return this.seal(st, draft, opts.linger === true, at);
    return new Promise((resolve, reject) => {
      st.waiting.push({ draft, at, resolve, reject });
      this.loadingAppends++;
      if (!st.loading) void this.load(draft.sessionId, st);
    });
  }

  /** Close a session: a session_close event committing its head. Later appends to it are refused. */
  closeSession(draft: Omit<Extract<EventDraft, { kind: 'session_close' }>, 'data' | 'kind'> & { reason: 'idle' | 'shutdown' | 'locked' | 'explicit' }): Promise<SessionEvent> {
    const { reason, ...rest } = draft;
    return this.append({ ...rest, kind: 'session_close', data: { reason, head: '', events: 0 } });
  }

  /** Sign a checkpoint of the heads that became durable since the last one (undefined: none). */
  checkpoint(): Promise<Checkpoint | undefined> {
    return new Promise((resolve, reject) => {
      this.checkpointWaiters.push({ resolve, reject });
      this.kick();
    });
  }

  /**
   * Run `task` soon, after the tasks handed here before it: work that prepares events nobody waits
   * for (an answer's masking and sealing, once the skill has the answer). It runs while the next
   * write to the store travels — for a sequential skill, the wait of its next request for its own
   * event to become durable, when this process would otherwise sit idle — or after laterMs if no
   * write comes first. drained() and close() run what is left first. A task that throws is logged.
   * The events a task appends are stamped with the time it was handed over (what they record
   * happened then), not the time it ran.
   */
  later(task: () => void): void {
    this.laterTasks.push({ task, at: this.now() });
    this.laterTimer ??= setTimeout(() => this.runLater(), this.laterMs);
  }

  /** Resolves when nothing is pending and the spool is empty (or after `timeoutMs`, rejecting). */
  drained(timeoutMs = 30_000): Promise<void> {
    this.flush();
    if (!this.spooling && !this.busy()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => { this.off('drained', done); reject(new Error(`record spool not drained within ${timeoutMs} ms`)); }, timeoutMs);
      const done = () => { clearTimeout(timer); resolve(); };
      this.once('drained', done);
    });
  }

  stats(): RecorderStats {
    return { ...this.counters, sessions: this.sessions.size, pending: this.pending.length, spooling: this.spooling, spoolBytes: this.spool.usedBytes };
  }

  /** Finish: write what is pending, sign a last checkpoint, stop timers. Does not close the store. */
  async close(): Promise<void> {
    if (this.checkpointTimer) clearInterval(this.checkpointTimer);
    this.flush();
    await this.whenIdle();
    await this.checkpoint().catch((err: Error) => this.log.warn({ err: err.message }, 'final checkpoint failed'));
    this.closed = true;
    await this.whenIdle();
    if (this.drainTimer) clearTimeout(this.drainTimer);
    await this.spool.close();
  }

  // ---- chain state -------------------------------------------------------------------------

  private state(sessionId: string): SessionState {
    let st = this.sessions.get(sessionId);
    if (!st) {
      this.sessions.set(sessionId, (st = { head: undefined, durable: undefined, loaded: false, loading: false, waiting: [] }));
      if (this.sessions.size > this.maxSessions) this.forgetSettled(sessionId);
    }
    return st;
  }

  /**
   * Forget the oldest sessions (in first-use order) whose every sealed event is durable and that
   * nothing waits on, down to 90 % of maxSessions, keeping `keep`: their heads are in the store.
   */
  private forgetSettled(keep: string): void {
    if (this.spooling) return;
    const target = Math.floor(this.maxSessions * 0.9);
    for (const [id, st] of this.sessions) {
      if (this.sessions.size <= target) break;
      const settled = st.loaded && !st.loading && st.waiting.length === 0 && st.head?.seq === st.durable?.seq && st.head?.hash === st.durable?.hash;
      if (settled && id !== keep) this.sessions.delete(id);
    }
  }

  private async load(sessionId: string, st: SessionState): Promise<void> {
    st.loading = true;
    try {
      const head = await withTimeout(this.store.head(sessionId), this.storeTimeoutMs);
      st.head = st.durable = head;
      st.loaded = true;
      const waiting = st.waiting;
      st.waiting = [];
      this.loadingAppends -= waiting.length;
      for (const w of waiting) this.seal(st, w.draft, false, w.at).then(w.resolve, w.reject);
    } catch (err) {
      const waiting = st.waiting;
      st.waiting = [];
      this.loadingAppends -= waiting.length;
      this.counters.refused += waiting.length;
      const refusal = recordUnavailable('the session record cannot be read to continue its chain', err);
      for (const w of waiting) w.reject(refusal);
    } finally {
      st.loading = false;
      this.notifyIdle();
    }
  }

  /** `at`: the event's time when it is not now (work handed to `later` is stamped when it was handed over). */
  private seal(st: SessionState, draft: EventDraft, linger = false, at?: Date): Promise<SessionEvent> {
    if (st.head?.closed) return Promise.reject(new Error(`session ${draft.sessionId} is closed; start a new session`));
    const { event, json } = sealEventJson(draft, st.head, at ?? this.now());
    st.head = headOf(event);
    return new Promise((resolve, reject) => {
      this.pending.push({ entry: { type: 'event', event, json }, resolve: () => resolve(event), reject, linger });
      if (linger) this.linger();
      else {
        this.awaited++;
        this.kick();
      }
    });
  }

  // ---- work handed to `later`: run while a write travels ------------------------------------

  private runLater(): void {
    if (this.laterTimer) clearTimeout(this.laterTimer);
    this.laterTimer = undefined;
    this.laterScheduled = false;
    const tasks = this.laterTasks;
    this.laterTasks = [];
    for (const { task, at } of tasks) {
      this.laterAt = at;
      try {
        task();
      } catch (err) {
        this.log.warn({ err: (err as Error).message }, 'record work handed to later() failed');
      } finally {
        this.laterAt = undefined;
      }
    }
  }

  /** A write has just gone to the store: run the work handed to `later` while it travels. */
  private overlapLater(): void {
    if (this.laterTasks.length === 0 || this.laterScheduled) return;
    this.laterScheduled = true;
    setImmediate(() => this.runLater());
  }

  /** Everything now: the work handed to `later`, then lingering entries written without waiting for company. */
  private flush(): void {
    this.runLater();
    if (this.pending.length === 0) return;
    this.lingerDue = true;
    this.kick();
  }

  // ---- the writer loop: one batch in flight, in order; the next handed on as one is accepted --

  /**
   * Lingering entries wait for company — the next awaited entry, which is written at once and takes
   * them along, even while a batch is in flight — for lingerMs at most.
   */
  private linger(): void {
    if (this.lingerDue || this.lingerTimer) return;
    if (this.lingerMs <= 0) {
      this.lingerDue = true;
      return this.kick();
    }
    this.lingerTimer = setTimeout(() => {
      this.lingerTimer = undefined;
      this.lingerDue = true;
      this.kick();
    }, this.lingerMs);
  }

  /** Something pending is to be written now: an entry someone waits for, or lingering ones whose time is up. */
  private writeDue(): boolean {
    return this.pending.length > 0 && (this.awaited > 0 || this.lingerDue);
  }

  /** Take up to `n` pending entries, in order, for a write. */
  private takePending(n: number): Pending[] {
    const batch = this.pending.splice(0, n);
    for (const p of batch) if (!p.linger) this.awaited--;
    this.pendingChanged();
    return batch;
  }

  /** Entries left `pending` (`recount`: not only taken from its front): keep the lingering state true to it. */
  private pendingChanged(recount = false): void {
    if (recount) this.awaited = this.pending.reduce((n, p) => (p.linger ? n : n + 1), 0);
    if (this.pending.length > 0) return;
    this.lingerDue = false;
    if (this.lingerTimer) clearTimeout(this.lingerTimer);
    this.lingerTimer = undefined;
  }

  private kick(): void {
    if (this.running) return;
    this.running = true;
    queueMicrotask(() => void this.run());
  }

  private async run(): Promise<void> {
    try {
      for (;;) {
        if (this.handedOn) {
          const { batch, written } = this.handedOn;
          this.handedOn = undefined;
          await this.writeBatch(batch, written);
          continue;
        }
        if (this.spooling && Date.now() >= this.nextDrainAt) await this.drainOne();
        if (this.writeDue()) {
          await this.writeBatch(this.takePending(this.firstBatchSize()));
          continue;
        }
        if (this.checkpointWaiters.length > 0) {
          await this.writeCheckpoint(this.checkpointWaiters.splice(0));
          continue;
        }
        break;
      }
    } finally {
      this.running = false;
      // Someone waits for everything to be written (drained, close): nothing lingers for company.
      if (this.idleWaiters.length > 0 || this.listenerCount('drained') > 0) {
        this.runLater();
        if (this.pending.length > 0) this.lingerDue = true;
      }
      if (this.spooling) this.scheduleDrain();
      this.notifyIdle();
      if (this.writeDue() || this.checkpointWaiters.length > 0) this.kick();
    }
  }

  /** Something is being written, waits to be, or waits for its session's head to be read. */
  private busy(): boolean {
    return this.running || this.pending.length > 0 || this.loadingAppends > 0;
  }

  /** Nothing busy: tell those who wait for that ('drained' only once the spool is empty too). */
  private notifyIdle(): void {
    if (this.busy()) return;
    if (!this.spooling) this.emit('drained');
    const idle = this.idleWaiters.splice(0);
    for (const w of idle) w();
  }

  private whenIdle(): Promise<void> {
    if (!this.busy()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private scheduleDrain(): void {
    if (this.drainTimer) clearTimeout(this.drainTimer);
    this.drainTimer = setTimeout(() => { this.drainTimer = undefined; this.kick(); }, Math.max(0, this.nextDrainAt - Date.now()));
    this.drainTimer.unref();
  }

  /** Write a batch to the store (`written`: already handed to it), or to the spool while spooling. */
  private async writeBatch(batch: Pending[], written?: Promise<void>): Promise<void> {
    const entries = batch.map((p) => p.entry);
    if (!this.spooling) {
      try {
        await (written ?? this.storeAppend(entries));
        this.handOn();
        this.settle(batch, false);
        return;
      } catch (err) {
        if (err instanceof ChainConflictError) return this.conflict(batch, err);
        if (!this.spool.enabled) return this.fail(batch, recordUnavailable('the record store is unreachable and the spool is disabled', err));
        this.log.warn({ err: (err as Error).message, store: this.store.location }, 'record store unreachable; spooling locally');
        this.spooling = true;
        this.nextDrainAt = Date.now() + this.retryMs;
      }
    }
    try {
      await this.spool.write(entries);
      this.settle(batch, true);
    } catch (err) {
      this.fail(batch, recordUnavailable(this.spool.enabled ? 'the record store is unreachable and the local spool is full' : 'the record store is unreachable and the spool is disabled', err));
    }
  }

  /**
   * How many pending entries a write starting from idle takes: all of them (up to maxBatch), but
   * only half of a backlog of SPLIT_BACKLOG or more, so that the other half is handed on (handOn)
   * once this half is accepted, and the events its settling sets off are sealed while the store
   * works on that other half rather than while it waits. A request's few events are never split.
   */
  private firstBatchSize(): number {
    const n = this.pending.length;
    return Math.min(this.maxBatch, n >= SPLIT_BACKLOG ? Math.ceil(n / 2) : n);
  }

  /**
   * The store has accepted a batch: hand it the next one before that batch is settled, so the next
   * round trip overlaps what settling sets off (the appenders' continuations: requests forwarded,
   * further events sealed) instead of waiting for it. The store's answer for a batch is in before
   * the next is written, as always: one batch whose outcome is unknown at a time.
   */
  private handOn(): void {
    if (this.spooling || !this.writeDue()) return;
    const batch = this.takePending(this.maxBatch);
    const written = this.storeAppend(batch.map((p) => p.entry));
    written.catch(() => undefined); // run() awaits it once this batch is settled, and handles its failure
    this.handedOn = { batch, written };
  }

  /** A write to the store, given up on (rejected) after storeTimeoutMs. */
  private storeAppend(entries: readonly RecordEntry[]): Promise<void> {
    const written = withTimeout(this.store.append(entries), this.storeTimeoutMs);
    this.overlapLater();
    return written;
  }

  private settle(batch: Pending[], spooled: boolean): void {
    for (const p of batch) {
      if (p.entry.type === 'event') {
        const e = p.entry.event;
        const head = headOf(e);
        this.state(e.sessionId).durable = head;
        this.changed.set(e.sessionId, head);
        this.counters.appended++;
        if (spooled) this.counters.spooled++;
      }
      p.resolve();
    }
  }

  /** Refuse a batch, and with it the events queued after it in its sessions (unchain). */
  private fail(batch: Pending[], err: GatewayError): void {
    this.refuse(this.unchain(batch), err);
  }

  /**
   * Take a batch out of the chain, with the events queued after it in the same sessions (sealed on
   * top of it): those sessions' heads go back to their last durable event, so the chain never holds
   * a gap. Returns every entry taken, for the caller to settle.
   */
  private unchain(batch: Pending[]): Pending[] {
    const sessions = new Set<string>();
    for (const p of batch) if (p.entry.type === 'event') sessions.add(p.entry.event.sessionId);
    const dependent = this.pending.filter((p) => p.entry.type === 'event' && sessions.has(p.entry.event.sessionId));
    this.pending = this.pending.filter((p) => !(p.entry.type === 'event' && sessions.has(p.entry.event.sessionId)));
    this.pendingChanged(true);
    for (const sid of sessions) {
      const st = this.state(sid);
      st.head = st.durable;
    }
    return [...batch, ...dependent];
  }

  private refuse(entries: Pending[], err: GatewayError): void {
    if (entries.length === 0) return;
    this.counters.refused += entries.length;
    this.log.warn({ refused: entries.length, reason: err.message }, 'record entries refused');
    for (const p of entries) p.reject(err);
  }

  /**
   * The store holds another event where this batch's would go in one session: a write refused here
   * as failed (a store timeout) had landed after all, or another writer records the same session.
   * Refuse that session's entries (its requests are not forwarded; those nobody waits for are kept
   * aside, keepAside) and forget its head, so its next events continue from the stored chain; write
   * the rest of the batch, which the store refused whole, again.
   */
  private async conflict(batch: Pending[], err: ChainConflictError): Promise<void> {
    this.log.warn({ sessionId: err.sessionId, seq: err.seq }, 'the record store holds another event at this place in the chain (an earlier write that landed late, or another writer of this session); continuing from the stored head');
    const moved = recordUnavailable('the session record moved on under this sidecar; retry the request', err);
    const inSession = (p: Pending) => p.entry.type === 'event' && p.entry.event.sessionId === err.sessionId;
    const rest = batch.filter((p) => !inSession(p));
    // Not an entry of this batch (the store misreported): refuse it all rather than loop.
    if (rest.length === batch.length) return this.fail(batch, moved);
    const taken = this.unchain(batch.filter(inSession));
    this.refuse(taken.filter((p) => !p.linger), moved);
    this.forgetHead(err.sessionId);
    const aside = this.keepAside(taken.filter((p) => p.linger), err.sessionId); // never rejects
    if (rest.length > 0) await this.writeBatch(rest);
    await aside;
  }

  /**
   * Events refused by a chain conflict that nobody waited for record what has already happened (an
   * answer the skill got, a stream's events, an egress attempt): refusing them would lose them, as
   * a request refused is not. They go where spooled forks go (the spool's conflicts.jsonl,
   * Spool.quarantine) and to the store's own kept-aside record (storeAside), outside the chain, and
   * their appends resolve once either holds them; kept nowhere, they are refused after all.
   */
  private async keepAside(kept: Pending[], sessionId: string): Promise<void> {
    if (kept.length === 0) return;
    const entries = kept.map((p) => p.entry);
    const [file, store] = await Promise.all([
      this.spool.enabled ? this.spool.quarantine(entries).catch((err: Error) => err) : new Error('the spool is disabled'),
      this.storeAside(entries),
    ]);
    if (file instanceof Error && store instanceof Error) {
      this.refuse(kept, recordUnavailable('the session record moved on under this sidecar, and the event could not be kept aside', new Error(`${file.message}; ${store.message}`)));
      return;
    }
    this.counters.quarantined += kept.length;
    this.log.warn({ sessionId, events: kept.length, ...(typeof file === 'string' ? { file } : {}), store: this.store.location, ...(store instanceof Error ? { notInStore: store.message } : {}) },
      'session events already acted on could not join the stored chain (another writer holds its place): kept aside');
    for (const p of kept) p.resolve();
  }

  /**
   * Keep events aside in the store too (outside every chain, SessionStore.keepAside), where a
   * responder finds them from anywhere (`skillgate sessions verify`) and they outlive the pod's
   * spool volume. Resolves with the error instead of rejecting.
   */
  private async storeAside(entries: readonly RecordEntry[]): Promise<Error | undefined> {
    if (!this.store.keepAside) return new Error(`${this.store.location} keeps no events aside`);
    const events = entries.filter((e): e is Extract<RecordEntry, { type: 'event' }> => e.type === 'event');
    if (events.length === 0) return undefined;
    try {
      await this.store.keepAside(events, this.writer, this.now().toISOString());
      return undefined;
    } catch (err) {
      return new Error(`${this.store.location}: ${(err as Error).message}`);
    }
  }

  /**
   * Forget a session's head (only while it is `tip`, when given), so that its next event reads the
   * head from the store again; left alone while a read or appends wait on it.
   */
  private forgetHead(sessionId: string, tip?: string): void {
    const st = this.sessions.get(sessionId);
    if (!st || st.loading || st.waiting.length > 0 || (tip !== undefined && st.head?.hash !== tip)) return;
    st.loaded = false;
    st.head = st.durable = undefined;
  }

  private async drainOne(): Promise<void> {
    const seg = await this.spool.oldest();
    if (!seg) {
      this.spooling = false;
      return;
    }
    try {
      for (const e of seg.entries) {
        if (e.type === 'checkpoint' && e.publicKeyPem) await withTimeout(this.store.publishKey(e.checkpoint.keyId, e.publicKeyPem), this.storeTimeoutMs);
      }
      let { fork, rest, started } = this.splitForks(seg.entries);
      for (;;) {
        if (fork.length > 0) await this.setAside(fork, started, seg.segment);
        try {
          await this.storeAppend(rest);
          break;
        } catch (err) {
          if (!(err instanceof ChainConflictError)) throw err;
          ({ fork, rest, started } = this.splitForks(rest, err));
          if (fork.length === 0) throw err; // not an entry of this segment: nothing to set aside
        }
      }
      await this.spool.remove(seg.segment);
      this.counters.replayed += rest.length;
      this.drainError = undefined;
      if (this.spool.isEmpty) {
        this.spooling = false;
        this.forkTips.clear();
        this.setAsideHashes.clear();
        this.log.info({ store: this.store.location }, 'record spool replayed; writing to the store again');
      }
    } catch (err) {
      this.nextDrainAt = Date.now() + this.retryMs;
      // Said when the reason changes, and once a minute while it lasts (replays retry every retryMs).
      const message = (err as Error).message;
      if (this.drainError?.message !== message || Date.now() - this.drainError.at >= 60_000) {
        this.drainError = { message, at: Date.now() };
        this.log.warn({ err: message, store: this.store.location, spoolBytes: this.spool.usedBytes }, 'record spool not replayed yet; retrying');
      }
    }
  }

  /**
   * Split spooled entries into those that fork a session's stored chain and the rest. A fork starts
   * at the entry the store refused (`conflict`: another writer's event holds its place) and goes
   * on through every entry chained to it, in this segment and later ones (forkTips).
   */
  private splitForks(entries: readonly RecordEntry[], conflict?: ChainConflictError): { fork: RecordEntry[]; rest: RecordEntry[]; started: boolean } {
    const fork: RecordEntry[] = [];
    const rest: RecordEntry[] = [];
    let started = false;
    for (const entry of entries) {
      const e = entry.type === 'event' ? entry.event : undefined;
      if (e && this.setAsideHashes.has(e.hash)) continue; // set aside already (this segment was retried)
      const starts = e !== undefined && conflict !== undefined && e.sessionId === conflict.sessionId && e.seq === conflict.seq;
      if (e && (starts || this.forkTips.get(e.sessionId) === e.prev)) {
        started ||= starts;
        this.forkTips.set(e.sessionId, e.hash);
        fork.push(entry);
      } else {
        rest.push(entry);
      }
    }
    return { fork, rest, started };
  }

  /**
   * Keep a fork's entries out of the store, and out of the way of the replay, without losing them:
   * they go to the spool directory's conflicts.jsonl (Spool.quarantine) and to the store's kept-aside
   * record (storeAside, when it takes them). The session's next event continues the stored chain
   * (its head is read again). Said once per fork, where it starts (the rest of it, in later
   * segments, is counted).
   */
  private async setAside(fork: readonly RecordEntry[], started: boolean, segment: number): Promise<void> {
    const [file, notInStore] = await Promise.all([this.spool.quarantine(fork), this.storeAside(fork)]);
    this.counters.quarantined += fork.length;
    const sessions = new Map<string, { first: number; last: number; events: number }>();
    for (const entry of fork) {
      if (entry.type !== 'event') continue;
      const e = entry.event;
      this.setAsideHashes.add(e.hash);
      const s = sessions.get(e.sessionId);
      if (s) { s.last = e.seq; s.events++; } else sessions.set(e.sessionId, { first: e.seq, last: e.seq, events: 1 });
      this.forgetHead(e.sessionId, e.hash);
    }
    if (started) for (const [sessionId, s] of sessions) {
      this.log.warn({ sessionId, seqs: `${s.first}-${s.last}`, events: s.events, segment, file, store: this.store.location, ...(notInStore ? { notInStore: notInStore.message } : {}) },
        'spooled session events fork the stored chain (another writer recorded this session meanwhile): kept aside, not replayed');
    }
  }

  /**
   * A checkpoint going to the spool takes its public key along: the key is published only on a
   * direct write, and a process whose store was away all its life (or that is gone when its spool
   * is replayed, by its successor) would otherwise leave checkpoints no verifier can check.
   */
  private withKey(entry: RecordEntry): RecordEntry {
    return entry.type === 'checkpoint' ? { ...entry, publicKeyPem: this.signer.publicKeyPem } : entry;
  }

  private async publishKey(): Promise<void> {
    if (this.keyPublished) return;
    try {
      await withTimeout(this.store.publishKey(this.signer.keyId, this.signer.publicKeyPem), this.storeTimeoutMs);
      this.keyPublished = true;
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'could not publish the record signing key yet; will retry');
    }
  }

  private async writeCheckpoint(waiters: Array<{ resolve: (cp: Checkpoint | undefined) => void; reject: (err: Error) => void }>): Promise<void> {
    if (this.changed.size === 0) {
      for (const w of waiters) w.resolve(undefined);
      return;
    }
    const heads = [...this.changed].map(([sessionId, h]) => ({ sessionId, seq: h.seq, hash: h.hash }));
    const cp = signCheckpoint(this.signer, this.writer, this.lastCheckpoint, heads, this.now());
    const entry: RecordEntry = { type: 'checkpoint', checkpoint: cp };
    try {
      if (!this.spooling) {
        await this.publishKey();
        try {
          await this.storeAppend([entry]);
        } catch (err) {
          if (!this.spool.enabled) throw err;
          this.spooling = true;
          this.nextDrainAt = Date.now() + this.retryMs;
          await this.spool.write([this.withKey(entry)]);
        }
      } else {
        await this.spool.write([this.withKey(entry)]);
      }
    } catch (err) {
      for (const w of waiters) w.reject(err as Error);
      return;
    }
    this.lastCheckpoint = cp;
    this.counters.checkpoints++;
    for (const h of heads) if (this.changed.get(h.sessionId)?.hash === h.hash) this.changed.delete(h.sessionId);
    for (const w of waiters) w.resolve(cp);
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms); }),
  ]).finally(() => clearTimeout(timer));
}
