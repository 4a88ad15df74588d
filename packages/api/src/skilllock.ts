// SkillLock (cluster-scoped): the kill switch. A lock targets one skill, owner, pod, session, workload
// token (jti) or namespace; while it is in force, matching requests are refused and matching live
// streams are cut. Cluster-scoped because owners and tokens span namespaces, and so that one RBAC
// rule governs who may lock.
import type { Condition, ObjectMeta } from './meta.js';

export type LockTargetKind = 'skill' | 'owner' | 'pod' | 'session' | 'token' | 'namespace';

export interface LockTarget {
  kind: LockTargetKind;
  /** skill name, owner email, pod name, session id, token jti, or namespace name. */
  value: string;
  /** For skill and pod targets: the namespace. Absent for skill: every namespace. */
  namespace?: string;
}

export interface SkillLockSpec {
  target: LockTarget;
  reason: string;
  /** Who placed it (user or "scim", "controller"). */
  createdBy?: string;
  /** RFC 3339; absent = until removed. */
  expiresAt?: string;
}

export interface SkillLockStatus {
  conditions?: Condition[];
  /** Streams cut and requests refused because of this lock (as last reported). */
  streamsKilled?: number;
  requestsRefused?: number;
}

export interface SkillLock {
  apiVersion: 'skillgate.dev/v1alpha1';
  kind: 'SkillLock';
  metadata: ObjectMeta;
  spec: SkillLockSpec;
  status?: SkillLockStatus;
}
