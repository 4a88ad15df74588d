// e2e: the Helm chart (charts/skillgate) proven against the real kube-apiserver and the real helm.
// - helm lint --strict passes, with default values and with every optional part turned on;
// - the rendered objects (default values; cert-manager + ServiceMonitor/PodMonitor + PrometheusRule
//   + recorder + every controller option) are accepted by the API server's server-side dry run;
// - the chart agrees with the code: its webhook configurations are those @skillgate/webhook
//   generates, its injection config parses with the webhook's own parser, every variable it sets
//   on the controller is read by the controller's code, every webhook flag exists; its dashboard and
//   alerts query only metrics the components define, take a gauge every replica reports alike once
//   (max by), and every alert has a description the README's "Metrics and alerts" backs;
// - the recorder StatefulSet (on by default) runs the real `skillgate recorder` with the flags and
//   environment the chart gives it, and its probe paths and /metrics answer;
// - sidecars get the controller's CA (controller.tls.caPem, or ca.crt of the TLS Secret looked up at
//   install time) through the injection config;
// - a real `helm install` succeeds (pods stay Pending: no scheduler here) and `helm uninstall`
//   removes what it installed.
// The controller's RBAC is proven in controller-rbac.test.mjs.
// The CRD-copy check (charts/skillgate/crds == crds/) is in crds-sync.test.mjs (no control plane).
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { Redis } from 'ioredis';
import { createCertificateAuthority, parseControllerCaPem, parseWebhookConfigText, webhookConfigurations } from '@skillgate/webhook';
import { webhookCommand } from 'skillgate/commands/webhook';
import { recorderCommand } from 'skillgate/commands/recorder';
import { startControlPlane, freePort } from '../k8s/control-plane.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const CHART = path.join(ROOT, 'charts/skillgate');
const RUN = randomBytes(3).toString('hex');
const NS = `sg-chart-${RUN}`;
const RELEASE = `sg-${RUN}`;
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

// The CA that issued the controller's HTTPS certificate, as an operator passes it (--set-file).
const CA_DIR = fs.mkdtempSync(path.join(os.tmpdir(), 'skillgate-e2e-chart-ca-'));
const CONTROLLER_CA = createCertificateAuthority('e2e-controller-ca').certPem;
const CA_FILE = path.join(CA_DIR, 'controller-ca.pem');
fs.writeFileSync(CA_FILE, CONTROLLER_CA);

// Every optional part on (secrets referenced by name only: a dry run does not mount them).
const ALL_OPTIONS = [
  'certManager.enabled=true', 'metrics.serviceMonitor.enabled=true', 'metrics.prometheusRule.enabled=true', 'recorder.enabled=true',
  'controller.tls.existingSecret=ctl-tls', 'controller.signingKey.existingSecret=ctl-signing', 'controller.scim.enabled=true',
  'controller.scim.existingSecret=ctl-scim', 'controller.approvals.notifyUrl=https://hooks.example.invalid/x',
  'controller.approvals.publicUrl=https://skillgate.example.invalid', 'controller.approvals.linkSecret.existingSecret=ctl-links',
  'controller.approvals.userHeader=x-auth-user', 'controller.approvals.proxyFrom[0].namespaceSelector.matchLabels.team=auth',
  'upstream.apiKey=sk-ant-not-real', 'redis.existingSecret=redis-url',
  'injection.allowedExceptions[0].name=database', 'injection.excludeOutboundPorts[0]=5432', 'injection.allowedCsiDrivers[0]=secrets-store.csi.k8s.io',
].flatMap((s) => ['--set', s]).concat(['--set-file', `controller.tls.caPem=${CA_FILE}`]);

// cert-manager's and the Prometheus operator's CRDs are not in this cluster. Minimal stand-ins
// (right group, kind, scope and version; schema open: x-kubernetes-preserve-unknown-fields) let the
// server-side dry run accept the objects' kinds and metadata; their spec is NOT validated here.
function standInCrd(group, kind, plural) {
  return {
    apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition',
    metadata: { name: `${plural}.${group}`, labels: { 'skillgate.dev/e2e-stand-in': 'true' } },
    spec: {
      group, scope: 'Namespaced', names: { kind, plural, singular: kind.toLowerCase(), listKind: `${kind}List` },
      versions: [{ name: 'v1', served: true, storage: true, schema: { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } } }],
    },
  };
}
const STAND_INS = [
  ['monitoring.coreos.com', 'ServiceMonitor', 'servicemonitors'], ['monitoring.coreos.com', 'PodMonitor', 'podmonitors'],
  ['monitoring.coreos.com', 'PrometheusRule', 'prometheusrules'], ['cert-manager.io', 'Certificate', 'certificates'],
  ['cert-manager.io', 'Issuer', 'issuers'],
].map(([g, k, p]) => standInCrd(g, k, p));

let cp;
let tmp;
let kubeVersion;
const installedStandIns = [];

