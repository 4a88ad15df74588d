// The resent-history memo: a memoising masker returns exactly what a fresh masking would, for text
// and for growing conversations (the way Claude's API resends history every turn); it is bounded;
// and tokenizing maskers never memoise (their vault must be filled on every call). A value masked
// with context (a tool input's, after its member name) is memoised by both.
import fc from 'fast-check';
import { createMasker } from '../src/index.js';
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
