// Stage 6 — record the request: nothing is forwarded until its request event is durable (in Redis
// or the local spool). A journal that cannot accept it refuses the request: fail closed.
import type { Exchange } from '../exchange.js';
import type { SidecarContext } from '../context.js';

export async function recordRequest(x: Exchange, ctx: SidecarContext): Promise<void> {
  await ctx.journal.request(x);
}
