// A full SDK conversation through the assembled sidecar — streaming, with a tool loop — replays
// exactly from the session record: the user turn, the tool call with its input, the tool result
// sent back, and the assistant's final text, in order; and the record's chain verifies.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Anthropic from '@anthropic-ai/sdk';
import { startFakeClaude } from '@skillgate/fake-claude';
import { FileSessionStore, conversationOf, verifyRecord } from '@skillgate/record';
import { resolveConfig, startSidecar } from '../src/index.js';
import { sidecarPorts } from '../src/wiring.js';

type FakeClaude = Awaited<ReturnType<typeof startFakeClaude>>;
type Sidecar = Awaited<ReturnType<typeof startSidecar>>;

/** The assembled sidecar recording to files, in front of fake Claude, with an SDK client; cleaned up after `run`. */
async function withRecordingSidecar(run: (s: { fake: FakeClaude; sidecar: Sidecar; client: Anthropic; records: string }) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'sg-replay-'));
  const records = join(dir, 'records');
  const fake = await startFakeClaude({ apiKeys: ['up'] });
  const config = resolveConfig({
    upstreamUrl: fake.url, upstreamApiKey: 'up', recordDir: records,
    listen: { claude: 0, egress: 0, dns: 0, health: 0, metrics: 0, adminHost: '127.0.0.1' }, logLevel: 'silent',
  });
  const sidecar = await startSidecar(config, await sidecarPorts(config, {}));
  const client = new Anthropic({ baseURL: sidecar.claudeUrl, apiKey: 'placeholder', maxRetries: 0 });
  try {
    await run({ fake, sidecar, client, records });
  } finally {
    await sidecar.close().catch(() => undefined);
    await fake.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

it('replays a streamed tool-use conversation exactly as the SDK saw it', () => withRecordingSidecar(async ({ fake, sidecar, client, records }) => {
  const sessionHeader = { 'x-claude-code-session-id': 'conversation-1' };
  const tools = [{ name: 'lookup_invoice', description: 'Find an invoice', input_schema: { type: 'object' as const, properties: { id: { type: 'string' } } } }];
  fake.script({ toolUse: { name: 'lookup_invoice', input: { id: 'INV-2024-0042' } } }, { text: 'Invoice INV-2024-0042 is paid in full.' });
  const messages: Anthropic.MessageParam[] = [{ role: 'user', content: 'Is invoice 42 paid?' }];
  const first = await client.messages.stream({ model: 'claude-sonnet-4-6', max_tokens: 256, messages, tools }, { headers: sessionHeader }).finalMessage();
  const call = first.content.find((b) => b.type === 'tool_use')!;
  expect(call).toMatchObject({ name: 'lookup_invoice', input: { id: 'INV-2024-0042' } });
  messages.push({ role: 'assistant', content: first.content }, { role: 'user', content: [{ type: 'tool_result', tool_use_id: call.id, content: 'status: paid' }] });
  const second = await client.messages.stream({ model: 'claude-sonnet-4-6', max_tokens: 256, messages, tools }, { headers: sessionHeader }).finalText();
  expect(second).toBe('Invoice INV-2024-0042 is paid in full.');
  await sidecar.close();

  const store = new FileSessionStore(records);
  const [session] = await store.listSessions();
  expect(session).toBeDefined();
  // Streamed text replays delta by delta (at its recorded pace): join consecutive deltas to compare.
  const steps = conversationOf(await store.readSession(session!.sessionId)).filter((s) => s.kind !== 'gateway')
    .reduce<ReturnType<typeof conversationOf>>((out, s) => {
      const last = out.at(-1);
      if (last?.kind === 'assistant_text' && s.kind === 'assistant_text') last.text += s.text;
      else out.push({ ...s });
      return out;
    }, []);
  expect(steps.map((s) => s.kind)).toEqual(['user', 'tool_use', 'tool_result', 'assistant_text']);
  expect(steps[0]).toMatchObject({ text: 'Is invoice 42 paid?' });
  expect(steps[1]).toMatchObject({ name: 'lookup_invoice', id: call.id, input: { id: 'INV-2024-0042' } });
  expect(steps[2]).toMatchObject({ toolUseId: call.id, text: 'status: paid' });
  expect(steps[3]).toMatchObject({ text: second });
  expect((await verifyRecord(store)).ok).toBe(true);
  await store.close();
}));

it('records each streamed event at the time it arrived, though a block is masked for the record at its stop', () => withRecordingSidecar(async ({ fake, sidecar, client, records }) => {
  // Several deltas 60 ms apart, one of them with an address to mask.
  fake.script({ text: 'First part of the answer, then write to maria@example.com, and a last part here.', delayMs: 60 });
  const text = await client.messages.stream({ model: 'claude-sonnet-4-6', max_tokens: 256, messages: [{ role: 'user', content: 'hi' }] }).finalText();
  expect(text).toContain('maria@example.com'); // record mode: the skill gets the answer as sent
  await sidecar.close();

  const store = new FileSessionStore(records);
  const [session] = await store.listSessions();
  const events = (await store.readSession(session!.sessionId)).flatMap((e) => (e.kind === 'stream_event' ? e.data.events : []));
  const deltas = events.filter((e) => e.event === 'content_block_delta');
  expect(deltas.length).toBeGreaterThanOrEqual(3);
  expect(deltas.map((d) => d.data).join('')).not.toContain('maria@example.com');
  // The recorded times keep the deltas' spacing (not all the time of the block's stop, which would
  // make them equal). Whole milliseconds of Date.now(): each 60 ms gap may read a little shorter.
  const times = deltas.map((d) => d.t);
  for (let i = 1; i < times.length; i++) expect(times[i]!).toBeGreaterThanOrEqual(times[i - 1]!);
  expect(times.at(-1)! - times[0]!).toBeGreaterThanOrEqual(50 * (times.length - 2));
  await store.close();
}));

it('records a stream the Claude API ended with an error event as ended by that error, not complete', () => withRecordingSidecar(async ({ fake, sidecar, client, records }) => {
  fake.script({ text: 'Partial answer before the overload', errorMidStream: { type: 'overloaded_error' } });
  const err = await client.messages.stream({ model: 'claude-sonnet-4-6', max_tokens: 64, messages: [{ role: 'user', content: 'hi' }] }).finalText().catch((e: unknown) => e);
  expect(err).toBeInstanceOf(Error); // the SDK reads the event: error as the stream's failure
  await sidecar.close();
  const store = new FileSessionStore(records);
  const [session] = await store.listSessions();
  const ends = (await store.readSession(session!.sessionId)).filter((e) => e.kind === 'stream_end');
  expect(ends.map((e) => e.data)).toEqual([expect.objectContaining({ outcome: 'error', reason: 'the Claude API ended the stream with an error event (overloaded_error)' })]);
  await store.close();
}));
