import { createHash } from 'node:crypto';
import { createMasker } from '../src/index.js';

const masker = createMasker(undefined, { key: 'messages-test-key-0123456789' });
const image = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==';

const request = {
  model: 'claude-sonnet-4-5',
  max_tokens: 1024,
  metadata: { user_id: 'user_maria@example.com' },
  system: [{ type: 'text', text: 'On-call for maria@example.com', cache_control: { type: 'ephemeral' } }],
  tools: [{ name: 'lookup_user', description: 'Find a user by email', input_schema: { type: 'object' } }],
  messages: [
    { role: 'user', content: 'My card is 4111 1111 1111 1111' },
    { role: 'assistant', content: [
      { type: 'thinking', thinking: 'the user is maria@example.com', signature: 'EqQBCgIYAhIM1gbcDa9GJwZA' },
      { type: 'text', text: 'Looking up maria@example.com' },
      { type: 'tool_use', id: 'toolu_01A09q90qw90lq917835lq9', name: 'lookup_user', input: { email: 'maria@example.com', limit: 5, tags: ['x', '415-555-0199'] } },
    ] },
    { role: 'user', content: [
      { type: 'tool_result', tool_use_id: 'toolu_01A09q90qw90lq917835lq9', content: [{ type: 'text', text: 'phone +1 (415) 555-0132' }] },
      { type: 'image', source: { type: 'base64', media_type: 'image/png', data: image } },
      { type: 'document', source: { type: 'text', media_type: 'text/plain', data: 'SSN 123-45-6788' }, title: 'HR record' },
      { type: 'text', text: 'any news?' },
    ] },
  ],
};

