// e2e/k8s/control-plane.mjs — starts a real, throw-away Kubernetes control plane (etcd +
// kube-apiserver, no scheduler / controller-manager / kubelet) for the e2e tier, or attaches to an
// existing cluster when KUBECONFIG is set (so the same suite runs on kind, etc.).
//
// Binaries come from e2e/k8s/build.sh (cache: e2e/k8s/.bin or $SKILLGATE_K8S_BIN). Certificates
// and keys are generated with openssl into a temp dir that stop() removes.
//
//   import { startControlPlane, stop } from './e2e/k8s/control-plane.mjs';
//   const cp = await startControlPlane();
//   await cp.ensureNamespace('team-a', { 'skillgate.io/inject': 'enabled' });
//   const { status, body } = await cp.request('GET', '/api/v1/namespaces/team-a/pods');
//   cp.kubectl(['get', 'ns']);
//   await cp.stop();           // or stop() to stop every control plane this process started
//
// Works on Node 20 and later (plain node:https, no dependencies). Pure ESM.

import { spawn, execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));

/** Folder holding kube-apiserver, kubectl, etcd, helm (built by build.sh). */
export function binDir() {
  return process.env.SKILLGATE_K8S_BIN ? path.resolve(process.env.SKILLGATE_K8S_BIN) : path.join(HERE, '.bin');
}

/**
 * Runs build.sh (idempotent: a no-op without Go/network once the cache holds the wanted versions)
 * unless SKILLGATE_K8S_NO_BUILD=1, then checks the binaries exist. Returns the bin dir.
 */
export function ensureBinaries({ names = ['etcd', 'kube-apiserver', 'kubectl'], build = process.env.SKILLGATE_K8S_NO_BUILD !== '1' } = {}) {
  const dir = binDir();
  const missing = () => names.filter((n) => !fs.existsSync(path.join(dir, n)));
  if (build) {
    const r = spawnSync('bash', [path.join(HERE, 'build.sh')], { stdio: ['ignore', 'inherit', 'inherit'] });
    if (r.status !== 0 && missing().length) throw new Error(`e2e/k8s/build.sh failed (exit ${r.status})`);
  }
  if (missing().length) {
    throw new Error(`missing ${missing().join(', ')} in ${dir}: run e2e/k8s/build.sh (needs Go >= 1.25) or set KUBECONFIG to an existing cluster`);
  }
  return dir;
}

// ---------------------------------------------------------------------------------------------
// Small utilities

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A free TCP port on 127.0.0.1 (the OS picks it; tiny race until the server binds it). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function openssl(args, cwd) {
  try {
    execFileSync('openssl', args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    throw new Error(`openssl ${args.join(' ')} failed: ${e.stderr?.toString() || e.message}`);
  }
}

/**
 * Issues a certificate signed by the CA in `dir` (ca.crt/ca.key). `sans` like
 * ['IP:127.0.0.1', 'DNS:localhost']; `usage` 'server' | 'client'. Writes NAME.crt / NAME.key and
 * returns { certPem, keyPem, certFile, keyFile }.
 */
export function issueCert(dir, name, { cn = name, org, sans = [], usage = 'server', days = 2 } = {}) {
  const subj = `${org ? `/O=${org}` : ''}/CN=${cn}`;
  const ext = [
    'basicConstraints=critical,CA:FALSE',
    'keyUsage=critical,digitalSignature,keyEncipherment',
    `extendedKeyUsage=${usage === 'client' ? 'clientAuth' : 'serverAuth'}`,
    ...(sans.length ? [`subjectAltName=${sans.join(',')}`] : []),
  ].join('\n');
  fs.writeFileSync(path.join(dir, `${name}.ext`), ext + '\n');
  openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subj], dir);
  openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial',
    '-days', String(days), '-sha256', '-extfile', `${name}.ext`, '-out', `${name}.crt`], dir);
  const certFile = path.join(dir, `${name}.crt`);
  const keyFile = path.join(dir, `${name}.key`);
  return { certPem: fs.readFileSync(certFile, 'utf8'), keyPem: fs.readFileSync(keyFile, 'utf8'), certFile, keyFile };
}

