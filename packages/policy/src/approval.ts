// The approval arithmetic, pure: given a SkillApproval's spec and its recorded decisions, which
// decisions count, which are ignored (and why), and what the phase is. The controller's approval
// reconciler writes the result to status; the CLI uses it to refuse obviously invalid decisions
// early. Rules: the skill's owner never counts (isSkillOwner, lenient: a prefixed name that may be
// the owner's is refused too); an approver must be listed in a requirement's users by the name as
// written (trimmed, lower-cased: "mallory:bob@example.com" is not bob@example.com; list
// "oidc:bob@example.com" to admit the API server's prefixed name) or be in one of its groups — and
// when a rule names neither, its groups are [skillgate-approvers] (effectiveApprovers), never
// "anyone". Approvals are counted by person, however the name is spelled (personOf:
// "oidc:bob@example.com" through the CLI and "bob@example.com" through a signed link count once),
// which can only lower a count. Every matched rule is a requirement of its own: a decision counts
// toward each requirement whose approvers include the decider, and the request is approved only
// when each requirement has its quorum of people — a rule never lends its approvers to another, so
// adding a policy can only add approvals needed, never approvers who suffice. One valid deny
// denies (a later approval under another spelling does not undo it); past expiresAt it is Expired. A SkillApproval without `requirements` (written
// before them) has its `approvers` as the one requirement. Terminal phases (Approved, Denied,
// Expired, Used) never change back to Pending.
// A decision's user and groups are trusted here because the validating webhook admitted them only
// when they were the writer's own (packages/webhook/src/validate-approval.ts).
import { DEFAULT_APPROVER_GROUP, isSkillOwner, personOf, sameUser, userName, type ApprovalDecision, type ApprovalPhase, type ApprovalRequirement, type SkillApprovalSpec } from '@skillgate/api';

/** A decision as recorded; `groups` are the decider's Kubernetes groups (checked by the webhook). */
export type RecordedDecision = ApprovalDecision;

type Approvers = SkillApprovalSpec['approvers'];

/** Approvers as a policy rule gives them (lists may be empty or absent). */
interface GivenApprovers { groups?: readonly string[]; users?: readonly string[]; quorum?: number }

/**
 * The approvers that apply: as given when they name any group or user, otherwise the default
 * group skillgate-approvers (so a rule without approvers is decided by a known, RBAC-bound group).
 * Empty lists are dropped, so the result satisfies the SkillApproval CRD's validation. Users are
 * kept as written, once each: both spellings of one person ("oidc:bob@example.com" for the CLI,
 * "bob@example.com" for a signed link) may be listed, but they are one person toward the quorum, so
 * listed users who are too few people for it get the default group beside them.
 */
export function effectiveApprovers(a: GivenApprovers, owner?: string): Approvers {
  const groups = [...new Set(a.groups ?? [])];
  // The skill's owner may never decide its requests: named anyway (a rule shared by several
  // skills), they are left out, so the approval can still be made, and decided by the others.
  const users = oneEach(a.users ?? []).filter((u) => owner === undefined || !isSkillOwner(u, owner));
  const quorum = Math.max(1, a.quorum ?? 1);
  if (groups.length === 0 && users.length === 0) return { groups: [DEFAULT_APPROVER_GROUP], quorum };
  // Listed users alone who cannot reach the quorum (the owner was one of them, or two of them are
  // one person): the default group joins them, rather than the quorum being lowered or never reached.
  if (groups.length === 0 && new Set(users.map(personOf)).size < quorum) return { groups: [DEFAULT_APPROVER_GROUP], users, quorum };
  return { ...(groups.length ? { groups } : {}), ...(users.length ? { users } : {}), quorum };
}

/** Each name once (as userName compares them), as first written. */
function oneEach(users: readonly string[]): string[] {
  const seen = new Set<string>();
  return users.filter((u) => !seen.has(userName(u)) && !!seen.add(userName(u)));
}

/**
 * The requirements a held request is written with: one per matched rule (same rule once), each with
 * its effective approvers (the owner left out, the default group when it names nobody).
 */
export function effectiveRequirements(rules: ReadonlyArray<GivenApprovers & { rule?: string }>, owner?: string): ApprovalRequirement[] {
  const out: ApprovalRequirement[] = [];
  for (const r of rules) {
    if (r.rule !== undefined && out.some((o) => o.rule === r.rule)) continue;
    out.push({ ...(r.rule !== undefined ? { rule: r.rule } : {}), ...effectiveApprovers(r, owner) });
  }
  return out;
}

/**
 * Everyone who may decide at all: the union of the requirements' approvers with the largest quorum,
 * the SkillApproval's `approvers` (what people and older readers see). Never what decides the phase
 * when requirements are written: that is each requirement on its own.
 */
