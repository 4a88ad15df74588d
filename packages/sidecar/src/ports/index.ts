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

export interface LockGuard {
  /** The lock that refuses this subject, if any. Must be O(1)-ish: it runs on every request. */
  match(subject: LockSubject): LockHit | undefined;
  /** Called whenever the lock set changes, so live streams can be re-checked. */
  onChange(listener: () => void): void;
  /** When the guard cannot vouch for the lock set (feed lost too long), refuse everything. */
  refusal(): GatewayError | undefined;
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
