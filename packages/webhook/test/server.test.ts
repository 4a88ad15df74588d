import { once } from 'node:events';
import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { createDevCertificates, type DevCertificates } from '../src/dev-cert.js';
import { startWebhookServer, type WebhookServer } from '../src/server.js';
import { config, skillPod } from './fixtures.js';

function post(server: WebhookServer, ca: string, urlPath: string, body: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request(`${server.url}${urlPath}`, { method: 'POST', ca, agent: false, headers: { 'content-type': 'application/json' } }, (res) => {
      let text = '';
      res.on('data', (c) => { text += c; });
      res.on('end', () => resolve({ status: res.statusCode!, text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

function get(server: WebhookServer, ca: string, urlPath: string) {
  return new Promise<{ status: number; text: string }>((resolve, reject) => {
    https.get(`${server.url}${urlPath}`, { ca, agent: false }, (res) => {
      let text = '';
      res.on('data', (c) => { text += c; });
      res.on('end', () => resolve({ status: res.statusCode!, text }));
    }).on('error', reject);
  });
}

const review = (object: unknown) => JSON.stringify({
  apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview',
  request: { uid: 'u-1', kind: { group: '', version: 'v1', kind: 'Pod' }, resource: { group: '', version: 'v1', resource: 'pods' }, namespace: 'team-a', operation: 'CREATE', object },
});

describe('webhook server', () => {
  let dir: string;
  let certs: DevCertificates;
  let server: WebhookServer;

  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'skillgate-webhook-test-'));
    certs = createDevCertificates(['127.0.0.1']);
    fs.writeFileSync(path.join(dir, 'tls.crt'), certs.serving.certPem);
    fs.writeFileSync(path.join(dir, 'tls.key'), certs.serving.keyPem);
    server = await startWebhookServer({ config: config(), certFile: path.join(dir, 'tls.crt'), keyFile: path.join(dir, 'tls.key'), port: 0, host: '127.0.0.1', logger: pino({ level: 'silent' }) });
  });

  afterEach(async () => {
    await server.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('POST /mutate over HTTPS answers an AdmissionReview with a JSONPatch', async () => {
    const r = await post(server, certs.ca.certPem, '/mutate', review(skillPod()));
    expect(r.status).toBe(200);
    const body = JSON.parse(r.text);
    expect(body.response).toMatchObject({ uid: 'u-1', allowed: true, patchType: 'JSONPatch' });
  });

  test('a body that is not an AdmissionReview gets 400, never an "allowed"', async () => {
    expect((await post(server, certs.ca.certPem, '/validate-pod', '{"kind":"Pod"}')).status).toBe(400);
    expect((await post(server, certs.ca.certPem, '/validate-pod', 'not json')).status).toBe(400);
    expect((await post(server, certs.ca.certPem, '/nowhere', '{}')).status).toBe(404);
  });

  test('/metrics counts admissions by result and observes their latency', async () => {
    const pod = skillPod();
    pod.spec.hostNetwork = true;
    await post(server, certs.ca.certPem, '/mutate', review(skillPod()));
    await post(server, certs.ca.certPem, '/validate-pod', review(pod));
    const m = await get(server, certs.ca.certPem, '/metrics');
    expect(m.text).toMatch(/skillgate_webhook_admissions_total\{webhook="mutate",result="patched"\} 1/);
    expect(m.text).toMatch(/skillgate_webhook_admissions_total\{webhook="validate-pod",result="denied"\} 1/);
    expect(m.text).toMatch(/skillgate_webhook_admission_duration_seconds_count\{webhook="mutate"\} 1/);
    expect(m.text).toMatch(/skillgate_webhook_certificate_expiry_timestamp_seconds \d+/);
    expect((await get(server, certs.ca.certPem, '/healthz')).text).toBe('ok\n');
  });

  test('a rotated certificate is picked up from the files without restarting', async () => {
    const next = createDevCertificates(['127.0.0.1']);
    const reloaded = once(server, 'certificate-reloaded', { signal: AbortSignal.timeout(10_000) });
    // Kubernetes-style rotation: new files renamed into place.
    fs.writeFileSync(path.join(dir, 'tls.key.new'), next.serving.keyPem);
    fs.writeFileSync(path.join(dir, 'tls.crt.new'), next.serving.certPem);
    fs.renameSync(path.join(dir, 'tls.key.new'), path.join(dir, 'tls.key'));
    fs.renameSync(path.join(dir, 'tls.crt.new'), path.join(dir, 'tls.crt'));
    await reloaded;
    expect((await get(server, next.ca.certPem, '/healthz')).status).toBe(200);
    await expect(get(server, certs.ca.certPem, '/healthz')).rejects.toThrow(/certificate/);
  });

  test('with controllerCaFile, new pods get the CA bundle the file holds now: read at start, again when it rotates, the last good one kept', async () => {
    const caFile = path.join(dir, 'ca.crt');
    fs.writeFileSync(caFile, certs.ca.certPem);
    const withFile = await startWebhookServer({
      config: config({ controllerUrl: 'https://skillgate-controller.skillgate-system.svc:8443', controllerCaFile: caFile }),
      certFile: path.join(dir, 'tls.crt'), keyFile: path.join(dir, 'tls.key'), port: 0, host: '127.0.0.1', logger: pino({ level: 'silent' }),
    });
    const injectedCa = async (): Promise<string | undefined> => {
      const body = JSON.parse((await post(withFile, certs.ca.certPem, '/mutate', review(skillPod()))).text);
      const patch = JSON.parse(Buffer.from(body.response.patch, 'base64').toString('utf8')) as Array<{ path: string; value: unknown }>;
      const sidecar = JSON.stringify(patch.map((op) => op.value));
      const m = /"name":"SKILLGATE_CONTROLLER_CA","value":"((?:[^"\\]|\\.)*)"/.exec(sidecar);
      return m ? JSON.parse(`"${m[1]}"`) as string : undefined;
    };
    try {
      expect(await injectedCa()).toBe(certs.ca.certPem);
      // A CA rotation adds the next CA to the bundle.
      const next = createDevCertificates(['127.0.0.1']);
      fs.writeFileSync(caFile, certs.ca.certPem + next.ca.certPem);
      withFile.reloadCertificate();
      expect(await injectedCa()).toBe(certs.ca.certPem + next.ca.certPem);
      // Half-written or not a bundle: the last good one stays.
      fs.writeFileSync(caFile, `${next.ca.certPem}${next.ca.keyPem}`);
      withFile.reloadCertificate();
      expect(await injectedCa()).toBe(certs.ca.certPem + next.ca.certPem);
    } finally {
      await withFile.close();
    }
    // Missing at start: the webhook does not start (rather than inject sidecars that trust nothing).
    await expect(startWebhookServer({
      config: config({ controllerUrl: 'https://c:8443', controllerCaFile: path.join(dir, 'missing.crt') }),
      certFile: path.join(dir, 'tls.crt'), keyFile: path.join(dir, 'tls.key'), port: 0, host: '127.0.0.1', logger: pino({ level: 'silent' }),
    })).rejects.toThrow(/missing\.crt/);
  });

  test('a certificate that does not match its key is refused and the old one keeps serving', async () => {
    const next = createDevCertificates(['127.0.0.1']);
    fs.writeFileSync(path.join(dir, 'tls.crt'), next.serving.certPem);
    expect(server.reloadCertificate()).toBe(false);
    expect((await get(server, certs.ca.certPem, '/healthz')).status).toBe(200);
  });
});
