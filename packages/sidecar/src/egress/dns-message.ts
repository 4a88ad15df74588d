// DNS messages, as much as the DNS guard needs (RFC 1035 §4.1): the question of a query (name and
// type) and the answer it gives itself when it resolves nothing (NXDOMAIN, FORMERR, SERVFAIL, with
// the question echoed). Everything else passes through as bytes. Pure.

export interface DnsQuestion {
  id: number;
  /** The header's second 16 bits (QR, opcode, AA, TC, RD, RA, Z, RCODE). */
  flags: number;
  /** Lower-case, no trailing dot; '' for the root. */
  name: string;
  qtype: number;
  qclass: number;
  /** Offset just past the question (the answer echoes bytes 12..end). */
  end: number;
}

export const RCODE = { formErr: 1, servFail: 2, nxDomain: 3, notImp: 4, refused: 5 } as const;

const TYPE_NAMES: Record<number, string> = {
  1: 'A', 2: 'NS', 5: 'CNAME', 6: 'SOA', 12: 'PTR', 15: 'MX', 16: 'TXT', 28: 'AAAA', 33: 'SRV', 35: 'NAPTR',
  41: 'OPT', 43: 'DS', 46: 'RRSIG', 48: 'DNSKEY', 64: 'SVCB', 65: 'HTTPS', 99: 'SPF', 255: 'ANY',
};

export function typeName(qtype: number): string {
  return TYPE_NAMES[qtype] ?? `TYPE${qtype}`;
}

export class DnsFormatError extends Error {
  constructor(message: string, readonly id?: number) {
    super(message);
    this.name = 'DnsFormatError';
  }
}

/**
 * The single question of a standard query. Throws DnsFormatError (with the id when the header was
 * readable) for anything else: a response, another opcode, no or several questions, a compressed or
 * over-long name.
 */
export function parseQuery(msg: Buffer): DnsQuestion {
  if (msg.length < 12) throw new DnsFormatError('shorter than a DNS header');
  const id = msg.readUInt16BE(0);
  const flags = msg.readUInt16BE(2);
  if (flags & 0x8000) throw new DnsFormatError('a response, not a query', id);
  if (((flags >> 11) & 0xf) !== 0) throw new DnsFormatError('not a standard query (opcode)', id);
  if (msg.readUInt16BE(4) !== 1) throw new DnsFormatError('not exactly one question', id);
  const labels: string[] = [];
  let at = 12;
  let length = 0;
  for (;;) {
    if (at >= msg.length) throw new DnsFormatError('truncated name', id);
    const n = msg[at]!;
    at += 1;
    if (n === 0) break;
    if (n & 0xc0) throw new DnsFormatError('compressed or extended label in a question', id);
    if (at + n > msg.length) throw new DnsFormatError('truncated label', id);
    // A label may hold any byte on the wire; one holding a dot would read, joined, as a name the
    // resolver never sees (["api.anthropic", "com"] is not api.anthropic.com).
    if (msg.subarray(at, at + n).includes(0x2e)) throw new DnsFormatError('a dot inside a label', id);
    length += n + 1;
    if (length > 255) throw new DnsFormatError('name longer than 255 octets', id);
    labels.push(msg.toString('latin1', at, at + n).toLowerCase());
    at += n;
  }
  if (at + 4 > msg.length) throw new DnsFormatError('truncated question', id);
  return { id, flags, name: labels.join('.'), qtype: msg.readUInt16BE(at), qclass: msg.readUInt16BE(at + 2), end: at + 4 };
}

/** The guard's own answer to a query: no records, the question echoed, this response code. */
export function answerWith(query: Buffer, q: Pick<DnsQuestion, 'id' | 'flags' | 'end'>, rcode: number): Buffer {
  const out = Buffer.alloc(q.end);
  out.writeUInt16BE(q.id, 0);
  // QR=1, opcode and RD copied, RA=1 (the guard stands in for a recursive resolver), the rcode.
  out.writeUInt16BE(0x8000 | (q.flags & 0x7900) | 0x0080 | (rcode & 0xf), 2);
  out.writeUInt16BE(1, 4);
  query.copy(out, 12, 12, q.end);
  return out;
}

/** An answer to a message whose question could not be read: just the header, FORMERR. */
export function formatErrorAnswer(id: number): Buffer {
  const out = Buffer.alloc(12);
  out.writeUInt16BE(id, 0);
  out.writeUInt16BE(0x8000 | 0x0080 | RCODE.formErr, 2);
  return out;
}
