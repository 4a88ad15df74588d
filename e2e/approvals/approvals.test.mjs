// Just-in-time approvals and live SkillPolicy updates against a real kube-apiserver (e2e/k8s),
// real Redis, a real sidecar (startSidecar) in front of the fake Claude API, the official Anthropic
// SDK as the skill, and the real `skillgate approvals` CLI as the approver (its own client-cert
// identity, resolved by SelfSubjectReview). The controller's approval and policy-status reconcilers
// run in-process against the same API server, and so does the validating webhook for
// skillapprovals/status (registered through the same webhookConfigurations the chart mirrors), so a
// decision is admitted only under the caller's own client-certificate name and O= groups — or, for
// signed approve/deny links, when a running controller (startController, authenticated as its own
// ServiceAccount with only the chart's controller RBAC) writes it with a proof the webhook verifies
// with the link secret both share.
import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Anthropic from '@anthropic-ai/sdk';
import { KubeConfig } from '@kubernetes/client-node';
import { Redis } from 'ioredis';
import { RedisConnection } from '@skillgate/resp';
import { pino } from 'pino';
import { startFakeClaude } from '@skillgate/fake-claude';
import { startSidecar, createLogger } from '@skillgate/sidecar';
import { createPolicyGuard } from '@skillgate/sidecar/cluster/guard';
import { clusterPolicyFeed } from '@skillgate/sidecar/cluster/policy-feed';
import { kubeApprovalBroker } from '@skillgate/sidecar/cluster/approvals';
import { KubeClient, kubeAccessFromKubeconfig } from '@skillgate/sidecar/cluster/kube-client';
import { parseAllDocuments } from 'yaml';
import { approvalsLoop, startController } from '@skillgate/controller';
import { approvalReconciler, signLinkDecision } from '@skillgate/controller/approvals/index';
import { policyStatusReconciler } from '@skillgate/controller/policies/index';
import { createDevCertificates, parseWebhookConfig, startWebhookServer, webhookConfigurations, VALIDATE_APPROVAL_WEBHOOK_NAME } from '@skillgate/webhook';
import { startControlPlane } from '../k8s/control-plane.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const CLI = path.join(ROOT, 'packages/cli/dist/src/main.js');
const NS = `approvals-${randomBytes(3).toString('hex')}`;
const OWNER = 'carol@example.com';
const PREFIX = `sg-e2e-${randomBytes(4).toString('hex')}:`;
const log = createLogger(process.env.SKILLGATE_E2E_LOG ?? 'silent');
const identity = { namespace: NS, serviceAccount: 'triage', pod: 'triage-0', skill: 'triage', owner: OWNER };

let cp; let kube; let redis; let sidecarRedis; let fake; let sidecar; let feed; let broker; let webhook; let webhookTmp; let reconcilers = [];
const kubeconfigs = {};
/** Client certificates by user key, for writing status directly as that user (forgery attempts). */
const certs = {};
const WEBHOOK_CONFIG_NAME = `skillgate-e2e-approvals-${randomBytes(3).toString('hex')}`;
/** skillgate's own namespace for the controller of this run, its ServiceAccount and the chart's RBAC for it. */
const SYS = `${NS}-sys`;
const CONTROLLER_SA = 'skillgate-controller';
const CONTROLLER_USER = `system:serviceaccount:${SYS}:${CONTROLLER_SA}`;
const CONTROLLER_CLUSTER_ROLE = `${NS}-controller`;
const LINK_SECRET = `link-secret-${randomBytes(16).toString('hex')}`;
let controller; let notifications; let linkSecretFile;

