// The assembled sidecar (the same wiring `skillgate sidecar` uses, local mode) with the official
// SDK as the skill and fake Claude as the upstream: every exchange lands in the session record with
// masked bodies only, a planted value is found again by its fingerprint, and each masking mode
// rewrites exactly what it promises (and record mode rewrites nothing).
import { createHash } from 'node:crypto';
import http from 'node:http';
import { mkdtempSync, rmSync, writeFileSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Anthropic, { toFile } from '@anthropic-ai/sdk';
import { startFakeClaude, type FakeClaude } from '@skillgate/fake-claude';
import { createMasker } from '@skillgate/masking';
import { FileSessionStore, findFingerprint, fingerprintOf, verifyRecord } from '@skillgate/record';
import { jsonNumberText } from '@skillgate/wire';
import { resolveConfig, startSidecar, type Sidecar } from '../src/index.js';
import { sidecarPorts } from '../src/wiring.js';

const UPSTREAM_KEY = 'sk-ant-upstream-for-masking-tests';
const MASKING_KEY = 'test-installation-key';
const EMAIL = 'jane.doe@example.com';
const CARD = '4111 1111 1111 1111';
const MODEL = 'claude-sonnet-4-6';

interface Rig { fake: FakeClaude; sidecar: Sidecar; dir: string; client: Anthropic; close(): Promise<void> }

async function rig(mode: string): Promise<Rig> {
  const dir = mkdtempSync(join(tmpdir(), 'sg-mask-'));
  const policyFile = join(dir, 'policy.yaml');
  writeFileSync(policyFile, `apiVersion: skillgate.dev/v1alpha1\nkind: SkillPolicy\nmetadata: { name: masking-${mode} }\nspec:\n  masking: { mode: ${mode} }\n`);
  const fake = await startFakeClaude({ apiKeys: [UPSTREAM_KEY] });
  const config = resolveConfig({
    upstreamUrl: fake.url, upstreamApiKey: UPSTREAM_KEY, policyFile, recordDir: join(dir, 'records'), maskingKey: MASKING_KEY,
    listen: { claude: 0, egress: 0, dns: 0, health: 0, metrics: 0, adminHost: '127.0.0.1' }, logLevel: 'silent',
  });
  const sidecar = await startSidecar(config, await sidecarPorts(config, {}));
  const client = new Anthropic({ baseURL: sidecar.claudeUrl, apiKey: 'placeholder', maxRetries: 0 });
  return { fake, sidecar, dir, client, async close() { await sidecar.close(); await fake.close(); rmSync(dir, { recursive: true, force: true }); } };
}

const userText = `Please bill ${EMAIL} on card ${CARD} today.`;
const lastUpstreamText = (fake: FakeClaude): string => {
  const body = fake.requests.filter((r) => r.path === '/v1/messages').at(-1)!.body as { messages: Array<{ content: string }> };
  return body.messages.at(-1)!.content;
};

async function streamedText(client: Anthropic): Promise<string> {
  const stream = client.messages.stream({ model: MODEL, max_tokens: 64, messages: [{ role: 'user', content: userText }] });
  return (await stream.finalText());
}

/** A PDF that shows a person's address (as a scan would), sent as a base64 document with a question about it. */
async function sendPdf(r: Rig): Promise<string> {
  const pdf = Buffer.from(`%PDF-1.7\n(Invoice for ${EMAIL}) Tj\n%%EOF\n`).toString('base64');
  await r.client.messages.create({ model: MODEL, max_tokens: 16, messages: [{ role: 'user', content: [
    { type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: pdf } },
    { type: 'text', text: `Who is ${EMAIL}?` },
  ] }] });
  return pdf;
}

/** What Claude got of sendPdf's document, and what the record keeps of it. */
function pdfSeen(r: Rig, pdf: string): { upstreamData: string; recorded: string } {
  const body = r.fake.requests.filter((q) => q.path === '/v1/messages').at(-1)!.body as { messages: Array<{ content: Array<{ source?: { data: string } }> }> };
  return { upstreamData: body.messages[0]!.content[0]!.source!.data, recorded: recordedText(r.dir).split('\n').filter((l) => l.includes('omitted from the record') || l.includes(pdf)).join('\n') };
}

/** A request whose tool input writes a 19-digit card and a 20-digit order id as JSON numbers, sent as text (an SDK would round them). */
const LONG_NUMBERS = `{"model":"${MODEL}","max_tokens":16,"messages":[{"role":"user","content":"pay"},{"role":"assistant","content":[{"type":"tool_use","id":"toolu_1","name":"pay","input":{"card":4111111111111111110,"order_id":98765432109876543210,"email":"${EMAIL}"}}]},{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1","content":"paid"}]}]}`;

