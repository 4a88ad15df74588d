// SkillApproval (namespaced, one per held request): what a human is asked to decide. Bound to the
// exact request by digest, single use, expiring. The owner of the skill may not approve it.
// Decisions are written under RBAC to status.decisions; the validating webhook
// (skillapprovals.validate.skillgate.dev) admits a new decision only when its user and groups are
// the caller's own, as authenticated by the API server.
import type { Condition, ObjectMeta } from './meta.js';
import type { SkillIdentity } from './identity.js';

export type ApprovalPhase = 'Pending' | 'Approved' | 'Denied' | 'Expired' | 'Used';

/**
 * The approver group used when an approval rule names neither groups nor users: bind it (RBAC on
 * skillapprovals/status) to the people who may approve such requests.
 */
export const DEFAULT_APPROVER_GROUP = 'skillgate-approvers';

export interface ApprovalDecision {
  /** The decider's username as the API server authenticated it (checked by the webhook). */
  user: string;
  /** The decider's groups as the API server authenticated them; only these count for approvers.groups. */
  groups?: string[];
  decision: 'approve' | 'deny';
  reason: string;
  at: string;
  /** Only "signed-link" is defined: written by the controller for a user who followed a signed approve/deny link. */
  via?: string;
  /** For via=signed-link: v1.<expiry>.<HMAC> over the decision, checked by the webhook with the link key. */
  proof?: string;
}

export interface SkillApprovalSpec {
  identity: SkillIdentity;
  requestId: string;
  sessionId: string;
  /** sha256 of the exact request bytes; the approval releases only this request. */
  requestDigest: string;
  policy: string;
  /** Rule ids, `namespace/policy/rule` (up to 63 + 1 + 253 + 1 + 63 = 381 characters). */
  rules: string[];
  reasons: string[];
  summary: {
    model?: string;
    stream?: boolean;
    tools?: string[];
    serverTools?: string[];
    mcpServers?: string[];
    findings?: Array<{ type: string; count: number }>;
    /** Masked excerpt of the newest user turn / tool result. */
    excerpt?: string;
    estimatedInputTokens?: number;
  };
  /** Who may decide. Never empty: a rule naming neither gets groups [DEFAULT_APPROVER_GROUP]. */
  approvers: { groups?: string[]; users?: string[]; quorum: number };
  expiresAt: string;
}

export interface SkillApprovalStatus {
  phase?: ApprovalPhase;
  decisions?: ApprovalDecision[];
  conditions?: Condition[];
}

export interface SkillApproval {
  apiVersion: 'skillgate.dev/v1alpha1';
  kind: 'SkillApproval';
  metadata: ObjectMeta;
  spec: SkillApprovalSpec;
  status?: SkillApprovalStatus;
}

/**
 * Whether the Kubernetes user `user` is the skill owner `owner` (an email): the same name, ignoring
 * case, also behind an identity provider's username prefix ("oidc:alice@example.com",
 * "https://issuer.example#alice@example.com"). An owner may not decide their own skill's requests;
 * reading a prefixed name as its owner's can only refuse more, never admit a self-approval.
 */
export function isSkillOwner(user: string, owner: string): boolean {
  const o = owner.trim().toLowerCase();
  const u = user.trim().toLowerCase();
  if (!o || !u) return false;
  if (u === o) return true;
  const cut = Math.max(u.lastIndexOf(':'), u.lastIndexOf('#'));
  return cut >= 0 && u.slice(cut + 1) === o;
}
