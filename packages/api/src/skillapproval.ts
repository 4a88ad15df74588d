// SkillApproval (namespaced, one per held request): what a human is asked to decide. Bound to the
// exact request by digest, single use, expiring. The owner of the skill may not approve it.
// Decisions are written under RBAC to status.decisions; the validating webhook
// (skillapprovals.validate.skillgate.dev) admits a new decision only when its user and groups are
// the caller's own, as authenticated by the API server.
import { normalizeOwner, type Condition, type ObjectMeta } from './meta.js';
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
    /** Masked excerpt of the newest user turn / tool result (for a batch: of its first matching requests, each after its custom_id). */
    excerpt?: string;
    estimatedInputTokens?: number;
    /** A Message Batch: how many requests it holds, how many match the approval rules, and the first matching ones' custom_id (masked). */
    batch?: { requests: number; matching: number; customIds?: string[] };
  };
  /**
   * Who may decide at all: the union of the requirements' approvers, with the largest quorum (what
   * `kubectl get` and older readers show). Never empty: a rule naming neither gets groups
   * [DEFAULT_APPROVER_GROUP]. Without `requirements` (an object written before them) it is the one
   * requirement.
   */
  approvers: { groups?: string[]; users?: string[]; quorum: number };
  /**
   * One per matched rule: the request is approved only when every requirement has `quorum` distinct
   * approvals from its own approvers (a decision counts toward each requirement that names the
   * decider); one denial by anyone who may decide denies. A rule cannot lend its approvers to another.
   */
  requirements?: ApprovalRequirement[];
  expiresAt: string;
}

/** What one matched rule asks for: `quorum` distinct approvals from its own groups and users. */
export interface ApprovalRequirement {
  /** The rule id, `namespace/policy/rule`. */
  rule?: string;
  groups?: string[];
  users?: string[];
  quorum: number;
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
 * A username as approver lists compare it: trimmed and lower-cased, nothing else. Membership in
 * `approvers.users` and the webhook's bookkeeping never read past a prefix: "mallory:bob@example.com"
 * is not bob@example.com.
 */
export function userName(user: string): string {
  return user.trim().toLowerCase();
}

/** Whether two usernames are the same name (userName); an empty name is nobody. */
export function sameUser(a: string, b: string): boolean {
  const n = userName(a);
  return n !== '' && n === userName(b);
}

/**
 * What follows the last ":" or "#" of a (userName) name, or undefined when it has neither: the part
 * an identity provider's username prefix ("oidc:", "https://issuer.example#") would stand before.
 */
function afterPrefix(name: string): string | undefined {
  const cut = Math.max(name.lastIndexOf(':'), name.lastIndexOf('#'));
  return cut >= 0 ? name.slice(cut + 1) : undefined;
}

/**
 * The person a Kubernetes username may name, for COUNTING only: trimmed and lower-cased, and an
 * email behind any prefix ending in ":" or "#" ("oidc:bob@example.com",
 * "https://issuer.example#bob@example.com") read as the email, in its canonical owner form
 * (normalizeOwner: "bob+ci@example.com" is bob). The same human deciding through the
 * CLI (API-server username, prefixed) and through a signed link (the proxy's bare email) is one
 * person toward a quorum. Only an email is unwrapped: "system:serviceaccount:ns:bob" stays whole.
 *
 * Never a test of who someone IS: anyone whose name ends in ":bob@example.com" reads as bob here, so
 * it is used only where merging two names can refuse more, never admit more — quorum counting (two
 * decisions read as one person count once) and the owner check. Who may decide (approvers.users)
 * and one decision per user compare names as written (userName / sameUser).
 */
export function personOf(user: string): string {
  const u = userName(user);
  const email = afterPrefix(u);
  // An email reads as its owner address (normalizeOwner: a +tag and a trailing dot folded away), so
  // bob+ci@example.com is bob toward a quorum and as the skill's owner, as it is for offboarding.
  if (email !== undefined && email.includes('@')) return normalizeOwner(email);
  return u.includes('@') ? normalizeOwner(u) : u;
}

/** Whether two usernames may name the same person (personOf); an empty name is nobody. For counting only. */
export function samePerson(a: string, b: string): boolean {
  const p = personOf(a);
  return p !== '' && p === personOf(b);
}

/**
 * Whether the Kubernetes user `user` is (or may be) the skill owner `owner`: the same name, the same
 * person (personOf), or any prefix ending right before the owner's name. An owner may not decide
 * their own skill's requests; reading a prefixed name as its owner's can only refuse more, never
 * admit a self-approval.
 */
export function isSkillOwner(user: string, owner: string): boolean {
  const o = userName(owner);
  const u = userName(user);
  if (!o || !u) return false;
  return samePerson(u, o) || afterPrefix(u) === o;
}

/**
 * The last `max` UTF-16 units of `text` (one fewer when the cut would fall inside a surrogate pair,
 * so never half a character); `text` itself when it is not longer. The approval excerpt (the
 * sidecar) and the notification (the controller) show the end of the newest turn, where the newest
 * instruction is.
 */
export function textTail(text: string, max: number): string {
  if (text.length <= max) return text;
  let start = text.length - Math.max(0, max);
  const c = text.charCodeAt(start);
  if (c >= 0xdc00 && c <= 0xdfff) start++;
  return text.slice(start);
}
