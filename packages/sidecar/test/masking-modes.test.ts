// Masking modes: a body the upstream labels JSON but that is not is masked as text, never passed
// on raw (and never a 500 after the request was forwarded); tokenize mode's batch vaults; and, over
// a real sidecar, what reaches the Claude API and the skill in each mode (below).
import http from 'node:http';
import { gzipSync } from 'node:zlib';
import { MultipartRewriter, type PartInfo } from '@skillgate/wire';
import { BATCH_VAULTS, MaskerBook, maskedQuery, maskingVerdict } from '../src/masking-modes.js';
import type { Exchange } from '../src/exchange.js';
import { OK_ANSWER, startLocalSidecar, type LocalSidecar } from './local-sidecar.js';
import type { Received } from './upstream-double.js';

const x = { route: { kind: 'messages' } } as unknown as Exchange;
const book = new MaskerBook('masking-modes-test-key');

test('a response body that is not JSON is masked as text', () => {
  const { responseFilter } = maskingVerdict(x, { mode: 'response' }, book, {});
  const out = responseFilter!.body(Buffer.from('upstream said: mail maria@example.com {not json'));
  expect(out.toString()).toBe('upstream said: mail [EMAIL_ADDRESS] {not json');
  const plain = Buffer.from('nothing to see {');
  expect(responseFilter!.body(plain)).toBe(plain);
});

test('a JSON response body is masked where Messages put text', () => {
  const { responseFilter } = maskingVerdict(x, { mode: 'response' }, book, {});
  const out = JSON.parse(responseFilter!.body(Buffer.from(JSON.stringify({ type: 'message', content: [{ type: 'text', text: 'maria@example.com' }] }))).toString());
  expect(out.content[0].text).toBe('[EMAIL_ADDRESS]');
});

test('a query string is masked a parameter at a time as it reads decoded, and what holds nothing keeps its bytes', () => {
  const m = book.forSpec({ mode: 'request' });
  expect(maskedQuery('/v1/messages?beta=true', m)).toBeUndefined();
  expect(maskedQuery('/v1/messages', m)).toBeUndefined();
  expect(maskedQuery('/v1/x?beta=true&to=jane.doe%40example.com&&flag', m)).toBe('/v1/x?beta=true&to=%5BEMAIL_ADDRESS%5D&&flag');
  expect(maskedQuery('/v1/x?ssn=536+22+8974', m)).toBe('/v1/x?ssn=%5BUS_SSN%5D'); // '+' a space, the name its context
  expect(maskedQuery('/v1/x?jane.doe@example.com', m)).toBe('/v1/x?%5BEMAIL_ADDRESS%5D');
  expect(maskedQuery('/v1/x?bad=%E0%A4%A&to=jane.doe@example.com', m)).toBe('/v1/x?bad=%E0%A4%A&to=%5BEMAIL_ADDRESS%5D');
  // A value that does not decode (a stray '%') still reads its '+'s as spaces, as the record reads it.
  expect(maskedQuery('/v1/x?card=4111+1111+1111+1111%', m)).toBe('/v1/x?card=%5BCREDIT_CARD%5D%25');
  // '+' read as a sign too when reading it as a space finds nothing: a phone number, a tagged address.
  expect(maskedQuery('/v1/x?x=+14155552671', m)).toBe('/v1/x?x=%5BPHONE_NUMBER%5D');
  expect(maskedQuery('/v1/x?x=+14155552671%', m)).toBe('/v1/x?x=%5BPHONE_NUMBER%5D%25');
  expect(maskedQuery('/v1/x?to=jane+tag@example.com%', m)).toBe('/v1/x?to=%5BEMAIL_ADDRESS%5D%25');
  expect(maskedQuery('/v1/x?q=a+b', m)).toBeUndefined();
});

test('request mode masks a header value it left as it was before with a lookup, and one that holds something every time', () => {
  const spec = { mode: 'request' } as const;
  const shared = book.forSpec(spec);
  const seen: string[] = [];
  const maskText = shared.maskText.bind(shared);
  shared.maskText = (text: string) => { seen.push(text); return maskText(text); };
  const ex = { ...x, url: '/v1/messages', req: { headers: { 'user-agent': 'refunds-bot/1.4', 'x-customer-email': 'jane.doe@example.com' } } } as unknown as Exchange;
  for (let i = 0; i < 3; i++) {
    const { upstreamHeaders } = maskingVerdict(ex, spec, book, {});
    expect(upstreamHeaders).toMatchObject({ 'user-agent': 'refunds-bot/1.4', 'x-customer-email': '[EMAIL_ADDRESS]' });
  }
  expect(seen.filter((t) => t === 'refunds-bot/1.4')).toHaveLength(1);
  expect(seen.filter((t) => t === 'jane.doe@example.com')).toHaveLength(3);
  const changed = { ...ex, req: { headers: { 'user-agent': 'jane.doe@example.com' } } } as unknown as Exchange;
  expect(maskingVerdict(changed, spec, book, {}).upstreamHeaders).toMatchObject({ 'user-agent': '[EMAIL_ADDRESS]' }); // a new value is masked
});

