// Validation of SkillApproval status writes (skillapprovals/status): a decision is admitted only
// when it is the caller's own, or when it is a signed-link decision the controller recorded for
// the user who followed the link. Each decision that is NEW in the update must either
//   - name the caller's username exactly as the API server authenticated it (AdmissionReview
//     userInfo) and claim only groups the API server authenticated for the caller, or
//   - be written by the configured link writer (the controller's ServiceAccount), carry
//     `via: signed-link` and a `proof` that verifies with the link secret shared with the
//     controller over exactly this approval, action, user, groups and reason, and not be expired.
// So approver groups come from authentication (or from the controller's authenticating proxy,
// signed), never from what a client wrote; holding the controller's token without its link key
// forges nothing. The skill's owner never decides (isSkillOwner: a prefixed name that may be the
// owner's is refused too), and closed approvals take no decisions. Each user decides once, by the
// name exactly as written, as the CRD's own rule compares it: a decision under a name that merely
// ends in someone's email ("mallory:bob@example.com") never stands in the way of that someone. Two
// spellings of one person ("oidc:bob@example.com" through the CLI, "bob@example.com" through a
// signed link) may both be recorded; they count once toward a quorum (approvalOutcome, personOf).
// A phase is never written on its own: it may change only to what the recorded decisions (and, for
// Expired, the clock) say — the controller's Approved/Denied/Expired, the sidecar's Used after an
// approval — so whoever may patch the status cannot deny, spend or freeze an approval by its phase.
// Pure; it must never admit a decision written under someone else's name without a valid proof.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { isSkillOwner, type ApprovalDecision, type ApprovalPhase, type SkillApprovalSpec } from '@skillgate/api';
import { approvalOutcome, type RecordedDecision } from '@skillgate/policy/approval';

/** Who is writing, from AdmissionReview.request.userInfo. */
export interface ApprovalCaller {
  username: string;
  groups: readonly string[];
}

/** The marker of a decision the controller recorded for a user who followed a signed link. */
export const SIGNED_LINK = 'signed-link';

/** A decision as stored: the signed-link fields are present only on link decisions. */
export type StoredDecision = ApprovalDecision & { via?: string; proof?: string };

/** The parts of a SkillApproval this check reads (old and new object of the status update). */
export interface ApprovalStatusView {
  metadata?: { name?: string; namespace?: string };
  spec?: { identity?: { owner?: string }; expiresAt?: string };
  status?: { phase?: ApprovalPhase; decisions?: StoredDecision[] };
}

/**
 * Whom the webhook trusts to write link decisions, and the key that proves them: the controller's
 * ServiceAccount username and the HMAC secret of its signed links (the same bytes the controller
 * reads from SKILLGATE_APPROVAL_LINK_SECRET_FILE).
 */
export interface LinkDecisionTrust {
  writer: string;
  secret: string | Buffer;
}

export interface ApprovalCheckContext {
  /** Absent: no link decisions are admitted (only callers' own decisions). */
  links?: LinkDecisionTrust;
  /** Milliseconds since the epoch, for proof expiry. */
  now: number;
}

export interface ApprovalStatusVerdict {
  allowed: boolean;
  violations: string[];
}

/** What a signed-link proof covers. Groups are compared as a set (sorted). */
export interface LinkDecisionClaims {
  namespace: string;
  name: string;
  action: 'approve' | 'deny';
  user: string;
  groups: readonly string[];
  reason: string;
  /** Unix seconds; the link's own expiry (never later than the approval's). */
  exp: number;
}

const PROOF_VERSION = 'v1';
const PROOF_DOMAIN = 'skillgate.dev/link-decision/v1';

function proofMac(secret: string | Buffer, c: LinkDecisionClaims): Buffer {
  const canonical = JSON.stringify([PROOF_DOMAIN, c.namespace, c.name, c.action, c.user, [...c.groups].sort(), c.reason, c.exp]);
  return createHmac('sha256', secret).update(canonical).digest();
}

