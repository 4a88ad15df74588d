// A Redis pub/sub subscriber that stays subscribed: it connects, subscribes to its channels, hands
// each message to its owner, and after a lost connection reconnects (with backoff, for as long as
// it is open) and subscribes again by itself. Its owner hears when it is subscribed (the first time
// and after every reconnect: the moment to resynchronise what it may have missed) and when it lost
// the connection. A SUBSCRIBE that gets no answer within commandTimeoutMs counts as a lost
// connection, so a half-open connection cannot leave it deaf while it reports being subscribed.
import type net from 'node:net';
import { RespError, encodeCommand, type RespReply } from './codec.js';
import { openSocket, readReplies, redisEndpoint, type RedisEndpoint } from './endpoint.js';

export interface RedisSubscriberOptions {
  channels: readonly string[];
  onMessage(channel: string, message: string): void;
  /** Subscribed to every channel: after start, and again after each reconnect. */
  onSubscribed?(): void;
  /** The connection was lost, or a connection attempt failed; it reconnects. */
  onLost?(err: Error): void;
  /** Give up a connection attempt after this long (ms). Default 2000. */
  connectTimeoutMs?: number;
  /** Drop a connection whose AUTH, SELECT or SUBSCRIBE has had no reply for this long (ms). Default 5000. */
  commandTimeoutMs?: number;
  /** Wait before reconnection attempt n (1, 2, ...). Default 50 ms doubling to 1 s. */
  retryDelayMs?(attempt: number): number;
}

export const defaultRetryDelayMs = (attempt: number): number => Math.min(50 * 2 ** Math.min(attempt - 1, 5), 1000);

export class RedisSubscriber {
  private readonly endpoint: RedisEndpoint;
  private socket: net.Socket | undefined;
  private closed = false;
  private started = false;
  private attempts = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private isSubscribed = false;
  private first: { resolve(): void; reject(err: Error): void } | undefined;

  constructor(redisUrl: string, private readonly opts: RedisSubscriberOptions) {
    this.endpoint = redisEndpoint(redisUrl, opts.connectTimeoutMs ?? 2000);
  }

  /** True while the connection is up and subscribed to every channel. */
  get subscribed(): boolean {
    return this.isSubscribed;
  }

  /**
   * Connect and subscribe. Resolves once subscribed; rejects when the first attempt fails, and keeps
   * trying in the background until closed (onSubscribed tells when it got there).
   */
  start(): Promise<void> {
    if (this.closed) return Promise.reject(new Error('Redis subscriber closed'));
    if (this.started) return Promise.reject(new Error('Redis subscriber already started'));
    this.started = true;
    const started = new Promise<void>((resolve, reject) => { this.first = { resolve, reject }; });
    void this.attempt();
    return started;
  }

  close(): void {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.isSubscribed = false;
    this.socket?.destroy();
    this.socket = undefined;
    this.first?.reject(new Error('Redis subscriber closed'));
    this.first = undefined;
  }

  private async attempt(): Promise<void> {
    this.retryTimer = undefined;
    if (this.closed) return;
    let socket: net.Socket | undefined;
    try {
      socket = await openSocket(this.endpoint);
      if (this.closed) { socket.destroy(); return; }
      this.socket = socket;
      await this.subscribe(socket);
    } catch (err) {
      socket?.destroy();
      this.lost(socket, err as Error);
      return;
    }
    if (this.closed || this.socket !== socket) return;
    this.attempts = 0;
    this.isSubscribed = true;
    this.first?.resolve();
    this.first = undefined;
    this.opts.onSubscribed?.();
  }

  /** AUTH, SELECT and SUBSCRIBE on a new connection; resolves when Redis has confirmed all of them. */
  private subscribe(socket: net.Socket): Promise<void> {
    const { channels } = this.opts;
    const commands = [...this.endpoint.setup, ['SUBSCRIBE', ...channels]];
    // Replies expected: one per setup command, one confirmation per channel.
    let expected = this.endpoint.setup.length + channels.length;
    return new Promise<void>((resolve, reject) => {
      const timeoutMs = this.opts.commandTimeoutMs ?? 5000;
      const timer = setTimeout(() => reject(new Error(`no answer to SUBSCRIBE from Redis within ${timeoutMs} ms`)), timeoutMs);
      timer.unref();
      readReplies(socket, (reply) => {
        if (isMessage(reply)) {
          this.opts.onMessage(reply[1] as string, reply[2] as string);
        } else if (expected > 0) {
          if (reply instanceof RespError) {
            expected = 0;
            clearTimeout(timer);
            reject(new Error(`Redis refused the subscription: ${reply.message}`));
            socket.destroy();
          } else if (--expected === 0) {
            clearTimeout(timer);
            resolve();
          }
        }
      });
      socket.on('error', () => undefined); // 'close' follows
      socket.on('close', () => {
        clearTimeout(timer);
        reject(new Error('the Redis connection closed'));
        this.lost(socket, new Error('the Redis connection closed'));
      });
      socket.write(Buffer.concat(commands.map(encodeCommand)));
    });
  }

  /** A connection (or an attempt at one) ended: tell the owner once, and try again after a while. */
  private lost(socket: net.Socket | undefined, err: Error): void {
    if (socket !== undefined && this.socket !== socket) return; // already handled
    this.socket = undefined;
    this.isSubscribed = false;
    if (this.closed) return;
    if (this.first) {
      this.first.reject(err);
      this.first = undefined;
    }
    this.opts.onLost?.(err);
    if (this.retryTimer) return;
    this.attempts++;
    this.retryTimer = setTimeout(() => void this.attempt(), (this.opts.retryDelayMs ?? defaultRetryDelayMs)(this.attempts));
    // Retrying keeps nothing alive on its own: an owner that gave up on start() need not close it.
    this.retryTimer.unref();
  }
}

function isMessage(reply: RespReply | RespError): reply is RespReply[] {
  return Array.isArray(reply) && reply.length === 3 && reply[0] === 'message';
}
