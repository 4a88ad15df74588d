// The append script's own Redis connection (append-connection.ts): RESP encoding and parsing (pure),
// then a real socket against a scripted RESP server on loopback — AUTH and SELECT from the URL before
// anything else, replies matched in order even when split across packets, error replies, a dropped
// connection failing what is in flight and the next command reconnecting — and against the real Redis.
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { AppendConnection, RespError, encodeCommand, parseReply } from '../src/append-connection.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

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

describe('AppendConnection', () => {
  // A scripted server: records each command it gets, answers through `answer`.
  let server: net.Server;
  let port: number;
  const received: string[][] = [];
  const sockets = new Set<net.Socket>();
  let answer: (args: string[], socket: net.Socket) => void;
  beforeAll(async () => {
    server = net.createServer((socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      let buf = Buffer.alloc(0);
      socket.on('data', (d) => {
        buf = Buffer.concat([buf, d]);
        for (;;) {
          const r = parseReply(buf);
          if (!r) break;
          buf = buf.subarray(r.next);
          received.push(r.reply as string[]);
          answer(r.reply as string[], socket);
        }
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    for (const s of sockets) s.destroy();
    await new Promise((r) => server.close(r));
  });
  beforeEach(() => { received.length = 0; });

  it('authenticates and selects the database from the URL before the first command', async () => {
    answer = (args, s) => s.write(args[0] === 'EVALSHA' ? ':3\r\n' : '+OK\r\n');
    const conn = new AppendConnection(`redis://rec:s3cr%40t@127.0.0.1:${port}/2`);
    expect(await conn.command(['EVALSHA', 'sha', 0])).toBe(3);
    expect(received).toEqual([['AUTH', 'rec', 's3cr@t'], ['SELECT', '2'], ['EVALSHA', 'sha', '0']]);
    conn.close();
  });

  it('matches replies to commands in order, also when replies arrive split and together', async () => {
    const held: net.Socket[] = [];
    answer = (_args, s) => { held.push(s); };
    const conn = new AppendConnection(`redis://127.0.0.1:${port}`);
    const replies = [conn.command(['A']), conn.command(['B']), conn.command(['C'])];
    await new Promise((r) => setTimeout(r, 50));
    const s = held[0]!;
    s.write(':1\r\n$3\r\nt');
    await new Promise((r) => setTimeout(r, 20));
    s.write('wo\r\n-ERR third failed\r\n');
    await expect(replies[0]).resolves.toBe(1);
    await expect(replies[1]).resolves.toBe('two');
    await expect(replies[2]).rejects.toThrow(new RespError('ERR third failed'));
    conn.close();
  });

  it('fails what is in flight when the connection drops, and reconnects for the next command', async () => {
    let drop = true;
    answer = (_args, s) => { if (drop) { drop = false; s.destroy(); } else s.write(':7\r\n'); };
    const conn = new AppendConnection(`redis://127.0.0.1:${port}`);
    await expect(conn.command(['X'])).rejects.toThrow(/connection closed/);
    expect(await conn.command(['Y'])).toBe(7);
    conn.close();
    await expect(conn.command(['Z'])).rejects.toThrow(/closed/);
  });

  it('fails at once when nothing listens, and names a refused AUTH', async () => {
    const closed = net.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const deadPort = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    await expect(new AppendConnection(`redis://127.0.0.1:${deadPort}`).command(['PING'])).rejects.toThrow(/ECONNREFUSED/);
    answer = (args, s) => s.write(args[0] === 'AUTH' ? '-WRONGPASS invalid username-password pair\r\n' : '+OK\r\n');
    await expect(new AppendConnection(`redis://:nope@127.0.0.1:${port}`).command(['PING'])).rejects.toThrow(/Redis refused AUTH: WRONGPASS/);
    expect(() => new AppendConnection('http://127.0.0.1:1')).toThrow(/not a redis:\/\/ URL/);
  });

  it('talks to the real Redis', async () => {
    const conn = new AppendConnection(REDIS_URL);
    expect(await conn.command(['PING'])).toBe('PONG');
    expect(await conn.command(['ECHO', 'größe'])).toBe('größe');
    await expect(conn.command(['EVALSHA', '0'.repeat(40), 0])).rejects.toThrow(/NOSCRIPT/);
    conn.close();
  });
});

describe('AppendConnection on a Redis that stops answering', () => {
  it('drops a connection with no reply within commandTimeoutMs, and the next command reconnects', async () => {
    let connections = 0;
    let silent = true;
    const server = net.createServer((socket) => {
      connections++;
      socket.on('data', () => { if (!silent) socket.write(':1\r\n'); });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    const conn = new AppendConnection(`redis://127.0.0.1:${port}`, { commandTimeoutMs: 150 });
    const started = Date.now();
    await expect(conn.command(['EVALSHA', 'x', 0])).rejects.toThrow(/no reply from Redis within 150 ms; reconnecting/);
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    silent = false;
    expect(await conn.command(['EVALSHA', 'x', 0])).toBe(1);
    expect(connections).toBe(2); // the silent connection was not reused
    conn.close();
    await new Promise((r) => server.close(r));
  });
});

describe('AppendConnection over TLS (rediss://)', () => {
  it('gives up on a peer that accepts the connection but never finishes the handshake', async () => {
    const sockets: net.Socket[] = [];
    const server = net.createServer((socket) => { sockets.push(socket); }); // says nothing, ever
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    const conn = new AppendConnection(`rediss://127.0.0.1:${port}`, { connectTimeoutMs: 200 });
    await expect(conn.command(['PING'])).rejects.toThrow(/cannot connect to Redis at 127\.0\.0\.1:\d+ within 200 ms/);
    conn.close();
    for (const s of sockets) s.destroy();
    await new Promise((r) => server.close(r));
  });
});
