// Offboarding and reinstating an owner, as Kubernetes writes: the owner record flips, and the
// owner's SkillLock is placed or removed. Shared by the SCIM endpoint and `skillgate owners`, so both
// paths do exactly the same thing under the caller's own RBAC. Revoking the owner's issued tokens is
// the controller's reaction to the record change (see owners/reconciler.ts), because only the
// controller knows which tokens it issued.
// Every write says who makes it (`source`): the identity provider (SCIM) may lift only an offboarding
// it made, never a responder's — its routine profile pushes carry `active: true` for anyone it still
// knows, and must not re-enable a skill taken down in an incident. The default is the responder's
// (the CLI), the stricter.
// Speed matters on the way out only: offboarding announces its lock (`announce`, the controller's
// lock feed) before any API write, then makes the record and the SkillLock durable in parallel.
// Reinstating never takes a shortcut: a lock is lifted only once its object is gone.
import { LABEL_OFFBOARDED_BY, lockFromResource, newOwner, offboardLock, offboardLockName, reinstatementRefusal, setOwnerActive, type Lock, type OffboardingSource, type Owner, type OwnerTransition } from '@skillgate/identity';
import type { LockClient } from '../locks/client.js';
import type { OwnerStore } from './store.js';

export interface OwnerChange {
  owner: Owner;
  transition: OwnerTransition;
  /** A reinstatement this source may not make: why the owner stays offboarded (record and lock kept). */
  refused?: string;
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
  async offboard(email: string, reason: string, by: string, extra: { deleted?: boolean; fields?: OwnerFields; source?: OffboardingSource } = {}): Promise<OwnerChange> {
    const at = new Date(this.clock());
    const source = extra.source ?? 'responder';
    const lock = offboardLock(newOwner(email, at), reason, by, source);
    // The lock does not depend on the record: announce it first, then write both at once.
    if (this.announce) await this.announce(lockFromResource(lock)).catch(() => undefined);
    let transition: OwnerTransition = 'unchanged';
    const [record, locked] = await Promise.allSettled([
      this.store.update(email, (cur) => {
        const r = setOwnerActive({ ...(cur ?? newOwner(email, at)), ...extra.fields }, false, at, by, reason, source);
        transition = r.transition === 'unchanged' && !cur ? 'offboarded' : r.transition;
        return extra.deleted ? { ...r.owner, deleted: true } : r.owner;
      }),
      // Always (re)apply the lock: a previous attempt may have failed between the two writes. The
      // identity provider does not rewrite a responder's lock (its reason is the incident's).
      this.locks.apply(lock, source === 'scim' ? (current) => current.metadata.labels?.[LABEL_OFFBOARDED_BY] !== 'responder' : undefined),
    ]);
    if (record.status === 'fulfilled' && locked.status === 'fulfilled') return { owner: record.value.after, transition };
    // Half done: say which half holds, so a responder knows what is in force and what is left to do.
    const why = (r: PromiseSettledResult<unknown>): string => (r.status === 'rejected' ? (r.reason as Error).message : '');
    if (locked.status === 'fulfilled') {
      throw new Error(`the lock ${lock.metadata.name} is in force (every skill of ${email} is refused), but the owner record could not be written, so their issued tokens are not revoked and the record still says active: ${why(record)}; run this again with rights to the owner records (ConfigMaps in skillgate's namespace, which the responder role does not grant), or offboard through SCIM`);
    }
    throw new Error(`${email} is not locked: the lock ${lock.metadata.name} could not be written: ${why(locked)}${record.status === 'fulfilled' ? ' (the owner record now says offboarded: run this again to place the lock)' : `; nor the owner record: ${why(record)}`}`);
  }

  /**
   * Mark the owner active and lift their offboarding lock. Idempotent. When `source` may not lift
   * this offboarding (the identity provider, a responder's offboarding), nothing but `fields` is
   * written and the change says why (`refused`).
   */
  async reinstate(email: string, by: string, fields: OwnerFields = {}, source: OffboardingSource = 'responder'): Promise<OwnerChange> {
    const at = new Date(this.clock());
    let transition: OwnerTransition = 'unchanged';
    let refused: string | undefined;
    const { after } = await this.store.update(email, (cur) => {
      const base = { ...(cur ?? newOwner(email, at)), ...fields };
      refused = reinstatementRefusal(base, source);
      if (refused) {
        // The identity provider knows the owner again (a SCIM POST after a DELETE): only not as active.
        const { deleted: _forgotten, ...known } = base;
        return { ...known, updated: at.toISOString() };
      }
      const r = setOwnerActive(base, true, at, by);
      transition = r.transition;
      return r.owner;
    });
    if (refused) return { owner: after, transition: 'unchanged', refused };
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
