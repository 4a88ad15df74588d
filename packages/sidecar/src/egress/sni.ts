// Read the server name (SNI) from a TLS ClientHello, so that connections captured transparently by
// the pod's iptables rules can be allowlisted by name, and TLS inside a CONNECT tunnel held to the
// host the tunnel was allowed for, without terminating TLS. The ClientHello is one handshake
// message, which TLS may split over several records (and TCP over several reads): it is read whole
// from the records' payloads. Pure.
import { destinationHost } from './allowlist.js';

export function isTlsHandshake(first: Buffer): boolean {
  return first.length > 0 && first[0] === 0x16;
}

/** The most of a first flight read for its ClientHello (real ones are a few KB, post-quantum ones included). */
export const CLIENT_HELLO_MAX = 65_536;
/** The most records a ClientHello may be split over here (TLS clients send it in one, rarely two). */
const MAX_RECORDS = 16;

/**
 * What a connection's first bytes say of its ClientHello:
 * - `more`: not all of it has arrived (and less than CLIENT_HELLO_MAX has);
 * - `hello`: read whole; `name` is the host its SNI names, `unreadableName` is set when the
 *   extension is there but names no host (stray bytes), neither when there is no SNI;
 * - `malformed`: not a TLS handshake starting with a ClientHello, or one that does not parse, or
 *   one larger than CLIENT_HELLO_MAX.
 */
export type ClientHelloReading = { kind: 'more' } | { kind: 'hello'; name?: string; unreadableName?: true } | { kind: 'malformed' };

const UNREADABLE = { unreadableName: true } as const;

export function readClientHello(buf: Buffer): ClientHelloReading {
  // Records: type(1)=22 handshake, version(2), length(2), payload. Their payloads joined are the handshake stream.
  const payloads: Buffer[] = [];
  let have = 0;
  let need = -1; // the ClientHello's length with its 4-byte header, once known
  let p = 0;
  while (need < 0 || have < need) {
    if (p + 5 > buf.length) return buf.length >= CLIENT_HELLO_MAX ? { kind: 'malformed' } : { kind: 'more' };
    if (buf[p] !== 0x16) return { kind: 'malformed' };
    const len = buf.readUInt16BE(p + 3);
    // A handshake record is never empty (RFC 8446 §5.1), and a real ClientHello takes a record or two.
    if (len === 0 || payloads.length >= MAX_RECORDS) return { kind: 'malformed' };
    if (p + 5 + len > buf.length) return p + 5 + len > CLIENT_HELLO_MAX ? { kind: 'malformed' } : { kind: 'more' };
    payloads.push(buf.subarray(p + 5, p + 5 + len));
    have += len;
    p += 5 + len;
    if (need < 0 && have >= 4) {
      const hs = payloads.length === 1 ? payloads[0]! : Buffer.concat(payloads, have);
      if (hs[0] !== 0x01) return { kind: 'malformed' };
      need = 4 + hs.readUIntBE(1, 3);
      if (need > CLIENT_HELLO_MAX) return { kind: 'malformed' };
    }
  }
  const hello = (payloads.length === 1 ? payloads[0]! : Buffer.concat(payloads, have)).subarray(4, need);
  const sni = serverName(hello);
  return sni === null ? { kind: 'malformed' } : { kind: 'hello', ...sni };
}

/** The server name of a ClientHello's body ({} without an SNI extension), or null when the body does not parse. */
function serverName(body: Buffer): { name: string } | typeof UNREADABLE | Record<string, never> | null {
  let p = 2 + 32; // client version + random
  if (p >= body.length) return null;
  p += 1 + body[p]!; // session id
  if (p + 2 > body.length) return null;
  p += 2 + body.readUInt16BE(p); // cipher suites
  if (p >= body.length) return null;
  p += 1 + body[p]!; // compression methods
  if (p === body.length) return {}; // no extensions at all
  if (p + 2 > body.length) return null;
  const extEnd = p + 2 + body.readUInt16BE(p);
  if (extEnd > body.length) return null;
  p += 2;
  while (p + 4 <= extEnd) {
    const type = body.readUInt16BE(p);
    const len = body.readUInt16BE(p + 2);
    p += 4;
    if (p + len > extEnd) return null;
    if (type === 0) {
      // server_name list: length(2), name type(1)=0, name length(2), name
      if (len < 5 || body[p + 2] !== 0) return UNREADABLE;
      const nameLen = body.readUInt16BE(p + 3);
      if (5 + nameLen > len) return UNREADABLE;
      // Bytes as they came (latin1: no byte changes into another), judged as a host name like any
      // destination: a name with a NUL or other stray bytes is none.
      const name = destinationHost(body.toString('latin1', p + 5, p + 5 + nameLen));
      return name === undefined ? UNREADABLE : { name };
    }
    p += len;
  }
  return {};
}

/** The host a ClientHello names, or undefined (not a whole ClientHello, none named, or none readable). */
export function readSni(buf: Buffer): string | undefined {
  const r = readClientHello(buf);
  return r.kind === 'hello' ? r.name : undefined;
}