/** A kubeconfig for a user authenticated by a client certificate from the test CA (O= per group). */
function userKubeconfig(user, groups, key = user) {
  const cert = cp.ca.issue(`user-${user.replace(/[^a-z0-9]/gi, '-')}`, { cn: user, org: groups.join('/O='), usage: 'client' });
  certs[key] = { cert: cert.certPem, key: cert.keyPem };
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

/**
 * Appends `decision` to an approval's status.decisions by a merge patch sent with user `as`'s own
 * client certificate (what anyone holding patch rights on skillapprovals/status can do by hand).
 */
async function writeDecisionAs(as, name, decision, { dryRun = false } = {}) {
  const auth = typeof as === 'object' ? as : as === 'admin' ? { token: cp.token } : certs[as];
  // Optimistic concurrency, as any Kubernetes client does it: the controller and the sidecar also
  // write this status (phase, conditions), so a 409 Conflict means "re-read and apply again".
  for (let attempt = 0; ; attempt++) {
    const current = await getApproval(name);
    const body = { metadata: { resourceVersion: current.metadata.resourceVersion }, status: { decisions: [...(current.status?.decisions ?? []), decision] } };
    const res = await cp.requestAs(auth, 'PATCH', `/apis/skillgate.dev/v1alpha1/namespaces/${NS}/skillapprovals/${name}/status${dryRun ? '?dryRun=All' : ''}`, body, { contentType: 'application/merge-patch+json' });
    if (res.status !== 409 || attempt >= 10) return res;
  }
}

const decision = (user, extra = {}) => ({ user, decision: 'approve', reason: 'looks fine', at: new Date().toISOString(), ...extra });

/** Starts a held request with the SDK; resolves with the final message or the error. */
function holdRequest(content, { stream = true } = {}) {
  const params = { model: 'claude-sonnet-4-6', max_tokens: 64, messages: [{ role: 'user', content }] };
  return stream
    ? client().messages.stream(params).finalMessage().catch((e) => e)
    : client().messages.create(params).catch((e) => e);
}

/**
 * Registers ONLY the skillapprovals/status webhook (the pod and SkillPolicy webhooks would make the
 * harness's synchronous kubectl calls deadlock against a webhook served by this very process), then
 * waits until the API server enforces it: a dry-run forged decision on a probe approval is rejected.
 */
async function registerApprovalWebhook(caPem) {
  const { validating } = webhookConfigurations({ endpoint: { url: webhook.url }, caPem, systemNamespace: 'skillgate-system', name: WEBHOOK_CONFIG_NAME });
  validating.webhooks = validating.webhooks.filter((w) => w.name === VALIDATE_APPROVAL_WEBHOOK_NAME);
  const created = await cp.request('POST', '/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations', validating);
  if (created.status !== 201) throw new Error(`cannot register the webhook: ${JSON.stringify(created.body)}`);
  const probe = { apiVersion: 'skillgate.dev/v1alpha1', kind: 'SkillApproval', metadata: { name: 'webhook-probe', namespace: NS },
    spec: { identity, requestId: 'probe', sessionId: 'probe', requestDigest: `sha256:${'0'.repeat(64)}`, policy: 'probe', rules: ['probe'], reasons: ['probe'], summary: {},
      approvers: { groups: ['secops'], quorum: 1 }, expiresAt: new Date(Date.now() + 3_600_000).toISOString() } };
  await cp.request('POST', `/apis/skillgate.dev/v1alpha1/namespaces/${NS}/skillapprovals`, probe);
  const deadline = Date.now() + 30_000;
  for (;;) {
    const r = await writeDecisionAs('admin', 'webhook-probe', decision('somebody-else@example.com'), { dryRun: true });
    if (r.status >= 400 && /skillapprovals\.validate\.skillgate\.dev/.test(r.body?.message ?? '')) return;
    if (Date.now() > deadline) throw new Error(`the approval webhook never took effect: ${r.status} ${JSON.stringify(r.body?.message)}`);
    await new Promise((res) => setTimeout(res, 100));
  }
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
      subjects: [{ kind: 'Group', name: 'secops', apiGroup: 'rbac.authorization.k8s.io' }, { kind: 'Group', name: 'skillgate-approvers', apiGroup: 'rbac.authorization.k8s.io' },
        { kind: 'User', name: OWNER, apiGroup: 'rbac.authorization.k8s.io' }] },
  ] }) });
  kubeconfigs.alice = userKubeconfig('alice@example.com', ['secops'], 'alice');
  kubeconfigs.bob = userKubeconfig('bob@example.com', ['secops'], 'bob');
  kubeconfigs.erin = userKubeconfig('erin@example.com', ['secops', 'oncall'], 'erin'); // named by no rule: approves through her group only
  kubeconfigs.gina = userKubeconfig('gina@example.com', ['skillgate-approvers'], 'gina');
  // Behind an identity provider's username prefix, as an OIDC authenticator names its users.
  kubeconfigs.dave = userKubeconfig('oidc:dave@example.com', ['secops'], 'dave');
  kubeconfigs.owner = userKubeconfig(OWNER, ['devs'], 'owner');

  webhookTmp = fs.mkdtempSync(path.join(os.tmpdir(), 'skillgate-e2e-approvals-webhook-'));
  const { ca, serving } = createDevCertificates(['127.0.0.1']);
  fs.writeFileSync(path.join(webhookTmp, 'tls.crt'), serving.certPem);
  fs.writeFileSync(path.join(webhookTmp, 'tls.key'), serving.keyPem);
  // The link secret is one file both the controller and the webhook read (one Secret mounted in both, in the chart).
  linkSecretFile = path.join(webhookTmp, 'link-secret');
  fs.writeFileSync(linkSecretFile, LINK_SECRET, { mode: 0o600 });
  webhook = await startWebhookServer({ config: parseWebhookConfig({}), certFile: path.join(webhookTmp, 'tls.crt'), keyFile: path.join(webhookTmp, 'tls.key'),
    port: 0, host: '127.0.0.1', logger: pino({ level: process.env.SKILLGATE_E2E_LOG ?? 'silent' }),
    linkDecisions: { writer: CONTROLLER_USER, secret: fs.readFileSync(linkSecretFile) } });
  await registerApprovalWebhook(ca.certPem);

  redis = new Redis('redis://127.0.0.1:6379');
  const kc = new KubeConfig();
  kc.loadFromFile(cp.kubeconfigPath);
  fake = await startFakeClaude({ port: 0, deltaDelayMs: 2 });
  // The sidecar's own lean client, on the same kubeconfig the controller's client-node reads.
  kube = new KubeClient(kubeAccessFromKubeconfig(cp.kubeconfigPath));
  sidecarRedis = new RedisConnection('redis://127.0.0.1:6379'); // the sidecar's own client, as wiring.ts makes it
  feed = await clusterPolicyFeed({ kube, namespace: NS, identity, log, heartbeat: { redis: sidecarRedis, prefix: PREFIX, pod: identity.pod, intervalMs: 500 } });
  broker = kubeApprovalBroker({ kube, namespace: NS, heldBy: identity.pod, log });
  sidecar = await startSidecar({ upstreamUrl: fake.url, upstreamApiKey: 'sk-ant-upstream', identity, listen: { claude: 0, egress: 0, dns: 0, health: 0, metrics: 0, adminHost: '127.0.0.1' } },
    { logger: log, guard: createPolicyGuard({ policy: () => feed.current(), approvals: broker, log, keepAliveMs: 1000 }) });
  reconcilers = [approvalReconciler({ kubeConfig: kc, log }), policyStatusReconciler({ kubeConfig: kc, log, redis, prefix: PREFIX, recountMs: 500 })];
  for (const r of reconcilers) await r.start();

  applyPolicy({ approval: { rules: [
    { name: 'customer-data', when: { keywords: ['customer database'] }, approvers: { users: ['alice@example.com', 'bob@example.com'], quorum: 1 } },
    { name: 'quick-expiry', when: { keywords: ['expire quickly'] }, approvers: { users: ['alice@example.com'] }, timeoutSeconds: 2 },
    { name: 'group-only', when: { keywords: ['incident timeline'] }, approvers: { groups: ['secops'] } },
    { name: 'no-approvers', when: { keywords: ['payroll'] } },
    { name: 'two-person', when: { keywords: ['production credentials'] }, approvers: { groups: ['secops'], quorum: 2 } },
  ] } });
  await feedReaches((s) => s.effective.rules.length === 5);
  await startLinkController();
}, 300_000);

