// Revocation of workload tokens by jti. The controller remembers which tokens it issued to whom (until
// they expire) so that offboarding an owner can revoke every token they hold; a revocation travels to
// sidecars as a lock of kind `token` that expires with the token, so the lock set never grows without
// bound. Pure: no I/O, the clock is passed in.
import { normalizeOwner, type Lock } from './lock.js';

export interface IssuedToken {
  jti: string;
  owner: string;
  skill: string;
  namespace: string;
  pod: string;
  /** Epoch ms */
  expiresAt: number;
}

export const revocationLockName = (jti: string): string => `revoked-${jti}`;

/**
 * The lock that stands for a revoked token; it lapses when the token would have expired anyway, by
 * the controller's clock. A sidecar may hold the token a little longer by its own (the exchange's
 * round trip, clock skew), so it does not rely on the lock outliving it: told of the revocation, it
 * drops the token and refuses as revoked until a new one arrives.
 */
export function revocationLock(token: Pick<IssuedToken, 'jti' | 'expiresAt'>, reason: string): Lock {
  return { name: revocationLockName(token.jti), target: { kind: 'token', value: token.jti }, reason, createdBy: 'controller', expiresAt: token.expiresAt };
}

/**
 * Is this the controller's own revocation of a token (made by `revocationLock`), rather than a
 * responder's token lock? A revocation stops only the token it names: the pod re-exchanges for a
 * token naming its current owner. A responder's token lock also keeps the pod that held the token
 * from getting another (the token exchange), so the two must be told apart.
 */
export function isRevocationLock(lock: Lock): boolean {
  return lock.target.kind === 'token' && lock.name === revocationLockName(lock.target.value) && lock.createdBy === 'controller';
}

export class IssuedTokens {
  private readonly byJti = new Map<string, IssuedToken>();

  record(token: IssuedToken): void {
    this.byJti.set(token.jti, token);
  }

  /** Unexpired tokens issued to skills of this owner, however either spelled the address (normalizeOwner). */
  ofOwner(owner: string, now: number): IssuedToken[] {
    const o = normalizeOwner(owner);
    return [...this.byJti.values()].filter((t) => normalizeOwner(t.owner) === o && t.expiresAt > now);
  }

  get(jti: string): IssuedToken | undefined {
    return this.byJti.get(jti);
  }

  prune(now: number): number {
    let n = 0;
    for (const [jti, t] of this.byJti) if (t.expiresAt <= now) { this.byJti.delete(jti); n++; }
    return n;
  }

  get size(): number {
    return this.byJti.size;
  }
}
