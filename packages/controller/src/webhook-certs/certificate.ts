// What the webhook-certificate reconciler needs to know about one PEM certificate: its validity
// window, when it is due for renewal, the names it covers, whether a key belongs to it and whether
// a CA signed it. Pure (node:crypto parsing only); never logs or returns key material.
import { X509Certificate, createHash, createPrivateKey } from 'node:crypto';

export interface CertificateFacts {
  notBefore: number;
  notAfter: number;
  /** DNS names and IP addresses from subjectAltName. */
  hosts: string[];
  /** SHA-256 of the DER, hex: stable identity for comparing trust bundles. */
  fingerprint: string;
  x509: X509Certificate;
}

/** Parses one PEM certificate; undefined when it is not one. */
export function inspectCertificate(pem: string | undefined): CertificateFacts | undefined {
  if (!pem) return undefined;
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(pem);
  } catch {
    return undefined;
  }
  const hosts = (x509.subjectAltName ?? '')
    .split(/,\s*/)
    .map((entry) => /^(?:DNS|IP Address):(.+)$/.exec(entry.trim())?.[1])
    .filter((h): h is string => !!h);
  return {
    notBefore: Date.parse(x509.validFrom),
    notAfter: Date.parse(x509.validTo),
    hosts,
    fingerprint: createHash('sha256').update(x509.raw).digest('hex'),
    x509,
  };
}

/** The moment a certificate is due for renewal: `fraction` of the way through its lifetime. */
export function renewalTime(facts: Pick<CertificateFacts, 'notBefore' | 'notAfter'>, fraction: number): number {
  return facts.notBefore + Math.floor((facts.notAfter - facts.notBefore) * fraction);
}

/** True when `keyPem` is the private key of `facts`' certificate. */
export function keyMatches(facts: CertificateFacts, keyPem: string | undefined): boolean {
  if (!keyPem) return false;
  try {
    return facts.x509.checkPrivateKey(createPrivateKey(keyPem));
  } catch {
    return false;
  }
}

/** True when `ca` issued and signed `leaf`. */
export function signedBy(leaf: CertificateFacts, ca: CertificateFacts): boolean {
  try {
    return leaf.x509.checkIssued(ca.x509) && leaf.x509.verify(ca.x509.publicKey);
  } catch {
    return false;
  }
}

/** Splits a PEM bundle into its certificates (other blocks are ignored). */
export function splitPemBundle(bundle: string | undefined): string[] {
  if (!bundle) return [];
  return bundle.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g)?.map((c) => `${c}\n`) ?? [];
}

/** Fingerprints of the certificates in a PEM bundle. */
export function bundleFingerprints(bundle: string | undefined): Set<string> {
  const out = new Set<string>();
  for (const pem of splitPemBundle(bundle)) {
    const f = inspectCertificate(pem);
    if (f) out.add(f.fingerprint);
  }
  return out;
}
