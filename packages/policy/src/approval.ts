// The approval arithmetic, pure: given a SkillApproval's spec and its recorded decisions, which
// decisions count, which are ignored (and why), and what the phase is. The controller's approval
// reconciler writes the result to status; the CLI uses it to refuse obviously invalid decisions
// early. Rules: the skill's owner never counts; each user counts once (their latest decision); an
// approver must be listed in approvers.users or be in one of approvers.groups — and when a rule
// names neither, approvers.groups is [skillgate-approvers] (effectiveApprovers), never "anyone";
// one valid deny denies; `quorum` distinct valid approvals approve; past expiresAt it is Expired.
// Terminal phases (Approved, Denied, Expired, Used) never change back to Pending.
// A decision's user and groups are trusted here because the validating webhook admitted them only
// when they were the writer's own (packages/webhook/src/validate-approval.ts).
import { DEFAULT_APPROVER_GROUP, isSkillOwner, type ApprovalDecision, type ApprovalPhase, type SkillApprovalSpec } from '@skillgate/api';

/** A decision as recorded; `groups` are the decider's Kubernetes groups (checked by the webhook). */
export type RecordedDecision = ApprovalDecision;

type Approvers = SkillApprovalSpec['approvers'];

/**
 * The approvers that apply: as given when they name any group or user, otherwise the default
 * group skillgate-approvers (so a rule without approvers is decided by a known, RBAC-bound group).
 * Empty lists are dropped, so the result satisfies the SkillApproval CRD's validation.
 */
export function effectiveApprovers(a: { groups?: readonly string[]; users?: readonly string[]; quorum?: number }, owner?: string): Approvers {
  const groups = [...new Set(a.groups ?? [])];
  // The skill's owner may never decide its requests: named anyway (a rule shared by several
  // skills), they are left out, so the approval can still be made, and decided by the others.
  const users = [...new Set(a.users ?? [])].filter((u) => owner === undefined || !isSkillOwner(u, owner));
  const quorum = Math.max(1, a.quorum ?? 1);
  if (groups.length === 0 && users.length === 0) return { groups: [DEFAULT_APPROVER_GROUP], quorum };
  // Listed users alone who can no longer reach the quorum (the owner was one of them): the default
  // group joins them, rather than the quorum being lowered or never reached.
  if (groups.length === 0 && users.length < quorum) return { groups: [DEFAULT_APPROVER_GROUP], users, quorum };
  return { ...(groups.length ? { groups } : {}), ...(users.length ? { users } : {}), quorum };
}

export interface ApprovalOutcome {
  phase: ApprovalPhase;
  approvedBy: string[];
  deniedBy: string[];
  ignored: Array<{ user: string; reason: string }>;
}

/** Why this user may not decide this approval, or undefined when they may. */
export function deciderProblem(spec: SkillApprovalSpec, user: string, groups: readonly string[] = []): string | undefined {
  if (!user) return 'the decision names no user';
  if (isSkillOwner(user, spec.identity.owner)) return `${user} owns skill ${spec.identity.skill} and cannot decide its requests`;
  const { users = [], groups: wanted = [] } = effectiveApprovers(spec.approvers);
  if (users.some((u) => sameUser(u, user))) return undefined;
  if (wanted.some((g) => groups.includes(g))) return undefined;
  return `${user} is not an approver (users: ${users.join(', ') || '-'}; groups: ${wanted.join(', ') || '-'})`;
}

function sameUser(a: string, b: string): boolean {
  return a.trim().toLowerCase() === b.trim().toLowerCase();
}

export function approvalOutcome(spec: SkillApprovalSpec, decisions: readonly RecordedDecision[], now: Date, current?: ApprovalPhase): ApprovalOutcome {
  const latest = new Map<string, RecordedDecision>();
  const ignored: ApprovalOutcome['ignored'] = [];
  const expiresAt = Date.parse(spec.expiresAt);
  for (const d of decisions) {
    const problem = Date.parse(d.at) > expiresAt ? 'decided after the approval expired' : deciderProblem(spec, d.user, d.groups);
    if (problem) ignored.push({ user: d.user, reason: problem });
    else latest.set(d.user.trim().toLowerCase(), d);
  }
  const approvedBy: string[] = [];
  const deniedBy: string[] = [];
  for (const d of latest.values()) (d.decision === 'approve' ? approvedBy : deniedBy).push(d.user);
  if (current && current !== 'Pending') return { phase: current, approvedBy, deniedBy, ignored };
  let phase: ApprovalPhase = 'Pending';
  if (deniedBy.length) phase = 'Denied';
  else if (approvedBy.length >= Math.max(1, spec.approvers.quorum)) phase = 'Approved';
  else if (now.getTime() >= expiresAt) phase = 'Expired';
  return { phase, approvedBy, deniedBy, ignored };
}
