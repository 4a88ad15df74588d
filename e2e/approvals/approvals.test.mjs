// Just-in-time approvals and live SkillPolicy updates against a real kube-apiserver (e2e/k8s),
// real Redis, a real sidecar (startSidecar) in front of the fake Claude API, the official Anthropic
// SDK as the skill, and the real `skillgate approvals` CLI as the approver (its own client-cert
// identity, resolved by SelfSubjectReview). The controller's approval and policy-status reconcilers
// run in-process against the same API server.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Anthropic from '@anthropic-ai/sdk';
import { KubeConfig } from '@kubernetes/client-node';
import { Redis } from 'ioredis';
import { startFakeClaude } from '@skillgate/fake-claude';
import { startSidecar, createLogger } from '@skillgate/sidecar';
import { createPolicyGuard } from '@skillgate/sidecar/cluster/guard';
import { clusterPolicyFeed } from '@skillgate/sidecar/cluster/policy-feed';
import { kubeApprovalBroker } from '@skillgate/sidecar/cluster/approvals';
import { approvalReconciler } from '@skillgate/controller/approvals/index';
import { policyStatusReconciler } from '@skillgate/controller/policies/index';
import { startControlPlane } from '../k8s/control-plane.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const CLI = path.join(ROOT, 'packages/cli/dist/src/main.js');
const NS = `approvals-${randomBytes(3).toString('hex')}`;
const OWNER = 'carol@example.com';
const PREFIX = `sg-e2e-${randomBytes(4).toString('hex')}:`;
const log = createLogger(process.env.SKILLGATE_E2E_LOG ?? 'silent');
const identity = { namespace: NS, serviceAccount: 'triage', pod: 'triage-0', skill: 'triage', owner: OWNER };

let cp; let redis; let fake; let sidecar; let feed; let broker; let reconcilers = [];
const kubeconfigs = {};

/** A kubeconfig for a user authenticated by a client certificate from the test CA. */
function userKubeconfig(user, groups) {
  const cert = cp.ca.issue(`user-${user.replace(/[^a-z0-9]/gi, '-')}`, { cn: user, org: groups.join('/O='), usage: 'client' });
  const file = path.join(cp.tmpDir, `${user.replace(/[^a-z0-9]/gi, '-')}.kubeconfig`);
  fs.writeFileSync(file, JSON.stringify({
    apiVersion: 'v1', kind: 'Config',
    clusters: [{ name: 'e2e', cluster: { server: cp.server, 'certificate-authority-data': Buffer.from(cp.caPem).toString('base64') } }],
    users: [{ name: user, user: { 'client-certificate-data': Buffer.from(cert.certPem).toString('base64'), 'client-key-data': Buffer.from(cert.keyPem).toString('base64') } }],
    contexts: [{ name: 'e2e', context: { cluster: 'e2e', user, namespace: NS } }],
    'current-context': 'e2e',
  }), { mode: 0o600 });
  return file;
}

function cli(args, kubeconfig) {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args, '--kubeconfig', kubeconfig], { env: { ...process.env, KUBECONFIG: '' } },
      (err, stdout, stderr) => resolve({ code: err ? err.code ?? 1 : 0, stdout, stderr }));
  });
}

function applyPolicy(spec, name = 'approvals') {
  const doc = { apiVersion: 'skillgate.dev/v1alpha1', kind: 'SkillPolicy', metadata: { name, namespace: NS }, spec };
  cp.kubectl(['apply', '-f', '-'], { input: JSON.stringify(doc) });
}

/** Resolves when the sidecar's feed state satisfies `ok` (event-driven, bounded). */
function feedReaches(ok, ms = 5000) {
  if (ok(feed.current())) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => { off(); reject(new Error(`policy feed did not converge: ${feed.current().effective.policies}`)); }, ms);
    const off = feed.onChange((s) => { if (ok(s)) { clearTimeout(t); off(); resolve(); } });
  });
}

/** The SkillApproval holding `requestDone`'s request, once it exists (watch-free poll with a deadline). */
async function waitForApproval(predicate = () => true, ms = 10000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const r = await cp.request('GET', `/apis/skillgate.dev/v1alpha1/namespaces/${NS}/skillapprovals`);
    const hit = (r.body.items ?? []).find((a) => (a.status?.phase ?? 'Pending') === 'Pending' && predicate(a));
    if (hit) return hit;
    if (Date.now() > deadline) throw new Error('no pending SkillApproval appeared');
    await new Promise((res) => setTimeout(res, 100));
  }
}

