// The sidecar's Redis connection (connection.ts): a real socket against a scripted RESP server on
// loopback — AUTH and SELECT from the URL before anything else, replies matched in order even when
// split across packets, error replies, a dropped connection failing what is in flight and the next
// command reconnecting, transactions written whole, quit waiting for replies in flight — and
// against the real Redis.
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { RedisConnection, RespError, parseReply, redisLocation } from '../src/index.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** Waits (polling every 5 ms, up to 5 s) until `done()`. */
async function until(done: () => boolean): Promise<void> {
  for (let waited = 0; !done() && waited < 5000; waited += 5) await new Promise((r) => setTimeout(r, 5));
}

describe('RedisConnection', () => {
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
    const conn = new RedisConnection(`redis://rec:s3cr%40t@127.0.0.1:${port}/2`);
    expect(await conn.command(['EVALSHA', 'sha', 0])).toBe(3);
    expect(received).toEqual([['AUTH', 'rec', 's3cr@t'], ['SELECT', '2'], ['EVALSHA', 'sha', '0']]);
    conn.close();
  });

  it('matches replies to commands in order, also when replies arrive split and together', async () => {
    const held: net.Socket[] = [];
    answer = (_args, s) => { held.push(s); };
    const conn = new RedisConnection(`redis://127.0.0.1:${port}`);
    const replies = [conn.command(['A']), conn.command(['B']), conn.command(['C'])];
    await until(() => held.length === 3);
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
    const conn = new RedisConnection(`redis://127.0.0.1:${port}`);
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
    await expect(new RedisConnection(`redis://127.0.0.1:${deadPort}`).command(['PING'])).rejects.toThrow(/ECONNREFUSED/);
    answer = (args, s) => s.write(args[0] === 'AUTH' ? '-WRONGPASS invalid username-password pair\r\n' : '+OK\r\n');
    await expect(new RedisConnection(`redis://:nope@127.0.0.1:${port}`).command(['PING'])).rejects.toThrow(/Redis refused AUTH: WRONGPASS/);
    expect(() => new RedisConnection('http://127.0.0.1:1')).toThrow(/not a redis:\/\/ URL/);
  });

  it('closed while it connects, keeps no socket open (one would hold the process alive)', async () => {
    answer = (_args, s) => s.write('+OK\r\n');
    await until(() => sockets.size === 0); // the tests before closed theirs
    const before = sockets.size;
    const conn = new RedisConnection(`redis://127.0.0.1:${port}`);
    const pending = conn.command(['PING']);
    conn.close(); // before the TCP connect completes
    await expect(pending).rejects.toThrow(/closed/);
    await new Promise((r) => setTimeout(r, 50));
    expect(sockets.size).toBe(before);
    // Closed during AUTH and SELECT too.
    const held: net.Socket[] = [];
    answer = (_args, s) => { held.push(s); };
    const authing = new RedisConnection(`redis://:pw@127.0.0.1:${port}`);
    const waiting = authing.command(['PING']);
    await until(() => held.length > 0);
    authing.close();
    await expect(waiting).rejects.toThrow(/closed/);
    await until(() => sockets.size === before);
    expect(sockets.size).toBe(before);
  });

  it('writes a transaction whole (one write, MULTI to EXEC) and answers with EXEC\'s reply', async () => {
    const writes: number[] = [];
    answer = (args, s) => s.write(args[0] === 'EXEC' ? '*2\r\n:1\r\n-WRONGTYPE not a set\r\n' : args[0] === 'MULTI' ? '+OK\r\n' : '+QUEUED\r\n');
    const conn = new RedisConnection(`redis://127.0.0.1:${port}`);
    await conn.connected();
    const socket = [...sockets].at(-1)!;
    socket.on('data', (d) => writes.push(d.length));
    expect(await conn.transaction([['ZADD', 'k', 5, 'm'], ['SADD', 'k', 'x']])).toEqual([1, 'WRONGTYPE not a set']);
    expect(received).toEqual([['MULTI'], ['ZADD', 'k', '5', 'm'], ['SADD', 'k', 'x'], ['EXEC']]);
    expect(writes).toHaveLength(1);
    // A command Redis cannot queue aborts the whole transaction: EXEC's error is the answer.
    answer = (args, s) => s.write(args[0] === 'EXEC' ? '-EXECABORT Transaction discarded because of previous errors.\r\n' : args[0] === 'NOPE' ? '-ERR unknown command\r\n' : args[0] === 'MULTI' ? '+OK\r\n' : '+QUEUED\r\n');
    await expect(conn.transaction([['SET', 'a', 1], ['NOPE']])).rejects.toThrow(/EXECABORT/);
    conn.close();
  });

  it('quits once the replies in flight are in, and refuses commands after', async () => {
    const held: net.Socket[] = [];
    answer = (_args, s) => { held.push(s); };
    const conn = new RedisConnection(`redis://127.0.0.1:${port}`);
    const reply = conn.command(['SLOW']);
    await until(() => held.length > 0);
    let quit = false;
    const quitting = conn.quit().then(() => { quit = true; });
    await new Promise((r) => setTimeout(r, 30));
    expect(quit).toBe(false);
    held[0]!.write('+done\r\n');
    await quitting;
    await expect(reply).resolves.toBe('done');
    await expect(conn.command(['PING'])).rejects.toThrow(/closed/);
  });

  it('talks to the real Redis', async () => {
    const conn = new RedisConnection(REDIS_URL);
    expect(await conn.command(['PING'])).toBe('PONG');
    expect(await conn.command(['ECHO', 'größe'])).toBe('größe');
    await expect(conn.command(['EVALSHA', '0'.repeat(40), 0])).rejects.toThrow(/NOSCRIPT/);
    const key = `sgtest:resp:${process.pid}:${Date.now()}`;
    expect(await conn.transaction([['SADD', key, 'a', 'b'], ['SCARD', key], ['GET', key], ['DEL', key]])).toEqual([2, 2, expect.stringMatching(/^WRONGTYPE/), 1]);
    conn.close();
  });
});

