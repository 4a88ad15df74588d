// The real Claude Code CLI (pure-Node cli.js 2.1.112) run with `-p` against the fake: it must run
// to completion, including a turn where the fake asks for a Bash tool call, Claude Code runs it
// locally and sends the tool_result back.
import { headerValues, runClaudeCode, startFakeClaude, type FakeClaude, type ReceivedRequest } from '../src/index.js';

let fake: FakeClaude;
beforeAll(async () => { fake = await startFakeClaude({ port: 0 }); });
afterAll(async () => { await fake.close(); });
afterEach(() => fake.reset());
const SLOW = 90_000; // a Claude Code run starts a Node process and loads a 13 MB cli.js

const messagesTurns = (): ReceivedRequest[] => fake.requests.filter((r) => r.path === '/v1/messages');
const hasToolResult = (r: ReceivedRequest, text: string): boolean => JSON.stringify((r.body as { messages?: unknown })?.messages ?? []).includes(text) && JSON.stringify(r.body).includes('"tool_result"');

test('Claude Code runs -p to completion and prints the fake answer as JSON', async () => {
  fake.script({ text: 'The cluster looks healthy.' });
  const run = await runClaudeCode({ baseUrl: fake.url, prompt: 'how is the cluster?', apiKey: 'sk-ant-skill-key' });
  expect(run.exitCode).toBe(0);
  expect(run.result).toMatchObject({ type: 'result', subtype: 'success', is_error: false, result: 'The cluster looks healthy.' });

  // What it sends: a warm-up HEAD / and streaming Messages requests on the beta route.
  expect(fake.requests.some((r) => r.method === 'HEAD' && r.path === '/')).toBe(true);
  const turn = messagesTurns()[0]!;
  expect(turn.url).toBe('/v1/messages?beta=true');
  expect(turn.headers['x-api-key']).toBe('sk-ant-skill-key');
  expect(turn.headers['anthropic-version']).toBe('2023-06-01');
  expect(turn.headers['x-app']).toBe('cli');
  expect(turn.headers['x-claude-code-session-id']).toBe(run.result!.session_id);
  expect(headerValues(turn, 'anthropic-beta').join(',')).toContain('claude-code-20250219');
  const body = turn.body as { stream: boolean; tools: unknown[]; system: unknown[]; metadata: { user_id: string } };
  expect(body.stream).toBe(true);
  expect(body.tools.length).toBeGreaterThan(10);
  expect(body.system.length).toBeGreaterThanOrEqual(2);
  expect(typeof body.metadata.user_id).toBe('string');
}, SLOW);

test('Claude Code runs a Bash tool call the fake asks for and sends the tool_result back', async () => {
  fake.script(
    { when: (r) => !JSON.stringify(r.body).includes('"tool_result"'), toolUse: { name: 'Bash', input: { command: 'echo skillgate-tool-ran', description: 'Print a marker' } } },
    { when: (r) => hasToolResult(r, 'skillgate-tool-ran'), text: 'The command printed the marker.' },
  );
  const run = await runClaudeCode({ baseUrl: fake.url, prompt: 'run the marker command', args: ['--allowedTools', 'Bash'] });
  expect(run.exitCode).toBe(0);
  expect(run.result).toMatchObject({ subtype: 'success', result: 'The command printed the marker.', num_turns: 2 });
  const turns = messagesTurns();
  expect(turns).toHaveLength(2);
  const toolUseId = JSON.stringify(turns[1]!.body).match(/"tool_use_id":"(toolu_[^"]+)"/)?.[1];
  expect(toolUseId).toBeDefined();
  const last = (turns[1]!.body as { messages: Array<{ role: string; content: Array<{ type: string; content?: unknown; tool_use_id?: string }> }> }).messages.at(-1)!;
  expect(last.role).toBe('user');
  expect(last.content.find((b) => b.type === 'tool_result')).toMatchObject({ tool_use_id: toolUseId, content: 'skillgate-tool-ran', is_error: false });
}, SLOW);

test('Claude Code recognises the real wording of a prompt-too-long 400', async () => {
  fake.script({ error: { type: 'invalid_request_error', message: 'prompt is too long: 250000 tokens > 200000 maximum' } });
  const run = await runClaudeCode({ baseUrl: fake.url, prompt: 'hello' });
  // It matches on the message text, which is why error bodies must reach it unmodified.
  expect(run.result).toMatchObject({ is_error: true, api_error_status: 400, result: 'Prompt is too long', terminal_reason: 'prompt_too_long' });
}, SLOW);
