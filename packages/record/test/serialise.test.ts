// The record's write path serialises each event once: canonicalJson (optimised) must give the bytes
// the first implementation gave, sealEventJson's stored text must be exactly the canonical JSON of
// the sealed event and its hash the hash of that without `hash`, and events sealed before this
// change must still verify.
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { canonicalJson } from '../src/canonical.js';
import { eventHash, headOf, sealEvent, sealEventJson, verifySession, type ChainHead } from '../src/chain.js';
import { pathShape, recordHeaders, recordedDestination, requestData, sha256Hex, type EventDraft, type SessionEvent } from '../src/event.js';
import { entryLine } from '../src/store.js';
import { referenceCanonicalJson } from './canonical-reference.js';
import { identity } from './support.js';

// Strings of arbitrary UTF-16 code units: lone surrogates, controls, quotes, backslashes, non-ASCII.
const anyUnits = fc.string({ unit: fc.nat(0xffff).map((c) => String.fromCharCode(c)), maxLength: 24 });
const someText = fc.oneof(fc.string({ maxLength: 24 }), fc.string({ unit: 'binary', maxLength: 24 }), anyUnits);
const key = fc.oneof(someText, fc.constantFrom('10', '2', '-1', '1.5', '__proto__', 'a', 'B', 'é', '😀', '', 'ﬀ', '\u007f'));
const num = fc.oneof(
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.integer(),
  fc.constantFrom(0, -0, 1e21, 1e-7, 5e-324, Number.MAX_VALUE, Number.MIN_SAFE_INTEGER, 0.1 + 0.2, 123456789012345680000),
);
const { json: jsonish } = fc.letrec((tie) => ({
  json: fc.oneof({ depthSize: 'small' }, fc.constant(null), fc.boolean(), num, someText, tie('array'), tie('object')),
  array: fc.array(fc.oneof(tie('json'), fc.constant(undefined)), { maxLength: 6 }),
  object: fc.dictionary(key, fc.oneof(tie('json'), fc.constant(undefined)), { maxKeys: 8 }),
}));

describe('canonical JSON (optimised)', () => {
  it('gives exactly the bytes of the first implementation for any JSON value', () => {
    fc.assert(fc.property(jsonish, (v) => {
      expect(canonicalJson(v)).toBe(referenceCanonicalJson(v));
    }), { numRuns: 2000 });
  });

  it('gives exactly the bytes of the first implementation for fast-check\'s own JSON values', () => {
    fc.assert(fc.property(fc.jsonValue(), (v) => {
      expect(canonicalJson(v)).toBe(referenceCanonicalJson(v));
    }), { numRuns: 1000 });
  });

  it('keeps RFC 8785 on the cases that matter: key order by UTF-16 units, numbers, escapes', () => {
    // '\u20ac' (€) sorts before '\ud83d\ude00' (😀) by UTF-16 units, though after it by code point.
    expect(canonicalJson({ '😀': 1, '€': 2, '10': 3, '2': 4, b: [1e21, 1e-7, -0, 0.000001], a: 'q"\\\n\u001f\ud800' }))
      .toBe('{"10":3,"2":4,"a":"q\\"\\\\\\n\\u001f\\ud800","b":[1e+21,1e-7,0,0.000001],"€":2,"😀":1}');
    expect(() => canonicalJson([Number.POSITIVE_INFINITY])).toThrow(/Infinity/);
    expect(() => canonicalJson({ f: () => 1 })).toThrow(/function/);
    expect(() => canonicalJson({ n: 1n })).toThrow(/bigint/);
  });

  it('writes objects that are not plain data the way the first implementation did', () => {
    class Finding { constructor(readonly type: string, readonly start: number) {} }
    const withToJson = Object.assign([1, 2], { toJSON: () => 'not me' });
    const nullProto = Object.assign(Object.create(null) as Record<string, unknown>, { b: 1, a: [new Date(0)] });
    for (const v of [new Date(0), new Finding('EMAIL', 3), { f: new Finding('X', 1) }, withToJson, { list: withToJson }, nullProto, { s: Object('boxed') as unknown }, { toJSON: 'inert' }]) {
      expect(canonicalJson(v)).toBe(referenceCanonicalJson(v));
    }
    expect(() => canonicalJson({ toJSON: () => 1 })).toThrow(/function/);
  });

  it('serialises objects already in canonical order without changing a byte', () => {
    fc.assert(fc.property(jsonish, (v) => {
      const sortedDeep = (x: unknown): unknown => {
        if (Array.isArray(x)) return x.map(sortedDeep);
        if (x && typeof x === 'object') {
          const out: Record<string, unknown> = {};
          for (const k of Object.keys(x).sort()) if (k !== '__proto__') out[k] = sortedDeep((x as Record<string, unknown>)[k]);
          return out;
        }
        return x;
      };
      const sorted = sortedDeep(v);
      expect(canonicalJson(sorted)).toBe(referenceCanonicalJson(sorted));
    }), { numRuns: 1000 });
  });

  it('quotes many distinct keys correctly past its key cache bound', () => {
    for (let round = 0; round < 3; round++) {
      const obj: Record<string, number> = {};
      for (let i = 0; i < 5000; i++) obj[`k"${round}\\${i}`] = i;
      expect(canonicalJson(obj)).toBe(referenceCanonicalJson(obj));
    }
  });
});