/**
 * Creates a self-signed test CA in `dir` (ca.crt / ca.key) and returns
 * { dir, caPem, issue(name, opts) } — e.g. for webhook serving certs (put caPem in caBundle).
 */
export function createTestCA(dir, cn = 'skillgate-e2e-ca') {
  fs.mkdirSync(dir, { recursive: true });
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', `/CN=${cn}`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], dir);
  return { dir, caPem: fs.readFileSync(path.join(dir, 'ca.crt'), 'utf8'), issue: (name, opts) => issueCert(dir, name, opts) };
}

/**
 * One HTTPS request to the API server. `auth` is { token } or { cert, key }. JSON in, JSON out
 * (body stays a string when not JSON). Never throws on HTTP status: returns { status, body, headers }.
 */
export function kubeRequest({ server, caPem, auth = {} }, method, urlPath, body, { contentType = 'application/json', timeoutMs = 30000 } = {}) {
  const url = new URL(urlPath, server);
  const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
  const headers = { Accept: 'application/json' };
  if (payload !== undefined) {
    headers['Content-Type'] = contentType;
    headers['Content-Length'] = Buffer.byteLength(payload);
  }
  if (auth.token) headers.Authorization = `Bearer ${auth.token}`;
  const mod = url.protocol === 'http:' ? http : https;
  return new Promise((resolve, reject) => {
    const req = mod.request(url, {
      method, headers, ca: caPem, cert: auth.cert, key: auth.key, timeout: timeoutMs,
      // Connect to the loopback control plane directly, whatever HTTPS_PROXY says.
      agent: false,
    }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let parsed = text;
        try { parsed = text ? JSON.parse(text) : undefined; } catch { /* keep text */ }
        resolve({ status: res.statusCode, body: parsed, headers: res.headers });
      });
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${urlPath}: timeout after ${timeoutMs}ms`)));
    req.on('error', reject);
    if (payload !== undefined) req.write(payload);
    req.end();
  });
}

// ---------------------------------------------------------------------------------------------
// Process management: children die with us (stop(), process exit, SIGINT/SIGTERM, and — via
// setpriv --pdeathsig when available — even if this process is SIGKILLed).

const running = new Set(); // handles of control planes started by this process
const children = new Set(); // ChildProcess objects still alive
let exitHooksInstalled = false;
let pdeathsig; // cached: does setpriv --pdeathsig work here?

function hasPdeathsig() {
  if (pdeathsig === undefined) {
    const r = spawnSync('setpriv', ['--pdeathsig', 'KILL', '--', 'true'], { stdio: 'ignore' });
    pdeathsig = r.status === 0;
  }
  return pdeathsig;
}

function installExitHooks() {
  if (exitHooksInstalled) return;
  exitHooksInstalled = true;
  // Synchronous last resort: kill whatever is left (no async work is possible in 'exit').
  process.on('exit', () => {
    for (const c of children) { try { c.kill('SIGKILL'); } catch { /* gone */ } }
    for (const h of running) { if (!process.env.SKILLGATE_K8S_KEEP) { try { fs.rmSync(h.tmpDir, { recursive: true, force: true }); } catch { /* ignore */ } } }
  });
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    const onSig = () => {
      stop().finally(() => {
        process.removeListener(sig, onSig);
        process.kill(process.pid, sig); // re-raise: default behaviour (exit with the signal)
      });
    };
    process.on(sig, onSig);
  }
}

/** Strip proxy settings: every hop here is loopback (etcd, webhooks on 127.0.0.1). */
function childEnv() {
  const env = { ...process.env };
  for (const k of Object.keys(env)) if (/^(https?|all|no)_proxy$/i.test(k)) delete env[k];
  env.NO_PROXY = env.no_proxy = '127.0.0.1,localhost';
  return env;
}

function startProcess(name, bin, args, logFile) {
  const out = fs.openSync(logFile, 'a');
  const [cmd, argv] = hasPdeathsig() ? ['setpriv', ['--pdeathsig', 'KILL', '--', bin, ...args]] : [bin, args];
  const child = spawn(cmd, argv, { stdio: ['ignore', out, out], env: childEnv() });
  fs.closeSync(out);
  child.name = name;
  child.logFile = logFile;
  child.exited = new Promise((resolve) => child.on('exit', (code, signal) => { children.delete(child); resolve({ code, signal }); }));
  child.on('error', () => { /* reported through 'exit' / readiness timeout */ });
  children.add(child);
  return child;
}

async function killProcess(child, graceMs = 10000) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  let timer;
  const done = await Promise.race([child.exited.then(() => true), new Promise((r) => { timer = setTimeout(() => r(false), graceMs); })]);
  clearTimeout(timer); // a pending timer would keep the caller's process alive
  if (!done) { child.kill('SIGKILL'); await child.exited; }
}

function tailLog(file, n = 30) {
  try { return fs.readFileSync(file, 'utf8').trimEnd().split('\n').slice(-n).join('\n'); } catch { return '(no log)'; }
}

/**
 * Removes temp dirs left by control planes whose owner process died without cleanup (SIGKILL:
 * the children die with it through --pdeathsig, but nothing deletes the dir). Dirs of live
 * owners (e.g. a concurrent test run) are left alone.
 */
function removeStaleTmpDirs() {
  let entries = [];
  try { entries = fs.readdirSync(os.tmpdir()).filter((n) => n.startsWith('skillgate-k8s-') && !n.startsWith('skillgate-k8s-ext-')); } catch { return; }
  for (const n of entries) {
    const dir = path.join(os.tmpdir(), n);
    let pid;
    try { pid = Number(fs.readFileSync(path.join(dir, 'owner.pid'), 'utf8')); } catch { continue; }
    if (!pid) continue;
    try { process.kill(pid, 0); continue; } catch (e) { if (e.code !== 'ESRCH') continue; }
    try { fs.rmSync(dir, { recursive: true, force: true }); } catch { /* not ours to fight over */ }
  }
}

/** Polls fn() until it resolves truthy; fails early if `child` exits. */
async function waitFor(what, fn, { child, timeoutMs = 60000, intervalMs = 200 } = {}) {
  const deadline = Date.now() + timeoutMs;
  let lastErr;
  while (Date.now() < deadline) {
    if (child && (child.exitCode !== null || child.signalCode !== null)) {
      throw new Error(`${child.name} exited (${child.exitCode ?? child.signalCode}) while waiting for ${what}; log ${child.logFile}:\n${tailLog(child.logFile)}`);
    }
    try { if (await fn()) return; } catch (e) { lastErr = e; }
    await sleep(intervalMs);
  }
  throw new Error(`timeout waiting for ${what}${lastErr ? `: ${lastErr.message}` : ''}${child ? `; log ${child.logFile}:\n${tailLog(child.logFile)}` : ''}`);
}

function httpGet(url) {
  return new Promise((resolve, reject) => {
    http.get(url, { agent: false, timeout: 2000 }, (res) => {
      let s = '';
      res.on('data', (c) => { s += c; });
      res.on('end', () => resolve({ status: res.statusCode, body: s }));
    }).on('error', reject).on('timeout', function onTimeout() { this.destroy(new Error('timeout')); });
  });
}

// ---------------------------------------------------------------------------------------------
// Handle helpers shared by local and external modes

function makeHandle(base) {
  const conn = { server: base.server, caPem: base.caPem, auth: base.token ? { token: base.token } : base.adminCert ? { cert: base.adminCert.certPem, key: base.adminCert.keyPem } : {} };
  const kubectlBin = fs.existsSync(path.join(binDir(), 'kubectl')) ? path.join(binDir(), 'kubectl') : 'kubectl';
  const helmBin = fs.existsSync(path.join(binDir(), 'helm')) ? path.join(binDir(), 'helm') : 'helm';
  const h = {
    ...base,
    binDir: binDir(),
    kubectlBin,
    helmBin,
    /** Env for child processes that should talk to this cluster (kubectl, helm, our components). */
    env: { KUBECONFIG: base.kubeconfigPath },
    /** Admin HTTPS request: request('GET', '/api/v1/namespaces'). Returns { status, body, headers }. */
    request: (method, urlPath, body, opts) => kubeRequest(conn, method, urlPath, body, opts),
    /** Same, as another identity: requestAs({ token }, ...) — e.g. a ServiceAccount token, to test RBAC. */
    requestAs: (auth, method, urlPath, body, opts) => kubeRequest({ ...conn, auth }, method, urlPath, body, opts),
    /** Runs kubectl against this cluster; returns stdout (throws with stderr on failure). */
    kubectl: (args, { input } = {}) => execFileSync(kubectlBin, ['--kubeconfig', base.kubeconfigPath, ...args], { input, encoding: 'utf8', env: childEnv(), stdio: ['pipe', 'pipe', 'pipe'] }),
    /** Runs helm against this cluster; returns stdout. */
    helm: (args, { input } = {}) => execFileSync(helmBin, ['--kubeconfig', base.kubeconfigPath, ...args], { input, encoding: 'utf8', env: childEnv(), stdio: ['pipe', 'pipe', 'pipe'] }),
  };
  h.ensureNamespace = (name, labels) => ensureNamespace(h, name, labels);
  h.deleteNamespace = (name) => deleteNamespace(h, name);
  return h;
}

async function must(p, what, okStatuses = []) {
  const r = await p;
  if ((r.status >= 200 && r.status < 300) || okStatuses.includes(r.status)) return r;
  throw new Error(`${what}: HTTP ${r.status} ${typeof r.body === 'object' ? r.body.message : r.body}`);
}

/**
 * Polls `probe` (every 200 ms) until it returns a truthy value, which it returns; after `ms` fails
 * naming `what`, the last value and whatever `detail()` adds (a component's log, say).
 */
export async function eventually(what, probe, ms = 30000, detail = () => '') {
  const deadline = Date.now() + ms;
  let last;
  while (Date.now() < deadline) {
    last = await probe();
    if (last) return last;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out after ${ms} ms waiting for ${what}; last: ${JSON.stringify(last)}${detail()}`);
}

