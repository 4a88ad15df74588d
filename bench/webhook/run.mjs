// Admission latency of the webhook's /mutate over real HTTPS: the `skillgate webhook` process (as
// it runs in the cluster, pino logging included) answering AdmissionReviews for a realistic skill
// pod, measured from this process with a keep-alive TLS agent (as the API server keeps its
// connections). Side by side, in the same run: a baseline HTTPS server in a Node process of its own
// that reads the body and answers a fixed "allowed" review, i.e. what TLS + HTTP + JSON transport
// costs anyway, so the difference is what injection adds. Target: p99 <= 10 ms per admission.
// Prints a markdown table; writes bench/results/webhook.json. BENCH_PROFILE=1 runs both servers
// under `node --cpu-prof` and prints, per admission, where each spends its CPU (a profiled run's
// latencies are not comparable with an unprofiled one's: the profiler's sampling costs time too).
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createDevCertificates } from '@skillgate/webhook';
import { summariseProfile } from '../lib/cpu-profile.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '../..');
const N = Number(process.env.BENCH_ITER ?? 5000);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 500);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 8);
const PROFILE = process.env.BENCH_PROFILE === '1' || process.env.BENCH_PROFILE === 'always';

/** A Deployment-made skill pod as the API server sends it (defaults and managedFields included). */
function skillPod(i) {
  const env = Array.from({ length: 12 }, (_, j) => ({ name: `SETTING_${j}`, value: `value-${j}-${'x'.repeat(20)}` }));
  env.push({ name: 'ANTHROPIC_API_KEY', valueFrom: { secretKeyRef: { name: 'old-claude-key', key: 'key' } } });
  const container = (name) => ({
    name, image: `registry.example.com/skills/${name}:1.4.2`, imagePullPolicy: 'IfNotPresent',
    terminationMessagePath: '/dev/termination-log', terminationMessagePolicy: 'File',
    ports: [{ containerPort: 8080, protocol: 'TCP', name: 'http' }],
    env, resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '512Mi' } },
    volumeMounts: [{ name: 'kube-api-access-x7k2p', mountPath: '/var/run/secrets/kubernetes.io/serviceaccount', readOnly: true }, { name: 'work', mountPath: '/work' }],
    readinessProbe: { httpGet: { path: '/ready', port: 8080, scheme: 'HTTP' }, timeoutSeconds: 1, periodSeconds: 10, successThreshold: 1, failureThreshold: 3 },
  });
  return {
    apiVersion: 'v1', kind: 'Pod',
    metadata: {
      generateName: 'triage-7d9f8c6b5-', namespace: 'team-a',
      labels: { 'skillgate.dev/skill': 'triage', app: 'triage', 'pod-template-hash': '7d9f8c6b5' },
      annotations: { 'skillgate.dev/owner': 'alice@example.com' },
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'triage-7d9f8c6b5', uid: `uid-${i}`, controller: true, blockOwnerDeletion: true }],
      managedFields: [{ manager: 'kube-controller-manager', operation: 'Update', apiVersion: 'v1', time: '2030-01-01T00:00:00Z', fieldsType: 'FieldsV1', fieldsV1: { 'f:metadata': { 'f:labels': {} }, 'f:spec': { 'f:containers': {} } } }],
    },
    spec: {
      serviceAccountName: 'triage', serviceAccount: 'triage', restartPolicy: 'Always', dnsPolicy: 'ClusterFirst', schedulerName: 'default-scheduler',
      terminationGracePeriodSeconds: 30, enableServiceLinks: true, preemptionPolicy: 'PreemptLowerPriority', priority: 0, securityContext: {},
      containers: [container('skill'), container('worker')],
      volumes: [{ name: 'work', emptyDir: {} }, { name: 'kube-api-access-x7k2p', projected: { defaultMode: 420, sources: [{ serviceAccountToken: { expirationSeconds: 3607, path: 'token' } }, { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } }] } }],
      tolerations: [{ key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 }],
    },
    status: { phase: 'Pending', qosClass: 'Burstable' },
  };
}

