// Where a Redis URL points and how to open a connection there: redis:// (TCP) or rediss:// (TLS),
// with an optional user and password (AUTH) and database (SELECT), read as ioredis reads them.
import { createRequire } from 'node:module';
import net from 'node:net';
import { ReplyReader, type RespError, type RespReply } from './codec.js';

// node:tls is loaded on the first rediss:// connection: a plain-TCP Redis (the usual in-cluster
// service) never loads it, and TLS costs ~2.5 MB of resident memory in every sidecar (BENCHMARKS.md).
let tlsModule: typeof import('node:tls') | undefined;
const tls = (): typeof import('node:tls') => (tlsModule ??= createRequire(import.meta.url)('node:tls') as typeof import('node:tls'));

export interface RedisEndpoint {
  host: string;
  port: number;
  tls: boolean;
  connectTimeoutMs: number;
  /** The commands that make a new connection usable (AUTH, SELECT), before anything else. */
  setup: Array<Array<string | number>>;
  /** The URL without its password, for messages. */
  location: string;
}

export function redisEndpoint(redisUrl: string, connectTimeoutMs: number): RedisEndpoint {
  const url = new URL(redisUrl);
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') throw new Error(`not a redis:// URL: ${url.protocol}`);
  const user = decodeURIComponent(url.username);
  const password = decodeURIComponent(url.password);
  const db = Number(url.pathname.slice(1) || 0);
  const setup: Array<Array<string | number>> = [];
  if (password) setup.push(user ? ['AUTH', user, password] : ['AUTH', password]);
  if (db) setup.push(['SELECT', db]);
  return {
    host: url.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1',
    port: Number(url.port || 6379),
    tls: url.protocol === 'rediss:',
    connectTimeoutMs,
    setup,
    location: redisLocation(redisUrl),
  };
}

/** Whether `value` is a redis:// or rediss:// URL with a host (what redisEndpoint and ioredis can open). */
export function isRedisUrl(value: string): boolean {
  try {
    const u = new URL(value);
    return (u.protocol === 'redis:' || u.protocol === 'rediss:') && u.hostname !== '';
  } catch {
    return false;
  }
}

/** A Redis URL fit to print: its user and password (whatever they are) as ***, with or without a scheme. */
export function redisLocation(redisUrl: string): string {
  return redisUrl.replace(/^((?:[A-Za-z][A-Za-z0-9+.-]*:)?\/\/)?[^@/]*@/, '$1***@');
}

/** A connected socket (for TLS: handshaken), no delay, kept alive; rejects after the connect timeout. */
export async function openSocket(e: RedisEndpoint): Promise<net.Socket> {
  const { host, port } = e;
  const socket = await new Promise<net.Socket>((resolve, reject) => {
    const s = e.tls
      ? tls().connect({ host, port, servername: net.isIP(host) ? undefined : host }, () => resolve(s))
      : net.connect({ host, port }, () => resolve(s));
    const timer = setTimeout(() => { s.destroy(); reject(new Error(`cannot connect to Redis at ${host}:${port} within ${e.connectTimeoutMs} ms`)); }, e.connectTimeoutMs);
    // Connected means usable: for TLS that is after the handshake, which a peer can stall.
    s.once(e.tls ? 'secureConnect' : 'connect', () => clearTimeout(timer));
    s.once('error', (err) => { clearTimeout(timer); reject(err); });
  });
  socket.setNoDelay(true);
  socket.setKeepAlive(true, 10_000);
  return socket;
}

/** Hand `socket`'s replies to `onReply` as each completes; bytes that are not RESP end the connection. */
export function readReplies(socket: net.Socket, onReply: (reply: RespReply | RespError) => void): void {
  const replies = new ReplyReader(onReply);
  socket.on('data', (chunk: Buffer) => {
    try {
      replies.feed(chunk);
    } catch (err) {
      socket.destroy(err as Error); // what is in flight fails with the connection
    }
  });
}