/**
 * Creates namespace `name` (or merges `labels` into an existing one) and its `default`
 * ServiceAccount — normally made by kube-controller-manager, which does not run here, and required
 * by the ServiceAccount admission plugin before any pod can be created. In local mode it also
 * publishes the kube-root-ca.crt ConfigMap (as the root-ca-cert-publisher controller would).
 */
export async function ensureNamespace(h, name, labels = {}) {
  const created = await h.request('POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels } });
  if (created.status === 409) {
    if (Object.keys(labels).length) {
      await must(h.request('PATCH', `/api/v1/namespaces/${name}`, { metadata: { labels } }, { contentType: 'application/merge-patch+json' }), `label namespace ${name}`);
    }
  } else if (created.status >= 300) {
    throw new Error(`create namespace ${name}: HTTP ${created.status} ${created.body?.message}`);
  }
  await must(h.request('POST', `/api/v1/namespaces/${name}/serviceaccounts`, { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'default' } }), `create ${name}/default ServiceAccount`, [409]);
  if (!h.external) {
    await must(h.request('POST', `/api/v1/namespaces/${name}/configmaps`, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'kube-root-ca.crt' }, data: { 'ca.crt': h.caPem } }), `create ${name}/kube-root-ca.crt`, [409]);
  }
  return (await h.request('GET', `/api/v1/namespaces/${name}`)).body;
}

