#!/usr/bin/env node
// e2e/k8s/smoke.mjs — jest-free smoke test of the e2e control plane (control-plane.mjs).
//
// Starts etcd + kube-apiserver (or attaches to $KUBECONFIG), then proves the pieces the e2e tier
// relies on: namespace + default ServiceAccount bootstrap, pod admission without a controller-
// manager (the pod stays Pending), a pod-bound TokenRequest with audience `skillgate`, TokenReview,
// RBAC enforced on that token, kubectl against the cluster, and token invalidation when the pod is
// deleted. Exits non-zero on the first failure.
//
//   node e2e/k8s/smoke.mjs            (SKILLGATE_K8S_VERBOSE=1 for control-plane progress lines)

import fs from 'node:fs';
import path from 'node:path';
import { startControlPlane } from './control-plane.mjs';

const t0 = Date.now();
const step = (msg) => console.log(`[smoke +${((Date.now() - t0) / 1000).toFixed(1)}s] ${msg}`);
function check(cond, msg, detail) {
  if (!cond) throw new Error(`FAILED: ${msg}${detail === undefined ? '' : `\n${typeof detail === 'string' ? detail : JSON.stringify(detail, null, 2)}`}`);
  step(`ok: ${msg}`);
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
/** Polls fn() every 100ms until it returns truthy or timeoutMs passes; returns the last value. */
async function poll(fn, timeoutMs = 5000) {
  const deadline = Date.now() + timeoutMs;
  let v;
  for (;;) { v = await fn(); if (v || Date.now() > deadline) return v; await sleep(100); }
}
const jwtClaims = (jwt) => JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString('utf8'));

const NS = `smoke-${process.pid}`;
const SA = 'skill';
const POD = 'skill-pod';

