// One Redis connection for commands: each command written as one RESP buffer, replies matched in
// order. The sidecar's Redis client: the record's appends and reads, the policy guard's shared rate
// limits and tool history, the policy heartbeats, the lock counters and the lock feed's reads all go
// through connections of this kind (the lock feed's pub/sub through subscriber.ts), so a sidecar
// never loads ioredis (~1.5 MB of its resident memory with its clients, BENCHMARKS.md). ioredis
// stays the client of the controller and the recorder, which use much more of Redis.
//
// Why not ioredis on the request path, before it was about memory: under load the sidecar's
// recording was its largest source of garbage that outlived a scavenge. Bisected on the full
// sidecar (BENCHMARKS.md): with each batch's arguments built but not sent, ~0.35 KB per request was
// promoted to the old generation; sent through ioredis' command machinery, ~2.8 KB, with a full
// collection every ~1.5 s; written as here, ~0.37 KB and none, and ~10 % more requests/s.
//
// Scope: redis:// and rediss:// URLs with an optional user and password (AUTH) and database
// (SELECT), as ioredis reads them. A broken connection rejects what is in flight and the next
// command reconnects. So does a connection that stops answering (a Redis that vanished without
// closing it): after commandTimeoutMs without a reply it is dropped, rather than every later command
// waiting on it until TCP gives up. No offline queue: while it cannot connect, commands fail within
// connectTimeoutMs, which is what a recorder that spools and a guard that decides without Redis want.
import net from 'node:net';
import { RespError, encodeCommand, type RespReply } from './codec.js';
import { openSocket, readReplies, redisEndpoint, type RedisEndpoint } from './endpoint.js';

interface Waiter {
  resolve(reply: RespReply): void;
  reject(err: Error): void;
  /** When the command was written (ms, performance.now()). */
  sentAt: number;
}

export interface RedisConnectionOptions {
  /** Give up connecting after this long (ms). Default 2000. */
  connectTimeoutMs?: number;
  /** Drop the connection when a command has had no reply for this long (ms). Default 5000. */
  commandTimeoutMs?: number;
}

export class RedisConnection {
  /** The URL without its password, for messages. */
  readonly location: string;
  private socket: net.Socket | undefined;
  private ready: Promise<net.Socket> | undefined;
  private readonly waiters: Waiter[] = [];
  private readonly endpoint: RedisEndpoint;
  private readonly commandTimeoutMs: number;
  private watchdog: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(redisUrl: string, opts: RedisConnectionOptions = {}) {
    this.endpoint = redisEndpoint(redisUrl, opts.connectTimeoutMs ?? 2000);
    this.location = this.endpoint.location;
    this.commandTimeoutMs = opts.commandTimeoutMs ?? 5000;
  }

  /** Send one command; resolves with its reply, rejects with RespError or a connection error. */
  async command(args: ReadonlyArray<string | number>): Promise<RespReply> {
    const socket = await this.connect();
    return this.sendOne(socket, args);
  }

  /**
   * MULTI, the commands and EXEC, written together on one connection, so a reconnect cannot split
   * them: resolves with EXEC's reply (each command's reply; an error as its message text), rejects
   * when Redis refuses the transaction (a command it cannot queue) or the connection fails.
   */
  async transaction(commands: ReadonlyArray<ReadonlyArray<string | number>>): Promise<RespReply> {
    const socket = await this.connect();
    const replies = this.send(socket, [['MULTI'], ...commands, ['EXEC']]);
    // EXEC's answer says it all (EXECABORT names what could not be queued); the others are settled here.
    for (const r of replies.slice(0, -1)) r.catch(() => undefined);
    return replies[replies.length - 1]!;
  }

  /** Connect now (AUTH, SELECT); rejects with a one-line reason when Redis cannot be reached. */
  async connected(): Promise<void> {
    await this.connect();
  }

