// The sidecar's request path, as a sequence of named stages:
//
//   check path → identify → read body → admit (session, locks) → inspect (policy, masking) → hold for approval
//            → record request (the upstream request is built meanwhile, not sent) → forward → stream back
//
// Each stage is a module with one job and only adds to the Exchange. Any stage may refuse by
// throwing a GatewayError; `refuse` renders it in Anthropic's shape: a JSON error before the
// response has started, an `event: error` inside an open stream. The journal hears how every
// exchange ended, whatever happened.
import { GatewayError, codes, formatSse, toGatewayError } from '@skillgate/wire';
import type { Exchange } from './exchange.js';
import type { SidecarContext } from './context.js';
import type { Refusal } from './ports/index.js';
import { loggedError } from './log.js';
import { bodyNeverAsked } from './continue.js';
import { checkPath } from './stages/check-path.js';
import { identify } from './stages/identify.js';
import { readBody } from './stages/read-body.js';
import { admit } from './stages/admit.js';
import { inspect } from './stages/inspect.js';
import { holdForApproval } from './stages/hold.js';
import { recordRequest } from './stages/record-request.js';
import { prepareForward, type PreparedForward } from './stages/forward.js';
import { respond } from './stages/respond.js';

export async function runPipeline(x: Exchange, ctx: SidecarContext): Promise<void> {
  let leaveLive: (() => void) | undefined;
  x.res.on('close', () => {
    if (!x.res.writableFinished) {
      x.outcome ??= 'client_aborted';
      x.abort.abort(new GatewayError(codes.clientGone, 'api_error', 'the skill closed the connection'));
    }
  });
  try {
    checkPath(x);
    identify(x, ctx);
    await readBody(x, ctx);
    quietSocketAllowed(x, ctx, true);
    admit(x, ctx);
    leaveLive = ctx.live.add({
      subject: { identity: x.identity!, sessionId: x.sessionId!, ...(x.tokenId ? { tokenId: x.tokenId } : {}) },
      kill: (refusal) => kill(x, ctx, refusal),
    });
    const inspected = inspect(x, ctx);
    const verdict = inspected instanceof Promise ? await inspected : inspected;
    if (verdict.approval) await holdForApproval(x, ctx, verdict);
    const upstream = await prepareWhileRecording(recordRequest(x, ctx, verdict), () => prepareForward(x, ctx));
    const upstreamRes = await upstream.send();
    await respond(x, ctx, upstreamRes, verdict);
  } catch (err) {
    refuse(x, ctx, toGatewayError(err, x.upstreamStartedAt !== undefined));
  } finally {
    quietSocketAllowed(x, ctx, false);
    leaveLive?.();
    const status = x.res.headersSent ? x.res.statusCode : (x.upstreamStatus ?? 0);
    // The model becomes a label of its own only once the upstream answered it 2xx (a held stream was
    // answered 200 before the upstream was asked: its upstream status decides).
    ctx.metrics.requestDone(x.route.kind, status, x.model ?? '', x.bytesIn, x.bytesOut, x.upstreamStatus ?? 0);
    if (x.outcome && x.outcome !== 'complete') ctx.metrics.streamEnds.labels(x.outcome).inc();
    ctx.journal.end(x);
  }
}

/**
 * Build the upstream request while the request event travels to the record, so that work overlaps
 * the round trip instead of following it. The record's write goes out in the microtasks after
 * `recorded` starts and `setImmediate` runs after them; a journal that answers at once (no round
 * trip) wins the race and the request is built then. Nothing is sent here; if recording fails the
 * built request is dropped.
 */
function prepareWhileRecording(recorded: Promise<void>, prepare: () => PreparedForward): Promise<PreparedForward> {
  return new Promise<PreparedForward>((resolve, reject) => {
    let prepared: PreparedForward | undefined;
    let settled = false;
    const build = (): PreparedForward => (prepared ??= prepare());
    setImmediate(() => {
      if (settled) return;
      try {
        build();
      } catch (err) {
        settled = true;
        reject(err as Error);
      }
    });
    recorded.then(() => {
      if (settled) return;
      settled = true;
      try {
        resolve(build());
      } catch (err) {
        reject(err as Error);
      }
    }, (err: unknown) => {
      if (settled) return;
      settled = true;
      prepared?.cancel();
      reject(err as Error);
    });
  });
}

/**
 * The skill's connection may be silent for as long as its exchange needs once the request is read:
 * while it waits for the Claude API's answer or for a human's approval, the server's idle timeout
 * (limits.idleTimeoutMs, for connections between requests and slow senders) would otherwise cut it
 * with no answer. The upstream side has its own timeouts. A streamed upload is still being read, so
 * its connection keeps the idle timeout.
 */
function quietSocketAllowed(x: Exchange, ctx: SidecarContext, allowed: boolean): void {
  const socket = x.req.socket;
  if (x.route.body === 'stream' || socket.destroyed) return;
  socket.setTimeout(allowed ? 0 : ctx.config.limits.idleTimeoutMs);
}

/** Answer the skill with skillgate's own error, in whatever form the response can still take. */
export function refuse(x: Exchange, ctx: SidecarContext, err: GatewayError): void {
  if (x.res.writableEnded || x.res.destroyed) return;
  if (x.outcome === undefined || x.outcome === 'complete') {
    x.outcome = 'refused';
    x.outcomeReason = err.code;
  }
  ctx.metrics.refusals.labels(err.code).inc();
  x.refusal = { status: err.status, code: err.code, type: err.type, message: err.message };
  if (err.code === codes.internal) ctx.log.error({ requestId: x.id, err: loggedError(err.cause, ctx.journal.maskText) }, 'internal error');
  const body = err.body(x.id);
  if (!x.res.headersSent) {
    const payload = JSON.stringify(body);
    x.res.writeHead(err.status, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(payload),
      'request-id': x.id,
      'x-skillgate-error': err.code,
      ...err.headers,
      // Refused on its head: the body it announced will not come (continue.ts).
      ...(bodyNeverAsked(x) ? { connection: 'close' } : {}),
    });
    x.res.end(payload);
  } else if (x.sseOpen) {
    x.res.end(formatSse('error', body));
  } else {
    x.res.destroy();
  }
  // Drain an unread request body so a keep-alive connection stays usable.
  if (!x.req.complete) x.req.resume();
}

/**
 * A lock hit this live exchange, or the skill lost its standing (token refused, revoked or expired,
 * lock feed lost): tell the skill why, cut the upstream, close.
 */
function kill(x: Exchange, ctx: SidecarContext, { error, hit }: Refusal): void {
  x.outcome = 'killed';
  x.outcomeReason = hit ? `SkillLock ${hit.lockName}` : error.code;
  if (hit) ctx.locks.count?.(hit, 'streamsKilled');
  refuse(x, ctx, error);
  x.abort.abort(error);
}
