import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ApprovalDecision, ApprovalPhase } from '@skillgate/api';
import { decide, type AdmissionRequest } from '../src/admission.js';
import { VALIDATE_APPROVAL_WEBHOOK_NAME, webhookConfigurations } from '../src/manifests.js';
import { linkDecisionTrustFromEnv } from '../src/server.js';
import {
  SIGNED_LINK, newDecisions, signLinkDecision, validateApprovalStatusUpdate,
  type ApprovalStatusView, type LinkDecisionClaims, type StoredDecision,
} from '../src/validate-approval.js';
import { config } from './fixtures.js';

const at = new Date().toISOString(); // decisions are dated when they are made (the webhook checks)
const decision = (user: string, over: Partial<ApprovalDecision> = {}): ApprovalDecision => ({ user, decision: 'approve', reason: 'checked', at, ...over });
const approval = (decisions: ApprovalDecision[], phase: ApprovalPhase = 'Pending'): ApprovalStatusView & { kind: string } => ({
  kind: 'SkillApproval', metadata: { name: 'triage-req-1', namespace: 'team-a' }, status: { phase, decisions },
});
const alice = { username: 'alice@example.com', groups: ['secops', 'system:authenticated'] };

describe('SkillApproval status validation', () => {
  test('a decision recorded under the caller’s own name with the caller’s groups is admitted', () => {
    const v = validateApprovalStatusUpdate(approval([]), approval([decision('alice@example.com', { groups: ['secops', 'system:authenticated'] })]), alice);
    expect(v).toEqual({ allowed: true, violations: [] });
  });

  test('a decision dated other than now, or on an expired approval, is refused (a late decider may not date it back)', () => {
    const backdated = validateApprovalStatusUpdate(approval([]), approval([decision('alice@example.com', { at: new Date(Date.now() - 5 * 60_000).toISOString() })]), alice);
    expect(backdated.violations.join()).toMatch(/the decision by alice@example\.com is dated "[^"]+", not now \(within 60 s\)/);
    const expired = { ...approval([]), spec: { expiresAt: new Date(Date.now() - 1000).toISOString() } };
    const late = validateApprovalStatusUpdate(expired, { ...approval([decision('alice@example.com')]), spec: expired.spec }, alice);
    expect(late.violations.join()).toMatch(/the approval expired at .*: no further decisions are accepted/);
  });

  test('a decision written under another user’s name is rejected, naming both users and the way to decide', () => {
    const v = validateApprovalStatusUpdate(approval([]), approval([decision('bob@example.com')]), alice);
    expect(v.allowed).toBe(false);
    expect(v.violations.join()).toMatch(/a decision names user "bob@example\.com" but the request was made by "alice@example\.com": a decision can only be recorded under your own name/);
    expect(v.violations.join()).toMatch(/skillgate approvals approve\|deny ID --reason R/);
  });

  test('groups the API server did not authenticate for the caller are rejected, so group membership cannot be claimed', () => {
    const v = validateApprovalStatusUpdate(approval([]), approval([decision('alice@example.com', { groups: ['secops', 'skillgate-approvers'] })]), alice);
    expect(v.allowed).toBe(false);
    expect(v.violations.join()).toMatch(/claims groups skillgate-approvers that the API server did not authenticate/);
  });

  test('claiming fewer groups than the caller has is fine (the decision only counts for fewer rules)', () => {
    expect(validateApprovalStatusUpdate(approval([]), approval([decision('alice@example.com')]), alice).allowed).toBe(true);
  });

  test('decisions already stored are not judged again: another approver can add theirs next to them', () => {
    const stored = [decision('bob@example.com', { groups: ['secops'] })];
    const v = validateApprovalStatusUpdate(approval(stored), approval([...stored, decision('alice@example.com', { groups: ['secops'] })]), alice);
    expect(v.allowed).toBe(true);
    expect(newDecisions(approval(stored), approval([...stored, decision('alice@example.com')])).map((d) => d.user)).toEqual(['alice@example.com']);
  });

  test('a stored decision with its groups in another order is still the same decision', () => {
    const stored = [decision('bob@example.com', { groups: ['secops', 'oncall'] })];
    expect(newDecisions(approval(stored), approval([decision('bob@example.com', { groups: ['oncall', 'secops'] })]))).toEqual([]);
  });

  test('status writes that add no decision pass, whoever writes them (the sidecar marking Used, the controller setting the phase)', () => {
    const stored = [decision('bob@example.com')];
    const sidecar = { username: 'system:serviceaccount:team-a:triage', groups: [] };
    expect(validateApprovalStatusUpdate(approval(stored), approval(stored, 'Used'), sidecar).allowed).toBe(true);
    expect(validateApprovalStatusUpdate(approval([]), approval([], 'Expired'), sidecar).allowed).toBe(true);
  });

  test('a caller without a username cannot add any decision', () => {
    const v = validateApprovalStatusUpdate(approval([]), approval([decision('alice@example.com')]), { username: '', groups: [] });
    expect(v.violations.join()).toMatch(/the request was made by "\(no user\)"/);
  });

  test('a decision on an approval that is already closed is rejected even from a real approver', () => {
    // Closed: used by the sidecar it released, or expired by the clock.
    const v = validateApprovalStatusUpdate(approval([], 'Used'), approval([decision('alice@example.com')]), alice);
    expect(v.allowed).toBe(false);
    expect(v.violations.join()).toMatch(/already Used: no further decisions are accepted/);
  });

  test('a phase changes only to what the recorded decisions (and the clock) give: never written on its own', () => {
    const spec = { expiresAt: new Date(Date.now() + 600_000).toISOString(), identity: { owner: 'owner@example.com' } };
    const mallory = { username: 'mallory@example.com', groups: [] };
    const view = (decisions: ApprovalDecision[], phase: ApprovalPhase) => ({ ...approval(decisions, phase), spec });
    for (const phase of ['Approved', 'Denied', 'Expired', 'Used'] as const) {
      const v = validateApprovalStatusUpdate(view([], 'Pending'), view([], phase), mallory);
      expect(v.allowed).toBe(false);
      expect(v.violations.join()).toMatch(new RegExp(`the phase may become ${phase} only when the recorded decisions.* say so \\(they say Pending\\)`));
    }
    // What the controller and the sidecar write: Denied after a valid denial, Approved and then Used after an approval, Pending at first.
    const bob = decision('bob@example.com', { decision: 'deny', groups: ['skillgate-approvers'] });
    const carol = decision('carol@example.com', { groups: ['skillgate-approvers'] });
    const controller = { username: 'system:serviceaccount:skillgate-system:skillgate-controller', groups: [] };
    expect(validateApprovalStatusUpdate(view([bob], 'Pending'), view([bob], 'Denied'), controller).allowed).toBe(true);
    expect(validateApprovalStatusUpdate(view([carol], 'Pending'), view([carol], 'Approved'), controller).allowed).toBe(true);
    expect(validateApprovalStatusUpdate(view([carol], 'Approved'), view([carol], 'Used'), controller).allowed).toBe(true);
    expect(validateApprovalStatusUpdate({ ...approval([]), spec, status: {} }, view([], 'Pending'), controller).allowed).toBe(true);
    // Expired once the clock says so.
    const over = { expiresAt: new Date(Date.now() - 1000).toISOString(), identity: { owner: 'owner@example.com' } };
    expect(validateApprovalStatusUpdate({ ...approval([], 'Pending'), spec: over }, { ...approval([], 'Expired'), spec: over }, controller).allowed).toBe(true);
  });

  test('a phase written without the decisions behind it closes nothing: the real deciders still decide', () => {
    // A write that adds no decision never reaches this webhook, so anyone who may patch the status could write one.
    const spec = { expiresAt: new Date(Date.now() + 60_000).toISOString(), identity: { owner: 'owner@example.com' } };
    for (const phase of ['Approved', 'Denied', 'Expired'] as const) {
      const v = validateApprovalStatusUpdate({ ...approval([], phase), spec }, { ...approval([decision('alice@example.com')], phase), spec }, alice);
      expect({ phase, ...v }).toEqual({ phase, allowed: true, violations: [] });
    }
    // Denied by a recorded denial of someone who may decide: closed, whatever the phase says.
    const bob = decision('bob@example.com', { decision: 'deny', groups: ['skillgate-approvers'] });
    const closed = validateApprovalStatusUpdate({ ...approval([bob], 'Pending'), spec }, { ...approval([bob, decision('alice@example.com')]), spec }, alice);
    expect(closed.violations.join()).toMatch(/already Denied: no further decisions are accepted/);
  });
});

