// The record store's append path on a connection of its own: one command (EVALSHA of the append
// script) written as one RESP buffer, replies matched in order. ioredis stays the client for
// everything else (reads, the CLI, the recorder's consumer group, NOSCRIPT recovery).
//
// Why: under load the sidecar's recording was its largest source of garbage that outlived a
// scavenge. Bisected on the full sidecar (BENCHMARKS.md): with each batch's arguments built but not
// sent, ~0.35 KB per request was promoted to the old generation; sent through ioredis' command
// machinery, ~2.8 KB, with a full collection every ~1.5 s; written as here, ~0.37 KB and none, and
// ~10 % more requests/s. The mechanism inside ioredis was not pinned down.
//
// Scope: redis:// and rediss:// URLs with an optional user and password (AUTH) and database
// (SELECT), as ioredis reads them. A broken connection rejects what is in flight (the recorder
// then spools) and the next command reconnects. So does a connection that stops answering (a Redis
// that vanished without closing it): after commandTimeoutMs without a reply it is dropped, rather
// than every later command waiting on it until TCP gives up. No offline queue: while it cannot
// connect, commands fail at once, which is what the recorder on the request path wants.
import { createRequire } from 'node:module';
import net from 'node:net';

// node:tls is loaded on the first rediss:// connection: a plain-TCP Redis (the usual in-cluster
// service) never loads it, and TLS costs ~2.5 MB of resident memory in every sidecar (BENCHMARKS.md).
let tlsModule: typeof import('node:tls') | undefined;
const tls = (): typeof import('node:tls') => (tlsModule ??= createRequire(import.meta.url)('node:tls') as typeof import('node:tls'));

/** A RESP reply: simple string, integer, bulk string (null when absent) or array; errors reject. */
export type RespReply = string | number | null | RespReply[];

export class RespError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RespError';
  }
}

interface Waiter {
  resolve(reply: RespReply): void;
  reject(err: Error): void;
  /** When the command was written (ms, performance.now()). */
  sentAt: number;
}

export interface AppendConnectionOptions {
  /** Give up connecting after this long (ms). Default 2000. */
  connectTimeoutMs?: number;
  /** Drop the connection when a command has had no reply for this long (ms). Default 5000. */
  commandTimeoutMs?: number;
}

/**
 * Encode one command as a RESP array of bulk strings (lengths in bytes). An append is dozens of
 * short arguments (keys, numbers, ids) around a few long event texts: ASCII strings are copied as
 * Latin-1 (byte for byte, no encoding), others through the buffer's UTF-8 encoder, and non-negative
 * integers are written as their digits. Nothing is built on the way but the buffer: gathering the
 * short arguments into strings first cost ~5 KB of garbage per exchange (bench/proxy/profile.mjs
 * --alloc) and was slower (bench/record/seal.mjs).
 */
export function encodeCommand(args: ReadonlyArray<string | number>): Buffer {
  const n = args.length;
  // undefined: a non-negative integer, written as its digits without a string for it.
  const strings = new Array<string | undefined>(n);
  const lengths = new Array<number>(n);
  let size = 3 + decimalDigits(n);
  for (let i = 0; i < n; i++) {
    const a = args[i]!;
    let len: number;
    if (typeof a === 'number' && Number.isSafeInteger(a) && a >= 0) {
      strings[i] = undefined;
      len = decimalDigits(a);
    } else {
      const s = typeof a === 'string' ? a : String(a);
      strings[i] = s;
      len = Buffer.byteLength(s);
    }
    lengths[i] = len;
    size += 5 + decimalDigits(len) + len;
  }
  const out = Buffer.allocUnsafe(size);
  out[0] = 0x2a; // *
  let o = writeDecimal(out, 1, n);
  out[o++] = 13;
  out[o++] = 10;
  for (let i = 0; i < n; i++) {
    const s = strings[i];
    const len = lengths[i]!;
    out[o++] = 0x24; // $
    o = writeDecimal(out, o, len);
    out[o++] = 13;
    out[o++] = 10;
    if (s === undefined) {
      o = writeDecimal(out, o, args[i] as number);
    } else if (len === s.length) {
      // As many bytes as characters: ASCII, copied as it is.
      o += out.write(s, o, len, 'latin1');
    } else {
      o += out.write(s, o, 'utf8');
    }
    out[o++] = 13;
    out[o++] = 10;
  }
  return out;
}

function decimalDigits(n: number): number {
  let d = 1;
  while (n >= 10) {
    n = Math.floor(n / 10);
    d++;
  }
  return d;
}

/** Write non-negative integer `n` in decimal at `o`; returns the position after it. */
function writeDecimal(out: Buffer, o: number, n: number): number {
  const end = o + decimalDigits(n);
  for (let p = end - 1; p >= o; p--) {
    out[p] = 48 + (n % 10);
    n = Math.floor(n / 10);
  }
  return end;
}

/**
 * Parse one RESP reply from `buf` at `pos`; returns the reply and the position after it, or
 * undefined when `buf` does not hold a whole reply yet. Errors come back as RespError values.
 */
