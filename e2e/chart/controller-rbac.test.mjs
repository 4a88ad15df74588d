// e2e: the chart's controller RBAC is enough for what the controller does, proven two ways on a real
// kube-apiserver after a real `helm install`:
// 1. From the code: every Kubernetes API call in packages/controller/src (client methods and watch
//    paths) maps to a (verb, resource) the controller's ServiceAccount must hold; a SubjectAccessReview
//    asks the API server's RBAC authorizer about each. A call the table does not know fails the test
//    (map it), and so does a permission the chart lacks — including calls on rare paths (rotation,
//    offboarding, unlabelling) that a short run never reaches.
// 2. By running it: the real `skillgate controller` process (the CLI), with the environment and args
//    of the installed Deployment, authenticated with a TokenRequest token of the chart's ServiceAccount
//    (so RBAC applies), becomes the Lease holder and completes one pass of every loop — SkillLock
//    status and counters, owner records from skill pods, approvals, SkillPolicy status, webhook
//    certificates and caBundle, sidecar RoleBindings — serves a token exchange (TokenReview, pod,
//    upstream Secret), creates its signing-key and masking-key Secrets, and logs no 403, at debug level, from start
//    to a clean stop.
import { spawn } from 'node:child_process';
import { randomBytes, X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { parseAllDocuments } from 'yaml';
import { lockStatsKey } from '@skillgate/controller';
import { eventually as eventuallyFrom, startControlPlane, freePort } from '../k8s/control-plane.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const CHART = path.join(ROOT, 'charts/skillgate');
const CLI = path.join(ROOT, 'packages/cli/dist/src/main.js');
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const RUN = randomBytes(3).toString('hex');
const NS = `sg-ctlrbac-${RUN}`;           // the release namespace
const TEAM = `sg-ctlrbac-team-${RUN}`;    // labelled skillgate.dev/inject=enabled
const APPS = `sg-ctlrbac-apps-${RUN}`;    // a skill pod, a SkillPolicy, a SkillApproval (no webhooks here)
const RELEASE = `sg-${RUN}`;
const FULLNAME = `${RELEASE}-skillgate`;
const SA = `${FULLNAME}-controller`;
const POD_NAME = `${FULLNAME}-controller-e2e-0`;
const PREFIX = `sge2e:ctlrbac:${RUN}:`;
const OWNER = `alice-${RUN}@example.com`;
const LOCK = `sg-ctlrbac-${RUN}`;
const API_KEY = `sk-ant-e2e-${randomBytes(8).toString('hex')}`;

let cp;
let tmp;
let redis;
let controller;      // { child, lines, url, exited }
const bindingsBefore = new Set();

async function must(p, what) {
  const r = await p;
  if (r.status < 200 || r.status >= 300) throw new Error(`${what}: HTTP ${r.status} ${r.body?.message ?? ''}`);
  return r.body;
}

/** eventually (control-plane.mjs), failing with the controller's last log lines when it runs. */
const eventually = (what, probe, ms = 30000) => eventuallyFrom(what, probe, ms,
  () => (controller ? `\ncontroller log (last 40 lines):\n${controller.lines.slice(-40).join('\n')}` : ''));

const yamlDocs = (file) => parseAllDocuments(fs.readFileSync(path.join(ROOT, file), 'utf8')).map((d) => d.toJS()).filter(Boolean);

// ------------------------------------------------------------------------------------------------
// What the controller's code calls, and the permission each call needs. `ns`: 'release' (the
// controller's namespace), 'any' (a namespace of skills), or absent (cluster-wide / all namespaces).

const G = 'skillgate.dev';
const needs = (verb, resource, extra = {}) => ({ verb, resource, ...extra });
const CLIENT_CALLS = {
  // core/v1
  readNamespacedSecret: [needs('get', 'secrets', { ns: 'release', name: `${FULLNAME}-upstream` }), needs('get', 'secrets', { ns: 'release', name: `${FULLNAME}-signing-key` }), needs('get', 'secrets', { ns: 'release', name: `${FULLNAME}-masking-key` }), needs('get', 'secrets', { ns: 'release', name: `${FULLNAME}-webhook-tls` }), needs('get', 'secrets', { ns: 'release', name: `${FULLNAME}-webhook-tls-ca` }), needs('get', 'secrets', { ns: 'release', name: `${FULLNAME}-controller-tls` })],
  createNamespacedSecret: [needs('create', 'secrets', { ns: 'release' })],
  replaceNamespacedSecret: [needs('update', 'secrets', { ns: 'release', name: `${FULLNAME}-webhook-tls` }), needs('update', 'secrets', { ns: 'release', name: `${FULLNAME}-webhook-tls-ca` }), needs('update', 'secrets', { ns: 'release', name: `${FULLNAME}-controller-tls` })],
  listNamespacedConfigMap: [needs('list', 'configmaps', { ns: 'release' })],
  readNamespacedConfigMap: [needs('get', 'configmaps', { ns: 'release', name: 'skillgate-owner-0123456789abcdef01234567' })],
  createNamespacedConfigMap: [needs('create', 'configmaps', { ns: 'release' })],
  replaceNamespacedConfigMap: [needs('update', 'configmaps', { ns: 'release', name: 'skillgate-owner-0123456789abcdef01234567' })],
  createNamespacedEvent: [needs('create', 'events', { ns: 'release' })],
  listPodForAllNamespaces: [needs('list', 'pods')],
  listNamespacedPod: [needs('list', 'pods', { ns: 'any' })],
  readNamespacedPod: [needs('get', 'pods', { ns: 'any' })],
  listNamespace: [needs('list', 'namespaces')],
  readNamespace: [needs('get', 'namespaces', { name: TEAM })],
  // authentication.k8s.io
  createTokenReview: [needs('create', 'tokenreviews', { group: 'authentication.k8s.io' })],
  // coordination.k8s.io (leader election)
  readNamespacedLease: [needs('get', 'leases', { group: 'coordination.k8s.io', ns: 'release', name: `${FULLNAME}-controller` })],
  createNamespacedLease: [needs('create', 'leases', { group: 'coordination.k8s.io', ns: 'release' })],
  replaceNamespacedLease: [needs('update', 'leases', { group: 'coordination.k8s.io', ns: 'release', name: `${FULLNAME}-controller` })],
  // rbac.authorization.k8s.io (the skillgate-sidecar RoleBinding in injected namespaces)
  listRoleBindingForAllNamespaces: [needs('list', 'rolebindings', { group: 'rbac.authorization.k8s.io', name: 'skillgate-sidecar' })],
  readNamespacedRoleBinding: [needs('get', 'rolebindings', { group: 'rbac.authorization.k8s.io', ns: 'any', name: 'skillgate-sidecar' })],
  createNamespacedRoleBinding: [needs('create', 'rolebindings', { group: 'rbac.authorization.k8s.io', ns: 'any' }), needs('bind', 'clusterroles', { group: 'rbac.authorization.k8s.io', name: 'skillgate-sidecar' })],
  replaceNamespacedRoleBinding: [needs('update', 'rolebindings', { group: 'rbac.authorization.k8s.io', ns: 'any', name: 'skillgate-sidecar' }), needs('bind', 'clusterroles', { group: 'rbac.authorization.k8s.io', name: 'skillgate-sidecar' })],
  deleteNamespacedRoleBinding: [needs('delete', 'rolebindings', { group: 'rbac.authorization.k8s.io', ns: 'any', name: 'skillgate-sidecar' })],
  // admissionregistration.k8s.io (caBundle, self-signed webhook TLS)
  readMutatingWebhookConfiguration: [needs('get', 'mutatingwebhookconfigurations', { group: 'admissionregistration.k8s.io', name: `${FULLNAME}-inject` })],
  replaceMutatingWebhookConfiguration: [needs('update', 'mutatingwebhookconfigurations', { group: 'admissionregistration.k8s.io', name: `${FULLNAME}-inject` })],
  readValidatingWebhookConfiguration: [needs('get', 'validatingwebhookconfigurations', { group: 'admissionregistration.k8s.io', name: `${FULLNAME}-validate` })],
  replaceValidatingWebhookConfiguration: [needs('update', 'validatingwebhookconfigurations', { group: 'admissionregistration.k8s.io', name: `${FULLNAME}-validate` })],
  // skillgate.dev: SkillLocks are cluster-scoped, SkillApprovals and SkillPolicies namespaced
  listClusterCustomObject: ['skilllocks', 'skillapprovals', 'skillpolicies'].map((r) => needs('list', r, { group: G })),
  getClusterCustomObject: [needs('get', 'skilllocks', { group: G })],
  createClusterCustomObject: [needs('create', 'skilllocks', { group: G })],
  replaceClusterCustomObject: [needs('update', 'skilllocks', { group: G })],
  deleteClusterCustomObject: [needs('delete', 'skilllocks', { group: G })],
  patchClusterCustomObjectStatus: [needs('patch', 'skilllocks', { group: G, subresource: 'status' })],
  getNamespacedCustomObject: [needs('get', 'skillapprovals', { group: G, ns: 'any' })],
  patchNamespacedCustomObjectStatus: ['skillapprovals', 'skillpolicies'].map((r) => needs('patch', r, { group: G, subresource: 'status', ns: 'any' })),
};
/** Watches, by the first argument of `watch.watch(...)` / `new Watch(...).watch(...)` as written. */
const WATCHES = {
  WATCH_PATH: [needs('watch', 'skilllocks', { group: G })],
  '`/apis/${SKILLAPPROVALS.group}/${SKILLAPPROVALS.version}/${SKILLAPPROVALS.plural}`': [needs('watch', 'skillapprovals', { group: G })],
  '`/apis/${GROUP}/${VERSION}/${SKILLPOLICIES.plural}`': [needs('watch', 'skillpolicies', { group: G })],
  "'/api/v1/pods'": [needs('watch', 'pods')],
  "'/api/v1/namespaces'": [needs('watch', 'namespaces')],
  '`/api/v1/namespaces/${deps.namespace}/configmaps`': [needs('watch', 'configmaps', { ns: 'release' })],
};

/** Every API client call and watch in the controller's sources, as written. */
function callsInCode() {
  const clientCalls = new Map();
  const watches = new Map();
  const walk = (dir) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) { walk(p); continue; }
      if (!e.name.endsWith('.ts')) continue;
      const text = fs.readFileSync(p, 'utf8');
      const where = path.relative(ROOT, p);
      for (const m of text.matchAll(/\b(?:core|custom|authn|coordination|rbac|admission)\.(\w+)\(/g)) clientCalls.set(m[1], where);
      for (const m of text.matchAll(/(?:\bwatch|\))\.watch\(\s*([^,]+?),/g)) {
        // The shared list-watch loop (list-watch.ts) watches whatever path its callers give it:
        // those paths are found at the callers, in `new ListWatch(..., { path: ... })`.
        if (m[1].trim() !== 'this.spec.path') watches.set(m[1].trim(), where);
      }
      for (const m of text.matchAll(/new ListWatch\b[^;]*?\bpath:\s*([^,]+?),/g)) watches.set(m[1].trim(), where);
    }
  };
  walk(path.join(ROOT, 'packages/controller/src'));
  return { clientCalls, watches };
}

