// The pure reply builders: the event order and delta shapes the real API streams.
import { SseParser } from '@skillgate/wire';
import { ECHO_THINKING, buildMessage, echoReply, formatEvents, lastUserText, splitText, streamEvents, thinkingSignature } from '../src/reply.js';
import { chunkByEvent, chunkBytes } from '../src/fixtures.js';
import { estimateInputTokens } from '../src/tokens.js';
import { validateMessagesRequest } from '../src/validation.js';
import { ReplyScript } from '../src/script.js';
import type { ReceivedRequest } from '../src/received.js';

const names = (message: ReturnType<typeof buildMessage>): string[] => streamEvents(message).map((e) => e.event);

describe('streamed messages', () => {
  test('a text answer streams message_start, block start, ping, deltas, block stop, message_delta, message_stop', () => {
    const events = names(buildMessage({ text: 'Hello there, this is a longer answer in several deltas.' }, 'claude-sonnet-4-5', 10));
    expect(events[0]).toBe('message_start');
    expect(events.slice(1, 3)).toEqual(['content_block_start', 'ping']);
    expect(events.slice(-4)).toEqual(['content_block_delta', 'content_block_stop', 'message_delta', 'message_stop']);
    expect(events.filter((e) => e === 'content_block_delta').length).toBeGreaterThan(1);
  });

  test('the deltas of a text block put back together give the text exactly', () => {
    const text = '  Leading spaces,\nnew lines\tand tabs   stay exactly as they were.  ';
    const message = buildMessage({ text }, 'm', 1);
    const joined = streamEvents(message)
      .filter((e) => e.event === 'content_block_delta')
      .map((e) => (e.data.delta as { text: string }).text)
      .join('');
    expect(joined).toBe(text);
    expect(splitText(text).join('')).toBe(text);
  });

  test('a tool call streams input_json_delta starting with an empty partial_json and ends with stop_reason tool_use', () => {
    const message = buildMessage({ toolUse: { name: 'Bash', input: { command: 'echo hi' } } }, 'm', 1);
    const events = streamEvents(message);
    const deltas = events.filter((e) => e.event === 'content_block_delta').map((e) => e.data.delta as { type: string; partial_json: string });
    expect(deltas[0]).toEqual({ type: 'input_json_delta', partial_json: '' });
    expect(JSON.parse(deltas.map((d) => d.partial_json).join(''))).toEqual({ command: 'echo hi' });
    const start = events.find((e) => e.event === 'content_block_start')!.data.content_block as Record<string, unknown>;
    expect(start).toMatchObject({ type: 'tool_use', name: 'Bash', input: {} });
    expect(String(start.id)).toMatch(/^toolu_/);
    expect(message.stop_reason).toBe('tool_use');
  });

  test('a thinking block streams thinking deltas then one signature_delta before it stops', () => {
    const message = buildMessage({ thinking: 'Let me think about it.', text: 'Done.' }, 'm', 1);
    const events = streamEvents(message).filter((e) => e.data.index === 0);
    const deltaTypes = events.filter((e) => e.event === 'content_block_delta').map((e) => (e.data.delta as { type: string }).type);
    expect(deltaTypes[deltaTypes.length - 1]).toBe('signature_delta');
    expect(deltaTypes.slice(0, -1).every((t) => t === 'thinking_delta')).toBe(true);
    expect(message.content[0]).toEqual({ type: 'thinking', thinking: 'Let me think about it.', signature: thinkingSignature('Let me think about it.') });
  });

  test('message_delta carries the cumulative usage of the whole message', () => {
    const message = buildMessage({ text: 'x'.repeat(40) }, 'm', 7);
    const delta = streamEvents(message).find((e) => e.event === 'message_delta')!;
    expect(delta.data.usage).toMatchObject({ input_tokens: 7, output_tokens: message.usage.output_tokens });
  });

  test('every formatted event parses back with its event name equal to data.type', () => {
    const text = formatEvents(streamEvents(buildMessage({ thinking: 't', text: 'a b c', toolUse: { name: 'x', input: {} } }, 'm', 1)));
    const events = new SseParser().push(Buffer.from(text));
    expect(events.length).toBeGreaterThan(8);
    for (const e of events) expect(JSON.parse(e.data).type).toBe(e.event);
  });
});

