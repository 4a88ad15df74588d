// A self-signed CA and a serving certificate issued by it, made with node:crypto alone (ECDSA P-256,
// a minimal DER encoder for X.509 v3): for tests, for `make dev`, and for the controller's
// self-signed webhook TLS mode, where no openssl binary exists in the image. It must never be used
// as a general-purpose CA: it issues exactly a CA and serverAuth leaf certificates, nothing else.
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, sign, X509Certificate, type KeyObject } from 'node:crypto';
import { isIP } from 'node:net';

// --- DER ---------------------------------------------------------------------------------------

function derLength(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v >>= 8) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

const der = (tag: number, ...content: Buffer[]): Buffer => {
  const body = Buffer.concat(content);
  return Buffer.concat([Buffer.from([tag]), derLength(body.length), body]);
};
const seq = (...c: Buffer[]) => der(0x30, ...c);
const set = (...c: Buffer[]) => der(0x31, ...c);
const octets = (b: Buffer) => der(0x04, b);
const bitString = (b: Buffer, unusedBits = 0) => der(0x03, Buffer.from([unusedBits]), b);
const bool = (v: boolean) => der(0x01, Buffer.from([v ? 0xff : 0x00]));
const utf8 = (s: string) => der(0x0c, Buffer.from(s, 'utf8'));
const explicit = (n: number, c: Buffer) => der(0xa0 | n, c);

function integer(b: Buffer): Buffer {
  let i = 0;
  while (i < b.length - 1 && b[i] === 0) i++;
  let v = b.subarray(i);
  if (v[0]! & 0x80) v = Buffer.concat([Buffer.from([0]), v]);
  return der(0x02, v);
}

function oid(dotted: string): Buffer {
  const parts = dotted.split('.').map(Number);
  const out = [40 * parts[0]! + parts[1]!];
  for (const p of parts.slice(2)) {
    const chunk: number[] = [];
    let v = p;
    do { chunk.unshift(v & 0x7f); v = Math.floor(v / 128); } while (v > 0);
    for (let i = 0; i < chunk.length - 1; i++) chunk[i]! |= 0x80;
    out.push(...chunk);
  }
  return der(0x06, Buffer.from(out));
}

function time(d: Date): Buffer {
  const iso = d.toISOString(); // YYYY-MM-DDTHH:MM:SS.sssZ
  const digits = iso.slice(0, 19).replace(/[-T:]/g, '');
  // UTCTime through 2049, GeneralizedTime after (RFC 5280 4.1.2.5).
  return d.getUTCFullYear() < 2050 ? der(0x17, Buffer.from(`${digits.slice(2)}Z`)) : der(0x18, Buffer.from(`${digits}Z`));
}

const OID = {
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  commonName: '2.5.4.3',
  organization: '2.5.4.10',
  subjectKeyIdentifier: '2.5.29.14',
  keyUsage: '2.5.29.15',
  subjectAltName: '2.5.29.17',
  basicConstraints: '2.5.29.19',
  authorityKeyIdentifier: '2.5.29.35',
  extKeyUsage: '2.5.29.37',
  serverAuth: '1.3.6.1.5.5.7.3.1',
};

const name = (cn: string) => seq(set(seq(oid(OID.organization), utf8('skillgate'))), set(seq(oid(OID.commonName), utf8(cn))));
const extension = (id: string, critical: boolean, value: Buffer) => seq(oid(id), ...(critical ? [bool(true)] : []), octets(value));

function ipBytes(ip: string): Buffer {
  if (isIP(ip) === 4) return Buffer.from(ip.split('.').map(Number));
  // IPv6: expand "::" then pack eight 16-bit groups.
  const [head = '', tail] = ip.split('::');
  const h = head ? head.split(':') : [];
  const t = tail !== undefined && tail !== '' ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  const b = Buffer.alloc(16);
  groups.forEach((g, i) => b.writeUInt16BE(parseInt(g, 16), i * 2));
  return b;
}

/** subjectKeyIdentifier: SHA-1 of the subjectPublicKey bits (RFC 5280 4.2.1.2, method 1). */
function keyId(publicKey: KeyObject): Buffer {
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  // For P-256 the BIT STRING holding the point is the last 66 bytes: 03 42 00 <65-byte point>.
  return createHash('sha1').update(spki.subarray(spki.length - 65)).digest();
}

interface Issue {
  subjectCn: string;
  subjectKey: KeyObject; // public
  issuerCn: string;
  issuerKey: KeyObject; // private
  issuerKeyId: Buffer;
  notBefore: Date;
  notAfter: Date;
  ca: boolean;
  hosts: string[];
}