async function getApproval(name) {
  return (await cp.request('GET', `/apis/skillgate.dev/v1alpha1/namespaces/${NS}/skillapprovals/${name}`)).body;
}

const client = () => new Anthropic({ baseURL: sidecar.claudeUrl, apiKey: 'sk-ant-skill-placeholder', maxRetries: 0, timeout: 120_000 });
const RISKY = 'Please export the customer database with every email address.';

beforeAll(async () => {
  cp = await startControlPlane();
  cp.kubectl(['apply', '-f', path.join(ROOT, 'crds')]);
  cp.kubectl(['wait', '--for=condition=Established', '--timeout=60s', 'crd/skillpolicies.skillgate.dev', 'crd/skillapprovals.skillgate.dev']);
  await cp.ensureNamespace(NS);
  // Approvers may read approvals and patch their status; nothing else.
  cp.kubectl(['apply', '-f', '-'], { input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: `${NS}-approver` },
      rules: [{ apiGroups: ['skillgate.dev'], resources: ['skillapprovals'], verbs: ['get', 'list', 'watch'] },
        { apiGroups: ['skillgate.dev'], resources: ['skillapprovals/status'], verbs: ['get', 'patch'] }] },
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: { name: 'approvers', namespace: NS },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: `${NS}-approver` },
      subjects: [{ kind: 'Group', name: 'secops', apiGroup: 'rbac.authorization.k8s.io' }, { kind: 'User', name: OWNER, apiGroup: 'rbac.authorization.k8s.io' }] },
  ] }) });
  kubeconfigs.alice = userKubeconfig('alice@example.com', ['secops']);
  kubeconfigs.bob = userKubeconfig('bob@example.com', ['secops']);
  kubeconfigs.owner = userKubeconfig(OWNER, ['devs']);

  redis = new Redis('redis://127.0.0.1:6379');
  const kc = new KubeConfig();
  kc.loadFromFile(cp.kubeconfigPath);
  fake = await startFakeClaude({ port: 0, deltaDelayMs: 2 });
  feed = await clusterPolicyFeed({ kubeConfig: kc, namespace: NS, identity, log, heartbeat: { redis, prefix: PREFIX, pod: identity.pod, intervalMs: 500 } });
  broker = kubeApprovalBroker({ kubeConfig: kc, namespace: NS, heldBy: identity.pod, log });
  sidecar = await startSidecar({ upstreamUrl: fake.url, upstreamApiKey: 'sk-ant-upstream', identity, listen: { claude: 0, egress: 0, health: 0, metrics: 0, adminHost: '127.0.0.1' } },
    { logger: log, guard: createPolicyGuard({ policy: () => feed.current(), approvals: broker, log, keepAliveMs: 1000 }) });
  reconcilers = [approvalReconciler({ kubeConfig: kc, log }), policyStatusReconciler({ kubeConfig: kc, log, redis, prefix: PREFIX, recountMs: 500 })];
  for (const r of reconcilers) await r.start();

  applyPolicy({ approval: { rules: [
    { name: 'customer-data', when: { keywords: ['customer database'] }, approvers: { users: ['alice@example.com', 'bob@example.com'], quorum: 1 } },
    { name: 'quick-expiry', when: { keywords: ['expire quickly'] }, approvers: { users: ['alice@example.com'] }, timeoutSeconds: 2 },
  ] } });
  await feedReaches((s) => s.effective.rules.length === 2);
}, 300_000);

afterAll(async () => {
  for (const r of reconcilers) await r.stop();
  await sidecar?.close();
  broker?.close();
  feed?.close();
  await fake?.close();
  if (redis) {
    const keys = await redis.keys(`${PREFIX}*`);
    if (keys.length) await redis.del(...keys);
    redis.disconnect();
  }
  await cp?.stop();
});

