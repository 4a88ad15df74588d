// Stage 1 — identify the skill: who is calling, and may it act at all (a valid, unrevoked workload
// token when tokens are in use). Never looks at the body.
import type { Exchange } from '../exchange.js';
import type { SidecarContext } from '../context.js';

export function identify(x: Exchange, ctx: SidecarContext): void {
  x.identity = ctx.identity.identity();
  const refusal = ctx.identity.refusal();
  if (refusal) throw refusal;
}