/**
 * `v1.<exp>.<base64url HMAC-SHA256>` over the claims. The controller signs the same way
 * (packages/controller/src/approvals/links.ts, pinned by the same test vector in both packages).
 */
export function signLinkDecision(secret: string | Buffer, c: LinkDecisionClaims): string {
  return `${PROOF_VERSION}.${c.exp}.${proofMac(secret, c).toString('base64url')}`;
}

/** Checks a link decision's proof against the decision as written; undefined when it holds. */
export function linkDecisionProblem(secret: string | Buffer, proof: string | undefined, c: Omit<LinkDecisionClaims, 'exp'>, nowMs: number): string | undefined {
  const m = /^v1\.(\d{1,12})\.([A-Za-z0-9_-]{43})$/.exec(proof ?? '');
  if (!m) return 'its proof is missing or malformed';
  const exp = Number(m[1]);
  // Compare the canonical base64url text, not decoded bytes: a last character altered only in its
  // padding bits decodes to the same bytes and must still count as tampering.
  const mac = Buffer.from(m[2]!);
  const expected = Buffer.from(proofMac(secret, { ...c, exp }).toString('base64url'));
  if (mac.length !== expected.length || !timingSafeEqual(mac, expected)) {
    return 'its proof does not match this approval, action, user, groups and reason (forged or altered)';
  }
  if (exp * 1000 <= nowMs) return `its link expired at ${new Date(exp * 1000).toISOString()}`;
  return undefined;
}

/** How much sooner than the webhook's clock another component's may say an approval expired. */
const EXPIRY_CLOCK_SKEW_MS = 5_000;

/** How far a decision's `at` may be from the webhook's clock (clients' and nodes' clocks differ a little). */
export const DECISION_CLOCK_SKEW_MS = 60_000;

/** Identity of a decision as written: a decision equal to one already stored is not new. */
function decisionKey(d: StoredDecision): string {
  return JSON.stringify([d.user, d.decision, d.reason, d.at, [...(d.groups ?? [])].sort(), d.via ?? '', d.proof ?? '']);
}

/** Decisions present in `next` that were not already stored in `prev`. */
export function newDecisions(prev: ApprovalStatusView | undefined, next: ApprovalStatusView): StoredDecision[] {
  const stored = new Set((prev?.status?.decisions ?? []).map(decisionKey));
  return (next.status?.decisions ?? []).filter((d) => !stored.has(decisionKey(d)));
}

/**
 * Whether the approval is decided already: used by the sidecar it released (Used), or approved or
 * denied by its recorded decisions. A phase written without the decisions behind it (status writes
 * that add no decision never reach this webhook) decides nothing: it cannot shut the real deciders out.
 */
function decidedPhase(prev: ApprovalStatusView | undefined, nowMs: number): ApprovalPhase | undefined {
  if (prev?.status?.phase === 'Used') return 'Used';
  const spec = prev?.spec as SkillApprovalSpec | undefined;
  if (!spec?.expiresAt) return undefined;
  const outcome = approvalOutcome(spec, (prev?.status?.decisions ?? []) as RecordedDecision[], new Date(nowMs));
  return outcome.phase === 'Approved' || outcome.phase === 'Denied' ? outcome.phase : undefined;
}

/** Why the update's phase is not the one its decisions (and the clock) give, or undefined when it is, or unchanged. */
function unjustifiedPhase(prev: ApprovalStatusView | undefined, next: ApprovalStatusView, nowMs: number): string | undefined {
  const before = prev?.status?.phase ?? 'Pending';
  const after = next.status?.phase ?? before;
  if (after === before) return undefined;
  const spec = (next.spec ?? prev?.spec) as SkillApprovalSpec | undefined;
  if (!spec?.expiresAt) return undefined; // no approval to judge it by (the API server always sends one)
  const outcome = approvalOutcome(spec, (next.status?.decisions ?? []) as RecordedDecision[], new Date(nowMs));
  // The sidecar and the controller write Expired by their own clocks: a few seconds of difference are allowed.
  const expired = nowMs + EXPIRY_CLOCK_SKEW_MS >= Date.parse(spec.expiresAt);
  const justified = after === 'Used' ? outcome.phase === 'Approved'
    : after === 'Expired' ? expired && outcome.phase !== 'Approved' && outcome.phase !== 'Denied'
      : after !== 'Pending' && outcome.phase === after;
  if (justified) return undefined;
  return `the phase may become ${after} only when the recorded decisions${after === 'Expired' ? ' and the clock' : ''} say so (they say ${outcome.phase}): a phase is never written on its own`;
}

