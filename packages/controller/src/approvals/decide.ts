// Recording a human decision on a SkillApproval: append {user, groups, decision, reason, at} to
// status.decisions with a resourceVersion precondition (retried on conflict), so concurrent
// approvers never overwrite each other. Used by the CLI and the signed-link endpoint alike. It
// refuses early what would never count (the owner, a non-approver, a closed approval) and a second
// decision under the same name (compared exactly as the CRD's rule compares it, so a decision under
// a name that merely ends in someone's email never blocks that someone) with a clear reason; the
// reconciler and the sidecar re-check anyway. Two spellings of one person (the CLI's
// "oidc:bob@example.com", a link's "bob@example.com") may both be recorded when both may decide:
// they count once toward the quorum (approvalOutcome). `user` and `groups` must be the identity
// the API client authenticates as: the validating webhook (skillapprovals.validate.skillgate.dev)
// rejects a decision under any other name or with groups the API server did not authenticate —
// except a signed-link decision (`via: signed-link` with the link's `proof`), which the webhook
// admits from the controller's ServiceAccount only when the proof verifies with the link secret.
import type { CustomObjectsApi } from '@kubernetes/client-node';
import { GROUP, VERSION, type SkillApproval } from '@skillgate/api';
import { approvalOutcome, deciderProblem, type RecordedDecision } from '@skillgate/policy';
import { mergePatch, statusOf } from '../kube.js';

export const SKILLAPPROVALS = { group: GROUP, version: VERSION, plural: 'skillapprovals' } as const;

export class DecisionRefused extends Error {
  constructor(message: string) { super(message); this.name = 'DecisionRefused'; }
}

export async function recordDecision(custom: CustomObjectsApi, namespace: string, name: string,
  d: { user: string; groups: string[]; decision: 'approve' | 'deny'; reason: string; via?: 'signed-link'; proof?: string }, now: () => Date = () => new Date()): Promise<SkillApproval> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const obj = (await custom.getNamespacedCustomObject({ ...SKILLAPPROVALS, namespace, name })) as SkillApproval;
    const phase = obj.status?.phase ?? 'Pending';
    if (phase !== 'Pending') throw new DecisionRefused(`SkillApproval ${namespace}/${name} is already ${phase}`);
    const problem = deciderProblem(obj.spec, d.user, d.groups);
    if (problem) throw new DecisionRefused(`${problem}; the decision was not recorded`);
    if (now().getTime() >= Date.parse(obj.spec.expiresAt)) throw new DecisionRefused(`SkillApproval ${namespace}/${name} expired at ${obj.spec.expiresAt}`);
    const earlier = (obj.status?.decisions ?? []).find((e) => e.user === d.user);
    if (earlier) throw new DecisionRefused(`${d.user} has already decided SkillApproval ${namespace}/${name} (${earlier.decision}); one decision per user`);
    const decision: RecordedDecision & { via?: 'signed-link'; proof?: string } = {
      user: d.user, groups: d.groups, decision: d.decision, reason: d.reason, at: now().toISOString(),
      ...(d.via ? { via: d.via, proof: d.proof ?? '' } : {}),
    };
    const decisions = [...((obj.status?.decisions ?? []) as RecordedDecision[]), decision];
    const outcome = approvalOutcome(obj.spec, decisions, now());
    try {
      return (await custom.patchNamespacedCustomObjectStatus({
        ...SKILLAPPROVALS, namespace, name,
        body: { metadata: { resourceVersion: obj.metadata.resourceVersion }, status: { decisions, ...(outcome.phase !== 'Pending' ? { phase: outcome.phase } : {}) } },
      }, mergePatch)) as SkillApproval;
    } catch (err) {
      if (statusOf(err) !== 409) throw err;
    }
  }
  throw new Error(`SkillApproval ${namespace}/${name} kept changing; try again`);
}
