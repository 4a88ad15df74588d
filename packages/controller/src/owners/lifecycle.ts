// Offboarding and reinstating an owner, as Kubernetes writes: the owner record flips, and the
// owner's SkillLock is placed or removed. Shared by the SCIM endpoint and `skillgate owners`, so both
// paths do exactly the same thing under the caller's own RBAC. Revoking the owner's issued tokens is
// the controller's reaction to the record change (see owners/reconciler.ts), because only the
// controller knows which tokens it issued.
// Speed matters on the way out only: offboarding announces its lock (`announce`, the controller's
// lock feed) before any API write, then makes the record and the SkillLock durable in parallel.
// Reinstating never takes a shortcut: a lock is lifted only once its object is gone.
import { lockFromResource, newOwner, offboardLock, offboardLockName, setOwnerActive, type Lock, type Owner, type OwnerTransition } from '@skillgate/identity';
import type { LockClient } from '../locks/client.js';
import type { OwnerStore } from './store.js';

export interface OwnerChange {
  owner: Owner;
  transition: OwnerTransition;
}

export type OwnerFields = Partial<Pick<Owner, 'displayName' | 'externalId'>>;

export class OwnerLifecycle {
  constructor(
    private readonly store: OwnerStore,
    private readonly locks: LockClient,
    private readonly clock: () => number = Date.now,
    /** Put a lock in force ahead of its object (the controller's feed); absent in the CLI. */
    private readonly announce?: (lock: Lock) => Promise<void>,
  ) {}

  /** Mark the owner inactive (storing `fields` in the same write) and lock everything they own. Idempotent. */
  async offboard(email: string, reason: string, by: string, extra: { deleted?: boolean; fields?: OwnerFields } = {}): Promise<OwnerChange> {
    const at = new Date(this.clock());
    const lock = offboardLock(newOwner(email, at), reason, by);
    // The lock does not depend on the record: announce it first, then write both at once.
    if (this.announce) await this.announce(lockFromResource(lock)).catch(() => undefined);
    let transition: OwnerTransition = 'unchanged';
    const [{ after }] = await Promise.all([
      this.store.update(email, (cur) => {
        const r = setOwnerActive({ ...(cur ?? newOwner(email, at)), ...extra.fields }, false, at, by, reason);
        transition = r.transition === 'unchanged' && !cur ? 'offboarded' : r.transition;
        return extra.deleted ? { ...r.owner, deleted: true } : r.owner;
      }),
      // Always (re)apply the lock: a previous attempt may have failed between the two writes.
      this.locks.apply(lock),
    ]);
    return { owner: after, transition };
  }

  /** Mark the owner active and lift their offboarding lock. Idempotent. */
  async reinstate(email: string, by: string, fields: OwnerFields = {}): Promise<OwnerChange> {
    const at = new Date(this.clock());
    let transition: OwnerTransition = 'unchanged';
    const { after } = await this.store.update(email, (cur) => {
      const r = setOwnerActive({ ...(cur ?? newOwner(email, at)), ...fields }, true, at, by);
      transition = r.transition;
      return r.owner;
    });
    await this.locks.remove(offboardLockName(after.email));
    return { owner: after, transition };
  }

  /** Create or update an owner's attributes without changing their status. */
  async upsert(email: string, fields: OwnerFields, by: string): Promise<Owner> {
    const at = new Date(this.clock());
    const { after } = await this.store.update(email, (cur) => {
      const base = cur ?? newOwner(email, at);
      return { ...base, ...fields, updated: at.toISOString(), changedBy: by };
    });
    return after;
  }

  /** Record an owner first seen on a pod, as active, unless a record exists. */
  async register(email: string, by: string): Promise<boolean> {
    const at = new Date(this.clock());
    return this.store.create({ ...newOwner(email, at), changedBy: by });
  }
}
