// The real Anthropic TypeScript SDK, both majors (1.x and 0.x), against the fake directly: the
// fake must be faithful enough that the SDK's own parsing, streaming helpers, pagination, batch
// results (fetched from results_url as given), uploads and retry logic work unmodified.
import Anthropic, { toFile } from '@anthropic-ai/sdk';
import Anthropic0 from 'anthropic-sdk-0';
import { startFakeClaude, type FakeClaude } from '../src/index.js';

const MODEL = 'claude-sonnet-4-6';

interface SdkUnderTest {
  major: string;
  make(baseURL: string, opts?: { maxRetries?: number }): Anthropic;
  /** How this major sends its credential and version. */
  auth: { header: string; value: string; version: string };
}

const KEY = 'sk-ant-test-key';
const sdks: SdkUnderTest[] = [
  { major: '1.x', make: (baseURL, o) => new Anthropic({ baseURL, apiKey: KEY, maxRetries: o?.maxRetries ?? 0 }), auth: { header: 'authorization', value: `Bearer ${KEY}`, version: '2026-10-21' } },
  // 0.x has the same surface for everything used here; the cast only unifies the two type trees.
  { major: '0.x', make: (baseURL, o) => new Anthropic0({ baseURL, apiKey: KEY, maxRetries: o?.maxRetries ?? 0 }) as unknown as Anthropic, auth: { header: 'x-api-key', value: KEY, version: '2023-06-01' } },
];

let fake: FakeClaude;
beforeAll(async () => { fake = await startFakeClaude({ port: 0 }); });
afterAll(async () => { await fake.close(); });
afterEach(() => fake.reset());

