import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { SseEventGate, SseParser, completeEventsEnd, eventJson } from '../src/sse.js';
import { fixtureDir } from './fixtures.js';

const fixtures = readdirSync(fixtureDir).filter((f) => f.endsWith('.txt') || f.endsWith('.sse'));

function parseAll(bytes: Buffer, cuts: number[]) {
  const p = new SseParser();
  const out = [];
  let prev = 0;
  for (const c of [...cuts.sort((a, b) => a - b), bytes.length]) {
    out.push(...p.push(bytes.subarray(prev, c)));
    prev = c;
  }
  return { events: out, rest: p.takeRemainder() };
}

/** The SSE field rules, plainly: decode each line, split at the first colon, drop one space. */
function referenceEvents(text: string): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  let event = 'message';
  let data: string[] = [];
  for (const line of text.split(/\r\n|\r|\n/)) {
    if (line === '') {
      out.push([event, data.join('\n')]);
      event = 'message';
      data = [];
      continue;
    }
    const colon = line.indexOf(':');
    const name = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (name === 'event') event = value;
    else if (name === 'data') data.push(value);
  }
  return out;
}

describe('SseParser', () => {
  it('reads fields as the SSE rules say, for any chunking', () => {
    const text = [
      'event: message_start\ndata: {"a":"é€😀"}\n\n',
      'data:no space\ndata:  two spaces\ndata\n\n', // no space, two spaces (one kept), a name alone
      ': a comment\nid: 7\nretry: 10\neventx: nope\nevent\n\n', // ignored fields; `event` alone is ''
      'event:ping\r\ndata: {}\r\n\r\n',
      'event: cr\rdata: only\r\r',
      '\n', // a stray blank line: an event with no fields
    ].join('');
    const bytes = Buffer.from(text);
    const expected = referenceEvents(text).slice(0, -1); // the split leaves one trailing empty piece
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: bytes.length }), { maxLength: 30 }), (cuts) => {
        const { events, rest } = parseAll(bytes, cuts);
        expect(events.map((e) => [e.event, e.data])).toEqual(expected);
        expect(rest.length).toBe(0);
      }),
      { numRuns: 200 },
    );
    for (const name of fixtures) {
      const raw = readFileSync(join(fixtureDir, name));
      const complete = raw.subarray(0, raw.length - parseAll(raw, []).rest.length).toString('utf8');
      expect(parseAll(raw, []).events.map((e) => [e.event, e.data])).toEqual(referenceEvents(complete).slice(0, -1));
    }
  });


  it('parses event name and JSON data, tolerating padded JSON', () => {
    const p = new SseParser();
    const evs = p.push(Buffer.from('event: message_stop\ndata: {"type":"message_stop"       }\n\n'));
    expect(evs).toHaveLength(1);
    expect(evs[0]!.event).toBe('message_stop');
    expect(eventJson(evs[0]!)).toEqual({ type: 'message_stop' });
  });

  it('accepts CRLF line endings split across chunks', () => {
    const p = new SseParser();
    expect(p.push(Buffer.from('event: ping\r\ndata: {"type":"ping"}\r\n\r'))).toHaveLength(0);
    const evs = p.push(Buffer.from('\n'));
    expect(evs.map((e) => e.event)).toEqual(['ping']);
    expect(evs[0]!.raw.toString()).toBe('event: ping\r\ndata: {"type":"ping"}\r\n\r\n');
  });

  it.each(fixtures)('re-emits %s byte for byte for any chunking', (name) => {
    const bytes = readFileSync(join(fixtureDir, name));
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: bytes.length }), { maxLength: 40 }), (cuts) => {
        const { events, rest } = parseAll(bytes, cuts);
        const joined = Buffer.concat([...events.map((e) => e.raw), rest]);
        expect(joined.equals(bytes)).toBe(true);
      }),
      { numRuns: 50 },
    );
  });

  it('yields the same event sequence for 1-byte chunks as for one chunk', () => {
    for (const name of fixtures) {
      const bytes = readFileSync(join(fixtureDir, name));
      const whole = parseAll(bytes, []).events.map((e) => [e.event, e.data]);
      const bytewise = parseAll(bytes, Array.from({ length: bytes.length }, (_, i) => i)).events.map((e) => [e.event, e.data]);
      expect(bytewise).toEqual(whole);
    }
  });
});

