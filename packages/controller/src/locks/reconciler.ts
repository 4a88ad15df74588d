// The SkillLock reconciler: list-then-watch SkillLock objects, keep the set of locks in force (plus
// the controller's own token revocations), publish every change to the lock feed at once, lift locks
// when they expire, and tell the user what happened through status conditions. Idempotent: a relist
// republishes the whole set; a status write happens only when the condition actually changes.
// Never deletes a SkillLock: expiry only takes it out of force, the object stays as a record.
//
// Every replica runs the watch (the token exchange everywhere needs the locks in force); only the
// leader publishes to the feed, heartbeats and writes status (`lead()` / `follow()`), because the
// feed has one writer. A lock can also be announced before its object exists (`putProvisional`,
// used by offboarding to skip the API-server round trip): it is in force at once and is dropped
// again if its object has not appeared within `provisionalMs`. Only ever adds locks that way.
import type { Redis } from 'ioredis';
import type { Condition, SkillLock } from '@skillgate/api';
import {
  LOCK_TARGET_KINDS, LockSet, LockValidationError, decodeSnapshot, feedKeys, isExpired, lockFromResource,
  type Lock,
} from '@skillgate/identity';
import type { LockFeedPublisher } from '@skillgate/identity/lock-feed-publisher';
import { SKILLLOCKS, describeApiError, mergePatch, statusOf, type KubeClients } from '../kube.js';
import { ListWatch, type WatchPhase } from '../list-watch.js';
import type { Logger } from '../log.js';
import type { ControllerMetrics } from '../metrics.js';
import { emit, type ControllerEvents } from '../events.js';
import type { Reconciler } from '../reconciler.js';

export interface LockReconcilerDeps {
  kube: KubeClients;
  /** A fresh publisher each time this replica becomes the leader. */
  publisher: () => LockFeedPublisher;
  /** Reads the published snapshot on takeover, to keep the previous leader's token revocations. */
  redis?: Redis;
  prefix?: string;
  /** How long an announced lock waits for its SkillLock object (default 30 s). */
  provisionalMs?: number;
  log: Logger;
  metrics: ControllerMetrics;
  events?: ControllerEvents;
  clock?: () => number;
  /** Liveness beacon on the feed (and snapshot repair after a Redis flush). */
  heartbeatMs?: number;
}

const WATCH_PATH = `/apis/${SKILLLOCKS.group}/${SKILLLOCKS.version}/${SKILLLOCKS.plural}`;

export class LockReconciler implements Reconciler {
  readonly name = 'skilllocks';
  /** Locks in force now: the same set sidecars hold. */
  readonly inForce = new LockSet();
  private readonly resources = new Map<string, SkillLock>();
  /** Locks that are not objects: token revocations, which lapse with the token. */
  private readonly synthetic = new Map<string, Lock>();
  /** Announced locks waiting for their object: name → deadline (epoch ms). */
  private readonly provisional = new Map<string, number>();
  /** Set while this replica leads: the feed's only writer. */
  private publisher: LockFeedPublisher | undefined;
  private expiryTimer: NodeJS.Timeout | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private stopped = false;
  private listed = false;
  private readonly clock: () => number;
  private readonly feed: ListWatch<SkillLock>;

  constructor(private readonly deps: LockReconcilerDeps) {
    this.clock = deps.clock ?? Date.now;
    this.feed = new ListWatch<SkillLock>(deps.kube.watch, {
      what: 'SkillLock', path: WATCH_PATH,
      list: () => this.relist(),
      event: (phase, obj) => {
        void this.onEvent(phase, obj).catch((err: Error) => this.deps.log.error({ err: err.message, phase }, 'SkillLock event failed'));
      },
    }, deps.log);
  }

  async start(): Promise<void> {
    await this.feed.start();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.feed.stop();
    clearTimeout(this.expiryTimer);
    await this.follow();
  }

  get leading(): boolean {
    return this.publisher !== undefined;
  }

  /** Become the feed's writer: adopt the previous leader's revocations, publish the whole set. */
  async lead(): Promise<void> {
    if (this.publisher || this.stopped) return;
    const publisher = this.deps.publisher();
    let v: number;
    try {
      await publisher.start();
      await this.adoptRevocations();
      v = await publisher.reset(this.inForce.list());
    } catch (err) {
      // Not the writer after all: let the next attempt start clean (no connection left behind).
      await publisher.close().catch(() => undefined);
      throw err;
    }
    this.publisher = publisher;
    this.deps.metrics.lockPublishes.labels('reset').inc();
    this.deps.metrics.lockFeedVersion.set(v);
    this.deps.log.info({ locks: this.inForce.size, version: v }, 'leading: lock set published');
    for (const res of this.resources.values()) void this.writeStatus(res, v);
    this.heartbeat = setInterval(() => {
      this.publisher?.heartbeat().catch((err: Error) => this.deps.log.warn({ err: err.message }, 'lock feed heartbeat failed'));
    }, this.deps.heartbeatMs ?? 2000);
    this.heartbeat.unref();
  }

