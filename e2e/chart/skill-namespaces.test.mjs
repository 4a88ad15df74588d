// e2e: what the chart does for the skills' namespaces beyond the webhooks, on a real kube-apiserver
// and with the real helm and kubectl:
// - its ValidatingAdmissionPolicy (serviceAccountTokenSecrets.refuse, on by default) refuses Secrets
//   of type kubernetes.io/service-account-token in namespaces labelled skillgate.dev/inject=enabled —
//   the legacy way to a long-lived Kubernetes API token any container could mount — and nothing else:
//   other Secrets there, such Secrets elsewhere, and updates of one made before the label all pass;
//   turned off, the chart renders no policy;
// - the restart its notes (and the README) give for pods that predate a namespace's label works as
//   written: every Deployment, StatefulSet and DaemonSet of the namespace gets a new pod template.
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { eventually, startControlPlane } from '../k8s/control-plane.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const CHART = path.join(ROOT, 'charts/skillgate');
const RUN = randomBytes(3).toString('hex');
const NS = `sg-skillns-${RUN}`;            // the release namespace
const SKILLS = `sg-skillns-skills-${RUN}`; // labelled skillgate.dev/inject=enabled
const PLAIN = `sg-skillns-plain-${RUN}`;   // not labelled
const RELEASE = `sg-${RUN}`;
const POLICY = `${RELEASE}-skillgate-no-sa-token-secrets`;

let cp;
let kubeVersion;
let notes;

const tokenSecret = (name, sa = 'default') => ({
  apiVersion: 'v1', kind: 'Secret', type: 'kubernetes.io/service-account-token',
  metadata: { name, annotations: { 'kubernetes.io/service-account.name': sa } },
});
const createSecret = (ns, body) => cp.request('POST', `/api/v1/namespaces/${ns}/secrets`, body);


function render(extra = []) {
  const out = cp.helm(['template', RELEASE, CHART, '--namespace', NS, '--kube-version', kubeVersion, '--set', 'upstream.apiKey=sk-ant-not-real', ...extra]);
  return parseAllDocuments(out).map((d) => d.toJS()).filter(Boolean);
}

beforeAll(async () => {
  cp = await startControlPlane();
  kubeVersion = JSON.parse(cp.kubectl(['version', '-o', 'json'])).serverVersion.gitVersion;
  await cp.ensureNamespace(NS);
  await cp.ensureNamespace(PLAIN);
  // A legacy token Secret made before the namespace was labelled (the policy cannot undo it).
  await cp.ensureNamespace(SKILLS);
  expect((await createSecret(SKILLS, tokenSecret('made-before-the-label'))).status).toBe(201);
  await cp.ensureNamespace(SKILLS, { 'skillgate.dev/inject': 'enabled' });
  // A real install with default values (its pods stay Pending: no scheduler here).
  notes = cp.helm(['install', RELEASE, CHART, '--namespace', NS, '--set', 'upstream.apiKey=sk-ant-not-real']);
}, 180_000);

afterAll(async () => {
  if (!cp) return;
  try { cp.helm(['uninstall', RELEASE, '--namespace', NS, '--ignore-not-found']); } catch { /* best effort */ }
  for (const ns of [SKILLS, PLAIN, NS]) await cp.deleteNamespace(ns).catch(() => {});
  await cp.stop();
});