/**
 * Deletes a namespace. Without kube-controller-manager nothing empties a Terminating namespace,
 * so in local mode we finalize it ourselves (its objects stay orphaned in etcd, which is harmless
 * in a throw-away control plane; prefer unique namespace names per test).
 */
export async function deleteNamespace(h, name) {
  const r = await must(h.request('DELETE', `/api/v1/namespaces/${name}`), `delete namespace ${name}`, [404]);
  if (h.external || r.status === 404) return;
  const ns = (await h.request('GET', `/api/v1/namespaces/${name}`)).body;
  if (ns?.metadata?.name) {
    ns.spec = { finalizers: [] };
    await must(h.request('PUT', `/api/v1/namespaces/${name}/finalize`, ns), `finalize namespace ${name}`, [404, 409]);
  }
}

// ---------------------------------------------------------------------------------------------
// External cluster (KUBECONFIG set)

function attachExisting(kubeconfigPath) {
  const kubectlBin = fs.existsSync(path.join(binDir(), 'kubectl')) ? path.join(binDir(), 'kubectl') : 'kubectl';
  // Let kubectl resolve contexts, merges and file references: --minify --flatten --raw gives JSON
  // with the current context's cluster and user only, data inlined.
  const cfg = JSON.parse(execFileSync(kubectlBin, ['config', 'view', '--minify', '--flatten', '--raw', '-o', 'json'],
    { encoding: 'utf8', env: { ...process.env, KUBECONFIG: kubeconfigPath } }));
  const cluster = cfg.clusters?.[0]?.cluster ?? {};
  const user = cfg.users?.[0]?.user ?? {};
  const b64 = (s) => (s ? Buffer.from(s, 'base64').toString('utf8') : undefined);
  const base = {
    external: true,
    kubeconfigPath: kubeconfigPath.split(path.delimiter)[0],
    server: cluster.server,
    caPem: b64(cluster['certificate-authority-data']),
    token: user.token,
    adminCert: user['client-certificate-data'] ? { certPem: b64(user['client-certificate-data']), keyPem: b64(user['client-key-data']) } : undefined,
    tmpDir: fs.mkdtempSync(path.join(os.tmpdir(), 'skillgate-k8s-ext-')),
  };
  if (!base.token && !base.adminCert) {
    // e.g. exec plugins (EKS, GKE): kubectl/helm still work, the Node request helper does not.
    console.warn('[control-plane] KUBECONFIG user has no token or client cert: request() will be unauthenticated; kubectl() works');
  }
  const h = makeHandle(base);
  h.stop = async () => { fs.rmSync(base.tmpDir, { recursive: true, force: true }); }; // never touches the cluster
  return h;
}

