// SkillApproval (namespaced, one per held request): what a human is asked to decide. Bound to the
// exact request by digest, single use, expiring. The owner of the skill may not approve it.
import type { Condition, ObjectMeta } from './meta.js';
import type { SkillIdentity } from './identity.js';

export type ApprovalPhase = 'Pending' | 'Approved' | 'Denied' | 'Expired' | 'Used';

export interface ApprovalDecision {
  user: string;
  decision: 'approve' | 'deny';
  reason: string;
  at: string;
}

export interface SkillApprovalSpec {
  identity: SkillIdentity;
  requestId: string;
  sessionId: string;
  /** sha256 of the exact request bytes; the approval releases only this request. */
  requestDigest: string;
  policy: string;
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
