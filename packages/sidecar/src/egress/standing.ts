// Whether the skill may reach anything at all right now, asked before any egress destination is
// looked at (proxy connections and DNS names alike): the skill's standing (../standing.ts), the very
// checks, order and errors of the Claude path's identify and admit stages — a valid, unrevoked
// workload token, a lock set the sidecar can vouch for, and no lock on the skill, its owner, pod,
// namespace or token. A locked or offboarded skill must not keep a way out through allowlisted hosts.
// Egress belongs to no Claude session, so session locks do not apply here. Runs only for egress,
// never on the Claude path.
import type { GatewayError } from '@skillgate/wire';
import type { SidecarContext } from '../context.js';
import type { LockHit, LockSubject } from '../ports/index.js';
import { standingRefusal } from '../standing.js';

export interface EgressStanding {
  /** What a lock sweep matches this connection against, as long as it stays open. */
  subject: LockSubject;
  /** Why the skill may reach nothing now (undefined: it may, within its allowlist). */
  refusal?: GatewayError;
  /** The lock behind the refusal, when a lock is. */
  hit?: LockHit;
}

export function egressStanding(ctx: SidecarContext): EgressStanding {
  const tokenId = ctx.identity.tokenId();
  const subject: LockSubject = { identity: ctx.identity.identity(), sessionId: '', ...(tokenId ? { tokenId } : {}) };
  const refused = standingRefusal(ctx, subject);
  return refused ? { subject, refusal: refused.error, hit: refused.hit } : { subject };
}

/** Count a refusal as the Claude path counts its own (by code; a lock's SkillLock status too). */
export function countRefusal(ctx: SidecarContext, standing: EgressStanding): void {
  if (!standing.refusal) return;
  ctx.metrics.refusals.labels(standing.refusal.code).inc();
  if (standing.hit) ctx.locks.count?.(standing.hit, 'requestsRefused');
}

/** The journaled reason for a refusal: its message and stable code. */
export const refusalReason = (err: GatewayError): string => `${err.message} [${err.code}]`;
