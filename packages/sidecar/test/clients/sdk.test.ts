// The real Anthropic SDK, both majors, through the sidecar to fake Claude: everything a skill does
// with the SDK works unmodified, the upstream sees only the sidecar's key, beta headers arrive
// verbatim, and a batch's results_url sends the SDK back through the sidecar.
import Anthropic, { toFile } from '@anthropic-ai/sdk';
import Anthropic0 from 'anthropic-sdk-0';
import { headerValues } from '@skillgate/fake-claude';
import { allHeaderValues, SKILL_KEY, startThroughSidecar, UPSTREAM_KEY, type ThroughSidecar } from './through-sidecar.js';

const MODEL = 'claude-sonnet-4-6';

const sdks: Array<{ major: string; make(baseURL: string, maxRetries?: number): Anthropic }> = [
  { major: '1.x', make: (baseURL, maxRetries = 0) => new Anthropic({ baseURL, apiKey: SKILL_KEY, maxRetries }) },
  // Same surface for everything used here; the cast only unifies the two type trees.
  { major: '0.x', make: (baseURL, maxRetries = 0) => new Anthropic0({ baseURL, apiKey: SKILL_KEY, maxRetries }) as unknown as Anthropic },
];

let bench: ThroughSidecar;
beforeAll(async () => { bench = await startThroughSidecar(); });
afterAll(async () => { await bench.close(); });
afterEach(() => {
  // Whatever the test did, the skill's key never reached the upstream.
  expect(allHeaderValues(bench.fake.requests).some((v) => v.includes(SKILL_KEY))).toBe(false);
  bench.fake.reset();
});

