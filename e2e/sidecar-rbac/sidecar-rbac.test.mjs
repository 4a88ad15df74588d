// e2e: the controller's sidecar-RBAC loop against a real kube-apiserver, with the chart's own RBAC.
// The controller runs as a ServiceAccount bound to the ClusterRole the chart renders (so the test
// fails if the chart does not grant what the loop needs, including the `bind` that gets it past
// RBAC escalation prevention), and the chart's ClusterRole skillgate-sidecar is what it binds.
// Proves: labelling a namespace makes the RoleBinding appear; a ServiceAccount token of that
// namespace (TokenRequest) can list SkillPolicies, create and follow SkillApprovals there and not in
// another namespace; a binding edited by hand is restored; unlabelling removes it.
import { randomBytes } from 'node:crypto';
import { EventEmitter, once } from 'node:events';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { parseAllDocuments } from 'yaml';
import { kubeClients } from '@skillgate/controller';
import { SidecarRbacReconciler } from '@skillgate/controller/sidecar-rbac/index';
import { startControlPlane } from '../k8s/control-plane.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const RUN = randomBytes(3).toString('hex');
const SYS = `sg-e2e-rbac-sys-${RUN}`;
const A = `sg-e2e-rbac-a-${RUN}`;
const B = `sg-e2e-rbac-b-${RUN}`;
const PLAIN = `sg-e2e-rbac-plain-${RUN}`;
const INJECT = { 'skillgate.dev/inject': 'enabled' };
const CONTROLLER_ROLE = `sg-e2e-rbac-controller-${RUN}`;

let cp;
let tmp;
let reconciler;
const applied = new EventEmitter();
const touched = new Set();

/** The chart's ClusterRoles as rendered (the controller's renamed per run; skillgate-sidecar as is). */
function chartClusterRoles() {
  const out = execFileSync(cp.helmBin, ['template', 'sg', path.join(ROOT, 'charts/skillgate'), '--namespace', SYS, '--kube-version', '1.36.0'], { encoding: 'utf8' });
  const roles = parseAllDocuments(out).map((d) => d.toJS()).filter((o) => o?.kind === 'ClusterRole');
  const controller = roles.find((r) => r.metadata.name.endsWith('-controller'));
  const sidecar = roles.find((r) => r.metadata.name === 'skillgate-sidecar');
  if (!controller || !sidecar) throw new Error(`chart renders no controller or skillgate-sidecar ClusterRole (found ${roles.map((r) => r.metadata.name).join(', ')})`);
  return { controller: { ...controller, metadata: { ...controller.metadata, name: CONTROLLER_ROLE } }, sidecar };
}

async function must(p, what) {
  const r = await p;
  if (r.status < 200 || r.status >= 300) throw new Error(`${what}: HTTP ${r.status} ${r.body?.message ?? ''}`);
  return r.body;
}

/** A token of `sa` in `ns`, as the kubelet would project it (API server audience). */
async function tokenOf(ns, sa = 'default') {
  const body = await must(cp.request('POST', `/api/v1/namespaces/${ns}/serviceaccounts/${sa}/token`, { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds: 600 } }), `TokenRequest ${ns}/${sa}`);
  return body.status.token;
}

/** Resolves with the next write the reconciler makes that matches, or fails after `timeoutMs`. */
function nextApplied(match, timeoutMs = 15000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { applied.off('action', on); reject(new Error('timed out waiting for the sidecar-rbac reconciler')); }, timeoutMs);
    function on(action) {
      if (!match(action)) return;
      clearTimeout(timer);
      applied.off('action', on);
      resolve(action);
    }
    applied.on('action', on);
  });
}
const nsOf = (a) => (a.op === 'delete' ? a.namespace : a.binding.metadata.namespace);

/**
 * The RBAC authorizer reads bindings from an informer, so a new binding takes effect a moment
 * after it is written: retry the call until it gives `status`, within a deadline.
 */
async function eventually(call, status, timeoutMs = 10000) {
  const deadline = Date.now() + timeoutMs;
  let r;
  do {
    r = await call();
    if (r.status === status) return r;
    await new Promise((res) => setTimeout(res, 50));
  } while (Date.now() < deadline);
  throw new Error(`expected HTTP ${status}, still ${r.status}: ${r.body?.message ?? ''}`);
}

