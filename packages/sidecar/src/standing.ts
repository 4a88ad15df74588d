// A skill's standing: whether it may act at all right now. It may when its workload token is valid
// and unrevoked (when tokens are in use), the sidecar can vouch for the lock set (the lock feed is
// not lost), and no lock matches the skill, its owner, pod, namespace, session or token: asked in
// that order, each refusal with its one error. Every way out of the pod asks here, so the order and
// the errors cannot drift between them: the Claude path in two steps around reading the body
// (identify asks identityRefusal before a byte of it; admit asks lockRefusal once the session is
// known), egress (proxy connections, DNS names) all at once with standingRefusal. Runs on every
// Claude request: it allocates nothing when the skill may act, and never counts or logs (each
// caller does, in its own terms). What a sweep of the live registry cuts with (sweepRefusal) asks
// the same questions, for what the skill already holds open; it runs only when the standing may
// have changed, never per request.
import { GatewayError, codes } from '@skillgate/wire';
import type { SidecarContext } from './context.js';
import type { LockHit, LockSubject, Refusal } from './ports/index.js';

/** The answer to a skill a lock matches (a request refused, a stream or connection cut). */
export function lockedError(hit: LockHit): GatewayError {
  return new GatewayError(codes.locked, 'permission_error',
    `This skill is locked by SkillLock "${hit.lockName}": ${hit.reason}. Ask a responder to review it (skillgate lock list).`);
}

/** First: the skill's workload identity (a valid, unrevoked token, when tokens are in use). */
export function identityRefusal(ctx: SidecarContext): GatewayError | undefined {
  return ctx.identity.refusal();
}

/** Then, for a skill whose identity may act: a lock feed the sidecar can vouch for, and no lock on `subject`. */
export function lockRefusal(ctx: SidecarContext, subject: LockSubject): Refusal | undefined {
  const lost = ctx.locks.refusal();
  if (lost) return { error: lost };
  const hit = ctx.locks.match(subject);
  return hit ? { error: lockedError(hit), hit } : undefined;
}

/** Both, in order, at once: for a way out with nothing to read first (egress). */
export function standingRefusal(ctx: SidecarContext, subject: LockSubject): Refusal | undefined {
  const error = identityRefusal(ctx);
  return error ? { error } : lockRefusal(ctx, subject);
}

/**
 * What to cut each live exchange and egress connection with, as of now. While the skill has lost its
 * standing — its token refused, revoked or expired, or a lock feed the sidecar cannot vouch for —
 * that refusal applies to every one of them, whatever its subject; otherwise each is matched
 * against the locks. A token that is still valid keeps what is open, even when it cannot be
 * refreshed (a controller merely unreachable) or its upstream credential has run out: those refuse
 * new requests only.
 */
export function sweepRefusal(ctx: SidecarContext): (subject: LockSubject) => Refusal | undefined {
  const identity = ctx.identity;
  const lost = (identity.standingLost ? identity.standingLost() : identity.refusal()) ?? ctx.locks.refusal();
  if (lost) {
    const all: Refusal = { error: lost };
    return () => all;
  }
  return (subject) => {
    const hit = ctx.locks.match(subject);
    return hit ? { error: lockedError(hit), hit } : undefined;
  };
}