export function validateApprovalStatusUpdate(prev: ApprovalStatusView | undefined, next: ApprovalStatusView, caller: ApprovalCaller,
  ctx: ApprovalCheckContext = { now: Date.now() }): ApprovalStatusVerdict {
  const added = newDecisions(prev, next);
  const violations: string[] = [];
  const phaseProblem = unjustifiedPhase(prev, next, ctx.now);
  if (phaseProblem) violations.push(phaseProblem);
  if (added.length === 0) return { allowed: violations.length === 0, violations };
  const who = caller.username || '(no user)';
  const phase = decidedPhase(prev, ctx.now);
  if (phase !== undefined) {
    violations.push(`the approval is already ${phase}: no further decisions are accepted`);
  }
  const owner = next.spec?.identity?.owner ?? prev?.spec?.identity?.owner;
  const expiresAt = Date.parse(next.spec?.expiresAt ?? prev?.spec?.expiresAt ?? '');
  if (Number.isFinite(expiresAt) && ctx.now >= expiresAt) violations.push(`the approval expired at ${new Date(expiresAt).toISOString()}: no further decisions are accepted`);
  const callerGroups = new Set(caller.groups);
  const isWriter = !!ctx.links && !!caller.username && caller.username === ctx.links.writer;
  // Who has decided already, by the name exactly as written (as the CRD's rule compares them): never
  // by person, or a name ending in someone's email would use up that someone's decision.
  const decided = new Set((prev?.status?.decisions ?? []).map((d) => d.user));
  for (const d of added) {
    // A decision is dated when it is made: a writer may not date it back into the approval's lifetime.
    const at = Date.parse(d.at ?? '');
    if (!Number.isFinite(at) || Math.abs(at - ctx.now) > DECISION_CLOCK_SKEW_MS) {
      violations.push(`the decision by ${d.user} is dated ${JSON.stringify(d.at ?? '')}, not now (within ${DECISION_CLOCK_SKEW_MS / 1000} s): decisions are recorded when they are made`);
      continue;
    }
    if (owner && isSkillOwner(d.user, owner)) {
      violations.push(`${d.user} owns the skill and cannot decide its requests`);
      continue;
    }
    if (decided.has(d.user)) {
      violations.push(`${d.user} has already decided this approval: one decision per user, through the CLI or a signed link`);
      continue;
    }
    decided.add(d.user);
    if (d.via !== undefined || d.proof !== undefined) {
      if (d.via !== SIGNED_LINK) {
        violations.push(`the decision by ${d.user} has via ${JSON.stringify(d.via ?? '')}: the only marker is "${SIGNED_LINK}"`);
      } else if (!ctx.links) {
        violations.push(`the decision by ${d.user} came through a signed link, but this webhook has no link secret to verify it (set SKILLGATE_APPROVAL_LINK_WRITER and SKILLGATE_APPROVAL_LINK_SECRET_FILE)`);
      } else if (!isWriter) {
        violations.push(`signed-link decisions are recorded only by ${ctx.links.writer}, not by ${JSON.stringify(who)}`);
      } else {
        const problem = linkDecisionProblem(ctx.links.secret, d.proof, {
          namespace: next.metadata?.namespace ?? '', name: next.metadata?.name ?? '', action: d.decision, user: d.user, groups: d.groups ?? [], reason: d.reason,
        }, ctx.now);
        if (problem) violations.push(`the signed-link decision by ${d.user} is refused: ${problem}`);
      }
      continue;
    }
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
