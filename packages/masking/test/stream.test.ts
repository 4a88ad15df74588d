// The streaming invariant: whatever the chunking, what the stream masker emits equals masking the
// whole text at once, block by block, and events it does not change keep their original bytes.
import { readFileSync, readdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { SseParser, formatSse, type SseEvent } from '@skillgate/wire';
import { createMasker, MaskerCore, TextStream, JsonTextStream, RecordStreamMasker, type StreamOutput } from '../src/index.js';
import { RUN_CAP, RunCap } from '../src/run-cap.js';
import { isTokenChar } from '../src/boundary.js';
import { NEAR_MISSES, PROSE, SENSITIVE, splitAt } from './samples.js';

const here = fileURLToPath(new URL('.', import.meta.url)); // packages/masking/dist/test/
const fixtureDir = process.env.SKILLGATE_FIXTURES ?? resolve(here, '../../../fake-claude/fixtures/anthropic-sse');

const spec = { custom: [{ name: 'EMPLOYEE_ID', pattern: 'EMP-[0-9]{6}' }, { name: 'PROJECT', keywords: ['project falcon'] }] };
const key = 'stream-test-key-0123456789';
const core = new MaskerCore(spec, { key });
const masker = createMasker(spec, { key });

const fragment = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...SENSITIVE) },
  { weight: 2, arbitrary: fc.constantFrom(...NEAR_MISSES) },
  { weight: 3, arbitrary: fc.constantFrom(...PROSE) },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 6 }) },
  { weight: 1, arbitrary: fc.string({ unit: fc.constantFrom('1', '2', ' ', '-', '.', '@', 'A', 'a', ':', '+', '(', ')', '\n', 'é', '\ud83d\ude80'), maxLength: 30 }) },
  // The same alphabet with characters detection folds (fold.ts) mixed in.
  { weight: 1, arbitrary: fc.string({ unit: fc.constantFrom('1', '\uff11', '\u0661', '\u06f4', '\u0967', ' ', '\u00a0', '\u3000', '-', '\u2011', '\uff0d', '.', '\uff0e', '@', '\uff20', 'a', '\uff41', ':'), maxLength: 30 }) },
  // And backslash escapes of JSON carried as text (fold.ts), whole or in pieces, before values.
  { weight: 2, arbitrary: fc.string({ unit: fc.constantFrom('\\', '\\n', '\\t', '\\"', '\\u00a0', '\\u00e9', '\\u200b', '\\u0040', 'u', 'n', '0', '0a', 'e9', '4111111111111111', '536-22-8974', 'AKIAIOSFODNN7EXAMPLE', 'jane', '@example.com', 'John Smith', ' ', '1', '_'), maxLength: 12 }) },
  // And characters detection reads as nothing (fold.ts).
  { weight: 1, arbitrary: fc.string({ unit: fc.constantFrom('1', '4', ' ', '-', '.', '@', 'a', 'A', ':', '\u200b', '\u00ad', '\u200d', '\ufeff', '\u2060', '\u200e', '\u2066', '\u202e', '\u{1D7CF}', '\u{1D7D2}', '\u{1D41A}', '\u{1D400}', '\u{1D6FC}'), maxLength: 30 }) },
);
const sep = fc.constantFrom(' ', '', ', ', '\n', '. ', ': ', '"');
const textArb = fc.array(fc.tuple(fragment, sep), { minLength: 1, maxLength: 14 }).map((parts) => parts.map(([a, b]) => a + b).join(''));

const cutsArb = fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 40 });

function maskJsonWhole(json: string): string {
  const js = new JsonTextStream(core);
  return js.push(json) + js.end();
}

function streamText(chunks: string[]): string {
  const ts = new TextStream(core);
  let out = '';
  for (const c of chunks) out += ts.push(c);
  return out + ts.end();
}

describe('streaming text equals masking the whole text', () => {
  test('for random texts and random chunkings', () => {
    fc.assert(fc.property(textArb, cutsArb, (text, cuts) => {
      expect(streamText(splitAt(text, cuts))).toBe(core.maskText(text).masked);
    }), { numRuns: 400 });
  });

  test('for one-character chunks, surrogate halves included', () => {
    fc.assert(fc.property(textArb, (text) => {
      expect(streamText([...Array(text.length).keys()].map((i) => text[i]!))).toBe(core.maskText(text).masked);
    }), { numRuns: 150 });
  });

  test('findings from the stream match whole-text findings', () => {
    const text = 'Mail john.smith@example.com, card 4111 1111 1111 1111 and EMP-123456 about project falcon.';
    const ts = new TextStream(core);
    for (const ch of text) ts.push(ch);
    ts.end();
    expect(ts.findings).toEqual(core.maskText(text).findings);
  });

  test('text with no trigger flows through without being held', () => {
    const ts = new TextStream(core);
    expect(ts.push('we restarted the pod, and ')).toBe('we restarted the pod, and ');
    expect(ts.push('it works; ')).toBe('it works; ');
    expect(ts.held).toBe(0);
  });

  test('a possible match is held only from its trigger on', () => {
    const ts = new TextStream(core);
    expect(ts.push('reach me at 415-555')).toBe('reach me at ');
    expect(ts.push('-0199 thanks')).toBe('[PHONE_NUMBER] ');
  });
});