/** Send LONG_NUMBERS; the tool input Claude got (numbers as their text, as the API reads them). */
async function sendLongNumbers(r: Rig): Promise<Record<string, unknown>> {
  const res = await fetch(`${r.sidecar.claudeUrl}/v1/messages`, { method: 'POST', headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01', 'x-api-key': 'placeholder' }, body: LONG_NUMBERS });
  expect(res.status).toBe(200);
  await res.text();
  const body = r.fake.requests.filter((q) => q.path === '/v1/messages').at(-1)!.body as { messages: Array<{ content: Array<{ input?: Record<string, unknown> }> }> };
  const input = body.messages[1]!.content[0]!.input!;
  return Object.fromEntries(Object.entries(input).map(([k, v]) => [k, jsonNumberText(v) ?? v]));
}

describe('record mode (the default)', () => {
  let r: Rig;
  beforeAll(async () => { r = await rig('record'); });
  afterAll(async () => { await r.close(); });

  it('forwards long numbers as sent, and the record masks a card a tool input writes as a 19-digit number', async () => {
    expect(await sendLongNumbers(r)).toEqual({ card: '4111111111111111110', order_id: '98765432109876543210', email: EMAIL });
    await new Promise((resolve) => setTimeout(resolve, 50)); // the answer's events linger a few ms
    const recorded = recordedText(r.dir);
    expect(recorded).toContain('98765432109876543210');
    expect(recorded).not.toContain('4111111111111111110');
  });

  it('forwards the values untouched and returns them untouched', async () => {
    const text = await streamedText(r.client);
    expect(lastUpstreamText(r.fake)).toBe(userText);
    expect(text).toContain(EMAIL);
  });

  it('records the events of a stream that is not a Messages one (a legacy completion) masked too', async () => {
    const res = await fetch(`${r.sidecar.claudeUrl}/v1/complete`, {
      method: 'POST', headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
      body: JSON.stringify({ model: 'claude-3-haiku-20240307', max_tokens_to_sample: 64, stream: true, prompt: `\n\nHuman: write to ${EMAIL}\n\nAssistant:` }),
    });
    const text = await res.text();
    expect(text).toContain('event: completion');
    expect(text).toContain(EMAIL.slice(0, 4)); // the skill gets the answer as sent (record mode)
    for (let i = 0; i < 100 && !recordedText(r.dir).includes('"completion"'); i++) await new Promise((resolve) => setTimeout(resolve, 20));
    const record = recordedText(r.dir);
    expect(record).toContain('completion');
    expect(record).not.toContain(EMAIL);
  });

  it('forwards base64 media untouched and records it by digest only, never its bytes', async () => {
    const pdf = await sendPdf(r);
    const seen = pdfSeen(r, pdf);
    expect(seen.upstreamData).toBe(pdf);
    expect(seen.recorded).not.toContain(pdf);
    expect(seen.recorded).toContain(`[omitted from the record: ${Buffer.from(pdf, 'base64').length} bytes, sha256 ${createHash('sha256').update(Buffer.from(pdf, 'base64')).digest('hex')}]`);
    expect(recordedText(r.dir)).not.toContain(EMAIL);
  });

  it('records a body with nothing to mask as it was sent, byte for byte (not re-serialised)', async () => {
    // Pretty-printed, as a hand-written client might send it: a re-serialised copy would differ.
    const sent = JSON.stringify({ model: MODEL, max_tokens: 16, messages: [{ role: 'user', content: 'Nothing sensitive here.' }] }, null, 2);
    const res = await fetch(`${r.sidecar.claudeUrl}/v1/messages`, {
      method: 'POST', body: sent,
      headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01', 'x-api-key': 'placeholder' },
    });
    expect(res.status).toBe(200);
    const answer = await res.text();
    type Line = { kind: string; requestId?: string; data: { body?: string } };
    const recorded = (): Line[] => readdirSync(join(r.dir, 'records', 'sessions'))
      .flatMap((f) => readFileSync(join(r.dir, 'records', 'sessions', f), 'utf8').split('\n').filter(Boolean))
      .map((line) => JSON.parse(line) as Line);
    const request = recorded().find((e) => e.kind === 'request' && e.data.body?.includes('Nothing sensitive here.'));
    expect(request?.data.body).toBe(sent);
    // The answer's event is written a few ms after the answer (it rides with the next write).
    let mine: Line[] = [];
    for (let i = 0; i < 100 && !mine.some((e) => e.kind === 'response'); i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      mine = recorded().filter((e) => e.requestId === request!.requestId);
    }
    expect(mine.find((e) => e.kind === 'response')?.data.body).toBe(answer);
  });

  /** Send raw bytes as a Messages request; expect skillgate's 400, nothing forwarded; the error's message. */
  async function refusedAsBadRequest(sent: string | Buffer): Promise<string> {
    const forwarded = r.fake.requests.length;
    const res = await fetch(`${r.sidecar.claudeUrl}/v1/messages`, {
      method: 'POST', body: sent,
      headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01', 'x-api-key': 'placeholder' },
    });
    expect(res.status).toBe(400);
    expect(res.headers.get('x-skillgate-error')).toBe('SG_BAD_REQUEST');
    const body = await res.json() as { error: { type: string; message: string } };
    expect(body.error.type).toBe('invalid_request_error');
    expect(r.fake.requests.length).toBe(forwarded);
    return body.error.message;
  }

  it('masks the values of headers the skill adds in the record, and finds them by fingerprint', async () => {
    const customer = 'header.customer@example.org';
    await r.client.messages.create({ model: MODEL, max_tokens: 8, messages: [{ role: 'user', content: 'hello' }] }, { headers: { 'x-customer-email': customer, 'x-ticket': 'T-1' } });
    // Forwarded as sent: only the record masks.
    expect(r.fake.requests.at(-1)!.headers['x-customer-email']).toBe(customer);
    const store = new FileSessionStore(join(r.dir, 'records'));
    const hits = await findFingerprint(store, fingerprintOf(MASKING_KEY, customer));
    await store.close();
    expect(hits).toEqual([expect.objectContaining({ kind: 'request', direction: 'request', types: ['EMAIL_ADDRESS'] })]);
    expect(recordedText(r.dir)).not.toContain(customer);
    expect(recordedText(r.dir)).toContain('"x-customer-email":"[EMAIL_ADDRESS]"');
    expect(recordedText(r.dir)).toContain('"x-ticket":"T-1"');
  });

  it('refuses a body that names a member twice, forwarding nothing and recording none of its values', async () => {
    // JSON.parse keeps the last "messages", which masking would judge; the Claude API might read the first.
    const sent = `{"model":"${MODEL}","max_tokens":16,"messages":[{"role":"user","content":"${userText}"}],"messages":[{"role":"user","content":"hello"}]}`;
    expect(await refusedAsBadRequest(sent)).toMatch(/names the member "messages" twice/);
    expect(recordedText(r.dir)).not.toContain(EMAIL);
    // The attempt itself is on the record: what it asked for and why it was refused.
    let refusal: { data: Record<string, unknown> } | undefined;
    for (let i = 0; i < 100 && !refusal; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20)); // it lingers a few ms
      refusal = recordedText(r.dir).split('\n').filter(Boolean).map((l) => JSON.parse(l) as { kind: string; data: Record<string, unknown> })
        .find((e) => e.kind === 'refusal' && e.data.code === 'SG_BAD_REQUEST' && /twice/.test(String(e.data.message)));
    }
    expect(refusal?.data).toMatchObject({ status: 400, code: 'SG_BAD_REQUEST', method: 'POST', path: '/v1/messages' });
  });

  it('refuses a body that is not UTF-8, forwarding nothing and recording none of its values', async () => {
    // Decoded, the 0xFF byte becomes U+FFFD and the address no longer reads as one to the masker.
    const sent = Buffer.concat([
      Buffer.from(`{"model":"${MODEL}","max_tokens":16,"messages":[{"role":"user","content":"bill jane`),
      Buffer.from([0xff]),
      Buffer.from(`.doe@example.com on card ${CARD}"}]}`),
    ]);
    expect(await refusedAsBadRequest(sent)).toMatch(/not valid UTF-8/);
    expect(recordedText(r.dir)).not.toContain('doe@example.com');
  });

  it('keeps only masked copies in the record, findable by fingerprint, with a chain that verifies', async () => {
    await r.client.messages.create({ model: MODEL, max_tokens: 32, messages: [{ role: 'user', content: `non-streaming ${EMAIL}` }] });
    await r.sidecar.close(); // flushes the journal
    const files = readdirSync(join(r.dir, 'records', 'sessions'));
    const raw = files.map((f) => readFileSync(join(r.dir, 'records', 'sessions', f), 'utf8')).join('\n');
    expect(raw).toContain('[EMAIL_ADDRESS]');
    expect(raw).not.toContain(EMAIL);
    expect(raw).not.toContain(CARD);
    expect(raw).not.toContain('placeholder'); // the skill's credential never lands in a record
    const store = new FileSessionStore(join(r.dir, 'records'));
    const hits = await findFingerprint(store, fingerprintOf(MASKING_KEY, EMAIL));
    const kinds = new Set(hits.map((h) => h.kind));
    expect(kinds.has('request')).toBe(true);
    expect(kinds.has('stream_event')).toBe(true); // the streamed answer echoed it back
    expect(kinds.has('response')).toBe(true);     // and so did the non-streaming one
    const report = await verifyRecord(store);
    expect(report.ok).toBe(true);
    await store.close();
  });
});

