// The record journal tells the recorder a session is new only once, with its first event: the
// recorder then holds the head, and should it forget it (it keeps a bounded number of heads), the
// next event must read the head back from the store instead of starting the chain again at seq 0.
// And whatever a rewriting masking mode forwarded, the record gets the record's masking (server
// tool results, metadata.user_id, thinking), reusing the mode's copy when that is the same.
import type { SessionRecorder } from '@skillgate/record/recorder';
import type { MaskingSpec } from '@skillgate/api';
import { recordJournal } from '../src/record-journal.js';
import { MaskerBook, maskingVerdict } from '../src/masking-modes.js';
import { createLogger } from '../src/log.js';
import type { Exchange } from '../src/exchange.js';

const identity = { namespace: 'team-a', serviceAccount: 'sa', pod: 'p', skill: 'triage', owner: 'carol@example.com' };

test('a minted session is new for its first event only', async () => {
  const calls: Array<{ sessionId: string; kind: string; newSession: boolean | undefined }> = [];
  const recorder = {
    append: (draft: { sessionId: string; kind: string }, opts?: { newSession?: boolean }) => {
      calls.push({ sessionId: draft.sessionId, kind: draft.kind, newSession: opts?.newSession });
      return Promise.resolve({});
    },
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

/** A journal that keeps the drafts it would append, masking with `book`'s masker of `spec`. */
function journalOf(book: MaskerBook, spec: MaskingSpec) {
  const drafts: Array<{ kind: string; data: { body?: string } }> = [];
  const recorder = {
    append: (draft: { kind: string; data: { body?: string } }) => { drafts.push(draft); return Promise.resolve({}); },
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

describe('the record of a request masked by a rewriting mode', () => {
  const request = {
    model: 'claude-sonnet-4-6', max_tokens: 8, metadata: { user_id: 'jane.doe@example.com' }, stop_sequences: ['call 415-555-0132'],
    messages: [{ role: 'user', content: 'bill card 4111 1111 1111 1111' }, { role: 'assistant', content: [{ type: 'thinking', thinking: 'the card holder is john.smith@example.com', signature: 'EqQBCgIYAhIM' }, { type: 'text', text: 'ok' }] }, { role: 'user', content: 'go on' }],
  };

  test.each(['request', 'both', 'tokenize'] as const)('%s mode: what only the record masks (metadata.user_id, thinking, stop_sequences) is masked there too', async (mode) => {
    const book = new MaskerBook('record-journal-test-key');
    const { journal, drafts } = journalOf(book, { mode });
    const x = maskedExchange(book, { mode }, request);
    const forwarded = x.upstreamBody!.toString();
    expect(forwarded).not.toContain('4111 1111 1111 1111');
    // The API gets those as sent (a signed thinking block may not change).
    for (const v of ['jane.doe@example.com', 'john.smith@example.com', '415-555-0132']) expect(forwarded).toContain(v);
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