describe('a text read after a context (a JSON value after its member name)', () => {
  const contextArb = fc.oneof(fc.constantFrom('ssn: ', 'phone number: ', 'password: ', 'routing: ', 'date of birth: ', 'api key: ', 'q: '), fc.string({ maxLength: 12 }).map((w) => `${w}: `));
  test('streams as maskInContext masks it whole, findings included, for random texts and chunkings', () => {
    fc.assert(fc.property(contextArb, textArb, cutsArb, (context, text, cuts) => {
      const ts = new TextStream(core, context);
      let out = '';
      for (const c of splitAt(text, cuts)) out += ts.push(c);
      out += ts.end();
      const whole = core.maskInContext(context, text);
      expect(out).toBe(whole.masked);
      expect(ts.findings.map((f) => ({ ...f, start: Math.max(0, f.start - context.length), end: f.end - context.length }))).toEqual(whole.findings);
    }), { numRuns: 300 });
  });
});

// A separator-free run longer than RUN_CAP is cut every RUN_CAP characters and each piece masked
// on its own (src/run-cap.ts), by the stream and the whole-text masker alike.
describe('separator-free runs past the run cap', () => {
  const B64 = 'QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo0MTExMTExMTExMTExMTExMQ';
  const runArb = fc.tuple(fc.constantFrom(B64, '0123456789abcdef', '🚀x', 'a'), fc.integer({ min: RUN_CAP - 40, max: RUN_CAP * 2 + 40 }))
    .map(([unit, n]) => unit.repeat(Math.ceil(n / unit.length)).slice(0, n));
  const glue = fc.constantFrom('', ' ', 'john.smith@example.com', '@example.com ', ' 4111 1111 1111 1111 ', ',');

  test('the forced cuts fall where a character-by-character count puts them, however the text is cut into pieces', () => {
    /** The rule read one character at a time: a cut before the token character after `cap` of a run, never inside a surrogate pair. */
    const reference = (text: string, cap: number): number[] => {
      const cuts: number[] = [];
      let run = 0;
      for (let i = 0; i < text.length; i++) {
        const c = text.charCodeAt(i);
        if (!isTokenChar(c)) { run = 0; continue; }
        const pairOpen = i > 0 && text.charCodeAt(i - 1) >= 0xd800 && text.charCodeAt(i - 1) <= 0xdbff;
        if (run >= cap && !pairOpen) { cuts.push(i); run = 0; }
        run++;
      }
      return cuts;
    };
    fc.assert(fc.property(fc.string({ unit: fc.constantFrom('a', 'b', ' ', '\n', '🚀', '\ud83d', ','), maxLength: 80 }), fc.integer({ min: 1, max: 9 }), cutsArb, (text, cap, cuts) => {
      const rc = new RunCap(cap);
      const got: number[] = [];
      let at = 0;
      for (const piece of splitAt(text, cuts)) {
        for (const c of rc.read(piece)) got.push(at + c);
        at += piece.length;
      }
      expect(got).toEqual(reference(text, cap));
    }), { numRuns: 2000 });
  });

  test('stream as the whole text is masked, for random chunkings', () => {
    fc.assert(fc.property(textArb, runArb, glue, glue, textArb, fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 12 }), (a, run, g1, g2, b, cuts) => {
      const text = a + g1 + run + g2 + b;
      const ts = new TextStream(core);
      let out = '';
      for (const c of splitAt(text, cuts)) out += ts.push(c);
      out += ts.end();
      const whole = core.maskText(text);
      expect(out).toBe(whole.masked);
      expect(ts.findings).toEqual(whole.findings);
    }), { numRuns: 30 });
  });

  test('a value right after a forced cut is found in both, and no surrogate pair is split', () => {
    const text = 'x'.repeat(RUN_CAP) + 'john.smith@example.com and more';
    expect(core.maskText(text).masked).toBe(`${'x'.repeat(RUN_CAP)}[EMAIL_ADDRESS] and more`);
    const pairs = `a${'🚀'.repeat(RUN_CAP)}`;
    const ts = new TextStream(core);
    let out = '';
    for (let i = 0; i < pairs.length; i += 999) {
      const piece = ts.push(pairs.slice(i, i + 999));
      expect(piece.length === 0 || !/[\ud800-\udbff]$/.test(piece)).toBe(true);
      out += piece;
    }
    expect(out + ts.end()).toBe(pairs);
  });

  test('a long base64-like upload is held at most about the cap, never whole', () => {
    const ts = new TextStream(core);
    const chunk = B64.repeat(1100); // ~64 KB, no separator
    let out = 0;
    let most = 0;
    for (let i = 0; i < 64; i++) { // 4 MB
      out += ts.push(chunk).length;
      most = Math.max(most, ts.held);
    }
    out += ts.end().length;
    expect(most).toBeLessThanOrEqual(RUN_CAP + chunk.length);
    expect(out).toBe(chunk.length * 64);
  });
});

