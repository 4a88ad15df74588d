// What the fake refuses in a Messages body, in the real API's words: the schema (block tags,
// sampling ranges, thinking, tools) and the rules over the conversation (non-empty content,
// tool_use/tool_result pairing, unique tool names, the thinking budget). Pure tests of the
// validator first, then the same refusals over a real socket, as a client sees them.
import { startFakeClaude, type FakeClaude } from '../src/index.js';
import { validateMessagesRequest } from '../src/validation.js';

const user = (content: unknown) => ({ role: 'user', content });
const assistant = (content: unknown) => ({ role: 'assistant', content });
const text = (t: string) => ({ type: 'text', text: t });
const toolUse = (id: string, name = 'kubectl_get') => ({ type: 'tool_use', id, name, input: {} });
const toolResult = (id: string, content = 'ok') => ({ type: 'tool_result', tool_use_id: id, content });
const tool = (name: string) => ({ name, description: name, input_schema: { type: 'object' } });

/** A valid body with `extra` merged over it. */
const request = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({ model: 'claude-sonnet-4-5', max_tokens: 4096, messages: [user('hello')], ...extra });
const refusal = (body: Record<string, unknown>, requireMaxTokens = true) => validateMessagesRequest(body, { requireMaxTokens })?.message;

const EXPECTED_TAGS = "'bash_code_execution_tool_result', 'code_execution_tool_result', 'container_upload', 'document', 'image', "
  + "'redacted_thinking', 'search_result', 'server_tool_use', 'text', 'text_editor_code_execution_tool_result', 'thinking', "
  + "'tool_result', 'tool_search_tool_result', 'tool_use', 'web_fetch_tool_result', 'web_search_tool_result'";
const THINKING_BUDGET = '`max_tokens` must be greater than `thinking.budget_tokens`. Please consult our documentation at https://docs.claude.com/en/docs/build-with-claude/extended-thinking#max-tokens-and-context-window-size';
const unanswered = (n: number, ids: string) => `messages.${n}: \`tool_use\` ids were found without \`tool_result\` blocks immediately after: ${ids}. Each \`tool_use\` block must have a corresponding \`tool_result\` block in the next message.`;
const unexpected = (path: string, id: string) => `${path}: unexpected \`tool_use_id\` found in \`tool_result\` blocks: ${id}. Each \`tool_result\` block must have a corresponding \`tool_use\` block in the previous message.`;

describe('messages and their content', () => {
  test.each([
    ['an empty messages list', request({ messages: [] }), 'messages: at least one message is required'],
    ['an empty string as a user message', request({ messages: [user('')] }), 'messages.0: all messages must have non-empty content except for the optional final assistant message'],
    ['an empty content list before the last message', request({ messages: [user('hi'), assistant([]), user('again')] }), 'messages.1: all messages must have non-empty content except for the optional final assistant message'],
    ['an empty final user message', request({ messages: [user('hi'), assistant('yes'), user([])] }), 'messages.2: all messages must have non-empty content except for the optional final assistant message'],
    ['an empty text block', request({ messages: [user([text('look'), text('')])] }), 'messages: text content blocks must be non-empty'],
    ['an empty text block in the final assistant message', request({ messages: [user('hi'), assistant([text('')])] }), 'messages: text content blocks must be non-empty'],
    ['a text block of whitespace only', request({ messages: [user([text(' \n ')])] }), 'messages: text content blocks must contain non-whitespace text'],
    ['a final assistant string ending in whitespace', request({ messages: [user('hi'), assistant('The answer is ')] }), 'messages: final assistant content cannot end with trailing whitespace'],
    ['a final assistant text block ending in a newline', request({ messages: [user('hi'), assistant([text('The answer is\n')])] }), 'messages: final assistant content cannot end with trailing whitespace'],
  ])('%s is refused', (_what, body, message) => {
    expect(refusal(body)).toBe(message);
  });

  test('the final assistant message alone may be empty (a prefill to continue from)', () => {
    expect(refusal(request({ messages: [user('hi'), assistant('')] }))).toBeUndefined();
    expect(refusal(request({ messages: [user('hi'), assistant([])] }))).toBeUndefined();
    expect(refusal(request({ messages: [user('hi'), assistant('{"answer": ')] }))).toBe('messages: final assistant content cannot end with trailing whitespace');
    expect(refusal(request({ messages: [user('hi'), assistant('{"answer":')] }))).toBeUndefined();
  });

  test('an empty messages list is refused by count_tokens too, and after max_tokens is checked', () => {
    expect(refusal({ model: 'claude-sonnet-4-5', messages: [] }, false)).toBe('messages: at least one message is required');
    expect(refusal({ model: 'claude-sonnet-4-5', messages: [] })).toBe('max_tokens: Field required');
  });
});