const review = (i) => JSON.stringify({
  apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview',
  request: {
    uid: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`, kind: { group: '', version: 'v1', kind: 'Pod' },
    resource: { group: '', version: 'v1', resource: 'pods' }, requestKind: { group: '', version: 'v1', kind: 'Pod' },
    namespace: 'team-a', operation: 'CREATE', userInfo: { username: 'system:serviceaccount:kube-system:replicaset-controller', groups: ['system:serviceaccounts'] },
    object: skillPod(i), oldObject: null, dryRun: false, options: { apiVersion: 'meta.k8s.io/v1', kind: 'CreateOptions' },
  },
});

const BASELINE = `
import https from 'node:https';
import fs from 'node:fs';
const s = https.createServer({ cert: fs.readFileSync(process.argv[2]), key: fs.readFileSync(process.argv[3]) }, (req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const uid = JSON.parse(Buffer.concat(chunks).toString()).request.uid;
    const body = JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid, allowed: true } });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
});
s.keepAliveTimeout = 65000;
process.on('SIGTERM', () => s.close(() => process.exit(0))); // exits normally: a --cpu-prof run writes its profile
s.listen(0, '127.0.0.1', () => process.stderr.write('listening on https://127.0.0.1:' + s.address().port + '\\n'));
`;

async function startProcess(args, profileDir) {
  const flags = profileDir ? ['--cpu-prof', '--cpu-prof-dir', profileDir] : [];
  const child = spawn(process.execPath, [...flags, ...args], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, SKILLGATE_LOG_LEVEL: 'info' } });
  let err = '';
  const url = await new Promise((resolve, reject) => {
    child.stderr.on('data', (c) => {
      err += c;
      const m = /listening on (https:\/\/[^\s]+)/.exec(err);
      if (m) resolve(m[1]);
    });
    child.on('exit', (code) => reject(new Error(`${args.join(' ')} exited ${code}: ${err}`)));
  });
  return { child, url };
}

function post(agent, url, body, ca) {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const req = https.request(url, { method: 'POST', agent, ca, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const ms = Number(process.hrtime.bigint() - t0) / 1e6;
        if (res.statusCode !== 200) return reject(new Error(`HTTP ${res.statusCode}: ${Buffer.concat(chunks)}`));
        resolve({ ms, body: Buffer.concat(chunks) });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

function percentiles(samples) {
  const s = Float64Array.from(samples).sort();
  const at = (p) => s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
  return { p50: at(50), p90: at(90), p99: at(99), max: s[s.length - 1] };
}

async function measure(url, ca, concurrency) {
  const agent = new https.Agent({ keepAlive: true, maxSockets: concurrency });
  const bodies = Array.from({ length: 64 }, (_, i) => review(i));
  for (let i = 0; i < WARMUP; i++) await post(agent, url, bodies[i % bodies.length], ca);
  const samples = [];
  let next = 0;
  const t0 = process.hrtime.bigint();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < N) {
      const i = next++;
      samples.push((await post(agent, url, bodies[i % bodies.length], ca)).ms);
    }
  }));
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  agent.destroy();
  return { ...percentiles(samples), perSecond: N / seconds, n: N };
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'skillgate-bench-webhook-'));
const { ca, serving } = createDevCertificates(['127.0.0.1']);
fs.writeFileSync(path.join(tmp, 'tls.crt'), serving.certPem);
fs.writeFileSync(path.join(tmp, 'tls.key'), serving.keyPem);
fs.writeFileSync(path.join(tmp, 'baseline.mjs'), BASELINE);

// The webhook as the image runs it: the CLI bundle's entrypoint (packages/cli/bundle.mjs, `make build`).
const entrypoint = path.join(ROOT, 'packages/cli/bundle/skillgate.mjs');
if (!fs.existsSync(entrypoint)) {
  console.error(`no CLI bundle at ${entrypoint} (run \`make build\`)`);
  process.exit(3);
}
const profileDir = (name) => (PROFILE ? path.join(tmp, `profile-${name}`) : undefined);
const webhook = await startProcess([entrypoint, 'webhook', '--cert', path.join(tmp, 'tls.crt'), '--key', path.join(tmp, 'tls.key'), '--port', '0'], profileDir('webhook'));
const baseline = await startProcess([path.join(tmp, 'baseline.mjs'), path.join(tmp, 'tls.crt'), path.join(tmp, 'tls.key')], profileDir('baseline'));
let admissions = 1; // the probe's, then every row's warm-up and measured ones (per server)
try {
  const probe = JSON.parse((await post(new https.Agent(), `${webhook.url}/mutate`, review(0), ca.certPem)).body);
  if (probe.response?.patchType !== 'JSONPatch') throw new Error(`webhook did not inject: ${JSON.stringify(probe)}`);
  const rows = [];
  for (const concurrency of [1, CONCURRENCY]) {
    rows.push({ what: 'baseline: HTTPS echo of "allowed"', concurrency, ...(await measure(`${baseline.url}/mutate`, ca.certPem, concurrency)) });
    rows.push({ what: 'skillgate webhook /mutate (inject)', concurrency, ...(await measure(`${webhook.url}/mutate`, ca.certPem, concurrency)) });
    admissions += WARMUP + N;
  }
  const size = Buffer.byteLength(review(0));
  const f = (x) => x.toFixed(2);
  const lines = [
    '## Webhook admission latency (/mutate over HTTPS)',
    '',
    `${N} AdmissionReviews per row (${(size / 1024).toFixed(1)} KB, a two-container skill pod), after ${WARMUP} warm-up, keep-alive TLS 1.3, client in another process. Target: p99 <= 10 ms.`,
    '',
    '| server | concurrency | p50 ms | p90 ms | p99 ms | max ms | admissions/s |',
    '|---|---:|---:|---:|---:|---:|---:|',
    ...rows.map((r) => `| ${r.what} | ${r.concurrency} | ${f(r.p50)} | ${f(r.p90)} | ${f(r.p99)} | ${f(r.max)} | ${Math.round(r.perSecond)} |`),
    '',
  ];
  process.stdout.write(lines.join('\n'));
  fs.mkdirSync(path.join(ROOT, 'bench/results'), { recursive: true });
  fs.writeFileSync(path.join(ROOT, 'bench/results/webhook.json'), JSON.stringify({ date: new Date().toISOString(), node: process.version, cpus: os.cpus().length, bodyBytes: size, rows }, null, 2));
} finally {
  webhook.child.kill('SIGTERM');
  baseline.child.kill('SIGTERM');
  await Promise.all([once(webhook.child, 'exit'), once(baseline.child, 'exit')]);
  if (PROFILE) for (const name of ['baseline', 'webhook']) printProfile(name, profileDir(name), admissions);
  fs.rmSync(tmp, { recursive: true, force: true });
}

/** Where a profiled server spent its CPU, per admission (start-up included: a few ms over thousands). */
function printProfile(name, dir, served) {
  const file = fs.readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
  if (!file) return console.error(`the profiled ${name} wrote no .cpuprofile`);
  const s = summariseProfile(JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8')), ROOT);
  const us = (ms) => Math.round((ms * 1000) / served);
  console.error(`\n${name}: CPU per admission ${us(s.busyMs)} µs (${served} admissions)`);
  for (const a of s.areas) console.error(`  ${a.area}: ${us(a.ms)} µs`);
  for (const t of s.ownInclusive) console.error(`  incl ${t.fn} ${t.where} ${us(t.inclusiveMs)} µs`);
  for (const t of s.top.slice(0, 20)) console.error(`  self ${t.fn} ${t.where} ${us(t.selfMs)} µs`);
}
