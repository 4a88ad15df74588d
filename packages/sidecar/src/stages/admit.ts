// Stage 3 — admit: assign the session, then refuse the request if a lock matches the skill, its
// owner, pod, namespace, session or token, or if the lock feed cannot be trusted (fail closed).
import { GatewayError, codes } from '@skillgate/wire';
import type { Exchange } from '../exchange.js';
import type { SidecarContext } from '../context.js';
import type { LockHit } from '../ports/index.js';

export function lockedError(hit: LockHit): GatewayError {
  return new GatewayError(codes.locked, 'permission_error',
    `This skill is locked by SkillLock "${hit.lockName}": ${hit.reason}. Ask a responder to review it (skillgate lock list).`);
}

export function admit(x: Exchange, ctx: SidecarContext): void {
  x.sessionId = ctx.journal.sessionFor(x);
  const refusal = ctx.locks.refusal();
  if (refusal) throw refusal;
  const tokenId = ctx.identity.tokenId();
  if (tokenId) x.tokenId = tokenId;
  const hit = ctx.locks.match({ identity: x.identity!, sessionId: x.sessionId, ...(tokenId ? { tokenId } : {}) });
  if (hit) {
    ctx.locks.count?.(hit, 'requestsRefused');
    throw lockedError(hit);
  }
}