  /** Close once the replies in flight are in (at most commandTimeoutMs), then refuse new commands. */
  async quit(): Promise<void> {
    if (this.waiters.length > 0) {
      const last = this.waiters[this.waiters.length - 1]!;
      await new Promise<void>((resolve) => {
        const { resolve: res, reject: rej } = last;
        last.resolve = (reply) => { res(reply); resolve(); };
        last.reject = (err) => { rej(err); resolve(); };
      });
    }
    this.close();
  }

  /** Close now: whatever is in flight is rejected. */
  close(): void {
    this.closed = true;
    this.socket?.destroy();
    this.fail(new Error('Redis connection closed'));
    if (this.watchdog) clearTimeout(this.watchdog);
  }

  private connect(): Promise<net.Socket> {
    if (this.closed) return Promise.reject(new Error('Redis connection closed'));
    this.ready ??= this.open().catch((err: Error) => {
      this.ready = undefined;
      throw err;
    });
    return this.ready;
  }

  private async open(): Promise<net.Socket> {
    const socket = await openSocket(this.endpoint);
    // Closed while the socket connected: nobody would ever close this one, and an open socket keeps
    // the process alive.
    if (this.closed) {
      socket.destroy();
      throw new Error('Redis connection closed');
    }
    readReplies(socket, this.onReply);
    socket.on('error', () => undefined); // 'close' follows
    socket.on('close', () => {
      // A connection already dropped (no reply in time) had its commands failed then; whatever is
      // waiting or connecting now belongs to its successor.
      if (this.socket !== socket) return;
      this.socket = undefined;
      this.ready = undefined;
      this.fail(new Error('the Redis connection closed'));
    });
    this.socket = socket;
    // Authenticate and select before anything else is written on it.
    for (const args of this.endpoint.setup) {
      await this.sendOne(socket, args).catch((err: Error) => {
        socket.destroy();
        throw new Error(`Redis refused ${String(args[0])}: ${err.message}`);
      });
    }
    return socket;
  }

  /** The next reply answers the oldest command in flight. */
  private readonly onReply = (reply: RespReply | RespError): void => {
    const w = this.waiters.shift();
    if (!w) return;
    if (reply instanceof RespError) w.reject(reply);
    else w.resolve(reply);
  };

  /** Write one command (the append's path: nothing built but its buffer and its promise). */
  private sendOne(socket: net.Socket, args: ReadonlyArray<string | number>): Promise<RespReply> {
    return new Promise<RespReply>((resolve, reject) => {
      this.waiters.push({ resolve, reject, sentAt: performance.now() });
      socket.write(encodeCommand(args));
      this.watchdog ??= this.arm();
    });
  }

  /** Write several commands in one buffer; their replies, in order. */
  private send(socket: net.Socket, commands: ReadonlyArray<ReadonlyArray<string | number>>): Array<Promise<RespReply>> {
    const sentAt = performance.now();
    const replies = commands.map(() => new Promise<RespReply>((resolve, reject) => { this.waiters.push({ resolve, reject, sentAt }); }));
    socket.write(Buffer.concat(commands.map(encodeCommand)));
    this.watchdog ??= this.arm();
    return replies;
  }

  /** One timer for the oldest command in flight (there is one); re-armed while commands are waiting. */
  private arm(): NodeJS.Timeout {
    const due = Math.max(0, this.waiters[0]!.sentAt + this.commandTimeoutMs - performance.now());
    const timer = setTimeout(() => {
      this.watchdog = undefined;
      const first = this.waiters[0];
      if (!first) return;
      if (performance.now() - first.sentAt >= this.commandTimeoutMs) {
        const socket = this.socket;
        // Forget it now, so the next command connects afresh instead of writing to it (and its
        // 'close' is then ignored).
        this.socket = undefined;
        this.ready = undefined;
        this.fail(new Error(`no reply from Redis within ${this.commandTimeoutMs} ms; reconnecting`));
        socket?.destroy();
      } else {
        this.watchdog = this.arm();
      }
    }, due);
    timer.unref();
    return timer;
  }

  private fail(err: Error): void {
    for (const w of this.waiters.splice(0)) w.reject(err);
  }
}