/** The RBAC authorizer's answer for the controller's ServiceAccount (what `kubectl auth can-i --as` asks). */
async function allowed({ verb, resource, group = '', subresource, ns, name }) {
  const namespace = ns === 'release' ? NS : ns === 'any' ? APPS : undefined;
  const body = await must(cp.request('POST', '/apis/authorization.k8s.io/v1/subjectaccessreviews', {
    apiVersion: 'authorization.k8s.io/v1', kind: 'SubjectAccessReview',
    spec: {
      user: `system:serviceaccount:${NS}:${SA}`,
      groups: ['system:serviceaccounts', `system:serviceaccounts:${NS}`, 'system:authenticated'],
      resourceAttributes: { verb, group, resource, ...(subresource ? { subresource } : {}), ...(namespace ? { namespace } : {}), ...(name ? { name } : {}) },
    },
  }), 'SubjectAccessReview');
  return body.status.allowed === true;
}

// ------------------------------------------------------------------------------------------------

/** A ServiceAccount token as the kubelet would mount it (API server audience), in a kubeconfig. */
async function serviceAccountKubeconfig() {
  const tr = await must(cp.request('POST', `/api/v1/namespaces/${NS}/serviceaccounts/${SA}/token`, { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds: 3600 } }), 'TokenRequest for the controller');
  const file = path.join(tmp, 'controller.kubeconfig');
  fs.writeFileSync(file, JSON.stringify({
    apiVersion: 'v1', kind: 'Config', 'current-context': 'c',
    clusters: [{ name: 'c', cluster: { server: cp.server, 'certificate-authority-data': Buffer.from(cp.caPem).toString('base64') } }],
    users: [{ name: 'controller', user: { token: tr.status.token } }],
    contexts: [{ name: 'c', context: { cluster: 'c', user: 'controller' } }],
  }));
  return file;
}