/** A Message Batch carrying the planted values and an MCP server's token. */
const batchRequest = {
  requests: [{ custom_id: 'a', params: {
    model: MODEL, max_tokens: 16, messages: [{ role: 'user', content: userText }],
    mcp_servers: [{ type: 'url', url: 'https://mcp.example/sse', name: 'crm', authorization_token: 'oauth-SECRET-batch' }],
  } }],
};
const createBatch = (r: Rig) => fetch(`${r.sidecar.claudeUrl}/v1/messages/batches`, {
  method: 'POST', body: JSON.stringify(batchRequest),
  headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01', 'x-api-key': 'placeholder', 'anthropic-beta': 'mcp-client-2025-04-04' },
});
const recordedText = (dir: string): string => readdirSync(join(dir, 'records', 'sessions'))
  .map((f) => readFileSync(join(dir, 'records', 'sessions', f), 'utf8')).join('\n');

describe('an upload in record mode', () => {
  let r: Rig;
  beforeAll(async () => { r = await rig('record'); });
  afterAll(async () => { await r.close(); });
  it('records the bytes it streamed through with the answer: their size and sha256, never a digest it did not take', async () => {
    const boundary = 'skillgate-test-boundary';
    const body = Buffer.concat([
      Buffer.from(`--${boundary}\r\ncontent-disposition: form-data; name="file"; filename="notes.txt"\r\ncontent-type: text/plain\r\n\r\n`),
      Buffer.alloc(64 * 1024, 'x'),
      Buffer.from(`\r\n--${boundary}--\r\n`),
    ]);
    const res = await fetch(`${r.sidecar.claudeUrl}/v1/files`, {
      method: 'POST', body,
      headers: { 'content-type': `multipart/form-data; boundary=${boundary}`, 'anthropic-version': '2023-06-01', 'anthropic-beta': 'files-api-2025-04-14', 'x-api-key': 'placeholder' },
    });
    expect(res.status).toBe(200);
    await res.text();
    type Line = { kind: string; requestId?: string; data: { path?: string; bodySha256?: string; bodyStreamed?: boolean; bodyBytes?: number; upload?: { bytes: number; sha256: string } } };
    let lines: Line[] = [];
    for (let i = 0; i < 100 && !lines.some((e) => e.kind === 'response'); i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      lines = recordedText(r.dir).split('\n').filter(Boolean).map((l) => JSON.parse(l) as Line);
      const request = lines.find((e) => e.kind === 'request' && e.data.path === '/v1/files');
      lines = request ? lines.filter((e) => e.requestId === request.requestId) : [];
    }
    const request = lines.find((e) => e.kind === 'request')!;
    expect(request.data).toMatchObject({ bodyStreamed: true, bodyBytes: body.length });
    expect(request.data.bodySha256).toBeUndefined();
    expect(lines.find((e) => e.kind === 'response')!.data.upload).toEqual({ bytes: body.length, sha256: createHash('sha256').update(body).digest('hex') });
  });
});

