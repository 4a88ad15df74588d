// Shared set-up for the controller e2e tests and bench/revocation: a real kube-apiserver (or
// $KUBECONFIG), the SkillLock CRD from crds/, a controller started in-process against it with a
// random Redis prefix, skill pods with bound ServiceAccount tokens, an endless slow SSE upstream,
// and real sidecar child processes. Everything it creates it also removes (stop()).
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { startControlPlane } from '../k8s/control-plane.mjs';
import { startController, standardLoops } from '../../packages/controller/dist/src/index.js';
import { sidecarProcessEnv } from '../../packages/webhook/dist/src/inject.js';
import { INJECTOR_VERSION } from '../../packages/webhook/dist/src/config.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '../..');
export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
/** The container the injector adds to a skill pod: only pods that run it get workload tokens. */
export const SIDECAR_OF_POD = { name: 'skillgate-sidecar', image: 'example.invalid/skillgate:1', restartPolicy: 'Always' };
/** The annotation the injector stamps on every pod it injected (the token exchange asks for it too). */
export const INJECTED_ANNOTATION = { 'skillgate.dev/injected': INJECTOR_VERSION };

/** An upstream that streams a message_start and then a ping every `intervalMs`, forever. */
export function endlessSse(intervalMs = 25) {
  const server = http.createServer((req, res) => {
    req.resume();
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write('event: message_start\ndata: {"type":"message_start","message":{"id":"msg_e2e","type":"message","role":"assistant","content":[],"model":"claude-test","usage":{"input_tokens":1,"output_tokens":0}}}\n\n');
    const t = setInterval(() => res.write('event: ping\ndata: {"type": "ping"}\n\n'), intervalMs);
    res.on('close', () => clearInterval(t));
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({
    url: `http://127.0.0.1:${server.address().port}`,
    close: () => new Promise((r) => { server.closeAllConnections(); server.close(() => r()); }),
  })));
}

/** Opens a streaming Messages request (the user says `text`); resolves once headers arrive. */
export function openStream(base, text = 'hi') {
  return new Promise((resolve, reject) => {
    const body = JSON.stringify({ model: 'claude-test', max_tokens: 10, stream: true, messages: [{ role: 'user', content: text }] });
    const req = http.request(`${base}/v1/messages`, { method: 'POST', agent: false, headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01', 'content-length': Buffer.byteLength(body) } }, (res) => {
      let text = '';
      let onBytes;
      const firstBytes = new Promise((r) => { onBytes = r; });
      let endedAt;
      const ended = new Promise((r) => { const done = () => { endedAt ??= performance.now(); r(); }; res.on('end', done); res.on('close', done); });
      res.on('data', (c) => { text += c.toString('utf8'); onBytes(); });
      resolve({ status: res.statusCode, text: () => text, firstBytes, ended, endedAt: () => endedAt, close: () => req.destroy() });
    });
    req.on('error', reject);
    req.end(body);
  });
}

export function within(p, ms, what) {
  let t;
  return Promise.race([p, new Promise((_, rej) => { t = setTimeout(() => rej(new Error(`timed out after ${ms} ms: ${what}`)), ms); })]).finally(() => clearTimeout(t));
}

