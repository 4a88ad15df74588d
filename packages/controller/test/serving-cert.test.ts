// The controller's certificate from the installation CA's Secret: waited for while the Secret does
// not exist (or holds a half-written pair), served over real HTTPS, swapped into the live listener
// when the Secret changes, its CA bundle what the token exchange hands over. The Secret is read
// through a stand-in of the API client's readNamespacedSecret; the TLS is real.
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { V1Secret } from '@kubernetes/client-node';
import { createCertificateAuthority, issueServingCertificate } from '@skillgate/webhook';
import { pino } from 'pino';
import { ReloadingCertificate, fileServingCert, secretCertificateReader } from '../src/serving-cert.js';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ControllerConfigError, controllerConfigFromEnv, resolveControllerConfig } from '../src/index.js';

const b64 = (s: string) => Buffer.from(s).toString('base64');

function tlsSecret(ca: { certPem: string; keyPem: string }, bundle: string): V1Secret {
  const serving = issueServingCertificate(ca, ['127.0.0.1']);
  return { data: { 'tls.crt': b64(serving.certPem), 'tls.key': b64(serving.keyPem), 'ca.crt': b64(bundle) } };
}

/** GET / over HTTPS trusting only `ca`; resolves with the status, rejects on a TLS failure. */
function get(port: number, ca: string): Promise<number> {
  return new Promise((resolve, reject) => {
    https.get({ host: '127.0.0.1', port, path: '/', ca, agent: false }, (res) => { res.resume(); resolve(res.statusCode!); }).on('error', reject);
  });
}

/** An HTTPS listener on loopback serving `loaded`, kept current by `cert`. */
async function listening(cert: ReloadingCertificate, loaded: { cert: string; key: string }): Promise<{ server: https.Server; port: number }> {
  const server = https.createServer({ cert: loaded.cert, key: loaded.key }, (_req, res) => res.end('ok'));
  cert.serve(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { server, port: (server.address() as AddressInfo).port };
}

test('waits for a usable pair, serves it, and swaps in a renewed one from the Secret', async () => {
  const first = createCertificateAuthority('first-ca');
  const second = createCertificateAuthority('second-ca');
  let secret: V1Secret | undefined;
  let reads = 0;
  const kube = {
    core: {
      readNamespacedSecret: async () => {
        reads++;
        if (!secret) throw Object.assign(new Error('not found'), { code: 404 });
        return secret;
      },
    },
  } as unknown as Parameters<typeof secretCertificateReader>[0];
  const cert = new ReloadingCertificate({ where: 'sg/sg-controller-tls', read: secretCertificateReader(kube, { namespace: 'sg', name: 'sg-controller-tls' }), log: pino({ level: 'silent' }), waitPollMs: 10, pollMs: 60_000 });
  const waiting = cert.waitForCertificate();
  await new Promise((r) => setTimeout(r, 50));
  // Half-written (a key that is not the certificate's): still waiting.
  const half = tlsSecret(first, first.certPem);
  half.data!['tls.key'] = b64(issueServingCertificate(first, ['127.0.0.1']).keyPem);
  secret = half;
  await new Promise((r) => setTimeout(r, 50));
  expect(cert.certificate()).toBeUndefined();
  secret = tlsSecret(first, first.certPem + second.certPem);
  const loaded = await waiting;
  expect(reads).toBeGreaterThan(3);
  expect(cert.caBundle()).toBe(first.certPem + second.certPem);

  const { server, port } = await listening(cert, loaded);
  try {
    expect(await get(port, first.certPem)).toBe(200);
    // Unchanged: nothing to do.
    expect(await cert.refresh()).toBe(false);
    // Renewed under the second CA: the live listener serves it at once.
    secret = tlsSecret(second, second.certPem);
    expect(await cert.refresh()).toBe(true);
    expect(cert.caBundle()).toBe(second.certPem);
    expect(await get(port, second.certPem)).toBe(200);
    await expect(get(port, first.certPem)).rejects.toThrow(/certificate|issuer/);
    // A read that fails keeps what is served.
    secret = undefined;
    expect(await cert.refresh()).toBe(false);
    expect(await get(port, second.certPem)).toBe(200);
  } finally {
    cert.stop();
    await new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); });
  }
});