const policies = (ns) => `/apis/skillgate.dev/v1alpha1/namespaces/${ns}/skillpolicies`;
const approvals = (ns) => `/apis/skillgate.dev/v1alpha1/namespaces/${ns}/skillapprovals`;
const binding = (ns) => `/apis/rbac.authorization.k8s.io/v1/namespaces/${ns}/rolebindings/skillgate-sidecar`;
let approvalExample;
const approval = (ns, name) => ({ ...approvalExample, metadata: { name, namespace: ns } });

beforeAll(async () => {
  cp = await startControlPlane();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'skillgate-e2e-sidecar-rbac-'));
  cp.kubectl(['apply', '--server-side', '-f', path.join(ROOT, 'crds')]);
  cp.kubectl(['wait', '--for=condition=Established', '--timeout=60s', 'crd/skillpolicies.skillgate.dev', 'crd/skillapprovals.skillgate.dev']);
  approvalExample = JSON.parse(cp.kubectl(['create', '--dry-run=client', '-o', 'json', '-f', path.join(ROOT, 'examples/skillapproval.yaml')]));

  const roles = chartClusterRoles();
  for (const role of [roles.sidecar, roles.controller]) cp.kubectl(['apply', '--server-side', '--force-conflicts', '-f', '-'], { input: JSON.stringify(role) });
  await cp.ensureNamespace(SYS);
  await cp.ensureNamespace(A, INJECT);
  await cp.ensureNamespace(PLAIN);
  await cp.ensureNamespace(B);
  await must(cp.request('POST', `/api/v1/namespaces/${SYS}/serviceaccounts`, { metadata: { name: 'controller' } }), 'controller ServiceAccount');
  await must(cp.request('POST', '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings', {
    metadata: { name: CONTROLLER_ROLE },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: CONTROLLER_ROLE },
    subjects: [{ kind: 'ServiceAccount', name: 'controller', namespace: SYS }],
  }), 'bind the controller');

  // The controller's own kubeconfig: its ServiceAccount token, nothing of the admin's.
  const kubeconfig = path.join(tmp, 'controller.kubeconfig');
  fs.writeFileSync(kubeconfig, JSON.stringify({
    apiVersion: 'v1', kind: 'Config', 'current-context': 'c',
    clusters: [{ name: 'c', cluster: { server: cp.server, 'certificate-authority-data': Buffer.from(cp.caPem).toString('base64') } }],
    users: [{ name: 'controller', user: { token: await tokenOf(SYS, 'controller') } }],
    contexts: [{ name: 'c', context: { cluster: 'c', user: 'controller' } }],
  }));
  reconciler = new SidecarRbacReconciler({
    kube: kubeClients(kubeconfig),
    log: pino({ level: process.env.SKILLGATE_E2E_VERBOSE ? 'info' : 'silent' }),
    retryMs: 200,
    onApplied: (action) => { touched.add(nsOf(action)); applied.emit('action', action); },
  });
  await reconciler.start();
}, 600000);