describe('Messages bodies', () => {
  test('text is masked where people put it and everything else is left byte-identical', () => {
    const { body, findings } = masker.maskMessagesRequest(request);
    const b = body as typeof request;
    expect(b.system[0]).toEqual({ type: 'text', text: 'On-call for [EMAIL_ADDRESS]', cache_control: { type: 'ephemeral' } });
    expect(b.messages[0]!.content).toBe('My card is [CREDIT_CARD]');
    const assistant = b.messages[1]!.content as Array<Record<string, unknown>>;
    expect(assistant[0]).toEqual(request.messages[1]!.content[0]); // thinking untouched by default, signature kept
    expect(assistant[1]).toEqual({ type: 'text', text: 'Looking up [EMAIL_ADDRESS]' });
    expect(assistant[2]).toEqual({ type: 'tool_use', id: 'toolu_01A09q90qw90lq917835lq9', name: 'lookup_user', input: { email: '[EMAIL_ADDRESS]', limit: 5, tags: ['x', '[PHONE_NUMBER]'] } });
    const user = b.messages[2]!.content as Array<Record<string, unknown>>;
    expect(user[0]).toEqual({ type: 'tool_result', tool_use_id: 'toolu_01A09q90qw90lq917835lq9', content: [{ type: 'text', text: 'phone [PHONE_NUMBER]' }] });
    expect(user[1]).toBe(request.messages[2]!.content[1]); // image block: same object
    expect(user[2]).toEqual({ type: 'document', source: { type: 'text', media_type: 'text/plain', data: 'SSN [US_SSN]' }, title: 'HR record' });
    expect(b.model).toBe(request.model);
    expect(b.metadata).toBe(request.metadata);
    expect(b.tools).toBe(request.tools);
    expect(findings.map((f) => f.path)).toEqual([
      'system[0].text', 'messages[0].content', 'messages[1].content[1].text', 'messages[1].content[2].input.email',
      'messages[1].content[2].input.tags[1]', 'messages[2].content[0].content[0].text', 'messages[2].content[2].source.data',
    ]);
    // valid JSON out, and the input was not mutated
    expect(() => JSON.parse(JSON.stringify(body))).not.toThrow();
    expect(request.messages[0]!.content).toBe('My card is 4111 1111 1111 1111');
  });

  test('thinking blocks are masked only when the spec asks for it', () => {
    const m = createMasker({ thinking: true }, { key: 'messages-test-key-0123456789' });
    const b = m.maskMessagesRequest(request).body as typeof request;
    expect((b.messages[1]!.content as Array<Record<string, unknown>>)[0]).toEqual({ type: 'thinking', thinking: 'the user is [EMAIL_ADDRESS]', signature: 'EqQBCgIYAhIM1gbcDa9GJwZA' });
  });

  test('responses: content blocks are masked, ids and usage untouched', () => {
    const response = { id: 'msg_01', type: 'message', role: 'assistant', model: 'claude-x', content: [{ type: 'text', text: 'Call 415-555-0199' }, { type: 'tool_use', id: 'toolu_1', name: 't', input: { q: 'maria@example.com' } }], stop_reason: 'end_turn', stop_sequence: null, usage: { input_tokens: 3, output_tokens: 4 } };
    const { body } = masker.maskMessagesResponse(response);
    expect(body).toEqual({ ...response, content: [{ type: 'text', text: 'Call [PHONE_NUMBER]' }, { type: 'tool_use', id: 'toolu_1', name: 't', input: { q: '[EMAIL_ADDRESS]' } }] });
  });

  test('server tool results are masked for the record only: the page fetched, code output, search result titles', () => {
    const response = { id: 'msg_01', type: 'message', role: 'assistant', model: 'claude-x', stop_reason: 'end_turn', content: [
      { type: 'web_fetch_tool_result', tool_use_id: 'srvtoolu_1', content: { type: 'web_fetch_result', url: 'https://crm.example/p', retrieved_at: '2026-01-01T00:00:00Z',
        content: { type: 'document', source: { type: 'text', media_type: 'text/plain', data: 'Contact maria@example.com' }, title: 'Maria' } } },
      { type: 'bash_code_execution_tool_result', tool_use_id: 'srvtoolu_2', content: { type: 'bash_code_execution_result', stdout: 'card 4111 1111 1111 1111\n', stderr: '', return_code: 0 } },
      { type: 'web_search_tool_result', tool_use_id: 'srvtoolu_3', content: [{ type: 'web_search_result', url: 'https://x.example', title: 'Call 415-555-0199', encrypted_content: 'EqgfCioI', page_age: null }] },
    ] };
    // What Claude and the skill exchange keeps them: the API may not take back a changed server result.
    expect(masker.maskMessagesResponse(response).body).toEqual(response);
    const { body, findings } = masker.maskMessagesResponse(response, { forRecord: true });
    const blocks = (body as typeof response).content as Array<Record<string, any>>;
    expect(blocks[0]!.content.content.source.data).toBe('Contact [EMAIL_ADDRESS]');
    expect(blocks[0]!.content.url).toBe('https://crm.example/p');
    expect(blocks[1]!.content.stdout).toBe('card [CREDIT_CARD]\n');
    expect(blocks[2]!.content[0].title).toBe('Call [PHONE_NUMBER]');
    expect(blocks[2]!.content[0].encrypted_content).toBe('EqgfCioI');
    expect(findings.map((f) => f.type)).toEqual(['EMAIL_ADDRESS', 'PERSON', 'CREDIT_CARD', 'PHONE_NUMBER']); // PERSON: the page's title
    // A request that resends them in its history: the same.
    const request = { model: 'claude-x', max_tokens: 8, messages: [{ role: 'assistant', content: response.content }, { role: 'user', content: 'go on' }] };
    expect(JSON.stringify(masker.maskMessagesRequest(request).body)).toContain('maria@example.com');
    expect(JSON.stringify(masker.maskMessagesRequest(request, { forRecord: true }).body)).not.toContain('maria@example.com');
  });

  test('base64 media (images, PDFs) are left out of the record by digest, and go to Claude untouched', () => {
    const pdf = Buffer.concat([Buffer.from('%PDF-1.7 contact maria@example.com '), Buffer.alloc(5 * 1024 * 1024 + 3, 7)]); // over one hashing slice
    const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
    const withMedia = { model: 'claude-x', max_tokens: 8, messages: [{ role: 'user', content: [
      { type: 'image', source: { type: 'base64', media_type: 'image/png', data: image } },
      { type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: pdf.toString('base64') }, title: 'for maria@example.com' },
      { type: 'tool_result', tool_use_id: 'toolu_1', content: [{ type: 'image', source: { type: 'base64', media_type: 'image/png', data: image } }] },
      { type: 'image', source: { type: 'url', url: 'https://example.com/a.png' } },
    ] }] };
    const forClaude = masker.maskMessagesRequest(withMedia);
    expect(forClaude.media).toBe(3); // counted, not changed
    expect(JSON.stringify(forClaude.body)).toContain(pdf.toString('base64'));
    const recorded = masker.maskMessagesRequest(withMedia, { forRecord: true });
    expect(recorded.media).toBe(3);
    const content = (recorded.body as typeof withMedia).messages[0]!.content as Array<{ source: { data?: string; url?: string }; title?: string; content?: Array<{ source: { data: string } }> }>;
    const png = Buffer.from(image, 'base64');
    expect(content[0]!.source).toEqual({ type: 'base64', media_type: 'image/png', data: `[omitted from the record: ${png.length} bytes, sha256 ${sha(png)}]` });
    expect(content[1]!.source.data).toBe(`[omitted from the record: ${pdf.length} bytes, sha256 ${sha(pdf)}]`);
    expect(content[1]!.title).toBe('for [EMAIL_ADDRESS]');
    expect(content[2]!.content![0]!.source.data).toMatch(/^\[omitted from the record: \d+ bytes, sha256 [0-9a-f]{64}\]$/);
    expect(content[3]!.source.url).toBe('https://example.com/a.png');
    expect(JSON.stringify(recorded.body)).not.toContain(image);
    // Base64 in MIME's 76-character lines: the same digest as the file's (no group split across slices).
    const wrapped = pdf.toString('base64').replace(/.{76}/g, '$&\r\n');
    const mime = masker.maskMessagesRequest({ model: 'claude-x', max_tokens: 8, messages: [{ role: 'user', content: [{ type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: wrapped } }] }] }, { forRecord: true });
    expect(JSON.stringify(mime.body)).toContain(`[omitted from the record: ${pdf.length} bytes, sha256 ${sha(pdf)}]`);
  });

  test('a request\'s metadata.user_id is masked for the record only', () => {
    const withUser = { ...request, metadata: { user_id: 'maria@example.com' } };
    expect((masker.maskMessagesRequest(withUser).body as typeof withUser).metadata).toBe(withUser.metadata);
    expect((masker.maskMessagesRequest(withUser, { forRecord: true }).body as typeof withUser).metadata).toEqual({ user_id: '[EMAIL_ADDRESS]' });
  });

  test('the titles and sources Claude reads with a document or a search result are masked too', () => {
    const body = { model: 'claude-sonnet-4-5', max_tokens: 8, messages: [{ role: 'user', content: [
      { type: 'document', source: { type: 'text', media_type: 'text/plain', data: 'see title' }, title: 'maria@example.com records' },
      { type: 'search_result', source: 'https://crm.example/maria@example.com', title: 'Card 4111 1111 1111 1111', content: [{ type: 'text', text: 'ok' }] },
    ] }] };
    const { body: out, findings } = masker.maskMessagesRequest(body);
    const blocks = (out as typeof body).messages[0]!.content as Array<Record<string, unknown>>;
    expect(blocks[0]!.title).toBe('[EMAIL_ADDRESS] records');
    expect(blocks[1]!.title).toBe('Card [CREDIT_CARD]');
    expect(blocks[1]!.source).not.toContain('maria@example.com');
    expect(findings.map((f) => f.path)).toEqual(['messages[0].content[0].title', 'messages[0].content[1].title', 'messages[0].content[1].source']);
  });
});