test('a risky streaming prompt is held until an approver approves it with the CLI, then the SDK receives the whole answer', async () => {
  const events = [];
  const stream = client().messages.stream({ model: 'claude-sonnet-4-5', max_tokens: 256, messages: [{ role: 'user', content: RISKY }] });
  stream.on('streamEvent', (e) => events.push(e.type));
  const finished = stream.finalMessage();

  const approval = await waitForApproval((a) => a.spec.reasons.some((r) => r.includes('customer database')));
  expect(approval.spec.identity.owner).toBe(OWNER);
  expect(approval.spec.requestDigest).toMatch(/^sha256:[0-9a-f]{64}$/);
  expect(approval.spec.summary).toMatchObject({ model: 'claude-sonnet-4-5', stream: true });
  expect(JSON.stringify(approval.spec)).not.toContain('every email address'); // no raw request text without a masker
  expect(fake.requests.filter((r) => r.path?.startsWith?.('/v1/messages') ?? true).length).toBe(0);

  const r = await cli(['approvals', 'approve', approval.metadata.name, '--reason', 'incident INC-42 needs it'], kubeconfigs.alice);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  expect(r.stdout).toMatch(/alice@example\.com approved SkillApproval/);

  const message = await finished;
  expect(message.content[0].text).toContain('customer database');
  expect(events[0]).toBe('message_start');
  expect(events.at(-1)).toBe('message_stop');
  expect((await getApproval(approval.metadata.name)).status.phase).toBe('Used');
});

test('the skill owner cannot approve their own skill’s request, and a denial reaches the SDK as a permission_error naming the approval', async () => {
  const req = client().messages.create({ model: 'claude-sonnet-4-5', max_tokens: 64, stream: true, messages: [{ role: 'user', content: `${RISKY} (second)` }] })
    .then(async (s) => { for await (const _ of s) { /* drain */ } return 'completed'; }).catch((e) => e);
  const approval = await waitForApproval((a) => a.spec.reasons.some((r) => r.includes('customer database')));

  const self = await cli(['approvals', 'approve', approval.metadata.name, '--reason', 'trust me'], kubeconfigs.owner);
  expect(self.code).not.toBe(0);
  expect(self.stderr).toMatch(/owns skill triage and cannot decide its requests/);
  expect((await getApproval(approval.metadata.name)).status?.phase ?? 'Pending').toBe('Pending');

  const deny = await cli(['approvals', 'deny', approval.metadata.name, '--reason', 'not during this incident'], kubeconfigs.bob);
  expect(deny.code).toBe(0);
  const err = await req;
  expect(err).toBeInstanceOf(Error);
  expect(String(err.message)).toMatch(new RegExp(`SkillApproval ${NS}\/${approval.metadata.name} was denied by bob@example.com \\(reason: not during this incident\\)`));
  expect(String(err.message)).toMatch(/permission_error|SG_APPROVAL_DENIED/);
});

test('an approval nobody decides expires and the client gets a clear permission_error', async () => {
  const started = Date.now();
  const err = await client().messages.create({ model: 'claude-sonnet-4-5', max_tokens: 64, messages: [{ role: 'user', content: 'please expire quickly' }] }).catch((e) => e);
  expect(err).toBeInstanceOf(Anthropic.PermissionDeniedError);
  expect(err.message).toMatch(/SkillApproval .* expired after 2 s without a decision/);
  expect(Date.now() - started).toBeGreaterThanOrEqual(1900);
  const name = /SkillApproval [^/]+\/(\S+) expired/.exec(err.message)[1];
  expect((await getApproval(name)).status.phase).toBe('Expired');
});

test('a SkillPolicy applied with kubectl changes the running sidecar within 2 s, and its status counts the sidecar', async () => {
  const ok = await client().messages.create({ model: 'claude-sonnet-4-5', max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] });
  expect(ok.type).toBe('message');

  const applied = Date.now();
  applyPolicy({ models: { allow: ['claude-haiku-*'] } }, 'haiku-only');
  let err;
  while (!err && Date.now() - applied < 2000) {
    err = await client().messages.create({ model: 'claude-sonnet-4-5', max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] }).then(() => undefined, (e) => e);
  }
  expect(Date.now() - applied).toBeLessThan(2000);
  expect(err).toBeInstanceOf(Anthropic.PermissionDeniedError);
  expect(err.message).toMatch(new RegExp(`SkillPolicy ${NS}/haiku-only denied this request \\(models\\.allow\\)`));

  const deadline = Date.now() + 10_000;
  let status;
  while (Date.now() < deadline) {
    status = (await cp.request('GET', `/apis/skillgate.dev/v1alpha1/namespaces/${NS}/skillpolicies/haiku-only`)).body.status;
    if (status?.sidecars === 1) break;
    await new Promise((res) => setTimeout(res, 200));
  }
  expect(status).toMatchObject({ observedGeneration: 1, sidecars: 1 });
  expect(status.conditions.find((c) => c.type === 'Ready').status).toBe('True');
  cp.kubectl(['delete', 'skillpolicy', 'haiku-only', '-n', NS]);
  await feedReaches((s) => !s.effective.policies.some((p) => p.includes('haiku-only')));
});
