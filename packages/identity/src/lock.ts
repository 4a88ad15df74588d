// Locks: the kill switch as plain data. A lock targets one skill, owner, pod, session, workload token
// (jti) or namespace. `LockSet` answers "which lock refuses this subject?" in a constant number of map
// lookups (one per target kind), because the sidecar asks on every request and for every live stream
// whenever the set changes. Expired locks never match. Pure: no I/O, the clock is passed in.
import { normalizeOwner } from '@skillgate/api';
import type { LockTarget, LockTargetKind, SkillIdentity, SkillLock } from '@skillgate/api';

export const LOCK_TARGET_KINDS: readonly LockTargetKind[] = ['skill', 'owner', 'pod', 'session', 'token', 'namespace'];

export interface Lock {
  /** SkillLock name (or a synthetic name for token revocations). */
  name: string;
  target: LockTarget;
  reason: string;
  createdBy?: string;
  /** Epoch ms; absent = until removed. */
  expiresAt?: number;
}

/** What a lock is matched against: a skill identity plus, when known, the session and the token. */
export interface LockSubject {
  identity: SkillIdentity;
  sessionId?: string;
  tokenId?: string;
}

export interface LockMatch {
  lockName: string;
  reason: string;
  lock: Lock;
}

export class LockValidationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LockValidationError';
  }
}

// Where owners are compared (locks, the owner store, the record's filters) they are normalised alike.
export { normalizeOwner } from '@skillgate/api';

/** The map key a target is filed under. Skill targets without a namespace use `*`. */
export function targetKey(target: LockTarget): string {
  switch (target.kind) {
    case 'skill': return `skill:${target.namespace ?? '*'}/${target.value}`;
    case 'pod': return `pod:${target.namespace ?? '*'}/${target.value}`;
    case 'owner': return `owner:${normalizeOwner(target.value)}`;
    default: return `${target.kind}:${target.value}`;
  }
}

/** Every key under which a lock could refuse this subject: at most eight lookups. */
export function subjectKeys(s: LockSubject): string[] {
  const id = s.identity;
  const keys = [
    `skill:${id.namespace}/${id.skill}`,
    `skill:*/${id.skill}`,
    `pod:${id.namespace}/${id.pod}`,
    `pod:*/${id.pod}`,
    `owner:${normalizeOwner(id.owner)}`,
    `namespace:${id.namespace}`,
  ];
  if (s.sessionId) keys.push(`session:${s.sessionId}`);
  if (s.tokenId) keys.push(`token:${s.tokenId}`);
  return keys;
}

export function validateLock(input: unknown): Lock {
  if (!input || typeof input !== 'object') throw new LockValidationError('lock must be an object');
  const o = input as Record<string, unknown>;
  const t = o.target as Record<string, unknown> | undefined;
  if (typeof o.name !== 'string' || !o.name) throw new LockValidationError('lock.name must be a non-empty string');
  if (!t || typeof t !== 'object') throw new LockValidationError(`lock ${o.name}: target is required`);
  if (!LOCK_TARGET_KINDS.includes(t.kind as LockTargetKind)) throw new LockValidationError(`lock ${o.name}: target.kind must be one of ${LOCK_TARGET_KINDS.join(', ')}`);
  if (typeof t.value !== 'string' || !t.value) throw new LockValidationError(`lock ${o.name}: target.value must be a non-empty string`);
  if (t.namespace !== undefined && typeof t.namespace !== 'string') throw new LockValidationError(`lock ${o.name}: target.namespace must be a string`);
  if (o.expiresAt !== undefined && (typeof o.expiresAt !== 'number' || !Number.isFinite(o.expiresAt))) throw new LockValidationError(`lock ${o.name}: expiresAt must be epoch milliseconds`);
  const target: LockTarget = { kind: t.kind as LockTargetKind, value: t.value, ...(typeof t.namespace === 'string' && t.namespace ? { namespace: t.namespace } : {}) };
  return {
    name: o.name,
    target,
    reason: typeof o.reason === 'string' ? o.reason : '',
    ...(typeof o.createdBy === 'string' ? { createdBy: o.createdBy } : {}),
    ...(typeof o.expiresAt === 'number' ? { expiresAt: o.expiresAt } : {}),
  };
}

