// Test support for the packages that talk to Redis (resp, record, identity): a TCP proxy in front of
// a real Redis that a test can cut (every connection dropped, the port still listening), stop (the
// port refused too) and start again on the same port, and make deaf to SUBSCRIBE (commands that
// name it are swallowed unanswered). Nothing on a production path imports this module
// (`@skillgate/resp/testing`); it is here, in the lowest package they share, so that each of them
// does not keep its own copy.
import { once } from 'node:events';
import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';
import { parseReply } from './codec.js';

export interface RedisProxyOptions {
  /** Keep every command the clients send, parsed, in `commands` (off: bytes are only passed on). */
  recordCommands?: boolean;
}

export class RedisProxy {
  /** The port it listens on once started (start() again reuses it). */
  port = 0;
  /** While set, writes from a client that name SUBSCRIBE are swallowed: never forwarded, never answered. */
  swallowSubscribe = false;
  /** How many writes were swallowed so. */
  swallowed = 0;
  /** The commands clients sent, when recordCommands is set. */
  readonly commands: string[][] = [];
  private readonly target: URL;
  private readonly recordCommands: boolean;
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();

  /** `target`: the redis:// URL of the Redis to forward to. */
  constructor(target: string, opts: RedisProxyOptions = {}) {
    this.target = new URL(target);
    this.recordCommands = opts.recordCommands ?? false;
  }

  get url(): string { return `redis://127.0.0.1:${this.port}`; }

  /** Listen (on `port`, or the port of the last start, or any free one). */
  async start(port = this.port): Promise<this> {
    const server = createServer((client) => this.relay(client));
    server.listen(port, '127.0.0.1');
    await once(server, 'listening');
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
    return this;
  }

  /** Drop every connection; new ones are still accepted. */
  cut(): void {
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
  }

  /** Drop every connection and stop listening: the port refuses until start() again. */
  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    this.cut();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private relay(client: Socket): void {
    const redis = connect(Number(this.target.port || 6379), this.target.hostname);
    this.sockets.add(client).add(redis);
    let pending = Buffer.alloc(0);
    client.on('data', (d: Buffer) => {
      if (this.recordCommands) {
        pending = Buffer.concat([pending, d]);
        for (let r = parseReply(pending); r; r = parseReply(pending)) {
          this.commands.push(r.reply as string[]);
          pending = pending.subarray(r.next);
        }
      }
      if (this.swallowSubscribe && /subscribe/i.test(d.toString('latin1'))) {
        this.swallowed++;
        return;
      }
      redis.write(d);
    });
    redis.on('data', (d: Buffer) => client.write(d));
    const drop = (): void => {
      client.destroy();
      redis.destroy();
      this.sockets.delete(client);
      this.sockets.delete(redis);
    };
    client.on('close', drop).on('error', drop);
    redis.on('close', drop).on('error', drop);
  }
}
