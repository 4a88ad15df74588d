// Read the server name (SNI) from a TLS ClientHello, so that connections captured transparently by
// the pod's iptables rules can be allowlisted by name without terminating TLS. Pure; returns
// undefined for anything that is not a complete ClientHello with an SNI extension that names a host.
import { destinationHost } from './allowlist.js';

export function isTlsHandshake(first: Buffer): boolean {
  return first.length > 0 && first[0] === 0x16;
}

export function readSni(buf: Buffer): string | undefined {
  // TLS record header: type(1)=22, version(2), length(2); handshake: type(1)=1, length(3)
  if (buf.length < 9 || buf[0] !== 0x16 || buf[5] !== 0x01) return undefined;
  let p = 9 + 2 + 32; // client version + random
  if (p >= buf.length) return undefined;
  p += 1 + buf[p]!; // session id
  if (p + 2 > buf.length) return undefined;
  p += 2 + buf.readUInt16BE(p); // cipher suites
  if (p >= buf.length) return undefined;
  p += 1 + buf[p]!; // compression methods
  if (p + 2 > buf.length) return undefined;
  const extEnd = Math.min(buf.length, p + 2 + buf.readUInt16BE(p));
  p += 2;
  while (p + 4 <= extEnd) {
    const type = buf.readUInt16BE(p);
    const len = buf.readUInt16BE(p + 2);
    p += 4;
    if (type === 0 && p + 5 <= extEnd) {
      // server_name list: length(2), name type(1)=0, name length(2), name
      const nameLen = buf.readUInt16BE(p + 3);
      if (buf[p + 2] !== 0 || p + 5 + nameLen > extEnd) return undefined;
      // Bytes as they came (latin1: no byte changes into another), judged as a host name like any
      // destination: a name with a NUL or other stray bytes is none.
      return destinationHost(buf.toString('latin1', p + 5, p + 5 + nameLen));
    }
    p += len;
  }
  return undefined;
}