  /** Stop writing the feed (another replica leads, or we are stopping). Keeps watching. */
  async follow(): Promise<void> {
    clearInterval(this.heartbeat);
    const publisher = this.publisher;
    this.publisher = undefined;
    await publisher?.close();
  }

  /** The SkillLock objects as last seen (for status and counters). */
  objects(): SkillLock[] {
    return [...this.resources.values()];
  }

  /**
   * Put a lock in force before its SkillLock object exists (offboarding announces its lock this
   * way). Published at once when leading; dropped if the object does not appear in time.
   */
  async putProvisional(lock: Lock): Promise<void> {
    if (this.stopped || isExpired(lock, this.clock())) return;
    const existing = this.resources.get(lock.name);
    if (!existing) this.provisional.set(lock.name, this.clock() + (this.deps.provisionalMs ?? 30_000));
    this.inForce.put(lock);
    await this.publishPut(lock);
    this.scheduleExpiry();
  }

  readiness(): string[] {
    const problems: string[] = [];
    if (!this.listed) problems.push('SkillLocks not listed yet');
    if (!this.feed.watching) problems.push('SkillLock watch not running');
    return problems;
  }

  /** Put a lock that is not an object (a revoked token) into force and publish it. */
  async addSynthetic(lock: Lock): Promise<void> {
    this.synthetic.set(lock.name, lock);
    if (isExpired(lock, this.clock())) return;
    this.inForce.put(lock);
    await this.publishPut(lock);
    this.scheduleExpiry();
  }

  private async publishPut(lock: Lock): Promise<void> {
    if (!this.publisher) return;
    const v = await this.publisher.put(lock);
    if (v !== undefined) this.published(lock, v);
  }

  private async publishRemove(name: string, why: 'deleted' | 'expired'): Promise<number | undefined> {
    if (!this.publisher) return undefined;
    const v = await this.publisher.remove(name);
    if (v !== undefined) this.lifted(name, v, why);
    return v;
  }

  /**
   * On takeover: token revocations live only in the feed; keep the unexpired ones. A snapshot that
   * cannot be read fails the takeover (the controller retries it): publishing the lock set without
   * them would lift those revocations in every sidecar. A snapshot that cannot be decoded is another
   * matter — no retry would read it — so the takeover goes on without it, said loudly.
   */
  private async adoptRevocations(): Promise<void> {
    if (!this.deps.redis) return;
    let text: string | null;
    try {
      text = await this.deps.redis.get(feedKeys(this.deps.prefix).snapshot);
    } catch (err) {
      throw new Error(`cannot read the previous leader's lock snapshot, which holds its token revocations: ${(err as Error).message}`);
    }
    if (!text) return;
    let locks: Lock[];
    try {
      locks = decodeSnapshot(text).locks;
    } catch (err) {
      this.deps.log.error({ err: (err as Error).message }, 'the previous lock snapshot cannot be decoded; token revocations of the previous leader are not carried over');
      return;
    }
    const now = this.clock();
    for (const lock of locks) {
      if (lock.target.kind === 'token' && !isExpired(lock, now) && !this.resources.has(lock.name)) {
        this.synthetic.set(lock.name, lock);
        this.inForce.put(lock);
      }
    }
  }

  /** List every SkillLock, publish the whole set when leading; the list's resourceVersion for the watch. */
  private async relist(): Promise<string | undefined> {
    const res = await this.deps.kube.custom.listClusterCustomObject({ ...SKILLLOCKS }) as { items: SkillLock[]; metadata?: { resourceVersion?: string } };
    this.resources.clear();
    for (const item of res.items) this.resources.set(item.metadata.name, item);
    const now = this.clock();
    const locks: Lock[] = [];
    for (const item of res.items) {
      const lock = this.lockOf(item);
      if (lock && !isExpired(lock, now)) locks.push(lock);
    }
    for (const lock of this.synthetic.values()) if (!isExpired(lock, now)) locks.push(lock);
    for (const [name, deadline] of this.provisional) {
      const lock = this.inForce.get(name);
      if (this.resources.has(name) || deadline <= now || !lock) this.provisional.delete(name);
      else locks.push(lock);
    }
    this.inForce.replaceAll(locks);
    this.listed = true;
    if (this.publisher) {
      const v = await this.publisher.reset(locks);
      this.deps.metrics.lockPublishes.labels('reset').inc();
      this.deps.metrics.lockFeedVersion.set(v);
      this.deps.log.info({ locks: locks.length, version: v }, 'SkillLocks listed and published');
      for (const item of res.items) void this.writeStatus(item, v);
    } else {
      this.deps.log.info({ locks: locks.length }, 'SkillLocks listed (not leading: not published)');
    }
    this.scheduleExpiry();
    this.updateGauges();
    return res.metadata?.resourceVersion;
  }