/** Runs a cached binary against the harness cluster, asynchronously; rejects with stderr. */
function run(bin, args, { input } = {}) {
  const env = { ...process.env, KUBECONFIG: cp.kubeconfigPath, HELM_CACHE_HOME: path.join(tmp, 'helm-cache'), HELM_CONFIG_HOME: path.join(tmp, 'helm-config'), HELM_DATA_HOME: path.join(tmp, 'helm-data') };
  for (const k of Object.keys(env)) if (/^(https?|all|no)_proxy$/i.test(k)) delete env[k];
  return new Promise((resolve, reject) => {
    const child = execFile(bin, args, { env, encoding: 'utf8', maxBuffer: 32 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${path.basename(bin)} ${args.join(' ')}: ${stderr || err.message}`));
      else resolve(stdout);
    });
    child.stdin.end(input ?? '');
  });
}
const helm = (args) => run(cp.helmBin, args);
const kubectl = (args, input) => run(cp.kubectlBin, ['--kubeconfig', cp.kubeconfigPath, ...args], { input });

async function render(extra = []) {
  const out = await helm(['template', RELEASE, CHART, '--namespace', NS, '--kube-version', kubeVersion, ...extra]);
  return parseAllDocuments(out).map((d) => d.toJS()).filter(Boolean);
}

const find = (objects, kind, suffix) => objects.find((o) => o.kind === kind && (!suffix || o.metadata.name.endsWith(suffix)));

/** The install notes the chart prints with these values (a server-side dry run: nothing installed). */
const installNotes = (extra = []) => helm(['install', RELEASE, CHART, '--namespace', NS, '--dry-run=server', '--set', 'upstream.apiKey=sk-ant-not-real', ...extra]);

/** The TypeScript sources of these packages (packages/NAME/src), as one text. */
function sourceOf(...packages) {
  const source = [];
  const walk = (dir) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.ts')) source.push(fs.readFileSync(p, 'utf8'));
    }
  };
  for (const pkg of packages) walk(path.join(ROOT, 'packages', pkg, 'src'));
  return source.join('\n');
}

beforeAll(async () => {
  cp = await startControlPlane();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'skillgate-e2e-chart-'));
  kubeVersion = JSON.parse(await kubectl(['version', '-o', 'json'])).serverVersion.gitVersion;
  await cp.ensureNamespace(NS, {});
  await kubectl(['apply', '--server-side', '-f', path.join(CHART, 'crds')]);
  for (const crd of STAND_INS) {
    const exists = (await cp.request('GET', `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${crd.metadata.name}`)).status === 200;
    if (exists) continue; // a real cluster may have the real ones: use those
    await kubectl(['apply', '--server-side', '-f', '-'], JSON.stringify(crd));
    installedStandIns.push(crd.metadata.name);
  }
  const crds = ['skillpolicies.skillgate.dev', 'skillapprovals.skillgate.dev', 'skilllocks.skillgate.dev', ...STAND_INS.map((c) => c.metadata.name)];
  await kubectl(['wait', '--for=condition=Established', '--timeout=60s', ...crds.map((n) => `crd/${n}`)]);
}, 600000);

afterAll(async () => {
  if (cp) {
    await helm(['uninstall', RELEASE, '--namespace', NS, '--ignore-not-found']).catch(() => {});
    for (const name of installedStandIns) await cp.request('DELETE', `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${name}`).catch(() => {});
    await cp.deleteNamespace(NS).catch(() => {});
  }
  await cp?.stop();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  fs.rmSync(CA_DIR, { recursive: true, force: true });
});

describe('the Helm chart', () => {
  test('helm lint --strict passes with default values and with every optional part on', async () => {
    await expect(helm(['lint', '--strict', CHART, '--kube-version', kubeVersion])).resolves.toMatch(/0 chart\(s\) failed/);
    await expect(helm(['lint', '--strict', CHART, '--kube-version', kubeVersion, ...ALL_OPTIONS])).resolves.toMatch(/0 chart\(s\) failed/);
  });

  test('its Grafana dashboard shows every component, and it and the alerts query only metrics the components define', async () => {
    const objects = await render(['--set', 'metrics.prometheusRule.enabled=true']);
    const dashboard = JSON.parse(Object.values(find(objects, 'ConfigMap', '-dashboard').data)[0]);
    const metricsOf = (exprs) => new Set(exprs.flatMap((e) => e.match(/skillgate_[a-z0-9_]+/g) ?? []).map((m) => m.replace(/_(bucket|sum|count)$/, '')));
    const onDashboard = metricsOf(dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr)));
    for (const component of ['sidecar', 'controller', 'webhook', 'recorder']) {
      expect([...onDashboard].filter((m) => m.startsWith(`skillgate_${component}_`)).length).toBeGreaterThan(0);
    }
    const alerts = find(objects, 'PrometheusRule').spec.groups.flatMap((g) => g.rules);
    // No alert leans on a scrape job's name (the ServiceMonitor's and the annotations' differ).
    expect(alerts.filter((a) => /\bjob\b/.test(a.expr)).map((a) => a.alert)).toEqual([]);
    const used = new Set([...onDashboard, ...metricsOf(alerts.map((a) => a.expr))]);
    // Defined: a metric name written out in a component's source, or a process metric under a
    // prefix a component registers them with (prom-client's defaults, or the sidecar's own set).
    const code = sourceOf('sidecar', 'controller', 'webhook', 'recorder');
    const processPrefixes = [...code.matchAll(/(?:collectDefaultMetrics\(\{[^}]*prefix: |registerProcessMetrics\(this\.registry, )'(skillgate_[a-z]+_)'/g)].map((m) => m[1]);
    expect(processPrefixes.sort()).toEqual(['skillgate_controller_', 'skillgate_recorder_', 'skillgate_sidecar_', 'skillgate_webhook_']);
    const defined = (m) => new RegExp(`['"\`]${m}['"\`]`).test(code) || processPrefixes.some((p) => ['process_resident_memory_bytes', 'process_start_time_seconds'].some((n) => m === `${p}${n}`));
    expect([...used].filter((m) => !defined(m))).toEqual([]);
  });

  test('a gauge every replica reports alike is taken once (max by) on the dashboard and in the alerts, never summed over replicas', async () => {
    const objects = await render(['--set', 'metrics.prometheusRule.enabled=true']);
    const dashboard = JSON.parse(Object.values(find(objects, 'ConfigMap', '-dashboard').data)[0]);
    const alerts = find(objects, 'PrometheusRule').spec.groups.flatMap((g) => g.rules);
    const exprs = [...dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr)), ...alerts.map((a) => a.expr)];
    // The components say in a gauge's HELP when every replica reports the same value.
    const alike = [...sourceOf('controller', 'recorder').matchAll(/name: '(skillgate_[a-z_]+)', help: '[^']*every replica/gi)].map((m) => m[1]);
    expect(alike.sort()).toEqual(['skillgate_controller_locks', 'skillgate_recorder_lag_entries']);
    for (const metric of alike) {
      const using = exprs.filter((e) => new RegExp(`\\b${metric}\\b`).test(e));
      expect(using.length).toBeGreaterThan(0);
      for (const e of using) expect(e).toMatch(new RegExp(`max by \\([^)]*\\) \\(${metric}\\b`));
    }
  });

  test('every alert says what it means and what to do, the README explains each, and a sidecar failing closed is alerted on', async () => {
    const objects = await render(['--set', 'metrics.prometheusRule.enabled=true']);
    const alerts = find(objects, 'PrometheusRule').spec.groups.flatMap((g) => g.rules);
    const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('\n## Metrics and alerts\n'));
    expect(section.length).toBeLessThan(readme.length);
    for (const a of alerts) {
      expect([a.alert, a.annotations?.summary?.length > 0, a.annotations?.description?.length > 0]).toEqual([a.alert, true, true]);
      expect([a.alert, a.annotations.description]).toEqual([a.alert, expect.stringContaining("README.md, section 'Metrics and alerts'")]);
      expect([a.alert, section.slice(0, section.indexOf('\n## ', 1)).includes(`\`${a.alert}\``)]).toEqual([a.alert, true]);
    }
    // Each state in which a sidecar refuses requests on its own (or is about to) fires an alert.
    for (const metric of ['skillgate_sidecar_lock_feed_lost_seconds', 'skillgate_sidecar_policy_refusing', 'skillgate_sidecar_policy_reload_failing', 'skillgate_sidecar_record_spooling']) {
      expect([metric, alerts.filter((a) => a.expr.includes(metric)).length]).toEqual([metric, 1]);
    }
  });

  test('without the ServiceMonitor, the controller, webhook and recorder pods announce their metrics to Prometheus; with it, they do not', async () => {
    const plain = await render();
    const annotations = (objects, kind, component) => find(objects, kind, `-${component}`).spec.template.metadata.annotations ?? {};
    const scrape = (port, scheme) => ({ 'prometheus.io/scrape': 'true', 'prometheus.io/port': String(port), 'prometheus.io/path': '/metrics', ...(scheme ? { 'prometheus.io/scheme': scheme } : {}) });
    // Each on its plain-HTTP metrics port: a Prometheus without the installation CA can scrape it.
    expect(annotations(plain, 'Deployment', 'controller')).toEqual(scrape(9090));
    expect(annotations(plain, 'Deployment', 'webhook')).toMatchObject(scrape(9090));
    expect(annotations(plain, 'StatefulSet', 'recorder')).toEqual(scrape(9090));
    const controller = find(plain, 'Deployment', '-controller').spec.template.spec.containers[0];
    expect(controller.env.find((e) => e.name === 'SKILLGATE_METRICS_LISTEN')?.value).toBe('0.0.0.0:9090');
    expect(controller.ports).toContainEqual({ name: 'metrics', containerPort: 9090 });
    expect(find(plain, 'Service', '-controller').spec.ports).toContainEqual({ name: 'metrics', port: 9090, targetPort: 'metrics' });
    const operator = await render(['--set', 'metrics.serviceMonitor.enabled=true']);
    for (const [kind, component] of [['Deployment', 'controller'], ['Deployment', 'webhook'], ['StatefulSet', 'recorder']]) {
      expect(Object.keys(annotations(operator, kind, component)).filter((k) => k.startsWith('prometheus.io/'))).toEqual([]);
    }
  });

  test('each component\'s replicas prefer different nodes, unless the operator gives an affinity of their own', async () => {
    const objects = await render();
    for (const [kind, component] of [['Deployment', 'controller'], ['Deployment', 'webhook'], ['StatefulSet', 'recorder']]) {
      const spec = find(objects, kind, `-${component}`).spec.template.spec;
      expect(spec.affinity).toEqual({
        podAntiAffinity: {
          preferredDuringSchedulingIgnoredDuringExecution: [{
            weight: 100,
            podAffinityTerm: { topologyKey: 'kubernetes.io/hostname', labelSelector: { matchLabels: { 'app.kubernetes.io/name': 'skillgate', 'app.kubernetes.io/instance': RELEASE, 'app.kubernetes.io/component': component } } },
          }],
        },
      });
      expect(spec.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
    }
    const own = await render(['--set', 'affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].key=pool',
      '--set', 'affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].operator=Exists', '--set', 'nodeSelector.zone=a']);
    for (const [kind, component] of [['Deployment', 'controller'], ['Deployment', 'webhook'], ['StatefulSet', 'recorder']]) {
      const spec = find(own, kind, `-${component}`).spec.template.spec;
      expect(Object.keys(spec.affinity)).toEqual(['nodeAffinity']);
      expect(spec.nodeSelector).toEqual({ zone: 'a' });
    }
  });

  test('values.schema.json refuses a misspelt key or a value of the wrong kind before anything renders, naming it', async () => {
    // Every key of values.yaml is in the schema (the lint above renders the defaults through it).
    for (const [set, said] of [
      ['controller.tls.existingsecret=ctl-tls', /existingsecret/],           // a typo would silently mean plain HTTP
      ['redis.existingSecrets=redis-url', /existingSecrets/],
      ['controller.tokenTtlSeconds=5', /tokenTtlSeconds[\s\S]*minimum|minimum[\s\S]*tokenTtlSeconds/],
      ['injection.excludeOutboundPorts[0]=53', /excludeOutboundPorts/],
      ['webhook.failurePolicy=Maybe', /failurePolicy/],
      ['redis.url=http://redis:6379', /redis[\s\S]*url/],
      ['image.pullPolicy=Sometimes', /pullPolicy/],
    ]) {
      await expect(render(['--set', set])).rejects.toThrow(said);
    }
    await expect(render(['--set', 'redis.url=redis://redis:6379', '--set', 'controller.tokenTtlSeconds=900'])).resolves.toBeDefined();
  });

  test('a controller CA without HTTPS for the controller is refused at render time, saying what is missing', async () => {
    await expect(render(['--set-file', `controller.tls.caPem=${CA_FILE}`])).rejects.toThrow(/controller\.tls\.caPem needs controller\.tls\.existingSecret/);
  });

  test('signed approval links get a port of their own that the NetworkPolicy opens to the authenticating proxy only', async () => {
    const links = ['--set', 'controller.approvals.publicUrl=https://skillgate.example.invalid', '--set', 'controller.approvals.linkSecret.existingSecret=ctl-links'];
    await expect(render(links)).rejects.toThrow(/controller\.approvals\.publicUrl needs controller\.approvals\.proxyFrom/);
    const objects = await render([...links, '--set', 'controller.approvals.proxyFrom[0].namespaceSelector.matchLabels.team=auth']);
    const policy = find(objects, 'NetworkPolicy', '');
    expect(policy.spec.ingress).toEqual([
      { ports: [{ port: 9443, protocol: 'TCP' }, { port: 8443, protocol: 'TCP' }, { port: 9090, protocol: 'TCP' }] },
      { from: [{ namespaceSelector: { matchLabels: { team: 'auth' } } }], ports: [{ port: 8444, protocol: 'TCP' }] },
    ]);
    const controller = find(objects, 'Deployment', '-controller').spec.template.spec.containers[0];
    expect(controller.env).toContainEqual({ name: 'SKILLGATE_APPROVAL_LISTEN', value: '0.0.0.0:8444' });
    expect(controller.ports).toContainEqual({ name: 'approvals', containerPort: 8444 });
    expect(find(objects, 'Service', '-controller').spec.ports).toContainEqual({ name: 'approvals', port: 8444, targetPort: 'approvals' });
    // Without links: no such port anywhere.
    expect(JSON.stringify(await render())).not.toContain('8444');
  });

  test('skill namespaces get a NetworkPolicy letting no connection in only when listed (opt-in), opened to the metrics scrapers given, and the API server accepts it', async () => {
    const skills = `sg-chart-skills-${RUN}`;
    await cp.ensureNamespace(skills, { 'skillgate.dev/inject': 'enabled' });
    try {
      const skillPolicies = (objects) => objects.filter((o) => o.kind === 'NetworkPolicy' && o.metadata.namespace !== NS);
      expect(skillPolicies(await render())).toEqual([]);
      const closed = skillPolicies(await render(['--set', `networkPolicy.skillNamespaces[0]=${skills}`]));
      expect(closed.map((o) => [o.metadata.namespace, o.metadata.name])).toEqual([[skills, `${RELEASE}-skillgate-skill-ingress`]]);
      // Every pod of the namespace, ingress only, and nothing let in (the kubelet's probes come from the node, always let in).
      expect(closed[0].spec).toEqual({ podSelector: {}, policyTypes: ['Ingress'], ingress: [] });
      // Independent of networkPolicy.enabled (skillgate's own pods' policy).
      expect(skillPolicies(await render(['--set', `networkPolicy.skillNamespaces[0]=${skills}`, '--set', 'networkPolicy.enabled=false']))).toHaveLength(1);
      const scraped = skillPolicies(await render(['--set', `networkPolicy.skillNamespaces[0]=${skills}`, '--set', 'networkPolicy.sidecarMetricsFrom[0].namespaceSelector.matchLabels.team=monitoring']));
      expect(scraped[0].spec.ingress).toEqual([{ from: [{ namespaceSelector: { matchLabels: { team: 'monitoring' } } }], ports: [{ port: 15090, protocol: 'TCP' }] }]);
      for (const policy of [closed[0], scraped[0]]) {
        await expect(kubectl(['apply', '--server-side', '--dry-run=server', '--field-manager=skillgate-e2e', '-o', 'name', '-f', '-'], JSON.stringify(policy))).resolves.toMatch(/networkpolicy/);
      }
      await expect(render(['--set', 'networkPolicy.skillNamespaces[0]=Not_A_Namespace'])).rejects.toThrow(/skillNamespaces\/0.*does not match pattern/);
    } finally {
      await cp.deleteNamespace(skills).catch(() => {});
    }
  });

  test('inline CSI drivers reach the injection config only when named', async () => {
    const drivers = async (extra) => parseWebhookConfigText(find(await render(extra), 'ConfigMap', '-webhook').data['config.yaml']).allowedCsiDrivers;
    expect(await drivers([])).toEqual([]);
    expect(await drivers(['--set', 'injection.allowedCsiDrivers[0]=secrets-store.csi.k8s.io'])).toEqual(['secrets-store.csi.k8s.io']);
  });

  test.each([
    ['default values', []],
    ['cert-manager issuing the controller\'s certificate too', ['--set', 'certManager.enabled=true']],
    ['cert-manager, ServiceMonitor/PodMonitor, PrometheusRule, recorder and every controller option', ALL_OPTIONS],
  ])('the API server accepts every object rendered with %s (server-side dry run)', async (_name, extra) => {
    const objects = await render(extra);
    expect(objects.length).toBeGreaterThan(10);
    const kinds = new Set(objects.map((o) => o.kind));
    expect(kinds).toContain('StatefulSet'); // the recorder is on by default
    if (extra.length) for (const k of ['Certificate', 'Issuer']) expect(kinds).toContain(k);
    if (extra === ALL_OPTIONS) for (const k of ['ServiceMonitor', 'PodMonitor', 'PrometheusRule']) expect(kinds).toContain(k);
    const list = JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects });
    const out = await kubectl(['apply', '--server-side', '--dry-run=server', '--field-manager=skillgate-e2e', '-n', NS, '-o', 'name', '-f', '-'], list);
    expect(out.trim().split('\n')).toHaveLength(objects.length);
  });

  test('its webhook configurations are the ones @skillgate/webhook generates, with an empty caBundle for the controller or cert-manager', async () => {
    const objects = await render();
    const fullname = `${RELEASE}-skillgate`;
    const want = webhookConfigurations({ endpoint: { service: { namespace: NS, name: `${fullname}-webhook` } }, systemNamespace: NS });
    const shape = (cfg) => cfg.webhooks.map((w) => ({
      name: w.name, path: w.clientConfig.service.path, service: w.clientConfig.service.name, caBundle: w.clientConfig.caBundle,
      rules: w.rules, namespaceSelector: w.namespaceSelector, matchConditions: w.matchConditions,
      sideEffects: w.sideEffects, admissionReviewVersions: w.admissionReviewVersions, reinvocationPolicy: w.reinvocationPolicy,
      failurePolicy: w.failurePolicy, matchPolicy: w.matchPolicy,
    }));
    expect(shape(find(objects, 'MutatingWebhookConfiguration'))).toEqual(shape(want.mutating));
    expect(shape(find(objects, 'ValidatingWebhookConfiguration'))).toEqual(shape(want.validating));
    expect(find(objects, 'MutatingWebhookConfiguration').metadata.name).toBe(`${fullname}-inject`);
    expect(find(objects, 'ValidatingWebhookConfiguration').metadata.name).toBe(`${fullname}-validate`);
  });

  test('its injection config parses with the webhook\'s own parser and points sidecars at the controller Service, with its CA over HTTPS', async () => {
    for (const [extra, scheme, caPem, caFile] of [
      [[], 'https', '', '/etc/skillgate/webhook-tls/ca.crt'],                  // the installation CA's (default)
      [ALL_OPTIONS, 'https', parseControllerCaPem(CONTROLLER_CA), ''],          // an operator's certificate and CA
      [['--set', 'controller.tls.managed=false'], 'http', '', ''],
    ]) {
      const objects = await render(extra);
      const config = parseWebhookConfigText(find(objects, 'ConfigMap', '-webhook').data['config.yaml']);
      expect(config.controllerUrl).toBe(`${scheme}://${RELEASE}-skillgate-controller.${NS}.svc:8443`);
      expect(config.controllerCaPem).toBe(caPem);
      expect(config.controllerCaFile).toBe(caFile);
      expect(config.upstreamSecret).toEqual({ name: `${RELEASE}-skillgate-upstream`, key: 'api-key', mountInSidecar: false });
      expect(config.sidecarImage).toBe('skillgate/skillgate:0.1.0');
    }
  });

  test('a Redis URL kept in a Secret reaches sidecars only through the controller: not in the injection config, nor in any pod spec', async () => {
    const plain = await render();
    expect(parseWebhookConfigText(find(plain, 'ConfigMap', '-webhook').data['config.yaml']).redisUrl).toBe('redis://redis.skillgate-system.svc:6379');
    expect(find(plain, 'Deployment', '-controller').spec.template.spec.containers[0].env.map((e) => e.name)).not.toContain('SKILLGATE_SIDECAR_REDIS_URL');
    const kept = await render(['--set', 'redis.existingSecret=redis-url', '--set', 'redis.url=redis://:in-values@redis:6379']);
    expect(parseWebhookConfigText(find(kept, 'ConfigMap', '-webhook').data['config.yaml']).redisUrl).toBe('');
    const fromSecret = { secretKeyRef: { name: 'redis-url', key: 'url' } };
    const env = find(kept, 'Deployment', '-controller').spec.template.spec.containers[0].env;
    expect(env.filter((e) => /REDIS_URL$/.test(e.name))).toEqual([
      { name: 'REDIS_URL', valueFrom: fromSecret },
      { name: 'SKILLGATE_SIDECAR_REDIS_URL', valueFrom: fromSecret },
    ]);
    expect(find(kept, 'StatefulSet', '-recorder').spec.template.spec.containers[0].env.find((e) => e.name === 'REDIS_URL')).toEqual({ name: 'REDIS_URL', valueFrom: fromSecret });
    // The URL in values is not rendered anywhere once a Secret holds it.
    expect(JSON.stringify(kept)).not.toContain('in-values');
    // The install notes warn about a password left in redis.url, and only then.
    expect(await installNotes(['--set', 'redis.url=redis://:pw@redis:6379'])).toMatch(/WARNING: redis\.url holds credentials/);
    expect(await installNotes(['--set', 'redis.url=redis://:pw@redis:6379', '--set', 'redis.existingSecret=redis-url'])).not.toMatch(/redis\.url holds credentials/);
    expect(await installNotes()).not.toMatch(/redis\.url holds credentials/);
  });

  test('the token exchange is HTTPS by default: the installation CA issues the controller\'s certificate, the webhook mounts the CA bundle it injects, and probes, scraping and RBAC follow', async () => {
    const objects = await render();
    const fullname = `${RELEASE}-skillgate`;
    const controller = find(objects, 'Deployment', '-controller').spec.template.spec.containers[0];
    const env = Object.fromEntries(controller.env.filter((e) => e.value !== undefined).map((e) => [e.name, e.value]));
    expect(env).toMatchObject({
      SKILLGATE_CONTROLLER_TLS_SECRET: `${fullname}-controller-tls`,
      SKILLGATE_CONTROLLER_CERT_SECRET: `${fullname}-controller-tls`,
      SKILLGATE_CONTROLLER_SERVICE: `${fullname}-controller`,
      SKILLGATE_MANAGE_WEBHOOK_CERTS: 'true',
    });
    expect(env.SKILLGATE_CONTROLLER_TLS_CERT_FILE).toBeUndefined();
    for (const probe of ['startupProbe', 'readinessProbe', 'livenessProbe']) expect(controller[probe].httpGet.scheme).toBe('HTTPS');
    const webhookPod = find(objects, 'Deployment', '-webhook').spec.template.spec;
    expect(webhookPod.volumes.find((v) => v.name === 'tls').secret.items.map((i) => i.key)).toEqual(['tls.crt', 'tls.key', 'ca.crt']);
    expect(webhookPod.containers[0].volumeMounts.find((m) => m.name === 'tls').mountPath).toBe('/etc/skillgate/webhook-tls');
    const role = find(objects, 'Role', '-controller');
    expect(role.rules.some((r) => r.resources.includes('secrets') && r.resourceNames?.includes(`${fullname}-controller-tls`) && r.verbs.includes('get') && r.verbs.includes('update'))).toBe(true);
    // Scraped on the plain-HTTP metrics port, where there is no certificate to trust.
    const monitored = await render(['--set', 'metrics.serviceMonitor.enabled=true']);
    expect(find(monitored, 'ServiceMonitor').spec.endpoints).toEqual([{ port: 'metrics', path: '/metrics', interval: '30s' }]);
    // With cert-manager, a CA of the release's own issues both certificates; the controller reads
    // its own (no webhook-certs loop, no write access), and the webhook injects the same ca.crt.
    const certManager = await render(['--set', 'certManager.enabled=true']);
    const cmConfig = parseWebhookConfigText(find(certManager, 'ConfigMap', '-webhook').data['config.yaml']);
    expect(cmConfig.controllerUrl).toBe(`https://${fullname}-controller.${NS}.svc:8443`);
    const cmEnv = Object.fromEntries(find(certManager, 'Deployment', '-controller').spec.template.spec.containers[0].env.map((e) => [e.name, e.value]));
    expect(cmEnv.SKILLGATE_CONTROLLER_TLS_SECRET).toBe(`${fullname}-controller-tls`);
    expect([cmEnv.SKILLGATE_MANAGE_WEBHOOK_CERTS, cmEnv.SKILLGATE_CONTROLLER_CERT_SECRET]).toEqual([undefined, undefined]);
    const certificates = certManager.filter((o) => o.kind === 'Certificate');
    expect(Object.fromEntries(certificates.map((c) => [c.metadata.name, [c.spec.secretName, c.spec.isCA ?? false, c.spec.issuerRef.name]]))).toEqual({
      [`${fullname}-ca`]: [`${fullname}-ca`, true, `${fullname}-selfsigned`],
      [`${fullname}-webhook`]: [`${fullname}-webhook-tls`, false, `${fullname}-ca`],
      [`${fullname}-controller`]: [`${fullname}-controller-tls`, false, `${fullname}-ca`],
    });
    expect(certificates.find((c) => c.spec.isCA).spec.privateKey.rotationPolicy).toBe('Never');
    expect(find(certManager, 'Certificate', '-controller').spec.dnsNames).toContain(`${fullname}-controller.${NS}.svc`);
    expect(find(certManager, 'Issuer', '-ca').spec.ca).toEqual({ secretName: `${fullname}-ca` });
    expect(find(certManager, 'Role', '-controller').rules.filter((r) => r.resourceNames?.includes(`${fullname}-controller-tls`)).map((r) => r.verbs)).toEqual([['get']]);
    // The webhook injects the chart CA's own certificate (from the CA's Secret, never its key): right
    // even while cert-manager has not yet re-issued the webhook's certificate from that CA.
    expect(cmConfig.controllerCaFile).toBe('/etc/skillgate/controller-ca/ca.crt');
    const cmWebhook = find(certManager, 'Deployment', '-webhook').spec.template.spec;
    expect(cmWebhook.volumes.find((v) => v.name === 'controller-ca').secret).toEqual({ secretName: `${fullname}-ca`, items: [{ key: 'tls.crt', path: 'ca.crt' }] });
    expect(cmWebhook.volumes.find((v) => v.name === 'tls').secret.items.map((i) => i.key)).toEqual(['tls.crt', 'tls.key']);
    // An issuerRef of the operator's need not be one CA for both certificates: the webhook's only,
    // and the controller needs a certificate of the operator's (the notes say so).
    const ownIssuer = ['--set', 'certManager.enabled=true', '--set', 'certManager.issuerRef.name=corp-ca', '--set', 'certManager.issuerRef.kind=ClusterIssuer'];
    const own = await render(ownIssuer);
    expect(own.filter((o) => o.kind === 'Certificate').map((c) => [c.metadata.name, c.spec.issuerRef])).toEqual([[`${fullname}-webhook`, { name: 'corp-ca', kind: 'ClusterIssuer' }]]);
    expect(own.filter((o) => o.kind === 'Issuer')).toEqual([]);
    expect(await installNotes(ownIssuer)).toMatch(/WARNING: the token exchange is plain HTTP \(with certManager\.issuerRef, give the controller a certificate of that issuer in controller\.tls\.existingSecret\)/);
    // Plain HTTP only when asked for, and then the notes say so.
    expect(await installNotes(['--set', 'controller.tls.managed=false'])).toMatch(/WARNING: the token exchange is plain HTTP \(controller\.tls\.managed is false/);
    expect(await installNotes(['--set', 'certManager.enabled=true'])).not.toMatch(/WARNING: the token exchange is plain HTTP/);
    expect(await installNotes()).not.toMatch(/WARNING: the token exchange is plain HTTP/);
  });

  test('every variable it sets on the controller is read by the controller\'s code, and every webhook flag exists', async () => {
    const code = sourceOf('controller');
    for (const extra of [[], ALL_OPTIONS]) {
      const objects = await render(extra);
      const controller = find(objects, 'Deployment', '-controller').spec.template.spec.containers[0];
      const unread = controller.env.map((e) => e.name).filter((name) => !new RegExp(`\\b${name}\\b`).test(code));
      expect(unread).toEqual([]);
      expect(controller.args).toEqual(['controller']);
      const webhook = find(objects, 'Deployment', '-webhook').spec.template.spec.containers[0];
      expect(webhook.args[0]).toBe('webhook');
      const flags = webhook.args.slice(1).map((a) => /^--([a-z-]+)=/.exec(a)?.[1]);
      expect(flags.filter((f) => !f || !(f in webhookCommand.options))).toEqual([]);
    }
    const selfSigned = find(await render(), 'Deployment', '-controller').spec.template.spec.containers[0].env;
    expect(selfSigned.find((e) => e.name === 'SKILLGATE_MANAGE_WEBHOOK_CERTS')?.value).toBe('true');
    const certManager = find(await render(ALL_OPTIONS), 'Deployment', '-controller').spec.template.spec.containers[0].env;
    expect(certManager.find((e) => e.name === 'SKILLGATE_MANAGE_WEBHOOK_CERTS')).toBeUndefined();
  });

  test('the recorder runs with exactly the flags and environment the chart gives it, and its probe paths and /metrics answer', async () => {
    const objects = await render(['--set', `redis.url=${REDIS_URL}`]);
    const sts = find(objects, 'StatefulSet', '-recorder');
    const container = sts.spec.template.spec.containers[0];
    expect(container.args[0]).toBe('recorder');
    const flags = container.args.slice(1).map((a) => /^--([a-z-]+)=/.exec(a)?.[1]);
    expect(flags.filter((f) => !f || !(f in recorderCommand.options))).toEqual([]);
    // Every variable the chart sets is read by the recorder's code (the command and @skillgate/recorder).
    const code = [path.join(ROOT, 'packages/cli/src/commands/recorder.ts'), ...fs.readdirSync(path.join(ROOT, 'packages/recorder/src')).map((f) => path.join(ROOT, 'packages/recorder/src', f))]
      .filter((f) => f.endsWith('.ts')).map((f) => fs.readFileSync(f, 'utf8')).join('\n');
    expect(container.env.map((e) => e.name).filter((name) => !new RegExp(`\\b${name}\\b`).test(code))).toEqual([]);
    const port = container.ports.find((p) => p.name === 'metrics').containerPort;
    expect([container.readinessProbe.httpGet.port, container.livenessProbe.httpGet.port]).toEqual(['metrics', 'metrics']);

    // Run it as the pod would: the chart's args with the archive volume and the metrics port
    // moved to this machine, the env resolved as the kubelet would (pod name from the downward API).
    const archive = path.join(tmp, 'recorder-archive');
    const metricsPort = await freePort();
    const prefix = `sge2e:chart-recorder:${RUN}:`;
    const args = container.args.map((a) => a
      .replace(/^--archive=.*/, `--archive=${archive}`)
      .replace(new RegExp(`^--metrics-port=${port}$`), `--metrics-port=${metricsPort}`));
    expect(args).toContain(`--metrics-port=${metricsPort}`);
    const env = { PATH: process.env.PATH, HOME: tmp };
    for (const e of container.env) env[e.name] = e.value ?? (e.valueFrom?.fieldRef?.fieldPath === 'metadata.name' ? `${RELEASE}-skillgate-recorder-0` : undefined);
    expect(env.REDIS_URL).toBe(REDIS_URL);
    const child = spawn(process.execPath, [path.join(ROOT, 'packages/cli/dist/src/main.js'), ...args, `--prefix=${prefix}`], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let log = '';
    child.stdout.on('data', (d) => { log += d; });
    child.stderr.on('data', (d) => { log += d; });
    const exited = once(child, 'exit');
    try {
      const base = `http://127.0.0.1:${metricsPort}`;
      const deadline = Date.now() + 20000;
      let ready;
      while (Date.now() < deadline && ready?.status !== 200) {
        ready = await fetch(`${base}${container.readinessProbe.httpGet.path}`).catch(() => undefined);
        if (ready?.status !== 200) await new Promise((r) => setTimeout(r, 100));
      }
      expect([ready?.status, log]).toEqual([200, expect.any(String)]);
      expect((await fetch(`${base}${container.livenessProbe.httpGet.path}`)).status).toBe(200);
      expect(await (await fetch(`${base}/metrics`)).text()).toMatch(/^skillgate_recorder_events_archived_total /m);
      expect(log).toMatch(/recorder started/);
      expect(log).toContain(`${RELEASE}-skillgate-recorder-0`); // the consumer name is the pod name
      expect(fs.existsSync(archive)).toBe(true);
    } finally {
      child.kill('SIGTERM');
      const [code] = await exited;
      expect([code, log]).toEqual([0, expect.any(String)]);
      const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 2 });
      await redis.connect();
      const keys = await redis.keys(`${prefix}*`);
      if (keys.length) await redis.del(...keys);
      redis.disconnect();
    }
  });

  test('helm install succeeds on the real API server and helm uninstall removes what it installed', async () => {
    // The controller's HTTPS certificate in a Secret with ca.crt (as cert-manager writes it): the chart
    // looks the CA up at install time and hands it to sidecars through the injection config.
    const tlsSecret = `ctl-tls-${RUN}`;
    const tlsCa = createCertificateAuthority('e2e-controller-ca-from-secret').certPem;
    const b64 = (t) => Buffer.from(t).toString('base64');
    expect((await cp.request('POST', `/api/v1/namespaces/${NS}/secrets`, {
      apiVersion: 'v1', kind: 'Secret', type: 'kubernetes.io/tls', metadata: { name: tlsSecret },
      data: { 'tls.crt': b64(tlsCa), 'tls.key': b64('not-a-real-key'), 'ca.crt': b64(tlsCa) },
    })).status).toBe(201);
    const notes = await helm(['install', RELEASE, CHART, '--namespace', NS, '--set', 'upstream.apiKey=sk-ant-not-real', '--set', `controller.tls.existingSecret=${tlsSecret}`]);
    const fullname = `${RELEASE}-skillgate`;
    // The install notes say how responders verify records against the controller's keys.
    expect(notes).toContain(`skillgate sessions verify --all --trust-jwks kube:${NS}/${fullname}-jwks`);
    // ...how they get the masking key for sessions find, and (TLS on here) no plain-HTTP warning.
    expect(notes).toContain(`kubectl -n ${NS} get secret ${fullname}-masking-key -o jsonpath='{.data.masking-key}' | base64 -d > masking.key`);
    expect(notes).not.toContain('token exchange is plain HTTP');
    // An upgrade that changes the sidecars' controller URL says which pods must restart; one that does not, nothing.
    const upgradeNotes = (extra) => helm(['upgrade', RELEASE, CHART, '--namespace', NS, '--dry-run=server', '--set', 'upstream.apiKey=sk-ant-not-real', ...extra]);
    expect(await upgradeNotes(['--set', 'controller.tls.managed=false'])).toMatch(
      new RegExp(`WARNING: sidecars injected before this upgrade reach the controller at https://${fullname}-controller\\.${NS}\\.svc:8443;\\s+it is now http://`));
    expect(await upgradeNotes(['--set', `controller.tls.existingSecret=${tlsSecret}`])).not.toMatch(/sidecars injected before this upgrade|CA that sidecars verify/);
    // The same URL with another CA (an operator's certificate → the managed one) is a change too.
    expect(await upgradeNotes([])).toMatch(/WARNING: the CA that sidecars verify the controller with changes with this upgrade/);
    const configMap = await cp.request('GET', `/api/v1/namespaces/${NS}/configmaps/${fullname}-webhook`);
    const injection = parseWebhookConfigText(configMap.body.data['config.yaml']);
    expect(injection.controllerUrl).toMatch(/^https:/);
    expect(injection.controllerCaPem).toBe(parseControllerCaPem(tlsCa));
    const installed = [
      `/apis/apps/v1/namespaces/${NS}/statefulsets/${fullname}-recorder`,
      `/apis/apps/v1/namespaces/${NS}/deployments/${fullname}-controller`,
      `/apis/apps/v1/namespaces/${NS}/deployments/${fullname}-webhook`,
      `/api/v1/namespaces/${NS}/configmaps/${fullname}-webhook`,
      `/api/v1/namespaces/${NS}/secrets/${fullname}-upstream`,
      `/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/${fullname}-inject`,
      `/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/${fullname}-validate`,
      `/apis/rbac.authorization.k8s.io/v1/clusterroles/${fullname}-controller`,
      `/apis/rbac.authorization.k8s.io/v1/namespaces/${NS}/roles/${fullname}-controller`,
    ];
    for (const p of installed) expect([p, (await cp.request('GET', p)).status]).toEqual([p, 200]);
    expect(JSON.parse(await helm(['status', RELEASE, '--namespace', NS, '-o', 'json'])).info.status).toBe('deployed');
    // The controller's ServiceAccount may do what its loops need, and no more (RBAC is enforced here).
    // (`kubectl auth can-i --quiet` answers with its exit code: 0 yes, 1 no.)
    const can = (verb, resource) => kubectl(['auth', 'can-i', '--quiet', verb, resource, '-n', NS, '--as', `system:serviceaccount:${NS}:${fullname}-controller`]).then(() => true, () => false);
    expect(await can('update', `secret/${fullname}-webhook-tls`)).toBe(true);
    expect(await can('update', `secret/${fullname}-webhook-tls-ca`)).toBe(true);
    expect(await can('get', `secret/${fullname}-upstream`)).toBe(true);
    expect(await can('get', 'secret/some-other-secret')).toBe(false);
    expect(await can('update', `secret/${fullname}-upstream`)).toBe(false);
    expect(await can('update', `mutatingwebhookconfiguration/${fullname}-inject`)).toBe(true);
    expect(await can('update', `validatingwebhookconfiguration/${fullname}-validate`)).toBe(true);
    expect(await can('update', 'mutatingwebhookconfiguration/someone-elses')).toBe(false);
    expect(await can('create', 'tokenreviews.authentication.k8s.io')).toBe(true);
    expect(await can('watch', 'pods')).toBe(true);
    expect(await can('create', 'pods')).toBe(false);

    await helm(['uninstall', RELEASE, '--namespace', NS, '--wait', '--timeout', '60s']);
    for (const p of installed) expect([p, (await cp.request('GET', p)).status]).toEqual([p, 404]);
    // helm never deletes CRDs it installed from crds/ (by design: deleting them deletes every object).
    expect((await cp.request('GET', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions/skillpolicies.skillgate.dev')).status).toBe(200);
  });
});
