// conversationOf reads a session exchange by exchange, whatever order the chain holds their events in.
import { conversationOf } from '../src/conversation.js';
import type { SessionEvent } from '../src/event.js';
import { identity } from './support.js';

let seq = 0;
const t0 = Date.parse('2026-11-28T08:00:00.000Z');
/** An event as the record holds it (hashes aside: conversationOf reads none). */
function event(kind: string, requestId: string | undefined, data: Record<string, unknown>, ms = seq): SessionEvent {
  return { v: 1, sessionId: 'ses_conv', seq: seq++, ts: new Date(t0 + ms).toISOString(), kind, identity, ...(requestId ? { requestId } : {}), data, prev: '', hash: '' } as unknown as SessionEvent;
}
const request = (id: string, messages: unknown[]) => event('request', id, { method: 'POST', path: '/v1/messages', body: JSON.stringify({ messages }) });
const answer = (id: string, text: string) => event('response', id, { status: 200, stream: false, headers: {}, body: JSON.stringify({ content: [{ type: 'text', text }] }) });
const delta = (text: string) => ({ event: 'content_block_delta', data: JSON.stringify({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text } }), t: 1 });

beforeEach(() => { seq = 0; });

it('puts an answer recorded after the next request back before it (the answer was built while that request travelled)', () => {
  const events = [
    request('req_1', [{ role: 'user', content: 'What is 2+2?' }]),
    request('req_2', [{ role: 'user', content: 'What is 2+2?' }, { role: 'assistant', content: '4' }, { role: 'user', content: 'And 3+3?' }]),
    answer('req_1', '4'),
    event('egress', undefined, { method: 'CONNECT', destination: 'api.github.com:443', allowed: false }),
    answer('req_2', '6'),
  ];
  expect(conversationOf(events).map((s) => [s.kind, 'text' in s ? s.text : ''])).toEqual([
    ['user', 'What is 2+2?'], ['assistant_text', '4'], ['user', 'And 3+3?'], ['assistant_text', '6'], ['gateway', 'egress CONNECT api.github.com:443: denied'],
  ]);
});

it('reads concurrent streams one after the other, each in its own order', () => {
  const events = [
    request('req_a', [{ role: 'user', content: 'first' }]),
    request('req_b', [{ role: 'user', content: 'second' }]),
    event('response', 'req_a', { status: 200, stream: true, headers: {} }),
    event('response', 'req_b', { status: 200, stream: true, headers: {} }),
    event('stream_event', 'req_a', { events: [delta('A1')] }),
    event('stream_event', 'req_b', { events: [delta('B1')] }),
    event('stream_event', 'req_a', { events: [delta('A2')] }),
    event('stream_event', 'req_b', { events: [delta('B2')] }),
  ];
  expect(conversationOf(events).map((s) => ('text' in s ? s.text : s.kind))).toEqual(['first', 'A1', 'A2', 'second', 'B1', 'B2']);
});