/**
 * The controller as deployed: authenticated as ServiceAccount skillgate-controller with exactly the
 * RBAC the chart renders for it (no impersonation), serving signed links and announcing approvals
 * to a local Slack-compatible receiver.
 */
async function startLinkController() {
  await cp.ensureNamespace(SYS);
  // The controller lists SkillLocks at start: wait until that CRD is served (Established is not enough).
  for (let deadline = Date.now() + 30_000; (await cp.request('GET', '/apis/skillgate.dev/v1alpha1/skilllocks')).status !== 200;) {
    if (Date.now() > deadline) throw new Error('SkillLocks are not served');
    await new Promise((res) => setTimeout(res, 100));
  }
  const rendered = execFileSync(cp.helmBin, ['template', 'skillgate', path.join(ROOT, 'charts/skillgate'), '--namespace', SYS, '--kube-version', '1.36.0'], { encoding: 'utf8' });
  const docs = parseAllDocuments(rendered).map((d) => d.toJS()).filter(Boolean);
  const pick = (kind, name) => {
    const o = docs.find((d) => d.kind === kind && d.metadata.name === name);
    if (!o) throw new Error(`the chart renders no ${kind} ${name}`);
    return o;
  };
  const clusterRole = pick('ClusterRole', 'skillgate-controller');
  const clusterBinding = pick('ClusterRoleBinding', 'skillgate-controller');
  expect(JSON.stringify(clusterRole.rules)).not.toContain('impersonate'); // link decisions need no impersonation
  const objects = [
    pick('ServiceAccount', CONTROLLER_SA), pick('Role', 'skillgate-controller'), pick('RoleBinding', 'skillgate-controller'),
    // Cluster-scoped objects renamed per run, so runs on a shared cluster never collide.
    { ...clusterRole, metadata: { ...clusterRole.metadata, name: CONTROLLER_CLUSTER_ROLE } },
    { ...clusterBinding, metadata: { ...clusterBinding.metadata, name: CONTROLLER_CLUSTER_ROLE }, roleRef: { ...clusterBinding.roleRef, name: CONTROLLER_CLUSTER_ROLE } },
  ];
  cp.kubectl(['apply', '-f', '-'], { input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }) });
  const token = await cp.request('POST', `/api/v1/namespaces/${SYS}/serviceaccounts/${CONTROLLER_SA}/token`, { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds: 3600 } });
  if (token.status !== 201) throw new Error(`TokenRequest for the controller: ${token.status} ${token.body?.message}`);
  const kubeconfig = path.join(webhookTmp, 'controller.kubeconfig');
  fs.writeFileSync(kubeconfig, JSON.stringify({
    apiVersion: 'v1', kind: 'Config', 'current-context': 'c',
    clusters: [{ name: 'c', cluster: { server: cp.server, 'certificate-authority-data': Buffer.from(cp.caPem).toString('base64') } }],
    users: [{ name: 'controller', user: { token: token.body.status.token } }],
    contexts: [{ name: 'c', context: { cluster: 'c', user: 'controller' } }],
  }), { mode: 0o600 });

  notifications = { messages: [], waiters: [] };
  const receiver = http.createServer((req, res) => {
    let text = '';
    req.on('data', (c) => { text += c; });
    req.on('end', () => {
      const m = JSON.parse(text);
      notifications.messages.push(m);
      for (const w of [...notifications.waiters]) w(m);
      res.end('ok');
    });
  });
  await new Promise((r) => receiver.listen(0, '127.0.0.1', r));
  notifications.close = () => new Promise((r) => { receiver.closeAllConnections(); receiver.close(r); });
  controller = await startController({
    listen: '127.0.0.1:0', redisUrl: 'redis://127.0.0.1:6379', redisPrefix: `${PREFIX}ctl:`, namespace: SYS, kubeconfig,
    logLevel: process.env.SKILLGATE_E2E_LOG ?? 'silent', leaderElection: { enabled: false },
    // As the chart runs it: the links on a listener of their own, for the authenticating proxy.
    approvals: { webhookUrl: `http://127.0.0.1:${receiver.address().port}/hooks/T1`, linkBaseUrl: 'https://skillgate.example.com', linkSecretFile, listen: { host: '127.0.0.1', port: 0 } },
  }, { reconcilers: [approvalsLoop] });
}

