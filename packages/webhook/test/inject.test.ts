import fc from 'fast-check';
import { parsePodLabelsFile } from '@skillgate/api';
import { INJECTOR_VERSION, parseWebhookConfig } from '../src/config.js';
import { createCertificateAuthority } from '../src/dev-cert.js';
import {
  CLAUDE_BASE_URL, CONTROLLER_CA_ENV, EGRESS_PROXY_URL, INIT_CONTAINER, KUBE_API_VOLUME, PODINFO_VOLUME, SIDECAR_CONTAINER, TOKEN_VOLUME, UPSTREAM_VOLUME,
  injectPod, injectedPod, quantityMiB, sidecarContainer, sidecarNodeOptions, sidecarProcessEnv, SIDECAR_MALLOC_TUNABLES,
} from '../src/inject.js';
import { applyPatch } from '../src/json-patch.js';
import type { Container, EnvVar, Pod } from '../src/pod.js';
import { config, injectedNs, plainNs, skillPod } from './fixtures.js';

const envOf = (c: Container) => Object.fromEntries((c.env ?? []).map((e) => [e.name, e.value ?? e.valueFrom]));
const injected = (pod: Pod = skillPod()) => applyPatch(pod, injectPod(pod, injectedNs, config()).patch);

describe('injectPod', () => {
  test('a pod in a labelled namespace gets the egress-capture init container first and the native sidecar second', () => {
    const pod = injected();
    const init = pod.spec.initContainers!;
    expect(init.map((c) => c.name)).toEqual([INIT_CONTAINER, SIDECAR_CONTAINER]);
    expect(init[1]!.restartPolicy).toBe('Always');
    expect(init[1]!.startupProbe?.httpGet).toEqual({ path: '/readyz', port: 15021, scheme: 'HTTP' });
    expect(init[1]!.readinessProbe?.httpGet?.port).toBe(15021);
    expect(pod.metadata.annotations!['skillgate.dev/injected']).toBe(INJECTOR_VERSION);
  });

  test('the patch applied to the pod gives exactly the injected pod the template describes', () => {
    const pod = skillPod();
    expect(injected(pod)).toEqual(injectedPod(pod, config()));
  });

  test('app containers reach Claude through the sidecar and everything else through the egress proxy, with no upstream credential', () => {
    const env = envOf(injected().spec.containers[0]!);
    expect(env.ANTHROPIC_BASE_URL).toBe(CLAUDE_BASE_URL);
    expect(env.HTTP_PROXY).toBe(EGRESS_PROXY_URL);
    expect(env.HTTPS_PROXY).toBe(EGRESS_PROXY_URL);
    expect(env.NO_PROXY).toContain('127.0.0.1');
    expect(env.ANTHROPIC_API_KEY).toBe(config().placeholderApiKey);
    expect(env.ANTHROPIC_AUTH_TOKEN).toBeUndefined();
    expect(env.LOG_LEVEL).toBe('debug');
    expect(env.TICKETS_URL).toBe('https://tickets.example.com');
  });

  test("the pod's own variables keep their order and ours take the place of the ones they replace", () => {
    const names = injected().spec.containers[0]!.env!.map((e) => e.name);
    expect(names).toEqual(['LOG_LEVEL', 'ANTHROPIC_API_KEY', 'ANTHROPIC_BASE_URL', 'TICKETS_URL', 'HTTP_PROXY', 'HTTPS_PROXY', 'http_proxy', 'https_proxy', 'NO_PROXY', 'no_proxy']);
  });

  test('without a placeholder key configured, ANTHROPIC_API_KEY and ANTHROPIC_AUTH_TOKEN are removed outright', () => {
    const pod = skillPod();
    pod.spec.containers[0]!.env!.push({ name: 'ANTHROPIC_AUTH_TOKEN', value: 'sk-ant-oat-secret' });
    const out = applyPatch(pod, injectPod(pod, injectedNs, config({ placeholderApiKey: '' })).patch);
    const names = out.spec.containers[0]!.env!.map((e) => e.name);
    expect(names).not.toContain('ANTHROPIC_API_KEY');
    expect(names).not.toContain('ANTHROPIC_AUTH_TOKEN');
  });

  test('env and envFrom drawing on the upstream credential Secret are removed from app containers', () => {
    const pod = skillPod();
    pod.spec.containers[0]!.env!.push({ name: 'KEY', valueFrom: { secretKeyRef: { name: 'skillgate-upstream', key: 'api-key' } } });
    pod.spec.containers[0]!.envFrom = [{ secretRef: { name: 'skillgate-upstream' } }, { configMapRef: { name: 'settings' } }];
    const r = injectPod(pod, injectedNs, config());
    const c = applyPatch(pod, r.patch).spec.containers[0]!;
    expect(c.env!.map((e) => e.name)).not.toContain('KEY');
    expect(c.envFrom).toEqual([{ configMapRef: { name: 'settings' } }]);
    expect(r.warnings.join('\n')).toMatch(/removed envFrom of the upstream credential Secret skillgate-upstream/);
  });

  test('the projected tokens (skillgate and Kubernetes API, one hour), the pod labels and the upstream key are mounted only into the sidecar', () => {
    const pod = injected();
    const token = pod.spec.volumes!.find((v) => v.name === TOKEN_VOLUME)!;
    expect(token.projected!.sources![0]!.serviceAccountToken).toEqual({ audience: 'skillgate', expirationSeconds: 3600, path: 'token' });
    const mounters = [...pod.spec.initContainers!, ...pod.spec.containers]
      .filter((c) => (c.volumeMounts ?? []).some((m) => [TOKEN_VOLUME, UPSTREAM_VOLUME, KUBE_API_VOLUME, PODINFO_VOLUME].includes(m.name)))
      .map((c) => c.name);
    expect(mounters).toEqual([SIDECAR_CONTAINER]);
  });

  test("the pod's ServiceAccount token automount is switched off and removed from every app container", () => {
    const pod = skillPod();
    pod.spec.initContainers = [{ name: 'migrate', image: 'x', volumeMounts: [{ name: 'kube-api-access-abcde', mountPath: '/var/run/secrets/kubernetes.io/serviceaccount', readOnly: true }] }];
    const r = injectPod(pod, injectedNs, config());
    const out = applyPatch(pod, r.patch);
    expect(out.spec.automountServiceAccountToken).toBe(false);
    expect(out.spec.volumes!.map((v) => v.name)).not.toContain('kube-api-access-abcde');
    const appMounts = [...out.spec.initContainers!.slice(2), ...out.spec.containers].flatMap((c) => c.volumeMounts ?? []);
    expect(appMounts).toEqual([]);
    expect(r.warnings.join('\n')).toMatch(/removed the automounted ServiceAccount token \(kube-api-access-abcde\) from the app containers/);
  });

  test('the sidecar alone gets what the automount gave every container: API token, cluster CA and namespace at the in-cluster path', () => {
    const pod = injected();
    const volume = pod.spec.volumes!.find((v) => v.name === KUBE_API_VOLUME)!;
    expect(volume.projected).toEqual({
      sources: [
        { serviceAccountToken: { expirationSeconds: 3600, path: 'token' } },
        { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
        { downwardAPI: { items: [{ path: 'namespace', fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } }] } },
      ],
      defaultMode: 420,
    });
    expect(injected(skillPod()).spec.volumes!.find((v) => v.name === KUBE_API_VOLUME)!.projected!.sources![0]!.serviceAccountToken!.audience).toBeUndefined();
    const sidecar = pod.spec.initContainers![1]!;
    expect(sidecar.volumeMounts).toContainEqual({ name: KUBE_API_VOLUME, mountPath: '/var/run/secrets/kubernetes.io/serviceaccount', readOnly: true });
    const shorter = applyPatch(skillPod(), injectPod(skillPod(), injectedNs, config({ tokenExpirationSeconds: 900 })).patch);
    expect(shorter.spec.volumes!.find((v) => v.name === KUBE_API_VOLUME)!.projected!.sources![0]!.serviceAccountToken!.expirationSeconds).toBe(900);
  });

  test("the sidecar reads the pod's labels from a downward API file named by SKILLGATE_POD_LABELS_FILE", () => {
    const pod = injected();
    const volume = pod.spec.volumes!.find((v) => v.name === PODINFO_VOLUME)!;
    expect(volume.downwardAPI).toEqual({ items: [{ path: 'labels', fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.labels' } }], defaultMode: 420 });
    const sidecar = pod.spec.initContainers![1]!;
    expect(sidecar.volumeMounts).toContainEqual({ name: PODINFO_VOLUME, mountPath: '/etc/skillgate/podinfo', readOnly: true });
    expect(envOf(sidecar).SKILLGATE_POD_LABELS_FILE).toBe('/etc/skillgate/podinfo/labels');
    // What the kubelet writes there for this pod (fieldpath.FormatMap) reads back as its labels.
    expect(parsePodLabelsFile('app="triage"\nskillgate.dev/skill="triage"')).toEqual(pod.metadata.labels);
  });

  test('the pod announces the sidecar\'s metrics to Prometheus (prometheus.io/*), unless it announces metrics of its own', () => {
    expect(injected().metadata.annotations).toMatchObject({ 'prometheus.io/scrape': 'true', 'prometheus.io/port': '15090', 'prometheus.io/path': '/metrics' });
    const own = skillPod();
    own.metadata.annotations = { ...own.metadata.annotations, 'prometheus.io/scrape': 'true', 'prometheus.io/port': '9100' };
    const out = applyPatch(own, injectPod(own, injectedNs, config()).patch);
    expect(out.metadata.annotations).toMatchObject({ 'prometheus.io/port': '9100' });
    expect(out.metadata.annotations!['prometheus.io/path']).toBeUndefined();
  });

  test('the sidecar keeps its record spool on a writable volume of its own (its root filesystem is read-only), sized for a full spool', () => {
    const pod = injected();
    const sidecar = pod.spec.initContainers![1]!;
    expect(sidecar.securityContext!.readOnlyRootFilesystem).toBe(true);
    const env = envOf(sidecar);
    for (const dir of [env.SKILLGATE_RECORD_DIR, env.SKILLGATE_RECORD_SPOOL_DIR] as string[]) {
      expect(dir).toMatch(/^\//); // absolute: the working directory is the image's, not the sidecar's
      const mount = sidecar.volumeMounts!.find((m) => dir!.startsWith(`${m.mountPath}/`))!;
      expect(mount.readOnly).toBeFalsy();
      const volume = pod.spec.volumes!.find((v) => v.name === mount.name)!;
      expect(volume.emptyDir).toBeDefined();
      expect(quantityMiB(volume.emptyDir!.sizeLimit!)).toBeGreaterThanOrEqual(256);
    }
  });

  test('the sidecar runs as its own non-root UID with a read-only root and no capabilities; only the init container gets NET_ADMIN and NET_RAW', () => {
    const [init, sidecar] = injected().spec.initContainers!;
    expect(sidecar!.securityContext).toMatchObject({ runAsUser: 1337, runAsNonRoot: true, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
    expect(sidecar!.securityContext!.capabilities!.add).toBeUndefined();
    expect(init!.securityContext!.capabilities).toEqual({ add: ['NET_ADMIN', 'NET_RAW'], drop: ['ALL'] });
    expect(init!.securityContext!.privileged).toBe(false);
    expect(sidecar!.resources!.limits).toBeDefined();
    expect(init!.resources!.requests).toBeDefined();
  });

  test('the sidecar learns its identity from the downward API and its backends from config', () => {
    const env = sidecarContainer(config()).env!;
    const byName = new Map<string, EnvVar>(env.map((e) => [e.name, e]));
    expect(byName.get('SKILLGATE_POD_UID')!.valueFrom!.fieldRef!.fieldPath).toBe('metadata.uid');
    expect(byName.get('SKILLGATE_SKILL')!.valueFrom!.fieldRef!.fieldPath).toBe("metadata.labels['skillgate.dev/skill']");
    expect(byName.get('SKILLGATE_OWNER')!.valueFrom!.fieldRef!.fieldPath).toBe("metadata.annotations['skillgate.dev/owner']");
    expect(byName.get('REDIS_URL')!.value).toBe('redis://redis.skillgate-system.svc:6379');
    expect(byName.get('SKILLGATE_CONTROLLER_URL')!.value).toMatch(/^https:/);
    expect(byName.get('SKILLGATE_TOKEN_FILE')!.value).toBe('/var/run/secrets/skillgate/token');
  });

  test("the sidecar's V8 follows its limits: a 16 MB young generation, old generation at 60 % of the memory limit, a worker pool for the CPU limit, gc exposed to return start-up memory, symlinks kept (the bundle needs no real paths)", () => {
    const nodeOptions = (c: Container) => c.env!.find((e) => e.name === 'NODE_OPTIONS')!.value;
    // The default limits: 512Mi, one CPU.
    expect(nodeOptions(sidecarContainer(config()))).toBe('--max-semi-space-size=16 --expose-gc --preserve-symlinks --max-old-space-size=307 --v8-pool-size=1');
    expect(sidecarNodeOptions('256Mi', '1')).toBe('--max-semi-space-size=16 --expose-gc --preserve-symlinks --max-old-space-size=153 --v8-pool-size=1');
    const big = config({ sidecarResources: { requests: { memory: '128Mi' }, limits: { memory: '1Gi', cpu: '2500m' } } });
    expect(nodeOptions(sidecarContainer(big))).toBe('--max-semi-space-size=16 --expose-gc --preserve-symlinks --max-old-space-size=614 --v8-pool-size=3');
    expect(nodeOptions(sidecarContainer(config({ sidecarResources: { requests: { memory: '64Mi' } } })))).toBe('--max-semi-space-size=16 --expose-gc --preserve-symlinks');
    expect(sidecarNodeOptions('64Mi')).toBe('--max-semi-space-size=16 --expose-gc --preserve-symlinks'); // too small to cap usefully
    expect(sidecarNodeOptions(undefined, '250m')).toBe('--max-semi-space-size=16 --expose-gc --preserve-symlinks --v8-pool-size=1');
    expect(sidecarNodeOptions(undefined, '16')).toBe('--max-semi-space-size=16 --expose-gc --preserve-symlinks --v8-pool-size=4'); // Node's own default at most
    expect(sidecarNodeOptions(undefined, 'lots')).toBe('--max-semi-space-size=16 --expose-gc --preserve-symlinks');
    expect(sidecarNodeOptions(undefined, '1.5')).toBe('--max-semi-space-size=16 --expose-gc --preserve-symlinks --v8-pool-size=2');
    expect(sidecarNodeOptions(undefined, '0')).toBe('--max-semi-space-size=16 --expose-gc --preserve-symlinks');
    expect(quantityMiB('268435456')).toBe(256);
    expect(quantityMiB('512M')).toBeCloseTo(488.28, 2);
    expect(quantityMiB('0.5Gi')).toBe(512);
    expect(quantityMiB('lots')).toBeUndefined();
    // Only the sidecar: the skill's own containers keep whatever NODE_OPTIONS they had.
    expect(injected().spec.containers[0]!.env!.some((e) => e.name === 'NODE_OPTIONS')).toBe(false);
  });

  test("the sidecar's malloc hands back freed memory above a fixed 128 KB trim threshold; the skill's containers keep their own", () => {
    const env = sidecarContainer(config()).env!;
    expect(env.find((e) => e.name === 'GLIBC_TUNABLES')!.value).toBe('glibc.malloc.trim_threshold=131072');
    expect(SIDECAR_MALLOC_TUNABLES).toBe('glibc.malloc.trim_threshold=131072');
    // The one source of the sidecar process's settings (the benchmark and e2e sidecars use it too).
    expect(sidecarProcessEnv('256Mi', '1')).toEqual({ NODE_OPTIONS: sidecarNodeOptions('256Mi', '1'), GLIBC_TUNABLES: SIDECAR_MALLOC_TUNABLES });
    expect(env.filter((e) => e.name === 'NODE_OPTIONS' || e.name === 'GLIBC_TUNABLES').map((e) => e.name)).toEqual(['NODE_OPTIONS', 'GLIBC_TUNABLES']);
    expect(injected().spec.containers[0]!.env!.some((e) => e.name === 'GLIBC_TUNABLES')).toBe(false);
  });

  test('the sidecar gets the controller CA as SKILLGATE_CONTROLLER_CA only when one is configured, and re-injection changes nothing', () => {
    const sidecarEnv = (pod: Pod) => new Map<string, EnvVar>(pod.spec.initContainers!.find((c) => c.name === SIDECAR_CONTAINER)!.env!.map((e) => [e.name, e]));
    expect(sidecarEnv(injected()).has(CONTROLLER_CA_ENV)).toBe(false);
    const pem = parseWebhookConfig({ controllerUrl: 'https://skillgate-controller.sg.svc:8443', controllerCaPem: createCertificateAuthority('controller-ca').certPem }).controllerCaPem;
    const cfg = config({ controllerUrl: 'https://skillgate-controller.sg.svc:8443', controllerCaPem: pem });
    const pod = applyPatch(skillPod(), injectPod(skillPod(), injectedNs, cfg).patch);
    expect(sidecarEnv(pod).get(CONTROLLER_CA_ENV)).toEqual({ name: CONTROLLER_CA_ENV, value: pem });
    // Over HTTPS the sidecar keeps the bundle the controller hands over in its own volume (a CA
    // rotated after injection survives a container restart); over HTTP there is nothing to keep.
    expect(sidecarEnv(pod).get('SKILLGATE_CONTROLLER_CA_CACHE')?.value).toBe('/var/lib/skillgate/controller-ca.pem');
    const plain = applyPatch(skillPod(), injectPod(skillPod(), injectedNs, config({ controllerUrl: 'http://skillgate-controller.sg.svc:8443' })).patch);
    expect(sidecarEnv(plain).has('SKILLGATE_CONTROLLER_CA_CACHE')).toBe(false);
    // Only the sidecar: app containers never see it.
    for (const c of pod.spec.containers) expect(envOf(c)[CONTROLLER_CA_ENV]).toBeUndefined();
    expect(injectPod(pod, injectedNs, cfg)).toEqual({ patch: [], reason: 'already-injected', warnings: [] });
    // A pod injected before the CA was configured gets it on re-injection, and nothing else changes.
    const before = injected();
    const again = injectPod(before, injectedNs, cfg).patch;
    expect(applyPatch(before, again)).toEqual(pod);
  });

  test("the pod's own init containers run after the sidecar, with the sidecar's environment", () => {
    const pod = skillPod();
    pod.spec.initContainers = [{ name: 'migrate', image: 'example.invalid/migrate:1', env: [{ name: 'ANTHROPIC_API_KEY', value: 'sk-ant-real' }] }];
    const out = injected(pod);
    expect(out.spec.initContainers!.map((c) => c.name)).toEqual([INIT_CONTAINER, SIDECAR_CONTAINER, 'migrate']);
    expect(envOf(out.spec.initContainers![2]!).ANTHROPIC_API_KEY).toBe(config().placeholderApiKey);
  });

  test('injecting an injected pod is a no-op', () => {
    const once = injected();
    expect(injectPod(once, injectedNs, config())).toEqual({ patch: [], reason: 'already-injected', warnings: [] });
  });

  test('on reinvocation, a container a later webhook added loses its mount of the token volume the first pass removed', () => {
    const once = skillPod();
    once.spec.volumes = [...(once.spec.volumes ?? []), { name: 'kube-api-access-abcde', projected: { sources: [] } }];
    const pod = injected(once);
    expect(pod.spec.volumes!.map((v) => v.name)).not.toContain('kube-api-access-abcde');
    pod.spec.containers.push({ name: 'added-later', image: 'example.invalid/helper:1', volumeMounts: [{ name: 'kube-api-access-abcde', mountPath: '/var/run/secrets/kubernetes.io/serviceaccount' }, { name: 'data', mountPath: '/data' }] });
    const again = applyPatch(pod, injectPod(pod, injectedNs, config()).patch);
    expect(again.spec.containers.find((c) => c.name === 'added-later')!.volumeMounts).toEqual([{ name: 'data', mountPath: '/data' }]);
  });

  test('a forged sidecar and a forged injected annotation are replaced by the real sidecar', () => {
    const pod = skillPod();
    pod.metadata.annotations!['skillgate.dev/injected'] = INJECTOR_VERSION;
    pod.spec.initContainers = [{ name: SIDECAR_CONTAINER, image: 'evil.invalid/pass-through:1', restartPolicy: 'Always' }];
    const out = injected(pod);
    expect(out.spec.initContainers!.filter((c) => c.name === SIDECAR_CONTAINER)).toEqual([sidecarContainer(config())]);
  });

  test('pods in a namespace without the inject label are left untouched', () => {
    expect(injectPod(skillPod(), plainNs, config())).toEqual({ patch: [], reason: 'namespace-not-enabled', warnings: [] });
  });

  test('a pod with an allowed opt-out exception is not injected, one with an unknown exception is', () => {
    const cfg = config({ allowedExceptions: [{ name: 'database', serviceAccounts: ['postgres'] }] });
    const pod = skillPod();
    pod.metadata.annotations = { ...pod.metadata.annotations, 'skillgate.dev/inject': 'disabled', 'skillgate.dev/inject-exception': 'database' };
    pod.spec.serviceAccountName = 'postgres';
    expect(injectPod(pod, injectedNs, cfg).reason).toBe('opted-out');
    pod.spec.serviceAccountName = 'triage'; // a skill claiming the database's exception
    expect(injectPod(pod, injectedNs, cfg).reason).toBe('injected');
  });

  test('hostNetwork pods are not injected (their iptables would be the node\'s)', () => {
    const pod = skillPod();
    pod.spec.hostNetwork = true;
    expect(injectPod(pod, injectedNs, config())).toMatchObject({ patch: [], reason: 'host-network' });
  });

  test('a pod without a skill label is injected with a warning that names the label', () => {
    const pod = skillPod();
    delete pod.metadata.labels;
    const r = injectPod(pod, injectedNs, config());
    expect(r.reason).toBe('injected');
    expect(r.warnings.join('\n')).toMatch(/skillgate\.dev\/skill/);
  });

  test('for any app environment, patch(pod) equals the injected pod and re-injection is a no-op', () => {
    const name = fc.constantFrom('ANTHROPIC_API_KEY', 'ANTHROPIC_AUTH_TOKEN', 'ANTHROPIC_BASE_URL', 'HTTP_PROXY', 'no_proxy', 'FOO', 'BAR', 'A/B~C');
    const envVar = fc.record({ name, value: fc.string({ maxLength: 8 }) });
    const container = fc.record({ name: fc.constantFrom('a', 'b', 'c'), image: fc.constant('x'), env: fc.array(envVar, { maxLength: 6 }) });
    fc.assert(fc.property(fc.array(container, { minLength: 1, maxLength: 3 }), fc.boolean(), (containers, withAnnotations) => {
      const pod: Pod = { metadata: { name: 'p', ...(withAnnotations ? { annotations: { 'skillgate.dev/owner': 'a@b.co' } } : {}) }, spec: { containers } };
      const r = injectPod(pod, injectedNs, config());
      const out = applyPatch(pod, r.patch);
      expect(out).toEqual(injectedPod(pod, config()));
      expect(injectPod(out, injectedNs, config()).patch).toEqual([]);
      for (const c of out.spec.containers) {
        const creds = (c.env ?? []).filter((e) => e.name === 'ANTHROPIC_AUTH_TOKEN' || (e.name === 'ANTHROPIC_API_KEY' && e.value !== config().placeholderApiKey));
        expect(creds).toEqual([]);
      }
    }));
  });
});