function certificate(i: Issue): Buffer {
  const alg = seq(oid(OID.ecdsaWithSha256));
  const serial = randomBytes(16);
  serial[0] = (serial[0]! & 0x7f) | 0x01; // positive, 16 bytes, non-zero
  const extensions = [
    extension(OID.basicConstraints, true, i.ca ? seq(bool(true)) : seq()),
    // CA: digitalSignature, keyCertSign, cRLSign. Leaf: digitalSignature, keyEncipherment.
    extension(OID.keyUsage, true, i.ca ? bitString(Buffer.from([0x86]), 1) : bitString(Buffer.from([0xa0]), 5)),
    extension(OID.subjectKeyIdentifier, false, octets(keyId(i.subjectKey))),
    extension(OID.authorityKeyIdentifier, false, seq(der(0x80, i.issuerKeyId))),
  ];
  if (!i.ca) {
    extensions.push(extension(OID.extKeyUsage, false, seq(oid(OID.serverAuth))));
    const names = i.hosts.map((h) => (isIP(h) ? der(0x87, ipBytes(h)) : der(0x82, Buffer.from(h, 'ascii'))));
    extensions.push(extension(OID.subjectAltName, false, seq(...names)));
  }
  const tbs = seq(
    explicit(0, integer(Buffer.from([2]))), // v3
    integer(serial),
    alg,
    name(i.issuerCn),
    seq(time(i.notBefore), time(i.notAfter)),
    name(i.subjectCn),
    i.subjectKey.export({ type: 'spki', format: 'der' }),
    explicit(3, seq(...extensions)),
  );
  const signature = sign('sha256', tbs, { key: i.issuerKey, dsaEncoding: 'der' });
  return seq(tbs, alg, bitString(signature));
}

const pem = (label: string, derBytes: Buffer) =>
  `-----BEGIN ${label}-----\n${derBytes.toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '')}\n-----END ${label}-----\n`;

// --- API -----------------------------------------------------------------------------------------

export interface CertificateAuthority {
  certPem: string;
  keyPem: string;
}

export interface ServingCertificate {
  certPem: string;
  keyPem: string;
  notAfter: Date;
}

export interface DevCertificates {
  ca: CertificateAuthority;
  serving: ServingCertificate;
}

export interface CertOptions {
  /** Validity in days (default: CA 365, serving 90). */
  days?: number;
  /** Clock, for tests. */
  now?: Date;
}

const BACKDATE_MS = 5 * 60 * 1000; // tolerate clock skew between us and the API server

export function createCertificateAuthority(commonName = 'skillgate-webhook-ca', opts: CertOptions = {}): CertificateAuthority {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const now = opts.now ?? new Date();
  const der = certificate({
    subjectCn: commonName, subjectKey: publicKey, issuerCn: commonName, issuerKey: privateKey, issuerKeyId: keyId(publicKey),
    notBefore: new Date(now.getTime() - BACKDATE_MS), notAfter: new Date(now.getTime() + (opts.days ?? 365) * 86400_000), ca: true, hosts: [],
  });
  return { certPem: pem('CERTIFICATE', der), keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() };
}

/**
 * Issues a serverAuth certificate for `hosts` (DNS names and IP addresses, all put in
 * subjectAltName; the first is also the CN) signed by `ca`.
 */
export function issueServingCertificate(ca: CertificateAuthority, hosts: string[], opts: CertOptions = {}): ServingCertificate {
  if (!hosts.length) throw new Error('issueServingCertificate: give at least one host name or IP');
  const caKey = createPrivateKey(ca.keyPem);
  const caPub = createPublicKey(caKey);
  // Our CAs are always named O=skillgate,CN=<cn>; rebuilding the Name from the CN reproduces it byte for byte.
  const issuerCn = /^CN=(.+)$/m.exec(new X509Certificate(ca.certPem).subject)?.[1] ?? 'skillgate-webhook-ca';
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const now = opts.now ?? new Date();
  const notAfter = new Date(now.getTime() + (opts.days ?? 90) * 86400_000);
  const der = certificate({
    subjectCn: hosts[0]!, subjectKey: publicKey, issuerCn, issuerKey: caKey, issuerKeyId: keyId(caPub),
    notBefore: new Date(now.getTime() - BACKDATE_MS), notAfter, ca: false, hosts,
  });
  return { certPem: pem('CERTIFICATE', der), keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), notAfter };
}

/** A fresh CA and a serving certificate for `hosts` (default 127.0.0.1 and localhost). */
export function createDevCertificates(hosts: string[] = ['127.0.0.1', 'localhost'], opts: CertOptions = {}): DevCertificates {
  const ca = createCertificateAuthority('skillgate-webhook-ca', opts);
  return { ca, serving: issueServingCertificate(ca, hosts, opts) };
}