test('when the Lease holder does not issue it (an older version mid-upgrade), the waiting replica issues it itself', async () => {
  const ca = createCertificateAuthority('bootstrap-ca');
  let secret: V1Secret | undefined;
  const kube = {
    core: {
      readNamespacedSecret: async () => {
        if (!secret) throw Object.assign(new Error('not found'), { code: 404 });
        return secret;
      },
    },
  } as unknown as Parameters<typeof secretCertificateReader>[0];
  const bootstraps: number[] = [];
  const started = Date.now();
  const cert = new ReloadingCertificate({
    where: 'sg/sg-controller-tls', read: secretCertificateReader(kube, { namespace: 'sg', name: 'sg-controller-tls' }), log: pino({ level: 'silent' }), waitPollMs: 10, bootstrapAfterMs: 200,
    bootstrap: async () => {
      bootstraps.push(Date.now() - started);
      if (bootstraps.length === 1) throw new Error('409: the Secret changed while we were writing it');
      secret = tlsSecret(ca, ca.certPem);
      return true;
    },
  });
  const loaded = await cert.waitForCertificate();
  expect(loaded.ca).toBe(ca.certPem);
  // First after the grace period, again after a failed attempt, then done.
  expect(bootstraps).toHaveLength(2);
  expect(bootstraps[0]).toBeGreaterThanOrEqual(200);
  expect(bootstraps[1]! - bootstraps[0]!).toBeGreaterThanOrEqual(200);
  cert.stop();
});

test('the certificate comes as files or as a Secret, not both', () => {
  const env = { REDIS_URL: 'redis://127.0.0.1:6379', POD_NAMESPACE: 'sg', SKILLGATE_CONTROLLER_TLS_SECRET: 'sg-controller-tls' };
  expect(resolveControllerConfig(controllerConfigFromEnv(env)).tlsSecret).toEqual({ namespace: 'sg', name: 'sg-controller-tls' });
  expect(() => resolveControllerConfig({ ...controllerConfigFromEnv(env), tls: { certFile: '/x/tls.crt', keyFile: '/x/tls.key' } })).toThrow(ControllerConfigError);
  expect(() => resolveControllerConfig({ ...controllerConfigFromEnv(env), tls: { certFile: '/x/tls.crt', keyFile: '/x/tls.key' } })).toThrow(/tlsSecret: give the certificate as files .* or as a Secret .*, not both/);
});

test("an operator's certificate files are re-read and a renewed pair served without a restart; a half-written pair keeps the current one", async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sg-controller-files-'));
  const [first, second] = [createCertificateAuthority('files-first'), createCertificateAuthority('files-second')];
  const write = (ca: { certPem: string; keyPem: string }) => {
    const s = issueServingCertificate(ca, ['127.0.0.1']);
    writeFileSync(join(dir, 'tls.crt'), s.certPem);
    writeFileSync(join(dir, 'tls.key'), s.keyPem);
    return s;
  };
  write(first);
  const cert = fileServingCert({ certFile: join(dir, 'tls.crt'), keyFile: join(dir, 'tls.key'), log: pino({ level: 'silent' }), pollMs: 50 });
  const loaded = await cert.waitForCertificate();
  const { server, port } = await listening(cert, loaded);
  try {
    expect(await get(port, first.certPem)).toBe(200);
    // Half-written: a new certificate beside the old key.
    writeFileSync(join(dir, 'tls.crt'), issueServingCertificate(second, ['127.0.0.1']).certPem);
    await new Promise((r) => setTimeout(r, 200));
    expect(await get(port, first.certPem)).toBe(200);
    write(second);
    await new Promise((r) => setTimeout(r, 200));
    expect(await get(port, second.certPem)).toBe(200);
    await expect(get(port, first.certPem)).rejects.toThrow(/certificate|issuer/);
  } finally {
    cert.stop();
    await new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); });
  }
});
