// Stage 6 — record the request: nothing is forwarded until its request event is durable (in Redis
// or the local spool). A journal that cannot accept it refuses the request: fail closed. Checks the
// guard left running (verdict.admitted, e.g. a shared rate limit) finish alongside: both must pass,
// and their round trips overlap instead of adding up. A refused request is still on the record.
import type { Exchange } from '../exchange.js';
import type { SidecarContext } from '../context.js';
import type { Verdict } from '../ports/guard.js';

export async function recordRequest(x: Exchange, ctx: SidecarContext, verdict: Verdict): Promise<void> {
  if (verdict.admitted) await Promise.all([ctx.journal.request(x), verdict.admitted]);
  else await ctx.journal.request(x);
}
