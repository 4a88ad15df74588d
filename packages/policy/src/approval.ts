// The approval arithmetic, pure: given a SkillApproval's spec and its recorded decisions, which
// decisions count, which are ignored (and why), and what the phase is. The controller's approval
// reconciler writes the result to status; the CLI uses it to refuse obviously invalid decisions
// early. Rules: the skill's owner never counts; each user counts once (their latest decision); an
// approver must be listed in approvers.users or be in one of approvers.groups (when either is set);
// one valid deny denies; `quorum` distinct valid approvals approve; past expiresAt it is Expired.
// Terminal phases (Approved, Denied, Expired, Used) never change back to Pending.
import type { ApprovalDecision, ApprovalPhase, SkillApprovalSpec } from '@skillgate/api';

/** A decision as recorded; `groups` are the decider's Kubernetes groups (from SelfSubjectReview). */
export type RecordedDecision = ApprovalDecision & { groups?: string[] };

export interface ApprovalOutcome {
  phase: ApprovalPhase;
  approvedBy: string[];
  deniedBy: string[];
  ignored: Array<{ user: string; reason: string }>;
}

/** Why this user may not decide this approval, or undefined when they may. */
export function deciderProblem(spec: SkillApprovalSpec, user: string, groups: readonly string[] = []): string | undefined {
  if (!user) return 'the decision names no user';
  if (sameUser(user, spec.identity.owner)) return `${user} owns skill ${spec.identity.skill} and cannot decide its requests`;
  const { users = [], groups: wanted = [] } = spec.approvers;
  if (users.length === 0 && wanted.length === 0) return undefined;
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
