import { createHash } from 'node:crypto';
import { parseJson } from '@skillgate/wire';
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

  test('thinking blocks are masked only when the spec asks for it, and in the record always', () => {
    const m = createMasker({ thinking: true }, { key: 'messages-test-key-0123456789' });
    const b = m.maskMessagesRequest(request).body as typeof request;
    const masked = { type: 'thinking', thinking: 'the user is [EMAIL_ADDRESS]', signature: 'EqQBCgIYAhIM1gbcDa9GJwZA' };
    expect((b.messages[1]!.content as Array<Record<string, unknown>>)[0]).toEqual(masked);
    // The record is never sent back to Claude: the signature does not matter there.
    const recorded = masker.maskMessagesRequest(request, { forRecord: true }).body as typeof request;
    expect((recorded.messages[1]!.content as Array<Record<string, unknown>>)[0]).toEqual(masked);
    const response = { type: 'message', content: [request.messages[1]!.content[0]] };
    expect((masker.maskMessagesResponse(response).body as typeof response).content[0]).toEqual(request.messages[1]!.content[0]);
    expect((masker.maskMessagesResponse(response, { forRecord: true }).body as typeof response).content[0]).toEqual(masked);
    expect(masker.maskAnswerText(JSON.stringify(response), { forRecord: true }).masked).not.toContain('maria@example.com');
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

describe('tool inputs: values read after their member names, numbers and names masked too', () => {
  // The same text as prose is masked (stream.test.ts checks the streamed input_json_delta).
  const input = { password: 'hunter2hunter2', aws_secret_access_key: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY', ssn: '536 22 8974', routing: '021000021',
    card: 4111111111111111, phone: 4155552671, 'jane.doe@example.com': 1 };
  const masked = { password: '[SECRET]', aws_secret_access_key: '[SECRET]', ssn: '[US_SSN]', routing: '[ABA_ROUTING_NUMBER]', card: '[CREDIT_CARD]', phone: '[PHONE_NUMBER]', '[EMAIL_ADDRESS]': 1 };
  const history = { model: 'claude-x', max_tokens: 8, messages: [{ role: 'user', content: 'log in' }, { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_1', name: 'login', input }] }] };
  const inputOf = (body: unknown) => ((body as typeof history).messages[1]!.content as Array<{ input: unknown }>)[0]!.input;

  test('in request history, for Claude and for the record, and in a response', () => {
    for (const mode of ['record', 'request', 'both', 'tokenize'] as const) {
      const m = createMasker({ mode, defaultAction: 'redact' }, { key: 'messages-test-key-0123456789' });
      expect(inputOf(m.maskMessagesRequest(history).body)).toEqual(masked);
      const recorded = m.maskMessagesRequest(history, { forRecord: true });
      expect(inputOf(recorded.body)).toEqual(masked);
      expect(recorded.findings.map((f) => [f.type, f.path])).toEqual([
        ['SECRET', 'messages[1].content[0].input.password'], ['SECRET', 'messages[1].content[0].input.aws_secret_access_key'],
        ['US_SSN', 'messages[1].content[0].input.ssn'], ['ABA_ROUTING_NUMBER', 'messages[1].content[0].input.routing'],
        ['CREDIT_CARD', 'messages[1].content[0].input.card'], ['PHONE_NUMBER', 'messages[1].content[0].input.phone'],
        ['EMAIL_ADDRESS', 'messages[1].content[0].input.[EMAIL_ADDRESS]'],
      ]);
      const response = { type: 'message', content: [{ type: 'tool_use', id: 'toolu_1', name: 'login', input }] };
      expect((m.maskMessagesResponse(response).body as typeof response).content[0]!.input).toEqual(masked);
      expect((m.maskAnswerText(JSON.stringify(response), { forRecord: true }).masked)).toBe(JSON.stringify({ ...response, content: [{ ...response.content[0], input: masked }] }));
    }
  });

  test('a number that holds no value stays a number; names of a schema stay as they are', () => {
    const plain = { limit: 5, ratio: 0.25, ids: [12, 7], user_id: 'user_8c1f', query: 'open tickets' };
    expect(inputOf(masker.maskMessagesRequest({ ...history, messages: [history.messages[0], { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_1', name: 'login', input: plain }] }] }).body)).toBe(plain);
  });
});

describe('numbers of more than 15 digits in tool inputs (read by parseJson)', () => {
  // 4111111111111111110 passes the Luhn check; JSON.parse reads it as 4111111111111111000, which does not.
  const text = '{"model":"claude-x","max_tokens":8,"messages":[{"role":"user","content":"pay"},{"role":"assistant","content":[{"type":"tool_use","id":"toolu_1","name":"pay","input":{"card":4111111111111111110,"order_id":98765432109876543210,"email":"jane.doe@example.com"}}]}]}';
  const inputOf = (body: unknown) => ((body as { messages: Array<{ content: Array<{ input: Record<string, unknown> }> }> }).messages[1]!.content)[0]!.input;

  test('a 19-digit card written as a number is found, in every mode and in a response', () => {
    expect(masker.maskMessagesRequest(JSON.parse(text)).findings.map((f) => f.type)).toEqual(['EMAIL_ADDRESS']); // what JSON.parse leaves of it
    for (const mode of ['record', 'request', 'both', 'tokenize'] as const) {
      const m = createMasker({ mode, defaultAction: 'redact' }, { key: 'messages-test-key-0123456789' });
      for (const forRecord of [false, true]) {
        const r = m.maskMessagesRequest(parseJson(text), { forRecord });
        expect(r.findings.map((f) => [f.type, f.path])).toEqual([['CREDIT_CARD', 'messages[1].content[0].input.card'], ['EMAIL_ADDRESS', 'messages[1].content[0].input.email']]);
        expect(inputOf(r.body).card).toBe('[CREDIT_CARD]');
      }
      const answer = `{"type":"message","content":[{"type":"tool_use","id":"toolu_1","name":"pay","input":{"card":4111111111111111110}}]}`;
      expect(m.maskAnswerText(answer, { forRecord: true }).masked).toBe('{"type":"message","content":[{"type":"tool_use","id":"toolu_1","name":"pay","input":{"card":"[CREDIT_CARD]"}}]}');
    }
  });

  test('a long number that holds no value keeps every digit when the body around it is rewritten', () => {
    const out = JSON.stringify(masker.maskMessagesRequest(parseJson(text)).body);
    expect(out).toContain('"order_id":98765432109876543210,');
    expect(JSON.stringify(JSON.parse(text))).toContain('"order_id":98765432109876540000,'); // what it would have been
  });
});

describe('what only the record masks, and what Claude gets of a request', () => {
  const body = {
    model: 'claude-sonnet-4-5', max_tokens: 8,
    metadata: { user_id: 'maria@example.com' },
    stop_sequences: ['maria@example.com'],
    mcp_servers: [{ type: 'url', name: 'crm', url: 'https://crm.example/maria@example.com/sse' }],
    tool_choice: { type: 'auto' },
    tools: [
      { name: 'lookup_customer', description: 'Looks up customers. Escalate to maria@example.com, key sk-ant-api03-' + 'Ab3_'.repeat(23) + 'xAA',
        input_schema: { type: 'object', required: ['email'], properties: {
          email: { type: 'string', format: 'email', description: 'e.g. john.smith@example.com', default: 'john.smith@example.com', examples: ['4111 1111 1111 1111'] },
          tier: { type: 'string', enum: ['gold', 'call 415-555-0132'] },
          'maria@example.com': { type: 'integer' },
        } } },
      { type: 'web_search_20250305', name: 'web_search', user_location: { type: 'approximate', city: 'San Francisco' } },
    ],
    messages: [{ role: 'user', content: [
      { type: 'image', source: { type: 'url', url: 'https://img.example/u/maria@example.com/a.png' } },
      { type: 'text', text: 'cited', citations: [{ type: 'char_location', cited_text: 'x', document_index: 0, document_title: 'Notes on maria@example.com', start_char_index: 0, end_char_index: 1 }] },
      { type: 'thinking', thinking: 'the user is maria@example.com', signature: 'EqQBCgIYAhIM' },
      { type: 'redacted_thinking', data: 'EmwKAhgBEgy3va3pzix/LafPsn4aDFIT2Xlxh0L5L8rLVyIwxtE3rAFBa8cr3qpP' },
    ] }],
  };

  test('Claude gets the tools\' descriptions and schema text masked, the schema\'s structure, names and URLs as sent', () => {
    const r = masker.maskMessagesRequest(body);
    const out = r.body as typeof body;
    const tool = out.tools[0] as { description: string; input_schema: { required: string[]; properties: Record<string, { enum?: string[] }> } };
    expect(tool.description).toBe('Looks up customers. Escalate to [EMAIL_ADDRESS], key [SECRET]');
    const props = tool.input_schema.properties;
    expect(props.email).toEqual({ type: 'string', format: 'email', description: 'e.g. [EMAIL_ADDRESS]', default: '[EMAIL_ADDRESS]', examples: ['[CREDIT_CARD]'] });
    expect(props.tier!.enum).toEqual(['gold', 'call [PHONE_NUMBER]']);
    expect(Object.keys(props)).toEqual(['email', 'tier', 'maria@example.com']); // property names are the tool's interface
    expect(tool.input_schema.required).toEqual(['email']);
    expect(out.tools[1]).toBe(body.tools[1]);
    // Kept as sent on the wire: they change what the API does (or are signed), and only the record masks them.
    for (const k of ['metadata', 'stop_sequences', 'mcp_servers'] as const) expect(out[k]).toBe(body[k]);
    expect(out.messages[0]!.content).toEqual(body.messages[0]!.content);
    expect(r.recordDiffers).toBe(true);
  });

  test('the record masks every string of the body but structural ones', () => {
    const r = masker.maskMessagesRequest(body, { forRecord: true });
    const text = JSON.stringify(r.body);
    expect(text.split('maria@example.com').length - 1).toBe(1); // only the schema's property name keeps it
    expect(text).toContain('"maria@example.com":{"type":"integer"}');
    const out = r.body as typeof body;
    expect(out.metadata.user_id).toBe('[EMAIL_ADDRESS]');
    expect(out.stop_sequences).toEqual(['[EMAIL_ADDRESS]']);
    expect(out.mcp_servers[0]!.url).not.toContain('maria@example.com');
    expect(out.mcp_servers[0]!.name).toBe('crm');
    const blocks = out.messages[0]!.content as Array<Record<string, any>>;
    expect(blocks[0]!.source.url).not.toContain('maria@example.com');
    expect(blocks[1]!.citations[0].document_title).toBe('Notes on [EMAIL_ADDRESS]');
    expect(blocks[2]).toEqual({ type: 'thinking', thinking: 'the user is [EMAIL_ADDRESS]', signature: 'EqQBCgIYAhIM' }); // thinking too, whatever the policy
    expect(blocks[3]).toEqual(body.messages[0]!.content[3]);
    expect((out.tools[1] as { user_location: { city: string } }).user_location.city).toBe('[LOCATION]');
    expect(out.model).toBe(body.model);
    expect(out.tool_choice).toEqual({ type: 'auto' });
  });

  test('a request with nothing only the record would mask says so: the record may keep Claude\'s copy', () => {
    const plain = { model: 'claude-x', max_tokens: 8, metadata: { user_id: 'user_8c1f' }, stop_sequences: ['\n\nHuman:'], tools: [{ name: 't', description: 'find', input_schema: { type: 'object' } }],
      messages: [{ role: 'user', content: 'card 4111 1111 1111 1111' }, { role: 'assistant', content: [{ type: 'thinking', thinking: 'a card', signature: 'sig' }, { type: 'text', text: 'ok' }] }] };
    const wire = masker.maskMessagesRequest(plain);
    expect(wire.recordDiffers).toBeUndefined();
    expect(wire).toEqual(masker.maskMessagesRequest(plain, { forRecord: true }));
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

  test('ids and other structural members stay as sent, even one that reads like a secret', () => {
    const id = 'chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT';
    expect(m.maskText(id).masked).toBe('[SECRET]'); // as text it would be masked
    const chunk = { id, object: 'chat.completion.chunk', created: 1700000000, model: 'claude-x', system_fingerprint: 'fp_44709d6fcb',
      choices: [{ index: 0, delta: { content: 'mail maria@example.com' }, finish_reason: null }], request_id: id };
    for (const forRecord of [false, true]) {
      expect(m.maskAnswer(chunk, { forRecord }).body).toEqual({ ...chunk, choices: [{ index: 0, delta: { content: 'mail [EMAIL_ADDRESS]' }, finish_reason: null }] });
    }
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

describe('members and places a walk used to miss', () => {
  test('a tool input member named __proto__ survives a rewrite exactly, as JSON writes it', () => {
    const body = parseJson('{"messages":[{"role":"assistant","content":[{"type":"tool_use","id":"toolu_1","name":"t","input":{"__proto__":{"x":"keep"},"card":"4111 1111 1111 1111","z":1}}]}]}');
    for (const out of [masker.maskMessagesRequest(body).body, masker.maskMessagesRequest(body, { forRecord: true }).body]) {
      expect(JSON.stringify(out)).toBe('{"messages":[{"role":"assistant","content":[{"type":"tool_use","id":"toolu_1","name":"t","input":{"__proto__":{"x":"keep"},"card":"[CREDIT_CARD]","z":1}}]}]}');
    }
    // A member masked into that name, after one that changed, is kept too.
    const later = parseJson('{"messages":[{"role":"assistant","content":[{"type":"tool_use","id":"toolu_2","name":"t","input":{"card":"4111 1111 1111 1111","__proto__":"x"}}]}]}');
    expect(JSON.stringify(masker.maskMessagesRequest(later).body)).toContain('"input":{"card":"[CREDIT_CARD]","__proto__":"x"}');
  });

  test('tools\' input_examples are masked for Claude as a tool call\'s input is', () => {
    const body = { messages: [], tools: [{ name: 'refund', input_schema: { type: 'object' }, input_examples: [{ email: 'jane.doe@example.com', card: '4111 1111 1111 1111', ssn: 536228974, n: 3 }] }] };
    const r = masker.maskMessagesRequest(body);
    expect((r.body as typeof body).tools[0]!.input_examples).toEqual([{ email: '[EMAIL_ADDRESS]', card: '[CREDIT_CARD]', ssn: '[US_SSN]', n: 3 }]);
    expect(r.findings.map((f) => f.path)).toContain('tools[0].input_examples[0].email');
  });

  test('output_format and output_config schemas: descriptions, defaults and examples masked, structure kept', () => {
    const schema = { type: 'object', properties: { email: { type: 'string', description: 'like jane.doe@example.com', default: 'jane.doe@example.com', examples: ['jane.doe@example.com'] } }, required: ['email'] };
    const masked = { type: 'object', properties: { email: { type: 'string', description: 'like [EMAIL_ADDRESS]', default: '[EMAIL_ADDRESS]', examples: ['[EMAIL_ADDRESS]'] } }, required: ['email'] };
    const body = { messages: [], output_format: { type: 'json_schema', schema }, output_config: { effort: 'high', format: { type: 'json_schema', schema } } };
    for (const r of [masker.maskMessagesRequest(body), masker.maskMessagesRequest(body, { forRecord: true })]) {
      const out = r.body as typeof body;
      expect(out.output_format).toEqual({ type: 'json_schema', schema: masked });
      expect(out.output_config).toEqual({ effort: 'high', format: { type: 'json_schema', schema: masked } });
    }
    expect(body.output_format.schema.properties.email.default).toBe('jane.doe@example.com');
  });

  test('numbers in a schema\'s instances are read as text: a card written as a number in examples is masked', () => {
    const body = parseJson('{"messages":[],"tools":[{"name":"pay","input_schema":{"type":"object","properties":{"card":{"type":"integer","examples":[4111111111111111,42],"default":4012888888881881}}}}]}');
    for (const r of [masker.maskMessagesRequest(body), masker.maskMessagesRequest(body, { forRecord: true })]) {
      const text = JSON.stringify(r.body);
      expect(text).toContain('"examples":["[CREDIT_CARD]",42],"default":"[CREDIT_CARD]"');
    }
  });

  test('numbers the record alone reads are read as text too; other numbers stay numbers', () => {
    const body = { messages: [], max_tokens: 1024, metadata: { user_id: 'u1', account: 4111111111111111 } };
    const out = masker.maskMessagesRequest(body, { forRecord: true }).body as { max_tokens: unknown; metadata: unknown };
    expect(out.max_tokens).toBe(1024);
    expect(out.metadata).toEqual({ user_id: 'u1', account: '[CREDIT_CARD]' });
  });
});