describe('SseEventGate', () => {
  const mixed = Buffer.from([
    'event: message_start\ndata: {"a":"é€😀"}\n\n',
    'event:ping\r\ndata: {}\r\n\r\n',
    'event: cr\rdata: only\r\r',
    'data: x\r\n\n', // CRLF then LF
    '\n', // a stray blank line
    'event: ping\ndata: {"type": "ping"}\n\n',
  ].join(''));
  /** Where events end in `bytes`, by the parser reading it whole (an independent reading). */
  const boundaries = (bytes: Buffer): Set<number> => {
    const ends = new Set([0]);
    let at = 0;
    for (const e of parseAll(bytes, []).events) ends.add((at += e.raw.length));
    return ends;
  };

  it.each([['mixed line endings', mixed], ...fixtures.map((f) => [f, readFileSync(join(fixtureDir, f))] as [string, Buffer])])(
    'passes %s on whole, and only ever up to the end of an event, for any chunking', (_name, bytes) => {
      const ends = boundaries(bytes);
      fc.assert(
        fc.property(fc.array(fc.integer({ min: 0, max: bytes.length }), { maxLength: 40 }), (cuts) => {
          const gate = new SseEventGate();
          const out: Buffer[] = [];
          let sent = 0;
          let prev = 0;
          for (const c of [...cuts.sort((a, b) => a - b), bytes.length]) {
            const passed = gate.pass(bytes.subarray(prev, c));
            prev = c;
            out.push(passed);
            sent += passed.length;
            // What has gone out ends where an event ends: a stream cut now is cut between events.
            expect(ends.has(sent)).toBe(true);
          }
          out.push(gate.flush());
          expect(Buffer.concat(out).equals(bytes)).toBe(true);
        }),
        { numRuns: 100 },
      );
    });

  it('byte by byte too (every line end decided across chunk edges)', () => {
    for (const bytes of [mixed, ...fixtures.map((f) => readFileSync(join(fixtureDir, f)))]) {
      const ends = boundaries(bytes);
      const gate = new SseEventGate();
      const out: Buffer[] = [];
      let sent = 0;
      for (let i = 0; i < bytes.length; i++) {
        const passed = gate.pass(bytes.subarray(i, i + 1));
        out.push(passed);
        sent += passed.length;
        expect(ends.has(sent)).toBe(true);
      }
      out.push(gate.flush());
      expect(Buffer.concat(out).equals(bytes)).toBe(true);
    }
  });

  it('holds half an event until its blank line, CRLF read whole, and a lone CR at the end as maybe half a CRLF', () => {
    expect(completeEventsEnd(Buffer.from('event: a\ndata: {}\n\nevent: b\nda'))).toBe(19);
    expect(completeEventsEnd(Buffer.from('data: x\r\n'))).toBe(0);
    expect(completeEventsEnd(Buffer.from('data: x\r\n\r'))).toBe(0);
    expect(completeEventsEnd(Buffer.from('data: x\r\n\r\n'))).toBe(11);
    expect(completeEventsEnd(Buffer.from('data: x\r\rdata'))).toBe(9);
    expect(completeEventsEnd(Buffer.from('data: x'))).toBe(0);
    const gate = new SseEventGate();
    expect(gate.pass(Buffer.from('event: a\ndata: {"t')).length).toBe(0);
    expect(gate.held).toBe(18);
    expect(gate.pass(Buffer.from('":1}\n\nevent: b\n')).toString()).toBe('event: a\ndata: {"t":1}\n\n');
    expect(gate.flush().toString()).toBe('event: b\n');
  });

  it('gives up holding past its bound: a tail that never ends is passed on as it comes', () => {
    const gate = new SseEventGate(16);
    expect(gate.pass(Buffer.from('data: 0123456789')).length).toBe(0);
    expect(gate.pass(Buffer.from('abcdef')).toString()).toBe('data: 0123456789abcdef');
    expect(gate.pass(Buffer.from('gh')).toString()).toBe('gh');
    expect(gate.flush().length).toBe(0);
  });
});
