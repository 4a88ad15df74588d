// Stage 2 — read the request body, bounded, for routes whose body policy must see (Messages,
// count_tokens, batches, complete). Uploads are not read here: they stream through in `forward`.
// A body over the route's limit is refused before it is read (Content-Length) or as soon as it
// passes the limit (chunked), so memory never holds more than the limit. A body must be UTF-8 and
// one JSON object that names each member once per object: what policy and masking read is then
// what the Claude API reads.
import { isUtf8 } from 'node:buffer';
import { GatewayError, LIMITS, codes, isRecord, parseJson, readJsonText, type MessagesRequest } from '@skillgate/wire';
import type { Exchange } from '../exchange.js';
import type { SidecarContext } from '../context.js';
import { inspectableBatchBytes } from '../config.js';
import { wantBody } from '../continue.js';

export function bodyLimit(x: Exchange, ctx: SidecarContext): number {
  const { limits } = ctx.config;
  switch (x.route.kind) {
    case 'batch_create': return limits.batchBodyBytes;
    case 'file_upload': case 'files': case 'skill_upload': case 'skills': return limits.fileBodyBytes;
    default: return limits.messagesBodyBytes;
  }
}

export function tooLarge(limit: number, kind?: Exchange['route']['kind']): GatewayError {
  // The default batch limit under the API's own is this sidecar's memory speaking (inspectableBatchBytes);
  // one an operator set says nothing about memory.
  const why = kind === 'batch_create' && limit < LIMITS.batches && limit === inspectableBatchBytes()
    ? ' (skillgate inspects every request of a batch, and this sidecar\'s memory limit allows batches up to that size: split the batch, or raise the sidecar\'s memory limit — injection.sidecarResources in the chart)'
    : '';
  return new GatewayError(codes.bodyTooLarge, 'request_too_large',
    `Request body exceeds the ${formatBytes(limit)} limit for this endpoint${why}; send a smaller request.`);
}

export async function readBody(x: Exchange, ctx: SidecarContext): Promise<void> {
  if (x.route.body !== 'inspect') return;
  const limit = bodyLimit(x, ctx);
  const declared = Number(x.req.headers['content-length'] ?? NaN);
  if (declared > limit) throw tooLarge(limit, x.route.kind);
  wantBody(x);

  const body = await collect(x, limit);
  x.readAt = process.hrtime.bigint();
  const size = body.length;
  x.body = body;
  x.bytesIn = size;
  if (size === 0) {
    // A batch's cancel is a POST with nothing in it; a request to Claude without a body is not one.
    if (x.route.kind === 'batch') return;
    throw new GatewayError(codes.badRequest, 'invalid_request_error', 'Request body is empty; it must be a JSON object.');
  }

  // Decoding would turn bytes that are not UTF-8 into U+FFFD, so policy and masking would judge
  // other text than the bytes forwarded (a decoder that drops them would read "sal\xFFary" as salary).
  if (!isUtf8(body)) {
    throw new GatewayError(codes.badRequest, 'invalid_request_error',
      'Request body is not valid UTF-8; skillgate inspects every request and cannot forward bytes it cannot read as text. Send the JSON as UTF-8.');
  }
  const text = body.toString('utf8');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new GatewayError(codes.badRequest, 'invalid_request_error',
      `Request body is not valid JSON (${(err as Error).message}); skillgate inspects every request and cannot forward it.`);
  }
  if (!isRecord(parsed)) {
    throw new GatewayError(codes.badRequest, 'invalid_request_error', 'Request body must be a JSON object.');
  }
  // Policy, masking and the record read the last of a repeated member (JSON.parse's choice); the
  // Claude API might read the first, so such a body is refused rather than forwarded.
  const { repeatedMember: repeated, longNumber } = readJsonText(text);
  if (repeated !== undefined) {
    throw new GatewayError(codes.badRequest, 'invalid_request_error',
      `Request body names the member ${JSON.stringify(repeated.slice(0, 64))} twice in one object; skillgate cannot know which one the Claude API would read, so it does not forward the request. Send each member once.`);
  }
  // A number of more than 15 digits (a card number a tool input writes as a number, an id) is read
  // as its text, so masking sees every digit and a rewritten body carries them (parseJson).
  x.request = (longNumber ? parseJson(text, true) : parsed) as MessagesRequest;
  if (typeof parsed.model === 'string') x.model = parsed.model;
  x.stream = parsed.stream === true;
}

/** Read the whole body (listeners, not an async iterator: this runs on every request). */
function collect(x: Exchange, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limit) {
        x.req.off('data', onData);
        x.req.resume();
        reject(tooLarge(limit, x.route.kind));
        return;
      }
      chunks.push(chunk);
    };
    x.req.on('data', onData);
    x.req.once('end', () => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size)));
    x.req.once('error', reject);
    x.req.once('close', () => {
      if (!x.req.complete) reject(new GatewayError(codes.clientGone, 'api_error', 'the skill closed the connection while sending its request'));
    });
  });
}

function formatBytes(n: number): string {
  return n >= 1024 * 1024 ? `${Math.round(n / 1024 / 1024)} MB` : `${Math.round(n / 1024)} KB`;
}
