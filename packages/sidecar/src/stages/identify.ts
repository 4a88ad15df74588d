// Stage 1 — identify the skill: who is calling, and may it act at all (standing.ts: its workload
// identity, the first of the checks every way out makes). Never looks at the body.
import type { Exchange } from '../exchange.js';
import type { SidecarContext } from '../context.js';
import { identityRefusal } from '../standing.js';

export function identify(x: Exchange, ctx: SidecarContext): void {
  x.identity = ctx.identity.identity();
  const refusal = identityRefusal(ctx);
  if (refusal) throw refusal;
}