describe('the default echo reply', () => {
  test('repeats the last user text', () => {
    expect(echoReply({ messages: [{ role: 'user', content: 'first' }, { role: 'assistant', content: 'ok' }, { role: 'user', content: [{ type: 'text', text: 'second' }] }] }).text).toBe('echo: second');
  });

  test('thinks first, with a signed thinking block, when the request enables extended thinking', () => {
    const messages = [{ role: 'user', content: 'hi' }];
    for (const thinking of [{ type: 'enabled', budget_tokens: 1024 }, { type: 'adaptive' }]) {
      const content = buildMessage(echoReply({ messages, thinking }), 'm', 1).content;
      expect(content).toEqual([{ type: 'thinking', thinking: ECHO_THINKING, signature: thinkingSignature(ECHO_THINKING) }, { type: 'text', text: 'echo: hi' }]);
    }
    for (const thinking of [undefined, { type: 'disabled' }, null]) {
      expect(buildMessage(echoReply({ messages, thinking }), 'm', 1).content).toEqual([{ type: 'text', text: 'echo: hi' }]);
    }
  });

  test('repeats the tool result when the last user turn only returns one', () => {
    expect(lastUserText({ messages: [{ role: 'user', content: [{ type: 'tool_result', tool_use_id: 't', content: 'hi' }] }] })).toBe('hi');
  });
});

describe('validation', () => {
  test.each([
    [{ messages: [], max_tokens: 1 }, 'model: Field required'],
    [{ model: 'm', max_tokens: 1 }, 'messages: Field required'],
    [{ model: 'm', messages: [] }, 'max_tokens: Field required'],
    [{ model: 'm', max_tokens: 1, messages: [{ role: 'system', content: 'x' }] }, "messages.0.role: Input should be 'user' or 'assistant'"],
    [{ model: 'm', max_tokens: 1.5, messages: [] }, 'max_tokens: Input should be a valid integer'],
    [{ model: 'm', max_tokens: 1, messages: [{ role: 'user' }] }, 'messages.0.content: Field required'],
  ])('%j is refused with %s', (body, message) => {
    expect(validateMessagesRequest(body, { requireMaxTokens: true })).toEqual({ status: 400, type: 'invalid_request_error', message });
  });

  test('unknown fields are accepted, as real clients send many', () => {
    expect(validateMessagesRequest({ model: 'm', max_tokens: 1, messages: [{ role: 'user', content: 'hi' }], context_management: {}, output_config: {} }, { requireMaxTokens: true })).toBeUndefined();
  });
});

describe('token estimates', () => {
  test('grow with the prompt and ignore everything but system, messages and tools', () => {
    const small = estimateInputTokens({ messages: [{ role: 'user', content: 'hi' }] });
    const large = estimateInputTokens({ messages: [{ role: 'user', content: 'hi '.repeat(100) }] });
    expect(large).toBeGreaterThan(small);
    expect(estimateInputTokens({ messages: [{ role: 'user', content: 'hi' }], max_tokens: 99999 })).toBe(small);
  });
});

describe('the reply script', () => {
  const req = (text: string): ReceivedRequest => ({ method: 'POST', url: '/v1/messages', path: '/v1/messages', query: new URLSearchParams(), headers: {}, rawHeaders: [], body: { messages: [{ role: 'user', content: text }] }, bodyBytes: 0, receivedAt: 0 });

  test('answers in order, skipping replies whose predicate refuses the request', () => {
    const script = new ReplyScript();
    script.add([{ text: 'for weather', when: (r) => JSON.stringify(r.body).includes('weather') }, { text: 'first' }]);
    expect(script.take(req('hello'), true)).toMatchObject({ text: 'first' });
    expect(script.take(req('the weather?'), true)).toMatchObject({ text: 'for weather' });
    expect(script.take(req('hello'), true)).toBeUndefined();
  });

  test('a reply with times answers that many requests, and only errors marked on any answer other routes', () => {
    const script = new ReplyScript();
    script.add([{ text: 'twice', times: 2 }, { error: { type: 'overloaded_error' }, on: 'any' }]);
    expect(script.take(req('a'), false)).toMatchObject({ error: { type: 'overloaded_error' } });
    expect(script.take(req('a'), true)).toMatchObject({ text: 'twice' });
    expect(script.take(req('a'), true)).toMatchObject({ text: 'twice' });
    expect(script.pending).toBe(0);
  });
});

describe('fixture chunking', () => {
  test('chunks by size or by event put back together give the bytes unchanged', () => {
    const bytes = Buffer.from('event: a\ndata: {}\n\nevent: b\ndata: {"x":1}\n\ntrailing');
    expect(Buffer.concat(chunkBytes(bytes, [1, 3, 7])).equals(bytes)).toBe(true);
    const byEvent = chunkByEvent(bytes);
    expect(byEvent.map(String)).toEqual(['event: a\ndata: {}\n\n', 'event: b\ndata: {"x":1}\n\n', 'trailing']);
  });
});