test('the shared masker of a tokenize policy (the record\'s) keeps no values, while a conversation\'s does', () => {
  const b = new MaskerBook('masking-modes-test-key');
  const spec = { mode: 'tokenize' as const };
  for (let i = 0; i < 50; i++) {
    const recorded = b.forSpec(spec).maskAnswerText(JSON.stringify({ type: 'message', content: [{ type: 'text', text: `Reply to customer${i}@example.com` }] }), { forRecord: true });
    expect(recorded.masked).toMatch(/Reply to <EMAIL_ADDRESS_[0-9a-f]{16}>/); // the placeholder Claude saw
  }
  expect(b.forSpec(spec).vault.size).toBe(0);
  const conversation = b.fresh(spec);
  conversation.maskText('mail customer1@example.com');
  expect(conversation.vault.size).toBe(1);
});

describe('tokenize mode keeps a batch\'s vault for its results, within bounds', () => {
  const filled = (b: MaskerBook, n: number, prefix = 'user') => {
    const m = b.fresh({ mode: 'tokenize' });
    for (let i = 0; i < n; i++) m.maskText(`mail ${prefix}${i}@example.com`);
    return m;
  };
  const restores = (m: ReturnType<MaskerBook['fresh']> | undefined, placeholderOf: ReturnType<MaskerBook['fresh']>, value: string): boolean => {
    const placeholder = /<EMAIL_ADDRESS_\w+>/.exec(placeholderOf.maskText(`mail ${value}`).masked)![0];
    return m !== undefined && m.restoreText(placeholder) === value;
  };

  it('keeps the newest batches, drops one past its time, and never an empty vault', () => {
    let t = 0;
    const b = new MaskerBook('batch-vault-key-0123', { now: () => t, batchVaults: { ...BATCH_VAULTS, batches: 3 } });
    const first = filled(b, 2);
    b.keepForBatch('msgbatch_first', first);
    expect(restores(b.forBatch('msgbatch_first', { mode: 'tokenize' }), first, 'user1@example.com')).toBe(true);
    b.keepForBatch('msgbatch_empty', b.fresh({ mode: 'tokenize' }));
    expect(b.forBatch('msgbatch_empty', { mode: 'tokenize' })).toBeUndefined();
    for (let i = 0; i < 3; i++) b.keepForBatch(`msgbatch_${i}`, filled(b, 1));
    expect(b.forBatch('msgbatch_first', { mode: 'tokenize' })).toBeUndefined(); // the oldest made room
    expect(b.forBatch('msgbatch_2', { mode: 'tokenize' })).toBeDefined();
    t += BATCH_VAULTS.keepMs + 1;
    expect(b.forBatch('msgbatch_2', { mode: 'tokenize' })).toBeUndefined();
  });

  it('holds at most its bytes of placeholders and values in all, and a batch over them not at all', () => {
    const probe = new MaskerBook('batch-vault-key-0123');
    const sizeOf = (m: ReturnType<MaskerBook['fresh']>) => m.vault.detached().bytes;
    const b = new MaskerBook('batch-vault-key-0123', { batchVaults: { ...BATCH_VAULTS, bytes: sizeOf(filled(probe, 10)) + 10 } });
    b.keepForBatch('msgbatch_big', filled(b, 10, 'big'));
    expect(b.forBatch('msgbatch_big', { mode: 'tokenize' })).toBeDefined();
    const small = filled(b, 2, 'small');
    b.keepForBatch('msgbatch_small', small); // together past the bound: the older goes
    expect(b.forBatch('msgbatch_big', { mode: 'tokenize' })).toBeUndefined();
    expect(restores(b.forBatch('msgbatch_small', { mode: 'tokenize' }), small, 'small0@example.com')).toBe(true);
    b.keepForBatch('msgbatch_huge', filled(b, 40, 'huge')); // alone past the bound: not kept
    expect(b.forBatch('msgbatch_huge', { mode: 'tokenize' })).toBeUndefined();
  });

  it('keeps copies of the values, not the text they were found in', () => {
    const m = new MaskerBook('batch-vault-key-0123').fresh({ mode: 'tokenize' });
    m.maskText(`${'x'.repeat(100_000)} mail keep.me@example.com ${'y'.repeat(100_000)}`);
    const { vault, bytes } = m.vault.detached();
    expect(vault.size).toBe(1);
    expect(bytes).toBeLessThan(200); // a placeholder and an address, not the 200 KB around them
  });
});