describe('text files uploaded in record mode', () => {
  let r: Rig;
  beforeAll(async () => { r = await rig('record'); });
  afterAll(async () => { await r.close(); });
  const stored = async (id: string) => Buffer.from(await (await fetch(`${r.fake.url}/v1/files/${id}/content`, { headers: { 'x-api-key': UPSTREAM_KEY, 'anthropic-version': '2023-06-01' } })).arrayBuffer());
  type Upload = { found?: number; findings?: Array<{ fingerprint: string; path?: string }>; unread?: string };
  const recordedUploads = (): Upload[] => recordedText(r.dir).split('\n').filter(Boolean)
    .map((l) => (JSON.parse(l) as { data: { upload?: Upload } }).data.upload).filter((u): u is Upload => u !== undefined);
  async function uploadRecorded(count: number): Promise<Upload[]> {
    for (let i = 0; i < 100 && recordedUploads().length < count; i++) await new Promise((resolve) => setTimeout(resolve, 20));
    return recordedUploads();
  }

  it('go upstream as sent, and the record names the values in them', async () => {
    const csv = Buffer.from(`name,email\r\nJane,${EMAIL}\r\n`);
    const file = await r.client.beta.files.upload({ file: await toFile(csv, 'customers.csv', { type: 'text/csv' }), betas: ['files-api-2025-04-14'] });
    expect((await stored(file.id)).equals(csv)).toBe(true);
    const [upload] = await uploadRecorded(1);
    expect(upload).toMatchObject({ found: 2, findings: expect.arrayContaining([expect.objectContaining({ fingerprint: fingerprintOf(MASKING_KEY, EMAIL), path: 'file#0' })]) });
    const store = new FileSessionStore(join(r.dir, 'records'));
    expect(await findFingerprint(store, fingerprintOf(MASKING_KEY, EMAIL))).toEqual([expect.objectContaining({ kind: 'response', direction: 'request', types: ['EMAIL_ADDRESS'] })]);
    await store.close();
    expect(recordedText(r.dir)).not.toContain(EMAIL);
  });

  it('go upstream as sent in a skill\'s folder too (Skills API), and the record names the values in them', async () => {
    const owner = 'skill.author@example.net';
    const skill = await r.client.beta.skills.create({
      files: [await toFile(Buffer.from(`---\nname: notify\ndescription: Mails ${owner}\n---\n`), 'notify/SKILL.md')],
      betas: ['skills-2025-10-02'],
    });
    const version = await r.client.beta.skills.versions.retrieve(skill.latest_version_id, { skill_id: skill.id, betas: ['skills-2025-10-02'] });
    expect(version.description).toBe(`Mails ${owner}`);
    const store = new FileSessionStore(join(r.dir, 'records'));
    let hits: Awaited<ReturnType<typeof findFingerprint>> = [];
    for (let i = 0; i < 100 && hits.length < 2; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20)); // the answer's event lingers a few ms
      hits = await findFingerprint(store, fingerprintOf(MASKING_KEY, owner));
    }
    // The upload that carried it, and the answer that gave it back (the version's description).
    expect(hits).toEqual([
      expect.objectContaining({ kind: 'response', direction: 'request', types: ['EMAIL_ADDRESS'] }),
      expect.objectContaining({ kind: 'response', direction: 'response', types: ['EMAIL_ADDRESS'] }),
    ]);
    await store.close();
    expect(recordedText(r.dir)).not.toContain(owner);
  });

  it('go upstream as sent when they cannot be read, and the record says why', async () => {
    const latin1 = Buffer.from(`José;${EMAIL}\n`, 'latin1');
    const file = await r.client.beta.files.upload({ file: await toFile(latin1, 'export.csv', { type: 'text/csv' }), betas: ['files-api-2025-04-14'] });
    expect((await stored(file.id)).equals(latin1)).toBe(true);
    const uploads = await uploadRecorded(3);
    expect(uploads[2]).toMatchObject({ unread: 'the text file file#0 is not UTF-8' });
  });
});