/** The Lock a SkillLock object stands for. Throws LockValidationError on a malformed spec. */
export function lockFromResource(res: SkillLock): Lock {
  const spec = res.spec ?? ({} as SkillLock['spec']);
  let expiresAt: number | undefined;
  if (spec.expiresAt) {
    expiresAt = Date.parse(spec.expiresAt);
    if (Number.isNaN(expiresAt)) throw new LockValidationError(`SkillLock ${res.metadata.name}: spec.expiresAt is not RFC 3339: ${spec.expiresAt}`);
  }
  return validateLock({
    name: res.metadata.name,
    target: spec.target,
    reason: spec.reason,
    ...(spec.createdBy ? { createdBy: spec.createdBy } : {}),
    ...(expiresAt !== undefined ? { expiresAt } : {}),
  });
}

export const isExpired = (lock: Lock, now: number): boolean => lock.expiresAt !== undefined && lock.expiresAt <= now;

export class LockSet {
  private readonly byName = new Map<string, Lock>();
  private readonly byKey = new Map<string, Map<string, Lock>>();
  /** Locks on a workload token: tokenLock answers at once while there are none (the usual case). */
  private tokenLocks = 0;

  constructor(locks: Iterable<Lock> = []) {
    for (const l of locks) this.put(l);
  }

  get size(): number {
    return this.byName.size;
  }

  get(name: string): Lock | undefined {
    return this.byName.get(name);
  }

  /** Add or replace a lock by name. Returns true when the set changed. */
  put(lock: Lock): boolean {
    const prev = this.byName.get(lock.name);
    if (prev && sameLock(prev, lock)) return false;
    if (prev) this.unfile(prev);
    this.byName.set(lock.name, lock);
    const key = targetKey(lock.target);
    let bucket = this.byKey.get(key);
    if (!bucket) this.byKey.set(key, (bucket = new Map()));
    bucket.set(lock.name, lock);
    if (lock.target.kind === 'token') this.tokenLocks++;
    return true;
  }

  remove(name: string): boolean {
    const prev = this.byName.get(name);
    if (!prev) return false;
    this.unfile(prev);
    this.byName.delete(name);
    return true;
  }

  /** Replace the whole set; returns true when anything differs. */
  replaceAll(locks: Iterable<Lock>): boolean {
    const next = new Map<string, Lock>();
    for (const l of locks) next.set(l.name, l);
    let changed = next.size !== this.byName.size;
    for (const name of [...this.byName.keys()]) if (!next.has(name)) { this.remove(name); changed = true; }
    for (const l of next.values()) if (this.put(l)) changed = true;
    return changed;
  }

  /** The first unexpired lock that refuses the subject. */
  match(subject: LockSubject, now: number): LockMatch | undefined {
    for (const key of subjectKeys(subject)) {
      const bucket = this.byKey.get(key);
      if (!bucket) continue;
      for (const lock of bucket.values()) {
        if (!isExpired(lock, now)) return { lockName: lock.name, reason: lock.reason, lock };
      }
    }
    return undefined;
  }

  /** A lock in force on this workload token (by jti) that `accept` takes (default: any), if any. */
  tokenLock(jti: string, now: number, accept: (lock: Lock) => boolean = () => true): Lock | undefined {
    if (this.tokenLocks === 0) return undefined;
    const bucket = this.byKey.get(`token:${jti}`);
    if (!bucket) return undefined;
    for (const lock of bucket.values()) if (!isExpired(lock, now) && accept(lock)) return lock;
    return undefined;
  }

  /** Drop expired locks; returns the names removed. */
  prune(now: number): string[] {
    const gone: string[] = [];
    for (const lock of [...this.byName.values()]) if (isExpired(lock, now)) { this.remove(lock.name); gone.push(lock.name); }
    return gone;
  }

  /** Epoch ms of the soonest expiry, for a timer. */
  nextExpiry(): number | undefined {
    let next: number | undefined;
    for (const l of this.byName.values()) if (l.expiresAt !== undefined && (next === undefined || l.expiresAt < next)) next = l.expiresAt;
    return next;
  }

  list(): Lock[] {
    return [...this.byName.values()];
  }

  private unfile(lock: Lock): void {
    const key = targetKey(lock.target);
    const bucket = this.byKey.get(key);
    bucket?.delete(lock.name);
    if (bucket && bucket.size === 0) this.byKey.delete(key);
    if (lock.target.kind === 'token') this.tokenLocks--;
  }
}

function sameLock(a: Lock, b: Lock): boolean {
  return a.reason === b.reason && a.expiresAt === b.expiresAt && a.createdBy === b.createdBy && targetKey(a.target) === targetKey(b.target);
}