  private async onEvent(phase: WatchPhase, obj: SkillLock): Promise<void> {
    const name = obj.metadata.name;
    this.provisional.delete(name);
    if (phase === 'DELETED') {
      this.resources.delete(name);
      if (this.inForce.remove(name)) await this.publishRemove(name, 'deleted');
      this.updateGauges();
      return;
    }
    this.resources.set(name, obj);
    const lock = this.lockOf(obj);
    const now = this.clock();
    if (!lock || isExpired(lock, now)) {
      if (this.inForce.remove(name)) await this.publishRemove(name, lock ? 'expired' : 'deleted');
    } else {
      this.inForce.put(lock);
      await this.publishPut(lock);
    }
    const version = this.publisher?.currentVersion ?? 0;
    this.scheduleExpiry();
    this.updateGauges();
    await this.writeStatus(obj, version);
  }

  private lockOf(res: SkillLock): Lock | undefined {
    try {
      return lockFromResource(res);
    } catch (err) {
      if (!(err instanceof LockValidationError)) throw err;
      this.deps.log.warn({ lock: res.metadata.name, err: err.message }, 'invalid SkillLock ignored');
      return undefined;
    }
  }

  private published(lock: Lock, v: number): void {
    this.deps.metrics.lockPublishes.labels('put').inc();
    this.deps.metrics.lockFeedVersion.set(v);
    this.deps.log.warn({ lock: lock.name, kind: lock.target.kind, version: v }, 'lock in force; published to sidecars');
    emit(this.deps.events ?? {}, 'lockPublished', { lock, version: v });
  }

  private lifted(name: string, v: number, why: 'deleted' | 'expired'): void {
    this.deps.metrics.lockPublishes.labels('remove').inc();
    this.deps.metrics.lockFeedVersion.set(v);
    this.deps.log.info({ lock: name, version: v, why }, 'lock lifted; published to sidecars');
    emit(this.deps.events ?? {}, 'lockLifted', { name, version: v, why });
  }

  private scheduleExpiry(): void {
    clearTimeout(this.expiryTimer);
    let next = this.inForce.nextExpiry();
    for (const deadline of this.provisional.values()) if (next === undefined || deadline < next) next = deadline;
    if (next === undefined || this.stopped) return;
    const delay = Math.min(Math.max(0, next - this.clock()), 2 ** 31 - 1);
    this.expiryTimer = setTimeout(() => void this.expire(), delay);
    this.expiryTimer.unref();
  }

  private async expire(): Promise<void> {
    const now = this.clock();
    for (const [name, deadline] of this.provisional) {
      if (deadline > now) continue;
      this.provisional.delete(name);
      if (this.resources.has(name) || !this.inForce.remove(name)) continue;
      this.deps.log.error({ lock: name }, 'announced lock never appeared as a SkillLock object: withdrawn (check the controller\'s RBAC for skilllocks)');
      await this.publishRemove(name, 'deleted');
    }
    for (const name of this.inForce.prune(now)) {
      const v = await this.publishRemove(name, 'expired');
      this.synthetic.delete(name);
      const res = this.resources.get(name);
      if (res) await this.writeStatus(res, v ?? this.publisher?.currentVersion ?? 0);
    }
    for (const [name, lock] of this.synthetic) if (isExpired(lock, now)) this.synthetic.delete(name);
    this.scheduleExpiry();
    this.updateGauges();
  }

  private updateGauges(): void {
    const counts = new Map<string, number>(LOCK_TARGET_KINDS.map((k) => [k, 0]));
    for (const l of this.inForce.list()) counts.set(l.target.kind, (counts.get(l.target.kind) ?? 0) + 1);
    for (const [k, n] of counts) this.deps.metrics.locks.labels(k).set(n);
  }

  /** The condition this lock should show now. */
  private conditionFor(res: SkillLock, version: number): Pick<Condition, 'type' | 'status' | 'reason' | 'message'> {
    let lock: Lock | undefined;
    try {
      lock = lockFromResource(res);
    } catch (err) {
      return { type: 'Active', status: 'False', reason: 'Invalid', message: (err as Error).message };
    }
    if (isExpired(lock, this.clock())) return { type: 'Active', status: 'False', reason: 'Expired', message: `expired at ${new Date(lock.expiresAt!).toISOString()}; no longer enforced` };
    return { type: 'Active', status: 'True', reason: 'Published', message: `in force: published to every sidecar (lock feed version ${version})` };
  }

  private async writeStatus(res: SkillLock, version: number): Promise<void> {
    if (!this.publisher) return;
    const want = this.conditionFor(res, version);
    const have = res.status?.conditions?.find((c) => c.type === want.type);
    if (have && have.status === want.status && have.reason === want.reason) return;
    const condition: Condition = { ...want, lastTransitionTime: new Date(this.clock()).toISOString(), ...(res.metadata.generation ? { observedGeneration: res.metadata.generation } : {}) };
    const others = (res.status?.conditions ?? []).filter((c) => c.type !== want.type);
    try {
      await this.deps.kube.custom.patchClusterCustomObjectStatus(
        { ...SKILLLOCKS, name: res.metadata.name, body: { status: { conditions: [...others, condition] } } },
        mergePatch,
      );
    } catch (err) {
      const s = statusOf(err);
      if (s !== 404) this.deps.log.warn({ lock: res.metadata.name, err: describeApiError(err) }, 'cannot update SkillLock status');
    }
  }
}
