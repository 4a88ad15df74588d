// e2e: webhook TLS managed by the controller (self-signed mode) against a real kube-apiserver.
// The controller's webhook-certificate reconciler runs in this process against the harness
// kubeconfig; it creates the Secrets and patches caBundle into real Mutating/Validating webhook
// configurations. The webhook server (@skillgate/webhook) runs in this process too, serving the
// certificate read back from the Secret (in a cluster the kubelet writes the mounted Secret to
// files; here the test does). The API server then has to verify that certificate against the
// caBundle the reconciler wrote: each phase ends with a real admission through the webhook.
//
// Rotation uses a fake clock: the reconciler first runs 61 days in the past (so the certificates it
// issues are still valid now, and due now), then at the real time, which forces a serving rotation
// and a CA rotation with overlap (old + new CA in caBundle), then past the overlap (old CA retired).
// The clock only ever lags or barely leads real time, because the API server checks validity with
// the real one.
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { createDevCertificates, parseWebhookConfig, startWebhookServer, webhookConfigurations } from '@skillgate/webhook';
import { kubeClients } from '@skillgate/controller';
import { WebhookCertReconciler, inspectCertificate, splitPemBundle, DEFAULT_ROTATION_POLICY } from '@skillgate/controller/webhook-certs/index';
import { startControlPlane, freePort } from '../k8s/control-plane.mjs';

const RUN = randomBytes(3).toString('hex');
const SYSTEM = `sg-certs-sys-${RUN}`;
const SKILLS = `sg-certs-${RUN}`;
const NAME = `sg-certs-${RUN}`;
const SECRET = `${NAME}-webhook-tls`;
const DAY = 86_400_000;
const log = pino({ level: process.env.SKILLGATE_E2E_VERBOSE ? 'debug' : 'silent' });

let cp;
let tmp;
let webhook;
let reconciler;
let offsetMs = -61 * DAY;
const clock = () => Date.now() + offsetMs;

const b64 = (s) => Buffer.from(s, 'base64').toString('utf8');

async function readSecret(name = SECRET) {
  const r = await cp.request('GET', `/api/v1/namespaces/${SYSTEM}/secrets/${name}`);
  expect(r.status).toBe(200);
  return r.body;
}

async function configurations() {
  const m = await cp.request('GET', `/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/${NAME}-inject`);
  const v = await cp.request('GET', `/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/${NAME}-validate`);
  return [m.body, v.body];
}

/** Every webhook entry of both configurations carries exactly `bundle`. */
async function expectCaBundleEverywhere(bundle) {
  for (const c of await configurations()) {
    expect(c.webhooks.length).toBeGreaterThan(0);
    for (const w of c.webhooks) expect(b64(w.clientConfig.caBundle)).toBe(bundle);
  }
}

/**
 * Does what the kubelet does with the mounted Secret: writes tls.crt/tls.key when they changed,
 * and waits for the webhook's reload. Then drops its open connections, so that the next admission
 * makes the API server verify the served certificate afresh (keep-alive would reuse a handshake).
 */
async function serveFromSecret() {
  const secret = await readSecret();
  const cert = b64(secret.data['tls.crt']);
  const key = b64(secret.data['tls.key']);
  const certFile = path.join(tmp, 'tls.crt');
  if (fs.existsSync(certFile) && fs.readFileSync(certFile, 'utf8') === cert) return secret;
  if (webhook) {
    const reloaded = once(webhook, 'certificate-reloaded', { signal: AbortSignal.timeout(15000) });
    fs.writeFileSync(path.join(tmp, 'tls.key.new'), key);
    fs.writeFileSync(path.join(tmp, 'tls.crt.new'), cert);
    fs.renameSync(path.join(tmp, 'tls.key.new'), path.join(tmp, 'tls.key'));
    fs.renameSync(path.join(tmp, 'tls.crt.new'), certFile);
    await reloaded;
    webhook.https.closeAllConnections(); // private in TS; see the comment above
  } else {
    fs.writeFileSync(path.join(tmp, 'tls.key'), key);
    fs.writeFileSync(certFile, cert);
  }
  return secret;
}

function skillPod(name) {
  return {
    apiVersion: 'v1', kind: 'Pod',
    metadata: { name, namespace: SKILLS, labels: { 'skillgate.dev/skill': 'triage' }, annotations: { 'skillgate.dev/owner': 'alice@example.com' } },
    spec: { containers: [{ name: 'skill', image: 'example.invalid/triage:1' }] },
  };
}

/**
 * A dry-run pod create in the injected namespace: admitted and injected only if the API server
 * completed TLS to the webhook with the caBundle. Waits (bounded) for the API server to pick up a
 * just-patched configuration; returns the last failure message when it never admits.
 */
