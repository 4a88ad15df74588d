// Which request and response headers a gateway must drop, replace or keep. Credentials the skill
// sends are never forwarded or logged; hop-by-hop headers are per connection (RFC 9110 §7.6.1).
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';

/** Headers that carry a credential: dropped on the way in, redacted in any record or log. */
export const CREDENTIAL_HEADERS = new Set(['x-api-key', 'authorization', 'proxy-authorization', 'cookie', 'set-cookie']);

export const HOP_BY_HOP = new Set([
  'connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade',
]);

/**
 * Request headers a gateway that inspects bodies does not pass on. `accept-encoding`: asked for
 * compression, the upstream would send bytes the record, masking and the batch rewrite cannot read
 * (the hop to the skill is loopback, where compression buys nothing), so the sidecar asks for
 * identity encoding instead (upstreamRequestHeaders: a request without the header leaves the
 * server free to choose any coding, RFC 9110 §12.5.3). `expect`: Node's server answers a skill's
 * 100-continue itself; sent upstream, it makes Node's client write the request head as soon as a
 * connection is assigned, before the request's record is durable.
 */
export const NOT_FORWARDED = new Set(['accept-encoding', 'expect']);

/**
 * Request headers whose syntax the Claude API parses (versions, beta names, media types, lengths):
 * a masking mode that rewrites what goes upstream leaves their values alone, as it does a body's ids
 * and model names. Every other forwarded header's value is the skill's to fill (accept-encoding is
 * not forwarded: NOT_FORWARDED).
 */
export const PROTOCOL_HEADERS = new Set(['anthropic-version', 'anthropic-beta', 'content-type', 'content-length', 'accept']);

/**
 * Whether a request header (its lower-case name) is one a gateway passes upstream at all: not a
 * credential, hop-by-hop, `host` or NOT_FORWARDED (upstreamRequestHeaders also drops what the
 * request's Connection header lists).
 */
export function forwardsHeader(name: string): boolean {
  return !CREDENTIAL_HEADERS.has(name) && !HOP_BY_HOP.has(name) && !NOT_FORWARDED.has(name) && name !== 'host';
}

/**
 * Request headers to send upstream: the client's, minus credentials, hop-by-hop headers, host and
 * NOT_FORWARDED, plus the upstream credential and `accept-encoding: identity`. `anthropic-beta` and
 * X-Stainless-* pass verbatim; a header sent twice goes as one line, its values joined by ", " as
 * Node reads them (RFC 9110 §5.3: the same list to any HTTP reader, which is how the API reads a
 * repeated anthropic-beta).
 */
export function upstreamRequestHeaders(
  incoming: IncomingHttpHeaders,
  credential: { apiKey?: string; bearer?: string },
): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  const connectionListed = listedInConnection(incoming.connection);
  for (const [name, value] of Object.entries(incoming)) {
    if (value === undefined) continue;
    if (!forwardsHeader(name) || connectionListed.has(name)) continue;
    out[name] = value;
  }
  out['accept-encoding'] = 'identity';
  if (credential.apiKey) out['x-api-key'] = credential.apiKey;
  if (credential.bearer) out['authorization'] = `Bearer ${credential.bearer}`;
  return out;
}

/** Response headers to send back to the skill: the upstream's, minus hop-by-hop. */
export function clientResponseHeaders(incoming: IncomingHttpHeaders): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  const connectionListed = listedInConnection(incoming.connection);
  for (const [name, value] of Object.entries(incoming)) {
    if (value === undefined || HOP_BY_HOP.has(name) || connectionListed.has(name)) continue;
    out[name] = value;
  }
  return out;
}

/** Headers safe to put in a record or a log line: credentials replaced by a marker. */
export function recordableHeaders(headers: IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    out[name] = CREDENTIAL_HEADERS.has(name) ? '[credential removed]' : Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

function listedInConnection(value: string | string[] | undefined): Set<string> {
  if (!value) return new Set();
  const s = Array.isArray(value) ? value.join(',') : value;
  return new Set(s.split(',').map((t) => t.trim().toLowerCase()).filter(Boolean));
}
