// The record write path as it was before the serialise-once change (2026-11-25), frozen here so the
// micro-benchmark can run it side by side with the current one in the same process: the recursive
// canonical JSON, sealing by object spreads, and the Redis store's re-stringifying of each event
// and its identity. Benchmark-only; never imported by the product.
import { createHash } from 'node:crypto';

export function canonicalJsonV0(value) {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError(`canonical JSON cannot hold the number ${value}`);
      return JSON.stringify(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'object': {
      if (value === null) return 'null';
      if (Array.isArray(value)) return `[${value.map((v) => canonicalJsonV0(v === undefined ? null : v)).join(',')}]`;
      const keys = Object.keys(value).filter((k) => value[k] !== undefined).sort();
      let out = '{';
      for (let i = 0; i < keys.length; i++) {
        const k = keys[i];
        if (i > 0) out += ',';
        out += `${JSON.stringify(k)}:${canonicalJsonV0(value[k])}`;
      }
      return `${out}}`;
    }
    default:
      throw new TypeError(`canonical JSON cannot hold a ${typeof value}`);
  }
}

const sha256Hex = (s) => createHash('sha256').update(s).digest('hex');
const GENESIS = '0'.repeat(64);

export function sealEventV0(draft, head, now = new Date()) {
  const seq = head ? head.seq + 1 : 0;
  const prev = head ? head.hash : GENESIS;
  const data = draft.kind === 'session_close' ? { ...draft.data, head: prev, events: seq } : draft.data;
  const unsealed = { v: 1, kind: draft.kind, sessionId: draft.sessionId, seq, ts: draft.ts ?? now.toISOString(), identity: draft.identity, requestId: draft.requestId, data, prev };
  if (unsealed.requestId === undefined) delete unsealed.requestId;
  const hash = sha256Hex(canonicalJsonV0({ ...unsealed, hash: undefined }));
  return { ...unsealed, hash };
}

/** What RedisSessionStore.append built per event before: its argument strings. */
export function redisArgsV0(e) {
  return ['e', e.sessionId, String(e.seq), String(Date.parse(e.ts)), e.kind === 'session_close' ? '1' : '0', JSON.stringify(e), JSON.stringify(e.identity), e.hash];
}

const CREDENTIAL_HEADERS = new Set(['x-api-key', 'authorization', 'proxy-authorization', 'cookie', 'set-cookie']);
const TOKENISH = /(^|-)(token|secret|password|api-key|apikey|auth)($|-)/;

export function recordHeadersV0(headers) {
  const out = {};
  for (const [rawName, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    const name = rawName.toLowerCase();
    if (CREDENTIAL_HEADERS.has(name) || TOKENISH.test(name)) continue;
    out[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

/** requestData as it was (members in the order the first version wrote them). */
export function requestDataV0(input) {
  const q = input.url.indexOf('?');
  const out = { method: input.method, path: q === -1 ? input.url : input.url.slice(0, q), headers: recordHeadersV0(input.headers), bodySha256: sha256Hex(input.forwarded), bodyBytes: input.forwarded.length };
  if (q !== -1) out.query = input.url.slice(q + 1);
  if (input.model !== undefined) out.model = input.model;
  if (input.stream !== undefined) out.stream = input.stream;
  if (input.maskedBody !== undefined) out.body = input.maskedBody; // scrubbing: no token in the bench body
  if (input.findings && input.findings.length > 0) out.findings = input.findings;
  if (input.sessionSource) out.sessionSource = input.sessionSource;
  return out;
}