describe('content blocks', () => {
  test.each([
    ['a block that is a string', ['hello'], 'messages.0.content.0: Input should be a valid dictionary or object to extract fields from'],
    ['a block that is null', [text('ok'), null], 'messages.0.content.1: Input should be a valid dictionary or object to extract fields from'],
    ['a block without a type', [{ text: 'hi' }], "messages.0.content.0: Unable to extract tag using discriminator 'type'"],
    ['a block of an unknown type', [{ type: 'foo' }], `messages.0.content.0: Input tag 'foo' found using 'type' does not match any of the expected tags: ${EXPECTED_TAGS}`],
    ['an OpenAI image_url block', [text('see'), { type: 'image_url', image_url: { url: 'https://x' } }], `messages.0.content.1: Input tag 'image_url' found using 'type' does not match any of the expected tags: ${EXPECTED_TAGS}`],
    ['a text block without text', [{ type: 'text' }], 'messages.0.content.0.text.text: Field required'],
    ['a text block whose text is not a string', [{ type: 'text', text: 5 }], 'messages.0.content.0.text.text: Input should be a valid string'],
    ['a tool_result without tool_use_id', [{ type: 'tool_result', content: 'x' }], 'messages.0.content.0.tool_result.tool_use_id: Field required'],
  ])('%s is refused', (_what, content, message) => {
    expect(refusal(request({ messages: [user(content)] }))).toBe(message);
  });

  test.each([
    ['without id', { type: 'tool_use', name: 'x', input: {} }, 'messages.1.content.0.tool_use.id: Field required'],
    ['without name', { type: 'tool_use', id: 'toolu_1', input: {} }, 'messages.1.content.0.tool_use.name: Field required'],
    ['without input', { type: 'tool_use', id: 'toolu_1', name: 'x' }, 'messages.1.content.0.tool_use.input: Field required'],
    ['whose input is a string', { type: 'tool_use', id: 'toolu_1', name: 'x', input: '{}' }, 'messages.1.content.0.tool_use.input: Input should be a valid dictionary'],
  ])('a tool_use block %s is refused', (_what, block, message) => {
    expect(refusal(request({ messages: [user('hi'), assistant([block]), user([toolResult('toolu_1')])] }))).toBe(message);
  });

  test('every block type real clients send is accepted', () => {
    const body = request({
      messages: [
        user([
          text('Look at these.'),
          { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBORw0KGgo=' } },
          { type: 'document', source: { type: 'text', media_type: 'text/plain', data: 'notes' } },
          { type: 'search_result', source: 'https://example.com', title: 'Result', content: [text('found')] },
          { type: 'container_upload', file_id: 'file_011abc' },
        ]),
        assistant([
          { type: 'thinking', thinking: 'Let me check.', signature: 'EqSig' },
          { type: 'redacted_thinking', data: 'EmRedacted' },
          { type: 'server_tool_use', id: 'srvtoolu_1', name: 'web_search', input: { query: 'x' } },
          { type: 'web_search_tool_result', tool_use_id: 'srvtoolu_1', content: [] },
          { type: 'web_fetch_tool_result', tool_use_id: 'srvtoolu_2', content: {} },
          { type: 'code_execution_tool_result', tool_use_id: 'srvtoolu_3', content: {} },
          { type: 'bash_code_execution_tool_result', tool_use_id: 'srvtoolu_4', content: {} },
          { type: 'text_editor_code_execution_tool_result', tool_use_id: 'srvtoolu_5', content: {} },
          { type: 'tool_search_tool_result', tool_use_id: 'srvtoolu_6', content: {} },
          { type: 'advisor_tool_result', tool_use_id: 'srvtoolu_7', content: {} },
          { type: 'mcp_tool_use', id: 'mcptoolu_1', name: 'lookup', server_name: 'kb', input: {} },
          { type: 'mcp_tool_result', tool_use_id: 'mcptoolu_1', content: 'ok' },
          { type: 'compaction', content: 'summary' },
          { type: 'mcp_tool_listing' },
          { type: 'tool_addition' },
          { type: 'tool_removal' },
          { type: 'fallback' },
          text('Running it.'),
          toolUse('toolu_1'),
        ]),
        user([toolResult('toolu_1', 'pods listed'), text('and now?')]),
      ],
    });
    expect(refusal(body)).toBeUndefined();
  });
});

describe('tool_use and tool_result pairing', () => {
  test('a tool loop answered at the start of the next user message is accepted', () => {
    expect(refusal(request({ messages: [user('list pods'), assistant([text('Checking.'), toolUse('toolu_A'), toolUse('toolu_B')]), user([toolResult('toolu_B'), toolResult('toolu_A'), text('thanks')])] }))).toBeUndefined();
  });

  test('a tool_use in a final assistant message (a prefill) is not checked', () => {
    expect(refusal(request({ messages: [user('hi'), assistant([toolUse('toolu_A')])] }))).toBeUndefined();
  });

  test.each([
    ['the next message has no tool_result', [user('hi'), assistant([toolUse('toolu_A')]), user('well?')], unanswered(1, 'toolu_A')],
    ['a tool_result is missing for some ids, all named', [user('hi'), assistant([toolUse('toolu_A'), toolUse('toolu_B'), toolUse('toolu_C')]), user([toolResult('toolu_B')])], unanswered(1, 'toolu_A, toolu_C')],
    ['the tool_result comes after text', [user('hi'), assistant([toolUse('toolu_A')]), user([text('here:'), toolResult('toolu_A')])], unanswered(1, 'toolu_A')],
    ['the next message is the assistant', [user('hi'), assistant([toolUse('toolu_A')]), assistant('more'), user('ok')], unanswered(1, 'toolu_A')],
    ['a later turn is unanswered', [user('a'), assistant([toolUse('toolu_A')]), user([toolResult('toolu_A')]), assistant([toolUse('toolu_B')]), user('b')], unanswered(3, 'toolu_B')],
    ['a tool_result opens the conversation', [user([toolResult('toolu_X')])], unexpected('messages.0.content.0', 'toolu_X')],
    ['a tool_result answers an id the previous message did not use', [user('hi'), assistant([toolUse('toolu_A')]), user([toolResult('toolu_A'), toolResult('toolu_Z')])], unexpected('messages.2.content.1', 'toolu_Z')],
    ['a tool_result follows a message without tool_use', [user('hi'), assistant('Sure.'), user([text('result:'), toolResult('toolu_A')])], unexpected('messages.2.content.1', 'toolu_A')],
  ])('%s: refused', (_what, messages, message) => {
    expect(refusal(request({ messages }))).toBe(message);
  });
});

describe('sampling parameters', () => {
  test.each([
    [{ temperature: 1.5 }, 'temperature: Input should be less than or equal to 1'],
    [{ temperature: -0.1 }, 'temperature: Input should be greater than or equal to 0'],
    [{ temperature: 'hot' }, 'temperature: Input should be a valid number'],
    [{ top_p: 1.01 }, 'top_p: Input should be less than or equal to 1'],
    [{ top_p: -1 }, 'top_p: Input should be greater than or equal to 0'],
    [{ top_k: -1 }, 'top_k: Input should be greater than or equal to 0'],
    [{ top_k: 2.5 }, 'top_k: Input should be a valid integer'],
  ])('%j is refused with %s', (extra, message) => {
    expect(refusal(request(extra))).toBe(message);
  });

  test('the bounds themselves and null are accepted', () => {
    expect(refusal(request({ temperature: 0, top_p: 1, top_k: 0 }))).toBeUndefined();
    expect(refusal(request({ temperature: 1, top_p: 0 }))).toBeUndefined();
    expect(refusal(request({ temperature: null, top_p: null, top_k: null }))).toBeUndefined();
  });
});

describe('thinking', () => {
  test.each([
    [{ type: 'enabled', budget_tokens: 1023 }, 'thinking.enabled.budget_tokens: Input should be greater than or equal to 1024'],
    [{ type: 'enabled' }, 'thinking.enabled.budget_tokens: Field required'],
    [{ type: 'enabled', budget_tokens: 'lots' }, 'thinking.enabled.budget_tokens: Input should be a valid integer'],
    [{ budget_tokens: 2048 }, "thinking: Unable to extract tag using discriminator 'type'"],
    [{ type: 'enabled', budget_tokens: 4096 }, THINKING_BUDGET],
    [{ type: 'enabled', budget_tokens: 8000 }, THINKING_BUDGET],
  ])('%j with max_tokens 4096 is refused', (thinking, message) => {
    expect(refusal(request({ thinking }))).toBe(message);
  });

  test('a budget below max_tokens, adaptive and disabled thinking are accepted', () => {
    expect(refusal(request({ thinking: { type: 'enabled', budget_tokens: 1024 } }))).toBeUndefined();
    expect(refusal(request({ thinking: { type: 'enabled', budget_tokens: 4095 } }))).toBeUndefined();
    expect(refusal(request({ thinking: { type: 'adaptive' } }))).toBeUndefined();
    expect(refusal(request({ thinking: { type: 'disabled' } }))).toBeUndefined();
  });

  test('with interleaved thinking the budget may exceed max_tokens; count_tokens has no max_tokens to compare', () => {
    const body = request({ thinking: { type: 'enabled', budget_tokens: 8000 } });
    expect(validateMessagesRequest(body, { requireMaxTokens: true, betas: ['claude-code-20250219', 'interleaved-thinking-2025-05-14'] })).toBeUndefined();
    expect(refusal({ model: 'claude-sonnet-4-5', messages: [user('foo')], thinking: { type: 'enabled', budget_tokens: 8000 } }, false)).toBeUndefined();
    expect(refusal({ model: 'claude-sonnet-4-5', messages: [user('foo')], thinking: { type: 'enabled', budget_tokens: 1000 } }, false)).toBe('thinking.enabled.budget_tokens: Input should be greater than or equal to 1024');
  });
});

describe('tools', () => {
  test.each([
    [[{ description: 'no name', input_schema: { type: 'object' } }], 'tools.0.custom.name: Field required'],
    [[tool('ok'), { type: 'custom', input_schema: { type: 'object' } }], 'tools.1.custom.name: Field required'],
    [[{ name: 7, input_schema: { type: 'object' } }], 'tools.0.custom.name: Input should be a valid string'],
    [[tool('')], 'tools.0.custom.name: String should have at least 1 character'],
    [[tool('x'.repeat(129))], 'tools.0.custom.name: String should have at most 128 characters'],
    [[{ name: 'no_schema' }], 'tools.0.custom.input_schema: Field required'],
    [['kubectl_get'], 'tools.0: Input should be a valid dictionary or object to extract fields from'],
    [[tool('kubectl_get'), tool('read_file'), tool('kubectl_get')], 'tools: Tool names must be unique.'],
    [[{ type: 'web_search_20250305', name: 'web_search' }, tool('web_search')], 'tools: Tool names must be unique.'],
  ])('%j is refused with %s', (tools, message) => {
    expect(refusal(request({ tools }))).toBe(message);
  });

  test('tools that are not a list are refused', () => {
    expect(refusal(request({ tools: tool('x') }))).toBe('tools: Input should be a valid list');
  });

  test('server tools and MCP toolsets pass as an open list, and a 128-character name is fine', () => {
    const tools = [
      tool('x'.repeat(128)),
      { type: 'web_search_20250305', name: 'web_search', max_uses: 3 },
      { type: 'bash_20250124', name: 'bash' },
      { type: 'mcp_toolset', mcp_server_name: 'kb' },
      { type: 'some_future_tool_20270101' },
    ];
    expect(refusal(request({ tools }))).toBeUndefined();
  });
});

describe('system', () => {
  test('an empty system text block is refused; an empty system string is not', () => {
    expect(refusal(request({ system: [text('You are terse.'), text('')] }))).toBe('system: text content blocks must be non-empty');
    expect(refusal(request({ system: '' }))).toBeUndefined();
  });
});

describe('the order problems are reported in', () => {
  test('the schema before the conversation rules, model and max_tokens first', () => {
    expect(refusal({ max_tokens: 5, messages: [user('')], temperature: 3 })).toBe('model: Field required');
    expect(refusal(request({ messages: [user('')], temperature: 3 }))).toBe('temperature: Input should be less than or equal to 1');
    expect(refusal(request({ messages: [user([{ type: 'foo' }])], temperature: 3 }))).toMatch(/^messages\.0\.content\.0: Input tag 'foo'/);
    expect(refusal(request({ messages: [user('hi'), assistant([toolUse('toolu_A')]), user('')], tools: [tool('a'), tool('a')] }))).toMatch(/^messages\.2: all messages must have non-empty content/);
  });
});

describe('over a socket', () => {
  let fake: FakeClaude;
  beforeAll(async () => { fake = await startFakeClaude({ port: 0 }); });
  afterAll(async () => { await fake.close(); });
  afterEach(() => fake.reset());

  const KEY = { 'x-api-key': 'sk-ant-test', 'anthropic-version': '2023-06-01', 'content-type': 'application/json' };
  const post = (path: string, body: unknown, headers: Record<string, string> = {}) => fetch(fake.url + path, { method: 'POST', headers: { ...KEY, ...headers }, body: JSON.stringify(body) });

  test.each([
    ['an unanswered tool_use', { messages: [user('hi'), assistant([toolUse('toolu_01A')]), user('well?')] }, unanswered(1, 'toolu_01A')],
    ['a temperature above 1', { temperature: 2 }, 'temperature: Input should be less than or equal to 1'],
    ['duplicate tool names', { tools: [tool('a'), tool('a')] }, 'tools: Tool names must be unique.'],
    ['an unknown block type', { messages: [user([{ type: 'foo' }])] }, `messages.0.content.0: Input tag 'foo' found using 'type' does not match any of the expected tags: ${EXPECTED_TAGS}`],
  ])('%s is a 400 invalid_request_error in the API error shape, streaming or not', async (_what, extra, message) => {
    for (const stream of [false, true]) {
      const res = await post('/v1/messages?beta=true', request({ ...extra, stream }));
      expect(res.status).toBe(400);
      expect(res.headers.get('content-type')).toBe('application/json');
      const body = await res.json() as { request_id: string };
      expect(body).toEqual({ type: 'error', error: { type: 'invalid_request_error', message }, request_id: expect.stringMatching(/^req_/) });
      expect(body.request_id).toBe(res.headers.get('request-id'));
    }
  });

  test('count_tokens refuses an empty messages list but not a thinking budget above (absent) max_tokens', async () => {
    const empty = await post('/v1/messages/count_tokens', { model: 'claude-sonnet-4-5', messages: [] });
    expect(empty.status).toBe(400);
    expect(await empty.json()).toMatchObject({ type: 'error', error: { type: 'invalid_request_error', message: 'messages: at least one message is required' } });
    const thinking = await post('/v1/messages/count_tokens', { model: 'claude-sonnet-4-5', messages: [user('foo')], thinking: { type: 'enabled', budget_tokens: 2048 } });
    expect(thinking.status).toBe(200);
    expect(await thinking.json()).toEqual({ input_tokens: expect.any(Number) });
  });

  test('the interleaved-thinking beta header lets budget_tokens exceed max_tokens', async () => {
    const body = request({ max_tokens: 2048, thinking: { type: 'enabled', budget_tokens: 4096 } });
    const refused = await post('/v1/messages', body);
    expect(refused.status).toBe(400);
    expect(await refused.json()).toMatchObject({ error: { message: THINKING_BUDGET } });
    const accepted = await post('/v1/messages', body, { 'anthropic-beta': 'claude-code-20250219, interleaved-thinking-2025-05-14' });
    expect(accepted.status).toBe(200);
    await accepted.text();
  });

  test('a batch entry the API would refuse ends errored with the same message', async () => {
    const created = await (await post('/v1/messages/batches', { requests: [
      { custom_id: 'ok', params: request() },
      { custom_id: 'cold', params: request({ temperature: -1 }) },
      { custom_id: 'empty', params: request({ messages: [] }) },
    ] })).json() as { id: string };
    const results = (await (await fetch(`${fake.url}/v1/messages/batches/${created.id}/results`, { headers: KEY })).text()).trim().split('\n').map((l) => JSON.parse(l) as unknown);
    expect(results).toEqual([
      { custom_id: 'ok', result: expect.objectContaining({ type: 'succeeded' }) },
      { custom_id: 'cold', result: { type: 'errored', error: { type: 'error', error: { type: 'invalid_request_error', message: 'temperature: Input should be greater than or equal to 0' } } } },
      { custom_id: 'empty', result: { type: 'errored', error: { type: 'error', error: { type: 'invalid_request_error', message: 'messages: at least one message is required' } } } },
    ]);
  });
});