export async function setup({ heartbeatMs = 1000, logLevel = process.env.SKILLGATE_LOG_LEVEL ?? 'error', lockStatsIntervalMs = 5000 } = {}) {
  const cp = await startControlPlane();
  const runId = randomBytes(5).toString('hex');
  const prefix = `sge2e:${runId}:`;
  /** Owners of this run live under a unique mail domain, so cleanup touches only our locks. */
  const domain = `@e2e-${runId}.example.com`;
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'skillgate-ctl-e2e-'));
  cp.kubectl(['apply', '-f', path.join(ROOT, 'crds')]);
  // Wait for the CRDs to be served (the controller watches all three).
  for (const plural of ['skilllocks', 'skillapprovals', 'skillpolicies']) {
    for (let i = 0; i < 100; i++) {
      const r = await cp.request('GET', `/apis/skillgate.dev/v1alpha1/${plural}`);
      if (r.status === 200) break;
      await new Promise((r2) => setTimeout(r2, 100));
    }
  }
  const sgNs = `skillgate-${randomBytes(3).toString('hex')}`;
  const teamNs = `team-${randomBytes(3).toString('hex')}`;
  await cp.ensureNamespace(sgNs);
  await cp.ensureNamespace(teamNs, { 'skillgate.dev/inject': 'enabled' });
  const apiKey = `sk-ant-e2e-${randomBytes(8).toString('hex')}`;
  await cp.request('POST', `/api/v1/namespaces/${sgNs}/secrets`, { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'upstream' }, stringData: { 'api-key': apiKey } });
  const scimToken = randomBytes(24).toString('hex');
  const scimFile = path.join(tmp, 'scim-token');
  fs.writeFileSync(scimFile, scimToken);
  const events = [];
  const hooks = new Proxy({}, { get: (_t, name) => (e) => events.push({ name, ...e }) });
  const controllers = new Set();
  /**
   * Starts a controller replica (the first one is `controller`); same Lease, Redis prefix, namespace
   * unless given (a replica with a Lease and prefix of its own leads alone: its loops run).
   */
  async function startReplica({ identity, events: replicaHooks = hooks, uninjectedPodsIntervalMs = 500, leaseDurationSeconds = 2, retryPeriodMs = 200, approvals, signingKeySecret = 'signing-key', sidecarRedisUrl, leaseName, redisPrefix = prefix, tlsSecret, extraLoops = [], webhookCerts = null, requireKnownOwners } = {}) {
    const c = await startController({
      listen: '127.0.0.1:0', redisUrl: REDIS_URL, redisPrefix, namespace: sgNs, kubeconfig: cp.kubeconfigPath,
      scimTokenFile: scimFile, upstreamSecret: { namespace: sgNs, name: 'upstream', key: 'api-key' }, heartbeatMs, logLevel, lockStatsIntervalMs,
      // As the chart runs them: the replicas share one signing key and one installation masking key,
      // each kept in a Secret the first creates.
      signingKeySecret: { namespace: sgNs, name: signingKeySecret }, jwksConfigMap: { namespace: sgNs, name: 'jwks' },
      maskingKeySecret: { namespace: sgNs, name: 'masking-key' },
      leaderElection: { leaseDurationSeconds, retryPeriodMs, ...(identity ? { identity } : {}), ...(leaseName ? { leaseName } : {}) }, ...(approvals ? { approvals } : {}),
      uninjectedPodsIntervalMs,
      ...(sidecarRedisUrl ? { sidecarRedisUrl } : {}),
      ...(tlsSecret ? { tlsSecret } : {}),
      ...(requireKnownOwners ? { requireKnownOwners } : {}),
    }, { events: replicaHooks, webhookCerts, ...(extraLoops.length ? { reconcilers: [...standardLoops(), ...extraLoops] } : {}) });
    controllers.add(c);
    const close = c.close;
    c.close = async () => { controllers.delete(c); await close(); };
    return c;
  }
  const controller = await startReplica({ identity: `replica-0-${runId}` });
  const redis = new Redis(REDIS_URL);
  const children = new Set();

  /**
   * Creates a skill pod and returns a pod-bound projected token (audience skillgate) in a file.
   * `annotations` adds to (or, set to undefined, removes) the ones the pod gets.
   */
  async function skillPod(name, { skill, owner, audience = 'skillgate', namespace = teamNs, injected = true, annotations = {} }) {
    const all = Object.fromEntries(Object.entries({ 'skillgate.dev/owner': owner, ...(injected ? INJECTED_ANNOTATION : {}), ...annotations }).filter(([, v]) => v !== undefined));
    const pod = await cp.request('POST', `/api/v1/namespaces/${namespace}/pods`, {
      apiVersion: 'v1', kind: 'Pod',
      metadata: { name, labels: { 'skillgate.dev/skill': skill }, annotations: all },
      // As the injector leaves it (no webhook runs here): the sidecar, a native sidecar container,
      // and its stamp.
      spec: { ...(injected ? { initContainers: [SIDECAR_OF_POD] } : {}), containers: [{ name: 'skill', image: 'example.invalid/skill:1' }] },
    });
    if (pod.status >= 300) throw new Error(`create pod ${name}: ${pod.status} ${pod.body?.message}`);
    const tr = await cp.request('POST', `/api/v1/namespaces/${namespace}/serviceaccounts/default/token`, {
      apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest',
      spec: { audiences: [audience], expirationSeconds: 3600, boundObjectRef: { kind: 'Pod', apiVersion: 'v1', name, uid: pod.body.metadata.uid } },
    });
    if (tr.status >= 300) throw new Error(`token for ${name}: ${tr.status} ${tr.body?.message}`);
    const file = path.join(tmp, `${name}.token`);
    fs.writeFileSync(file, tr.body.status.token);
    return { name, namespace, uid: pod.body.metadata.uid, token: tr.body.status.token, tokenFile: file };
  }

  /** POST /token with a subject token; returns { status, body }. */
  async function exchange(subjectToken, extra = {}) {
    const form = new URLSearchParams({ grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange', subject_token: subjectToken, subject_token_type: 'urn:ietf:params:oauth:token-type:jwt', audience: 'skillgate', ...extra });
    const res = await fetch(`${controller.url}/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: form });
    return { status: res.status, body: await res.json() };
  }

  async function scim(method, p, body) {
    const res = await fetch(`${controller.url}/scim/v2${p}`, { method, headers: { authorization: `Bearer ${scimToken}`, 'content-type': 'application/scim+json' }, ...(body ? { body: JSON.stringify(body) } : {}) });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined };
  }

  /**
   * Starts a real sidecar child process for a pod, with the NODE_OPTIONS the injector gives a
   * sidecar under the chart's default limits (512Mi, one CPU); resolves with its claude URL and the child process.
   * `extraEnv` overrides the environment; a variable set to undefined is left out.
   */
  function sidecarProcess(pod, upstreamUrl, extraEnv = {}) {
    const child = spawn(process.execPath, [path.join(HERE, 'sidecar-process.mjs')], {
      env: {
        ...process.env, ...sidecarProcessEnv('512Mi', '1'), SKILLGATE_CONTROLLER_URL: controller.url, SKILLGATE_TOKEN_FILE: pod.tokenFile, REDIS_URL, SKILLGATE_REDIS_PREFIX: prefix,
        SKILLGATE_UPSTREAM_URL: upstreamUrl, SKILLGATE_POD_NAME: pod.name, SKILLGATE_POD_NAMESPACE: pod.namespace, SKILLGATE_LOG_LEVEL: 'error',
        SKILLGATE_RECORD_DIR: path.join(tmp, `records-${pod.name}`), KUBECONFIG: cp.kubeconfigPath, ...extraEnv,
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    children.add(child);
    child.on('exit', () => children.delete(child));
    return within(new Promise((resolve, reject) => {
      readline.createInterface({ input: child.stdout }).once('line', (line) => resolve({ ...JSON.parse(line), child }));
      child.once('exit', (code) => reject(new Error(`sidecar for ${pod.name} exited ${code}`)));
    }), 30_000, `sidecar process for ${pod.name}`);
  }

  async function stop() {
    // The sidecars' records are deleted only once they have exited: a sidecar told to stop signs a
    // last checkpoint on its way out, which would otherwise outlive the run in Redis.
    const exited = [...children].map((c) => new Promise((resolve) => {
      if (c.exitCode !== null || c.signalCode !== null) resolve();
      else c.once('exit', resolve);
    }));
    for (const c of children) c.kill('SIGTERM');
    await within(Promise.all(exited), 10_000, 'the sidecar processes to exit').catch(() => {
      for (const c of children) c.kill('SIGKILL');
    });
    for (const c of [...controllers]) await c.close();
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length) await redis.del(...keys);
    redis.disconnect();
    // Remove cluster-scoped objects this run made (matters when attached to a shared KUBECONFIG).
    const locks = await cp.request('GET', '/apis/skillgate.dev/v1alpha1/skilllocks');
    for (const l of locks.body?.items ?? []) {
      if (String(l.spec?.target?.value ?? '').endsWith(domain)) await cp.request('DELETE', `/apis/skillgate.dev/v1alpha1/skilllocks/${l.metadata.name}`);
    }
    await cp.deleteNamespace(teamNs).catch(() => undefined);
    await cp.deleteNamespace(sgNs).catch(() => undefined);
    await cp.stop();
    fs.rmSync(tmp, { recursive: true, force: true });
  }

  return { cp, controller, startReplica, runId, scimFile, prefix, domain, sgNs, teamNs, apiKey, events, redis, skillPod, exchange, scim, sidecarProcess, stop, tmp };
}
