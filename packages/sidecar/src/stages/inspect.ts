// Stage 4 — inspect: evaluate the request against the skill's policy and masking settings. The
// guard denies by throwing; otherwise its verdict (approval needed, rewrites of the body, headers
// and query string, response filter) is carried forward unchanged.
import type { Exchange } from '../exchange.js';
import type { SidecarContext } from '../context.js';
import type { Verdict } from '../ports/guard.js';

export function inspect(x: Exchange, ctx: SidecarContext): Verdict | Promise<Verdict> {
  const verdict = ctx.guard.inspect(x);
  // Most guards answer synchronously; awaiting only real promises keeps the hot path allocation-free.
  return verdict instanceof Promise ? verdict.then((v) => adopt(x, v)) : adopt(x, verdict);
}

function adopt(x: Exchange, verdict: Verdict): Verdict {
  if (verdict.upstreamBody) x.upstreamBody = verdict.upstreamBody;
  if (verdict.upstreamHeaders) x.upstreamHeaders = verdict.upstreamHeaders;
  if (verdict.upstreamUrl) x.upstreamUrl = verdict.upstreamUrl;
  if (verdict.uploadFilter) x.uploadFilter = verdict.uploadFilter;
  return verdict;
}