describe('a Message Batch in record mode', () => {
  let r: Rig;
  beforeAll(async () => { r = await rig('record'); });
  afterAll(async () => { await r.close(); });
  it('is forwarded as sent and recorded masked, without the MCP token', async () => {
    expect((await createBatch(r)).status).toBe(200);
    const sent = JSON.stringify(r.fake.requests.filter((q) => q.path === '/v1/messages/batches').at(-1)!.body);
    expect(sent).toContain(EMAIL);
    const record = recordedText(r.dir);
    expect(record).toContain('/v1/messages/batches');
    expect(record).not.toContain(EMAIL);
    expect(record).not.toContain('4111 1111 1111 1111');
    expect(record).not.toContain('oauth-SECRET-batch');
    expect(record).toContain('[EMAIL_ADDRESS]');
  });
});

describe('request mode', () => {
  let r: Rig;
  beforeAll(async () => { r = await rig('request'); });
  afterAll(async () => { await r.close(); });
  it('masks a card a tool input writes as a 19-digit number, and sends the other long numbers with every digit', async () => {
    expect(await sendLongNumbers(r)).toEqual({ card: '[CREDIT_CARD]', order_id: '98765432109876543210', email: '[EMAIL_ADDRESS]' });
    await new Promise((resolve) => setTimeout(resolve, 50)); // the answer's events linger a few ms
    expect(recordedText(r.dir)).not.toContain('4111111111111111110');
  });

  it('keeps the values from Claude', async () => {
    await streamedText(r.client);
    const seen = lastUpstreamText(r.fake);
    expect(seen).not.toContain(EMAIL);
    expect(seen).toContain('[EMAIL_ADDRESS]');
    expect(seen).toContain('[CREDIT_CARD');
  });

  it('sends base64 media as it came and records it by digest only, its text masked', async () => {
    const pdf = await sendPdf(r);
    const seen = pdfSeen(r, pdf);
    expect(seen.upstreamData).toBe(pdf);
    expect(JSON.stringify(r.fake.requests.filter((q) => q.path === '/v1/messages').at(-1)!.body)).toContain('"Who is [EMAIL_ADDRESS]?"');
    expect(seen.recorded).not.toContain(pdf);
    expect(seen.recorded).toContain('[omitted from the record: ');
  });

  it('keeps them from Claude in an uploaded text file, masked as it streams; a binary file goes as sent', async () => {
    const csv = `name,email,card\r\nJane,${EMAIL},${CARD}\r\n${'plain row,nothing here,0\r\n'.repeat(4000)}`;
    const text = await r.client.beta.files.upload({ file: await toFile(Buffer.from(csv), 'customers.csv', { type: 'text/csv' }), betas: ['files-api-2025-04-14'] });
    const stored = await (await fetch(`${r.fake.url}/v1/files/${text.id}/content`, { headers: { 'x-api-key': UPSTREAM_KEY, 'anthropic-version': '2023-06-01' } })).text();
    // What Claude can read is the file masked as a whole text would be.
    expect(stored).toBe(createMasker(undefined, { key: MASKING_KEY }).maskText(csv).masked);
    expect(stored).toContain('[EMAIL_ADDRESS],[CREDIT_CARD]');
    // No media type, a text file's name: masked too.
    const named = await r.client.beta.files.upload({ file: await toFile(Buffer.from(`write to ${EMAIL}`), 'notes.md'), betas: ['files-api-2025-04-14'] });
    expect(await (await fetch(`${r.fake.url}/v1/files/${named.id}/content`, { headers: { 'x-api-key': UPSTREAM_KEY, 'anthropic-version': '2023-06-01' } })).text()).toBe('write to [EMAIL_ADDRESS]');
    const png = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.from(`tEXt ${EMAIL}`), Buffer.from([0xff, 0x00, 0xfe])]);
    const image = await r.client.beta.files.upload({ file: await toFile(png, 'scan.png', { type: 'image/png' }), betas: ['files-api-2025-04-14'] });
    const storedImage = Buffer.from(await (await fetch(`${r.fake.url}/v1/files/${image.id}/content`, { headers: { 'x-api-key': UPSTREAM_KEY, 'anthropic-version': '2023-06-01' } })).arrayBuffer());
    expect(storedImage.equals(png)).toBe(true);
    // The record names the upload that carried the value, by fingerprint; the value is not in it.
    const store = new FileSessionStore(join(r.dir, 'records'));
    let uploads: Awaited<ReturnType<typeof findFingerprint>> = [];
    for (let i = 0; i < 100 && uploads.length < 2; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20)); // the answer's event lingers a few ms
      uploads = (await findFingerprint(store, fingerprintOf(MASKING_KEY, EMAIL))).filter((h) => h.kind === 'response');
    }
    expect(uploads).toEqual([expect.objectContaining({ direction: 'request', types: ['EMAIL_ADDRESS'] }), expect.objectContaining({ direction: 'request', types: ['EMAIL_ADDRESS'] })]);
    await store.close();
    expect(recordedText(r.dir)).not.toContain(EMAIL);
  });

  it('masks a large text file as it streams, without holding it', async () => {
    const boundary = 'skillgate-large-text';
    const line = Buffer.from('order 1234, contact ann.lee@example.com, thanks\n'); // 48 bytes
    const lines = (24 * 1024 * 1024) / line.length;
    const head = Buffer.from(`--${boundary}\r\ncontent-disposition: form-data; name="file"; filename="orders.log"\r\ncontent-type: text/plain\r\n\r\n`);
    const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
    (globalThis as { gc?: () => void }).gc?.(); // npm test runs node with --expose-gc
    const used = (): number => { const m = process.memoryUsage(); return m.heapUsed + m.arrayBuffers; };
    const before = used();
    let peak = 0;
    const answer = await new Promise<string>((done, reject) => {
      const req = http.request(new URL('/v1/files', r.sidecar.claudeUrl), {
        method: 'POST', agent: false,
        headers: { 'content-type': `multipart/form-data; boundary=${boundary}`, 'content-length': String(head.length + lines * line.length + tail.length), 'anthropic-version': '2023-06-01', 'anthropic-beta': 'files-api-2025-04-14', 'x-api-key': 'placeholder' },
      }, (res) => {
        let text = '';
        res.on('data', (c: Buffer) => { text += c.toString(); });
        res.on('end', () => done(text));
      });
      req.on('error', reject);
      req.write(head);
      const block = Buffer.concat(Array.from({ length: 4096 }, () => line)); // 192 KB
      let sent = 0;
      const pump = (): void => {
        while (sent < lines) {
          sent += 4096;
          if (sent % (4096 * 16) === 0) {
            (globalThis as { gc?: () => void }).gc?.();
            peak = Math.max(peak, used() - before);
          }
          if (!req.write(block)) return void req.once('drain', pump);
        }
        req.end(tail);
      };
      pump();
    });
    const { id } = JSON.parse(answer) as { id: string };
    const stored = await (await fetch(`${r.fake.url}/v1/files/${id}/content`, { headers: { 'x-api-key': UPSTREAM_KEY, 'anthropic-version': '2023-06-01' } })).text();
    expect(stored.length).toBe(lines * 'order 1234, contact [EMAIL_ADDRESS], thanks\n'.length);
    expect(stored).not.toContain('@example.com');
    // Client, sidecar and fake Claude share this process: all together well below the file's size
    // (held whole, it would be all of it). Half, as for the unmasked upload (data-path.test.ts): on a
    // loaded machine what the three have queued for sockets the kernel has not taken yet adds up.
    expect(peak).toBeLessThan((lines * line.length) / 2);
    // The record counts every value and keeps each distinct one once: one address, half a million times.
    type Upload = { bytes: number; found?: number; findings?: Array<{ type: string; path?: string }> };
    let upload: Upload | undefined;
    for (let i = 0; i < 100 && !upload; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      upload = recordedText(r.dir).split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { data: { upload?: Upload } }).data.upload)
        .find((u) => u?.found === lines);
    }
    expect(upload).toMatchObject({ bytes: head.length + lines * line.length + tail.length, findings: [{ type: 'EMAIL_ADDRESS', path: 'file#0' }] });
  });

  it('refuses an uploaded text file that is not UTF-8, rather than send it unmasked', async () => {
    const latin1 = Buffer.from('name;email\nJosé;jose@example.com\n', 'latin1');
    const err = await r.client.beta.files.upload({ file: await toFile(latin1, 'export.csv', { type: 'text/csv' }), betas: ['files-api-2025-04-14'] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.BadRequestError);
    expect((err as InstanceType<typeof Anthropic.BadRequestError>).message).toMatch(/not UTF-8/);
    const list = await (await fetch(`${r.fake.url}/v1/files`, { headers: { 'x-api-key': UPSTREAM_KEY, 'anthropic-version': '2023-06-01', 'anthropic-beta': 'files-api-2025-04-14' } })).json() as { data: Array<{ filename: string }> };
    expect(list.data.map((f) => f.filename)).not.toContain('export.csv');
  });

  it('keeps them from Claude in a skill\'s folder uploaded to the Skills API', async () => {
    // Values of this test only, so that the record's search finds this upload alone.
    const owner = 'billing.owner@example.org';
    const card = '5555 5555 5555 4444';
    const skillMd = `---\nname: billing-helper\ndescription: Bills ${owner} monthly\n---\nCharge card ${card} on the first.\n`;
    const skill = await r.client.beta.skills.create({
      display_name: 'Billing helper',
      files: [await toFile(Buffer.from(skillMd), 'billing-helper/SKILL.md'), await toFile(Buffer.from(`TO = "${owner}"\n`), 'billing-helper/bill.py')],
      betas: ['skills-2025-10-02'],
    });
    // The Skills API read SKILL.md's front matter as Claude would: masked.
    const version = await r.client.beta.skills.versions.retrieve(skill.latest_version_id, { skill_id: skill.id, betas: ['skills-2025-10-02'] });
    expect(version.description).toBe('Bills [EMAIL_ADDRESS] monthly');
    // The record names the upload that carried the values (both files' email, SKILL.md's card).
    const store = new FileSessionStore(join(r.dir, 'records'));
    let hits: Awaited<ReturnType<typeof findFingerprint>> = [];
    for (let i = 0; i < 100 && hits.length === 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20)); // the answer's event lingers a few ms
      hits = await findFingerprint(store, fingerprintOf(MASKING_KEY, card.replace(/ /g, ''))); // a card's fingerprint is of its digits
    }
    expect(hits).toEqual([expect.objectContaining({ kind: 'response', direction: 'request', types: ['CREDIT_CARD'] })]);
    const uploads = recordedText(r.dir).split('\n').filter(Boolean)
      .map((l) => (JSON.parse(l) as { data: { upload?: { found?: number } } }).data.upload).filter((u) => u !== undefined);
    expect(uploads.at(-1)).toMatchObject({ found: 3 });
    await store.close();
    expect(recordedText(r.dir)).not.toContain(owner);
  });

  it('keeps them from Claude in a Message Batch too', async () => {
    expect((await createBatch(r)).status).toBe(200);
    const sent = JSON.stringify(r.fake.requests.filter((q) => q.path === '/v1/messages/batches').at(-1)!.body);
    expect(sent).not.toContain(EMAIL);
    expect(sent).toContain('[EMAIL_ADDRESS]');
  });
});

