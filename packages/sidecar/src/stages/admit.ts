// Stage 3 — admit: assign the session, then refuse the request if the lock feed cannot be trusted
// (fail closed) or a lock matches the skill, its owner, pod, namespace, session or token: the rest of
// standing.ts's checks, which egress makes too.
import type { Exchange } from '../exchange.js';
import type { SidecarContext } from '../context.js';
import { lockRefusal } from '../standing.js';

export function admit(x: Exchange, ctx: SidecarContext): void {
  x.sessionId = ctx.journal.sessionFor(x);
  const tokenId = ctx.identity.tokenId();
  if (tokenId) x.tokenId = tokenId;
  const refused = lockRefusal(ctx, { identity: x.identity!, sessionId: x.sessionId, ...(tokenId ? { tokenId } : {}) });
  if (refused) {
    if (refused.hit) ctx.locks.count?.(refused.hit, 'requestsRefused');
    throw refused.error;
  }
}