describe('legacy ServiceAccount token Secrets in skill namespaces', () => {
  test('the chart renders the policy and its binding by default, for the namespaces the webhooks serve, and none when turned off', () => {
    const objects = render();
    const policy = objects.find((o) => o.kind === 'ValidatingAdmissionPolicy');
    const binding = objects.find((o) => o.kind === 'ValidatingAdmissionPolicyBinding');
    expect([policy?.metadata.name, binding?.spec.policyName, binding?.spec.validationActions]).toEqual([POLICY, POLICY, ['Deny']]);
    const webhookSelector = objects.find((o) => o.kind === 'MutatingWebhookConfiguration').webhooks[0].namespaceSelector;
    expect(binding.spec.matchResources.namespaceSelector).toEqual(webhookSelector);
    const off = render(['--set', 'serviceAccountTokenSecrets.refuse=false']);
    expect(off.filter((o) => o.kind.startsWith('ValidatingAdmissionPolicy'))).toEqual([]);
  });

  test('after helm install, creating one in a labelled namespace is refused with a message that says why and what to use instead; other Secrets and other namespaces are untouched', async () => {
    // The API server takes a moment to load a new policy: until then the Secret is made (and removed again).
    const refused = await eventually('the policy to refuse a service-account-token Secret', async () => {
      const r = await createSecret(SKILLS, tokenSecret('app-api-token'));
      if (r.status === 201) await cp.request('DELETE', `/api/v1/namespaces/${SKILLS}/secrets/app-api-token`);
      return r.status === 403 && r;
    });
    expect(refused.body.reason).toBe('Forbidden');
    expect(refused.body.message).toMatch(new RegExp(`ValidatingAdmissionPolicy '${POLICY}'.*Secret app-api-token: Secrets of type kubernetes.io/service-account-token are refused in namespaces labelled skillgate.dev/inject=enabled \\(skillgate\\).* for ServiceAccount default .*kubectl create token`));
    // Not by kubectl either (what a user types).
    expect(() => cp.kubectl(['create', '-n', SKILLS, '-f', '-'], { input: JSON.stringify(tokenSecret('by-kubectl', 'skill-bot')) })).toThrow(/for ServiceAccount skill-bot/);
    // Everything else passes.
    expect((await createSecret(SKILLS, { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'app-config' }, stringData: { k: 'v' } })).status).toBe(201);
    expect((await createSecret(SKILLS, { apiVersion: 'v1', kind: 'Secret', type: 'kubernetes.io/tls', metadata: { name: 'app-tls' }, data: { 'tls.crt': '', 'tls.key': '' } })).status).toBe(201);
    expect((await createSecret(PLAIN, tokenSecret('elsewhere'))).status).toBe(201);
    expect((await createSecret(NS, tokenSecret('in-skillgates-own'))).status).toBe(201);
    // One made before the label can still be updated (the control plane's legacy-token cleanup labels them).
    const labelled = await cp.request('PATCH', `/api/v1/namespaces/${SKILLS}/secrets/made-before-the-label`, { metadata: { labels: { 'kubernetes.io/legacy-token-invalid-since': '2026-01-01' } } }, { contentType: 'application/merge-patch+json' });
    expect(labelled.status).toBe(200);
  });
});

describe('pods that predate a namespace\'s label', () => {
  test('the restart the notes give recreates the pods of every Deployment, StatefulSet and DaemonSet of the namespace', async () => {
    const restart = notes.split('\n').map((l) => l.trim()).find((l) => l.startsWith('kubectl rollout restart'));
    expect(restart).toBe('kubectl rollout restart deployment,statefulset,daemonset -n <skills-namespace>');
    const template = { metadata: { labels: { app: 'old' } }, spec: { containers: [{ name: 'app', image: 'example.invalid/app:1' }] } };
    const selector = { matchLabels: { app: 'old' } };
    await cp.request('POST', `/apis/apps/v1/namespaces/${PLAIN}/deployments`, { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'old-app' }, spec: { selector, template } });
    await cp.request('POST', `/apis/apps/v1/namespaces/${PLAIN}/statefulsets`, { apiVersion: 'apps/v1', kind: 'StatefulSet', metadata: { name: 'old-db' }, spec: { selector, serviceName: 'old-db', template } });
    await cp.request('POST', `/apis/apps/v1/namespaces/${PLAIN}/daemonsets`, { apiVersion: 'apps/v1', kind: 'DaemonSet', metadata: { name: 'old-agent' }, spec: { selector, template } });
    const args = restart.replace('<skills-namespace>', PLAIN).split(' ').slice(1);
    expect(cp.kubectl(args)).toMatch(/deployment.apps\/old-app restarted[\s\S]*statefulset.apps\/old-db restarted[\s\S]*daemonset.apps\/old-agent restarted/);
    for (const [kind, name] of [['deployments', 'old-app'], ['statefulsets', 'old-db'], ['daemonsets', 'old-agent']]) {
      const o = (await cp.request('GET', `/apis/apps/v1/namespaces/${PLAIN}/${kind}/${name}`)).body;
      expect(o.spec.template.metadata.annotations?.['kubectl.kubernetes.io/restartedAt']).toBeDefined();
    }
  });
});
