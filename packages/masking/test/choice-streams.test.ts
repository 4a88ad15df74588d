// Streams of the other routes — the OpenAI-compatible /v1/chat/completions (data-only chunks) and
// the legacy /v1/complete (`completion` events) — are masked in the record as streams: a value
// split across chunks is masked as in the whole text, tool call arguments as a tool input, and a
// stream with nothing to mask is recorded as the very events that came in.
import fc from 'fast-check';
import { SseParser, formatSse, type SseEvent } from '@skillgate/wire';
import { createMasker, JsonTextStream, MaskerCore, type StreamOutput } from '../src/index.js';
import { NEAR_MISSES, PROSE, SENSITIVE, splitAt } from './samples.js';

const key = 'choice-streams-test-key-0123456789';
const masker = createMasker(undefined, { key });
const core = new MaskerCore(undefined, { key });

const fragment = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...SENSITIVE) },
  { weight: 1, arbitrary: fc.constantFrom(...NEAR_MISSES) },
  { weight: 3, arbitrary: fc.constantFrom(...PROSE) },
);
const textArb = fc.array(fc.tuple(fragment, fc.constantFrom(' ', ', ', '\n', '. ')), { minLength: 1, maxLength: 10 }).map((p) => p.map(([a, b]) => a + b).join(''));
const cutsArb = fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 20 });

/** An OpenAI-compatible chunk as the endpoint sends it: a data line only (the parser names it "message"). */
function chunk(choices: unknown[]): string {
  return `data: ${JSON.stringify({ id: 'chatcmpl-1', object: 'chat.completion.chunk', created: 1, model: 'claude-x', choices })}\n\n`;
}

function recorded(sse: string): { out: StreamOutput[]; inputs: SseEvent[]; findings: Array<{ type: string; path?: string }> } {
  const inputs = new SseParser().push(Buffer.from(sse));
  const sm = masker.createRecordStreamMasker();
  const out: StreamOutput[] = [];
  for (const ev of inputs) out.push(...sm.push(ev));
  out.push(...sm.end());
  return { out, inputs, findings: sm.findings as Array<{ type: string; path?: string }> };
}

const parsed = (out: StreamOutput[]) => out.filter((o) => o.data.trim() !== '[DONE]').map((o) => JSON.parse(o.data) as Record<string, any>);
const contentOf = (out: StreamOutput[], index = 0) => parsed(out).flatMap((d) => d.choices ?? []).filter((c: any) => c.index === index).map((c: any) => c.delta?.content ?? '').join('');