describe('response mode', () => {
  let r: Rig;
  beforeAll(async () => { r = await rig('response'); });
  afterAll(async () => { await r.close(); });
  it('keeps values Claude returns from the skill, streamed and not', async () => {
    const streamed = await streamedText(r.client);
    expect(lastUpstreamText(r.fake)).toBe(userText);
    expect(streamed).not.toContain(EMAIL);
    expect(streamed).toContain('[EMAIL_ADDRESS]');
    const whole = await r.client.messages.create({ model: MODEL, max_tokens: 32, messages: [{ role: 'user', content: userText }] });
    const text = whole.content.map((b) => (b.type === 'text' ? b.text : '')).join('');
    expect(text).not.toContain(EMAIL);
    expect(text).toContain('[EMAIL_ADDRESS]');
  });

  it('keeps values from the skill in JSON answers that are not Messages: a skill version, a legacy completion', async () => {
    // A skill uploaded straight to the upstream (by its author, say) names a person in its description.
    const upstream = new Anthropic({ baseURL: r.fake.url, apiKey: UPSTREAM_KEY, maxRetries: 0 });
    const skill = await upstream.beta.skills.create({ files: [await toFile(Buffer.from(`---\nname: notify\ndescription: Mails ${EMAIL}\n---\n`), 'notify/SKILL.md')], betas: ['skills-2025-10-02'] });
    const version = await r.client.beta.skills.versions.retrieve(skill.latest_version_id, { skill_id: skill.id, betas: ['skills-2025-10-02'] });
    expect(version.description).toBe('Mails [EMAIL_ADDRESS]');
    // The legacy Text Completions API: fake Claude echoes the human turn.
    const completion = await (await fetch(`${r.sidecar.claudeUrl}/v1/complete`, {
      method: 'POST', headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
      body: JSON.stringify({ model: 'claude-3-haiku-20240307', max_tokens_to_sample: 32, prompt: `\n\nHuman: write to ${EMAIL}\n\nAssistant:` }),
    })).json() as { completion: string };
    expect(completion.completion).not.toContain(EMAIL);
    expect(completion.completion).toContain('[EMAIL_ADDRESS]');
  });

  it('keeps values from the skill in a text file it downloads, masked as it streams; a binary file comes as sent', async () => {
    // Files Claude made (code execution output), put straight into the fake as the upstream holds them.
    const upstream = new Anthropic({ baseURL: r.fake.url, apiKey: UPSTREAM_KEY, maxRetries: 0 });
    const put = async (bytes: Buffer, name: string, type?: string) => (await upstream.beta.files.upload({ file: await toFile(bytes, name, type ? { type } : {}), betas: ['files-api-2025-04-14'] })).id;
    const csv = `name,email\n${'x,none\n'.repeat(20_000)}Jane,${EMAIL}\n`;
    const download = async (id: string) => Buffer.from(await (await r.client.beta.files.download(id, { betas: ['files-api-2025-04-14'] })).arrayBuffer());
    expect((await download(await put(Buffer.from(csv), 'report.csv', 'text/csv'))).toString()).toBe(createMasker(undefined, { key: MASKING_KEY }).maskText(csv).masked);
    expect((await download(await put(Buffer.from(`mail ${EMAIL}`), 'out.txt'))).toString()).toBe('mail [EMAIL_ADDRESS]');
    const bin = Buffer.concat([Buffer.from([0x25, 0x50, 0x44, 0x46, 0xff, 0xfe]), Buffer.from(EMAIL)]);
    expect((await download(await put(bin, 'report.pdf', 'application/pdf'))).equals(bin)).toBe(true);
    // A text file that is not UTF-8 cannot be masked: the download is cut, never sent raw.
    const latin1 = await put(Buffer.from(`José ${EMAIL}\n`, 'latin1'), 'latin1.txt', 'text/plain');
    await expect(download(latin1)).rejects.toThrow();
  });

  it('refuses a legacy completion stream, whose events it cannot mask live, and masks the same request unstreamed', async () => {
    const complete = (stream: boolean) => fetch(`${r.sidecar.claudeUrl}/v1/complete`, {
      method: 'POST', headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
      body: JSON.stringify({ model: 'claude-3-haiku-20240307', max_tokens_to_sample: 32, stream, prompt: `\n\nHuman: write to ${EMAIL}\n\nAssistant:` }),
    });
    const streamed = await complete(true);
    expect(streamed.status).toBe(403);
    expect(((await streamed.json()) as { error: { message: string } }).error.message).toMatch(/masking mode \(response\) rewrites answers as they stream/);
    const whole = (await (await complete(false)).json()) as { completion: string };
    expect(whole.completion).not.toContain(EMAIL);
  });

  it('refuses the OpenAI-compatible endpoint, whose answers it cannot mask, rather than pass them on unmasked', async () => {
    const before = r.fake.requests.length;
    const res = await fetch(`${r.sidecar.claudeUrl}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: MODEL, max_completion_tokens: 16, messages: [{ role: 'user', content: userText }] }) });
    expect(res.status).toBe(403);
    expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/masking mode \(response\) rewrites .* call \/v1\/messages instead/);
    expect(r.fake.requests.length).toBe(before);
  });

  it('keeps values Claude returns from the skill in a batch\'s results too', async () => {
    const batch = await r.client.messages.batches.create({ requests: [{ custom_id: 'a', params: { model: MODEL, max_tokens: 32, messages: [{ role: 'user', content: userText }] } }] });
    const texts: string[] = [];
    for await (const line of await r.client.messages.batches.results(batch.id)) {
      if (line.result.type === 'succeeded') texts.push(line.result.message.content.map((b) => (b.type === 'text' ? b.text : '')).join(''));
    }
    expect(texts).toHaveLength(1);
    expect(texts[0]).not.toContain(EMAIL);
    expect(texts[0]).toContain('[EMAIL_ADDRESS]');
  });

  it('still points a batch results_url back through the sidecar', async () => {
    const batch = await r.client.messages.batches.create({ requests: [{ custom_id: 'a', params: { model: MODEL, max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] } }] });
    const ended = await r.client.messages.batches.retrieve(batch.id);
    expect(ended.results_url).toBe(`${r.sidecar.claudeUrl}/v1/messages/batches/${batch.id}/results`);
  });
});

describe('tokenize mode', () => {
  let r: Rig;
  beforeAll(async () => { r = await rig('tokenize'); });
  afterAll(async () => { await r.close(); });
  it('shows Claude stable placeholders and gives the skill its values back', async () => {
    const streamed = await streamedText(r.client);
    const seen = lastUpstreamText(r.fake);
    expect(seen).not.toContain(EMAIL);
    expect(seen).toMatch(/<EMAIL_ADDRESS_\w+>/);
    expect(streamed).toContain(EMAIL);
    // The same value gets the same placeholder on the next turn (history is resent each turn).
    await streamedText(r.client);
    expect(lastUpstreamText(r.fake)).toBe(seen);
  });

  it('gives the skill its values back in a batch\'s results', async () => {
    const batch = await r.client.messages.batches.create({ requests: [{ custom_id: 'a', params: { model: MODEL, max_tokens: 32, messages: [{ role: 'user', content: userText }] } }] });
    const sent = JSON.stringify(r.fake.requests.filter((q) => q.path === '/v1/messages/batches').at(-1)!.body);
    expect(sent).not.toContain(EMAIL);
    const texts: string[] = [];
    for await (const line of await r.client.messages.batches.results(batch.id)) {
      if (line.result.type === 'succeeded') texts.push(line.result.message.content.map((b) => (b.type === 'text' ? b.text : '')).join(''));
    }
    expect(texts).toHaveLength(1);
    expect(texts[0]).toContain(EMAIL);
    expect(texts[0]).not.toMatch(/<EMAIL_ADDRESS_\w+>/);
  });

  it('shows Claude an uploaded text file with the same placeholders its messages get', async () => {
    const file = await r.client.beta.files.upload({ file: await toFile(Buffer.from(`contact: ${EMAIL}\n`), 'contact.txt', { type: 'text/plain' }), betas: ['files-api-2025-04-14'] });
    const stored = await (await fetch(`${r.fake.url}/v1/files/${file.id}/content`, { headers: { 'x-api-key': UPSTREAM_KEY, 'anthropic-version': '2023-06-01' } })).text();
    const placeholder = /<EMAIL_ADDRESS_\w+>/.exec(lastUpstreamText(r.fake))![0];
    expect(stored).toBe(`contact: ${placeholder}\n`);
  });
});