const identityArb = fc.record({
  namespace: someText, serviceAccount: someText, pod: someText, skill: someText, owner: someText,
}, { requiredKeys: ['namespace', 'serviceAccount', 'pod', 'skill', 'owner'] })
  .chain((id) => fc.option(someText, { nil: undefined }).map((podUid) => (podUid === undefined ? id : { ...id, podUid })));
const draftArb = fc.record({
  kind: fc.constantFrom('request', 'response', 'stream_event', 'egress', 'decision', 'session_close'),
  sessionId: someText,
  identity: identityArb,
  requestId: fc.option(someText, { nil: undefined }),
  ts: fc.option(fc.date({ noInvalidDate: true, min: new Date(0), max: new Date(4e12) }).map((d) => d.toISOString()), { nil: undefined }),
  data: fc.dictionary(key, jsonish, { maxKeys: 8 }),
}).map((d) => {
  const draft = { ...d } as Record<string, unknown>;
  if (d.requestId === undefined) delete draft.requestId;
  if (d.ts === undefined) delete draft.ts;
  return draft as unknown as EventDraft;
});
const headArb = fc.option(fc.record({ seq: fc.nat(1e9), hash: fc.stringMatching(/^[0-9a-f]{64}$/), closed: fc.constant(false) }), { nil: undefined });

/** The sealing of the first implementation, on the reference canonical JSON. */
function referenceSeal(draft: EventDraft, head: ChainHead | undefined, now: Date): SessionEvent {
  const seq = head ? head.seq + 1 : 0;
  const prev = head ? head.hash : '0'.repeat(64);
  const data = draft.kind === 'session_close' ? { ...draft.data, head: prev, events: seq } : draft.data;
  const unsealed: Record<string, unknown> = { v: 1, kind: draft.kind, sessionId: draft.sessionId, seq, ts: draft.ts ?? now.toISOString(), identity: draft.identity, requestId: draft.requestId, data, prev };
  if (unsealed.requestId === undefined) delete unsealed.requestId;
  const hash = sha256Hex(referenceCanonicalJson({ ...unsealed, hash: undefined }));
  return { ...unsealed, hash } as SessionEvent;
}

