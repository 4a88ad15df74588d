// Owners: the accountable humans behind skills, and their lifecycle. An owner is active until an
// identity provider (SCIM), a responder (CLI) or an admin offboards them; offboarding places one lock
// of kind `owner` that covers every skill whose pod names them, and revokes their workload tokens.
// Re-assigning a skill to an active owner lifts the cascade for that skill without touching the lock,
// because the lock follows the person, not the skill. Pure model: storage lives in the controller.
import { createHash } from 'node:crypto';
import type { SkillLock } from '@skillgate/api';
import { API_VERSION } from '@skillgate/api';
import { normalizeOwner } from './lock.js';

export interface Owner {
  /** Stable id (also the SCIM id): derived from the normalised email. */
  id: string;
  email: string;
  active: boolean;
  displayName?: string;
  /** The IdP's own id for the user (SCIM externalId). */
  externalId?: string;
  /** Why the owner is inactive, and who said so. */
  reason?: string;
  changedBy?: string;
  /** RFC 3339 */
  created: string;
  updated: string;
  /** SCIM DELETE: the IdP no longer knows the user. The record stays so the lock stays explained. */
  deleted?: boolean;
}

export function ownerId(email: string): string {
  return createHash('sha256').update(normalizeOwner(email)).digest('hex').slice(0, 24);
}

/** Name of the SkillLock that offboarding an owner places. Deterministic, so it is idempotent. */
export function offboardLockName(email: string): string {
  return `offboard-${ownerId(email)}`;
}

export function newOwner(email: string, at: Date, fields: Partial<Pick<Owner, 'displayName' | 'externalId' | 'active'>> = {}): Owner {
  const iso = at.toISOString();
  return {
    id: ownerId(email),
    email: normalizeOwner(email),
    active: fields.active ?? true,
    ...(fields.displayName ? { displayName: fields.displayName } : {}),
    ...(fields.externalId ? { externalId: fields.externalId } : {}),
    created: iso,
    updated: iso,
  };
}

export type OwnerTransition = 'offboarded' | 'reinstated' | 'unchanged';

/** Set an owner's active flag; reports whether that offboarded or reinstated them. */
export function setOwnerActive(owner: Owner, active: boolean, at: Date, by: string, reason?: string): { owner: Owner; transition: OwnerTransition } {
  const transition: OwnerTransition = owner.active === active ? 'unchanged' : active ? 'reinstated' : 'offboarded';
  const next: Owner = { ...owner, active, updated: at.toISOString(), changedBy: by };
  if (active) {
    delete next.reason;
    delete next.deleted;
  } else if (reason) {
    next.reason = reason;
  }
  return { owner: next, transition };
}

/** The SkillLock that offboarding `owner` places. */
export function offboardLock(owner: Owner, reason: string, by: string): SkillLock {
  return {
    apiVersion: API_VERSION as 'skillgate.dev/v1alpha1',
    kind: 'SkillLock',
    metadata: {
      name: offboardLockName(owner.email),
      labels: { 'skillgate.dev/lock-source': 'offboarding', 'skillgate.dev/owner-id': owner.id },
    },
    spec: {
      target: { kind: 'owner', value: owner.email },
      reason: `owner ${owner.email} was offboarded${reason ? `: ${reason}` : ''}`,
      createdBy: by,
    },
  };
}

/** An in-memory directory of owners by email and id. Unknown owners are neither active nor inactive. */
export class OwnerRegistry {
  private readonly byEmail = new Map<string, Owner>();
  private readonly byId = new Map<string, Owner>();

  put(owner: Owner): void {
    const prev = this.byId.get(owner.id);
    if (prev) this.byEmail.delete(prev.email);
    this.byEmail.set(owner.email, owner);
    this.byId.set(owner.id, owner);
  }

  remove(id: string): void {
    const prev = this.byId.get(id);
    if (!prev) return;
    this.byId.delete(id);
    this.byEmail.delete(prev.email);
  }

  byEmailAddress(email: string): Owner | undefined {
    return this.byEmail.get(normalizeOwner(email));
  }

  get(id: string): Owner | undefined {
    return this.byId.get(id);
  }

  /** An owner the registry has never heard of counts as active: pods introduce owners by annotation. */
  isActive(email: string): boolean {
    return this.byEmailAddress(email)?.active ?? true;
  }

  list(): Owner[] {
    return [...this.byId.values()].sort((a, b) => a.email.localeCompare(b.email));
  }
}