describe.each(sdks)('@anthropic-ai/sdk $major', ({ make, auth }) => {
  test('create returns the echoed answer, and the fake saw the credential and version this major sends', async () => {
    const client = make(fake.url);
    const message = await client.messages.create({ model: MODEL, max_tokens: 64, messages: [{ role: 'user', content: 'ping' }] });
    expect(message.content).toEqual([{ type: 'text', text: 'echo: ping' }]);
    const seen = fake.lastRequest('/v1/messages')!;
    expect(seen.headers[auth.header]).toBe(auth.value);
    expect(seen.headers['anthropic-version']).toBe(auth.version);
  });

  test('a streamed answer arrives as text events and the final message matches them', async () => {
    fake.script({ text: 'Streaming works across several deltas of text.' });
    const stream = make(fake.url).messages.stream({ model: MODEL, max_tokens: 64, messages: [{ role: 'user', content: 'go' }] });
    const pieces: string[] = [];
    stream.on('text', (t) => pieces.push(t));
    const final = await stream.finalMessage();
    expect(pieces.length).toBeGreaterThan(1);
    expect(pieces.join('')).toBe('Streaming works across several deltas of text.');
    expect(final.content).toEqual([{ type: 'text', text: 'Streaming works across several deltas of text.' }]);
    expect(final.usage.output_tokens).toBeGreaterThan(0);
  });

  test('a streamed tool call arrives as inputJson events and a parsed tool_use block', async () => {
    fake.script({ text: 'Let me check.', toolUse: { name: 'get_pod_logs', input: { namespace: 'prod', pod: 'api-7f9c', tail: 50 } } });
    const stream = make(fake.url).messages.stream({
      model: MODEL, max_tokens: 256, messages: [{ role: 'user', content: 'why is api crashing?' }],
      tools: [{ name: 'get_pod_logs', description: 'Read pod logs', input_schema: { type: 'object', properties: { namespace: { type: 'string' }, pod: { type: 'string' }, tail: { type: 'integer' } } } }],
    });
    const partials: string[] = [];
    stream.on('inputJson', (partial) => partials.push(partial));
    const final = await stream.finalMessage();
    expect(partials.length).toBeGreaterThan(1);
    expect(final.stop_reason).toBe('tool_use');
    expect(final.content[1]).toMatchObject({ type: 'tool_use', name: 'get_pod_logs', input: { namespace: 'prod', pod: 'api-7f9c', tail: 50 } });
  });

  test('thinking streams into a thinking block with its signature', async () => {
    fake.script({ thinking: 'The pod restarts because of OOM.', text: 'Raise the memory limit.' });
    const final = await make(fake.url).messages.stream({ model: MODEL, max_tokens: 2048, thinking: { type: 'enabled', budget_tokens: 1024 }, messages: [{ role: 'user', content: 'why?' }] }).finalMessage();
    expect(final.content[0]).toMatchObject({ type: 'thinking', thinking: 'The pod restarts because of OOM.' });
    expect((final.content[0] as { signature: string }).signature.length).toBeGreaterThan(20);
    expect(final.content[1]).toEqual({ type: 'text', text: 'Raise the memory limit.' });
  });

  test('a tool loop sends the tool_result back and gets the final answer', async () => {
    const client = make(fake.url);
    const tools = [{ name: 'kubectl_get', description: 'kubectl get', input_schema: { type: 'object' as const, properties: { resource: { type: 'string' } } } }];
    fake.script({ toolUse: { name: 'kubectl_get', input: { resource: 'pods' } } });
    const messages: Anthropic.MessageParam[] = [{ role: 'user', content: 'list the pods' }];
    const first = await client.messages.create({ model: MODEL, max_tokens: 256, tools, messages });
    const call = first.content.find((b): b is Anthropic.ToolUseBlock => b.type === 'tool_use')!;
    expect(call.input).toEqual({ resource: 'pods' });
    messages.push({ role: 'assistant', content: first.content }, { role: 'user', content: [{ type: 'tool_result', tool_use_id: call.id, content: 'api-7f9c CrashLoopBackOff' }] });
    const second = await client.messages.create({ model: MODEL, max_tokens: 256, tools, messages });
    expect(second.content).toEqual([{ type: 'text', text: 'echo: api-7f9c CrashLoopBackOff' }]);
    const sent = fake.lastRequest('/v1/messages')!.body as { messages: Array<{ content: unknown }> };
    expect(sent.messages[2]!.content).toEqual([{ type: 'tool_result', tool_use_id: call.id, content: 'api-7f9c CrashLoopBackOff' }]);
  });

  test('countTokens returns input_tokens', async () => {
    const count = await make(fake.url).messages.countTokens({ model: MODEL, messages: [{ role: 'user', content: 'count these words please' }] });
    expect(count.input_tokens).toBeGreaterThan(0);
  });

  test('models list pages through the whole catalogue', async () => {
    const ids: string[] = [];
    for await (const model of make(fake.url).models.list({ limit: 5 })) ids.push(model.id);
    expect(ids.length).toBeGreaterThan(5);
    expect(new Set(ids).size).toBe(ids.length);
    expect(fake.requests.filter((r) => r.path === '/v1/models').length).toBeGreaterThan(1);
  });

  test("a batch's results are fetched from its results_url as given", async () => {
    const client = make(fake.url);
    const batch = await client.messages.batches.create({ requests: [
      { custom_id: 'first', params: { model: MODEL, max_tokens: 16, messages: [{ role: 'user', content: 'one' }] } },
      { custom_id: 'second', params: { model: MODEL, max_tokens: 16, messages: [{ role: 'user', content: 'two' }] } },
    ] });
    expect(batch.processing_status).toBe('in_progress');
    const ended = await client.messages.batches.retrieve(batch.id);
    expect(ended.results_url).toBe(`${fake.url}/v1/messages/batches/${batch.id}/results`);
    const results: Array<{ id: string; text: unknown }> = [];
    for await (const entry of await client.messages.batches.results(batch.id)) {
      results.push({ id: entry.custom_id, text: entry.result.type === 'succeeded' ? entry.result.message.content[0] : undefined });
    }
    expect(results).toEqual([{ id: 'first', text: { type: 'text', text: 'echo: one' } }, { id: 'second', text: { type: 'text', text: 'echo: two' } }]);
    expect(fake.lastRequest(`/v1/messages/batches/${batch.id}/results`)).toBeDefined();
  });

  test('a file uploads through the beta Files API and downloads back unchanged', async () => {
    const client = make(fake.url);
    const bytes = Buffer.from(Array.from({ length: 70_000 }, (_, i) => i % 251));
    const meta = await client.beta.files.upload({ file: await toFile(bytes, 'dump.bin', { type: 'application/octet-stream' }), betas: ['files-api-2025-04-14'] });
    expect(meta).toMatchObject({ type: 'file', filename: 'dump.bin', size_bytes: bytes.length });
    // 0.x marks beta resources with ?beta=true, 1.x does not; the beta header is sent only when asked for.
    const upload = fake.lastRequest('/v1/files')!;
    expect(upload.headers['anthropic-beta']).toBe('files-api-2025-04-14');
    expect(upload.uploads).toEqual([{ field: 'file', filename: 'dump.bin', mimeType: 'application/octet-stream', size: bytes.length }]);
    const download = await client.beta.files.download(meta.id);
    expect(Buffer.from(await download.arrayBuffer()).equals(bytes)).toBe(true);
  });

  test('an unknown model surfaces as a 404 not_found_error', async () => {
    const err = await make(fake.url).messages.create({ model: 'claude-foo', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect(err).toMatchObject({ status: 404, error: { type: 'error', error: { type: 'not_found_error', message: 'model: claude-foo' } } });
    expect((err as { requestID?: string }).requestID ?? (err as { request_id?: string }).request_id).toMatch(/^req_/);
  });

  test('a missing max_tokens surfaces the real validation message', async () => {
    const err = await make(fake.url).messages.create({ model: MODEL, messages: [{ role: 'user', content: 'x' }] } as unknown as Anthropic.MessageCreateParamsNonStreaming).catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 400, error: { error: { type: 'invalid_request_error', message: 'max_tokens: Field required' } } });
  });

  test('a 429 is retried after the retry-after the fake sent', async () => {
    fake.script({ error: { type: 'rate_limit_error', headers: { 'retry-after': '1' } } });
    const message = await make(fake.url, { maxRetries: 2 }).messages.create({ model: MODEL, max_tokens: 5, messages: [{ role: 'user', content: 'after the wait' }] });
    expect(message.content[0]).toEqual({ type: 'text', text: 'echo: after the wait' });
    const attempts = fake.requests.filter((r) => r.path === '/v1/messages');
    expect(attempts).toHaveLength(2);
    expect(attempts[1]!.headers['x-stainless-retry-count']).toBe('1');
    // The SDK's own backoff would be at most 500 ms; honouring retry-after: 1 means at least ~1 s.
    expect(attempts[1]!.receivedAt - attempts[0]!.receivedAt).toBeGreaterThanOrEqual(950);
  });

  test('a 529 surfaces as overloaded_error when retries are off', async () => {
    fake.script({ error: { type: 'overloaded_error' } });
    const err = await make(fake.url).messages.create({ model: MODEL, max_tokens: 5, messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 529, error: { error: { type: 'overloaded_error', message: 'Overloaded' } } });
  });

  test('an error event mid-stream rejects the stream with the API error', async () => {
    fake.script({ errorMidStream: { type: 'overloaded_error', message: 'Overloaded' } });
    const stream = make(fake.url).messages.stream({ model: MODEL, max_tokens: 64, messages: [{ role: 'user', content: 'go' }] });
    const texts: string[] = [];
    stream.on('text', (t) => texts.push(t));
    stream.on('error', () => undefined);
    const err = await stream.finalMessage().catch((e: unknown) => e);
    expect(texts.length).toBeGreaterThan(0);
    expect(String((err as Error).message)).toContain('Overloaded');
  });
});