/** The approve/deny links of the notification announcing approval `name` (waits for it). */
function notifiedLinks(name, ms = 10_000) {
  const linksOf = (m) => {
    if (!m.text.includes(`/${name}`)) return undefined;
    const actions = m.blocks.find((b) => b.type === 'actions');
    return Object.fromEntries(actions.elements.map((e) => [e.text.text, e.url]));
  };
  const seen = notifications.messages.map(linksOf).find(Boolean);
  if (seen) return Promise.resolve(seen);
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no notification for ${name}`)), ms);
    const waiter = (m) => {
      const l = linksOf(m);
      if (l) { clearTimeout(t); notifications.waiters.splice(notifications.waiters.indexOf(waiter), 1); resolve(l); }
    };
    notifications.waiters.push(waiter);
  });
}

/** Follows a notification link on the running controller, as the authenticating proxy in front of it would forward it. */
function followLink(link, headers, reason = 'checked the export scope', base = controller.approvalsUrl) {
  const u = new URL(link);
  return fetch(`${base}${u.pathname}${u.search}`, {
    method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body: new URLSearchParams({ reason }).toString(),
  });
}

afterAll(async () => {
  await controller?.close();
  await notifications?.close?.();
  if (cp) {
    await cp.request('DELETE', `/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/${CONTROLLER_CLUSTER_ROLE}`).catch(() => {});
    await cp.request('DELETE', `/apis/rbac.authorization.k8s.io/v1/clusterroles/${CONTROLLER_CLUSTER_ROLE}`).catch(() => {});
  }
  for (const r of reconcilers) await r.stop();
  if (cp) await cp.request('DELETE', `/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/${WEBHOOK_CONFIG_NAME}`);
  await webhook?.close();
  if (webhookTmp) fs.rmSync(webhookTmp, { recursive: true, force: true });
  await sidecar?.close();
  broker?.close();
  feed?.close();
  await sidecarRedis?.quit();
  kube?.close();
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
  const stream = client().messages.stream({ model: 'claude-sonnet-4-6', max_tokens: 256, messages: [{ role: 'user', content: RISKY }] });
  stream.on('streamEvent', (e) => events.push(e.type));
  const finished = stream.finalMessage();

  const approval = await waitForApproval((a) => a.spec.reasons.some((r) => r.includes('customer database')));
  expect(approval.spec.identity.owner).toBe(OWNER);
  expect(approval.spec.requestDigest).toMatch(/^sha256:[0-9a-f]{64}$/);
  expect(approval.spec.summary).toMatchObject({ model: 'claude-sonnet-4-6', stream: true });
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
  const req = client().messages.create({ model: 'claude-sonnet-4-6', max_tokens: 64, stream: true, messages: [{ role: 'user', content: `${RISKY} (second)` }] })
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

test('a SkillApproval deleted while its request waits denies the request at once, saying so', async () => {
  const req = client().messages.create({ model: 'claude-sonnet-4-6', max_tokens: 64, messages: [{ role: 'user', content: `${RISKY} (deleted)` }] }).catch((e) => e);
  const approval = await waitForApproval((a) => a.spec.reasons.some((r) => r.includes('customer database')));
  // Denied at once: left waiting for the rule's 5 minutes, the request would outlast this test.
  await cp.request('DELETE', `/apis/skillgate.dev/v1alpha1/namespaces/${NS}/skillapprovals/${approval.metadata.name}`);
  const err = await req;
  expect(err).toBeInstanceOf(Anthropic.PermissionDeniedError);
  expect(err.message).toMatch(new RegExp(`SkillApproval ${NS}/${approval.metadata.name} was denied by whoever deleted it \\(reason: the SkillApproval was deleted before a decision\\)`));
});

test('an approval nobody decides expires and the client gets a clear permission_error', async () => {
  const started = Date.now();
  const err = await client().messages.create({ model: 'claude-sonnet-4-6', max_tokens: 64, messages: [{ role: 'user', content: 'please expire quickly' }] }).catch((e) => e);
  expect(err).toBeInstanceOf(Anthropic.PermissionDeniedError);
  expect(err.message).toMatch(/SkillApproval .* expired after 2 s without a decision/);
  expect(Date.now() - started).toBeGreaterThanOrEqual(1900);
  const name = /SkillApproval [^/]+\/(\S+) expired/.exec(err.message)[1];
  expect((await getApproval(name)).status.phase).toBe('Expired');
});

test('a SkillPolicy applied with kubectl changes the running sidecar within 2 s, and its status counts the sidecar', async () => {
  const ok = await client().messages.create({ model: 'claude-sonnet-4-6', max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] });
  expect(ok.type).toBe('message');

  applyPolicy({ models: { allow: ['claude-haiku-*'] } }, 'haiku-only');
  // The clock starts once the API server holds the policy (kubectl returned): what is measured is
  // the sidecar's propagation, not kubectl's own start-up on a busy machine.
  const applied = Date.now();
  let err;
  while (!err && Date.now() - applied < 2000) {
    err = await client().messages.create({ model: 'claude-sonnet-4-6', max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] }).then(() => undefined, (e) => e);
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

test('a rule naming only an approver group is approved by a member of that group, and the decision records the groups the API server authenticated', async () => {
  const done = holdRequest('Summarise the incident timeline for the postmortem.');
  const approval = await waitForApproval((a) => a.spec.rules.some((r) => r.endsWith('/group-only')));
  expect(approval.spec.approvers).toEqual({ groups: ['secops'], quorum: 1 });
  expect(approval.spec.rules).toEqual([`${NS}/approvals/group-only`]);

  const r = await cli(['approvals', 'approve', approval.metadata.name, '--reason', 'postmortem owner asked'], kubeconfigs.erin);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  const message = await done;
  expect(message.content?.[0]?.text).toContain('incident timeline');
  const decided = await getApproval(approval.metadata.name);
  expect(decided.status.phase).toBe('Used');
  expect(decided.status.decisions).toEqual([expect.objectContaining({ user: 'erin@example.com', decision: 'approve', groups: expect.arrayContaining(['secops', 'oncall', 'system:authenticated']) })]);
});

test('a decision forged under another user’s name is rejected by the webhook, and so is a claimed group', async () => {
  const done = holdRequest('Draft the incident timeline for the status page.');
  const approval = await waitForApproval((a) => a.spec.rules.some((r) => r.endsWith('/group-only')));

  const forged = await writeDecisionAs('alice', approval.metadata.name, decision('erin@example.com', { groups: ['secops'] }));
  expect(forged.status).toBe(403);
  expect(forged.body.message).toMatch(/admission webhook "skillapprovals\.validate\.skillgate\.dev" denied the request/);
  expect(forged.body.message).toMatch(/a decision names user "erin@example\.com" but the request was made by "alice@example\.com": a decision can only be recorded under your own name/);

  const claimed = await writeDecisionAs('gina', approval.metadata.name, decision('gina@example.com', { groups: ['secops'] }));
  expect(claimed.status).toBe(403);
  expect(claimed.body.message).toMatch(/the decision by gina@example\.com claims groups secops that the API server did not authenticate/);

  // Without the claim, gina's own decision is admitted — and does not count: she is not in secops.
  const own = await writeDecisionAs('gina', approval.metadata.name, decision('gina@example.com', { groups: ['skillgate-approvers'] }));
  expect(own.status).toBe(200);
  expect((await getApproval(approval.metadata.name)).status?.phase ?? 'Pending').toBe('Pending');

  const deny = await cli(['approvals', 'deny', approval.metadata.name, '--reason', 'status page is not ready'], kubeconfigs.alice);
  expect(deny.code).toBe(0);
  const err = await done;
  expect(String(err.message)).toMatch(/was denied by alice@example\.com/);
});

test('self-approval is still refused when the owner writes the status directly under their own name', async () => {
  const done = holdRequest('Show the incident timeline again.');
  const approval = await waitForApproval((a) => a.spec.rules.some((r) => r.endsWith('/group-only')));
  const self = await writeDecisionAs('owner', approval.metadata.name, decision(OWNER));
  expect(self.status).toBe(422);
  expect(self.body.message).toMatch(/the skill's owner may not decide on its own request/);
  const viaCli = await cli(['approvals', 'approve', approval.metadata.name, '--reason', 'mine'], kubeconfigs.owner);
  expect(viaCli.code).not.toBe(0);
  expect(viaCli.stderr).toMatch(/owns skill triage and cannot decide its requests/);
  expect((await cli(['approvals', 'deny', approval.metadata.name, '--reason', 'cleanup'], kubeconfigs.bob)).code).toBe(0);
  await done;
});

test('a decided approval keeps its decisions and its phase, even against a writer the webhook does not see (decisions removed, a phase rewritten)', async () => {
  const done = holdRequest('Send the customer the incident timeline.');
  const approval = await waitForApproval((a) => a.spec.rules.some((r) => r.endsWith('/group-only')));
  expect((await cli(['approvals', 'deny', approval.metadata.name, '--reason', 'not now'], kubeconfigs.bob)).code).toBe(0);
  await done;
  const denied = await getApproval(approval.metadata.name);
  expect(denied.status.phase).toBe('Denied');
  const patch = (status) => cp.requestAs({ token: cp.token }, 'PATCH', `/apis/skillgate.dev/v1alpha1/namespaces/${NS}/skillapprovals/${approval.metadata.name}/status`, { status }, { contentType: 'application/merge-patch+json' });
  const erased = await patch({ decisions: null });
  expect([erased.status, erased.body.message]).toEqual([422, expect.stringMatching(/decisions are append-only \(they cannot be removed\)/)]);
  const flipped = await patch({ phase: 'Approved' });
  expect([flipped.status, flipped.body.message]).toEqual([422, expect.stringMatching(/a decided approval keeps its phase/)]);
  expect((await getApproval(approval.metadata.name)).status).toMatchObject({ phase: 'Denied', decisions: denied.status.decisions });
});

test('a phase written on its own (no decision behind it) is refused by the webhook, and the real approver still decides', async () => {
  const done = holdRequest('Send the customer the incident timeline (forged phase).');
  const approval = await waitForApproval((a) => a.spec.rules.some((r) => r.endsWith('/group-only')) && a.status?.phase === 'Pending');
  const patch = (status) => cp.requestAs({ token: cp.token }, 'PATCH', `/apis/skillgate.dev/v1alpha1/namespaces/${NS}/skillapprovals/${approval.metadata.name}/status`, { status }, { contentType: 'application/merge-patch+json' });
  for (const phase of ['Denied', 'Approved', 'Used']) {
    const forged = await patch({ phase });
    expect([phase, forged.status, forged.body.message]).toEqual([phase, 403, expect.stringMatching(new RegExp(`the phase may become ${phase} only when the recorded decisions say so`))]);
  }
  expect((await getApproval(approval.metadata.name)).status.phase).toBe('Pending');
  expect((await cli(['approvals', 'approve', approval.metadata.name, '--reason', 'ok'], kubeconfigs.bob)).code).toBe(0);
  const message = await done;
  expect(message.content?.[0]?.text).toBeDefined();
  expect((await getApproval(approval.metadata.name)).status.phase).toBe('Used');
});

test('a rule naming no approvers is decided by the group skillgate-approvers', async () => {
  const done = holdRequest('Export the payroll table.', { stream: false });
  const approval = await waitForApproval((a) => a.spec.rules.some((r) => r.endsWith('/no-approvers')));
  expect(approval.spec.approvers).toEqual({ groups: ['skillgate-approvers'], quorum: 1 });

  const outsider = await cli(['approvals', 'approve', approval.metadata.name, '--reason', 'fine'], kubeconfigs.alice);
  expect(outsider.code).not.toBe(0);
  expect(outsider.stderr).toMatch(/alice@example\.com is not an approver \(users: -; groups: skillgate-approvers\)/);

  const r = await cli(['approvals', 'approve', approval.metadata.name, '--reason', 'payroll run approved by HR'], kubeconfigs.gina);
  expect(r.code).toBe(0);
  const message = await done;
  expect(message.type).toBe('message');
});

test('quorum 2 needs two distinct real users: a second decision by the same user and a forged one do not count', async () => {
  const done = holdRequest('Rotate the production credentials now.', { stream: false });
  const approval = await waitForApproval((a) => a.spec.rules.some((r) => r.endsWith('/two-person')));
  expect(approval.spec.approvers).toEqual({ groups: ['secops'], quorum: 2 });

  expect((await cli(['approvals', 'approve', approval.metadata.name, '--reason', 'first'], kubeconfigs.alice)).code).toBe(0);
  expect((await getApproval(approval.metadata.name)).status.phase).toBe('Pending');

  const again = await cli(['approvals', 'approve', approval.metadata.name, '--reason', 'me again'], kubeconfigs.alice);
  expect(again.code).not.toBe(0);
  expect(again.stderr).toMatch(/alice@example\.com has already decided .*one decision per user/);

  const forged = await writeDecisionAs('alice', approval.metadata.name, decision('bob@example.com', { groups: ['secops'] }));
  expect(forged.status).toBe(403);
  expect((await getApproval(approval.metadata.name)).status.phase).toBe('Pending');

  const second = await cli(['approvals', 'approve', approval.metadata.name, '--reason', 'second pair of eyes'], kubeconfigs.bob);
  expect(second.code).toBe(0);
  const message = await done;
  expect(message.type).toBe('message');
  const used = await getApproval(approval.metadata.name);
  expect(used.status.phase).toBe('Used');
  expect(used.status.decisions.map((d) => d.user)).toEqual(['alice@example.com', 'bob@example.com']);
});

test('a second policy\'s rule adds an approval needed, never an approver who suffices: each matched rule is approved by its own approvers', async () => {
  applyPolicy({ approval: { rules: [{ name: 'ledger', when: { keywords: ['quarterly ledger'] }, approvers: { users: ['gina@example.com'] } }] } }, 'ledger');
  await feedReaches((s) => s.effective.policies.some((p) => p.includes('/ledger@')));
  try {
    const done = holdRequest('Attach the quarterly ledger to the incident timeline.', { stream: false });
    const approval = await waitForApproval((a) => a.spec.rules.some((r) => r.endsWith('/ledger/ledger')));
    expect(approval.spec.requirements).toEqual([
      { rule: `${NS}/approvals/group-only`, groups: ['secops'], quorum: 1 },
      { rule: `${NS}/ledger/ledger`, users: ['gina@example.com'], quorum: 1 },
    ]);
    // gina is named by the ledger rule only: her approval alone releases nothing the secops rule holds.
    expect((await cli(['approvals', 'approve', approval.metadata.name, '--reason', 'ledger is fine'], kubeconfigs.gina)).code).toBe(0);
    expect((await getApproval(approval.metadata.name)).status?.phase ?? 'Pending').toBe('Pending');
    // The CLI shows what each rule still needs.
    const shown = await cli(['approvals', 'show', approval.metadata.name], kubeconfigs.erin);
    expect(shown.stdout).toContain(`approvers  ${NS}/approvals/group-only: 0/1 approved; groups secops; users -`);
    expect(shown.stdout).toContain(`approvers  ${NS}/ledger/ledger: 1/1 approved (gina@example.com); groups -; users gina@example.com`);
    const listed = await cli(['approvals', 'list', '--pending'], kubeconfigs.erin);
    expect(listed.stdout).toMatch(new RegExp(`${approval.metadata.name}\\s.*\\s0/1,1/1\\s`));
    expect((await cli(['approvals', 'approve', approval.metadata.name, '--reason', 'timeline is fine'], kubeconfigs.erin)).code).toBe(0);
    const message = await done;
    expect(message.type).toBe('message');
    expect((await getApproval(approval.metadata.name)).status.phase).toBe('Used');
  } finally {
    cp.kubectl(['delete', 'skillpolicy', 'ledger', '-n', NS]);
    await feedReaches((s) => !s.effective.policies.some((p) => p.includes('/ledger@')));
  }
});

test('one person is one vote: approving through the CLI as oidc:dave@example.com and through a link as dave@example.com does not make a quorum of 2', async () => {
  const done = holdRequest('Rotate the production credentials once more.', { stream: false });
  const approval = await waitForApproval((a) => a.spec.rules.some((r) => r.endsWith('/two-person')));
  const name = approval.metadata.name;
  expect((await cli(['approvals', 'approve', name, '--reason', 'first, from the CLI'], kubeconfigs.dave)).code).toBe(0);
  expect((await getApproval(name)).status.decisions.map((d) => d.user)).toEqual(['oidc:dave@example.com']);

  // The link decision is recorded under its own name (names are compared as written), but counts
  // once with the CLI one: still Pending.
  const links = await notifiedLinks(name);
  const again = await followLink(links.Approve, { 'x-forwarded-user': 'dave@example.com', 'x-forwarded-groups': 'secops' }, 'second, from the link');
  expect(again.status).toBe(200);
  expect((await getApproval(name)).status.decisions.map((d) => d.user)).toEqual(['oidc:dave@example.com', 'dave@example.com']);
  expect((await getApproval(name)).status?.phase ?? 'Pending').toBe('Pending');
  // The same name once more, written past the controller, is refused (by the CRD's own rule, which
  // the API server checks before the webhook, or by the webhook).
  const exp = Math.floor(Date.parse(approval.spec.expiresAt) / 1000);
  const proof = signLinkDecision(LINK_SECRET, { namespace: NS, name, action: 'approve', user: 'dave@example.com', groups: ['secops'], reason: 'past the controller', exp });
  const saToken = (await cp.request('POST', `/api/v1/namespaces/${SYS}/serviceaccounts/${CONTROLLER_SA}/token`, { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds: 600 } })).body.status.token;
  const direct = await writeDecisionAs({ token: saToken }, name, decision('dave@example.com', { groups: ['secops'], reason: 'past the controller', via: 'signed-link', proof }));
  expect([403, 422]).toContain(direct.status);
  expect(direct.body.message).toMatch(/one decision per user/);
  expect((await getApproval(name)).status?.phase ?? 'Pending').toBe('Pending');

  expect((await cli(['approvals', 'approve', name, '--reason', 'second pair of eyes'], kubeconfigs.bob)).code).toBe(0);
  expect((await done).type).toBe('message');
});

describe('signed approve/deny links followed on the running controller', () => {
  test('a forged link approves nothing; the real link, followed by an approver, approves the held request under the approver’s name', async () => {
    const done = holdRequest(`${RISKY} (decided through a link)`);
    const approval = await waitForApproval((a) => a.spec.reasons.some((r) => r.includes('customer database')) && !a.status?.decisions?.length);
    const name = approval.metadata.name;
    const links = await notifiedLinks(name);
    expect(links.Approve).toMatch(new RegExp(`^https://skillgate\\.example\\.com/approvals/${NS}/${name}/approve\\?token=`));

    // Forged links: an altered signature, and the deny link's token moved onto approve.
    // Flip a character in the middle of the token: the last base64url character may carry only
    // padding bits, so changing it can leave the signature bytes (and the link) valid.
    const token = new URL(links.Approve).searchParams.get('token');
    const mid = Math.floor(token.length / 2);
    const altered = links.Approve.replace(token, token.slice(0, mid) + (token[mid] === 'A' ? 'Q' : 'A') + token.slice(mid + 1));
    const moved = `${links.Approve.split('?')[0]}?token=${new URL(links.Deny).searchParams.get('token')}`;
    for (const forged of [altered, moved]) {
      const r = await followLink(forged, { 'x-forwarded-user': 'bob@example.com' });
      expect(r.status).toBe(403);
      expect(await r.text()).toMatch(/signature is invalid|another approval or action/);
    }
    // The genuine link posted to the controller's main listener (the one every sidecar reaches for
    // the token exchange, not the proxy's) is not served there: nothing to forge an identity header on.
    const direct = await followLink(links.Approve, { 'x-forwarded-user': 'bob@example.com' }, 'posted past the proxy', controller.url);
    expect(direct.status).toBe(404);
    expect(await direct.json()).toMatchObject({ error_description: expect.stringContaining('served on the approvals listener (SKILLGATE_APPROVAL_LISTEN)') });
    // The skill's owner cannot use the link either.
    const self = await followLink(links.Approve, { 'x-forwarded-user': OWNER });
    expect(self.status).toBe(409);
    expect(await self.text()).toMatch(/owns skill triage and cannot decide its requests/);
    expect((await getApproval(name)).status?.phase ?? 'Pending').toBe('Pending');

    // The controller's ServiceAccount token alone forges nothing: the webhook wants a proof made with the link key.
    const saToken = (await cp.request('POST', `/api/v1/namespaces/${SYS}/serviceaccounts/${CONTROLLER_SA}/token`, { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds: 600 } })).body.status.token;
    const exp = Math.floor(Date.parse(approval.spec.expiresAt) / 1000);
    const wrongKey = signLinkDecision('not-the-link-secret-0123456789', { namespace: NS, name, action: 'approve', user: 'bob@example.com', groups: [], reason: 'forged', exp });
    const forgedBySa = await writeDecisionAs({ token: saToken }, name, decision('bob@example.com', { groups: [], reason: 'forged', via: 'signed-link', proof: wrongKey }));
    expect(forgedBySa.status).toBe(403);
    expect(forgedBySa.body.message).toMatch(/the signed-link decision by bob@example\.com is refused: its proof does not match .* \(forged or altered\)/);
    // And a genuine proof is worthless to anyone but the controller.
    const genuine = signLinkDecision(LINK_SECRET, { namespace: NS, name, action: 'approve', user: 'bob@example.com', groups: [], reason: 'replayed', exp });
    const replayed = await writeDecisionAs('alice', name, decision('bob@example.com', { groups: [], reason: 'replayed', via: 'signed-link', proof: genuine }));
    expect(replayed.status).toBe(403);
    expect(replayed.body.message).toMatch(new RegExp(`signed-link decisions are recorded only by ${CONTROLLER_USER}`));
    expect((await getApproval(name)).status?.phase ?? 'Pending').toBe('Pending');

    // The real link, followed by bob (named by the rule; his proxy sends no groups).
    const ok = await followLink(links.Approve, { 'x-forwarded-user': 'bob@example.com' });
    const page = await ok.text();
    expect(ok.status).toBe(200);
    expect(page).toContain(`bob@example.com: approve ${NS}/${name} — now Approved`);

    const message = await done;
    expect(message.content?.[0]?.text).toContain('customer database');
    const used = await getApproval(name);
    expect(used.status.phase).toBe('Used');
    expect(used.status.decisions).toEqual([expect.objectContaining({
      user: 'bob@example.com', groups: [], decision: 'approve', reason: 'checked the export scope', via: 'signed-link', proof: expect.stringMatching(/^v1\.\d+\.[\w-]{43}$/),
    })]);
  }, 60_000);
});