// The finer hold (src/hold.ts) releases part of the token run at the end of a delta when no
// detector could still extend it; these texts end deltas in '!', ':', '*', '(', ')', '.' and start
// the next delta with something that would complete a match.
describe('the finer hold keeps streaming equal to whole-text masking', () => {
  const cores: Array<[string, MaskerCore]> = [
    ['no custom entities', new MaskerCore(undefined, { key })],
    ['custom keywords only', new MaskerCore({ custom: [{ name: 'PROJECT', keywords: ['project falcon', 'acme-7', 'zeta!', 'ref/9'] }] }, { key })],
    ['a custom regex', core],
  ];
  const word = fc.constantFrom('there', 'safely', 'Thanks', 'token', 'password', 'pass', 'key', 'api_key', 'secret', 'mail', 'x', 'Ab3', 'f5Rx%9qLm2', 'john.smith', 'acme', 'zeta', 'project', 'EMP', '415', 'ref', '');
  const ending = fc.oneof(
    fc.constantFrom('!', ':', '*', '(', ')', '.', '**', ':**', '!)', '.)', '):', '=', ': ', '."', '/', ''),
    fc.string({ unit: fc.constantFrom('!', ':', '*', '(', ')', '.', '/', '=', ' ', '"', '#', '%', '~', '?', '-', '_', '@', 'a', '1'), maxLength: 5 }),
  );
  const next = fc.oneof(
    { weight: 1, arbitrary: fc.constantFrom(...SENSITIVE) },
    { weight: 3, arbitrary: fc.constantFrom('@example.com', 'x@example.com', 'Xk9#mQ2zPw7!', 'hunter22', '=hunter22', ': Zx8fK2pLq9Rm4TtW77', '-7 rocks', ' falcon', 'falcon', '-123456', '555-0199',
      '1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa', 'sk_live_4eC39HqLyjWDarjtT1zdp7dc', 'acme-7', 'zeta!', 'EMP-123456', '**', '!', '.', ' and more', '9 ok', '9') },
  );
  const pieces = fc.array(fc.tuple(word, ending, next, fc.constantFrom('', ' ', '\n', ', ')), { minLength: 1, maxLength: 8 });
  for (const [label, c] of cores) {
    const stream = (chunks: string[]) => {
      const ts = new TextStream(c);
      let out = '';
      for (const ch of chunks) out += ts.push(ch);
      return out + ts.end();
    };
    test(`with ${label}, deltas cut right after the ending, at random and one character at a time`, () => {
      fc.assert(fc.property(pieces, cutsArb, (ps, cuts) => {
        const deltas: string[] = [];
        for (const [w, e, n, gap] of ps) { deltas.push(w + e); deltas.push(n + gap); }
        const text = deltas.join('');
        const whole = c.maskText(text).masked;
        expect(stream(deltas)).toBe(whole);
        expect(stream(splitAt(text, cuts))).toBe(whole);
        expect(stream([...text])).toBe(whole);
      }), { numRuns: 300 });
    });
  }

  test('a delta ending in punctuation no detector can extend is released at once', () => {
    const ts = new TextStream(new MaskerCore(undefined, { key }));
    expect(ts.push('Do it safely:**')).toBe('Do it safely:**');
    expect(ts.held).toBe(0);
  });

  test('a delta whose last run could still grow into a password or an email keeps holding it', () => {
    const ts = new TextStream(new MaskerCore(undefined, { key }));
    expect(ts.push('Hello there!')).toBe('Hello ');
    expect(ts.push('Xk9#mQ2zPw7 is it')).toBe('[SECRET] is ');
    expect(ts.push(' ok mail.')).toBe('it ok ');
    expect(ts.push('x@example.com')).toBe('');
    expect(ts.end()).toBe('[EMAIL_ADDRESS]');
  });

  test('a detection already received that a cut inside the run would split keeps the cut out', () => {
    // "a::" is an IPv6 address; the scan of "key-a:" alone cannot see it.
    const c = new MaskerCore(undefined, { key });
    const ts = new TextStream(c);
    const deltas = ['key', '-a::*', 'there', 'john.smith@example.com'];
    expect(deltas.map((d) => ts.push(d)).join('') + ts.end()).toBe(c.maskText(deltas.join('')).masked);
  });

  test('a URL\'s user information is held from its "://" until the run ends: the \'@\' that makes a password of it may come later', () => {
    const c = new MaskerCore(undefined, { key });
    const ts = new TextStream(c);
    expect(ts.push('use mysql://root:pw!42$')).toBe('use mysql://');
    expect(ts.push('x@10.0.0.5/db now')).toBe('root:[SECRET]@[IP_ADDRESS]/db ');
    expect(ts.end()).toBe('now');
    for (const text of ['mysql://root:pw!42$x@10.0.0.5/db', 'see redis://:s3cr3t-pw@redis-master:6379 ok']) {
      const one = new TextStream(c);
      expect([...text].map((ch) => one.push(ch)).join('') + one.end()).toBe(c.maskText(text).masked);
    }
  });

  test('a custom keyword that the next delta may complete is held from its start', () => {
    const ts = new TextStream(new MaskerCore({ custom: [{ name: 'PROJECT', keywords: ['ref/9'] }] }, { key }));
    expect(ts.push('see ref/')).toBe('see ');
    expect(ts.push('9 ok')).toBe('[PROJECT] ');
  });

  test('an assigned value keeps its run held; a custom regex keeps the whole run held', () => {
    const plain = new TextStream(new MaskerCore(undefined, { key }));
    expect(plain.push('set password=**')).toBe('set password=');
    const custom = new TextStream(core);
    expect(custom.push('Do it safely:**')).toBe('Do it ');
  });
});