describe('other request bodies that carry prompts', () => {
  test('a Message Batch: every request in it is masked as a Messages request, its path named', () => {
    const batch = {
      requests: [
        { custom_id: 'a', params: { model: 'claude-sonnet-4-5', max_tokens: 8, system: 'Reply to maria@example.com', messages: [{ role: 'user', content: 'card 4111 1111 1111 1111' }] } },
        { custom_id: 'b', params: { model: 'claude-sonnet-4-5', max_tokens: 8, messages: [{ role: 'user', content: 'nothing here' }] } },
      ],
    };
    const { body, findings } = masker.maskMessagesRequest(batch);
    const out = body as typeof batch;
    expect(out.requests[0]!.params.system).toBe('Reply to [EMAIL_ADDRESS]');
    expect(out.requests[0]!.params.messages[0]!.content).toBe('card [CREDIT_CARD]');
    expect(out.requests[1]).toEqual(batch.requests[1]);
    expect(out.requests[0]!.custom_id).toBe('a');
    expect(findings.map((f) => [f.type, f.path])).toEqual([
      ['EMAIL_ADDRESS', 'requests[0].params.system'],
      ['CREDIT_CARD', 'requests[0].params.messages[0].content'],
    ]);
    expect(JSON.stringify(batch)).toContain('maria@example.com'); // the input is not mutated
  });

  test('a legacy Text Completions request: its prompt is masked', () => {
    const { body, findings } = masker.maskMessagesRequest({ model: 'claude-2.1', max_tokens_to_sample: 8, prompt: '\n\nHuman: mail maria@example.com\n\nAssistant:' });
    expect((body as { prompt: string }).prompt).toBe('\n\nHuman: mail [EMAIL_ADDRESS]\n\nAssistant:');
    expect(findings.map((f) => f.path)).toEqual(['prompt']);
  });
});