describe('sealing an event with its stored text', () => {
  it('hashes what the first implementation hashed, and stores exactly the canonical JSON of the sealed event', () => {
    fc.assert(fc.property(draftArb, headArb, (draft, head) => {
      const now = new Date(1_764_072_000_000);
      const { event, json } = sealEventJson(draft, head, now);
      const reference = referenceSeal(draft, head, now);
      expect(event).toEqual(reference);
      expect(event.hash).toBe(reference.hash);
      expect(json).toBe(referenceCanonicalJson(reference));
      expect(eventHash(JSON.parse(json) as SessionEvent)).toBe(event.hash);
    }), { numRuns: 1000 });
  });

  it('notices an identity changed in place or replaced between events', () => {
    const id = { ...identity };
    const egress = (ident: typeof identity, head?: ChainHead) => {
      const sealed = sealEventJson({ kind: 'egress', sessionId: 'ses_id', identity: ident, data: { destination: 'a:1', method: 'GET', allowed: true } }, head);
      // Checked at once: the sealed event shares the draft's identity object, changed below.
      expect(sealed.json).toBe(referenceCanonicalJson(sealed.event));
      return sealed;
    };
    const first = egress(id);
    id.owner = 'someone-else@example.com';
    const second = egress(id, headOf(first.event));
    expect((JSON.parse(second.json) as SessionEvent).identity.owner).toBe('someone-else@example.com');
    const third = egress({ ...identity, podUid: 'u1' }, headOf(second.event));
    const fourth = egress({ ...identity }, headOf(third.event));
    expect((JSON.parse(fourth.json) as SessionEvent).identity).toEqual(identity);
    expect(verifySession('ses_id', [first, second, third, fourth].map((s) => JSON.parse(s.json) as SessionEvent))).toBeUndefined();
  });

  it('spools an event entry as the same line JSON.stringify gave, without the cached text', () => {
    const { event, json } = sealEventJson({ kind: 'egress', sessionId: 'ses_line', identity, data: { destination: 'a:1', method: 'GET', allowed: true } }, undefined);
    const line = entryLine({ type: 'event', event, json });
    expect(JSON.parse(line)).toEqual(JSON.parse(JSON.stringify({ type: 'event', event })));
    expect(line).not.toContain('"json"');
  });
});

describe('events sealed by the first implementation', () => {
  const fixture = readFileSync(new URL('../../test/fixtures/v0-session.jsonl', import.meta.url), 'utf8');
  const events = fixture.trimEnd().split('\n').map((l) => JSON.parse(l) as SessionEvent);

  it('still verify, event by event and as a chain', () => {
    expect(events.map((e) => e.kind)).toEqual(['request', 'decision', 'response', 'stream_event', 'stream_end', 'egress', 'session_close']);
    for (const e of events) expect(eventHash(e)).toBe(e.hash);
    expect(verifySession('ses_v0_fixture', events)).toBeUndefined();
  });

  it('are sealed again to the same hashes from the same drafts', () => {
    let head: ChainHead | undefined;
    for (const e of events) {
      const { hash: _hash, seq: _seq, prev: _prev, v: _v, ...draft } = e;
      const resealed = sealEvent(draft as EventDraft, head);
      expect(resealed.hash).toBe(e.hash);
      head = headOf(resealed);
    }
  });
});