async function admits(timeoutMs = 20000) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    const r = await cp.request('POST', `/api/v1/namespaces/${SKILLS}/pods?dryRun=All`, skillPod(`probe-${randomBytes(3).toString('hex')}`));
    if (r.status === 201 && r.body?.metadata?.annotations?.['skillgate.dev/injected']) return { ok: true };
    last = r.body?.message ?? `HTTP ${r.status}`;
    await new Promise((res) => setTimeout(res, 200));
  }
  return { ok: false, message: last };
}

/** The opposite: waits (bounded) until an admission fails, and returns the API server's message. */
async function admissionFails(timeoutMs = 20000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const r = await cp.request('POST', `/api/v1/namespaces/${SKILLS}/pods?dryRun=All`, skillPod(`probe-${randomBytes(3).toString('hex')}`));
    if (r.status >= 400) return r.body?.message ?? `HTTP ${r.status}`;
    await new Promise((res) => setTimeout(res, 200));
  }
  throw new Error('the API server kept admitting');
}

beforeAll(async () => {
  cp = await startControlPlane();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'skillgate-e2e-certs-'));
  await cp.ensureNamespace(SYSTEM, {});
  await cp.ensureNamespace(SKILLS, { 'skillgate.dev/inject': 'enabled' });
  const port = await freePort();
  // The chart's shape: two configurations, every webhook with an empty caBundle for the controller to fill.
  const { mutating, validating } = webhookConfigurations({ endpoint: { url: `https://127.0.0.1:${port}` }, systemNamespace: SYSTEM, name: NAME, labels: { 'skillgate.dev/e2e': RUN } });
  for (const [kind, body] of [['mutatingwebhookconfigurations', mutating], ['validatingwebhookconfigurations', validating]]) {
    const r = await cp.request('POST', `/apis/admissionregistration.k8s.io/v1/${kind}`, body);
    expect(r.status).toBe(201);
  }
  reconciler = new WebhookCertReconciler({
    kube: kubeClients(cp.kubeconfigPath),
    log,
    clock,
    config: {
      secret: { namespace: SYSTEM, name: SECRET },
      caSecret: { namespace: SYSTEM, name: `${SECRET}-ca` },
      webhookConfigurations: [`${NAME}-inject`, `${NAME}-validate`],
      hosts: ['127.0.0.1'], // the configurations call a URL on loopback; in a cluster: the Service names
      // Serving certificates nearly as long-lived as the CA, so one issued 61 days ago is still valid
      // now and both are due now; no promotion delay (trust is still observed first); 1 s overlap.
      policy: { ...DEFAULT_ROTATION_POLICY, caValidityMs: 90 * DAY, servingValidityMs: 80 * DAY, caPromoteAfterMs: 0, caRetireAfterMs: 1000 },
      checkIntervalMs: 3600_000,
    },
  });
  // start() runs the first pass: the Secrets do not exist yet.
  await reconciler.start();
  await serveFromSecret();
  webhook = await startWebhookServer({
    config: parseWebhookConfig({}), certFile: path.join(tmp, 'tls.crt'), keyFile: path.join(tmp, 'tls.key'), port, host: '127.0.0.1', logger: log,
  });
}, 600000);

