// What arrives whole in a Messages stream — a citation (citations_delta) and a block whose content
// comes in its content_block_start (an MCP tool result) — is masked as a non-streaming answer's is:
// live in the modes that mask answers, in the record in every mode, and restored in tokenize mode.
import fc from 'fast-check';
import { SseParser, formatSse, type SseEvent } from '@skillgate/wire';
import { createMasker, type StreamOutput } from '../src/index.js';

const key = 'whole-blocks-test-key-0123456789';
const response = createMasker({ mode: 'response' }, { key });
const recordOnly = createMasker(undefined, { key });

const cited = 'Contact jane.doe@example.com, card 4111 1111 1111 1111';
const mcpText = 'customer jane.doe@example.com card 4111 1111 1111 1111';

function answer(citedText: string, resultText: string): Buffer {
  return Buffer.from([
    formatSse('message_start', { type: 'message_start', message: { id: 'msg_1', type: 'message', role: 'assistant', content: [], model: 'claude-x', usage: {} } }),
    formatSse('content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '', citations: [] } }),
    formatSse('content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'citations_delta', citation: { type: 'char_location', cited_text: citedText, document_index: 0, start_char_index: 0, end_char_index: citedText.length } } }),
    formatSse('content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'As the document says.' } }),
    formatSse('content_block_stop', { type: 'content_block_stop', index: 0 }),
    formatSse('content_block_start', { type: 'content_block_start', index: 1, content_block: { type: 'mcp_tool_result', tool_use_id: 'mcptoolu_1', is_error: false, content: [{ type: 'text', text: resultText }] } }),
    formatSse('content_block_stop', { type: 'content_block_stop', index: 1 }),
    formatSse('message_stop', { type: 'message_stop' }),
  ].join(''));
}

function run(bytes: Buffer, sm: { push(ev: SseEvent): StreamOutput[]; end(): StreamOutput[]; findings: readonly unknown[] }, cuts: number[] = []) {
  const parser = new SseParser();
  const out: StreamOutput[] = [];
  const pos = [...new Set(cuts.map((c) => Math.floor(c * bytes.length)))].filter((p) => p > 0 && p < bytes.length).sort((a, b) => a - b);
  let last = 0;
  for (const p of [...pos, bytes.length]) {
    for (const ev of parser.push(bytes.subarray(last, p))) out.push(...sm.push(ev));
    last = p;
  }
  out.push(...sm.end());
  return { out, raw: Buffer.concat(out.map((o) => o.raw)).toString('utf8'), data: out.map((o) => JSON.parse(o.data) as Record<string, any>), findings: sm.findings as Array<{ type: string; path?: string }> };
}

const citationOf = (data: Array<Record<string, any>>) => data.find((d) => d.delta?.type === 'citations_delta')!.delta.citation;
const mcpResultOf = (data: Array<Record<string, any>>) => data.find((d) => d.content_block?.type === 'mcp_tool_result')!.content_block;
const nonStreaming = response.maskMessagesResponse({ type: 'message', content: [
  { type: 'text', text: 'As the document says.', citations: [{ type: 'char_location', cited_text: cited, document_index: 0, start_char_index: 0, end_char_index: cited.length }] },
  { type: 'mcp_tool_result', tool_use_id: 'mcptoolu_1', is_error: false, content: [{ type: 'text', text: mcpText }] },
] }).body as { content: Array<Record<string, any>> };

describe('blocks and citations that arrive whole in a stream', () => {
  test('a citation\'s cited_text reaches the skill masked in response mode, as a non-streaming answer\'s', () => {
    const live = run(answer(cited, mcpText), response.createStreamMasker());
    expect(live.raw).not.toContain('jane.doe@example.com');
    expect(citationOf(live.data)).toEqual(nonStreaming.content[0]!.citations[0]);
    expect(citationOf(live.data).cited_text).toBe('Contact [EMAIL_ADDRESS], card [CREDIT_CARD]');
    expect(live.findings.filter((f) => f.path?.startsWith('content[0].citations[0].cited_text')).map((f) => f.type)).toEqual(['EMAIL_ADDRESS', 'CREDIT_CARD']);
  });

  test('an MCP tool result whole in its content_block_start reaches the skill masked in response mode', () => {
    const live = run(answer(cited, mcpText), response.createStreamMasker());
    expect(mcpResultOf(live.data)).toEqual(nonStreaming.content[1]);
    expect(live.findings.filter((f) => f.path?.startsWith('content[1]')).map((f) => f.type)).toEqual(['EMAIL_ADDRESS', 'CREDIT_CARD']);
  });

  test('in record mode the skill gets both as sent and the record gets them masked, for any chunking', () => {
    fc.assert(fc.property(fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 30 }), (cuts) => {
      const input = answer(cited, mcpText);
      const record = run(input, recordOnly.createRecordStreamMasker(), cuts);
      expect(record.raw).not.toContain('jane.doe@example.com');
      expect(record.raw).not.toContain('4111 1111');
      expect(citationOf(record.data).cited_text).toBe('Contact [EMAIL_ADDRESS], card [CREDIT_CARD]');
      expect(mcpResultOf(record.data).content[0].text).toBe('customer [EMAIL_ADDRESS] card [CREDIT_CARD]');
      for (const o of record.out) expect(new SseParser().push(o.raw).map((e) => ({ event: e.event, data: e.data }))).toEqual([{ event: o.event, data: o.data }]);
    }), { numRuns: 40 });
  });

  test('a citation and an MCP result with nothing to mask pass as the very events that came in', () => {
    const input = answer('The sky is blue.', 'no rows matched');
    const events = new SseParser().push(input);
    for (const sm of [response.createStreamMasker(), recordOnly.createRecordStreamMasker()]) {
      const out: StreamOutput[] = [];
      for (const ev of events) out.push(...sm.push(ev));
      out.push(...sm.end());
      const whole = events.filter((e) => e.data.includes('citations_delta') || e.data.includes('mcp_tool_result'));
      expect(whole).toHaveLength(2);
      for (const e of whole) expect(out).toContain(e); // the very object: its original bytes
    }
  });

  test('tokenize mode gives the skill the values back in a citation and an MCP result', () => {
    const tk = createMasker({ mode: 'tokenize' }, { key });
    const masked = tk.maskText(cited).masked; // what Claude saw of the document
    const fromMcp = tk.maskText(mcpText).masked;
    expect(masked).not.toContain('jane.doe');
    const restored = run(answer(masked, fromMcp), tk.createStreamRestorer());
    expect(citationOf(restored.data).cited_text).toBe(cited);
    expect(mcpResultOf(restored.data).content[0].text).toBe(mcpText);
  });
});
