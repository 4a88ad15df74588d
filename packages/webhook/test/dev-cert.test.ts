import { X509Certificate } from 'node:crypto';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { createDevCertificates, issueServingCertificate } from '../src/dev-cert.js';

describe('createDevCertificates', () => {
  const { ca, serving } = createDevCertificates(['127.0.0.1', 'localhost', 'skillgate-webhook.skillgate-system.svc', '::1']);

  test('the CA is a CA and signed the serving certificate', () => {
    const caCert = new X509Certificate(ca.certPem);
    const leaf = new X509Certificate(serving.certPem);
    expect(caCert.ca).toBe(true);
    expect(leaf.ca).toBe(false);
    expect(caCert.verify(caCert.publicKey)).toBe(true);
    expect(leaf.verify(caCert.publicKey)).toBe(true);
    expect(leaf.checkIssued(caCert)).toBe(true);
  });

  test('the serving certificate names every host in subjectAltName', () => {
    const leaf = new X509Certificate(serving.certPem);
    expect(leaf.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(leaf.checkIP('::1')).toBe('::1');
    expect(leaf.checkHost('skillgate-webhook.skillgate-system.svc')).toBe('skillgate-webhook.skillgate-system.svc');
    expect(leaf.checkHost('evil.example.com')).toBeUndefined();
    expect(leaf.keyUsage).toEqual(['1.3.6.1.5.5.7.3.1']);
  });

  test('validity follows the clock and the requested days', () => {
    const now = new Date('2030-06-01T00:00:00Z');
    const s = issueServingCertificate(ca, ['x.svc'], { now, days: 30 });
    const leaf = new X509Certificate(s.certPem);
    expect(new Date(leaf.validTo).toISOString()).toBe('2030-07-01T00:00:00.000Z');
    expect(new Date(leaf.validFrom).getTime()).toBeLessThan(now.getTime());
    expect(s.notAfter.toISOString()).toBe('2030-07-01T00:00:00.000Z');
  });

  test('a TLS client that trusts only the CA completes a handshake with the serving certificate', async () => {
    const server = https.createServer({ cert: serving.certPem, key: serving.keyPem }, (_req, res) => res.end('ok'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const body = await new Promise<string>((resolve, reject) => {
        https.get({ host: '127.0.0.1', port: (server.address() as AddressInfo).port, ca: ca.certPem, agent: false }, (res) => {
          let s = '';
          res.on('data', (c) => { s += c; });
          res.on('end', () => resolve(s));
        }).on('error', reject);
      });
      expect(body).toBe('ok');
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });
});
