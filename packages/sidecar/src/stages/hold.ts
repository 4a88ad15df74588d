// Stage 5 — hold for approval: keep the skill's request open while a human decides. A streaming
// request gets 200 with SSE headers and keep-alives (Claude Code aborts after five silent minutes):
// Anthropic's `ping` events on the Claude API's routes, SSE comment lines (`: ping`) on the
// OpenAI-compatible one — whose clients hand any named event to the caller as if it were a chunk,
// and Anthropic's ping is no chat.completion.chunk. A non-streaming request is held silently on its
// TCP connection. Denial and expiry come back as GatewayErrors, which the error path renders as
// JSON or as an `event: error`. Each hold is counted by outcome, with its length
// (skillgate_sidecar_approvals_total, skillgate_sidecar_approval_hold_seconds).
import { GatewayError, SSE_HEADERS, codes, formatSse } from '@skillgate/wire';
import type { Exchange } from '../exchange.js';
import type { SidecarContext } from '../context.js';
import type { Verdict } from '../ports/guard.js';
import type { ApprovalOutcome } from '../metrics.js';

const PING = formatSse('ping', '{"type": "ping"}');
/** An SSE comment: every SSE parser skips it, so it keeps the connection alive and yields nothing. */
const COMMENT_PING = ': ping\n\n';

export async function holdForApproval(x: Exchange, ctx: SidecarContext, verdict: Verdict): Promise<void> {
  if (!verdict.approval) return;
  const ping = x.route.kind === 'openai_chat' ? COMMENT_PING : PING;
  const keepAlive = (): void => {
    if (!x.stream || x.res.destroyed) return;
    if (!x.res.headersSent) {
      x.res.writeHead(200, { ...SSE_HEADERS, 'x-skillgate-held': 'approval' });
      x.res.flushHeaders();
      x.sseOpen = true;
    }
    x.res.write(ping);
  };
  keepAlive();
  const heldAt = process.hrtime.bigint();
  const heldSeconds = (): number => Number((x.heldNs = process.hrtime.bigint() - heldAt)) / 1e9;
  try {
    await ctx.guard.hold(x, verdict.approval, keepAlive);
  } catch (err) {
    ctx.metrics.approvalDone(outcomeOf(x, err), heldSeconds());
    throw err;
  }
  ctx.metrics.approvalDone('approved', heldSeconds());
}

/** How a hold that did not release its request ended: the cut first (whatever error it surfaced as). */
function outcomeOf(x: Exchange, err: unknown): ApprovalOutcome {
  if (x.abort.aborted) return 'cancelled';
  if (err instanceof GatewayError && err.code === codes.approvalExpired) return 'expired';
  return 'denied';
}
