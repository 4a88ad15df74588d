// Stage 5 — hold for approval: keep the skill's request open while a human decides. A streaming
// request gets 200 with SSE headers and `ping` events as keep-alive (Claude Code aborts after five
// silent minutes); a non-streaming one is held silently on its TCP connection. Denial and expiry
// come back as GatewayErrors, which the error path renders as JSON or as an `event: error`.
import { SSE_HEADERS, formatSse } from '@skillgate/wire';
import type { Exchange } from '../exchange.js';
import type { SidecarContext } from '../context.js';
import type { Verdict } from '../ports/guard.js';

const PING = formatSse('ping', '{"type": "ping"}');

export async function holdForApproval(x: Exchange, ctx: SidecarContext, verdict: Verdict): Promise<void> {
  if (!verdict.approval) return;
  const keepAlive = (): void => {
    if (!x.stream || x.res.destroyed) return;
    if (!x.res.headersSent) {
      x.res.writeHead(200, { ...SSE_HEADERS, 'x-skillgate-held': 'approval' });
      x.res.flushHeaders();
      x.sseOpen = true;
    }
    x.res.write(PING);
  };
  keepAlive();
  await ctx.guard.hold(x, verdict.approval, keepAlive);
}
