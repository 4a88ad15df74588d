// Offboarding and reinstating an owner, as Kubernetes writes: the owner record flips, and the
// owner's SkillLock is placed or removed. Shared by the SCIM endpoint and `skillgate owners`, so both
// paths do exactly the same thing under the caller's own RBAC. Revoking the owner's issued tokens is
// the controller's reaction to the record change (see owners/reconciler.ts), because only the
// controller knows which tokens it issued.
import { newOwner, offboardLock, offboardLockName, setOwnerActive, type Owner, type OwnerTransition } from '@skillgate/identity';
import type { LockClient } from '../locks/client.js';
import type { OwnerStore } from './store.js';

export interface OwnerChange {
  owner: Owner;
  transition: OwnerTransition;
}

export class OwnerLifecycle {
  constructor(private readonly store: OwnerStore, private readonly locks: LockClient, private readonly clock: () => number = Date.now) {}

  /** Mark the owner inactive and lock everything they own. Idempotent. */
  async offboard(email: string, reason: string, by: string, extra: { deleted?: boolean } = {}): Promise<OwnerChange> {
    const at = new Date(this.clock());
    let transition: OwnerTransition = 'unchanged';
    const { after } = await this.store.update(email, (cur) => {
      const r = setOwnerActive(cur ?? newOwner(email, at), false, at, by, reason);
      transition = r.transition === 'unchanged' && !cur ? 'offboarded' : r.transition;
      return extra.deleted ? { ...r.owner, deleted: true } : r.owner;
    });
    // Always (re)apply the lock: a previous attempt may have failed between the two writes.
    await this.locks.apply(offboardLock(after, reason, by));
    return { owner: after, transition };
  }

  /** Mark the owner active and lift their offboarding lock. Idempotent. */
  async reinstate(email: string, by: string): Promise<OwnerChange> {
    const at = new Date(this.clock());
    let transition: OwnerTransition = 'unchanged';
    const { after } = await this.store.update(email, (cur) => {
      const r = setOwnerActive(cur ?? newOwner(email, at), true, at, by);
      transition = r.transition;
      return r.owner;
    });
    await this.locks.remove(offboardLockName(after.email));
    return { owner: after, transition };
  }

  /** Create or update an owner's attributes without changing their status. */
  async upsert(email: string, fields: Partial<Pick<Owner, 'displayName' | 'externalId'>>, by: string): Promise<Owner> {
    const at = new Date(this.clock());
    const { after } = await this.store.update(email, (cur) => {
      const base = cur ?? newOwner(email, at);
      return { ...base, ...fields, updated: at.toISOString(), changedBy: by };
    });
    return after;
  }
}
