// Stage 4 — inspect: evaluate the request against the skill's policy and masking settings. The
// guard denies by throwing; otherwise its verdict (approval needed, body rewrite, response filter)
// is carried forward unchanged.
import type { Exchange } from '../exchange.js';
import type { SidecarContext } from '../context.js';
import type { Verdict } from '../ports/guard.js';

export async function inspect(x: Exchange, ctx: SidecarContext): Promise<Verdict> {
  const verdict = await ctx.guard.inspect(x);
  if (verdict.upstreamBody) x.upstreamBody = verdict.upstreamBody;
  return verdict;
}