/** The installed Deployment's container environment, resolved as the kubelet would for pod POD_NAME. */
async function deploymentEnv(container) {
  const env = {};
  for (const e of container.env) {
    if (e.value !== undefined) env[e.name] = e.value;
    else if (e.valueFrom?.fieldRef?.fieldPath === 'metadata.namespace') env[e.name] = NS;
    else if (e.valueFrom?.fieldRef?.fieldPath === 'metadata.name') env[e.name] = POD_NAME;
    else if (e.valueFrom?.secretKeyRef) {
      const s = await must(cp.request('GET', `/api/v1/namespaces/${NS}/secrets/${e.valueFrom.secretKeyRef.name}`), `Secret for ${e.name}`);
      env[e.name] = Buffer.from(s.data[e.valueFrom.secretKeyRef.key], 'base64').toString('utf8');
    } else throw new Error(`the test cannot resolve env ${e.name}: ${JSON.stringify(e.valueFrom)}`);
  }
  return env;
}

async function startControllerProcess() {
  const dep = await must(cp.request('GET', `/apis/apps/v1/namespaces/${NS}/deployments/${FULLNAME}-controller`), 'controller Deployment');
  const container = dep.spec.template.spec.containers[0];
  expect(dep.spec.template.spec.serviceAccountName).toBe(SA);
  const port = await freePort();
  const metricsPort = await freePort();
  const env = {
    PATH: process.env.PATH, HOME: process.env.HOME ?? tmp,
    ...await deploymentEnv(container),
    // What differs from a pod: the kubelet's in-cluster credentials are a kubeconfig with the same
    // ServiceAccount's token; the listener is on a free loopback port instead of 0.0.0.0:8443.
    KUBECONFIG: await serviceAccountKubeconfig(),
    SKILLGATE_CONTROLLER_LISTEN: `127.0.0.1:${port}`,
    SKILLGATE_METRICS_LISTEN: `127.0.0.1:${metricsPort}`,
    // Test knobs: a Redis prefix of our own, counters copied quickly, every log line (403s hide at debug).
    SKILLGATE_REDIS_PREFIX: PREFIX,
    SKILLGATE_LOCK_STATS_INTERVAL_MS: '300',
    SKILLGATE_LOG_LEVEL: 'debug',
  };
  const child = spawn(process.execPath, [CLI, ...container.args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines = [];
  for (const stream of [child.stdout, child.stderr]) readline.createInterface({ input: stream }).on('line', (l) => lines.push(l));
  const exited = once(child, 'exit');
  // The chart's default: HTTPS with the certificate the installation CA issues (the Lease holder
  // makes it; this replica waits for it before it listens).
  const scheme = env.SKILLGATE_CONTROLLER_TLS_SECRET ? 'https' : 'http';
  controller = { child, lines, url: `${scheme}://127.0.0.1:${port}`, metricsUrl: `http://127.0.0.1:${metricsPort}`, exited };
}

/**
 * A request to the controller process. Over HTTPS it trusts only the CA bundle in the controller's
 * certificate Secret and checks the certificate against the controller Service's name, as a
 * sidecar does. Resolves { status, body (parsed JSON, or text) }; rejects when the connection fails.
 */
async function ask(p, { method = 'GET', headers = {}, body } = {}) {
  const url = new URL(p, controller.url);
  let tlsOptions = {};
  if (url.protocol === 'https:') {
    const secret = await must(cp.request('GET', `/api/v1/namespaces/${NS}/secrets/${FULLNAME}-controller-tls`), 'controller TLS Secret');
    tlsOptions = { ca: Buffer.from(secret.data['ca.crt'], 'base64').toString(), servername: `${FULLNAME}-controller.${NS}.svc`, agent: false };
  }
  return new Promise((resolve, reject) => {
    const req = (url.protocol === 'https:' ? https : http).request(url, { method, headers, ...tlsOptions }, (res) => {
      let text = '';
      res.on('data', (c) => { text += c; });
      res.on('end', () => {
        let parsed = text;
        try { parsed = JSON.parse(text); } catch { /* not JSON */ }
        resolve({ status: res.statusCode, body: parsed });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Log lines that show the API server refusing the controller. */
const forbidden = () => controller.lines.filter((l) => /\b403\b|forbidden/i.test(l));

beforeAll(async () => {
  cp = await startControlPlane();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'skillgate-e2e-ctlrbac-'));
  redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 2 });
  await redis.connect();
  cp.kubectl(['apply', '--server-side', '-f', path.join(CHART, 'crds')]);
  cp.kubectl(['wait', '--for=condition=Established', '--timeout=60s', 'crd/skillpolicies.skillgate.dev', 'crd/skillapprovals.skillgate.dev', 'crd/skilllocks.skillgate.dev']);
  await cp.ensureNamespace(NS);
  await cp.ensureNamespace(TEAM, { 'skillgate.dev/inject': 'enabled' });
  await cp.ensureNamespace(APPS, { 'skillgate.dev/inject': 'enabled' });
  // On an existing cluster, only the RoleBindings this run makes are taken back afterwards.
  const existing = await cp.request('GET', '/apis/rbac.authorization.k8s.io/v1/rolebindings?fieldSelector=metadata.name%3Dskillgate-sidecar');
  for (const b of existing.body?.items ?? []) bindingsBefore.add(b.metadata.namespace);

  // What each loop has to work on, created before the chart's webhooks exist (no webhook runs here).
  const [policy] = yamlDocs('examples/skillpolicy.yaml');
  await must(cp.request('POST', `/apis/${G}/v1alpha1/namespaces/${APPS}/skillpolicies`, { ...policy, metadata: { name: 'triage', namespace: APPS } }), 'SkillPolicy');
  const [approval] = yamlDocs('examples/skillapproval.yaml');
  await must(cp.request('POST', `/apis/${G}/v1alpha1/namespaces/${APPS}/skillapprovals`, { ...approval, metadata: { name: `apr-${RUN}`, namespace: APPS } }), 'SkillApproval');
  await must(cp.request('POST', `/apis/${G}/v1alpha1/skilllocks`, {
    apiVersion: `${G}/v1alpha1`, kind: 'SkillLock', metadata: { name: LOCK },
    spec: { target: { kind: 'owner', value: `someone-else-${RUN}@example.com` }, reason: 'e2e: the controller writes its status', createdBy: 'e2e@example.com' },
  }), 'SkillLock');
  await redis.hset(lockStatsKey(PREFIX, LOCK), 'streamsKilled', '3', 'requestsRefused', '5');
  await must(cp.request('POST', `/api/v1/namespaces/${APPS}/pods`, {
    apiVersion: 'v1', kind: 'Pod',
    metadata: { name: 'triage-0', namespace: APPS, labels: { 'skillgate.dev/skill': 'triage' }, annotations: { 'skillgate.dev/owner': OWNER, 'skillgate.dev/injected': 'e2e' } },
    // As the injector leaves it (no webhooks here): only pods running the sidecar get workload tokens.
    spec: { initContainers: [{ name: 'skillgate-sidecar', image: 'example.invalid/skillgate:1', restartPolicy: 'Always' }], containers: [{ name: 'skill', image: 'example.invalid/triage:1' }] },
  }), 'skill pod');

  cp.helm(['install', RELEASE, CHART, '--namespace', NS, '--set', `upstream.apiKey=${API_KEY}`, '--set', `redis.url=${REDIS_URL}`]);
}, 600000);

afterAll(async () => {
  if (controller && controller.child.exitCode === null) {
    controller.child.kill('SIGKILL');
    await controller.exited;
  }
  if (cp) {
    try { cp.helm(['uninstall', RELEASE, '--namespace', NS, '--ignore-not-found']); } catch { /* best effort */ }
    const after = await cp.request('GET', '/apis/rbac.authorization.k8s.io/v1/rolebindings?fieldSelector=metadata.name%3Dskillgate-sidecar');
    for (const b of after.body?.items ?? []) {
      if (!bindingsBefore.has(b.metadata.namespace)) await cp.request('DELETE', `/apis/rbac.authorization.k8s.io/v1/namespaces/${b.metadata.namespace}/rolebindings/skillgate-sidecar`).catch(() => {});
    }
    await cp.request('DELETE', `/apis/${G}/v1alpha1/skilllocks/${LOCK}`).catch(() => {});
    for (const ns of [APPS, TEAM, NS]) await cp.deleteNamespace(ns).catch(() => {});
  }
  if (redis) {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${PREFIX}*`, 'COUNT', 500);
      if (keys.length) await redis.del(...keys);
      cursor = next;
    } while (cursor !== '0');
    redis.disconnect();
  }
  await cp?.stop();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

describe("the chart's controller RBAC", () => {
  test('covers every Kubernetes API call in the controller\'s code (SubjectAccessReview for its ServiceAccount)', async () => {
    const { clientCalls, watches } = callsInCode();
    const unmapped = [...[...clientCalls].filter(([m]) => !CLIENT_CALLS[m]), ...[...watches].filter(([w]) => !WATCHES[w])];
    // A new call in the controller: add it to CLIENT_CALLS / WATCHES with the permission it needs.
    expect(unmapped).toEqual([]);
    // The scan found the calls (not an empty walk).
    expect(clientCalls.size).toBeGreaterThan(25);
    expect(watches.size).toBe(Object.keys(WATCHES).length);
    const wanted = [...[...clientCalls.keys()].flatMap((m) => CLIENT_CALLS[m]), ...[...watches.keys()].flatMap((w) => WATCHES[w])];
    const denied = [];
    for (const w of wanted) if (!(await allowed(w))) denied.push(w);
    expect(denied).toEqual([]);
  });

  test('grants nothing the code does not call: every verb on every resource of its ClusterRole and Role is one a call needs', async () => {
    const { clientCalls, watches } = callsInCode();
    const wanted = [...[...clientCalls.keys()].flatMap((m) => CLIENT_CALLS[m]), ...[...watches.keys()].flatMap((w) => WATCHES[w])];
    const key = (group, resource, verb) => `${group || 'core'} ${resource} ${verb}`;
    const needed = new Set(wanted.map((w) => key(w.group ?? '', w.subresource ? `${w.resource}/${w.subresource}` : w.resource, w.verb)));
    const granted = [];
    for (const role of [
      await must(cp.request('GET', `/apis/rbac.authorization.k8s.io/v1/clusterroles/${FULLNAME}-controller`), 'ClusterRole'),
      await must(cp.request('GET', `/apis/rbac.authorization.k8s.io/v1/namespaces/${NS}/roles/${FULLNAME}-controller`), 'Role'),
    ]) {
      for (const rule of role.rules) {
        for (const group of rule.apiGroups) for (const resource of rule.resources) for (const verb of rule.verbs) granted.push(key(group, resource, verb));
      }
    }
    expect(granted.length).toBeGreaterThan(20);
    // A grant listed here is one no call in packages/controller/src needs: drop it from the chart.
    expect(granted.filter((g) => !needed.has(g))).toEqual([]);
  });

  test('lets responders read the controller\'s JWKS ConfigMap (sessions verify --trust-jwks kube:...), and no other ConfigMap, and lock a skill again', async () => {
    await must(cp.request('POST', '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings', {
      apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: { name: `${FULLNAME}-responder-e2e` },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: `${FULLNAME}-responder` },
      subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: `responders-${RUN}` }],
    }), 'responder binding');
    try {
      const may = async (resourceAttributes) => (await must(cp.request('POST', '/apis/authorization.k8s.io/v1/subjectaccessreviews', {
        apiVersion: 'authorization.k8s.io/v1', kind: 'SubjectAccessReview',
        spec: { user: 'ivy@example.com', groups: [`responders-${RUN}`, 'system:authenticated'], resourceAttributes },
      }), 'SubjectAccessReview')).status.allowed === true;
      const responder = (name) => may({ verb: 'get', resource: 'configmaps', namespace: NS, name });
      expect(await responder(`${FULLNAME}-jwks`)).toBe(true);
      expect(await responder('skillgate-owner-0123456789abcdef01234567')).toBe(false);
      // `skillgate lock` on a target locked before (an expired lock, a new reason) replaces that lock.
      for (const verb of ['create', 'update']) expect([verb, await may({ verb, group: 'skillgate.dev', resource: 'skilllocks', name: 'lock-skill-team-a-triage' })]).toEqual([verb, true]);
    } finally {
      await cp.request('DELETE', `/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/${FULLNAME}-responder-e2e`);
    }
  });

  test('grants no more than that where it matters: other Secrets, other webhook configurations, writing pods', async () => {
    for (const w of [
      needs('get', 'secrets', { ns: 'release', name: 'someone-elses' }),
      needs('list', 'secrets', { ns: 'release' }),
      needs('get', 'secrets', { ns: 'any', name: 'app-secret' }),
      needs('update', 'mutatingwebhookconfigurations', { group: 'admissionregistration.k8s.io', name: 'someone-elses' }),
      needs('create', 'pods', { ns: 'any' }),
      needs('update', 'rolebindings', { group: 'rbac.authorization.k8s.io', ns: 'any', name: 'admin' }),
      needs('bind', 'clusterroles', { group: 'rbac.authorization.k8s.io', name: 'cluster-admin' }),
      needs('create', 'configmaps', { ns: 'any' }),
    ]) expect([w, await allowed(w)]).toEqual([w, false]);
  });

  test('lets the real `skillgate controller`, started as the chart starts it, become the leader and run one pass of every loop with no 403', async () => {
    await startControllerProcess();
    await eventually('/readyz to answer 200', async () => (await ask('/readyz').catch(() => undefined))?.status === 200, 60000);
    // Over HTTPS, with the certificate the installation CA issued for the controller Service.
    expect(controller.url).toMatch(/^https:/);
    const tlsSecret = await must(cp.request('GET', `/api/v1/namespaces/${NS}/secrets/${FULLNAME}-controller-tls`), 'controller TLS Secret');
    const caBundle = Buffer.from(tlsSecret.data['ca.crt'], 'base64').toString();
    const webhookTls = await must(cp.request('GET', `/api/v1/namespaces/${NS}/secrets/${FULLNAME}-webhook-tls`), 'webhook TLS Secret');
    expect(Buffer.from(webhookTls.data['ca.crt'], 'base64').toString()).toBe(caBundle); // what the webhook injects

    // Leader election: this replica holds the chart's Lease.
    const lease = await eventually('the Lease', async () => {
      const r = await cp.request('GET', `/apis/coordination.k8s.io/v1/namespaces/${NS}/leases/${FULLNAME}-controller`);
      return r.status === 200 && r.body.spec.holderIdentity === POD_NAME && r.body;
    });
    expect(lease.spec.holderIdentity).toBe(POD_NAME);
    // Every leader loop the chart's configuration turns on has started (logged by the assembly).
    await eventually('every leader loop to start', async () => {
      const loops = controller.lines.filter((l) => l.includes('leader loop started')).map((l) => JSON.parse(l).loop);
      return ['skilllock-counters', 'approvals', 'policy-status', 'webhook-certs', 'sidecar-rbac', 'uninjected-pods'].every((n) => loops.includes(n));
    });

    // skilllocks (leader: status) and skilllock-counters (Redis sums -> status).
    const lock = await eventually('SkillLock status with its counters', async () => {
      const l = (await cp.request('GET', `/apis/${G}/v1alpha1/skilllocks/${LOCK}`)).body;
      return l.status?.conditions?.some((c) => c.type === 'Active' && c.reason === 'Published') && l.status.streamsKilled === 3 && l;
    });
    expect(lock.status.requestsRefused).toBe(5);

    // skill-pods + owners: the pod's owner is registered as an owner record ConfigMap.
    const record = await eventually('the owner record of the skill pod\'s owner', async () => {
      const list = await cp.request('GET', `/api/v1/namespaces/${NS}/configmaps?labelSelector=skillgate.dev%2Fowner-record%3Dtrue`);
      return list.body.items?.find((cm) => JSON.parse(cm.data['owner.json']).email === OWNER);
    });
    expect(JSON.parse(record.data['owner.json']).active).toBe(true);

    // approvals and policy-status: status written.
    await eventually('SkillApproval phase Pending', async () => (await cp.request('GET', `/apis/${G}/v1alpha1/namespaces/${APPS}/skillapprovals/apr-${RUN}`)).body.status?.phase === 'Pending');
    const policy = await eventually('SkillPolicy status', async () => {
      const p = (await cp.request('GET', `/apis/${G}/v1alpha1/namespaces/${APPS}/skillpolicies/triage`)).body;
      return p.status?.observedGeneration === p.metadata.generation && p;
    });
    expect(policy.status.conditions.find((c) => c.type === 'Ready')).toMatchObject({ status: 'True' });

    // webhook-certs: both Secrets, caBundle in every webhook of both configurations, an Event.
    for (const s of [`${FULLNAME}-webhook-tls`, `${FULLNAME}-webhook-tls-ca`]) {
      await eventually(`Secret ${s}`, async () => (await cp.request('GET', `/api/v1/namespaces/${NS}/secrets/${s}`)).status === 200);
    }
    for (const [kind, name] of [['mutatingwebhookconfigurations', `${FULLNAME}-inject`], ['validatingwebhookconfigurations', `${FULLNAME}-validate`]]) {
      await eventually(`caBundle in ${name}`, async () => (await cp.request('GET', `/apis/admissionregistration.k8s.io/v1/${kind}/${name}`)).body.webhooks.every((w) => w.clientConfig.caBundle));
    }
    await eventually('the CAIssued Event', async () => (await cp.request('GET', `/api/v1/namespaces/${NS}/events?fieldSelector=involvedObject.name%3D${FULLNAME}-webhook-tls`)).body.items?.some((e) => e.reason === 'CAIssued'));

    // sidecar-rbac: the RoleBinding in the labelled namespace.
    const rb = await eventually('RoleBinding skillgate-sidecar in the injected namespace', async () => {
      const r = await cp.request('GET', `/apis/rbac.authorization.k8s.io/v1/namespaces/${TEAM}/rolebindings/skillgate-sidecar`);
      return r.status === 200 && r.body;
    });
    expect(rb.subjects).toEqual([{ kind: 'Group', apiGroup: 'rbac.authorization.k8s.io', name: `system:serviceaccounts:${TEAM}` }]);

    // Token exchange (every replica): TokenReview, the pod, the upstream Secret through the API.
    const pod = await must(cp.request('GET', `/api/v1/namespaces/${APPS}/pods/triage-0`), 'skill pod');
    const tr = await must(cp.request('POST', `/api/v1/namespaces/${APPS}/serviceaccounts/default/token`, {
      apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest',
      spec: { audiences: ['skillgate'], expirationSeconds: 600, boundObjectRef: { kind: 'Pod', apiVersion: 'v1', name: 'triage-0', uid: pod.metadata.uid } },
    }), 'skill token');
    const form = new URLSearchParams({ grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange', subject_token: tr.status.token, subject_token_type: 'urn:ietf:params:oauth:token-type:jwt', audience: 'skillgate' });
    const res = await ask('/token', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: form.toString() });
    const body = res.body;
    expect([res.status, body.error_description]).toEqual([200, undefined]);
    // The CA bundle goes with the token: a sidecar learns a new CA before it signs.
    expect(body.controller_ca).toBe(caBundle);
    expect(body.access_token).toEqual(expect.any(String));
    expect(body.upstream_credential).toMatchObject({ type: 'api_key', value: API_KEY });
    // The installation masking key: made by this (first) replica in the chart's Secret, and handed
    // to the sidecar with its token.
    const maskingSecret = await must(cp.request('GET', `/api/v1/namespaces/${NS}/secrets/${FULLNAME}-masking-key`), 'masking key Secret');
    const maskingKey = Buffer.from(maskingSecret.data['masking-key'], 'base64').toString();
    expect(maskingKey).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(body.masking_key).toBe(maskingKey);

    // The signing key: created by this (first) replica in the chart's Secret, and what the JWKS serves.
    const keySecret = await must(cp.request('GET', `/api/v1/namespaces/${NS}/secrets/${FULLNAME}-signing-key`), 'signing key Secret');
    expect(keySecret.metadata.labels['app.kubernetes.io/managed-by']).toBe('skillgate-controller');
    expect(Buffer.from(keySecret.data['signing-key.pem'], 'base64').toString()).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    const jwks = (await ask('/.well-known/jwks.json')).body;
    // Prometheus scrapes the plain-HTTP metrics listener, which serves nothing else.
    const scraped = await fetch(`${controller.metricsUrl}/metrics`);
    expect([scraped.status, await scraped.text()]).toEqual([200, expect.stringMatching(/^skillgate_controller_token_exchanges_total\{result="issued"\} 1$/m)]);
    expect((await fetch(`${controller.metricsUrl}/token`, { method: 'POST' })).status).toBe(404);
    // The certificate it serves, for the expiry alert.
    const notAfter = Date.parse(new X509Certificate(Buffer.from(tlsSecret.data['tls.crt'], 'base64')).validTo) / 1000;
    const exposed = Number(/^skillgate_controller_serving_certificate_expiry_timestamp_seconds (\d+)$/m.exec(await (await fetch(`${controller.metricsUrl}/metrics`)).text())?.[1]);
    expect(exposed).toBe(notAfter);
    expect(controller.lines.some((l) => l.includes('signing key created in its Secret') && l.includes(jwks.keys[0].kid))).toBe(true);
    // ...and in the JWKS ConfigMap, which the responder ClusterRole may read.
    const jwksCm = await must(cp.request('GET', `/api/v1/namespaces/${NS}/configmaps/${FULLNAME}-jwks`), 'JWKS ConfigMap');
    expect(JSON.parse(jwksCm.data['jwks.json']).keys.map((k) => k.kid)).toEqual([jwks.keys[0].kid]);

    expect(forbidden()).toEqual([]);

    // A clean stop: the Lease is released (an update), still with no 403.
    controller.child.kill('SIGTERM');
    const [code] = await controller.exited;
    expect(code).toBe(0);
    expect(forbidden()).toEqual([]);
    const released = await must(cp.request('GET', `/apis/coordination.k8s.io/v1/namespaces/${NS}/leases/${FULLNAME}-controller`), 'Lease');
    expect(released.spec.holderIdentity ?? '').toBe('');
    expect(controller.lines.some((l) => l.includes('lease released'))).toBe(true);
  });
});
