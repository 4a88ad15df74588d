import { OwnerRegistry, POD_REGISTRATION_ACTOR, SCIM_ACTOR, isVouched, newOwner, setOwnerActive, offboardLock, offboardLockName, offboardingSourceOf, ownerId, reinstatementRefusal, IssuedTokens, revocationLock, mergeOwnerRecords } from '../src/index.js';

describe('owners', () => {
  test('offboarding then reinstating reports each transition once', () => {
    const at = new Date('2026-01-01T00:00:00Z');
    const o = newOwner('Alice@Example.com', at);
    expect(o.email).toBe('alice@example.com');
    expect(o.id).toBe(ownerId('alice@example.com'));
    const off = setOwnerActive(o, false, at, 'scim', 'left the company');
    expect(off.transition).toBe('offboarded');
    expect(off.owner.reason).toBe('left the company');
    expect(setOwnerActive(off.owner, false, at, 'scim').transition).toBe('unchanged');
    const back = setOwnerActive(off.owner, true, at, 'cli');
    expect(back.transition).toBe('reinstated');
    expect(back.owner.reason).toBeUndefined();
  });

  test('who offboarded decides who may reinstate: the identity provider lifts only its own offboarding', () => {
    const at = new Date('2026-01-01T00:00:00Z');
    const o = newOwner('alice@example.com', at);
    const byIdp = setOwnerActive(o, false, at, 'scim', 'deactivated by the identity provider', 'scim').owner;
    expect(offboardingSourceOf(byIdp)).toBe('scim');
    expect(reinstatementRefusal(byIdp, 'scim')).toBeUndefined();
    const byResponder = setOwnerActive(o, false, at, 'responder@example.com', 'INC-4711').owner;
    expect(offboardingSourceOf(byResponder)).toBe('responder');
    expect(reinstatementRefusal(byResponder, 'scim')).toMatch(/offboarded by a responder \(INC-4711\).*skillgate owners reinstate alice@example.com/);
    expect(reinstatementRefusal(byResponder, 'responder')).toBeUndefined();
    // The identity provider deactivating them as well keeps the responder's hold and reason; a responder takes over the IdP's.
    const both = setOwnerActive(byResponder, false, at, 'scim', 'deactivated by the identity provider', 'scim').owner;
    expect([offboardingSourceOf(both), both.reason]).toEqual(['responder', 'INC-4711']);
    expect(offboardingSourceOf(setOwnerActive(byIdp, false, at, 'responder@example.com', 'INC-4712').owner)).toBe('responder');
    // Reinstated: no source left; a record from before sources were kept is the IdP's only if SCIM wrote it.
    expect(offboardingSourceOf(setOwnerActive(byResponder, true, at, 'responder@example.com').owner)).toBeUndefined();
    expect(offboardingSourceOf({ ...o, active: false, changedBy: 'scim' })).toBe('scim');
    expect(offboardingSourceOf({ ...o, active: false, changedBy: 'jane' })).toBe('responder');
  });

  test('the offboarding lock targets the owner and is named deterministically', () => {
    const o = newOwner('bob@example.com', new Date());
    const lock = offboardLock(o, 'contract ended', 'scim');
    expect(lock.metadata.name).toBe(offboardLockName('BOB@example.com'));
    expect(lock.spec.target).toEqual({ kind: 'owner', value: 'bob@example.com' });
    expect(lock.spec.reason).toContain('contract ended');
    expect(lock.metadata.labels?.['skillgate.dev/offboarded-by']).toBe('responder');
    expect(offboardLock(o, 'left', 'scim', 'scim').metadata.labels?.['skillgate.dev/offboarded-by']).toBe('scim');
  });

  test('unknown owners count as active; known ones by their flag', () => {
    const reg = new OwnerRegistry();
    expect(reg.isActive('new@example.com')).toBe(true);
    reg.put(setOwnerActive(newOwner('gone@example.com', new Date()), false, new Date(), 'cli').owner);
    expect(reg.isActive('GONE@example.com')).toBe(false);
  });

  test('an owner is vouched for once SCIM or a responder wrote the record, not while only a pod registered it', () => {
    const at = new Date('2026-01-01T00:00:00Z');
    const fromPod = { ...newOwner('erin@example.com', at), changedBy: `${POD_REGISTRATION_ACTOR}team-a/bot-1` };
    expect(isVouched(fromPod)).toBe(false);
    expect(isVouched({ ...fromPod, changedBy: SCIM_ACTOR })).toBe(true);
    expect(isVouched({ ...fromPod, changedBy: 'responder@example.com' })).toBe(true);
    // A record with no writer named (older records, a kubectl apply) counts as a person's.
    expect(isVouched(newOwner('erin@example.com', at))).toBe(true);
    const reg = new OwnerRegistry();
    expect(reg.isVouched('erin@example.com')).toBe(false);
    reg.put(fromPod);
    expect([reg.isActive('erin@example.com'), reg.isVouched('Erin+x@example.com')]).toEqual([true, false]);
    reg.put({ ...fromPod, changedBy: SCIM_ACTOR });
    expect(reg.isVouched('erin@example.com')).toBe(true);
  });

  test('issued tokens of an owner are found until they expire, and revoke as expiring token locks', () => {
    const issued = new IssuedTokens();
    issued.record({ jti: 'a', owner: 'alice@example.com', skill: 's', namespace: 'n', pod: 'p', expiresAt: 100 });
    issued.record({ jti: 'b', owner: 'bob@example.com', skill: 's', namespace: 'n', pod: 'p', expiresAt: 100 });
    expect(issued.ofOwner('ALICE@example.com', 50).map((t) => t.jti)).toEqual(['a']);
    expect(issued.ofOwner('alice@example.com', 100)).toEqual([]);
    expect(revocationLock({ jti: 'a', expiresAt: 100 }, 'offboarded')).toMatchObject({ target: { kind: 'token', value: 'a' }, expiresAt: 100 });
    expect(issued.prune(100)).toBe(2);
  });
});