describe('RedisConnection on a Redis that stops answering', () => {
  it('drops a connection with no reply within commandTimeoutMs, and the next command reconnects', async () => {
    let connections = 0;
    let silent = true;
    const server = net.createServer((socket) => {
      connections++;
      socket.on('data', () => { if (!silent) socket.write(':1\r\n'); });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    const conn = new RedisConnection(`redis://127.0.0.1:${port}`, { commandTimeoutMs: 400 });
    const started = Date.now();
    await expect(conn.command(['EVALSHA', 'x', 0])).rejects.toThrow(/no reply from Redis within 400 ms; reconnecting/);
    expect(Date.now() - started).toBeGreaterThanOrEqual(390);
    silent = false;
    expect(await conn.command(['EVALSHA', 'x', 0])).toBe(1);
    expect(connections).toBe(2); // the silent connection was not reused
    conn.close();
    await new Promise((r) => server.close(r));
  });
});

describe('RedisConnection over TLS (rediss://)', () => {
  it('gives up on a peer that accepts the connection but never finishes the handshake', async () => {
    const sockets: net.Socket[] = [];
    const server = net.createServer((socket) => { sockets.push(socket); }); // says nothing, ever
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    const conn = new RedisConnection(`rediss://127.0.0.1:${port}`, { connectTimeoutMs: 200 });
    await expect(conn.command(['PING'])).rejects.toThrow(/cannot connect to Redis at 127\.0\.0\.1:\d+ within 200 ms/);
    conn.close();
    for (const s of sockets) s.destroy();
    await new Promise((r) => server.close(r));
  });
});

describe('redisLocation', () => {
  it('prints a Redis URL without its user and password', () => {
    expect(redisLocation('redis://rec:s3cr%40t@10.0.0.5:6379/2')).toBe('redis://***@10.0.0.5:6379/2');
    expect(redisLocation('rediss://:only-a-password@redis.example.com:6380')).toBe('rediss://***@redis.example.com:6380');
    expect(redisLocation('redis://127.0.0.1:6379')).toBe('redis://127.0.0.1:6379');
    expect(redisLocation('default:s3cret@redis:6379')).toBe('***@redis:6379'); // no scheme: still no password
  });
});
