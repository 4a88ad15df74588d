// A skill's standing: whether it may act at all right now. It may when its workload token is valid
// and unrevoked (when tokens are in use), the sidecar can vouch for the lock set (the lock feed is
// not lost), and no lock matches the skill, its owner, pod, namespace, session or token: asked in
// that order, each refusal with its one error. Every way out of the pod asks here, so the order and
// the errors cannot drift between them: the Claude path in two steps around reading the body
// (identify asks identityRefusal before a byte of it; admit asks lockRefusal once the session is
// known), egress (proxy connections, DNS names) all at once with standingRefusal. Runs on every
// Claude request: it allocates nothing when the skill may act, and never counts or logs (each
// caller does, in its own terms).
import { GatewayError, codes } from '@skillgate/wire';
import type { SidecarContext } from './context.js';
import type { LockHit, LockSubject } from './ports/index.js';

/** Why the skill may not act: the error to answer with, and the lock behind it when a lock is. */
export interface Refusal {
  error: GatewayError;
  hit?: LockHit;
}

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
