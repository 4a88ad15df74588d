// Owners: the accountable humans behind skills, and their lifecycle. An owner is active until an
// identity provider (SCIM), a responder (CLI) or an admin offboards them; offboarding places one lock
// of kind `owner` that covers every skill whose pod names them, and revokes their workload tokens.
// Who offboarded is kept on the record, because it decides who may reinstate: the identity provider
// may lift only an offboarding it made (its profile pushes say `active: true` for anyone it still
// knows), a responder's — taken in an incident — only a responder lifts. Giving a skill another
// owner (its pods recreated naming an active owner: the annotation is fixed for a pod's life) lifts
// the cascade for that skill without touching the lock, because the lock follows the person, not the
// skill. An owner is known by the canonical form of their address (normalizeOwner: lower case, no
// +tag, no trailing dot): ids, records, lock names and targets and every lookup here go through it,
// so no spelling of an address escapes its owner's offboarding. An owner is *vouched for* once the
// identity provider or a responder has written their record; one only registered from a pod's
// annotation is not (the annotation is the skill author's to write), and an installation that
// requires known owners gives such skills no token. Pure model: storage lives in the controller.
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
  /** Inactive owners: who offboarded them, and so who may reinstate them (offboardingSourceOf). */
  offboardedBy?: OffboardingSource;
}

/**
 * Who took an owner out. `scim`: their identity provider (deactivated or deleted there). `responder`:
 * a person with RBAC on the owner records (`skillgate owners offboard`), typically in an incident.
 */
export type OffboardingSource = 'scim' | 'responder';

/** The actor name SCIM writes under (`changedBy`, a lock's createdBy). */
export const SCIM_ACTOR = 'scim';

/** `changedBy` prefix of owner records the controller registered from a pod's annotation. */
export const POD_REGISTRATION_ACTOR = 'pod-annotation:';

/**
 * Whether someone accountable has vouched for this owner: the identity provider (SCIM) or a
 * responder (`skillgate owners add|offboard|reinstate`) wrote the record. A record the controller
 * only registered from a pod annotation is not vouched for: a pod registers its owner only when no
 * record exists, and any later write by SCIM or a responder replaces `changedBy`, so the prefix
 * marks exactly the records nobody but a pod ever wrote.
 */
export function isVouched(owner: Owner): boolean {
  return !(owner.changedBy ?? '').startsWith(POD_REGISTRATION_ACTOR);
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

/**
 * Who offboarded an inactive owner (undefined for an active one). A record written before the
 * source was kept counts as the identity provider's only if SCIM wrote it last, else as a
 * responder's: when in doubt, the stricter.
 */
export function offboardingSourceOf(owner: Owner): OffboardingSource | undefined {
  if (owner.active) return undefined;
  return owner.offboardedBy ?? (owner.changedBy === SCIM_ACTOR ? 'scim' : 'responder');
}

/**
 * Why `source` may not reinstate this owner, or undefined when it may. A responder may lift any
 * offboarding; the identity provider only its own.
 */
export function reinstatementRefusal(owner: Owner, source: OffboardingSource): string | undefined {
  if (owner.active || source === 'responder' || offboardingSourceOf(owner) === 'scim') return undefined;
  return `owner ${owner.email} was offboarded by a responder${owner.reason ? ` (${owner.reason})` : ''}, which the identity provider cannot lift: the owner stays offboarded and their skills stay locked until a responder runs \`skillgate owners reinstate ${owner.email}\``;
}

/**
 * Set an owner's active flag; reports whether that offboarded or reinstated them. Offboarding keeps
 * the strictest source: a responder's offboarding stays a responder's when the identity provider
 * deactivates the owner too. Reinstating clears it (check reinstatementRefusal first).
 */
export function setOwnerActive(owner: Owner, active: boolean, at: Date, by: string, reason?: string, source: OffboardingSource = 'responder'): { owner: Owner; transition: OwnerTransition } {
  const transition: OwnerTransition = owner.active === active ? 'unchanged' : active ? 'reinstated' : 'offboarded';
  const next: Owner = { ...owner, active, updated: at.toISOString(), changedBy: by };
  if (active) {
    delete next.reason;
    delete next.deleted;
    delete next.offboardedBy;
  } else {
    // A responder's offboarding, and the reason they gave, outlast the identity provider's.
    const heldByResponder = offboardingSourceOf(owner) === 'responder';
    if (reason && !(heldByResponder && source === 'scim')) next.reason = reason;
    next.offboardedBy = heldByResponder ? 'responder' : source;
  }
  return { owner: next, transition };
}

/** Label on an offboarding SkillLock: who placed it (an OffboardingSource). */
export const LABEL_OFFBOARDED_BY = 'skillgate.dev/offboarded-by';

/** The SkillLock that offboarding `owner` places, labelled with who placed it. */
export function offboardLock(owner: Owner, reason: string, by: string, source: OffboardingSource = 'responder'): SkillLock {
  // The canonical address, whatever the record says: the lock must match every spelling of the owner.
  const email = normalizeOwner(owner.email);
  return {
    apiVersion: API_VERSION as 'skillgate.dev/v1alpha1',
    kind: 'SkillLock',
    metadata: {
      name: offboardLockName(email),
      labels: { 'skillgate.dev/lock-source': 'offboarding', 'skillgate.dev/owner-id': ownerId(email), [LABEL_OFFBOARDED_BY]: source },
    },
    spec: {
      target: { kind: 'owner', value: email },
      reason: `owner ${email} was offboarded${reason ? `: ${reason}` : ''}`,
      createdBy: by,
    },
  };
}

/**
 * One owner from the records stored for them. Records written before owner addresses had one
 * canonical form (under `jane+triage@example.com`, `jane@example.com.`) now name the same owner as
 * the record of the canonical address. That record decides when there is one: every write since
 * (SCIM, the CLI, a pod) goes to it. Without it, the strictest of the others: one offboarded record
 * keeps the owner offboarded. Either way the owner's offboarding locks, whatever address they were
 * placed under, match every spelling (lock.ts), so merging never lifts a lock.
 */
export function mergeOwnerRecords(canonical: Owner | undefined, others: readonly Owner[]): Owner | undefined {
  const pick = canonical ?? others.find((o) => !o.active) ?? others[0];
  return pick && atCanonicalAddress(pick);
}

/** The owner under the canonical form of their address, and its id (the same object when it already is). */
export function atCanonicalAddress(owner: Owner): Owner {
  const email = normalizeOwner(owner.email);
  const id = ownerId(email);
  return owner.email === email && owner.id === id ? owner : { ...owner, email, id };
}

/**
 * An in-memory directory of owners by email and id, both of the canonical address. Unknown owners
 * are neither active nor inactive.
 */
export class OwnerRegistry {
  private readonly byEmail = new Map<string, Owner>();
  private readonly byId = new Map<string, Owner>();

  put(owner: Owner): void {
    const canonical = atCanonicalAddress(owner);
    const prev = this.byId.get(canonical.id);
    if (prev) this.byEmail.delete(prev.email);
    this.byEmail.set(canonical.email, canonical);
    this.byId.set(canonical.id, canonical);
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

  /** Whether the identity provider or a responder vouched for this owner (isVouched); unknown owners are not. */
  isVouched(email: string): boolean {
    const owner = this.byEmailAddress(email);
    return owner !== undefined && isVouched(owner);
  }

  list(): Owner[] {
    return [...this.byId.values()].sort((a, b) => a.email.localeCompare(b.email));
  }
}
