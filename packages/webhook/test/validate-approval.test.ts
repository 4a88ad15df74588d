import type { ApprovalDecision, ApprovalPhase } from '@skillgate/api';
import { decide, type AdmissionRequest } from '../src/admission.js';
import { VALIDATE_APPROVAL_WEBHOOK_NAME, webhookConfigurations } from '../src/manifests.js';
import { newDecisions, validateApprovalStatusUpdate, type ApprovalStatusView } from '../src/validate-approval.js';
import { config } from './fixtures.js';

const at = '2026-03-04T10:01:00Z';
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
    const v = validateApprovalStatusUpdate(approval([], 'Expired'), approval([decision('alice@example.com')]), alice);
    expect(v.allowed).toBe(false);
    expect(v.violations.join()).toMatch(/already Expired: no further decisions are accepted/);
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
