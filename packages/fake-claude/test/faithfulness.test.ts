// Details a reviewer found the fake got wrong against the real API and its recordings: generation
// limits (max_tokens, stop_sequences), fields newer streams carry, id lengths, 429 headers, list
// `limit` checks, and recorded streams answering non-streaming requests.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SseParser } from '@skillgate/wire';
import { startFakeClaude, type FakeClaude } from '../src/index.js';
import { buildMessage, foldFixture, streamEvents } from '../src/reply.js';

let fake: FakeClaude;
beforeAll(async () => { fake = await startFakeClaude({ port: 0 }); });
afterAll(async () => { await fake.close(); });
afterEach(() => fake.reset());

const KEY = { 'x-api-key': 'sk-ant-test', 'anthropic-version': '2023-06-01', 'content-type': 'application/json' };
const body = (extra: Record<string, unknown> = {}) => JSON.stringify({ model: 'claude-sonnet-4-5', max_tokens: 64, messages: [{ role: 'user', content: 'hello' }], ...extra });
const post = (path: string, text: string) => fetch(fake.url + path, { method: 'POST', headers: KEY, body: text });
const get = (path: string) => fetch(fake.url + path, { headers: KEY });

/** The data of each event of an SSE body. */
async function streamed(res: Response): Promise<Array<Record<string, unknown>>> {
  const parser = new SseParser();
  const out: Array<Record<string, unknown>> = [];
  for (const e of parser.push(Buffer.from(await res.arrayBuffer()))) out.push(JSON.parse(e.data) as Record<string, unknown>);
  return out;
}

describe('max_tokens', () => {
  test('cuts the echo at max_tokens output tokens with stop_reason max_tokens (non-streaming)', async () => {
    const res = await post('/v1/messages', body({ max_tokens: 1 }));
    const m = await res.json() as { content: Array<{ text: string }>; stop_reason: string; usage: { output_tokens: number } };
    expect(m.stop_reason).toBe('max_tokens');
    expect(m.usage.output_tokens).toBe(1);
    expect(m.content[0]!.text).toBe('echo');
  });

  test('cuts a scripted text in a stream, and message_delta reports max_tokens', async () => {
    fake.script({ text: 'one two three four five six seven eight nine ten' });
    const events = await streamed(await post('/v1/messages', body({ max_tokens: 3, stream: true })));
    const text = events.filter((e) => e.type === 'content_block_delta').map((e) => (e.delta as { text: string }).text).join('');
    expect(text).toBe('one two thre'); // 3 tokens at the fake's four characters a token
    const delta = events.find((e) => e.type === 'message_delta')!;
    expect(delta.delta).toMatchObject({ stop_reason: 'max_tokens', stop_sequence: null });
    expect((delta.usage as { output_tokens: number }).output_tokens).toBe(3);
  });

  test('a text within max_tokens ends the turn as before', async () => {
    const m = await (await post('/v1/messages', body())).json() as { stop_reason: string; content: Array<{ text: string }> };
    expect(m.stop_reason).toBe('end_turn');
    expect(m.content[0]!.text).toBe('echo: hello');
  });
});

describe('stop_sequences', () => {
  test('ends the text before the first stop sequence and names it (non-streaming)', async () => {
    fake.script({ text: 'alpha STOP beta END gamma' });
    const m = await (await post('/v1/messages', body({ stop_sequences: ['END', 'STOP'] }))).json() as { content: Array<{ text: string }>; stop_reason: string; stop_sequence: string | null };
    expect(m.content[0]!.text).toBe('alpha ');
    expect(m.stop_reason).toBe('stop_sequence');
    expect(m.stop_sequence).toBe('STOP');
  });

  test('a stream reports the stop sequence in message_delta', async () => {
    const events = await streamed(await post('/v1/messages', body({ stop_sequences: ['l'], stream: true })));
    const text = events.filter((e) => e.type === 'content_block_delta').map((e) => (e.delta as { text: string }).text).join('');
    expect(text).toBe('echo: he');
    expect(events.find((e) => e.type === 'message_delta')!.delta).toMatchObject({ stop_reason: 'stop_sequence', stop_sequence: 'l' });
  });

  test('a cut turn makes no scripted tool call', () => {
    const m = buildMessage({ text: 'Let me check. Done', toolUse: { name: 'x', input: {} } }, 'claude-sonnet-4-5', 1, { stopSequences: ['Done'] });
    expect(m.content.map((b) => b.type)).toEqual(['text']);
    expect(m.stop_reason).toBe('stop_sequence');
  });

  test('fixture replays stay byte for byte whatever max_tokens and stop_sequences say', async () => {
    fake.script({ fixture: 'basic_response.txt' });
    const res = await post('/v1/messages', body({ max_tokens: 1, stop_sequences: ['a'], stream: true }));
    expect(Buffer.from(await res.arrayBuffer()).equals(readFileSync(join(fake.fixturesDir, 'basic_response.txt')))).toBe(true);
  });
});

describe('fields newer recordings carry', () => {
  test('message_start has stop_details null right after stop_sequence, as stream-a-refusal.sse', () => {
    const start = streamEvents(buildMessage({ text: 'hi' }, 'claude-sonnet-4-5', 1))[0]!.data.message as Record<string, unknown>;
    const keys = Object.keys(start);
    expect(start.stop_details).toBeNull();
    expect(keys.indexOf('stop_details')).toBe(keys.indexOf('stop_sequence') + 1);
    expect(keys.indexOf('usage')).toBe(keys.indexOf('stop_details') + 1);
  });

  test('a tool_use block starts with caller direct between name and input, as tool_use_response.txt', () => {
    const events = streamEvents(buildMessage({ toolUse: { name: 'get_weather', input: { city: 'Paris' } } }, 'claude-sonnet-4-5', 1));
    const block = events.find((e) => e.event === 'content_block_start')!.data.content_block as Record<string, unknown>;
    expect(Object.keys(block)).toEqual(['type', 'id', 'name', 'caller', 'input']);
    expect(block.caller).toEqual({ type: 'direct' });
  });
});