describe('request headers for the record', () => {
  it('drops credentials and secret-looking names whatever their case, the same on every call', () => {
    const headers = { 'X-Api-Key': 'sk-1', Authorization: 'Bearer t', 'x-goog-auth-token': 't', 'Content-Type': 'application/json', 'x-stainless-retry-count': '0', accept: ['a', 'b'], 'x-none': undefined };
    for (let i = 0; i < 3; i++) {
      expect(recordHeaders(headers)).toEqual({ 'content-type': 'application/json', 'x-stainless-retry-count': '0', accept: 'a, b' });
    }
  });

  it('masks every header value, "protocol" headers too, with their findings named by header; without a masker it records none of them', () => {
    const headers = { 'anthropic-version': '2023-06-01', 'X-Customer-Email': 'jane@example.com', 'x-ticket': 'T-1', 'user-agent': 'crm-bot for jane@example.com', 'content-length': '72', host: '127.0.0.1:8080' };
    const masked: string[] = [];
    const mask = (v: string) => {
      masked.push(v);
      const at = v.indexOf('jane@example.com');
      return at === -1 ? { masked: v, findings: [] }
        : { masked: v.replace('jane@example.com', '[EMAIL_ADDRESS]'), findings: [{ type: 'EMAIL_ADDRESS', start: at, end: at + 16, fingerprint: 'f'.repeat(64) }] };
    };
    const findings: Array<{ path?: string }> = [];
    expect(recordHeaders(headers, mask, findings as never)).toEqual({
      'anthropic-version': '2023-06-01', 'x-customer-email': '[EMAIL_ADDRESS]', 'x-ticket': 'T-1', 'user-agent': 'crm-bot for [EMAIL_ADDRESS]', 'content-length': '72', host: '127.0.0.1:8080',
    });
    expect(findings).toEqual([
      expect.objectContaining({ type: 'EMAIL_ADDRESS', path: 'headers.x-customer-email', start: 0, end: 16 }),
      expect.objectContaining({ type: 'EMAIL_ADDRESS', path: 'headers.user-agent', start: 12, end: 28 }),
    ]);
    // A short number and the sidecar's loopback address hold nothing: no masker call for them.
    expect(masked).toEqual(['2023-06-01', 'jane@example.com', 'T-1', 'crm-bot for jane@example.com']);
    expect(recordHeaders(headers, null)).toEqual({
      'anthropic-version': '[value not recorded]', 'x-customer-email': '[value not recorded]', 'x-ticket': '[value not recorded]', 'user-agent': '[value not recorded]', 'content-length': '72', host: '127.0.0.1:8080',
    });
    const data = requestData({ method: 'POST', url: '/v1/messages', headers, forwarded: Buffer.from('{}'), maskHeader: mask });
    expect(data.headers['x-customer-email']).toBe('[EMAIL_ADDRESS]');
    expect(data.findings).toEqual([expect.objectContaining({ path: 'headers.x-customer-email' }), expect.objectContaining({ path: 'headers.user-agent' })]);
  });

  it('masks a path the skill wrote segments of, read decoded; keeps the API\'s own paths without a masker call; without a masker keeps its shape', () => {
    const masked: string[] = [];
    const mask = (v: string) => {
      masked.push(v);
      const at = v.indexOf('4111-1111-1111-1111');
      return at === -1 ? { masked: v, findings: [] }
        : { masked: v.replace('4111-1111-1111-1111', '[CREDIT_CARD]'), findings: [{ type: 'CREDIT_CARD', start: at, end: at + 19, fingerprint: 'f'.repeat(64) }] };
    };
    const path = (url: string, m: typeof mask | null = mask) => requestData({ method: 'GET', url, headers: {}, forwarded: Buffer.alloc(0), maskHeader: m });
    expect(path('/v1/messages/batches?limit=2').path).toBe('/v1/messages/batches');
    expect(masked).toEqual(['limit=2']);
    const card = path('/v1/files/4111-1111-1111-1111/content');
    expect(card.path).toBe('/v1/files/[CREDIT_CARD]/content');
    expect(card.findings).toEqual([expect.objectContaining({ type: 'CREDIT_CARD', path: 'path', start: 10, end: 29 })]);
    expect(path('/v1/files/4111%2D1111-1111-1111').path).toBe('/v1/files/[CREDIT_CARD]');
    expect(path('/v1/files/4111-1111-1111-1111', null).path).toBe('/v1/files/[redacted]');
    expect(path('/v1/files/file_011CNha8iCJcU1wXNR6q4V8w', null).path).toBe('/v1/files/file_011CNha8iCJcU1wXNR6q4V8w');
  });

  it('gives a path its shape: the API\'s words and the ids it hands out kept, any other segment redacted', () => {
    expect(pathShape('/v1/messages')).toBe('/v1/messages');
    expect(pathShape('/v1/messages/batches/msgbatch_01HkcTjaV5uDC8jWR4ZsDV8d/results')).toBe('/v1/messages/batches/msgbatch_01HkcTjaV5uDC8jWR4ZsDV8d/results');
    expect(pathShape('/v1/models/claude-sonnet-4-5-20250929')).toBe('/v1/models/claude-sonnet-4-5-20250929');
    expect(pathShape('/v1/files/jane.doe@example.com/content')).toBe('/v1/files/[redacted]/content');
    expect(pathShape('/v1/skills/skill_01Ab/versions/1759178010641129')).toBe('/v1/skills/skill_01Ab/versions/[redacted]');
    expect(pathShape('/v1/files/ghp_x/content')).toBe('/v1/files/[redacted]/content');
  });

  it('masks every SDK header, and the query string read decoded', () => {
    const mask = (v: string) => {
      const at = v.indexOf('jane@example.com');
      return at === -1 ? { masked: v, findings: [] }
        : { masked: v.replace('jane@example.com', '[EMAIL_ADDRESS]'), findings: [{ type: 'EMAIL_ADDRESS', start: at, end: at + 16, fingerprint: 'f'.repeat(64) }] };
    };
    const headers = { 'x-stainless-os': 'Linux jane@example.com', 'x-stainless-note': 'jane@example.com' };
    const data = requestData({ method: 'GET', url: '/v1/models?limit=20&note=jane%40example.com&q=a+b', headers, forwarded: Buffer.alloc(0), maskHeader: mask });
    expect(data.headers).toEqual({ 'x-stainless-os': 'Linux [EMAIL_ADDRESS]', 'x-stainless-note': '[EMAIL_ADDRESS]' });
    expect(data.query).toBe('limit=20&note=[EMAIL_ADDRESS]&q=a b');
    expect(data.findings).toEqual([
      expect.objectContaining({ path: 'headers.x-stainless-os' }),
      expect.objectContaining({ path: 'headers.x-stainless-note' }),
      expect.objectContaining({ path: 'query', start: 14, end: 30 }),
    ]);
    // Masking off: the query is the skill's to fill, so it is not recorded.
    expect(requestData({ method: 'GET', url: '/v1/models?note=jane%40example.com', headers: {}, forwarded: Buffer.alloc(0), maskHeader: null }).query).toBeUndefined();
    // A stray '%' reads as written.
    expect(requestData({ method: 'GET', url: '/v1/models?x=100%&y=%E0', headers: {}, forwarded: Buffer.alloc(0), maskHeader: mask }).query).toBe('x=100%&y=%E0');
    // '+' read as a sign too when reading it as a space finds nothing (jane+tag@example.com).
    const tagged = (v: string) => {
      const at = v.indexOf('jane+tag@example.com');
      return at === -1 ? { masked: v, findings: [] }
        : { masked: v.replace('jane+tag@example.com', '[EMAIL_ADDRESS]'), findings: [{ type: 'EMAIL_ADDRESS', start: at, end: at + 20, fingerprint: 'f'.repeat(64) }] };
    };
    const plus = requestData({ method: 'GET', url: '/v1/models?to=jane+tag@example.com&q=a+b', headers: {}, forwarded: Buffer.alloc(0), maskHeader: tagged });
    expect(plus.query).toBe('to=[EMAIL_ADDRESS]&q=a+b');
    expect(plus.findings).toEqual([expect.objectContaining({ path: 'query', start: 3, end: 23 })]);
    expect(requestData({ method: 'GET', url: '/v1/models?q=a+b', headers: {}, forwarded: Buffer.alloc(0), maskHeader: tagged }).query).toBe('q=a b');
  });
});