/** A tool input as the walk of a parsed body masks it (messages.ts): what the stream of its JSON must equal. */
function walkedInput(input: unknown): unknown {
  const body = masker.maskMessagesResponse({ type: 'message', content: [{ type: 'tool_use', id: 'toolu_1', name: 'lookup', input }] }).body as { content: Array<{ input: unknown }> };
  return body.content[0]!.input;
}

function streamJson(json: string, cuts: number[]): string {
  const js = new JsonTextStream(core);
  let out = '';
  for (const c of splitAt(json, cuts)) out += js.push(c);
  return out + js.end();
}

// Numbers a tool input may hold: values of entities written as JSON numbers, and ordinary ones.
const numberArb = fc.oneof(
  fc.constantFrom(4111111111111111, 5555555555554444, 378282246310005, 4155552671, 536228974, 12345678901, 21000021, 19900304, 0, -1, 42, 3.14159, 1e21, 1e-7),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }).filter((d) => !Object.is(d, -0)), // JSON writes -0 as 0
);
// Member names: ones that give context, and any text (names that hold a value are masked).
const nameArb = fc.oneof(fc.constantFrom('ssn', 'phone_number', 'routingNumber', 'card', 'password', 'aws_secret_access_key', 'dateOfBirth', 'account', 'q', ''), textArb);

describe('streaming tool input JSON equals masking the parsed input', () => {
  test('for random inputs and chunkings: valid JSON, values read after their member names, names and numbers masked too', () => {
    fc.assert(fc.property(fc.tuple(textArb, textArb), fc.tuple(nameArb, nameArb), numberArb, numberArb, (texts, names, x, y) => {
      const [a, b] = texts;
      const [n1, n2] = names;
      const input = { query: a, nested: { list: [b, 42, true, null, x], 'email@example.com': 'x', [n1]: b, [n2]: y }, [n2]: [x, { [n1]: a }] };
      const json = JSON.stringify(input);
      for (const cuts of [[], [...Array(json.length).keys()].map((i) => i / json.length)]) {
        const out = streamJson(json, cuts);
        expect(JSON.parse(out)).toEqual(walkedInput(input));
      }
    }), { numRuns: 150 });
    fc.assert(fc.property(textArb, nameArb, numberArb, cutsArb, (a, n, x, cuts) => {
      const input = { [n]: a, [`${n}_number`]: x };
      expect(JSON.parse(streamJson(JSON.stringify(input), cuts))).toEqual(walkedInput(input));
    }), { numRuns: 300 });
  });

  test('the values, numbers and names of a tool input are masked as the same text in prose would be', () => {
    const input = { password: 'hunter2hunter2', aws_secret_access_key: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY', ssn: '536 22 8974', routing: '021000021',
      card: 4111111111111111, phone: 4155552671, 'jane.doe@example.com': 1 };
    const expected = { password: '[SECRET]', aws_secret_access_key: '[SECRET]', ssn: '[US_SSN]', routing: '[ABA_ROUTING_NUMBER]', card: '[CREDIT_CARD]', phone: '[PHONE_NUMBER]', '[EMAIL_ADDRESS]': 1 };
    expect(walkedInput(input)).toEqual(expected);
    const json = JSON.stringify(input);
    for (const cuts of [[], [0.5], [...Array(json.length).keys()].map((i) => i / json.length)]) {
      const js = new JsonTextStream(core);
      let out = '';
      for (const c of splitAt(json, cuts)) out += js.push(c);
      out += js.end();
      expect(JSON.parse(out)).toEqual(expected);
      expect(js.findings.map((f) => f.type)).toEqual(['SECRET', 'SECRET', 'US_SSN', 'ABA_ROUTING_NUMBER', 'CREDIT_CARD', 'PHONE_NUMBER', 'EMAIL_ADDRESS']);
    }
    // As prose, the same.
    expect(core.maskText('password: hunter2hunter2, ssn 536 22 8974, routing 021000021, card 4111111111111111, phone 4155552671, jane.doe@example.com').masked)
      .toBe('password: [SECRET], ssn [US_SSN], routing [ABA_ROUTING_NUMBER], card [CREDIT_CARD], phone [PHONE_NUMBER], [EMAIL_ADDRESS]');
  });

  test('escapes split across chunks are decoded before masking', () => {
    const json = '{"q":"mail jo\\u0068n@example.com\\nnow"}';
    const js = new JsonTextStream(core);
    let out = '';
    for (const ch of json) out += js.push(ch);
    out += js.end();
    expect(JSON.parse(out)).toEqual({ q: 'mail [EMAIL_ADDRESS]\nnow' });
  });
});

