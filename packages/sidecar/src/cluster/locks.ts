// RedisLockGuard: the sidecar's live copy of the cluster's lock set, fed by the controller through
// Redis (pub/sub for speed, a replay stream for short gaps, a snapshot on (re)connect; protocol in
// @skillgate/identity lock-feed). Matching is a handful of map lookups per request. Every change
// calls the onChange listeners, which cut the live streams (and egress connections) a new lock
// matches. It fails closed: until the first snapshot, and whenever the feed has been lost longer than
// the configured bound — Redis unreachable, a sync that failed, a version gap not filled, or a
// publisher silent for that long — refusal() answers every request with 503, and the onStandingLost
// listeners cut what the skill holds open: a timer watches the loss, so the cut comes when the bound
// is crossed, not at the next request. It never forwards a decision it cannot vouch for.
// A responder's token lock binds the pod that held the token (as the controller's exchange does):
// a lock naming a token this sidecar held before its current one (`formerTokens`) matches it too,
// so a refresh that came before the lock does not carry the skill past it. The controller's own
// revocations do not bind: they name one token, and the sidecar re-exchanges past them.
import { DEFAULT_MAX_SILENCE_MS, LockFeedSubscriber, isRevocationLock, type FeedLog, type Lock } from '@skillgate/identity';
import { GatewayError, codes } from '@skillgate/wire';
import type { LockGuard, LockHit, LockSubject } from '../ports/index.js';
import type { Logger } from '../log.js';

export const LOCK_FEED_LOST = codes.lockFeedLost;

/** A responder's lock, not the controller's revocation of one token (which binds no pod). */
const notRevocation = (lock: Lock): boolean => !isRevocationLock(lock);

/** The least SKILLGATE_LOCK_FEED_MAX_LOSS_MS taken: twice the controller's default heartbeat. */
export const MIN_FEED_LOSS_MS = 4000;

export type LockFeedEvent =
  | { type: 'locks_changed'; version: number; locks: number }
  | { type: 'feed_lost'; sinceMs: number }
  | { type: 'feed_restored'; version: number };

export interface RedisLockGuardOptions {
  redisUrl: string;
  /** Key prefix shared with the controller (default `skillgate:`). */
  prefix?: string;
  /**
   * Refuse everything once the feed has been lost this long (ms). Default 30 s. A silent publisher
   * counts from its last message, so this is the bound for it too (keep it well above the
   * controller's heartbeat, SKILLGATE_LOCK_HEARTBEAT_MS, 2 s by default).
   */
  maxFeedLossMs?: number;
  clock?: () => number;
  log?: Logger;
  onEvent?: (e: LockFeedEvent) => void;
  /** The workload tokens (jtis) this sidecar held before its current one (ClusterIdentity.formerTokenIds). */
  formerTokens?: () => readonly string[];
}

export class RedisLockGuard implements LockGuard {
  readonly feed: LockFeedSubscriber;
  private readonly listeners: Array<() => void> = [];
  private readonly lostListeners: Array<() => void> = [];
  private readonly clock: () => number;
  private readonly maxLossMs: number;
  /** How often the loss watch looks while the feed is fine (a loss is then timed to its bound). */
  private readonly watchMs: number;
  private reportedLost = false;
  private lossWatch: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(private readonly opts: RedisLockGuardOptions) {
    this.clock = opts.clock ?? Date.now;
    this.maxLossMs = opts.maxFeedLossMs ?? 30_000;
    this.watchMs = Math.max(10, Math.min(1000, this.maxLossMs / 4));
    const log = opts.log;
    const feedLog: FeedLog = (level, msg, fields) => log?.[level](fields ?? {}, msg);
    this.feed = new LockFeedSubscriber({
      redisUrl: opts.redisUrl,
      ...(opts.prefix ? { prefix: opts.prefix } : {}),
      clock: this.clock,
      log: feedLog,
      // Silence counts as loss from the publisher's last message once it passes this, so a silent
      // publisher fails closed after the configured bound, not after a fixed silence plus it.
      maxSilenceMs: Math.min(DEFAULT_MAX_SILENCE_MS, this.maxLossMs),
      onChange: (locks, version) => {
        opts.onEvent?.({ type: 'locks_changed', version, locks: locks.size });
        for (const l of this.listeners) l();
      },
    });
  }

  /**
   * Connect and load the set. Never rejects: with Redis away it keeps trying, refusing meanwhile
   * (use whenSynced to wait for the first snapshot).
   */
  async start(): Promise<void> {
    this.watchLoss();
    await this.feed.start();
  }

  whenSynced(timeoutMs: number): Promise<void> {
    return this.feed.whenSynced(timeoutMs);
  }

  match(subject: LockSubject): LockHit | undefined {
    const now = this.clock();
    const hit = this.feed.locks.match(subject, now);
    if (hit) return { lockName: hit.lockName, reason: hit.reason };
    for (const jti of this.opts.formerTokens?.() ?? []) {
      const lock = this.feed.locks.tokenLock(jti, now, notRevocation);
      if (lock) return { lockName: lock.name, reason: `${lock.reason} (it locks workload token ${jti}, which this pod held before its current one)` };
    }
    return undefined;
  }

  onChange(listener: () => void): void {
    this.listeners.push(listener);
  }