describe.each(sdks)('@anthropic-ai/sdk $major through the sidecar', ({ make }) => {
  test('create works and the upstream sees the sidecar key instead of the skill key', async () => {
    const message = await make(bench.sidecar.claudeUrl).messages.create({ model: MODEL, max_tokens: 32, messages: [{ role: 'user', content: 'ping' }] });
    expect(message.content).toEqual([{ type: 'text', text: 'echo: ping' }]);
    const seen = bench.fake.lastRequest('/v1/messages')!;
    expect(seen.headers['x-api-key']).toBe(UPSTREAM_KEY);
    expect(seen.headers.authorization).toBeUndefined();
  });

  test('anthropic-beta reaches the upstream verbatim', async () => {
    const betas = ['interleaved-thinking-2025-05-14', 'context-management-2025-06-27', 'some-future-beta-2027-01-01'];
    await make(bench.sidecar.claudeUrl).beta.messages.create({ model: MODEL, max_tokens: 32, betas, messages: [{ role: 'user', content: 'hi' }] });
    const seen = bench.fake.lastRequest('/v1/messages')!;
    expect(headerValues(seen, 'anthropic-beta')).toEqual([betas.join(',')]);
  });

  test('a stream with text and a tool call arrives whole, with its events', async () => {
    bench.fake.script({ text: 'Checking the logs now.', toolUse: { name: 'get_pod_logs', input: { pod: 'api-7f9c', tail: 20 } } });
    const stream = make(bench.sidecar.claudeUrl).messages.stream({
      model: MODEL, max_tokens: 256, messages: [{ role: 'user', content: 'why is api down?' }],
      tools: [{ name: 'get_pod_logs', input_schema: { type: 'object', properties: { pod: { type: 'string' }, tail: { type: 'integer' } } } }],
    });
    const texts: string[] = [];
    const partials: string[] = [];
    stream.on('text', (t) => texts.push(t)).on('inputJson', (p) => partials.push(p));
    const final = await stream.finalMessage();
    expect(texts.join('')).toBe('Checking the logs now.');
    expect(partials.length).toBeGreaterThan(1);
    expect(final.content[1]).toMatchObject({ type: 'tool_use', name: 'get_pod_logs', input: { pod: 'api-7f9c', tail: 20 } });
  });

  test('a tool loop goes round through the sidecar', async () => {
    const client = make(bench.sidecar.claudeUrl);
    const tools = [{ name: 'kubectl_get', input_schema: { type: 'object' as const, properties: { resource: { type: 'string' } } } }];
    bench.fake.script({ toolUse: { name: 'kubectl_get', input: { resource: 'pods' } } });
    const messages: Anthropic.MessageParam[] = [{ role: 'user', content: 'list pods' }];
    const first = await client.messages.create({ model: MODEL, max_tokens: 64, tools, messages });
    const call = first.content.find((b): b is Anthropic.ToolUseBlock => b.type === 'tool_use')!;
    messages.push({ role: 'assistant', content: first.content }, { role: 'user', content: [{ type: 'tool_result', tool_use_id: call.id, content: 'api-7f9c Running' }] });
    const second = await client.messages.create({ model: MODEL, max_tokens: 64, tools, messages });
    expect(second.content).toEqual([{ type: 'text', text: 'echo: api-7f9c Running' }]);
  });

  test('countTokens and the models list work', async () => {
    const client = make(bench.sidecar.claudeUrl);
    expect((await client.messages.countTokens({ model: MODEL, messages: [{ role: 'user', content: 'count me' }] })).input_tokens).toBeGreaterThan(0);
    const ids: string[] = [];
    for await (const m of client.models.list({ limit: 4 })) ids.push(m.id);
    expect(ids.length).toBeGreaterThan(4);
  });

  test("a batch's results_url points at the sidecar and its results come back through it", async () => {
    const client = make(bench.sidecar.claudeUrl);
    const batch = await client.messages.batches.create({ requests: [{ custom_id: 'only', params: { model: MODEL, max_tokens: 16, messages: [{ role: 'user', content: 'batched' }] } }] });
    const ended = await client.messages.batches.retrieve(batch.id);
    expect(ended.results_url).toBe(`${bench.sidecar.claudeUrl}/v1/messages/batches/${batch.id}/results`);
    const ids: string[] = [];
    for await (const entry of await client.messages.batches.results(batch.id)) ids.push(entry.custom_id);
    expect(ids).toEqual(['only']);
    const fetched = bench.fake.lastRequest(`/v1/messages/batches/${batch.id}/results`)!;
    expect(fetched.headers['x-api-key']).toBe(UPSTREAM_KEY);
  });

  test('a file uploads and downloads through the sidecar unchanged', async () => {
    const client = make(bench.sidecar.claudeUrl);
    const bytes = Buffer.from(Array.from({ length: 300_000 }, (_, i) => (i * 7) % 256));
    const meta = await client.beta.files.upload({ file: await toFile(bytes, 'heap.bin', { type: 'application/octet-stream' }), betas: ['files-api-2025-04-14'] });
    expect(meta.size_bytes).toBe(bytes.length);
    expect(bench.fake.lastRequest('/v1/files')!.headers['anthropic-beta']).toBe('files-api-2025-04-14');
    const download = await client.beta.files.download(meta.id);
    expect(Buffer.from(await download.arrayBuffer()).equals(bytes)).toBe(true);
  });

  test('upstream errors reach the SDK with their status, type and wording', async () => {
    const client = make(bench.sidecar.claudeUrl);
    const notFound = await client.messages.create({ model: 'claude-foo', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e);
    expect(notFound).toMatchObject({ status: 404, error: { error: { type: 'not_found_error', message: 'model: claude-foo' } } });
    bench.fake.script({ error: { type: 'overloaded_error' } });
    const overloaded = await client.messages.create({ model: MODEL, max_tokens: 5, messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e);
    expect(overloaded).toMatchObject({ status: 529, error: { error: { type: 'overloaded_error', message: 'Overloaded' } } });
  });

  test('a spend-limit 429 (no retry-after: nothing to wait for) reaches the SDK as the API sent it', async () => {
    bench.fake.script({ error: { type: 'rate_limit_error', message: 'You have reached your specified API usage limits.', spendLimit: true } });
    const err = await make(bench.sidecar.claudeUrl).messages.create({ model: MODEL, max_tokens: 5, messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e) as { status: number; headers: Headers | Record<string, string> };
    expect(err.status).toBe(429);
    const header = (name: string) => (err.headers instanceof Headers ? err.headers.get(name) : err.headers[name]) ?? null;
    expect(header('retry-after')).toBeNull();
    expect(header('anthropic-ratelimit-requests-remaining')).not.toBe('0'); // the rate limits are not what ran out
    expect(header('request-id')).toMatch(/^req_/);
  });

  test('a 429 with retry-after passes through and the SDK retries after it', async () => {
    bench.fake.script({ error: { type: 'rate_limit_error', headers: { 'retry-after': '1' } } });
    const message = await make(bench.sidecar.claudeUrl, 2).messages.create({ model: MODEL, max_tokens: 5, messages: [{ role: 'user', content: 'retry me' }] });
    expect(message.content[0]).toEqual({ type: 'text', text: 'echo: retry me' });
    const attempts = bench.fake.requests.filter((r) => r.path === '/v1/messages');
    expect(attempts).toHaveLength(2);
    expect(attempts[1]!.receivedAt - attempts[0]!.receivedAt).toBeGreaterThanOrEqual(950);
  });

  test('an error event mid-stream reaches the SDK as a stream error', async () => {
    bench.fake.script({ errorMidStream: { type: 'overloaded_error', message: 'Overloaded' } });
    const stream = make(bench.sidecar.claudeUrl).messages.stream({ model: MODEL, max_tokens: 64, messages: [{ role: 'user', content: 'go' }] });
    stream.on('error', () => undefined);
    const err = await stream.finalMessage().catch((e: unknown) => e);
    expect(String((err as Error).message)).toContain('Overloaded');
  });

  test('an upstream that dies mid-stream surfaces as an error in the SDK, not a silent short answer', async () => {
    bench.fake.script({ dieMidStream: true });
    const stream = make(bench.sidecar.claudeUrl).messages.stream({ model: MODEL, max_tokens: 64, messages: [{ role: 'user', content: 'go' }] });
    stream.on('error', () => undefined);
    const outcome = await stream.finalMessage().then(() => 'finished', (e: unknown) => e);
    expect(outcome).toBeInstanceOf(Error);
  });

  test('an upstream that dies halfway through an event surfaces as the gateway\'s API error, not a parse error', async () => {
    bench.fake.script({ dieMidStream: true, midEvent: true });
    const stream = make(bench.sidecar.claudeUrl).messages.stream({ model: MODEL, max_tokens: 64, messages: [{ role: 'user', content: 'go' }] });
    stream.on('error', () => undefined);
    const err = await stream.finalMessage().then(() => 'finished', (e: unknown) => e);
    // The SDK's own APIError class (each major has its own), not an AnthropicError from bad JSON.
    expect((err as Error).constructor.name).toBe('APIError');
    expect(String((err as Error).message)).toContain('broke mid-stream');
  });
});