describe('owners are known by the canonical form of their address', () => {
  const at = new Date('2026-01-01T00:00:00Z');

  test('every spelling of an owner has the same record id and offboarding lock, which targets the canonical address', () => {
    for (const spelling of ['Jane+triage@Example.com', 'jane@example.com.', ' JANE+x@EXAMPLE.COM. ']) {
      expect([spelling, newOwner(spelling, at).email, ownerId(spelling), offboardLockName(spelling)]).toEqual([spelling, 'jane@example.com', ownerId('jane@example.com'), offboardLockName('jane@example.com')]);
    }
    // A record kept under an older spelling still locks the canonical address.
    const legacy = { ...newOwner('jane@example.com', at), email: 'jane+triage@example.com', id: 'a11a5a11a5a11a5a11a5a11a' };
    const lock = offboardLock(legacy, 'left', 'scim');
    expect([lock.metadata.name, lock.spec.target, lock.metadata.labels?.['skillgate.dev/owner-id']]).toEqual([offboardLockName('jane@example.com'), { kind: 'owner', value: 'jane@example.com' }, ownerId('jane@example.com')]);
  });

  test('the registry answers for every spelling, whatever spelling a record was put under', () => {
    const reg = new OwnerRegistry();
    reg.put({ ...setOwnerActive(newOwner('jane@example.com', at), false, at, 'scim').owner, email: 'Jane+old@Example.com' });
    for (const spelling of ['jane@example.com', 'jane+triage@example.com', 'JANE@example.com.']) expect([spelling, reg.isActive(spelling)]).toEqual([spelling, false]);
    expect(reg.list().map((o) => [o.email, o.id])).toEqual([['jane@example.com', ownerId('jane@example.com')]]);
  });

  test("records of older spellings merge into their owner: the canonical record decides, else any offboarded one", () => {
    const active = newOwner('jane@example.com', at);
    const off = setOwnerActive(active, false, at, 'scim').owner;
    const aliasActive = { ...active, email: 'jane+triage@example.com', id: ownerId('jane+triage@example.com') };
    const aliasOff = { ...off, email: 'jane@example.com.', id: 'x' };
    expect(mergeOwnerRecords(off, [aliasActive])).toMatchObject({ email: 'jane@example.com', active: false });
    expect(mergeOwnerRecords(active, [aliasOff])).toMatchObject({ email: 'jane@example.com', active: true });
    expect(mergeOwnerRecords(undefined, [aliasActive, aliasOff])).toMatchObject({ email: 'jane@example.com', id: ownerId('jane@example.com'), active: false });
    expect(mergeOwnerRecords(undefined, [])).toBeUndefined();
  });

  test("an owner's issued tokens are found by any spelling", () => {
    const issued = new IssuedTokens();
    issued.record({ jti: 'a', owner: 'jane+triage@example.com', skill: 's', namespace: 'n', pod: 'p', expiresAt: 100 });
    issued.record({ jti: 'b', owner: 'jane@example.com', skill: 's', namespace: 'n', pod: 'q', expiresAt: 100 });
    expect(issued.ofOwner('JANE@example.com.', 50).map((t) => t.jti)).toEqual(['a', 'b']);
  });
});