export function unitedApprovers(requirements: readonly ApprovalRequirement[]): Approvers {
  const groups = [...new Set(requirements.flatMap((r) => r.groups ?? []))];
  const users = oneEach(requirements.flatMap((r) => r.users ?? []));
  const quorum = Math.max(1, ...requirements.map((r) => r.quorum));
  return effectiveApprovers({ groups, users, quorum });
}

/**
 * The requirements of a SkillApproval: its `requirements`, or — an object written before them — its
 * `approvers` as the one requirement. Each with its effective approvers.
 */
export function requirementsOf(spec: Pick<SkillApprovalSpec, 'approvers' | 'requirements'>): ApprovalRequirement[] {
  // An object naming nobody at all (not one the CRD admits) is still never "anyone": the default group.
  const given: readonly ApprovalRequirement[] = spec.requirements?.length ? spec.requirements : [spec.approvers ?? { quorum: 1 }];
  return given.map((r) => ({ ...(r.rule !== undefined ? { rule: r.rule } : {}), ...effectiveApprovers(r) }));
}

/**
 * Whether this user (with these authenticated groups) is one of the requirement's approvers: listed
 * in its users by the name as written (sameUser; never by personOf, which reads any prefixed name
 * ending in a listed email as that email), or in one of its groups.
 */
export function isApproverOf(r: ApprovalRequirement, user: string, groups: readonly string[] = []): boolean {
  return (r.users ?? []).some((u) => sameUser(u, user)) || (r.groups ?? []).some((g) => groups.includes(g));
}

/** Who a requirement admits, in words; the rule is named when there are several to tell apart. */
function describeRequirement(r: ApprovalRequirement, several: boolean): string {
  return `${several && r.rule ? `rule ${r.rule}: ` : ''}users: ${r.users?.join(', ') || '-'}; groups: ${r.groups?.join(', ') || '-'}`;
}

export interface ApprovalOutcome {
  phase: ApprovalPhase;
  approvedBy: string[];
  deniedBy: string[];
  ignored: Array<{ user: string; reason: string }>;
  /** Each requirement's progress: the approvals that count toward it and the quorum it needs. */
  requirements: Array<{ rule?: string; quorum: number; approvedBy: string[] }>;
}

/** Why this user may not decide this approval, or undefined when they may (an approver of any requirement). */
export function deciderProblem(spec: SkillApprovalSpec, user: string, groups: readonly string[] = []): string | undefined {
  if (!user) return 'the decision names no user';
  if (isSkillOwner(user, spec.identity.owner)) return `${user} owns skill ${spec.identity.skill} and cannot decide its requests`;
  const requirements = requirementsOf(spec);
  if (requirements.some((r) => isApproverOf(r, user, groups))) return undefined;
  return `${user} is not an approver (${requirements.map((r) => describeRequirement(r, requirements.length > 1)).join(' | ')})`;
}

export function approvalOutcome(spec: SkillApprovalSpec, decisions: readonly RecordedDecision[], now: Date, current?: ApprovalPhase): ApprovalOutcome {
  const valid: RecordedDecision[] = [];
  const ignored: ApprovalOutcome['ignored'] = [];
  const expiresAt = Date.parse(spec.expiresAt);
  for (const d of decisions) {
    const problem = Date.parse(d.at) > expiresAt ? 'decided after the approval expired' : deciderProblem(spec, d.user, d.groups);
    if (problem) ignored.push({ user: d.user, reason: problem });
    else valid.push(d);
  }
  // Every valid denial denies, whoever else decided under whatever spelling; approvals count once
  // per person (personOf), each requirement over the decisions that qualify for it, so a decision
  // that does not qualify never hides one that does.
  const deniedBy = oneEach(valid.filter((d) => d.decision === 'deny').map((d) => d.user));
  const approvals = valid.filter((d) => d.decision === 'approve');
  const approvedBy = onePerPerson(approvals.map((d) => d.user));
  const requirements = requirementsOf(spec).map((r) => ({
    ...(r.rule !== undefined ? { rule: r.rule } : {}),
    quorum: Math.max(1, r.quorum),
    approvedBy: onePerPerson(approvals.filter((d) => isApproverOf(r, d.user, d.groups)).map((d) => d.user)),
  }));
  if (current && current !== 'Pending') return { phase: current, approvedBy, deniedBy, ignored, requirements };
  let phase: ApprovalPhase = 'Pending';
  if (deniedBy.length) phase = 'Denied';
  else if (requirements.every((r) => r.approvedBy.length >= r.quorum)) phase = 'Approved';
  else if (now.getTime() >= expiresAt) phase = 'Expired';
  return { phase, approvedBy, deniedBy, ignored, requirements };
}

/** One name per person (personOf), the first as written: what a quorum counts. */
function onePerPerson(users: readonly string[]): string[] {
  const seen = new Set<string>();
  return users.filter((u) => !seen.has(personOf(u)) && !!seen.add(personOf(u)));
}