describe('skillgate lock records who locked, as the API server knows them', () => {
  test('createdBy is the SelfSubjectReview username, not a name from the environment', async () => {
    cp.kubectl(['apply', '-f', '-'], { input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [
      { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: `${NS}-locker` },
        rules: [{ apiGroups: ['skillgate.dev'], resources: ['skilllocks'], verbs: ['get', 'list', 'create', 'update', 'patch', 'delete'] }] },
      { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: { name: `${NS}-locker` },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: `${NS}-locker` },
        subjects: [{ kind: 'User', name: 'ian@example.com', apiGroup: 'rbac.authorization.k8s.io' }] },
    ] }) });
    const kc = userKubeconfig('ian@example.com', ['responders'], 'ian');
    const name = `e2e-lock-${Date.now().toString(36)}`;
    const locked = await new Promise((resolve) => {
      execFile(process.execPath, [CLI, 'lock', 'skill', 'whoami-probe', '-n', NS, '--reason', 'e2e audit field', '--name', name, '--kubeconfig', kc],
        { env: { ...process.env, KUBECONFIG: '', USER: 'mallory', SKILLGATE_USER: 'mallory' } },
        (err, stdout, stderr) => resolve({ code: err ? err.code ?? 1 : 0, stdout, stderr }));
    });
    expect(locked.stderr).toBe('');
    expect(locked.code).toBe(0);
    const lock = JSON.parse(cp.kubectl(['get', 'skilllock', name, '-o', 'json']));
    expect(lock.spec.createdBy).toBe('ian@example.com');
    // Locking the target again with a sooner end would weaken the lock in force: refused unless --replace.
    const again = (...extra) => new Promise((resolve) => {
      execFile(process.execPath, [CLI, 'lock', 'skill', 'whoami-probe', '-n', NS, '--reason', 'a later look', '--name', name, '--kubeconfig', kc, ...extra],
        { env: { ...process.env, KUBECONFIG: '' } }, (err, stdout, stderr) => resolve({ code: err ? err.code ?? 1 : 0, stdout, stderr }));
    });
    const weaker = await again('--expires', '1m');
    expect(weaker.code).toBe(1);
    expect(weaker.stderr).toMatch(new RegExp(`already holds skill ${NS}/whoami-probe until unlocked \\(reason: "e2e audit field", by ian@example\\.com\\); this lock would lift it sooner: pass --replace`));
    expect(JSON.parse(cp.kubectl(['get', 'skilllock', name, '-o', 'json'])).spec.reason).toBe('e2e audit field');
    const replaced = await again('--expires', '1m', '--replace');
    expect(replaced.code).toBe(0);
    expect(replaced.stdout).toMatch(/replaced the lock there: reason "e2e audit field", by ian@example\.com/);
    expect(JSON.parse(cp.kubectl(['get', 'skilllock', name, '-o', 'json'])).spec).toMatchObject({ reason: 'a later look', expiresAt: expect.any(String) });
    cp.kubectl(['delete', 'skilllock', name]);
  });
});
