// The subscriber that stays subscribed (subscriber.ts), against the real Redis and through a TCP
// proxy to it that can cut every connection or swallow SUBSCRIBE: messages delivered, AUTH and
// SELECT before SUBSCRIBE, a cut connection reported and subscribed again by itself, an unanswered
// SUBSCRIBE treated as a lost connection, a first attempt that fails rejecting start() while the
// retries go on, and close() leaving nothing behind.
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { RedisConnection, RedisSubscriber, parseReply } from '../src/index.js';
import { RedisProxy } from '../src/testing.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

async function until(cond: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** A TCP proxy to the real Redis that keeps the commands it passes on (and can cut or swallow them). */
function proxyToRedis(port = 0): Promise<RedisProxy> {
  return new RedisProxy(REDIS_URL, { recordCommands: true }).start(port);
}

describe('RedisSubscriber', () => {
  const channel = `sgtest:resp:${randomBytes(4).toString('hex')}`;
  let publisher: RedisConnection;
  beforeAll(() => { publisher = new RedisConnection(REDIS_URL); });
  afterAll(() => publisher.close());

  it('subscribes, hands over messages in order, and subscribes again by itself after a cut', async () => {
    const proxy = await proxyToRedis();
    const messages: string[] = [];
    const events: string[] = [];
    const sub = new RedisSubscriber(proxy.url, {
      channels: [channel, `${channel}:other`],
      onMessage: (ch, m) => messages.push(`${ch === channel ? '' : 'other:'}${m}`),
      onSubscribed: () => events.push('subscribed'),
      onLost: () => events.push('lost'),
      retryDelayMs: () => 20,
    });
    try {
      await sub.start();
      expect(sub.subscribed).toBe(true);
      expect(proxy.commands).toEqual([['SUBSCRIBE', channel, `${channel}:other`]]);
      await expect(sub.start()).rejects.toThrow(/already started/); // one connection, not a second
      for (const m of ['one', 'två', 'three']) await publisher.command(['PUBLISH', channel, m]);
      await publisher.command(['PUBLISH', `${channel}:other`, 'x']);
      await until(() => messages.length === 4, 'four messages');
      expect(messages).toEqual(['one', 'två', 'three', 'other:x']);

      proxy.cut();
      await until(() => events.includes('lost'), 'the loss');
      await until(() => events.filter((e) => e === 'subscribed').length === 2, 'the second subscription');
      expect(events).toEqual(['subscribed', 'lost', 'subscribed']);
      // Redis counts this subscriber again: what is published now arrives.
      expect(await publisher.command(['PUBLISH', channel, 'after'])).toBe(1);
      await until(() => messages.includes('after'), 'a message after the reconnect');
    } finally {
      sub.close();
      await proxy.stop();
    }
  });

  it('treats an unanswered SUBSCRIBE as a lost connection, and retries', async () => {
    const proxy = await proxyToRedis();
    const events: string[] = [];
    const sub = new RedisSubscriber(proxy.url, {
      channels: [channel],
      onMessage: () => undefined,
      onSubscribed: () => events.push('subscribed'),
      onLost: (err) => events.push(`lost: ${err.message}`),
      commandTimeoutMs: 400,
      retryDelayMs: () => 20,
    });
    try {
      await sub.start();
      proxy.swallowSubscribe = true;
      proxy.cut();
      await until(() => events.some((e) => /no answer to SUBSCRIBE from Redis within 400 ms/.test(e)), 'the unanswered SUBSCRIBE to count as lost');
      expect(sub.subscribed).toBe(false);
      proxy.swallowSubscribe = false;
      await until(() => sub.subscribed, 'a subscription once Redis answers');
    } finally {
      sub.close();
      await proxy.stop();
    }
  });

  it('rejects start() when the first attempt fails, keeps trying, and closes with nothing left unhandled', async () => {
    // A port nothing listens on yet.
    const probe = net.createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', () => r()));
    const port = (probe.address() as AddressInfo).port;
    await new Promise((r) => probe.close(r));
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => { unhandled.push(reason); };
    process.on('unhandledRejection', onUnhandled);
    let attempts = 0;
    const sub = new RedisSubscriber(`redis://127.0.0.1:${port}`, { channels: [channel], onMessage: () => undefined, onLost: () => { attempts++; }, retryDelayMs: () => 20 });
    let proxy: RedisProxy | undefined;
    try {
      await expect(sub.start()).rejects.toThrow(/ECONNREFUSED/);
      await until(() => attempts >= 2, 'a retry');
      proxy = await proxyToRedis(port);
      await until(() => sub.subscribed, 'the subscription once Redis is there');
      // Closing while a SUBSCRIBE is unanswered leaves no promise rejected unhandled.
      proxy.swallowSubscribe = true;
      proxy.cut();
      await until(() => proxy!.swallowed > 0, 'the SUBSCRIBE to be sent again');
      sub.close();
      await new Promise((r) => setTimeout(r, 100));
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
      sub.close();
      await proxy?.stop();
    }
  });

  it('authenticates and selects the database before it subscribes, and names a refused AUTH', async () => {
    const received: string[][] = [];
    const server = net.createServer((socket) => {
      let buf = Buffer.alloc(0);
      socket.on('data', (d) => {
        buf = Buffer.concat([buf, d]);
        for (let r = parseReply(buf); r; r = parseReply(buf)) {
          buf = buf.subarray(r.next);
          const args = r.reply as string[];
          received.push(args);
          if (args[0] === 'AUTH') socket.write(args[2] === 'right' ? '+OK\r\n' : '-WRONGPASS invalid username-password pair\r\n');
          else if (args[0] === 'SELECT') socket.write('+OK\r\n');
          else if (args[0] === 'SUBSCRIBE') socket.write(`*3\r\n$9\r\nsubscribe\r\n$${args[1]!.length}\r\n${args[1]}\r\n:1\r\n*3\r\n$7\r\nmessage\r\n$${args[1]!.length}\r\n${args[1]}\r\n$2\r\nhi\r\n`);
        }
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as AddressInfo).port;
    const messages: string[] = [];
    const sub = new RedisSubscriber(`redis://feed:right@127.0.0.1:${port}/3`, { channels: ['c'], onMessage: (_c, m) => messages.push(m) });
    const refused = new RedisSubscriber(`redis://feed:wrong@127.0.0.1:${port}`, { channels: ['c'], onMessage: () => undefined });
    try {
      await sub.start();
      expect(received).toEqual([['AUTH', 'feed', 'right'], ['SELECT', '3'], ['SUBSCRIBE', 'c']]);
      await until(() => messages.length === 1, 'the message');
      await expect(refused.start()).rejects.toThrow(/Redis refused the subscription: WRONGPASS/);
      refused.close();
      await expect(refused.start()).rejects.toThrow(/closed/);
    } finally {
      sub.close();
      refused.close();
      await new Promise((r) => server.close(r));
    }
  });
});
