// The resent-history memo: a memoising masker returns exactly what a fresh masking would, for text
// and for growing conversations (the way Claude's API resends history every turn); it is bounded;
// and tokenizing maskers never memoise (their vault must be filled on every call). A value masked
// with context (a tool input's, after its member name) is memoised by both. A resent tools array or
// tool call input found clean is passed over whole (CleanParts), and found again only if it is
// unchanged. Counts here are of lookups, never of time (bench/masking has the timings).
import fc from 'fast-check';
import { createMasker } from '../src/index.js';
import { signature } from '../src/memo.js';
import { PROSE, SENSITIVE } from './samples.js';

const KEY = 'memo-test-installation-key';
const piece = fc.oneof(fc.constantFrom(...PROSE), fc.constantFrom(...SENSITIVE), fc.string({ maxLength: 40 }));
const longText = fc.array(piece, { minLength: 8, maxLength: 30 }).map((parts) => parts.join(' '));

describe('the resent-history memo', () => {
  it('returns the same masked text and findings as masking afresh, for any text', () => {
    const memo = createMasker(undefined, { key: KEY });
    const plain = createMasker(undefined, { key: KEY, memo: false });
    fc.assert(fc.property(longText, (text) => {
      const a = memo.maskText(text);
      const again = memo.maskText(text);
      const b = plain.maskText(text);
      expect(a).toEqual(b);
      expect(again).toEqual(b);
    }), { numRuns: 150 });
  });

  it('masks a growing conversation like a fresh masker and reuses the resent turns', () => {
    const memo = createMasker(undefined, { key: KEY, memo: { minChars: 64, maxChars: 1_000_000 } });
    const plain = createMasker(undefined, { key: KEY, memo: false });
    fc.assert(fc.property(fc.array(longText, { minLength: 2, maxLength: 6 }), (turns) => {
      const messages: Array<{ role: string; content: string }> = [];
      for (const [i, t] of turns.entries()) {
        messages.push({ role: i % 2 ? 'assistant' : 'user', content: t });
        const body = { model: 'claude-sonnet-4-6', max_tokens: 10, system: 'You are the billing skill. '.repeat(5), messages: [...messages] };
        expect(memo.maskMessagesRequest(body)).toEqual(plain.maskMessagesRequest(body));
      }
    }), { numRuns: 40 });
    expect(memo.memoStats()!.hits).toBeGreaterThan(0);
  });

  it('keeps a tool input\'s values by their member names too: the same text after another name is another entry', () => {
    const memo = createMasker(undefined, { key: KEY });
    const plain = createMasker(undefined, { key: KEY, memo: false });
    const turn = (input: Record<string, unknown>) => ({ model: 'claude-x', max_tokens: 8, messages: [{ role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_1', name: 'save', input }] }] });
    fc.assert(fc.property(fc.constantFrom('ssn', 'note', 'routing', 'password', 'phone_number'), fc.constantFrom('536 22 8974', '021000021', 'hunter2hunter2', '4155552671', 'x'), (name, value) => {
      for (const input of [{ [name]: value }, { note: value }, { [name]: value }]) expect(memo.maskMessagesRequest(turn(input))).toEqual(plain.maskMessagesRequest(turn(input)));
      // A text of its own that reads like such an entry's key is never confused with it.
      const lookalike = `\u0000${name.length + 2}\u0000${name}: ${value}`;
      expect(memo.maskText(lookalike)).toEqual(plain.maskText(lookalike));
    }), { numRuns: 40 });
  });

  it('is bounded: entries beyond maxChars are dropped, least recently used first', () => {
    // Each entry costs its text (83 characters, nothing to mask) and a fixed overhead of 96: one fits in 300, two do not.
    const memo = createMasker(undefined, { key: KEY, memo: { minChars: 10, maxChars: 300 } });
    const a = `first text to remember ${'a'.repeat(60)}`;
    const b = `second text that pushes ${'b'.repeat(60)}`;
    memo.maskText(a);
    memo.maskText(b); // a + b exceed 300: a goes
    memo.maskText(a);
    expect(memo.memoStats()).toEqual({ hits: 0, misses: 3 });
    memo.maskText(a);
    expect(memo.memoStats()!.hits).toBe(1);
  });

  it('keeps an entry used since it went in over older ones that were not (a second chance)', () => {
    // Each entry costs 179 characters (83 of text, nothing masked, 96 of overhead): three fit in 600, four do not.
    const memo = createMasker(undefined, { key: KEY, memo: { minChars: 10, maxChars: 600 } });
    const [a, b, c, d] = ['a', 'b', 'c', 'd'].map((l) => `text ${l} to remember, and then some ${l.repeat(48)}`);
    for (const t of [a, b, c]) memo.maskText(t!);
    memo.maskText(a!); // a used again: the oldest, but not the least recently used
    memo.maskText(d!); // over the bound: b goes, not a
    expect(memo.memoStats()).toEqual({ hits: 1, misses: 4 });
    memo.maskText(a!);
    expect(memo.memoStats()).toEqual({ hits: 2, misses: 4 });
    memo.maskText(b!);
    expect(memo.memoStats()).toEqual({ hits: 2, misses: 5 });
  });

  it('bounds many short texts as well as a few long ones: every entry pays a fixed overhead', () => {
    const memo = createMasker(undefined, { key: KEY, memo: { minChars: 1, maxChars: 10_000 } });
    const texts = Array.from({ length: 1000 }, (_, i) => `t${i}`);
    for (const t of texts) memo.maskText(t);
    // At ~100 characters an entry, about a hundred fit: the oldest are gone, the newest are kept.
    for (const t of texts.slice(0, 10)) memo.maskText(t);
    expect(memo.memoStats()).toEqual({ hits: 0, misses: 1010 });
    for (const t of texts.slice(-50)) memo.maskText(t);
    expect(memo.memoStats()!.hits).toBe(50);
  });

  it('tells apart texts that share a signature (which reads 32 characters of a long text)', () => {
    const filler = 'the deploy went fine and the queue drained '.repeat(60).slice(0, 2000);
    const other = `${filler.slice(0, 138)} jane.doe@example.com ${filler.slice(160)}`; // between two sampled characters
    expect(other.length).toBe(filler.length);
    expect(signature(other, '')).toBe(signature(filler, ''));
    const memo = createMasker(undefined, { key: KEY });
    const plain = createMasker(undefined, { key: KEY, memo: false });
    for (let i = 0; i < 2; i++) {
      for (const t of [filler, other]) expect(memo.maskText(t)).toEqual(plain.maskText(t));
    }
    expect(memo.maskText(other).findings.map((f) => f.type)).toEqual(['EMAIL_ADDRESS']);
    expect(memo.memoStats()).toEqual({ hits: 3, misses: 2 });
  });

  it('is never used by a tokenizing masker, whose vault must see every value', () => {
    const tokenize = createMasker({ mode: 'tokenize' }, { key: KEY });
    expect(tokenize.memoStats()).toBeUndefined();
    const text = `Contact jane.doe@example.com about the refund. ${'x'.repeat(300)}`;
    const masked = tokenize.maskText(text).masked;
    expect(tokenize.restoreText(masked)).toBe(text);
    const byAction = createMasker({ entities: [{ type: 'EMAIL_ADDRESS', action: 'tokenize' }] }, { key: KEY });
    expect(byAction.memoStats()).toBeUndefined();
  });
});

describe('what the memo serves', () => {
  it('scans a request text once when its newest turn is scanned first and the whole request after', () => {
    const masker = createMasker(undefined, { key: KEY });
    const turn = 'Call Jane Doe at jane.doe@example.com.';
    const first = masker.maskText(turn);
    const body = masker.maskMessagesRequest({ model: 'claude-sonnet-4-6', max_tokens: 10, messages: [{ role: 'user', content: turn }] });
    expect(masker.memoStats()).toEqual({ hits: 1, misses: 1 });
    expect((body.body as { messages: Array<{ content: string }> }).messages[0]!.content).toBe(first.masked);
  });

  it('masks responses afresh and keeps them out of the memo', () => {
    const masker = createMasker(undefined, { key: KEY });
    const plain = createMasker(undefined, { key: KEY, memo: false });
    const response = { id: 'msg_1', type: 'message', role: 'assistant', content: [{ type: 'text', text: 'Mail jane.doe@example.com today.' }] };
    expect(masker.maskMessagesResponse(response)).toEqual(plain.maskMessagesResponse(response));
    expect(masker.maskMessagesResponse(response)).toEqual(plain.maskMessagesResponse(response));
    expect(masker.memoStats()).toEqual({ hits: 0, misses: 0 });
  });
});

describe('resent tools and tool calls', () => {
  // Claude Code's shape: the same tools and earlier tool calls in every request of a session.
  const tools = [
    { name: 'read_file', description: `Reads a file from disk and returns its contents with line numbers. ${PROSE.join(' ')}`,
      input_schema: { type: 'object', required: ['path'], properties: { path: { type: 'string', description: 'The file to read, e.g. src/index.ts' }, offset: { type: 'integer', description: 'First line' } } } },
    { name: 'grep', description: 'Searches files for a pattern.', input_schema: { type: 'object', properties: { pattern: { type: 'string', title: 'Pattern', examples: ['TODO', 'fixme'] } } } },
  ];
  const conversation = (toolSet: unknown[], input: Record<string, unknown>) => ({
    model: 'claude-sonnet-4-6', max_tokens: 1024, tools: toolSet,
    messages: [
      { role: 'user', content: 'What does the entry point export?' },
      { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_01', name: 'read_file', input }] },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_01', content: 'export { createMasker } from ./masker.js' }] },
    ],
  });
  // What the sidecar masks: a body parsed from the bytes of each request (new objects and strings every time).
  const resend = (body: unknown): unknown => JSON.parse(JSON.stringify(body));
  const lookups = (m: ReturnType<typeof createMasker>, body: unknown, forRecord: boolean) => {
    const before = m.memoStats()!;
    m.maskMessagesRequest(body, { forRecord });
    const after = m.memoStats()!;
    return { hits: after.hits - before.hits, misses: after.misses - before.misses };
  };

  for (const forRecord of [true, false]) {
    it(`passes over a resent tools array and tool input with nothing to mask whole, without a lookup a string (${forRecord ? 'the record' : 'the wire'})`, () => {
      const masker = createMasker(undefined, { key: KEY });
      const body = conversation(tools, { path: 'src/index.ts', offset: 1 });
      const first = lookups(masker, resend(body), forRecord);
      expect(first.misses).toBeGreaterThan(2);
      // Seen twice, walked twice (every string a hit): a part is kept only the second time it is seen.
      expect(lookups(masker, resend(body), forRecord)).toEqual({ hits: first.misses, misses: 0 });
      // From then on only the two texts outside tools and tool inputs are looked up: the user's turn and the tool result.
      expect(lookups(masker, resend(body), forRecord)).toEqual({ hits: 2, misses: 0 });
      const again = resend(body);
      expect(masker.maskMessagesRequest(again, { forRecord })).toEqual(createMasker(undefined, { key: KEY, memo: false }).maskMessagesRequest(again, { forRecord }));
      expect((masker.maskMessagesRequest(again, { forRecord }).body as typeof body).tools).toBe((again as typeof body).tools);
    });
  }

  it('serves a resent tools array and tool input with something to mask from the memo, string by string', () => {
    const masker = createMasker(undefined, { key: KEY });
    const sensitive = [{ ...tools[0]!, description: 'Reads files. Questions to jane.doe@example.com' }, tools[1]!];
    const body = conversation(sensitive, { path: 'src/index.ts', owner: 'jane.doe@example.com' });
    const first = lookups(masker, resend(body), true);
    for (let i = 0; i < 3; i++) expect(lookups(masker, resend(body), true)).toEqual({ hits: first.misses, misses: 0 });
    const r = masker.maskMessagesRequest(resend(body), { forRecord: true });
    expect(r).toEqual(createMasker(undefined, { key: KEY, memo: false }).maskMessagesRequest(resend(body), { forRecord: true }));
    expect(r.findings.map((f) => f.path)).toEqual(['messages[1].content[0].input.owner', 'tools[0].description']);
  });

  it('keeps no part the wire found clean when the record\'s walk would not: a member only the record reads', () => {
    const masker = createMasker(undefined, { key: KEY });
    // The wire masks a tool's description and schema text; the record also every other non-structural string.
    const owned = [{ ...tools[0]!, x_owner: 'jane.doe@example.com' }, tools[1]!];
    const body = conversation(owned, { path: 'src/index.ts' });
    for (let i = 0; i < 4; i++) {
      const wire = masker.maskMessagesRequest(resend(body));
      expect(wire.findings).toEqual([]);
      expect(wire.recordDiffers).toBe(true);
    }
    const record = masker.maskMessagesRequest(resend(body), { forRecord: true });
    expect(record.findings.map((f) => [f.type, f.path])).toEqual([['EMAIL_ADDRESS', 'tools[0].x_owner']]);
    expect(record).toEqual(createMasker(undefined, { key: KEY, memo: false }).maskMessagesRequest(resend(body), { forRecord: true }));
  });

  it('walks a kept part again once it differs, even when the caller changed the very object it passed before', () => {
    const masker = createMasker(undefined, { key: KEY });
    const body = conversation(structuredClone(tools), { path: 'src/index.ts' }) as ReturnType<typeof conversation> & { tools: typeof tools };
    for (let i = 0; i < 3; i++) expect(masker.maskMessagesRequest(body, { forRecord: true }).findings).toEqual([]);
    (body.tools[1]!.input_schema.properties as { pattern: { examples: string[] } }).pattern.examples.push('call 415-555-0132');
    const input = (body.messages[1]!.content as Array<{ input: Record<string, unknown> }>)[0]!.input;
    input.path = 'home/jane.doe@example.com/notes.txt';
    const r = masker.maskMessagesRequest(body, { forRecord: true });
    expect(r.findings.map((f) => [f.type, f.path])).toEqual([
      ['EMAIL_ADDRESS', 'messages[1].content[0].input.path'], ['PHONE_NUMBER', 'tools[1].input_schema.properties.pattern.examples[2]'],
    ]);
  });

  it('masks any sequence of resent requests as a masker that sees each request for the first time', () => {
    const text = fc.oneof(fc.constantFrom(...PROSE), fc.constantFrom(...SENSITIVE));
    const toolSet = fc.array(fc.record({ name: fc.constantFrom('read', 'grep', 'edit'), description: text, input_schema: fc.record({ type: fc.constant('object'), properties: fc.dictionary(fc.constantFrom('path', 'email', 'query'), fc.record({ type: fc.constant('string'), description: text })) }) }), { maxLength: 3 });
    const input = fc.dictionary(fc.constantFrom('path', 'ssn', 'note', 'limit'), fc.oneof(text, fc.integer()), { maxKeys: 3 });
    const request = fc.record({ tools: toolSet, input, id: fc.constantFrom('toolu_01', 'toolu_02') }).map(({ tools: t, input: i, id }) => ({
      model: 'claude-x', max_tokens: 8, tools: t,
      messages: [{ role: 'user', content: 'go on' }, { role: 'assistant', content: [{ type: 'tool_use', id, name: 'read', input: i }] }],
    }));
    fc.assert(fc.property(fc.array(fc.tuple(fc.nat(2), fc.boolean()), { minLength: 3, maxLength: 12 }), fc.array(request, { minLength: 1, maxLength: 3 }), (sequence, pool) => {
      const masker = createMasker(undefined, { key: KEY });
      for (const [n, forRecord] of sequence) {
        const body = resend(pool[n % pool.length]);
        expect(masker.maskMessagesRequest(body, { forRecord })).toEqual(createMasker(undefined, { key: KEY, memo: false }).maskMessagesRequest(body, { forRecord }));
      }
    }), { numRuns: 60 });
  });
});