describe('an OpenAI-compatible stream in the record', () => {
  test('its text is masked as the whole text is, however the chunks split it', () => {
    fc.assert(fc.property(textArb, cutsArb, fc.boolean(), (text, cuts, finished) => {
      const parts = splitAt(text, cuts);
      const sse = chunk([{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }])
        + parts.map((p) => chunk([{ index: 0, delta: { content: p }, finish_reason: null }])).join('')
        + (finished ? chunk([{ index: 0, delta: {}, finish_reason: 'stop' }]) : '')
        + 'data: [DONE]\n\n';
      const { out } = recorded(sse);
      expect(contentOf(out)).toBe(core.maskText(text).masked);
      expect(out[out.length - 1]!.data).toBe('[DONE]');
      for (const o of out) expect(new SseParser().push(o.raw).map((e) => ({ event: e.event, data: e.data }))).toEqual([{ event: o.event, data: o.data }]);
    }), { numRuns: 150 });
  });

  test('an address and a card split across chunks are recorded masked', () => {
    const sse = ['Her email is jane', '.doe@exam', 'ple.com and card 4111 1111', ' 1111 1111'].map((c) => chunk([{ index: 0, delta: { content: c }, finish_reason: null }])).join('')
      + chunk([{ index: 0, delta: {}, finish_reason: 'stop' }]);
    const { out, findings } = recorded(sse);
    const recordedText = out.map((o) => o.data).join('\n');
    expect(recordedText).not.toMatch(/jane|exam|4111/);
    expect(contentOf(out)).toBe('Her email is [EMAIL_ADDRESS] and card [CREDIT_CARD]');
    expect(findings.map((f) => [f.type, f.path])).toEqual([['EMAIL_ADDRESS', 'choices[0].delta.content'], ['CREDIT_CARD', 'choices[0].delta.content']]);
  });

  test('tool call arguments streamed in pieces are masked as a tool input', () => {
    const args = JSON.stringify({ email: 'jane.doe@example.com', card: '4111 1111 1111 1111', note: 'refund' });
    for (const cuts of [[], [0.1, 0.35, 0.5, 0.52, 0.8], [...Array(args.length).keys()].map((i) => i / args.length)]) {
      const pieces = splitAt(args, cuts);
      const sse = chunk([{ index: 0, delta: { role: 'assistant', tool_calls: [{ index: 0, id: 'call_1', type: 'function', function: { name: 'pay', arguments: '' } }] }, finish_reason: null }])
        + pieces.map((p) => chunk([{ index: 0, delta: { tool_calls: [{ index: 0, function: { arguments: p } }] }, finish_reason: null }])).join('')
        + chunk([{ index: 0, delta: {}, finish_reason: 'tool_calls' }]);
      const { out } = recorded(sse);
      const recordedArgs = parsed(out).flatMap((d) => d.choices).flatMap((c: any) => c.delta.tool_calls ?? []).map((t: any) => t.function?.arguments ?? '').join('');
      const whole = new JsonTextStream(core);
      expect(JSON.parse(recordedArgs)).toEqual(JSON.parse(whole.push(args) + whole.end()));
      expect(JSON.parse(recordedArgs).email).toBe('[EMAIL_ADDRESS]');
      expect(out.map((o) => o.data).join('')).not.toContain('jane.doe');
    }
  });

  test('two choices are masked each as its own text', () => {
    const a = ['Write to jane', '.doe@example.com now'];
    const b = ['Or call +1 (415) ', '555-0132 today'];
    const sse = a.map((t, i) => chunk([{ index: 0, delta: { content: t }, finish_reason: null }, { index: 1, delta: { content: b[i] }, finish_reason: null }])).join('')
      + chunk([{ index: 0, delta: {}, finish_reason: 'stop' }, { index: 1, delta: {}, finish_reason: 'stop' }]);
    const { out } = recorded(sse);
    expect(contentOf(out, 0)).toBe('Write to [EMAIL_ADDRESS] now');
    expect(contentOf(out, 1)).toBe('Or call [PHONE_NUMBER] today');
  });

  test('a stream with nothing to mask is recorded as the very events that came in', () => {
    const sse = ['We restarted', ' the pod and', ' it works.'].map((c) => chunk([{ index: 0, delta: { content: c }, finish_reason: null }])).join('')
      + chunk([{ index: 0, delta: {}, finish_reason: 'stop' }]) + 'data: [DONE]\n\n';
    const { out, inputs } = recorded(sse);
    expect(out).toHaveLength(inputs.length);
    out.forEach((o, i) => expect(o).toBe(inputs[i]));
  });
});

describe('a legacy Text Completions stream in the record', () => {
  const completion = (text: string, stop: string | null) => formatSse('completion', { type: 'completion', completion: text, stop_reason: stop, model: 'claude-2.1' });

  test('its completion is masked as the whole text is, however the events split it, ended or cut off', () => {
    fc.assert(fc.property(textArb, cutsArb, fc.boolean(), (text, cuts, stopped) => {
      const parts = splitAt(text, cuts);
      const sse = parts.map((p, i) => completion(p, stopped && i === parts.length - 1 ? 'stop_sequence' : null)).join('');
      const { out } = recorded(sse);
      expect(parsed(out).map((d) => d.completion).join('')).toBe(core.maskText(text).masked);
      for (const o of out) expect(o.event).toBe('completion');
    }), { numRuns: 150 });
  });

  test('a phone number and an address split across events are recorded masked', () => {
    const sse = [completion('Call me at 415 555', null), completion(' 2671, mail jane.doe@', null), completion('example.com', 'stop_sequence')].join('');
    const { out } = recorded(sse);
    expect(parsed(out).map((d) => d.completion).join('')).toBe('Call me at [PHONE_NUMBER], mail [EMAIL_ADDRESS]');
    expect(out.map((o) => o.data).join('')).not.toMatch(/jane|555/);
  });
});
