// @skillgate/api — the Kubernetes API types of skillgate (group skillgate.dev, v1alpha1):
// SkillPolicy, SkillApproval, SkillLock, plus the pod labels and annotations the product reads.
// Plain types and constants only: no I/O, no validation logic (that lives with each concept).
export * from './meta.js';
export * from './skillpolicy.js';
export * from './skillapproval.js';
export * from './skilllock.js';
export * from './identity.js';
export * from './podinfo.js';
export * from './pem.js';
export * from './hostname.js';
