import { approvalOutcome, deciderProblem, type RecordedDecision } from '@skillgate/policy';
import { effectiveApprovers, effectiveRequirements, unitedApprovers } from '@skillgate/policy/approval';
import { personOf, samePerson, type ApprovalRequirement, type SkillApprovalSpec } from '@skillgate/api';

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

describe('one requirement per matched rule', () => {
  const withRequirements = (requirements: ApprovalRequirement[]): SkillApprovalSpec => ({ ...spec(), approvers: unitedApprovers(requirements), requirements });
  const two = withRequirements([
    { rule: 'team-a/sec/ssn', groups: ['secops'], quorum: 1 },
    { rule: 'team-a/team/big', users: ['friend@example.com'], quorum: 1 },
  ]);

  test('each rule is met only by its own approvers: one rule\'s approver alone releases nothing', () => {
    expect(approvalOutcome(two, [d('friend@example.com', 'approve')], now).phase).toBe('Pending');
    expect(approvalOutcome(two, [d('sam', 'approve', ['secops'])], now).phase).toBe('Pending');
    const o = approvalOutcome(two, [d('friend@example.com', 'approve'), d('sam', 'approve', ['secops'])], now);
    expect(o.phase).toBe('Approved');
    expect(o.requirements).toEqual([
      { rule: 'team-a/sec/ssn', quorum: 1, approvedBy: ['sam'] },
      { rule: 'team-a/team/big', quorum: 1, approvedBy: ['friend@example.com'] },
    ]);
  });

  test('a decision counts toward every rule that names the decider', () => {
    const both = withRequirements([{ rule: 'a', groups: ['secops'], quorum: 1 }, { rule: 'b', groups: ['legal'], quorum: 2 }]);
    expect(approvalOutcome(both, [d('sam', 'approve', ['secops', 'legal'])], now).phase).toBe('Pending');
    expect(approvalOutcome(both, [d('sam', 'approve', ['secops', 'legal']), d('lee', 'approve', ['legal'])], now).phase).toBe('Approved');
  });

  test('a denial by an approver of any rule denies, and anyone else is still ignored', () => {
    expect(approvalOutcome(two, [d('sam', 'approve', ['secops']), d('friend@example.com', 'deny')], now).phase).toBe('Denied');
    const o = approvalOutcome(two, [d('mallory', 'deny', ['devs'])], now);
    expect(o.phase).toBe('Pending');
    expect(o.ignored[0]!.reason).toMatch(/mallory is not an approver \(rule team-a\/sec\/ssn: users: -; groups: secops \| rule team-a\/team\/big: users: friend@example\.com; groups: -\)/);
  });

  test('an approval written before requirements reads its approvers as the one requirement', () => {
    const old = spec({ groups: ['secops'], quorum: 2 });
    expect(old.requirements).toBeUndefined();
    expect(approvalOutcome(old, [d('sam', 'approve', ['secops'])], now).phase).toBe('Pending');
    const o = approvalOutcome(old, [d('sam', 'approve', ['secops']), d('lee', 'approve', ['secops'])], now);
    expect(o.phase).toBe('Approved');
    expect(o.requirements).toEqual([{ quorum: 2, approvedBy: ['sam', 'lee'] }]);
  });

  test('the requirements written leave the owner out of each rule, and the union names everyone who may decide', () => {
    const r = effectiveRequirements([
      { rule: 'a', groups: [], users: ['carol@example.com'], quorum: 1 },
      { rule: 'b', groups: ['secops'], users: [], quorum: 2 },
      { rule: 'b', groups: ['secops'], users: [], quorum: 2 },
    ], 'carol@example.com');
    expect(r).toEqual([{ rule: 'a', groups: ['skillgate-approvers'], quorum: 1 }, { rule: 'b', groups: ['secops'], quorum: 2 }]);
    expect(unitedApprovers(r)).toEqual({ groups: ['skillgate-approvers', 'secops'], quorum: 2 });
  });
});

