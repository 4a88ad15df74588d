// RESP encoding and parsing (codec.ts): pure, no sockets.
import { ReplyReader, RespError, encodeCommand, parseReply } from '../src/codec.js';

describe('RESP', () => {
  it('encodes a command as an array of bulk strings, counting bytes not characters', () => {
    expect(encodeCommand(['EVALSHA', 'ab', 1, 'é']).toString('utf8')).toBe('*4\r\n$7\r\nEVALSHA\r\n$2\r\nab\r\n$1\r\n1\r\n$2\r\né\r\n');
  });

  it('encodes long arguments (written on their own) and short ones alike, byte for byte', () => {
    const reference = (args: Array<string | number>) =>
      Buffer.concat([Buffer.from(`*${args.length}\r\n`), ...args.map((a) => { const b = Buffer.from(String(a)); return Buffer.concat([Buffer.from(`$${b.length}\r\n`), b, Buffer.from('\r\n')]); })]);
    const long = `{"body":"${'é€'.repeat(400)}"}`;
    const args = ['EVALSHA', 'f'.repeat(40), 3, 'k:a', 'k:b', 'x'.repeat(511), 'y'.repeat(512), long, '', 'ñ', long, 42];
    expect(encodeCommand(args).equals(reference(args))).toBe(true);
    expect(encodeCommand([long]).equals(reference([long]))).toBe(true);
    expect(encodeCommand([]).toString('latin1')).toBe('*0\r\n');
    // ASCII of any length, non-ASCII text of every width, and numbers: integers written digit by
    // digit, the rest as String() writes them.
    const edges = ['a'.repeat(127), 'b'.repeat(128), 'c'.repeat(129), `${'d'.repeat(126)}é`, '€', 'ñ', '😀', 'x€y', '',
      0, 9, 10, 99, 100, 1_764_158_400_000, Number.MAX_SAFE_INTEGER, 2 ** 53, -5, -0, 1.5, 1e21, Number.NaN];
    expect(encodeCommand(edges).equals(reference(edges))).toBe(true);
    const many = Array.from({ length: 1234 }, (_, i) => (i % 3 === 0 ? i : `k:${i}`));
    expect(encodeCommand(many).equals(reference(many))).toBe(true);
  });

  it('parses every reply type, and says when a reply is not whole yet', () => {
    const b = (s: string) => Buffer.from(s);
    expect(parseReply(b('+OK\r\n'))).toEqual({ reply: 'OK', next: 5 });
    expect(parseReply(b(':42\r\n'))!.reply).toBe(42);
    expect(parseReply(b('$4\r\nhé!\r\n'))!.reply).toBe('hé!');
    expect(parseReply(b('$-1\r\n'))!.reply).toBeNull();
    expect(parseReply(b('*2\r\n:1\r\n$1\r\nx\r\n'))!.reply).toEqual([1, 'x']);
    const err = parseReply(b('-NOSCRIPT No matching script\r\n'))!.reply;
    expect(err).toBeInstanceOf(RespError);
    expect((err as RespError).message).toBe('NOSCRIPT No matching script');
    expect(parseReply(b('$5\r\nhel'))).toBeUndefined();
    expect(parseReply(b('*2\r\n:1\r\n'))).toBeUndefined();
    expect(parseReply(b(':4'))).toBeUndefined();
    expect(() => parseReply(b('?\r\n'))).toThrow(/unexpected RESP reply type/);
  });
});

describe('ReplyReader', () => {
  it('hands over every whole reply once, in order, however the bytes are split', () => {
    const wire = Buffer.from('+OK\r\n:42\r\n$4\r\nhé!\r\n$-1\r\n*3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$2\r\nhi\r\n-ERR no\r\n*0\r\n');
    const expected = ['OK', 42, 'hé!', null, ['message', 'c', 'hi'], new RespError('ERR no'), []];
    for (let cut1 = 0; cut1 <= wire.length; cut1++) {
      for (const cut2 of [cut1, Math.min(wire.length, cut1 + 1), Math.min(wire.length, cut1 + 7)]) {
        const got: unknown[] = [];
        const reader = new ReplyReader((r) => got.push(r));
        for (const piece of [wire.subarray(0, cut1), wire.subarray(cut1, cut2), wire.subarray(cut2)]) reader.feed(piece);
        expect(got).toEqual(expected);
      }
    }
  });

  it('throws on bytes that are not RESP', () => {
    expect(() => new ReplyReader(() => undefined).feed(Buffer.from('+OK\r\n?x\r\n'))).toThrow(/unexpected RESP reply type/);
  });
});

describe('ReplyReader on large replies', () => {
  function random(seed: number): () => number {
    let s = seed >>> 0;
    return () => ((s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x9e3779b9) >>> 0) / 2 ** 32);
  }
  const bulk = (s: string) => `$${Buffer.byteLength(s)}\r\n${s}\r\n`;
  /** An XRANGE-shaped reply: entries [id, [field, value, ...]], some values long and non-ASCII. */
  function streamReply(entries: number, rnd: () => number): { wire: string; value: unknown } {
    const value: unknown[] = [];
    let wire = `*${entries}\r\n`;
    for (let i = 0; i < entries; i++) {
      const text = (rnd() < 0.1 ? 'é€'.repeat(Math.floor(rnd() * 12_000)) : 'x'.repeat(Math.floor(rnd() * 3000))) + i;
      value.push([`${i}-0`, ['s', 'ses_1', 'e', text]]);
      wire += `*2\r\n${bulk(`${i}-0`)}*4\r\n${bulk('s')}${bulk('ses_1')}${bulk('e')}${bulk(text)}`;
    }
    return { wire, value };
  }

  it('hands over big nested replies whole, fed in chunks of any size, with small replies around them', () => {
    const rnd = random(5);
    for (let round = 0; round < 20; round++) {
      const big = streamReply(1 + Math.floor(rnd() * 120), rnd);
      const wire = Buffer.from(`:1\r\n${big.wire}+OK\r\n*0\r\n${big.wire}$-1\r\n`);
      const expected = [1, big.value, 'OK', [], big.value, null];
      const got: unknown[] = [];
      const reader = new ReplyReader((r) => got.push(r));
      const most = [7, 100, 9000, 70_000][round % 4]!;
      for (let at = 0; at < wire.length;) {
        const n = 1 + Math.floor(rnd() * most);
        reader.feed(wire.subarray(at, at + n));
        at += n;
      }
      expect(got).toEqual(expected);
    }
  });

  it('reads what follows a large reply in the same chunk, and starts afresh after it', () => {
    const big = streamReply(50, random(9));
    const got: unknown[] = [];
    const reader = new ReplyReader((r) => got.push(r));
    const wire = Buffer.from(big.wire);
    reader.feed(wire.subarray(0, wire.length - 3));
    expect(got).toEqual([]);
    reader.feed(Buffer.concat([wire.subarray(wire.length - 3), Buffer.from(':5\r\n$2\r\nh')]));
    expect(got).toEqual([big.value, 5]);
    reader.feed(Buffer.from('i\r\n'));
    expect(got).toEqual([big.value, 5, 'hi']);
  });
});