export function parseReply(buf: Buffer, pos = 0): { reply: RespReply | RespError; next: number } | undefined {
  const eol = buf.indexOf('\r\n', pos, 'latin1');
  if (eol < 0) return undefined;
  const line = buf.toString('latin1', pos + 1, eol);
  const next = eol + 2;
  switch (buf[pos]) {
    case 0x2b: return { reply: line, next }; // +
    case 0x2d: return { reply: new RespError(line), next }; // -
    case 0x3a: return { reply: Number(line), next }; // :
    case 0x24: { // $
      const n = Number(line);
      if (n < 0) return { reply: null, next };
      if (buf.length < next + n + 2) return undefined;
      return { reply: buf.toString('utf8', next, next + n), next: next + n + 2 };
    }
    case 0x2a: { // *
      const n = Number(line);
      if (n < 0) return { reply: null, next };
      const items: RespReply[] = [];
      let p = next;
      for (let i = 0; i < n; i++) {
        const r = parseReply(buf, p);
        if (!r) return undefined;
        items.push(r.reply instanceof RespError ? r.reply.message : r.reply);
        p = r.next;
      }
      return { reply: items, next: p };
    }
    default:
      throw new RespError(`unexpected RESP reply type ${JSON.stringify(String.fromCharCode(buf[pos] ?? 0))}`);
  }
}

export class AppendConnection {
  private socket: net.Socket | undefined;
  private ready: Promise<net.Socket> | undefined;
  private pending: Buffer | undefined;
  private readonly waiters: Waiter[] = [];
  private readonly url: URL;
  private readonly connectTimeoutMs: number;
  private readonly commandTimeoutMs: number;
  private watchdog: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(redisUrl: string, opts: AppendConnectionOptions = {}) {
    this.url = new URL(redisUrl);
    if (this.url.protocol !== 'redis:' && this.url.protocol !== 'rediss:') throw new Error(`not a redis:// URL: ${this.url.protocol}`);
    this.connectTimeoutMs = opts.connectTimeoutMs ?? 2000;
    this.commandTimeoutMs = opts.commandTimeoutMs ?? 5000;
  }

  /** Send one command; resolves with its reply, rejects with RespError or a connection error. */
  async command(args: ReadonlyArray<string | number>): Promise<RespReply> {
    const socket = await this.connect();
    return this.send(socket, args);
  }

  close(): void {
    this.closed = true;
    this.socket?.destroy();
    this.fail(new Error('append connection closed'));
    if (this.watchdog) clearTimeout(this.watchdog);
  }

  private connect(): Promise<net.Socket> {
    if (this.closed) return Promise.reject(new Error('append connection closed'));
    this.ready ??= this.open().catch((err: Error) => {
      this.ready = undefined;
      throw err;
    });
    return this.ready;
  }

  private async open(): Promise<net.Socket> {
    const host = this.url.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1';
    const port = Number(this.url.port || 6379);
    const socket = await new Promise<net.Socket>((resolve, reject) => {
      const s = this.url.protocol === 'rediss:'
        ? tls().connect({ host, port, servername: net.isIP(host) ? undefined : host }, () => resolve(s))
        : net.connect({ host, port }, () => resolve(s));
      const timer = setTimeout(() => { s.destroy(); reject(new Error(`cannot connect to Redis at ${host}:${port} within ${this.connectTimeoutMs} ms`)); }, this.connectTimeoutMs);
      // Connected means usable: for TLS that is after the handshake, which a peer can stall.
      s.once(this.url.protocol === 'rediss:' ? 'secureConnect' : 'connect', () => clearTimeout(timer));
      s.once('error', (err) => { clearTimeout(timer); reject(err); });
    });
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 10_000);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', () => undefined); // 'close' follows
    socket.on('close', () => {
      // A connection already dropped (no reply in time) had its commands failed then; whatever is
      // waiting or connecting now belongs to its successor.
      if (this.socket !== socket) return;
      this.socket = undefined;
      this.ready = undefined;
      this.pending = undefined;
      this.fail(new Error('the Redis connection closed'));
    });
    this.socket = socket;
    // Authenticate and select before anything else is written on it.
    const user = decodeURIComponent(this.url.username);
    const password = decodeURIComponent(this.url.password);
    const db = Number(this.url.pathname.slice(1) || 0);
    const setup: Array<Array<string | number>> = [];
    if (password) setup.push(user ? ['AUTH', user, password] : ['AUTH', password]);
    if (db) setup.push(['SELECT', db]);
    for (const args of setup) {
      await this.send(socket, args).catch((err: Error) => {
        socket.destroy();
        throw new Error(`Redis refused ${String(args[0])}: ${err.message}`);
      });
    }
    return socket;
  }

  private onData(chunk: Buffer): void {
    let buf = this.pending ? Buffer.concat([this.pending, chunk]) : chunk;
    let pos = 0;
    for (;;) {
      let parsed;
      try {
        parsed = parseReply(buf, pos);
      } catch (err) {
        this.socket?.destroy(err as Error);
        return;
      }
      if (!parsed) break;
      pos = parsed.next;
      const w = this.waiters.shift();
      if (!w) continue;
      if (parsed.reply instanceof RespError) w.reject(parsed.reply);
      else w.resolve(parsed.reply);
    }
    buf = buf.subarray(pos);
    this.pending = buf.length ? Buffer.from(buf) : undefined;
  }

  private send(socket: net.Socket, args: ReadonlyArray<string | number>): Promise<RespReply> {
    return new Promise<RespReply>((resolve, reject) => {
      this.waiters.push({ resolve, reject, sentAt: performance.now() });
      socket.write(encodeCommand(args));
      this.watchdog ??= this.arm();
    });
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
        this.pending = undefined;
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