describe('JSON answers of any route (maskAnswer)', () => {
  const m = createMasker(undefined, { key: 'messages-test-key-0123456789' });

  test('a Messages body is masked by its structure: ids, signatures and usage untouched', () => {
    const response = { id: 'msg_01', type: 'message', role: 'assistant', model: 'claude-x', content: [{ type: 'text', text: 'Call 415-555-0199' }, { type: 'thinking', thinking: 'maria@example.com', signature: 'EqQBCgIYAhIM' }], stop_reason: 'end_turn', usage: { input_tokens: 3, output_tokens: 4 } };
    expect(m.maskAnswer(response)).toEqual(m.maskMessagesResponse(response));
    expect((m.maskAnswer(response).body as typeof response).content[1]).toEqual(response.content[1]);
  });

  test('anything else has every string value masked, keys kept: a skill version, a legacy completion, file metadata', () => {
    const version = { id: 'skillver_01XyZ', type: 'skill_version', skill_id: 'skill_01AbC', name: 'billing-helper', description: 'Bills maria@example.com monthly', created_at: '2026-11-27T13:28:40.513Z' };
    const r = m.maskAnswer(version);
    expect(r.body).toEqual({ ...version, description: 'Bills [EMAIL_ADDRESS] monthly' });
    expect(r.findings).toEqual([expect.objectContaining({ type: 'EMAIL_ADDRESS', path: 'description', start: 6, end: 23 })]);
    const completion = { type: 'completion', id: 'compl_01', completion: ' Call 415-555-0199 now.', stop_reason: 'stop_sequence', model: 'claude-2.1' };
    expect(m.maskAnswer(completion).body).toEqual({ ...completion, completion: ' Call [PHONE_NUMBER] now.' });
    const list = { data: [{ type: 'file', id: 'file_011CNha8iCJcU1wXNR6q4V8w', filename: 'notes for maria@example.com, 2026.txt', size_bytes: 12 }], has_more: false };
    const listed = m.maskAnswer(list);
    expect(listed.body).toEqual({ ...list, data: [{ ...list.data[0], filename: 'notes for [EMAIL_ADDRESS], 2026.txt' }] });
    expect(listed.findings[0]!.path).toBe('data[0].filename');
    // Ids, timestamps, URLs of the API and model names are not mistaken for values.
    const models = { data: [{ type: 'model', id: 'claude-sonnet-4-6', display_name: 'Claude Sonnet 4.6', created_at: '2025-09-29T00:00:00Z' }], has_more: false, first_id: 'claude-sonnet-4-6', last_id: 'claude-sonnet-4-6' };
    expect(m.maskAnswer(models)).toEqual({ body: models, findings: [] });
  });

  test('an error reaches the skill as sent (its retry logic reads the wording) and the record masked', () => {
    const error = { type: 'error', error: { type: 'invalid_request_error', message: 'no account for maria@example.com' }, request_id: 'req_01' };
    expect(m.maskAnswer(error)).toEqual({ body: error, findings: [] });
    expect((m.maskAnswer(error, { forRecord: true }).body as typeof error).error.message).toBe('no account for [EMAIL_ADDRESS]');
  });
});


describe('an answer as text (maskAnswerText)', () => {
  test('JSON masked as maskAnswer masks it, its bytes kept when nothing is found; anything else masked as text', () => {
    const padded = '{"id": "file_1",  "filename": "notes.txt"}';
    expect(masker.maskAnswerText(padded)).toEqual({ masked: padded, findings: [] });
    const found = masker.maskAnswerText('{"description": "mail maria@example.com now"}');
    expect(found.masked).toBe('{"description":"mail [EMAIL_ADDRESS] now"}');
    expect(found.findings.map((f) => f.type)).toEqual(['EMAIL_ADDRESS']);
    expect(masker.maskAnswerText('not json maria@example.com').masked).toBe('not json [EMAIL_ADDRESS]');
    // An error answer is the skill's as sent, and masked for the record.
    const error = '{"type":"error","error":{"type":"invalid_request_error","message":"no account for maria@example.com"}}';
    expect(masker.maskAnswerText(error).masked).toBe(error);
    expect(masker.maskAnswerText(error, { forRecord: true }).masked).not.toContain('maria@example.com');
  });
});
