import { OwnerRegistry, newOwner, setOwnerActive, offboardLock, offboardLockName, ownerId, IssuedTokens, revocationLock } from '../src/index.js';

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

  test('the offboarding lock targets the owner and is named deterministically', () => {
    const o = newOwner('bob@example.com', new Date());
    const lock = offboardLock(o, 'contract ended', 'scim');
    expect(lock.metadata.name).toBe(offboardLockName('BOB@example.com'));
    expect(lock.spec.target).toEqual({ kind: 'owner', value: 'bob@example.com' });
    expect(lock.spec.reason).toContain('contract ended');
  });

  test('unknown owners count as active; known ones by their flag', () => {
    const reg = new OwnerRegistry();
    expect(reg.isActive('new@example.com')).toBe(true);
    reg.put(setOwnerActive(newOwner('gone@example.com', new Date()), false, new Date(), 'cli').owner);
    expect(reg.isActive('GONE@example.com')).toBe(false);
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