// ---------------------------------------------------------------- SSE level
function sseStream(text: string, toolText: string, thinking: string): Buffer {
  const parts: string[] = [];
  parts.push(formatSse('message_start', { type: 'message_start', message: { id: 'msg_1', type: 'message', role: 'assistant', content: [], model: 'claude-x', stop_reason: null, usage: { input_tokens: 1, output_tokens: 1 } } }));
  parts.push(formatSse('content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'thinking', thinking: '', signature: '' } }));
  for (const c of splitAt(thinking, [0.5])) parts.push(formatSse('content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'thinking_delta', thinking: c } }));
  parts.push(formatSse('content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'signature_delta', signature: 'EqQBCgIYAhIM' } }));
  parts.push(formatSse('content_block_stop', { type: 'content_block_stop', index: 0 }));
  parts.push(formatSse('content_block_start', { type: 'content_block_start', index: 1, content_block: { type: 'text', text: '' } }));
  parts.push('event: ping\ndata: {"type": "ping"}\n\n');
  for (const c of splitAt(text, [0.2, 0.4, 0.6, 0.8])) parts.push(formatSse('content_block_delta', { type: 'content_block_delta', index: 1, delta: { type: 'text_delta', text: c } }));
  parts.push(formatSse('content_block_stop', { type: 'content_block_stop', index: 1 }));
  parts.push(formatSse('content_block_start', { type: 'content_block_start', index: 2, content_block: { type: 'tool_use', id: 'toolu_1', name: 'lookup', input: {} } }));
  const json = JSON.stringify({ query: toolText });
  for (const c of ['', ...splitAt(json, [0.3, 0.7])]) parts.push(formatSse('content_block_delta', { type: 'content_block_delta', index: 2, delta: { type: 'input_json_delta', partial_json: c } }));
  parts.push(formatSse('content_block_stop', { type: 'content_block_stop', index: 2 }));
  parts.push(formatSse('message_delta', { type: 'message_delta', delta: { stop_reason: 'tool_use', stop_sequence: null }, usage: { output_tokens: 9 } }));
  parts.push(formatSse('message_stop', { type: 'message_stop' }));
  return Buffer.from(parts.join(''), 'utf8');
}

function runThrough(bytes: Buffer, byteCuts: number[], make = () => masker.createStreamMasker()): Buffer {
  const parser = new SseParser();
  const sm = make();
  const out: Buffer[] = [];
  const emit = (os: StreamOutput[]) => { for (const o of os) out.push(o.raw); };
  const pos = [...new Set(byteCuts.map((c) => Math.floor(c * bytes.length)))].filter((p) => p > 0 && p < bytes.length).sort((a, b) => a - b);
  let last = 0;
  for (const p of [...pos, bytes.length]) {
    for (const ev of parser.push(bytes.subarray(last, p))) emit(sm.push(ev));
    last = p;
  }
  emit(sm.end());
  return Buffer.concat(out);
}

interface Collected { events: SseEvent[]; text: Map<number, string> }
function collect(bytes: Buffer): Collected {
  const events = new SseParser().push(bytes);
  const text = new Map<number, string>();
  for (const ev of events) {
    if (ev.event !== 'content_block_delta') continue;
    const d = JSON.parse(ev.data) as { index: number; delta: Record<string, string> };
    const v = d.delta.text ?? d.delta.partial_json ?? d.delta.thinking;
    if (v !== undefined) text.set(d.index, (text.get(d.index) ?? '') + v);
  }
  return { events, text };
}

function blockType(events: SseEvent[], index: number): string {
  for (const e of events) {
    if (e.event !== 'content_block_start') continue;
    const d = JSON.parse(e.data) as { index: number; content_block: { type: string } };
    if (d.index === index) return d.content_block.type;
  }
  return 'unknown';
}

describe('SSE streams', () => {
  test('re-chunked at the byte level (mid UTF-8 included), text blocks equal whole-text masking and thinking is untouched', () => {
    fc.assert(fc.property(textArb, textArb, textArb, fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 60 }), (text, tool, thinking, cuts) => {
      const input = sseStream(text, tool, thinking);
      const got = collect(runThrough(input, cuts));
      expect(got.text.get(1)).toBe(core.maskText(text).masked);
      expect(got.text.get(0)).toBe(thinking);
      expect(JSON.parse(got.text.get(2)!)).toEqual({ query: core.maskInContext('query: ', tool).masked });
      // Events other than deltas pass byte for byte, in order.
      const others = (evs: SseEvent[]) => evs.filter((e) => e.event !== 'content_block_delta').map((e) => e.raw.toString('utf8'));
      expect(others(got.events)).toEqual(others(new SseParser().push(input)));
    }), { numRuns: 150 });
  });

  test('one-byte chunks give the same output as one chunk', () => {
    const input = sseStream('Contact Maria Garcia at maria@example.com 🚀 or +1 (415) 555-0132.', 'card 4111 1111 1111 1111', 'thinking about maria@example.com');
    const whole = runThrough(input, []);
    const bytewise = runThrough(input, [...Array(input.length).keys()].map((i) => i / input.length));
    expect(collect(bytewise).text).toEqual(collect(whole).text);
    expect(collect(whole).text.get(1)).toBe('Contact [PERSON] at [EMAIL_ADDRESS] 🚀 or [PHONE_NUMBER].');
  });

  test('thinking deltas are masked only when the policy says so', () => {
    const withThinking = createMasker({ thinking: true }, { key });
    const input = sseStream('ok', 'x', 'maria@example.com is the contact');
    expect(collect(runThrough(input, [], () => withThinking.createStreamMasker())).text.get(0)).toBe('[EMAIL_ADDRESS] is the contact');
  });

  test('recorded Anthropic streams keep every non-text byte and mask text like the whole text', () => {
    const files = readdirSync(fixtureDir).filter((f) => f.endsWith('.sse') || f.endsWith('.txt'));
    expect(files.length).toBeGreaterThan(0);
    for (const f of files) {
      const input = readFileSync(resolve(fixtureDir, f));
      const original = collect(input);
      for (const cuts of [[], [0.13, 0.5, 0.77], [...Array(200).keys()].map((i) => i / 200)]) {
        const out = collect(runThrough(input, cuts));
        for (const [index, text] of original.text) {
          const kind = blockType(original.events, index);
          if (kind === 'text') expect(out.text.get(index)).toBe(core.maskText(text).masked);
          else if (kind === 'thinking') expect(out.text.get(index)).toBe(text);
          else {
            expect(out.text.get(index) ?? '').toBe(maskJsonWhole(text));
            let parsed: unknown;
            try { parsed = JSON.parse(text); } catch { continue; } // a stream cut off inside the input
            expect(JSON.parse(out.text.get(index)!)).toEqual(walkedInput(parsed));
          }
        }
        const others = (evs: SseEvent[]) => evs.filter((e) => e.event !== 'content_block_delta').map((e) => e.raw.toString('utf8'));
        expect(others(out.events)).toEqual(others(original.events));
      }
    }
  });

  test('every output says in event and data what its bytes say; an untouched event is the input itself', () => {
    // The record keeps outputs' event and data as they are (no second parse of the masked bytes).
    const input = sseStream('Contact Maria Garcia at maria@example.com today.', 'card 4111 1111 1111 1111', 'hmm');
    for (const cuts of [[], [0.31, 0.62], [...Array(97).keys()].map((i) => i / 97)]) {
      const parser = new SseParser();
      const sm = masker.createStreamMasker();
      let last = 0;
      let untouched = 0;
      const check = (outs: StreamOutput[], from?: SseEvent) => {
        for (const o of outs) {
          const reparsed = new SseParser().push(o.raw);
          expect(reparsed).toHaveLength(1);
          expect({ event: o.event, data: o.data }).toEqual({ event: reparsed[0]!.event, data: reparsed[0]!.data });
          if (from && o.raw.equals(from.raw)) { expect(o).toBe(from); untouched++; }
        }
      };
      for (const p of [...new Set(cuts.map((c) => Math.floor(c * input.length)))].filter((q) => q > 0).sort((a, b) => a - b).concat(input.length)) {
        for (const ev of parser.push(input.subarray(last, p))) check(sm.push(ev), ev);
        last = p;
      }
      check(sm.end());
      expect(untouched).toBeGreaterThan(5); // message_start, pings, stops, thinking...: passed as they came
    }
  });

  test('a tool input streamed as input_json_delta is masked live and in the record of every mode: values, numbers and names', () => {
    const input = { password: 'hunter2hunter2', aws_secret_access_key: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY', ssn: '536 22 8974', routing: '021000021',
      card: 4111111111111111, phone: 4155552671, 'jane.doe@example.com': 1 };
    const json = JSON.stringify(input);
    const sse = Buffer.from([
      formatSse('content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'tool_use', id: 'toolu_1', name: 'login', input: {} } }),
      ...splitAt(json, [0.1, 0.33, 0.5, 0.61, 0.9]).map((c) => formatSse('content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'input_json_delta', partial_json: c } })),
      formatSse('content_block_stop', { type: 'content_block_stop', index: 0 }),
      formatSse('message_stop', { type: 'message_stop' }),
    ].join(''));
    const leaks = (out: Buffer) => ['hunter2hunter2', 'wJalrXUtnFEMI', '536 22 8974', '021000021', '4111111111111111', '4155552671', 'jane.doe@example.com'].filter((v) => out.toString().includes(v));
    for (const mode of ['record', 'request', 'response', 'both', 'tokenize'] as const) {
      const m = createMasker({ mode }, { key });
      for (const cuts of [[], [0.3, 0.6], [...Array(120).keys()].map((i) => i / 120)]) {
        const recorded = runThrough(sse, cuts, () => m.createRecordStreamMasker());
        expect(leaks(recorded)).toEqual([]);
        const tool = JSON.parse(collect(recorded).text.get(0)!) as Record<string, unknown>;
        expect(Object.keys(tool)).toHaveLength(7);
        if (mode === 'response' || mode === 'both') expect(leaks(runThrough(sse, cuts, () => m.createStreamMasker()))).toEqual([]);
      }
    }
  });

  test('the record masks thinking whatever the policy says; the live stream only when it says so', () => {
    const input = sseStream('ok', 'x', 'the user is maria@example.com');
    expect(collect(runThrough(input, [], () => masker.createStreamMasker())).text.get(0)).toBe('the user is maria@example.com');
    for (const cuts of [[], [0.5], [...Array(90).keys()].map((i) => i / 90)]) {
      const recorded = runThrough(input, cuts, () => masker.createRecordStreamMasker());
      expect(collect(recorded).text.get(0)).toBe('the user is [EMAIL_ADDRESS]');
      expect(recorded.toString()).toContain('"signature":"EqQBCgIYAhIM"'); // the signature kept as it came
    }
  });

  test('an unreadable delta is dropped, never forwarded raw', () => {
    const sm = masker.createStreamMasker();
    const start = new SseParser().push(Buffer.from(formatSse('content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } })));
    sm.push(start[0]!);
    const bad = new SseParser().push(Buffer.from('event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"john@example.com"\n\n'));
    expect(sm.push(bad[0]!)).toEqual([]);
  });
});

describe('the record\'s stream masker (a block at a time)', () => {
  /** Events and findings a stream masker puts out for an input cut at the given byte fractions. */
  function outputs(bytes: Buffer, byteCuts: number[], sm: { push(ev: SseEvent): StreamOutput[]; end(): StreamOutput[]; findings: readonly unknown[] }) {
    const parser = new SseParser();
    const out: StreamOutput[] = [];
    const inputs: SseEvent[] = [];
    const pos = [...new Set(byteCuts.map((c) => Math.floor(c * bytes.length)))].filter((p) => p > 0 && p < bytes.length).sort((a, b) => a - b);
    let last = 0;
    for (const p of [...pos, bytes.length]) {
      for (const ev of parser.push(bytes.subarray(last, p))) {
        inputs.push(ev);
        out.push(...sm.push(ev));
      }
      last = p;
    }
    out.push(...sm.end());
    return { out, inputs, findings: sm.findings };
  }
  const textOf = (out: StreamOutput[]) => collect(Buffer.concat(out.map((o) => o.raw))).text;

  test('masks every block exactly as the live rewriter that masks thinking, with the same findings, for random texts and chunkings', () => {
    const withThinking = createMasker({ ...spec, thinking: true }, { key });
    fc.assert(fc.property(textArb, textArb, textArb, fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 60 }), (text, tool, thinking, cuts) => {
      // The record masks thinking whatever the policy says (no signature matters there).
      for (const m of [masker, withThinking]) {
        const input = sseStream(text, tool, thinking);
        const live = outputs(input, cuts, withThinking.createStreamMasker());
        const record = outputs(input, cuts, m.createRecordStreamMasker());
        expect(textOf(record.out)).toEqual(textOf(live.out));
        expect(record.findings).toEqual(live.findings);
        const others = (evs: StreamOutput[]) => evs.filter((e) => e.event !== 'content_block_delta').map((e) => e.raw.toString('utf8'));
        expect(others(record.out)).toEqual(others(live.out));
        // Every output says in event and data what its bytes say (the record keeps event and data).
        for (const o of record.out) expect(new SseParser().push(o.raw).map((e) => ({ event: e.event, data: e.data }))).toEqual([{ event: o.event, data: o.data }]);
      }
    }), { numRuns: 120 });
  });

  test('a stream with nothing to mask comes out as the very events that came in, in order', () => {
    const files = readdirSync(fixtureDir).filter((f) => f.endsWith('.sse') || f.endsWith('.txt'));
    const plain = createMasker(undefined, { key });
    const withThinking = createMasker({ thinking: true }, { key });
    let compared = 0;
    for (const f of files) {
      const input = readFileSync(resolve(fixtureDir, f));
      for (const cuts of [[], [0.21, 0.5, 0.9]]) {
        const live = outputs(input, cuts, withThinking.createStreamMasker());
        const record = outputs(input, cuts, plain.createRecordStreamMasker());
        expect(textOf(record.out)).toEqual(textOf(live.out));
        if (live.findings.length > 0) continue; // a fixture that holds something to mask
        expect(record.out).toHaveLength(record.inputs.length);
        record.out.forEach((o, i) => expect(o).toBe(record.inputs[i]));
        compared++;
      }
    }
    expect(compared).toBeGreaterThan(4);
  });

  test('a block larger than the hold limit goes through the live rewriter and still masks like the whole text', () => {
    // Sensitive text both in what is held before the limit is reached and in what comes after.
    const long = `Write to maria@example.com first. ${'Plain words and more plain words. '.repeat(40)}Or call +1 (415) 555-0132. ${'Tail text. '.repeat(30)}`;
    const input = sseStream(long, 'card 4111 1111 1111 1111', 'hmm');
    for (const cuts of [[], [...Array(60).keys()].map((i) => i / 60)]) {
      const small = new RecordStreamMasker({
        text: () => new TextStream(core), thinking: () => undefined, json: () => new JsonTextStream(core),
      }, { maxHeldBytes: 256 });
      const record = outputs(input, cuts, small);
      const live = outputs(input, cuts, masker.createStreamMasker());
      expect(textOf(record.out)).toEqual(textOf(live.out));
      expect(textOf(record.out).get(1)).toContain('Write to [EMAIL_ADDRESS] first.');
      expect(textOf(record.out).get(1)).toContain('[PHONE_NUMBER]');
      expect(record.findings).toEqual(live.findings);
    }
  });

  test('a server tool result, whole in its content_block_start, is masked in the record and left alone live', () => {
    const result = { type: 'content_block_start', index: 1, content_block: { type: 'web_fetch_tool_result', tool_use_id: 'srvtoolu_1',
      content: { type: 'web_fetch_result', url: 'https://crm.example/p', content: { type: 'document', source: { type: 'text', media_type: 'text/plain', data: 'Contact maria@example.com' } } } } };
    const input = Buffer.from(formatSse('content_block_start', result) + formatSse('content_block_stop', { type: 'content_block_stop', index: 1 }));
    for (const cuts of [[], [0.1, 0.33, 0.5, 0.8]]) {
      const live = outputs(input, cuts, masker.createStreamMasker());
      expect(live.out.map((o) => o.raw.toString()).join('')).toContain('maria@example.com');
      const record = outputs(input, cuts, masker.createRecordStreamMasker());
      const recorded = record.out.map((o) => o.raw.toString()).join('');
      expect(recorded).not.toContain('maria@example.com');
      expect(JSON.parse(record.out[0]!.data).content_block.content.content.source.data).toBe('Contact [EMAIL_ADDRESS]');
      expect((record.findings as Array<{ type: string }>).map((f) => f.type)).toEqual(['EMAIL_ADDRESS']);
      for (const o of record.out) expect(new SseParser().push(o.raw).map((e) => ({ event: e.event, data: e.data }))).toEqual([{ event: o.event, data: o.data }]);
    }
  });

  test('a stream cut off mid-block is masked at its end; an unreadable delta is dropped, never kept raw', () => {
    const start = formatSse('content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } });
    const delta = formatSse('content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'mail maria@exam' } });
    const delta2 = formatSse('content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'ple.com now' } });
    const cutOff = outputs(Buffer.from(start + delta + delta2), [], masker.createRecordStreamMasker());
    expect(textOf(cutOff.out).get(0)).toBe('mail [EMAIL_ADDRESS] now');
    const bad = 'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"john@example.com"\n\n';
    const stop = formatSse('content_block_stop', { type: 'content_block_stop', index: 0 });
    const withBad = outputs(Buffer.from(start + bad + stop), [], masker.createRecordStreamMasker());
    expect(Buffer.concat(withBad.out.map((o) => o.raw)).toString()).not.toContain('john@example.com');
    expect(withBad.out.map((o) => o.event)).toEqual(['content_block_start', 'content_block_stop']);
  });
});

describe('tokenize mode round trip', () => {
  test('placeholders are stable across turns and restored in a streamed response, split or not', () => {
    const tk = createMasker({ mode: 'tokenize' }, { key });
    const first = tk.maskText('mail maria@example.com').masked;
    const again = createMasker({ mode: 'tokenize' }, { key }).maskText('again maria@example.com').masked;
    const placeholder = /<EMAIL_ADDRESS_[0-9a-f]{16}>/.exec(first)![0];
    expect(again).toContain(placeholder);
    const reply = sseStream(`I wrote to ${placeholder} and ${placeholder}.`, `send to ${placeholder}`, 'thinking');
    fc.assert(fc.property(fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 40 }), (cuts) => {
      const got = collect(runThrough(reply, cuts, () => tk.createStreamRestorer()));
      expect(got.text.get(1)).toBe('I wrote to maria@example.com and maria@example.com.');
      expect(JSON.parse(got.text.get(2)!)).toEqual({ query: 'send to maria@example.com' });
    }), { numRuns: 60 });
  });
});