  onStandingLost(listener: () => void): void {
    this.lostListeners.push(listener);
  }

  refusal(): GatewayError | undefined {
    if (!this.feed.synced) {
      return new GatewayError(LOCK_FEED_LOST, 'overloaded_error',
        'skillgate has not yet received the lock set from the controller, so it cannot tell whether this skill is locked. Retry shortly; if this persists, check Redis and the skillgate controller.',
        { status: 503, headers: { 'retry-after': '2' } });
    }
    const lost = this.feed.lostForMs();
    if (this.noteLoss(lost)) {
      return new GatewayError(LOCK_FEED_LOST, 'overloaded_error',
        `skillgate lost the lock feed ${Math.round(lost / 1000)} s ago (bound ${Math.round(this.maxLossMs / 1000)} s) and fails closed until it is back. Check Redis connectivity from this pod, and that the skillgate controller is running (its leader heartbeats the feed).`,
        { status: 503, headers: { 'retry-after': '5' } });
    }
    return undefined;
  }

  /**
   * Whether a loss of `lost` ms is past the bound; reports each crossing (event, log, and the
   * onStandingLost listeners, on a later microtask: a request asking refusal() must not run the
   * sweep inside its own stage) and each recovery once, whoever notices first, a request or the watch.
   */
  private noteLoss(lost: number): boolean {
    if (lost > this.maxLossMs) {
      if (!this.reportedLost) {
        this.reportedLost = true;
        this.opts.onEvent?.({ type: 'feed_lost', sinceMs: lost });
        this.opts.log?.error({ lostMs: lost }, 'lock feed lost beyond the bound: failing closed');
        queueMicrotask(() => { for (const l of this.lostListeners) l(); });
      }
      return true;
    }
    if (this.reportedLost) {
      this.reportedLost = false;
      this.opts.onEvent?.({ type: 'feed_restored', version: this.feed.version });
    }
    return false;
  }

  /**
   * Look at the feed on a timer: every watchMs while it is fine, and, once a loss shows, again just
   * as it crosses the bound, so what the skill holds open is cut then even if no request comes.
   * (Before the first snapshot nothing can be open: every request is refused.)
   */
  private watchLoss(): void {
    if (this.closed) return;
    let next = this.watchMs;
    if (this.feed.synced) {
      const lost = this.feed.lostForMs();
      // A loss counts from its start (a silent publisher's from its last message): time the next
      // look to the moment it would cross the bound.
      const age = lost > 0 ? lost : this.feed.lastMessageAgeMs;
      if (!this.noteLoss(lost) && age !== undefined) next = Math.max(1, Math.min(next, this.maxLossMs - age + 1));
    }
    this.lossWatch = setTimeout(() => this.watchLoss(), next);
    this.lossWatch.unref();
  }

  /** Problems for /readyz. */
  readiness(): string[] {
    if (!this.feed.synced) return ['lock feed not synchronised yet'];
    const lost = this.feed.lostForMs();
    return lost > 0 ? [`lock feed lost for ${Math.round(lost / 1000)} s`] : [];
  }

  locks(): Lock[] {
    return this.feed.locks.list();
  }

  /** The lock of that name, when it is in force now. */
  lockNamed(name: string): Lock | undefined {
    const lock = this.feed.locks.get(name);
    if (!lock) return undefined;
    return lock.expiresAt !== undefined && lock.expiresAt <= this.clock() ? undefined : lock;
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.lossWatch);
    await this.feed.close();
  }
}

export function redisLockGuard(opts: RedisLockGuardOptions): RedisLockGuard {
  return new RedisLockGuard(opts);
}

/**
 * A RedisLockGuard from the environment, or undefined without REDIS_URL. Reads REDIS_URL,
 * SKILLGATE_REDIS_PREFIX (default `skillgate:`), SKILLGATE_LOCK_FEED_MAX_LOSS_MS (default 30000).
 */
export function redisLockGuardFromEnv(env: NodeJS.ProcessEnv, extra: Pick<RedisLockGuardOptions, 'log' | 'onEvent' | 'clock' | 'formerTokens'> = {}): RedisLockGuard | undefined {
  if (!env.REDIS_URL) return undefined;
  const max = env.SKILLGATE_LOCK_FEED_MAX_LOSS_MS ? Number(env.SKILLGATE_LOCK_FEED_MAX_LOSS_MS) : undefined;
  // The controller's heartbeat comes every 2 s (SKILLGATE_LOCK_HEARTBEAT_MS): a bound under twice
  // that would count a quiet feed as lost between heartbeats and refuse every request meanwhile.
  if (max !== undefined && (!Number.isFinite(max) || max < MIN_FEED_LOSS_MS)) {
    throw new Error(`invalid SKILLGATE_LOCK_FEED_MAX_LOSS_MS: ${env.SKILLGATE_LOCK_FEED_MAX_LOSS_MS} (at least ${MIN_FEED_LOSS_MS} ms: twice the controller's 2 s heartbeat, or a quiet feed reads as lost between heartbeats)`);
  }
  return new RedisLockGuard({
    redisUrl: env.REDIS_URL,
    ...(env.SKILLGATE_REDIS_PREFIX ? { prefix: env.SKILLGATE_REDIS_PREFIX } : {}),
    ...(max !== undefined ? { maxFeedLossMs: max } : {}),
    ...extra,
  });
}