// ---------------------------------------------------------------------------------------------
// Local control plane

/**
 * Starts etcd + kube-apiserver on free loopback ports (or attaches to $KUBECONFIG; pass
 * { ignoreKubeconfig: true } to force a local one). Resolves to a handle:
 *   { external, kubeconfigPath, server, caPem, token, adminCert: { certPem, keyPem, certFile, keyFile },
 *     tmpDir, binDir, ports: { etcd, apiserver }, etcdUrl, serviceAccountIssuer, apiAudiences,
 *     ca: { caPem, issue(name, opts) }, env, request(), requestAs(), kubectl(), helm(),
 *     ensureNamespace(name, labels), deleteNamespace(name), stop() }
 * Options: { build: true|false (run build.sh first), timeoutMs, apiserverArgs: [extra flags],
 *            log: fn (progress lines; default silent unless SKILLGATE_K8S_VERBOSE=1) }
 */
export async function startControlPlane(opts = {}) {
  if (process.env.KUBECONFIG && !opts.ignoreKubeconfig) return attachExisting(process.env.KUBECONFIG);

  const log = opts.log ?? (process.env.SKILLGATE_K8S_VERBOSE ? (m) => console.error(`[control-plane] ${m}`) : () => {});
  const timeoutMs = opts.timeoutMs ?? 90000;
  if (process.getuid && process.getuid() !== 0) log('not root: fine for etcd/kube-apiserver on high ports');
  const bin = ensureBinaries({ build: opts.build ?? process.env.SKILLGATE_K8S_NO_BUILD !== '1' });
  installExitHooks();

  const t0 = Date.now();
  removeStaleTmpDirs();
  const tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'skillgate-k8s-'));
  fs.writeFileSync(path.join(tmpDir, 'owner.pid'), String(process.pid));
  const pki = path.join(tmpDir, 'pki');
  const handle = { tmpDir, stopped: false };
  running.add(handle);
  let etcd; let apiserver;
  handle.stop = async () => {
    if (handle.stopped) return;
    handle.stopped = true;
    await killProcess(apiserver);
    await killProcess(etcd);
    running.delete(handle);
    if (!process.env.SKILLGATE_K8S_KEEP) fs.rmSync(tmpDir, { recursive: true, force: true });
    else log(`kept ${tmpDir} (SKILLGATE_K8S_KEEP)`);
  };

  try {
    // --- PKI: CA, apiserver serving cert, admin client cert, SA signing key pair, admin token.
    const ca = createTestCA(pki, 'skillgate-e2e-ca');
    const serving = ca.issue('apiserver', {
      cn: 'kube-apiserver',
      sans: ['IP:127.0.0.1', 'DNS:localhost', 'IP:10.0.0.1', 'DNS:kubernetes', 'DNS:kubernetes.default', 'DNS:kubernetes.default.svc', 'DNS:kubernetes.default.svc.cluster.local'],
    });
    const adminCert = ca.issue('admin', { cn: 'skillgate-e2e-admin', org: 'system:masters', usage: 'client' });
    openssl(['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', 'sa.key'], pki);
    openssl(['pkey', '-in', 'sa.key', '-pubout', '-out', 'sa.pub'], pki);
    const token = `skillgate-e2e-${randomBytes(24).toString('hex')}`;
    // token,user,uid,"group1,group2"
    fs.writeFileSync(path.join(pki, 'tokens.csv'), `${token},skillgate-e2e-admin,skillgate-e2e-admin,"system:masters"\n`, { mode: 0o600 });
    log(`pki ready in ${Date.now() - t0}ms`);

    // --- etcd
    const [etcdPort, peerPort, apiPort] = await Promise.all([freePort(), freePort(), freePort()]);
    const etcdUrl = `http://127.0.0.1:${etcdPort}`;
    etcd = startProcess('etcd', path.join(bin, 'etcd'), [
      '--name', 'default',
      '--data-dir', path.join(tmpDir, 'etcd'),
      '--listen-client-urls', etcdUrl, '--advertise-client-urls', etcdUrl,
      '--listen-peer-urls', `http://127.0.0.1:${peerPort}`,
      '--initial-advertise-peer-urls', `http://127.0.0.1:${peerPort}`,
      '--initial-cluster', `default=http://127.0.0.1:${peerPort}`,
      '--unsafe-no-fsync', // throw-away data: no fsync, much faster on slow disks
      '--log-level', 'warn',
    ], path.join(tmpDir, 'etcd.log'));
    await waitFor('etcd /health', async () => {
      const r = await httpGet(`${etcdUrl}/health`);
      return r.status === 200 && JSON.parse(r.body).health === 'true';
    }, { child: etcd, timeoutMs });
    log(`etcd up on ${etcdUrl} (${Date.now() - t0}ms)`);

    // --- kube-apiserver
    const server = `https://127.0.0.1:${apiPort}`;
    const serviceAccountIssuer = 'https://kubernetes.default.svc';
    const apiAudiences = ['https://kubernetes.default.svc', 'skillgate'];
    apiserver = startProcess('kube-apiserver', path.join(bin, 'kube-apiserver'), [
      `--etcd-servers=${etcdUrl}`,
      '--bind-address=127.0.0.1',
      '--advertise-address=127.0.0.1',
      `--secure-port=${apiPort}`,
      `--cert-dir=${path.join(tmpDir, 'apiserver-certs')}`,
      `--tls-cert-file=${serving.certFile}`,
      `--tls-private-key-file=${serving.keyFile}`,
      `--client-ca-file=${path.join(pki, 'ca.crt')}`,
      `--token-auth-file=${path.join(pki, 'tokens.csv')}`,
      `--service-account-issuer=${serviceAccountIssuer}`,
      `--service-account-key-file=${path.join(pki, 'sa.pub')}`,
      `--service-account-signing-key-file=${path.join(pki, 'sa.key')}`,
      `--api-audiences=${apiAudiences.join(',')}`,
      '--authorization-mode=Node,RBAC',
      '--service-cluster-ip-range=10.0.0.0/24',
      '--allow-privileged=true',
      // No kube-controller-manager: nothing would ever fill an Endpoints/EndpointSlice for it anyway.
      '--endpoint-reconciler-type=none',
      '--profiling=false',
      ...(opts.apiserverArgs ?? []),
    ], path.join(tmpDir, 'kube-apiserver.log'));

    const base = {
      external: false,
      server,
      caPem: ca.caPem,
      token,
      adminCert,
      tmpDir,
      kubeconfigPath: path.join(tmpDir, 'kubeconfig'),
      ports: { etcd: etcdPort, apiserver: apiPort },
      etcdUrl,
      serviceAccountIssuer,
      apiAudiences,
      ca,
      logs: { etcd: etcd.logFile, apiserver: apiserver.logFile },
    };
    // Kubeconfig as JSON (valid YAML); bearer token so that a handle attached to it via
    // KUBECONFIG (e.g. in jest workers) has the same credential.
    fs.writeFileSync(base.kubeconfigPath, JSON.stringify({
      apiVersion: 'v1', kind: 'Config',
      clusters: [{ name: 'skillgate-e2e', cluster: { server, 'certificate-authority-data': Buffer.from(ca.caPem).toString('base64') } }],
      users: [{ name: 'skillgate-e2e-admin', user: { token } }],
      contexts: [{ name: 'skillgate-e2e', context: { cluster: 'skillgate-e2e', user: 'skillgate-e2e-admin', namespace: 'default' } }],
      'current-context': 'skillgate-e2e',
    }, null, 2), { mode: 0o600 });

    Object.assign(handle, makeHandle(base), { stop: handle.stop, stopped: false });
    await waitFor('kube-apiserver /readyz', async () => {
      const r = await handle.request('GET', '/readyz', undefined, { timeoutMs: 5000 });
      return r.status === 200;
    }, { child: apiserver, timeoutMs });
    log(`kube-apiserver ready on ${server} (${Date.now() - t0}ms)`);

    await ensureNamespace(handle, 'default');
    return handle;
  } catch (e) {
    await handle.stop();
    throw e;
  }
}

/** Stops every control plane started by this process (no-op for attached external clusters). */
export async function stop() {
  await Promise.all([...running].map((h) => h.stop()));
}

// ---------------------------------------------------------------------------------------------
// CLI for humans: `node e2e/k8s/control-plane.mjs` starts a local control plane (ignoring any
// KUBECONFIG), prints how to use it, and runs until Ctrl-C.
if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const cp = await startControlPlane({ ignoreKubeconfig: true, log: (m) => console.error(`[control-plane] ${m}`) });
  console.log(`kube-apiserver: ${cp.server}   (logs: ${cp.logs.apiserver}, ${cp.logs.etcd})`);
  console.log(`export KUBECONFIG=${cp.kubeconfigPath}`);
  console.log(`export PATH=${cp.binDir}:$PATH   # kubectl, helm`);
  console.log('Ctrl-C to stop and delete everything.');
  setInterval(() => {}, 1 << 30); // keep running; the SIGINT hook stops the control plane
}
