// The real Claude Code CLI (2.1.112, pure Node) through the sidecar to fake Claude, including a
// turn where it runs a Bash tool locally and sends the result back. The upstream must see the
// sidecar's key only, Claude Code's beta header and session id verbatim, and the ?beta=true query.
import { headerValues, runClaudeCode, type ReceivedRequest } from '@skillgate/fake-claude';
import { allHeaderValues, SKILL_KEY, startThroughSidecar, UPSTREAM_KEY, type ThroughSidecar } from './through-sidecar.js';

const SLOW = 90_000; // each run starts Node and loads a 13 MB cli.js

let bench: ThroughSidecar;
beforeAll(async () => { bench = await startThroughSidecar(); });
afterAll(async () => { await bench.close(); });
afterEach(() => bench.fake.reset());

const turns = (): ReceivedRequest[] => bench.fake.requests.filter((r) => r.path === '/v1/messages');

test('Claude Code runs -p through the sidecar and the upstream never sees its key', async () => {
  bench.fake.script({ text: 'All pods are running.' });
  const run = await runClaudeCode({ baseUrl: bench.sidecar.claudeUrl, prompt: 'status?', apiKey: SKILL_KEY });
  expect(run.exitCode).toBe(0);
  expect(run.result).toMatchObject({ subtype: 'success', is_error: false, result: 'All pods are running.' });
  const turn = turns()[0]!;
  expect(turn.url).toBe('/v1/messages?beta=true');
  expect(turn.headers['x-api-key']).toBe(UPSTREAM_KEY);
  expect(turn.headers['x-claude-code-session-id']).toBe(run.result!.session_id);
  expect(headerValues(turn, 'anthropic-beta')).toHaveLength(1);
  expect(headerValues(turn, 'anthropic-beta')[0]).toMatch(/^claude-code-20250219,/);
  expect(allHeaderValues(bench.fake.requests).some((v) => v.includes(SKILL_KEY))).toBe(false);
}, SLOW);

test('Claude Code runs a Bash tool through the sidecar and the tool_result reaches the upstream', async () => {
  bench.fake.script(
    { when: (r) => !JSON.stringify(r.body).includes('"tool_result"'), toolUse: { name: 'Bash', input: { command: 'echo via-sidecar-ok', description: 'Print a marker' } } },
    { when: (r) => JSON.stringify(r.body).includes('via-sidecar-ok'), text: 'Done.' },
  );
  const run = await runClaudeCode({ baseUrl: bench.sidecar.claudeUrl, prompt: 'run the marker', apiKey: SKILL_KEY, args: ['--allowedTools', 'Bash'] });
  expect(run.exitCode).toBe(0);
  expect(run.result).toMatchObject({ subtype: 'success', result: 'Done.', num_turns: 2 });
  const [first, second] = turns();
  const call = JSON.stringify(second!.body).match(/"tool_use_id":"(toolu_[^"]+)"/)?.[1];
  expect(call).toBeDefined();
  const last = (second!.body as { messages: Array<{ content: Array<{ type: string }> }> }).messages.at(-1)!;
  expect(last.content.find((b) => b.type === 'tool_result')).toMatchObject({ tool_use_id: call, content: 'via-sidecar-ok' });
  expect(second!.headers['x-claude-code-session-id']).toBe(first!.headers['x-claude-code-session-id']);
}, SLOW);
