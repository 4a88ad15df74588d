// Validation of SkillApproval status writes (skillapprovals/status): a decision is admitted only
// when it is the caller's own. Each decision that is NEW in the update must name the caller's
// username exactly as the API server authenticated it (AdmissionReview userInfo), and may only
// claim groups the API server authenticated for the caller — so approver groups come from
// authentication, never from what a client wrote. No decisions are admitted on a closed approval.
// Pure; it must never admit a decision written under someone else's name, and never judge writes
// that add no decision (the sidecar's Used and the controller's phase writes pass untouched).
import type { ApprovalDecision, ApprovalPhase } from '@skillgate/api';

/** Who is writing, from AdmissionReview.request.userInfo. */
export interface ApprovalCaller {
  username: string;
  groups: readonly string[];
}

/** The parts of a SkillApproval this check reads (old and new object of the status update). */
export interface ApprovalStatusView {
  metadata?: { name?: string; namespace?: string };
  status?: { phase?: ApprovalPhase; decisions?: ApprovalDecision[] };
}

export interface ApprovalStatusVerdict {
  allowed: boolean;
  violations: string[];
}

/** Identity of a decision as written: a decision equal to one already stored is not new. */
function decisionKey(d: ApprovalDecision): string {
  return JSON.stringify([d.user, d.decision, d.reason, d.at, [...(d.groups ?? [])].sort()]);
}

/** Decisions present in `next` that were not already stored in `prev`. */
export function newDecisions(prev: ApprovalStatusView | undefined, next: ApprovalStatusView): ApprovalDecision[] {
  const stored = new Set((prev?.status?.decisions ?? []).map(decisionKey));
  return (next.status?.decisions ?? []).filter((d) => !stored.has(decisionKey(d)));
}

export function validateApprovalStatusUpdate(prev: ApprovalStatusView | undefined, next: ApprovalStatusView, caller: ApprovalCaller): ApprovalStatusVerdict {
  const added = newDecisions(prev, next);
  const violations: string[] = [];
  if (added.length === 0) return { allowed: true, violations };
  const who = caller.username || '(no user)';
  const phase = prev?.status?.phase;
  if (phase && phase !== 'Pending') {
    violations.push(`the approval is already ${phase}: no further decisions are accepted`);
  }
  const callerGroups = new Set(caller.groups);
  for (const d of added) {
    if (!caller.username || d.user !== caller.username) {
      violations.push(`a decision names user ${JSON.stringify(d.user)} but the request was made by ${JSON.stringify(who)}: `
        + 'a decision can only be recorded under your own name (use `skillgate approvals approve|deny ID --reason R` with your own credentials)');
      continue;
    }
    const unproven = (d.groups ?? []).filter((g) => !callerGroups.has(g));
    if (unproven.length) {
      violations.push(`the decision by ${d.user} claims groups ${unproven.join(', ')} that the API server did not authenticate for the caller `
        + `(authenticated groups: ${[...callerGroups].join(', ') || 'none'}); record only the groups your credentials carry`);
    }
  }
  return { allowed: violations.length === 0, violations };
}