let cp;
try {
  step(process.env.KUBECONFIG ? `attaching to KUBECONFIG=${process.env.KUBECONFIG}` : 'starting local control plane (etcd + kube-apiserver)');
  cp = await startControlPlane({ log: (m) => step(`control-plane: ${m}`) });
  step(`server ${cp.server}, kubeconfig ${cp.kubeconfigPath}, external=${cp.external}`);

  const version = (await cp.request('GET', '/version')).body;
  check(typeof version?.gitVersion === 'string' && /^v1\.\d+/.test(version.gitVersion), `GET /version -> ${version?.gitVersion}`, version);
  check(cp.kubectl(['version', '-o', 'json']).includes('serverVersion'), 'kubectl version reaches the server');

  // Namespace + its default ServiceAccount (no controller-manager creates it for us).
  const ns = await cp.ensureNamespace(NS, { 'skillgate.io/smoke': 'true' });
  check(ns?.metadata?.labels?.['skillgate.io/smoke'] === 'true', `namespace ${NS} created with labels`, ns);
  const sa = await cp.request('POST', `/api/v1/namespaces/${NS}/serviceaccounts`, { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: SA } });
  check(sa.status === 201, `ServiceAccount ${NS}/${SA} created`, sa.body);

  // Pod: admitted (ServiceAccount admission injects the projected token volume), never scheduled.
  const podRes = await cp.request('POST', `/api/v1/namespaces/${NS}/pods`, {
    apiVersion: 'v1', kind: 'Pod',
    metadata: { name: POD, labels: { app: 'skill' } },
    spec: { serviceAccountName: SA, containers: [{ name: 'skill', image: 'example.invalid/skill:test' }] },
  });
  check(podRes.status === 201, `Pod ${NS}/${POD} created`, podRes.body);
  const pod = podRes.body;
  check(pod.status?.phase === 'Pending' && !pod.spec.nodeName, 'pod is Pending and unscheduled (no scheduler)', pod.status);
  check(pod.spec.volumes?.some((v) => v.projected?.sources?.some((s) => s.serviceAccountToken)), 'ServiceAccount admission plugin injected the projected token volume', pod.spec.volumes);
  check(cp.kubectl(['get', 'pod', POD, '-n', NS, '-o', 'jsonpath={.status.phase}']) === 'Pending', 'kubectl get pod shows Pending');

  // TokenRequest bound to the pod, audience `skillgate`.
  const tr = await cp.request('POST', `/api/v1/namespaces/${NS}/serviceaccounts/${SA}/token`, {
    apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest',
    spec: { audiences: ['skillgate'], expirationSeconds: 600, boundObjectRef: { apiVersion: 'v1', kind: 'Pod', name: POD, uid: pod.metadata.uid } },
  });
  check(tr.status === 201 && tr.body?.status?.token, 'TokenRequest returned a bound token', tr.body);
  const token = tr.body.status.token;
  const claims = jwtClaims(token);
  check(claims.aud?.includes('skillgate') && claims['kubernetes.io']?.pod?.uid === pod.metadata.uid,
    `token claims: iss=${claims.iss} aud=${claims.aud} sub=${claims.sub} pod=${claims['kubernetes.io']?.pod?.name}`, claims);

  // TokenReview (as the admin) accepts it for audience skillgate.
  const review = async () => (await cp.request('POST', '/apis/authentication.k8s.io/v1/tokenreviews', {
    apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token, audiences: ['skillgate'] },
  })).body;
  const ok = await review();
  check(ok.status?.authenticated === true && ok.status.user.username === `system:serviceaccount:${NS}:${SA}`
    && ok.status.user.extra?.['authentication.kubernetes.io/pod-name']?.[0] === POD,
  `TokenReview: authenticated as ${ok.status?.user?.username} (pod ${ok.status?.user?.extra?.['authentication.kubernetes.io/pod-name']})`, ok.status);

  // RBAC is enforced for that identity: forbidden, then allowed after a RoleBinding.
  const listPods = () => cp.requestAs({ token }, 'GET', `/api/v1/namespaces/${NS}/pods`);
  check((await listPods()).status === 403, 'RBAC: the SA token is forbidden to list pods');
  await cp.request('POST', `/apis/rbac.authorization.k8s.io/v1/namespaces/${NS}/roles`, { metadata: { name: 'pod-reader' }, rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['get', 'list'] }] });
  await cp.request('POST', `/apis/rbac.authorization.k8s.io/v1/namespaces/${NS}/rolebindings`, {
    metadata: { name: 'skill-pod-reader' }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'pod-reader' },
    subjects: [{ kind: 'ServiceAccount', name: SA, namespace: NS }],
  });
  // (RBAC reads roles through an informer: allow a moment for the watch to deliver them.)
  check(await poll(async () => (await listPods()).status === 200), 'RBAC: allowed after the RoleBinding');

  // Deleting the pod invalidates the bound token (the apiserver checks the bound object's uid).
  const del = await cp.request('DELETE', `/api/v1/namespaces/${NS}/pods/${POD}`);
  check(del.status === 200 || del.status === 202, 'pod deleted', del.body);
  check(await poll(async () => (await cp.request('GET', `/api/v1/namespaces/${NS}/pods/${POD}`)).status === 404),
    'pod is gone (unscheduled pods are deleted immediately)');
  // kube-apiserver caches *successful* token authentications for 10s (not configurable by flag),
  // so a token reviewed just before the deletion keeps passing for up to ~10s: poll up to 20s.
  const tDel = Date.now();
  let after;
  await poll(async () => { after = await review(); return after.status?.authenticated !== true; }, 20000);
  check(after.status?.authenticated !== true, `TokenReview now fails after ${((Date.now() - tDel) / 1000).toFixed(1)}s: ${after.status?.error}`, after.status);

  // helm (built with version info, so chart kubeVersion constraints see the real server version).
  if (fs.existsSync(cp.helmBin) || !cp.helmBin.includes('/')) {
    const chartDir = path.join(cp.tmpDir, 'smoke-chart');
    fs.mkdirSync(path.join(chartDir, 'templates'), { recursive: true });
    fs.writeFileSync(path.join(chartDir, 'Chart.yaml'), 'apiVersion: v2\nname: smoke\nversion: 0.1.0\nkubeVersion: ">=1.30.0-0"\n');
    fs.writeFileSync(path.join(chartDir, 'templates', 'cm.yaml'), 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-cm\ndata:\n  kube: {{ .Capabilities.KubeVersion.Version | quote }}\n');
    cp.helm(['install', 'smoke', chartDir, '-n', NS]);
    const cm = (await cp.request('GET', `/api/v1/namespaces/${NS}/configmaps/smoke-cm`)).body;
    check(cm?.data?.kube === version.gitVersion, `helm install works (chart saw KubeVersion ${cm?.data?.kube})`, cm);
  }

  // Namespace cleanup works without a namespace controller.
  await cp.deleteNamespace(NS);
  const nsGone = await poll(async () => (await cp.request('GET', `/api/v1/namespaces/${NS}`)).status === 404, cp.external ? 1000 : 5000);
  if (cp.external) step(`namespace ${NS} deletion requested (the cluster's namespace controller finishes it)`);
  else check(nsGone, `namespace ${NS} deleted and finalized`);

  // A second handle through KUBECONFIG (what jest workers do after globalSetup exported it).
  if (!cp.external) {
    process.env.KUBECONFIG = cp.kubeconfigPath;
    const attached = await startControlPlane();
    delete process.env.KUBECONFIG;
    const r = await attached.request('GET', '/api/v1/namespaces/default');
    check(attached.external && r.status === 200, 'KUBECONFIG attach mode works against the same server');
    await attached.stop();
  }

  const { tmpDir, external } = cp;
  await cp.stop();
  if (!external) check(!fs.existsSync(tmpDir), 'control plane stopped and temp dir removed');
  step('SMOKE PASSED');
} catch (e) {
  console.error(e.stack || e);
  if (cp?.logs) console.error(`logs: ${JSON.stringify(cp.logs)}`);
  if (cp) await cp.stop().catch(() => {});
  process.exit(1);
}