describe('ids', () => {
  test('msg_, toolu_, msgbatch_ and file_ ids are as long as real ones (22 characters after the prefix)', async () => {
    const m = buildMessage({ toolUse: { name: 'x', input: {} } }, 'claude-sonnet-4-5', 1);
    expect(m.id).toMatch(/^msg_01[0-9A-Za-z]{22}$/);
    expect(m.id).toHaveLength('msg_019Q1hrJbZG26Fb9BQhrkHEr'.length);
    expect((m.content[0] as { id: string }).id).toMatch(/^toolu_01[0-9A-Za-z]{22}$/);
    const batch = await (await post('/v1/messages/batches', JSON.stringify({ requests: [{ custom_id: 'a', params: JSON.parse(body()) }] }))).json() as { id: string };
    expect(batch.id).toMatch(/^msgbatch_01[0-9A-Za-z]{22}$/);
    const form = new FormData();
    form.append('file', new Blob(['hello']), 'a.txt');
    const file = await (await fetch(`${fake.url}/v1/files`, { method: 'POST', headers: { 'x-api-key': 'k', 'anthropic-version': '2023-06-01', 'anthropic-beta': 'files-api-2025-04-14' }, body: form })).json() as { id: string };
    expect(file.id).toMatch(/^file_011[0-9A-Za-z]{22}$/);
  });
});

describe('429 rate-limit headers', () => {
  test('every reset is in whole seconds with Z, and a tokens 429 exhausts input-tokens too', async () => {
    const ok = await post('/v1/messages', body());
    expect(ok.headers.get('anthropic-ratelimit-requests-reset')).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    fake.script({ error: { type: 'rate_limit_error' } });
    const res = await post('/v1/messages', body());
    expect(res.status).toBe(429);
    for (const name of ['requests', 'tokens', 'input-tokens']) {
      expect(res.headers.get(`anthropic-ratelimit-${name}-reset`)).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      expect(res.headers.get(`anthropic-ratelimit-${name}-remaining`)).toBe('0');
    }
  });

  test('a 429 whose message is not about tokens leaves input-tokens as it was', async () => {
    fake.script({ error: { type: 'rate_limit_error', message: 'Number of requests has exceeded your rate limit' } });
    const res = await post('/v1/messages', body());
    expect(res.headers.get('anthropic-ratelimit-requests-remaining')).toBe('0');
    expect(res.headers.get('anthropic-ratelimit-input-tokens-remaining')).not.toBe('0');
  });
});

describe('list limit', () => {
  test.each([
    ['0', 'limit: Input should be greater than or equal to 1'],
    ['1001', 'limit: Input should be less than or equal to 1000'],
    ['abc', 'limit: Input should be a valid integer, unable to parse string as an integer'],
  ])('limit=%s is a 400 invalid_request_error on every list', async (limit, message) => {
    for (const path of ['/v1/models', '/v1/messages/batches', '/v1/files', '/v1/skills']) {
      const res = await get(`${path}?limit=${limit}`);
      expect(res.status).toBe(400);
      expect(await res.json()).toMatchObject({ type: 'error', error: { type: 'invalid_request_error', message } });
    }
  });

  test('limit 1 and 1000 are accepted', async () => {
    expect((await get('/v1/models?limit=1')).status).toBe(200);
    expect((await get('/v1/models?limit=1000')).status).toBe(200);
  });
});

describe('a fixture reply to a non-streaming request', () => {
  test('is the JSON message the recording adds up to', async () => {
    fake.script({ fixture: 'tool_use_response.txt' });
    const res = await post('/v1/messages', body());
    expect(res.headers.get('content-type')).toBe('application/json');
    const m = await res.json() as { type: string; stop_reason: string; content: Array<Record<string, unknown>>; usage: Record<string, unknown> };
    expect(m.type).toBe('message');
    expect(m.stop_reason).toBe('tool_use');
    expect(m.content[1]).toMatchObject({ type: 'tool_use', name: 'get_weather', caller: { type: 'direct' } });
    expect(typeof m.content[0]!.text).toBe('string');
    expect(m.content[1]!.input).toEqual(expect.any(Object));
  });

  test('every bundled recording but the cut-off one folds; the cut-off one answers a clear 500', async () => {
    for (const name of fake.fixtureNames()) {
      const folded = foldFixture(readFileSync(join(fake.fixturesDir, name)));
      if (name === 'incomplete_partial_json_response.txt') expect(typeof folded).toBe('string');
      else expect(typeof folded).toBe('object');
    }
    fake.script({ fixture: 'incomplete_partial_json_response.txt' });
    const res = await post('/v1/messages', body());
    expect(res.status).toBe(500);
    const err = await res.json() as { error: { type: string; message: string } };
    expect(err.error.type).toBe('api_error');
    expect(err.error.message).toMatch(/fixture incomplete_partial_json_response\.txt cannot answer a non-streaming request/);
  });

  test('a refusal recording keeps its stop_details', () => {
    const folded = foldFixture(readFileSync(join(fake.fixturesDir, 'stream-a-refusal.sse'))) as Record<string, unknown>;
    expect(folded.stop_reason).toBe('refusal');
    expect(folded.stop_details).toMatchObject({ type: 'refusal' });
  });
});