describe('SkillApproval status admission', () => {
  const request = (object: unknown, oldObject: unknown, username: string, over: Partial<AdmissionRequest> = {}): AdmissionRequest => ({
    uid: 'b7a3c0de-0000-4000-8000-0000000000a1',
    kind: { group: 'skillgate.dev', version: 'v1alpha1', kind: 'SkillApproval' },
    resource: { group: 'skillgate.dev', version: 'v1alpha1', resource: 'skillapprovals' },
    subResource: 'status', namespace: 'team-a', name: 'triage-req-1', operation: 'UPDATE',
    userInfo: { username, groups: ['secops'] }, object, oldObject, ...over,
  });

  test('a forged decision is denied with 403 and a message naming the approval', () => {
    const { review, result } = decide('validate-skillapproval-status', request(approval([decision('bob@example.com')]), approval([]), 'mallory@example.com'), config());
    expect(result).toBe('denied');
    expect(review.response).toMatchObject({ uid: 'b7a3c0de-0000-4000-8000-0000000000a1', allowed: false, status: { code: 403, reason: 'Forbidden' } });
    expect(review.response!.status!.message).toMatch(/^skillgate: SkillApproval team-a\/triage-req-1: a decision names user "bob@example\.com" but the request was made by "mallory@example\.com"/);
  });

  test('the caller’s own decision is allowed', () => {
    const { review } = decide('validate-skillapproval-status', request(approval([decision('alice@example.com', { groups: ['secops'] })]), approval([]), 'alice@example.com'), config());
    expect(review.response).toEqual({ uid: 'b7a3c0de-0000-4000-8000-0000000000a1', allowed: true });
  });

  test('requests that are not status updates are allowed untouched', () => {
    const forged = approval([decision('bob@example.com')]);
    expect(decide('validate-skillapproval-status', request(forged, approval([]), 'mallory', { subResource: '' }), config()).review.response!.allowed).toBe(true);
    expect(decide('validate-skillapproval-status', request(forged, undefined, 'mallory', { operation: 'CREATE' }), config()).review.response!.allowed).toBe(true);
  });

  test('an object that is not a SkillApproval is denied, never waved through', () => {
    const { result } = decide('validate-skillapproval-status', request({ kind: 'ConfigMap' }, {}, 'alice@example.com'), config());
    expect(result).toBe('denied');
  });

  test('the webhook is registered for skillapprovals/status updates only, fails closed, and only sees writes that change the decisions', () => {
    const { validating } = webhookConfigurations({ endpoint: { url: 'https://127.0.0.1:9443' }, systemNamespace: 'skillgate-system' });
    const hook = (validating.webhooks as Array<Record<string, unknown>>).find((w) => w.name === VALIDATE_APPROVAL_WEBHOOK_NAME)!;
    expect(hook).toMatchObject({
      clientConfig: { url: 'https://127.0.0.1:9443/validate-skillapproval-status' },
      rules: [{ apiGroups: ['skillgate.dev'], apiVersions: ['v1alpha1'], operations: ['UPDATE'], resources: ['skillapprovals/status'], scope: 'Namespaced' }],
      failurePolicy: 'Fail', sideEffects: 'None',
    });
    expect(hook.namespaceSelector).toBeUndefined();
    expect(JSON.stringify(hook.matchConditions)).toMatch(/object\.status\.decisions != oldObject\.status\.decisions/);
  });
});