describe('one person, however the name is spelled', () => {
  test('the same person approving through the CLI (oidc: prefix) and through a signed link (bare email) counts once toward a quorum of 2', () => {
    const s = spec({ groups: ['secops'], quorum: 2 });
    const o = approvalOutcome(s, [d('oidc:bob@example.com', 'approve', ['secops']), d('bob@example.com', 'approve', ['secops'])], now);
    expect(o.phase).toBe('Pending');
    expect(o.approvedBy).toEqual(['oidc:bob@example.com']);
    expect(approvalOutcome(s, [d('oidc:bob@example.com', 'approve', ['secops']), d('https://issuer.example#Bob@Example.com', 'approve', ['secops'])], now).phase).toBe('Pending');
    expect(approvalOutcome(s, [d('oidc:bob@example.com', 'approve', ['secops']), d('alice@example.com', 'approve', ['secops'])], now).phase).toBe('Approved');
  });

  test('oidc:bob (listed) and bob (listed) approving count once toward a quorum of 2', () => {
    const s = spec({ users: ['oidc:bob@example.com', 'bob@example.com', 'alice@example.com'], quorum: 2 });
    const o = approvalOutcome(s, [d('oidc:bob@example.com', 'approve'), d('bob@example.com', 'approve')], now);
    expect(o.ignored).toEqual([]);
    expect(o.phase).toBe('Pending');
    expect(o.requirements).toEqual([{ quorum: 2, approvedBy: ['oidc:bob@example.com'] }]);
    expect(approvalOutcome(s, [d('oidc:bob@example.com', 'approve'), d('bob@example.com', 'approve'), d('alice@example.com', 'approve')], now).phase).toBe('Approved');
  });

  test('approvers.users matches names as written: a name with any prefix before bob\'s email (mallory:, https://…#, a ServiceAccount) cannot decide for users:[bob@example.com]', () => {
    const s = spec({ users: ['bob@example.com'] });
    for (const user of ['mallory:bob@example.com', 'https://evil.example#bob@example.com', 'system:serviceaccount:ns:x:bob@example.com', 'oidc:bob@example.com']) {
      expect([user, deciderProblem(s, user)]).toEqual([user, expect.stringMatching(/is not an approver \(users: bob@example\.com; groups: -\)/)]);
      const o = approvalOutcome(s, [d(user, 'approve')], now);
      expect(o.phase).toBe('Pending');
      expect(o.ignored.map((i) => i.user)).toEqual([user]);
      // Nor does such a name deny for bob.
      expect(approvalOutcome(s, [d(user, 'deny')], now).phase).toBe('Pending');
    }
    // The name as written, trimmed and lower-cased, is the listed user.
    expect(deciderProblem(s, ' Bob@Example.com ')).toBeUndefined();
  });

  test('the real bob still decides after a prefixed name ending in his email tried to', () => {
    const s = spec({ users: ['bob@example.com'] });
    for (const user of ['mallory:bob@example.com', 'https://evil.example#bob@example.com', 'system:serviceaccount:ns:x:bob@example.com']) {
      expect(approvalOutcome(s, [d(user, 'deny'), d('bob@example.com', 'approve')], now)).toMatchObject({ phase: 'Approved', approvedBy: ['bob@example.com'] });
      expect(approvalOutcome(s, [d(user, 'approve'), d('bob@example.com', 'deny')], now)).toMatchObject({ phase: 'Denied', deniedBy: ['bob@example.com'] });
    }
  });

  test('the API server\'s prefixed name decides when it is listed, beside the bare email a signed link carries', () => {
    const s = spec({ users: ['oidc:bob@example.com', 'bob@example.com'] });
    expect(deciderProblem(s, 'oidc:bob@example.com')).toBeUndefined();
    expect(deciderProblem(s, 'bob@example.com')).toBeUndefined();
    expect(approvalOutcome(s, [d('oidc:bob@example.com', 'approve')], now).phase).toBe('Approved');
    expect(deciderProblem(s, 'mallory:bob@example.com')).toMatch(/not an approver/);
  });

  test('a later approval under another spelling never undoes a denial', () => {
    const s = spec({ groups: ['secops'] });
    expect(approvalOutcome(s, [d('oidc:bob@example.com', 'deny', ['secops']), d('mallory:bob@example.com', 'approve', ['secops'])], now).phase).toBe('Denied');
  });

  test('a decision under another spelling does not hide one that qualifies for a rule', () => {
    const s: SkillApprovalSpec = { ...spec(), requirements: [{ rule: 'a', users: ['bob@example.com'], quorum: 1 }, { rule: 'b', groups: ['secops'], quorum: 1 }], approvers: { users: ['bob@example.com'], groups: ['secops'], quorum: 1 } };
    const o = approvalOutcome(s, [d('bob@example.com', 'approve'), d('oidc:bob@example.com', 'approve', ['secops'])], now);
    expect(o.phase).toBe('Approved');
    expect(o.requirements).toEqual([{ rule: 'a', quorum: 1, approvedBy: ['bob@example.com'] }, { rule: 'b', quorum: 1, approvedBy: ['oidc:bob@example.com'] }]);
  });

  test('both spellings of one person may be listed; as one person they cannot make up a quorum of two alone', () => {
    expect(effectiveApprovers({ users: ['bob@example.com', 'oidc:Bob@example.com'], quorum: 1 })).toEqual({ users: ['bob@example.com', 'oidc:Bob@example.com'], quorum: 1 });
    expect(effectiveApprovers({ users: ['bob@example.com', 'oidc:Bob@example.com'], quorum: 2 })).toEqual({ groups: ['skillgate-approvers'], users: ['bob@example.com', 'oidc:Bob@example.com'], quorum: 2 });
    expect(effectiveApprovers({ users: ['bob@example.com', ' Bob@Example.com'], quorum: 1 })).toEqual({ users: ['bob@example.com'], quorum: 1 });
  });

  test('an approval written earlier today (one spelling listed) still reads: a decided one keeps its phase, a prefixed name no longer counts on a pending one', () => {
    const earlier = spec({ users: ['bob@example.com'] });
    const decided = [d('oidc:bob@example.com', 'approve')];
    expect(approvalOutcome(earlier, decided, now, 'Approved').phase).toBe('Approved');
    expect(approvalOutcome(earlier, decided, now, 'Used').phase).toBe('Used');
    const pending = approvalOutcome(earlier, decided, now);
    expect(pending.phase).toBe('Pending');
    expect(pending.ignored[0]!.reason).toMatch(/oidc:bob@example\.com is not an approver/);
    expect(approvalOutcome(earlier, [...decided, d('bob@example.com', 'approve')], now).phase).toBe('Approved');
  });

  test('only an email is unwrapped from a prefix: ServiceAccounts and plain names stay whole', () => {
    expect(personOf(' OIDC:Bob@Example.com ')).toBe('bob@example.com');
    expect(personOf('https://issuer.example#bob@example.com')).toBe('bob@example.com');
    expect(personOf('system:serviceaccount:team-a:bob')).toBe('system:serviceaccount:team-a:bob');
    expect(samePerson('system:serviceaccount:team-a:bob', 'bob')).toBe(false);
    expect(samePerson('', '')).toBe(false);
  });
});