afterAll(async () => {
  await reconciler?.stop();
  if (cp) {
    // Never leave failurePolicy: Fail webhooks pointing at a stopped server (external clusters).
    await cp.request('DELETE', `/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/${NAME}-inject`).catch(() => {});
    await cp.request('DELETE', `/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/${NAME}-validate`).catch(() => {});
    for (const ns of [SKILLS, SYSTEM]) await cp.deleteNamespace(ns).catch(() => {});
  }
  await webhook?.close();
  await cp?.stop();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

describe('webhook TLS managed by the controller, on a real API server', () => {
  let firstCa;
  let firstServing;

  test('the first pass creates the Secrets and patches caBundle, and the API server then calls the webhook over that certificate', async () => {
    const secret = await readSecret();
    expect(secret.type).toBe('kubernetes.io/tls');
    expect(Object.keys(secret.data).sort()).toEqual(['ca.crt', 'tls.crt', 'tls.key']);
    const caSecret = await readSecret(`${SECRET}-ca`);
    expect(Object.keys(caSecret.data).sort()).toEqual(['ca.crt', 'ca.key']); // the CA key never reaches the webhook's Secret
    firstCa = b64(caSecret.data['ca.crt']);
    firstServing = b64(secret.data['tls.crt']);
    expect(b64(secret.data['ca.crt'])).toBe(firstCa);
    expect(inspectCertificate(firstServing).hosts).toEqual(['127.0.0.1']);
    await expectCaBundleEverywhere(firstCa);
    // When the chart is uninstalled, the garbage collector takes the Secrets with the configuration.
    expect(secret.metadata.ownerReferences).toEqual([expect.objectContaining({ kind: 'MutatingWebhookConfiguration', name: `${NAME}-inject` })]);
    expect(await admits()).toEqual({ ok: true });
  });

  test('the pass says what it did through Kubernetes Events on the Secret', async () => {
    const r = await cp.request('GET', `/api/v1/namespaces/${SYSTEM}/events?fieldSelector=involvedObject.name=${SECRET}`);
    const reasons = r.body.items.map((e) => e.reason);
    expect(reasons).toEqual(expect.arrayContaining(['CAIssued', 'ServingCertificateIssued', 'CABundlePatched']));
    expect(r.body.items.find((e) => e.reason === 'ServingCertificateIssued').message).toMatch(/for 127\.0\.0\.1 because none exists yet/);
  });

  test('a pass with nothing due writes nothing', async () => {
    const before = [await readSecret(), await readSecret(`${SECRET}-ca`), ...(await configurations())].map((o) => o.metadata.resourceVersion);
    const pass = await reconciler.reconcile();
    expect(pass.changes).toEqual([]);
    expect({ ca: pass.wroteCaSecret, serving: pass.wroteServingSecret, patched: pass.patched }).toEqual({ ca: false, serving: false, patched: [] });
    const after = [await readSecret(), await readSecret(`${SECRET}-ca`), ...(await configurations())].map((o) => o.metadata.resourceVersion);
    expect(after).toEqual(before);
  });

  test('a caBundle reset by hand is repaired by the next pass', async () => {
    const [mutating] = await configurations();
    mutating.webhooks[0].clientConfig.caBundle = Buffer.from(createDevCertificates().ca.certPem).toString('base64');
    expect((await cp.request('PUT', `/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/${NAME}-inject`, mutating)).status).toBe(200);
    // The API server really verifies the webhook against caBundle: with a foreign CA it refuses.
    expect(await admissionFails()).toMatch(/x509|certificate/);
    const pass = await reconciler.reconcile();
    expect(pass.patched).toEqual([`${NAME}-inject`]);
    await expectCaBundleEverywhere(firstCa);
    expect(await admits()).toEqual({ ok: true });
  });

  test('moving the clock to now forces a serving rotation and starts a CA rotation: old and new CA are both trusted, and the API server still admits', async () => {
    offsetMs = 0;
    const pass = await reconciler.reconcile();
    expect(pass.changes.map((c) => c.reason)).toEqual(['CARotationStarted', 'ServingCertificateRotated', 'CABundlePatched']);
    const secret = await serveFromSecret();
    const serving = b64(secret.data['tls.crt']);
    expect(serving).not.toBe(firstServing);
    const bundle = splitPemBundle(b64(secret.data['ca.crt']));
    expect(bundle).toHaveLength(2);
    expect(bundle[0]).toBe(firstCa); // the old CA still signs during the overlap
    await expectCaBundleEverywhere(b64(secret.data['ca.crt']));
    expect(await admits()).toEqual({ ok: true });
  });

  test('once every configuration trusts the new CA it signs the serving certificate; the old CA stays trusted for the overlap', async () => {
    const pass = await reconciler.reconcile();
    expect(pass.changes.map((c) => c.reason)).toEqual(['CATrusted', 'CAPromoted', 'ServingCertificateRotated', 'CABundlePatched']);
    const secret = await serveFromSecret();
    const caSecret = await readSecret(`${SECRET}-ca`);
    expect(b64(caSecret.data['previous.crt'])).toBe(firstCa);
    const newCa = b64(caSecret.data['ca.crt']);
    expect(newCa).not.toBe(firstCa);
    expect(splitPemBundle(b64(secret.data['ca.crt']))).toEqual([newCa, firstCa]);
    await expectCaBundleEverywhere(b64(secret.data['ca.crt']));
    expect(await admits()).toEqual({ ok: true });
  });

  test('after the overlap the old CA leaves caBundle, and the API server admits with the new CA alone', async () => {
    offsetMs = 2000; // just past the 1 s overlap; nothing is issued in this pass
    const pass = await reconciler.reconcile();
    expect(pass.changes.map((c) => c.reason)).toEqual(['CARetired', 'CABundlePatched']);
    const caSecret = await readSecret(`${SECRET}-ca`);
    const newCa = b64(caSecret.data['ca.crt']);
    expect(caSecret.data['previous.crt']).toBeUndefined();
    expect(b64((await readSecret()).data['ca.crt'])).toBe(newCa);
    await expectCaBundleEverywhere(newCa);
    expect(await admits()).toEqual({ ok: true });
  });
});