describe('decisions the controller records for a user who followed a signed link', () => {
  const SECRET = 'link-secret-0123456789abcdef';
  const CONTROLLER = 'system:serviceaccount:skillgate-system:skillgate-controller';
  const controller = { username: CONTROLLER, groups: ['system:serviceaccounts', 'system:serviceaccounts:skillgate-system', 'system:authenticated'] };
  const NOW = Date.parse('2026-11-25T12:00:00Z');
  const EXP = Math.floor(Date.parse('2026-11-25T12:05:00Z') / 1000);
  const ctx = { links: { writer: CONTROLLER, secret: SECRET }, now: NOW };
  const owned = (decisions: StoredDecision[], phase: ApprovalPhase = 'Pending'): ApprovalStatusView => ({
    ...approval(decisions, phase), spec: { identity: { owner: 'erin@example.com' } },
  });
  /** A decision as the controller writes it after the proxy authenticated `user` with `groups`. */
  const linked = (user: string, groups: string[], over: Partial<LinkDecisionClaims> = {}, decisionOver: Partial<StoredDecision> = {}): StoredDecision => {
    const claims: LinkDecisionClaims = { namespace: 'team-a', name: 'triage-req-1', action: 'approve', user, groups, reason: 'checked', exp: EXP, ...over };
    return { ...decision(user, { groups, at: new Date(NOW).toISOString() }), via: SIGNED_LINK, proof: signLinkDecision(SECRET, claims), ...decisionOver };
  };
  const check = (d: StoredDecision, caller = controller, c: typeof ctx | { now: number } = ctx) =>
    validateApprovalStatusUpdate(owned([]), owned([d]), caller, c);

  test('the proof format is pinned by a test vector shared with the controller', () => {
    expect(signLinkDecision(SECRET, { namespace: 'team-a', name: 'apr-1a2b3c', action: 'approve', user: 'sam@example.com', groups: ['security', 'oncall'], reason: 'checked with the owner', exp: 1795608300 }))
      .toBe('v1.1795608300.J3IYoDxQPgxOFe8tO0YUksXBYYR8qVpX6u5ffmHQXyA');
  });

  test('a link decision with a valid proof, written by the controller’s ServiceAccount, is admitted under the clicking user’s name and proxy groups', () => {
    expect(check(linked('sam@example.com', ['secops', 'oncall']))).toEqual({ allowed: true, violations: [] });
    expect(check(linked('sam@example.com', []))).toEqual({ allowed: true, violations: [] });
  });

  test('a proof whose user, groups, action, reason or approval was altered is refused as forged', () => {
    const good = linked('sam@example.com', ['oncall']);
    const altered: StoredDecision[] = [
      { ...good, user: 'bob@example.com' },
      { ...good, groups: ['oncall', 'secops'] },
      { ...good, decision: 'deny' },
      { ...good, reason: 'something else' },
      linked('sam@example.com', ['oncall'], { name: 'triage-req-2' }),
      linked('sam@example.com', ['oncall'], { namespace: 'team-b' }),
      { ...good, proof: good.proof!.replace(/.$/, (ch) => (ch === 'A' ? 'B' : 'A')) },
      { ...good, proof: signLinkDecision('another-secret-0123456789', { namespace: 'team-a', name: 'triage-req-1', action: 'approve', user: 'sam@example.com', groups: ['oncall'], reason: 'checked', exp: EXP }) },
    ];
    for (const d of altered) {
      const v = check(d);
      expect(v.allowed).toBe(false);
      expect(v.violations.join()).toMatch(/the signed-link decision by \S+ is refused: its proof does not match this approval, action, user, groups and reason \(forged or altered\)/);
    }
  });

  test('moving a proof’s expiry later breaks it, and an expired link’s proof is refused', () => {
    const d = linked('sam@example.com', ['oncall']);
    const later = { ...d, proof: d.proof!.replace(`v1.${EXP}.`, `v1.${EXP + 3600}.`) };
    expect(check(later).violations.join()).toMatch(/forged or altered/);
    const expired = check({ ...d, at: new Date(EXP * 1000 + 1).toISOString() }, controller, { ...ctx, now: EXP * 1000 + 1 });
    expect(expired.allowed).toBe(false);
    expect(expired.violations.join()).toMatch(/its link expired at 2026-11-25T12:05:00\.000Z/);
  });

  test('a missing or malformed proof is refused', () => {
    const d = linked('sam@example.com', []);
    expect(check({ ...d, proof: undefined }).violations.join()).toMatch(/its proof is missing or malformed/);
    expect(check({ ...d, proof: 'v1.abc.def' }).violations.join()).toMatch(/its proof is missing or malformed/);
  });

  test('the skill’s owner cannot approve through a link even with a valid proof', () => {
    const v = check(linked('Erin@example.com', ['secops']));
    expect(v.allowed).toBe(false);
    expect(v.violations.join()).toMatch(/Erin@example\.com owns the skill and cannot decide its requests/);
  });

  test('the owner behind an identity provider prefix (oidc:, issuer#) is the owner too', () => {
    for (const user of ['oidc:erin@example.com', 'https://issuer.example#Erin@example.com']) {
      const v = check(linked(user, ['secops']));
      expect(v.allowed).toBe(false);
      expect(v.violations.join()).toMatch(/owns the skill and cannot decide its requests/);
    }
  });

  test('one decision per user, by the name exactly as written (as the CRD compares it): the same name twice is refused', () => {
    const first = linked('sam@example.com', ['secops']);
    const again = linked('sam@example.com', ['secops'], {}, { reason: 'checked', at: new Date(NOW + 1).toISOString() });
    const v = validateApprovalStatusUpdate(owned([first]), owned([first, again]), controller, ctx);
    expect(v.allowed).toBe(false);
    expect(v.violations.join()).toMatch(/sam@example\.com has already decided this approval: one decision per user/);
    // The same name twice in one write is refused as well; another person is not.
    const both = validateApprovalStatusUpdate(owned([]), owned([linked('sam@example.com', []), linked('sam@example.com', ['secops'])]), controller, ctx);
    expect(both.violations.join()).toMatch(/sam@example\.com has already decided this approval/);
    expect(validateApprovalStatusUpdate(owned([first]), owned([first, linked('lee@example.com', ['secops'])]), controller, ctx).allowed).toBe(true);
  });

  test('a decision under a name ending in sam\'s email (mallory:, https://…#, a ServiceAccount) does not use up sam\'s decision', () => {
    for (const other of ['mallory:sam@example.com', 'https://evil.example#sam@example.com', 'system:serviceaccount:ns:x:sam@example.com']) {
      const taken = decision(other, { at: new Date(NOW).toISOString() });
      // Recorded under its own name (the webhook admits anyone's own decision; approvalOutcome ignores a non-approver's)…
      expect(validateApprovalStatusUpdate(owned([]), owned([taken]), { username: other, groups: [] }, ctx).allowed).toBe(true);
      // …the real sam still decides, through a link or the CLI.
      expect([other, validateApprovalStatusUpdate(owned([taken]), owned([taken, linked('sam@example.com', ['secops'])]), controller, ctx)]).toEqual([other, { allowed: true, violations: [] }]);
      const cli = decision('sam@example.com', { at: new Date(NOW).toISOString() });
      expect(validateApprovalStatusUpdate(owned([taken]), owned([taken, cli]), { username: 'sam@example.com', groups: [] }, ctx).allowed).toBe(true);
    }
  });

  test('two spellings of one person (oidc: through the CLI, the bare email through a link) may both be recorded: they count once toward a quorum', () => {
    const cli = decision('oidc:sam@example.com', { groups: ['secops'], at: new Date(NOW).toISOString() });
    expect(validateApprovalStatusUpdate(owned([cli]), owned([cli, linked('sam@example.com', ['secops'])]), controller, ctx)).toEqual({ allowed: true, violations: [] });
  });

  test('only the controller’s ServiceAccount may write link decisions: anyone else with a stolen valid proof is refused', () => {
    const d = linked('sam@example.com', ['oncall']);
    const v = check(d, { username: 'mallory@example.com', groups: [] });
    expect(v.allowed).toBe(false);
    expect(v.violations.join()).toMatch(/signed-link decisions are recorded only by system:serviceaccount:skillgate-system:skillgate-controller, not by "mallory@example\.com"/);
    // Nor may a user put the marker on their own decision.
    expect(check(linked('mallory@example.com', []), { username: 'mallory@example.com', groups: [] }).allowed).toBe(false);
  });

  test('the controller’s ServiceAccount without the link marker is held to the ordinary rule: no decisions under other names', () => {
    const v = check(decision('sam@example.com', { at: new Date(NOW).toISOString() }));
    expect(v.allowed).toBe(false);
    expect(v.violations.join()).toMatch(/a decision names user "sam@example\.com" but the request was made by "system:serviceaccount:skillgate-system:skillgate-controller"/);
  });

  test('a webhook without the link secret admits no link decision, and says how to configure it', () => {
    const v = check(linked('sam@example.com', []), controller, { now: NOW });
    expect(v.allowed).toBe(false);
    expect(v.violations.join()).toMatch(/no link secret to verify it \(set SKILLGATE_APPROVAL_LINK_WRITER and SKILLGATE_APPROVAL_LINK_SECRET_FILE\)/);
  });

  test('an unknown via marker is refused', () => {
    expect(check(linked('sam@example.com', [], {}, { via: 'chatops' })).violations.join()).toMatch(/has via "chatops": the only marker is "signed-link"/);
  });

  test('a link decision on a closed approval is refused even with a valid proof', () => {
    const v = validateApprovalStatusUpdate(owned([], 'Used'), owned([linked('sam@example.com', [])]), controller, ctx);
    expect(v.violations.join()).toMatch(/already Used/);
  });

  test('through admission: the approval named by the API server’s request is the one the proof must match', () => {
    const d = linked('sam@example.com', ['oncall']);
    const req = (name: string): AdmissionRequest => ({
      uid: 'b7a3c0de-0000-4000-8000-0000000000a2',
      kind: { group: 'skillgate.dev', version: 'v1alpha1', kind: 'SkillApproval' },
      resource: { group: 'skillgate.dev', version: 'v1alpha1', resource: 'skillapprovals' },
      subResource: 'status', namespace: 'team-a', name, operation: 'UPDATE',
      userInfo: controller, object: { ...owned([d]), kind: 'SkillApproval' }, oldObject: { ...owned([]), kind: 'SkillApproval' },
    });
    const trust = { linkDecisions: ctx.links, now: NOW };
    expect(decide('validate-skillapproval-status', req('triage-req-1'), config(), trust).review.response).toEqual({ uid: 'b7a3c0de-0000-4000-8000-0000000000a2', allowed: true });
    expect(decide('validate-skillapproval-status', req('triage-req-9'), config(), trust).result).toBe('denied');
    expect(decide('validate-skillapproval-status', req('triage-req-1'), config(), { now: NOW }).result).toBe('denied');
  });
});