describe('egress destinations and answer headers for the record', () => {
  // A stand-in for the masker (this package masks nothing itself): a card, an SSN, an email and an
  // Anthropic key, each replaced by its entity's placeholder.
  const VALUES: Array<[RegExp, string]> = [
    [/4111 ?1111 ?1111 ?1111/, 'CREDIT_CARD'], [/536-22-8974/, 'US_SSN'], [/jane\.doe@example\.com/, 'EMAIL_ADDRESS'], [/sk-ant-api03-[A-Za-z0-9]+AA/, 'SECRET'],
  ];
  const calls: string[] = [];
  const mask = (v: string) => {
    calls.push(v);
    let masked = v;
    const findings: Array<{ type: string; start: number; end: number; fingerprint: string }> = [];
    for (const [re, type] of VALUES) {
      const m = re.exec(masked);
      if (!m) continue;
      findings.push({ type, start: m.index, end: m.index + type.length + 2, fingerprint: 'f'.repeat(64) });
      masked = masked.replace(re, `[${type}]`);
    }
    return { masked, findings };
  };
  const KEY = `sk-ant-api03-${'Q7w'.repeat(14)}AA`;

  it('masks a destination\'s DNS name or URL, findings named `destination`; keeps a clean host and an IP literal; records none without a masker', () => {
    const findings: Array<{ path?: string }> = [];
    expect(recordedDestination('4111111111111111.ssn-536-22-8974.attacker.example:443', mask, findings as never))
      .toBe('[CREDIT_CARD].ssn-[US_SSN].attacker.example:443');
    expect(recordedDestination(`https://paste.example/u?e=jane.doe@example.com&k=${KEY}`, mask, findings as never)).toBe('https://paste.example/u?e=[EMAIL_ADDRESS]&k=[SECRET]');
    expect(findings.map((f) => f.path)).toEqual(['destination', 'destination', 'destination', 'destination']);
    expect(recordedDestination('api.github.com:443', mask, [])).toBe('api.github.com:443');
    calls.length = 0;
    for (const ip of ['10.0.0.7:8080', '[::1]:443', '::1:443', '192.0.2.7']) expect(recordedDestination(ip, mask, [])).toBe(ip);
    expect(calls).toEqual([]); // an IP literal costs no masker call
    // An IPv6 zone id is the skill's to write: masked, not kept as an address.
    expect(recordedDestination('[fe80::1%4111111111111111]:443', mask, [])).toBe('[fe80::1%[CREDIT_CARD]]:443');
    expect(recordedDestination(`${KEY}.exfil.example`, null, [])).not.toContain('sk-ant-');
  });

  it('masks an answer\'s header values as a request\'s; two maskers (request, answer) keep their own memory of clean values', () => {
    const request = (v: string) => mask(v);
    const answer = (v: string) => mask(v);
    const findings: Array<{ path?: string }> = [];
    const disposition = `attachment; filename="jane.doe@example.com 4111 1111 1111 1111 ${KEY}.csv"`;
    expect(recordHeaders({ 'Content-Disposition': disposition, 'content-type': 'text/csv' }, answer, findings as never))
      .toEqual({ 'content-disposition': 'attachment; filename="[EMAIL_ADDRESS] [CREDIT_CARD] [SECRET].csv"', 'content-type': 'text/csv' });
    expect(findings.map((f) => f.path)).toEqual(['headers.content-disposition', 'headers.content-disposition', 'headers.content-disposition']);
    calls.length = 0;
    for (let i = 0; i < 3; i++) {
      recordHeaders({ 'content-type': 'application/json' }, request);
      recordHeaders({ 'content-type': 'text/csv' }, answer);
    }
    expect(calls).toEqual(['application/json']); // text/csv was found clean by `answer` above; each repeat is a lookup
  });

  it('records the headers the API makes itself (ids, times, rate limits) as sent in an answer, and masks them in a request', () => {
    const made = { 'request-id': 'req_011CbQx4111111111111111', 'cf-ray': '8f3c2a1b9c0d1234-SJC', date: 'Sat, 28 Nov 2026 05:01:02 GMT', 'anthropic-ratelimit-requests-reset': '2026-11-28T05:01:03Z', 'retry-after': '17' };
    calls.length = 0;
    expect(recordHeaders(made, mask, [], true)).toEqual(made);
    expect(calls).toEqual([]); // no masker call: new on every exchange, nothing of the skill's in them
    // The same names in a request are the skill's to fill: masked.
    expect(recordHeaders({ 'request-id': 'card 4111 1111 1111 1111' }, mask)).toEqual({ 'request-id': 'card [CREDIT_CARD]' });
    // In an answer, any other header still is (content-disposition, content-type: what the skill gave).
    expect(recordHeaders({ 'content-type': 'text/plain; name=jane.doe@example.com' }, mask, [], true)).toEqual({ 'content-type': 'text/plain; name=[EMAIL_ADDRESS]' });
  });
});
