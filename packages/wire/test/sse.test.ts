import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { SseParser, eventJson } from '../src/sse.js';
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

describe('SseParser', () => {
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