describe('link-decision trust from the environment', () => {
  let dir: string;
  beforeAll(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'skillgate-link-trust-')); });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('the writer and the secret file are read together; neither means no link decisions', () => {
    const file = path.join(dir, 'secret');
    fs.writeFileSync(file, 'link-secret-0123456789abcdef\n');
    expect(linkDecisionTrustFromEnv({})).toBeUndefined();
    const trust = linkDecisionTrustFromEnv({ SKILLGATE_APPROVAL_LINK_WRITER: 'system:serviceaccount:sg:ctl', SKILLGATE_APPROVAL_LINK_SECRET_FILE: file });
    expect(trust?.writer).toBe('system:serviceaccount:sg:ctl');
    expect(Buffer.from(trust!.secret).toString()).toBe('link-secret-0123456789abcdef\n'); // the same bytes the controller reads
  });

  test('half a configuration, an unreadable file or a short secret stops the webhook from starting', () => {
    const short = path.join(dir, 'short');
    fs.writeFileSync(short, 'too-short');
    expect(() => linkDecisionTrustFromEnv({ SKILLGATE_APPROVAL_LINK_WRITER: 'x' })).toThrow(/go together/);
    expect(() => linkDecisionTrustFromEnv({ SKILLGATE_APPROVAL_LINK_WRITER: 'x', SKILLGATE_APPROVAL_LINK_SECRET_FILE: path.join(dir, 'missing') })).toThrow(/cannot read .*ENOENT/);
    expect(() => linkDecisionTrustFromEnv({ SKILLGATE_APPROVAL_LINK_WRITER: 'x', SKILLGATE_APPROVAL_LINK_SECRET_FILE: short })).toThrow(/at least 16 characters/);
  });
});
