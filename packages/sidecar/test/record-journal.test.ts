// The record journal tells the recorder a session is new only once, with its first event: the
// recorder then holds the head, and should it forget it (it keeps a bounded number of heads), the
// next event must read the head back from the store instead of starting the chain again at seq 0.
import type { SessionRecorder } from '@skillgate/record/recorder';
import { createMasker } from '@skillgate/masking';
import { recordJournal } from '../src/record-journal.js';
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

test('server tool results reach the record masked, whatever the masking mode forwarded', async () => {
  const drafts: Array<{ kind: string; data: { body?: string } }> = [];
  const recorder = {
    append: (draft: { kind: string; data: { body?: string } }) => { drafts.push(draft); return Promise.resolve({}); },
  } as unknown as SessionRecorder;
  const masker = createMasker(undefined, { key: 'record-journal-test-key' });
  const journal = recordJournal({ recorder, masker: () => masker, recording: () => undefined, identity: () => identity, log: createLogger('silent') });
  const fetched = { type: 'web_fetch_tool_result', tool_use_id: 'srvtoolu_1', content: { type: 'web_fetch_result', url: 'https://crm.example/p',
    content: { type: 'document', source: { type: 'text', media_type: 'text/plain', data: 'Contact maria@example.com' } } } };
  const request = { model: 'claude-sonnet-4-6', max_tokens: 8, messages: [{ role: 'user', content: 'fetch it' }, { role: 'assistant', content: [fetched] }, { role: 'user', content: 'and?' }] };
  const body = Buffer.from(JSON.stringify(request));
  const x = {
    id: 'req_1', identity, req: { method: 'POST', headers: {} }, url: '/v1/messages', route: { kind: 'messages', body: 'inspect' }, body, request,
    // Request mode masked the body it forwarded, and kept the server result as Claude made it.
    maskedRequest: { text: body.toString(), findings: [] },
  } as unknown as Exchange;
  x.sessionId = journal.sessionFor(x);
  await journal.request(x);
  journal.responseHead(x, { 'content-type': 'application/json' }, false);
  journal.responseBody(x, Buffer.from(JSON.stringify({ id: 'msg_1', type: 'message', role: 'assistant', content: [fetched], stop_reason: 'end_turn' })));
  expect(drafts.map((d) => d.kind)).toEqual(['request', 'response']);
  for (const d of drafts) {
    expect(d.data.body).toContain('[EMAIL_ADDRESS]');
    expect(d.data.body).not.toContain('maria@example.com');
  }
});
