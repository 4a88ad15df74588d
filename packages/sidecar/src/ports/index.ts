// The sidecar's ports: the interfaces through which the request path asks the rest of skillgate
// for identity, locks, policy, approvals, recording and the upstream credential. Each has a local
// implementation (make dev, tests) and a cluster one (controller, Redis). Stages depend only on
// these interfaces, never on how they are fed.
import type { SkillIdentity } from '@skillgate/api';
import type { GatewayError } from '@skillgate/wire';

/** Who the skill is, and whether it currently holds a valid workload token. */
export interface IdentitySource {
  identity(): SkillIdentity;
  /** Undefined when the skill may act; otherwise the error to answer with (missing/revoked token). */
  refusal(): GatewayError | undefined;
  /** jti of the current workload token, when tokens are in use. */
  tokenId(): string | undefined;
  /**
   * Why the skill has lost its standing, so that what it holds open must be cut as well as its new
   * requests refused: its workload token refused, revoked or expired. Undefined while the token is
   * valid, whatever else refusal() says (an upstream credential past its own expiry refuses new
   * requests only). Absent: refusal() stands for it.
   */
  standingLost?(): GatewayError | undefined;
  /** Call `listener` whenever standingLost() may have turned on (a refusal, a revocation, an expiry). */
  onStandingLost?(listener: () => void): void;
}

/** What a lock is matched against: the skill identity plus the request's session and token. */
export interface LockSubject {
  identity: SkillIdentity;
  sessionId: string;
  tokenId?: string;
}

export interface LockHit {
  lockName: string;
  reason: string;
}

/** Why the skill may not act: the error to answer with, and the lock behind it when a lock is. */
export interface Refusal {
  error: GatewayError;
  hit?: LockHit;
}

export interface LockGuard {
  /** The lock that refuses this subject, if any. Must be O(1)-ish: it runs on every request. */
  match(subject: LockSubject): LockHit | undefined;
  /** Called whenever the lock set changes, so live streams can be re-checked. */
  onChange(listener: () => void): void;
  /** When the guard cannot vouch for the lock set (feed lost too long), refuse everything. */
  refusal(): GatewayError | undefined;
  /**
   * Call `listener` when refusal() turns on by itself (the feed lost past its bound), noticed on a
   * timer rather than by the next request, so that what the skill holds open is cut then.
   */
  onStandingLost?(listener: () => void): void;
  /** Count what a lock did here (requests refused, streams cut), for its SkillLock status. */
  count?(hit: LockHit, what: 'requestsRefused' | 'streamsKilled'): void;
}

/**
 * The credential the sidecar presents upstream. Never logged or recorded. `credential()` throws the
 * GatewayError to answer with when it holds none it may use (no token yet, refused, or past the
 * credential's own expiry): nothing goes upstream without one.
 */
export interface CredentialSource {
  credential(): { apiKey?: string; bearer?: string };
}

export const noLocks: LockGuard = {
  match: () => undefined,
  onChange: () => undefined,
  refusal: () => undefined,
};