afterAll(async () => {
  await reconciler?.stop();
  if (cp) {
    // On a shared cluster (KUBECONFIG), take back every binding this run made outside its namespaces.
    for (const ns of touched) await cp.request('DELETE', binding(ns)).catch(() => {});
    await cp.request('DELETE', `/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/${CONTROLLER_ROLE}`).catch(() => {});
    await cp.request('DELETE', `/apis/rbac.authorization.k8s.io/v1/clusterroles/${CONTROLLER_ROLE}`).catch(() => {});
    for (const ns of [SYS, A, B, PLAIN]) await cp.deleteNamespace(ns).catch(() => {});
  }
  await cp?.stop();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

describe('sidecar RoleBindings follow the inject label', () => {
  test('a namespace labelled before the controller started has its RoleBinding after the first pass', async () => {
    const rb = await must(cp.request('GET', binding(A)), 'RoleBinding in A');
    expect(rb.roleRef).toEqual({ apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'skillgate-sidecar' });
    expect(rb.subjects).toEqual([{ kind: 'Group', apiGroup: 'rbac.authorization.k8s.io', name: `system:serviceaccounts:${A}` }]);
    expect(rb.metadata.labels['app.kubernetes.io/managed-by']).toBe('skillgate-controller');
    expect((await cp.request('GET', binding(PLAIN))).status).toBe(404);
  });

  test('labelling a namespace makes its RoleBinding appear', async () => {
    const created = nextApplied((a) => a.op === 'create' && nsOf(a) === B);
    await cp.ensureNamespace(B, INJECT);
    await created;
    expect((await must(cp.request('GET', binding(B)), 'RoleBinding in B')).subjects[0].name).toBe(`system:serviceaccounts:${B}`);
  });

  test("a ServiceAccount token of an injected namespace does a sidecar's work there, and nothing in other namespaces", async () => {
    const token = await tokenOf(A);
    const as = (method, p, body, opts) => cp.requestAs({ token }, method, p, body, opts);
    await eventually(() => as('GET', policies(A)), 200);
    const created = await as('POST', approvals(A), approval(A, `apr-${RUN}`));
    expect(created.status).toBe(201);
    expect((await as('GET', `${approvals(A)}?labelSelector=skillgate.dev%2Fskill%3Dtriage`)).status).toBe(200);
    expect((await as('PATCH', `${approvals(A)}/apr-${RUN}/status`, { status: { phase: 'Pending' } }, { contentType: 'application/merge-patch+json' })).status).not.toBe(403);
    const review = await as('POST', '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews', {
      apiVersion: 'authorization.k8s.io/v1', kind: 'SelfSubjectAccessReview',
      spec: { resourceAttributes: { group: 'skillgate.dev', resource: 'skillapprovals', subresource: 'status', verb: 'patch', namespace: A } },
    });
    expect(review.body.status.allowed).toBe(true);
    // Not what the sidecar does: no deleting approvals, no locks, no Secrets.
    expect((await as('DELETE', `${approvals(A)}/apr-${RUN}`)).status).toBe(403);
    expect((await as('GET', `/api/v1/namespaces/${A}/secrets`)).status).toBe(403);
    // Other namespaces, injected or not, are out of reach.
    for (const other of [B, PLAIN]) {
      expect((await as('GET', policies(other))).status).toBe(403);
      expect((await as('POST', approvals(other), approval(other, `apr-${RUN}`))).status).toBe(403);
    }
    expect((await as('GET', '/apis/skillgate.dev/v1alpha1/skillpolicies')).status).toBe(403);
  });

  test('a RoleBinding widened by hand is restored by the next pass', async () => {
    const rb = await must(cp.request('GET', binding(A)), 'RoleBinding in A');
    rb.subjects.push({ kind: 'Group', apiGroup: 'rbac.authorization.k8s.io', name: 'system:authenticated' });
    await must(cp.request('PUT', binding(A), rb), 'widen the binding');
    const restored = nextApplied((a) => a.op === 'update' && nsOf(a) === A);
    await reconciler.resync();
    await restored;
    expect((await must(cp.request('GET', binding(A)), 'RoleBinding in A')).subjects.map((s) => s.name)).toEqual([`system:serviceaccounts:${A}`]);
  });

  test("unlabelling a namespace removes its RoleBinding and its ServiceAccounts' access", async () => {
    const token = await tokenOf(B);
    await eventually(() => cp.requestAs({ token }, 'GET', policies(B)), 200);
    const removed = nextApplied((a) => a.op === 'delete' && nsOf(a) === B);
    await must(cp.request('PATCH', `/api/v1/namespaces/${B}`, { metadata: { labels: { 'skillgate.dev/inject': null } } }, { contentType: 'application/merge-patch+json' }), 'unlabel B');
    await removed;
    expect((await cp.request('GET', binding(B))).status).toBe(404);
    await eventually(() => cp.requestAs({ token }, 'GET', policies(B)), 403);
    // A keeps its binding.
    expect((await cp.request('GET', binding(A))).status).toBe(200);
  });
});
