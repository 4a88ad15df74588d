import fc from 'fast-check';
import type { LockTarget, SkillIdentity } from '@skillgate/api';
import { LockSet, lockFromResource, subjectKeys, targetKey, type Lock, type LockSubject } from '../src/index.js';

const id: SkillIdentity = { namespace: 'team-a', serviceAccount: 'bot', pod: 'bot-1', skill: 'summarize', owner: 'Alice@Example.com' };
const subject: LockSubject = { identity: id, sessionId: 'sess-1', tokenId: 'jti-1' };
const lock = (name: string, target: LockTarget, extra: Partial<Lock> = {}): Lock => ({ name, target, reason: `because ${name}`, ...extra });

describe('LockSet', () => {
  test.each<[string, LockTarget]>([
    ['skill in its namespace', { kind: 'skill', value: 'summarize', namespace: 'team-a' }],
    ['skill in every namespace', { kind: 'skill', value: 'summarize' }],
    ['owner, whatever the case of the email', { kind: 'owner', value: 'alice@example.COM' }],
    ['owner, whatever +tag or trailing dot the lock spells it with', { kind: 'owner', value: 'alice+incident@example.com.' }],
    ['pod', { kind: 'pod', value: 'bot-1', namespace: 'team-a' }],
    ['session', { kind: 'session', value: 'sess-1' }],
    ['token', { kind: 'token', value: 'jti-1' }],
    ['namespace', { kind: 'namespace', value: 'team-a' }],
  ])('a lock on the %s refuses the subject and names itself', (_label, target) => {
    const set = new LockSet([lock('l1', target)]);
    expect(set.match(subject, 0)).toMatchObject({ lockName: 'l1', reason: 'because l1' });
  });

  test.each(['alice+triage@example.com', 'ALICE@example.com.', 'Alice+x+y@Example.COM..'])('an owner lock on alice@example.com refuses a skill whose identity spells its owner %j', (owner) => {
    const set = new LockSet([lock('offboard-alice', { kind: 'owner', value: 'alice@example.com' })]);
    expect(set.match({ identity: { ...id, owner } }, 0)?.lockName).toBe('offboard-alice');
  });

  test.each<[string, LockTarget]>([
    ['the same skill in another namespace', { kind: 'skill', value: 'summarize', namespace: 'team-b' }],
    ['another owner', { kind: 'owner', value: 'bob@example.com' }],
    ['another session', { kind: 'session', value: 'sess-2' }],
    ['another token', { kind: 'token', value: 'jti-2' }],
    ['another namespace', { kind: 'namespace', value: 'team-b' }],
  ])('a lock on %s leaves the subject alone', (_label, target) => {
    expect(new LockSet([lock('l1', target)]).match(subject, 0)).toBeUndefined();
  });

  test('an expired lock no longer matches and prune removes it', () => {
    const set = new LockSet([lock('l1', { kind: 'namespace', value: 'team-a' }, { expiresAt: 1000 })]);
    expect(set.match(subject, 999)).toBeDefined();
    expect(set.nextExpiry()).toBe(1000);
    expect(set.match(subject, 1000)).toBeUndefined();
    expect(set.prune(1000)).toEqual(['l1']);
    expect(set.size).toBe(0);
  });

  test('removing one of two locks on the same target keeps the other in force', () => {
    const set = new LockSet([lock('a', { kind: 'owner', value: 'alice@example.com' }), lock('b', { kind: 'owner', value: 'alice@example.com' })]);
    set.remove('a');
    expect(set.match(subject, 0)?.lockName).toBe('b');
    set.remove('b');
    expect(set.match(subject, 0)).toBeUndefined();
  });

  test('replaceAll reports whether anything changed, and put is idempotent', () => {
    const set = new LockSet();
    const l = lock('a', { kind: 'token', value: 'x' });
    expect(set.put(l)).toBe(true);
    expect(set.put({ ...l })).toBe(false);
    expect(set.replaceAll([{ ...l }])).toBe(false);
    expect(set.replaceAll([])).toBe(true);
  });

  test('matching agrees with a linear scan over any set of locks (property)', () => {
    const kinds = ['skill', 'owner', 'pod', 'session', 'token', 'namespace'] as const;
    const values = ['summarize', 'alice@example.com', 'bot-1', 'sess-1', 'jti-1', 'team-a', 'team-b', 'other'];
    const arbLock = fc.record({
      kind: fc.constantFrom(...kinds), value: fc.constantFrom(...values),
      namespace: fc.option(fc.constantFrom('team-a', 'team-b'), { nil: undefined }), exp: fc.option(fc.integer({ min: 0, max: 10 }), { nil: undefined }),
    });
    fc.assert(fc.property(fc.array(arbLock, { maxLength: 12 }), fc.integer({ min: 0, max: 10 }), (specs, now) => {
      const locks = specs.map((s, i) => lock(`l${i}`, { kind: s.kind, value: s.value, ...(s.namespace && (s.kind === 'skill' || s.kind === 'pod') ? { namespace: s.namespace } : {}) }, s.exp === undefined ? {} : { expiresAt: s.exp }));
      const keys = new Set(subjectKeys(subject));
      const expected = locks.some((l) => keys.has(targetKey(l.target)) && (l.expiresAt === undefined || l.expiresAt > now));
      expect(new LockSet(locks).match(subject, now) !== undefined).toBe(expected);
    }));
  });

  test('a SkillLock object becomes a lock, and a bad expiry is rejected with the field', () => {
    const res = { apiVersion: 'skillgate.dev/v1alpha1' as const, kind: 'SkillLock' as const, metadata: { name: 'x' }, spec: { target: { kind: 'skill' as const, value: 's' }, reason: 'r', expiresAt: '2030-01-01T00:00:00Z' } };
    expect(lockFromResource(res)).toEqual({ name: 'x', target: { kind: 'skill', value: 's' }, reason: 'r', expiresAt: Date.parse('2030-01-01T00:00:00Z') });
    expect(() => lockFromResource({ ...res, spec: { ...res.spec, expiresAt: 'soon' } })).toThrow(/expiresAt/);
  });
});

describe('locks on a workload token', () => {
  test('tokenLock finds the unexpired lock on a jti that `accept` takes, and keeps counting as locks come, change and go', () => {
    const set = new LockSet();
    const on = (name: string, jti: string, expiresAt?: number) => ({ name, target: { kind: 'token' as const, value: jti }, reason: name, ...(expiresAt ? { expiresAt } : {}) });
    expect(set.tokenLock('j1', 0)).toBeUndefined();
    set.put(on('a', 'j1'));
    set.put(on('b', 'j1', 50));
    expect(set.tokenLock('j1', 100)?.name).toBe('a');
    expect(set.tokenLock('j1', 10, (l) => l.name === 'b')?.name).toBe('b');
    set.put({ ...on('a', 'j2'), reason: 'moved' }); // replaced: filed under its new token
    expect([set.tokenLock('j1', 100), set.tokenLock('j2', 100)?.name]).toEqual([undefined, 'a']);
    set.replaceAll([on('c', 'j3')]);
    expect([set.tokenLock('j2', 100), set.tokenLock('j3', 100)?.name]).toEqual([undefined, 'c']);
    set.remove('c');
    expect(set.tokenLock('j3', 100)).toBeUndefined();
    set.put(on('d', 'j4'));
    expect(set.tokenLock('j4', 100)?.name).toBe('d'); // the count came back to zero and up again
  });
});
