// SkillLock status counters: how many live streams a lock cut and how many requests it refused,
// summed over every sidecar. Sidecars count in Redis (HINCRBY on `lockStatsKey(prefix, lock)`, fields
// `streamsKilled` and `requestsRefused`; fire-and-forget, off the request path); this loop, run by the
// leader, copies the sums into status.streamsKilled / status.requestsRefused every few seconds, and
// only writes when a number changed. It never resets a counter and never writes spec.
import type { Redis } from 'ioredis';
import type { SkillLock } from '@skillgate/api';
import { SKILLLOCKS, describeApiError, mergePatch, statusOf, type KubeClients } from '../kube.js';
import type { Logger } from '../log.js';
import type { Reconciler } from '../reconciler.js';

export const LOCK_STAT_FIELDS = ['streamsKilled', 'requestsRefused'] as const;
export type LockStatField = (typeof LOCK_STAT_FIELDS)[number];

/** Where sidecars count for one lock. Shared contract with the sidecar. */
export function lockStatsKey(prefix: string, lockName: string): string {
  return `${prefix}locks:stats:${lockName}`;
}

/** The status patch that brings `lock` up to `counts`, or undefined when nothing changed. Pure. */
export function statsPatch(lock: SkillLock, counts: Partial<Record<LockStatField, number>>): Partial<Record<LockStatField, number>> | undefined {
  const patch: Partial<Record<LockStatField, number>> = {};
  for (const f of LOCK_STAT_FIELDS) {
    const n = counts[f];
    if (n !== undefined && n !== (lock.status?.[f] ?? 0)) patch[f] = n;
  }
  return Object.keys(patch).length ? patch : undefined;
}

export interface LockStatsDeps {
  kube: KubeClients;
  redis: Redis;
  prefix: string;
  /** The SkillLock objects as the lock reconciler last saw them. */
  objects(): SkillLock[];
  log: Logger;
  intervalMs?: number;
}

export class LockStatsReconciler implements Reconciler {
  readonly name = 'skilllock-counters';
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  /** What we last wrote, so a stale watch copy does not cause a rewrite. */
  private readonly written = new Map<string, Partial<Record<LockStatField, number>>>();

  constructor(private readonly deps: LockStatsDeps) {}

  async start(): Promise<void> {
    this.timer = setInterval(() => { this.running ??= this.sync().finally(() => { this.running = undefined; }); }, this.deps.intervalMs ?? 5000);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  /** One pass over every lock object (exposed for tests). */
  async sync(): Promise<void> {
    const objects = this.deps.objects();
    if (!objects.length) return;
    const tx = this.deps.redis.multi();
    for (const o of objects) tx.hmget(lockStatsKey(this.deps.prefix, o.metadata.name), ...LOCK_STAT_FIELDS);
    const results = (await tx.exec()) ?? [];
    for (let i = 0; i < objects.length; i++) {
      const lock = objects[i]!;
      const values = results[i]?.[1] as Array<string | null> | undefined;
      if (!values) continue;
      const counts: Partial<Record<LockStatField, number>> = {};
      LOCK_STAT_FIELDS.forEach((f, j) => { if (values[j] !== null && values[j] !== undefined) counts[f] = Number(values[j]); });
      const last = this.written.get(lock.metadata.name);
      const base: SkillLock = last ? { ...lock, status: { ...lock.status, ...last } } : lock;
      const patch = statsPatch(base, counts);
      if (!patch) continue;
      try {
        await this.deps.kube.custom.patchClusterCustomObjectStatus({ ...SKILLLOCKS, name: lock.metadata.name, body: { status: patch } }, mergePatch);
        this.written.set(lock.metadata.name, { ...last, ...patch });
      } catch (err) {
        if (statusOf(err) !== 404) this.deps.log.warn({ lock: lock.metadata.name, err: describeApiError(err) }, 'cannot update SkillLock counters');
      }
    }
  }
}
