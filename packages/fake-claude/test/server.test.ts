// The fake over real sockets, spoken to with plain HTTP: shapes, headers, errors and fixtures as a
// gateway will see them.
import { request } from 'node:http';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { SseParser } from '@skillgate/wire';
import { startFakeClaude, type FakeClaude } from '../src/index.js';
import { headerValues } from '../src/received.js';

let fake: FakeClaude;
beforeAll(async () => { fake = await startFakeClaude({ port: 0 }); });
afterAll(async () => { await fake.close(); });
afterEach(() => fake.reset());

const KEY = { 'x-api-key': 'sk-ant-test', 'anthropic-version': '2023-06-01', 'content-type': 'application/json' };
const hello = (extra: Record<string, unknown> = {}) => JSON.stringify({ model: 'claude-sonnet-4-5', max_tokens: 64, messages: [{ role: 'user', content: 'hello' }], ...extra });
const post = (path: string, body: string, headers: Record<string, string> = KEY) => fetch(fake.url + path, { method: 'POST', headers, body });

/** A raw request that reports what arrived before the connection ended, even when it broke. */
function rawPost(path: string, body: string): Promise<{ status: number; bytes: Buffer; aborted: boolean }> {
  return new Promise((resolve, reject) => {
    const req = request(fake.url + path, { method: 'POST', headers: KEY }, (res) => {
      const chunks: Buffer[] = [];
      let aborted = false;
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('aborted', () => { aborted = true; });
      res.on('error', () => { aborted = true; });
      res.on('close', () => resolve({ status: res.statusCode ?? 0, bytes: Buffer.concat(chunks), aborted: aborted || !res.complete }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('every response', () => {
  test('carries a request id, the organization id and the rate-limit headers', async () => {
    const res = await post('/v1/messages', hello());
    expect(res.headers.get('request-id')).toMatch(/^req_[0-9A-Za-z]{24}$/);
    expect(res.headers.get('anthropic-organization-id')).toBeTruthy();
    for (const kind of ['requests', 'tokens', 'input-tokens', 'output-tokens']) {
      for (const part of ['limit', 'remaining', 'reset']) expect(res.headers.get(`anthropic-ratelimit-${kind}-${part}`)).toBeTruthy();
    }
    await res.text();
  });

  test('errors carry the same request id in the body as in the header', async () => {
    const res = await post('/v1/messages', hello({ model: 'claude-foo' }));
    const body = await res.json() as { request_id: string };
    expect(body.request_id).toBe(res.headers.get('request-id'));
  });
});

describe('Messages', () => {
  test('a non-streaming request gets a message echoing the last user text', async () => {
    const res = await post('/v1/messages', hello());
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ type: 'message', role: 'assistant', model: 'claude-sonnet-4-5', content: [{ type: 'text', text: 'echo: hello' }], stop_reason: 'end_turn' });
  });

  test('a streaming request gets SSE with the real content type and no-cache', async () => {
    const res = await post('/v1/messages?beta=true', hello({ stream: true }));
    expect(res.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    expect(res.headers.get('cache-control')).toBe('no-cache');
    const events = new SseParser().push(Buffer.from(await res.text()));
    expect(events.map((e) => e.event)).toEqual(['message_start', 'content_block_start', 'ping', 'content_block_delta', 'content_block_stop', 'message_delta', 'message_stop']);
    // As the recorded streams have it: compact JSON, the ping padded (a gateway must not assume compact).
    expect(events[2]!.data).toBe('{"type": "ping"}');
    expect(events[0]!.data.startsWith('{"type":"message_start","message":{')).toBe(true);
  });

  test('with a per-delta delay the deltas arrive as separate writes', async () => {
    const slow = await startFakeClaude({ port: 0, deltaDelayMs: 5 });
    try {
      slow.script({ text: 'one two three four five six seven eight nine ten eleven twelve thirteen fourteen' });
      const res = await fetch(`${slow.url}/v1/messages`, { method: 'POST', headers: KEY, body: hello({ stream: true }) });
      let reads = 0;
      for await (const chunk of res.body!) if (chunk.length > 0) reads++;
      expect(reads).toBeGreaterThan(2);
    } finally {
      await slow.close();
    }
  });

  test.each([
    [{ model: 'claude-sonnet-4-5', messages: [] }, 'max_tokens: Field required'],
    [{ model: 'claude-sonnet-4-5', max_tokens: 5 }, 'messages: Field required'],
    [{ max_tokens: 5, messages: [] }, 'model: Field required'],
    [{ model: 'claude-sonnet-4-5', max_tokens: 5, messages: [{ role: 'system', content: 'x' }] }, "messages.0.role: Input should be 'user' or 'assistant'"],
  ])('%j gets a 400 saying %s', async (body, message) => {
    const res = await post('/v1/messages', JSON.stringify(body));
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ type: 'error', error: { type: 'invalid_request_error', message } });
  });

  test('an unknown model is a 404 naming the model', async () => {
    const res = await post('/v1/messages', hello({ model: 'claude-foo' }));
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ error: { type: 'not_found_error', message: 'model: claude-foo' } });
  });

  test('a request that names no API version is a 400 in the API\'s words, on every route', async () => {
    const noVersion = { 'x-api-key': 'k', 'content-type': 'application/json' };
    for (const [path, init] of [
      ['/v1/messages', { method: 'POST', body: hello() }],
      ['/v1/messages/count_tokens', { method: 'POST', body: JSON.stringify({ model: 'claude-sonnet-4-6', messages: [{ role: 'user', content: 'hi' }] }) }],
      ['/v1/models', { method: 'GET' }],
    ] as const) {
      const res = await fetch(`${fake.url}${path}`, { ...init, headers: noVersion });
      const body = await res.json() as { request_id: string };
      expect({ path, status: res.status, body }).toEqual({ path, status: 400, body: { type: 'error', error: { type: 'invalid_request_error', message: 'anthropic-version: header is required' }, request_id: res.headers.get('request-id') } });
    }
    // A credential is checked first: no key at all is still a 401.
    expect((await fetch(`${fake.url}/v1/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: hello() })).status).toBe(401);
  });

  test('no credential is a 401 and an unlisted credential is refused when keys are configured', async () => {
    const res = await post('/v1/messages', hello(), { 'content-type': 'application/json' });
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ error: { type: 'authentication_error', message: 'x-api-key header is required' } });
    const strict = await startFakeClaude({ port: 0, apiKeys: ['sk-upstream'] });
    try {
      const bad = await fetch(`${strict.url}/v1/messages`, { method: 'POST', headers: KEY, body: hello() });
      expect(bad.status).toBe(401);
      expect(await bad.json()).toMatchObject({ error: { message: 'invalid x-api-key' } });
      const good = await fetch(`${strict.url}/v1/messages`, { method: 'POST', headers: { authorization: 'Bearer sk-upstream', 'anthropic-version': '2023-06-01' }, body: hello() });
      expect(good.status).toBe(200);
      await good.text();
    } finally {
      await strict.close();
    }
  });

  test('a body over the Messages limit is a 413 request_too_large', async () => {
    const small = await startFakeClaude({ port: 0, maxMessagesBytes: 1024 });
    try {
      const res = await fetch(`${small.url}/v1/messages`, { method: 'POST', headers: KEY, body: hello({ pad: 'x'.repeat(5000) }) });
      expect(res.status).toBe(413);
      expect(await res.json()).toMatchObject({ error: { type: 'request_too_large' } });
    } finally {
      await small.close();
    }
  });

  test('a scripted 429 carries retry-after and exhausted rate-limit headers', async () => {
    fake.script({ error: { type: 'rate_limit_error', headers: { 'retry-after': '3' } } });
    const res = await post('/v1/messages', hello());
    expect(res.status).toBe(429);
    expect(res.headers.get('retry-after')).toBe('3');
    expect(res.headers.get('anthropic-ratelimit-requests-remaining')).toBe('0');
    expect(await res.json()).toMatchObject({ error: { type: 'rate_limit_error' } });
  });

  test('a scripted 529 is overloaded_error with the real wording', async () => {
    fake.script({ error: { type: 'overloaded_error' } });
    const res = await post('/v1/messages', hello());
    expect(res.status).toBe(529);
    expect(await res.json()).toMatchObject({ error: { type: 'overloaded_error', message: 'Overloaded' } });
  });

  test('a scripted error mid-stream arrives as event: error after a 200 and some deltas', async () => {
    fake.script({ errorMidStream: { type: 'overloaded_error', message: 'Overloaded' }, text: 'a fairly long answer that will be cut in the middle of it' });
    const res = await post('/v1/messages', hello({ stream: true }));
    expect(res.status).toBe(200);
    const events = new SseParser().push(Buffer.from(await res.text()));
    const names = events.map((e) => e.event);
    expect(names).toContain('content_block_delta');
    expect(names[names.length - 1]).toBe('error');
    expect(names).not.toContain('message_stop');
    expect(JSON.parse(events[events.length - 1]!.data)).toMatchObject({ type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } });
  });

  test('a stream scripted to die ends without message_stop and without a clean end', async () => {
    fake.script({ dieMidStream: true });
    const got = await rawPost('/v1/messages', hello({ stream: true }));
    expect(got.status).toBe(200);
    expect(got.aborted).toBe(true);
    expect(got.bytes.toString()).toContain('event: message_start');
    expect(got.bytes.toString()).not.toContain('message_stop');
    // Or halfway through an event: the bytes end inside a `data:` line.
    fake.script({ dieMidStream: true, midEvent: true });
    const cut = await rawPost('/v1/messages', hello({ stream: true }));
    expect(cut.aborted).toBe(true);
    expect(cut.bytes.toString()).toMatch(/\n\nevent: content_block_delta\ndata: [^\n]+$/);
  });

  test('a reply scripted for requests containing some text answers only those', async () => {
    fake.script({ when: (r) => JSON.stringify(r.body).includes('weather'), text: 'Sunny.' });
    const other = await (await post('/v1/messages', hello())).json() as { content: Array<{ text: string }> };
    expect(other.content[0]!.text).toBe('echo: hello');
    const res = await post('/v1/messages', JSON.stringify({ model: 'claude-sonnet-4-5', max_tokens: 5, messages: [{ role: 'user', content: 'the weather?' }] }));
    expect(((await res.json()) as { content: Array<{ text: string }> }).content[0]!.text).toBe('Sunny.');
  });

  test('the fake remembers headers as received, repeated anthropic-beta lines included', async () => {
    await new Promise<void>((resolve, reject) => {
      const req = request(`${fake.url}/v1/messages?beta=true`, { method: 'POST', headers: ['host', new URL(fake.url).host, 'x-api-key', 'k', 'anthropic-beta', 'a-1', 'anthropic-beta', 'b-2,c-3', 'content-type', 'application/json'] }, (res) => { res.resume(); res.on('end', resolve); });
      req.on('error', reject);
      req.end(hello());
    });
    const seen = await fake.waitForRequest((r) => r.path === '/v1/messages');
    expect(seen.url).toBe('/v1/messages?beta=true');
    expect(headerValues(seen, 'anthropic-beta')).toEqual(['a-1', 'b-2,c-3']);
    expect(seen.body).toMatchObject({ model: 'claude-sonnet-4-5' });
  });
});

describe('recorded streams', () => {
  test('every fixture replays byte for byte', async () => {
    const names = fake.fixtureNames();
    expect(names.length).toBeGreaterThanOrEqual(9);
    for (const name of names) {
      fake.script({ fixture: name });
      const res = await post('/v1/messages', hello({ stream: true }));
      const got = Buffer.from(await res.arrayBuffer());
      expect(got.equals(readFileSync(join(fake.fixturesDir, name)))).toBe(true);
    }
  });

  test('a fixture written in small chunks still arrives byte for byte', async () => {
    fake.script({ fixture: 'tool_use_response.txt', chunks: [1, 7, 13] });
    const got = await rawPost('/v1/messages', hello({ stream: true }));
    expect(got.bytes.equals(readFileSync(join(fake.fixturesDir, 'tool_use_response.txt')))).toBe(true);
  });
});

describe('other endpoints', () => {
  test('Claude Code warm-up probes HEAD / and HEAD /api/hello answer 200 without a credential', async () => {
    for (const path of ['/', '/api/hello']) expect((await fetch(fake.url + path, { method: 'HEAD' })).status).toBe(200);
  });

  test('count_tokens answers a deterministic estimate that grows with the prompt', async () => {
    const count = async (content: string) => ((await (await post('/v1/messages/count_tokens', JSON.stringify({ model: 'claude-sonnet-4-5', messages: [{ role: 'user', content }] }))).json()) as { input_tokens: number }).input_tokens;
    const a = await count('short');
    expect(await count('short')).toBe(a);
    expect(await count('a much longer prompt than the short one')).toBeGreaterThan(a);
  });

  test('models list has the cursor shape and a single model can be fetched', async () => {
    const list = await (await fetch(`${fake.url}/v1/models?limit=2`, { headers: KEY })).json() as { data: Array<{ id: string }>; has_more: boolean; first_id: string; last_id: string };
    expect(list.data).toHaveLength(2);
    expect(list).toMatchObject({ has_more: true, first_id: list.data[0]!.id, last_id: list.data[1]!.id });
    const next = await (await fetch(`${fake.url}/v1/models?limit=2&after_id=${list.last_id}`, { headers: KEY })).json() as { data: Array<{ id: string }> };
    expect(next.data[0]!.id).not.toBe(list.last_id);
    const one = await (await fetch(`${fake.url}/v1/models/${list.first_id}`, { headers: KEY })).json();
    expect(one).toMatchObject({ type: 'model', id: list.first_id });
    // An alias resolves to the dated model it names, as the API's model lookup does; an unknown one is a 404.
    for (const [alias, id] of [['claude-sonnet-4-5', 'claude-sonnet-4-5-20250929'], ['claude-3-5-haiku-latest', 'claude-3-5-haiku-20241022'], ['claude-3-5-haiku', 'claude-3-5-haiku-20241022']]) {
      const res = await fetch(`${fake.url}/v1/models/${alias}`, { headers: KEY });
      expect({ alias, status: res.status, body: await res.json() }).toEqual({ alias, status: 200, body: expect.objectContaining({ type: 'model', id }) });
    }
    const missing = await fetch(`${fake.url}/v1/models/claude-sonnet-9`, { headers: KEY });
    expect({ status: missing.status, body: await missing.json() }).toEqual({ status: 404, body: expect.objectContaining({ error: { type: 'not_found_error', message: 'model: claude-sonnet-9' } }) });
  });

  test('a batch ends with an absolute results_url on the fake origin serving JSONL', async () => {
    const created = await (await post('/v1/messages/batches', JSON.stringify({ requests: [
      { custom_id: 'a', params: { model: 'claude-sonnet-4-5', max_tokens: 5, messages: [{ role: 'user', content: 'one' }] } },
      { custom_id: 'b', params: { model: 'claude-sonnet-4-5', messages: [{ role: 'user', content: 'two' }] } },
    ] }))).json() as { id: string; processing_status: string; results_url: string | null };
    expect(created).toMatchObject({ type: 'message_batch', processing_status: 'in_progress', results_url: null });
    const batch = await (await fetch(`${fake.url}/v1/messages/batches/${created.id}`, { headers: KEY })).json() as { processing_status: string; results_url: string; request_counts: Record<string, number> };
    expect(batch.processing_status).toBe('ended');
    expect(batch.results_url).toBe(`${fake.url}/v1/messages/batches/${created.id}/results`);
    expect(batch.request_counts).toMatchObject({ succeeded: 1, errored: 1 });
    const lines = (await (await fetch(batch.results_url, { headers: KEY })).text()).trim().split('\n').map((l) => JSON.parse(l));
    expect(lines[0]).toMatchObject({ custom_id: 'a', result: { type: 'succeeded', message: { content: [{ text: 'echo: one' }] } } });
    expect(lines[1]).toMatchObject({ custom_id: 'b', result: { type: 'errored', error: { error: { message: 'max_tokens: Field required' } } } });
  });

  test('a file uploaded as multipart can be listed, downloaded and deleted', async () => {
    const form = new FormData();
    form.append('file', new Blob(['report body\n'], { type: 'text/plain' }), 'report.txt');
    const meta = await (await fetch(`${fake.url}/v1/files`, { method: 'POST', headers: { 'x-api-key': 'k', 'anthropic-version': '2023-06-01' }, body: form })).json() as { id: string; size_bytes: number; filename: string };
    expect(meta).toMatchObject({ type: 'file', filename: 'report.txt', size_bytes: 12, mime_type: 'text/plain' });
    const list = await (await fetch(`${fake.url}/v1/files`, { headers: KEY })).json() as { data: Array<{ id: string }> };
    expect(list.data.map((f) => f.id)).toContain(meta.id);
    expect(await (await fetch(`${fake.url}/v1/files/${meta.id}/content`, { headers: KEY })).text()).toBe('report body\n');
    expect(await (await fetch(`${fake.url}/v1/files/${meta.id}`, { method: 'DELETE', headers: KEY })).json()).toEqual({ id: meta.id, type: 'file_deleted' });
    expect((await fetch(`${fake.url}/v1/files/${meta.id}`, { headers: KEY })).status).toBe(404);
  });

  test('a skill folder uploaded as multipart becomes a skill named from SKILL.md, with versions and a zip of each', async () => {
    const folder = (description: string, name = 'restart-pods') => {
      const form = new FormData();
      form.append('files[]', new Blob([`---\nname: ${name}\ndescription: ${description}\n---\nBody\n`]), 'restart-pods/SKILL.md');
      form.append('files[]', new Blob(['kubectl rollout restart "$1"\n']), 'restart-pods/restart.sh');
      return form;
    };
    const first = folder('Restarts crashed pods');
    first.append('display_name', 'Restart pods');
    const skill = await (await fetch(`${fake.url}/v1/skills`, { method: 'POST', headers: { 'x-api-key': 'k', 'anthropic-version': '2023-06-01' }, body: first })).json() as { id: string; latest_version_id: string };
    expect(skill).toMatchObject({ type: 'skill', display_name: 'Restart pods', source: { type: 'custom' }, latest_version_id: expect.stringMatching(/^skillver_01/) });
    const v1 = await (await fetch(`${fake.url}/v1/skills/${skill.id}/versions/${skill.latest_version_id}`, { headers: KEY })).json();
    expect(v1).toEqual({ id: skill.latest_version_id, type: 'skill_version', skill_id: skill.id, name: 'restart-pods', description: 'Restarts crashed pods', created_at: expect.any(String) });
    // A new version keeps the skill's name; `latest` follows it.
    const renamed = await fetch(`${fake.url}/v1/skills/${skill.id}/versions`, { method: 'POST', headers: { 'x-api-key': 'k', 'anthropic-version': '2023-06-01' }, body: folder('x', 'other-name') });
    expect(renamed.status).toBe(400);
    const v2 = await (await fetch(`${fake.url}/v1/skills/${skill.id}/versions`, { method: 'POST', headers: { 'x-api-key': 'k', 'anthropic-version': '2023-06-01' }, body: folder('Restarts pods, gently') })).json() as { id: string };
    expect(await (await fetch(`${fake.url}/v1/skills/${skill.id}/versions/latest`, { headers: KEY })).json()).toMatchObject({ id: v2.id, description: 'Restarts pods, gently' });
    expect(await (await fetch(`${fake.url}/v1/skills/${skill.id}`, { headers: KEY })).json()).toMatchObject({ latest_version_id: v2.id });
    // The version's folder, as a zip whose entries hold the uploaded bytes.
    const res = await fetch(`${fake.url}/v1/skills/${skill.id}/versions/${v2.id}/content`, { headers: KEY });
    expect(res.headers.get('content-type')).toBe('application/zip');
    expect(zipEntries(Buffer.from(await res.arrayBuffer()))).toEqual([
      ['restart-pods/SKILL.md', '---\nname: restart-pods\ndescription: Restarts pods, gently\n---\nBody\n'],
      ['restart-pods/restart.sh', 'kubectl rollout restart "$1"\n'],
    ]);
    expect(await (await fetch(`${fake.url}/v1/skills/${skill.id}/versions/${v2.id}`, { method: 'DELETE', headers: KEY })).json()).toEqual({ id: v2.id, type: 'skill_version_deleted' });
  });

  test('the legacy complete endpoint streams completion events', async () => {
    const res = await post('/v1/complete', JSON.stringify({ model: 'claude-3-haiku-20240307', max_tokens_to_sample: 10, stream: true, prompt: '\n\nHuman: hi there\n\nAssistant:' }));
    const events = new SseParser().push(Buffer.from(await res.text()));
    expect(events.every((e) => e.event === 'completion')).toBe(true);
    expect(events.map((e) => JSON.parse(e.data).completion).join('')).toBe(' echo: hi there');
    expect(JSON.parse(events[events.length - 1]!.data).stop_reason).toBe('stop_sequence');
  });

  test('an unknown /v1 path is a 404 not_found_error', async () => {
    const res = await fetch(`${fake.url}/v1/nope`, { headers: KEY });
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ type: 'error', error: { type: 'not_found_error' } });
  });
});

/** The entries of a zip archive as [name, text], each checked against its CRC-32 (stored entries only). */
function zipEntries(zip: Buffer): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  let at = 0;
  while (zip.readUInt32LE(at) === 0x04034b50) {
    expect(zip.readUInt16LE(at + 8)).toBe(0);
    const size = zip.readUInt32LE(at + 18);
    const nameLength = zip.readUInt16LE(at + 26);
    const start = at + 30 + nameLength + zip.readUInt16LE(at + 28);
    const bytes = zip.subarray(start, start + size);
    expect(crc32(bytes)).toBe(zip.readUInt32LE(at + 14));
    out.push([zip.subarray(at + 30, at + 30 + nameLength).toString('utf8'), bytes.toString('utf8')]);
    at = start + size;
  }
  expect(zip.readUInt32LE(zip.length - 22)).toBe(0x06054b50);
  expect(zip.readUInt16LE(zip.length - 12)).toBe(out.length);
  return out;
}
