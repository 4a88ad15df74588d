import { approvalOutcome, deciderProblem, type RecordedDecision } from '@skillgate/policy';
import { effectiveApprovers } from '@skillgate/policy/approval';
import type { SkillApprovalSpec } from '@skillgate/api';

const spec = (over: Partial<SkillApprovalSpec['approvers']> = {}): SkillApprovalSpec => ({
  identity: { namespace: 'team-a', serviceAccount: 'sa', pod: 'p', skill: 'triage', owner: 'carol@example.com' },
  requestId: 'req_1', sessionId: 's', requestDigest: 'sha256:00', policy: 'team-a/p', rules: ['team-a/p/r'], reasons: [],
  summary: {}, approvers: { quorum: 1, ...over }, expiresAt: '2026-03-04T10:05:00Z',
});
const at = '2026-03-04T10:01:00Z';
const now = new Date('2026-03-04T10:02:00Z');
const d = (user: string, decision: 'approve' | 'deny', groups?: string[]): RecordedDecision => ({ user, decision, reason: 'r', at, ...(groups ? { groups } : {}) });

describe('approval outcome', () => {
  test('when no approvers are listed only members of the default group skillgate-approvers may decide', () => {
    const o = approvalOutcome(spec(), [d('mallory', 'approve', ['devs']), d('alice', 'approve', ['skillgate-approvers'])], now);
    expect(o.phase).toBe('Approved');
    expect(o.approvedBy).toEqual(['alice']);
    expect(o.ignored[0]!.reason).toMatch(/mallory is not an approver .*groups: skillgate-approvers/);
    expect(approvalOutcome(spec(), [d('mallory', 'approve')], now).phase).toBe('Pending');
  });
  test('effective approvers drop empty lists and default to the skillgate-approvers group', () => {
    expect(effectiveApprovers({ groups: [], users: [], quorum: 1 })).toEqual({ groups: ['skillgate-approvers'], quorum: 1 });
    expect(effectiveApprovers({ groups: [], users: ['alice', 'alice'], quorum: 0 })).toEqual({ users: ['alice'], quorum: 1 });
    // The skill's owner, listed by a rule several skills share, is left out; the others still decide.
    expect(effectiveApprovers({ users: ['carol@example.com', 'Alice@Example.com'], quorum: 1 }, 'alice@example.com')).toEqual({ users: ['carol@example.com'], quorum: 1 });
    expect(effectiveApprovers({ users: ['alice@example.com'], quorum: 1 }, 'alice@example.com')).toEqual({ groups: ['skillgate-approvers'], quorum: 1 });
    // Too few left for the quorum: the default group joins them (the quorum is not lowered).
    expect(effectiveApprovers({ users: ['carol@example.com', 'alice@example.com'], quorum: 2 }, 'alice@example.com')).toEqual({ groups: ['skillgate-approvers'], users: ['carol@example.com'], quorum: 2 });
    expect(effectiveApprovers({ groups: ['secops'], users: ['alice@example.com'], quorum: 2 }, 'alice@example.com')).toEqual({ groups: ['secops'], quorum: 2 });
    expect(effectiveApprovers({ groups: ['secops'], quorum: 2 })).toEqual({ groups: ['secops'], quorum: 2 });
  });
  test('a rule naming only a group is approved by a member of that group and nobody else', () => {
    const s = spec({ groups: ['secops'] });
    expect(deciderProblem(s, 'alice', ['system:authenticated', 'secops'])).toBeUndefined();
    expect(deciderProblem(s, 'alice')).toMatch(/not an approver/);
  });
  test('the skill owner cannot approve their own skill’s request', () => {
    const o = approvalOutcome(spec(), [d('Carol@example.com', 'approve', ['skillgate-approvers'])], now);
    expect(o.phase).toBe('Pending');
    expect(o.ignored[0]!.reason).toMatch(/owns skill triage/);
  });
  test('quorum counts distinct approvers, not decisions', () => {
    const s = spec({ users: ['alice', 'bob'], quorum: 2 });
    expect(approvalOutcome(s, [d('alice', 'approve'), d('alice', 'approve')], now).phase).toBe('Pending');
    expect(approvalOutcome(s, [d('alice', 'approve'), d('bob', 'approve')], now).phase).toBe('Approved');
  });
  test('one valid denial denies', () => {
    expect(approvalOutcome(spec({ users: ['alice', 'bob'], quorum: 2 }), [d('alice', 'approve'), d('bob', 'deny')], now).phase).toBe('Denied');
  });
  test('a user outside the approver groups is ignored', () => {
    const o = approvalOutcome(spec({ groups: ['secops'] }), [d('mallory', 'approve', ['devs']), d('alice', 'approve', ['secops'])], now);
    expect(o.phase).toBe('Approved');
    expect(o.approvedBy).toEqual(['alice']);
    expect(o.ignored.map((i) => i.user)).toEqual(['mallory']);
  });
  test('an undecided approval expires at expiresAt', () => {
    expect(approvalOutcome(spec(), [], new Date('2026-03-04T10:05:00Z')).phase).toBe('Expired');
  });
  test('a decision recorded after expiry does not count', () => {
    expect(approvalOutcome(spec({ users: ['alice'] }), [{ ...d('alice', 'approve'), at: '2026-03-04T10:06:00Z' }], new Date('2026-03-04T10:07:00Z')).phase).toBe('Expired');
  });
  test('a terminal phase never goes back', () => {
    expect(approvalOutcome(spec(), [d('bob', 'deny')], now, 'Used').phase).toBe('Used');
  });
  test('an explicit approver user list admits only those users', () => {
    expect(deciderProblem(spec({ users: ['alice'] }), 'bob')).toMatch(/not an approver/);
    expect(deciderProblem(spec({ users: ['alice'] }), 'alice')).toBeUndefined();
  });
});