// The modes over a real sidecar (the local wiring, a policy file) in front of the scripted upstream
// double, which stands in for the Claude API where a test needs to see exactly what reached it or to
// answer with exact bytes (a gzip-encoded answer): what the upstream received in the modes that mask
// requests, what the skill received in those that mask or restore answers, and nothing rewritten in
// record mode.
describe('masking modes on the wire', () => {
  const EMAIL = 'jane.doe@example.com';
  const CARD = '4111 1111 1111 1111';
  const policy = (mode: string) => `apiVersion: skillgate.dev/v1alpha1\nkind: SkillPolicy\nmetadata: { name: wire-${mode} }\nspec:\n  masking: { mode: ${mode} }\n`;
  const withMode = async (mode: string, run: (s: LocalSidecar) => Promise<void>): Promise<void> => {
    const s = await startLocalSidecar(policy(mode), { maskingKey: 'masking-modes-wire-key' });
    try {
      await run(s);
    } finally {
      await s.close();
    }
  };
  /** A request on a connection of its own; the answer's bytes as they came (no decoding). */
  const call = (base: string, opts: { method?: string; path: string; headers?: http.OutgoingHttpHeaders; body?: string | Buffer }) =>
    new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }>((resolve, reject) => {
      const u = new URL(base);
      const req = http.request({ hostname: u.hostname, port: u.port, path: opts.path, method: opts.method ?? 'POST', agent: false,
        headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01', 'x-api-key': 'k', ...opts.headers } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(opts.body);
    });
  const seenText = (r: Received): string => `${r.url}\n${JSON.stringify(r.headers)}\n${r.body.toString('utf8')}`;

  describe('headers, the query string and metadata.user_id', () => {
    const path = `/v1/messages?beta=true&customer=${encodeURIComponent(EMAIL)}&note=card+${CARD.replace(/ /g, '+')}`;
    const headers = {
      'x-customer-email': EMAIL, 'user-agent': `bot (+mailto:${EMAIL})`,
      'anthropic-beta': 'claude-code-20250219,files-api-2025-04-14', 'x-stainless-lang': 'js', 'x-claude-code-session-id': '6f1c2a9e-3b4d-4e5f-8a7b-9c0d1e2f3a4b',
    };
    const body = JSON.stringify({ model: 'm', max_tokens: 5, metadata: { user_id: EMAIL }, messages: [{ role: 'user', content: 'hello' }] });

    test.each([['request', '[EMAIL_ADDRESS]'], ['tokenize', '<EMAIL_ADDRESS_']])('%s mode masks them all before the Claude API sees them, and leaves the protocol\'s own as sent', async (mode, masked) => {
      await withMode(mode, async (s) => {
        s.upstream.queue(OK_ANSWER);
        expect((await call(s.sidecar.claudeUrl, { path, headers, body })).status).toBe(200);
        const seen = s.upstream.received.at(-1)!;
        expect(seenText(seen)).not.toContain('jane.doe');
        expect(seenText(seen)).not.toContain('4111');
        const query = new URL(seen.url, 'http://x').searchParams;
        expect(seen.url.startsWith('/v1/messages?beta=true&')).toBe(true); // beta=true keeps its bytes
        expect(query.get('customer')!.startsWith(masked)).toBe(true);
        expect(query.get('note')).toMatch(/^card [[<]CREDIT_CARD/);
        expect(String(seen.headers['x-customer-email']).startsWith(masked)).toBe(true);
        expect(seen.headers['user-agent']).toMatch(/^bot \(\+mailto:[[<]EMAIL_ADDRESS/);
        expect((JSON.parse(seen.body.toString()) as { metadata: { user_id: string } }).metadata.user_id.startsWith(masked)).toBe(true);
        // What the API parses, and values that hold nothing, go as sent.
        expect(seen.headers['anthropic-beta']).toBe(headers['anthropic-beta']);
        expect(seen.headers['anthropic-version']).toBe('2023-06-01');
        expect(seen.headers['x-stainless-lang']).toBe('js');
        expect(seen.headers['x-claude-code-session-id']).toBe(headers['x-claude-code-session-id']);
      });
    });

    test('request mode masks metadata.user_id in each request of a Message Batch', async () => {
      await withMode('request', async (s) => {
        const params = (user: string) => ({ model: 'm', max_tokens: 5, metadata: { user_id: user }, messages: [{ role: 'user', content: 'hello' }] });
        s.upstream.queue({ status: 200, headers: { 'content-type': 'application/json' }, chunks: ['{"id":"msgbatch_1","type":"message_batch"}'] });
        await call(s.sidecar.claudeUrl, { path: '/v1/messages/batches', body: JSON.stringify({ requests: [{ custom_id: 'a', params: params(EMAIL) }, { custom_id: 'b', params: params('user-42') }] }) });
        const sent = JSON.parse(s.upstream.received.at(-1)!.body.toString()) as { requests: Array<{ params: { metadata: { user_id: string } } }> };
        expect(sent.requests.map((r) => r.params.metadata.user_id)).toEqual(['[EMAIL_ADDRESS]', 'user-42']);
      });
    });

    test('request mode sends a user_id that holds nothing (Claude Code\'s JSON of ids) and a query without values byte for byte', async () => {
      await withMode('request', async (s) => {
        const plain = JSON.stringify({ model: 'm', max_tokens: 5, metadata: { user_id: JSON.stringify({ device_id: 'a3f9'.repeat(16), account_uuid: '', session_id: '6f1c2a9e-3b4d-4e5f-8a7b-9c0d1e2f3a4b' }) }, messages: [{ role: 'user', content: 'hello' }] });
        s.upstream.queue(OK_ANSWER);
        await call(s.sidecar.claudeUrl, { path: '/v1/messages?beta=true&limit=20', body: plain, headers: { 'x-app': 'cli' } });
        const seen = s.upstream.received.at(-1)!;
        expect(seen.url).toBe('/v1/messages?beta=true&limit=20');
        expect(seen.body.toString()).toBe(plain);
        expect(seen.headers['x-app']).toBe('cli');
      });
    });

    test('record mode forwards them all as the skill sent them', async () => {
      await withMode('record', async (s) => {
        s.upstream.queue(OK_ANSWER);
        await call(s.sidecar.claudeUrl, { path, headers, body });
        const seen = s.upstream.received.at(-1)!;
        expect(seen.url).toBe(path);
        expect(seen.headers['x-customer-email']).toBe(EMAIL);
        expect(seen.headers['user-agent']).toBe(headers['user-agent']);
        expect(seen.body.toString()).toBe(body);
      });
    });
  });

  describe('an upload\'s form fields and file names', () => {
    const B = 'XyZboundary';
    const csv = `name,email,card\nJane Doe,${EMAIL},${CARD}\n`;
    const upload = [
      `--${B}\r\nContent-Disposition: form-data; name="display_title"\r\n\r\nSkill for ${EMAIL} card ${CARD}\r\n`,
      `--${B}\r\nContent-Disposition: form-data; name="files[]"; filename="${EMAIL} ${CARD}.csv"\r\nContent-Type: text/csv\r\n\r\n${csv}\r\n`,
      `--${B}\r\nContent-Disposition: form-data; name="files[]"; filename="my-skill/SKILL.md"\r\nContent-Type: text/markdown\r\n\r\n# A skill\r\n`,
      `--${B}--\r\n`,
    ].join('');
    const headers = { 'content-type': `multipart/form-data; boundary=${B}`, 'anthropic-beta': 'skills-2025-10-02' };
    /** The parts of a multipart body as a server reads them: each one's headers and content. */
    const partsOf = (bytes: Buffer): Array<{ info: PartInfo; content: string }> => {
      const parts: Array<{ info: PartInfo; content: string }> = [];
      const r = new MultipartRewriter(B, (info) => {
        const part = { info, content: '' };
        parts.push(part);
        return { push: (c) => { part.content += c.toString('utf8'); return c; }, end: () => Buffer.alloc(0) };
      });
      r.push(bytes);
      r.end();
      return parts;
    };

    test.each([['request', '[EMAIL_ADDRESS]'], ['tokenize', '<EMAIL_ADDRESS_']])('%s mode masks the form fields and file names, which stay valid multipart with their extensions', async (mode, masked) => {
      await withMode(mode, async (s) => {
        s.upstream.queue({ status: 200, headers: { 'content-type': 'application/json' }, chunks: ['{"id":"skill_1","type":"skill"}'] });
        expect((await call(s.sidecar.claudeUrl, { path: '/v1/skills', headers, body: upload })).status).toBe(200);
        const seen = s.upstream.received.at(-1)!;
        expect(seen.body.toString()).not.toContain('jane.doe');
        expect(seen.body.toString()).not.toContain('4111');
        const [title, file, skill] = partsOf(seen.body);
        expect(title!.info.name).toBe('display_title');
        expect(title!.content.startsWith(`Skill for ${masked}`)).toBe(true);
        expect(file!.info).toMatchObject({ name: 'files[]', contentType: 'text/csv' });
        expect(file!.info.filename!.startsWith(masked)).toBe(true);
        expect(file!.info.filename).toMatch(/CREDIT_CARD\S*\.csv$/);
        expect(skill!.info.filename).toBe('my-skill/SKILL.md');
        expect(skill!.content).toBe('# A skill');
      });
    });

    test('record mode sends the upload byte for byte', async () => {
      await withMode('record', async (s) => {
        s.upstream.queue({ status: 200, headers: { 'content-type': 'application/json' }, chunks: ['{"id":"skill_1","type":"skill"}'] });
        await call(s.sidecar.claudeUrl, { path: '/v1/skills', headers, body: upload });
        expect(s.upstream.received.at(-1)!.body.toString()).toBe(upload);
      });
    });
  });

  describe('an encoded answer', () => {
    const answer = JSON.stringify({ id: 'msg_1', type: 'message', role: 'assistant', model: 'm', content: [{ type: 'text', text: `Her card is ${CARD}, mail ${EMAIL}` }], stop_reason: 'end_turn', usage: { input_tokens: 1, output_tokens: 1 } });
    const stream = [
      `event: message_start\ndata: {"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"m","content":[],"stop_reason":null,"usage":{"input_tokens":1,"output_tokens":1}}}\n\n`,
      `event: content_block_start\ndata: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}\n\n`,
      `event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"mail ${EMAIL}"}}\n\n`,
      `event: content_block_stop\ndata: {"type":"content_block_stop","index":0}\n\n`,
      `event: message_stop\ndata: {"type":"message_stop"}\n\n`,
    ].join('');
    const ask = JSON.stringify({ model: 'm', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] });

    test.each([
      ['response', 'a JSON', 'application/json', answer],
      ['response', 'a streamed', 'text/event-stream; charset=utf-8', stream],
      ['both', 'a JSON', 'application/json', answer],
      ['tokenize', 'a JSON', 'application/json', answer],
    ])('%s mode refuses %s answer that came gzip-encoded rather than pass it on', async (mode, _what, type, text) => {
      await withMode(mode, async (s) => {
        s.upstream.queue({ status: 200, headers: { 'content-type': type, 'content-encoding': 'gzip' }, chunks: [gzipSync(text)] });
        const res = await call(s.sidecar.claudeUrl, { path: '/v1/messages', body: ask });
        expect(s.upstream.received.at(-1)!.headers['accept-encoding']).toBe('identity'); // it was asked for none
        expect(res.status).toBe(500);
        expect(res.headers['x-skillgate-error']).toBe('SG_MASKING_FAILED');
        expect(res.headers['x-should-retry']).toBe('false');
        expect(res.headers['content-encoding']).toBeUndefined();
        expect(JSON.parse(res.body.toString())).toMatchObject({ type: 'error', error: { type: 'api_error', message: expect.stringMatching(/sent it encoded \(gzip\)/) } });
        // The same answer plain is masked on its way.
        s.upstream.queue({ status: 200, headers: { 'content-type': type }, chunks: [text] });
        const plain = await call(s.sidecar.claudeUrl, { path: '/v1/messages', body: ask });
        expect(plain.status).toBe(200);
        if (mode !== 'tokenize') expect(plain.body.toString()).not.toContain(EMAIL);
      });
    });

    test('record mode passes an encoded answer on as it came', async () => {
      await withMode('record', async (s) => {
        const gz = gzipSync(answer);
        s.upstream.queue({ status: 200, headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' }, chunks: [gz] });
        const res = await call(s.sidecar.claudeUrl, { path: '/v1/messages', body: ask });
        expect(res.status).toBe(200);
        expect(res.headers['content-encoding']).toBe('gzip');
        expect(res.body.equals(gz)).toBe(true);
      });
    });
  });
});
