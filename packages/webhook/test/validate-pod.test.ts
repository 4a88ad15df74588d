import { injectPod, SIDECAR_CONTAINER } from '../src/inject.js';
import { applyPatch } from '../src/json-patch.js';
import type { Pod } from '../src/pod.js';
import { validatePod } from '../src/validate-pod.js';
import { createCertificateAuthority } from '../src/dev-cert.js';
import { config, injectedNs, plainNs, skillPod } from './fixtures.js';

const admitted = (pod: Pod = skillPod(), cfg = config()) => applyPatch(pod, injectPod(pod, injectedNs, cfg).patch);
const violations = (pod: Pod, cfg = config()) => validatePod(pod, injectedNs, cfg).violations.join('\n');

describe('validatePod on CREATE', () => {
  test('an injected skill pod with an owner is allowed', () => {
    expect(validatePod(admitted(), injectedNs, config())).toEqual({ allowed: true, violations: [], warnings: [] });
  });

  test('while a CA rotation reaches the webhook replicas one by one, a sidecar may trust fewer of the installation\'s CAs than the validating replica knows, never another', () => {
    const [a, b, x] = ['rotating-a', 'rotating-b', 'attacker'].map((n) => createCertificateAuthority(n).certPem);
    const cfg = (pem: string) => config({ controllerUrl: 'https://skillgate-controller.sg.svc:8443', controllerCaPem: pem });
    const injectedWith = (pem: string) => admitted(skillPod(), cfg(pem));
    // The same set in another order (a promotion), and a mutating replica that had not seen B yet.
    expect(validatePod(injectedWith(a + b), injectedNs, cfg(b + a)).allowed).toBe(true);
    expect(validatePod(injectedWith(a), injectedNs, cfg(a + b)).allowed).toBe(true);
    // A CA this replica does not hold, next to one it does, or instead of it: refused.
    expect(violations(injectedWith(a + x), cfg(a + b))).toMatch(/init container skillgate-sidecar was modified/);
    expect(violations(injectedWith(x), cfg(a))).toMatch(/init container skillgate-sidecar was modified/);
    // Text besides certificates is no bundle at all.
    const pod = injectedWith(a);
    const env = pod.spec.initContainers!.find((c) => c.name === SIDECAR_CONTAINER)!.env!.find((e) => e.name === 'SKILLGATE_CONTROLLER_CA')!;
    env.value = `${a}-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n`;
    expect(violations(pod, cfg(a))).toMatch(/init container skillgate-sidecar was modified/);
    // A valueFrom beside the known value is a change too.
    env.value = a;
    Object.assign(env, { valueFrom: { configMapKeyRef: { name: 'mine', key: 'ca.crt' } } });
    expect(violations(pod, cfg(a))).toMatch(/init container skillgate-sidecar was modified/);
  });

  test('anything goes outside injected namespaces', () => {
    const pod = skillPod();
    pod.spec.hostNetwork = true;
    expect(validatePod(pod, plainNs, config()).allowed).toBe(true);
  });

  test('a pod without an owner is told to add skillgate.dev/owner', () => {
    const pod = skillPod();
    delete pod.metadata.annotations;
    expect(violations(admitted(pod))).toMatch(/has no skillgate\.dev\/owner annotation: add skillgate\.dev\/owner: <email/);
  });

  test('an owner that is not an email address is rejected', () => {
    const pod = skillPod();
    pod.metadata.annotations!['skillgate.dev/owner'] = 'alice';
    expect(violations(admitted(pod))).toMatch(/skillgate\.dev\/owner="alice" is not an email address/);
  });

  test('opting out without an allowed exception is rejected, naming the allowed exceptions', () => {
    const cfg = config({ allowedExceptions: [{ name: 'database' }] });
    const pod = skillPod();
    pod.metadata.annotations!['skillgate.dev/inject'] = 'disabled';
    expect(violations(admitted(pod, cfg), cfg)).toMatch(/without an exception.*allowed exceptions: database/);
    pod.metadata.annotations!['skillgate.dev/inject-exception'] = 'cache';
    expect(violations(admitted(pod, cfg), cfg)).toMatch(/injection exception "cache" is not allowed/);
  });

  test('opting out with an allowed exception is accepted without a sidecar', () => {
    const cfg = config({ allowedExceptions: [{ name: 'database', namespaces: ['team-a'] }] });
    const pod = skillPod();
    pod.metadata.annotations!['skillgate.dev/inject'] = 'disabled';
    pod.metadata.annotations!['skillgate.dev/inject-exception'] = 'database';
    pod.spec.containers[0]!.env = [];
    expect(validatePod(admitted(pod, cfg), injectedNs, cfg).allowed).toBe(true);
  });

  test('hostNetwork, hostPID and shareProcessNamespace are rejected', () => {
    for (const [field, msg] of [['hostNetwork', /remove spec\.hostNetwork/], ['hostPID', /remove spec\.hostPID/], ['shareProcessNamespace', /remove spec\.shareProcessNamespace/]] as const) {
      const pod = admitted();
      pod.spec[field] = true;
      expect(violations(pod)).toMatch(msg);
    }
  });

  test('NET_ADMIN or NET_RAW on an app container is rejected', () => {
    const pod = admitted();
    pod.spec.containers[0]!.securityContext = { capabilities: { add: ['NET_ADMIN', 'CAP_NET_RAW', 'CHOWN'] } };
    expect(violations(pod)).toMatch(/container skill: capabilities NET_ADMIN, NET_RAW are not allowed/);
  });

  test('only Pod Security\'s baseline capabilities (less SETUID, SETGID, NET_RAW) may be added; no unconfined seccomp or AppArmor, no unmasked /proc, no hostPort', () => {
    const pod = admitted();
    pod.spec.containers[0]!.securityContext = { capabilities: { add: ['NET_BIND_SERVICE', 'CHOWN', 'DAC_READ_SEARCH', 'SYS_MODULE', 'BPF'] } };
    expect(violations(pod)).toMatch(/container skill: capabilities DAC_READ_SEARCH, SYS_MODULE, BPF are not allowed next to the sidecar/);
    pod.spec.containers[0]!.securityContext = { capabilities: { add: ['NET_BIND_SERVICE', 'CHOWN'] }, seccompProfile: { type: 'RuntimeDefault' }, allowPrivilegeEscalation: false };
    expect(violations(pod)).toBe('');
    pod.spec.containers[0]!.securityContext = { seccompProfile: { type: 'Unconfined' }, appArmorProfile: { type: 'Unconfined' }, procMount: 'Unmasked' };
    expect(violations(pod)).toMatch(/seccompProfile Unconfined[\s\S]*AppArmor unconfined[\s\S]*procMount Unmasked unmasks \/proc/);
    const annotated = admitted();
    annotated.metadata.annotations = { ...annotated.metadata.annotations, 'container.apparmor.security.beta.kubernetes.io/skill': 'unconfined' };
    expect(violations(annotated)).toMatch(/container skill: AppArmor unconfined/);
    const withHostPort = admitted();
    withHostPort.spec.containers[0]!.ports = [{ containerPort: 8080, hostPort: 30080 }];
    expect(violations(withHostPort)).toMatch(/container skill: hostPort 30080 takes connections from outside the pod network/);
  });

  test('name resolution the sidecar shares stays the cluster\'s: no hostAliases, no resolver or search domain of the pod\'s choosing', () => {
    const withAliases = admitted();
    withAliases.spec.hostAliases = [{ ip: '203.0.113.7', hostnames: ['api.github.com'] }];
    expect(violations(withAliases)).toMatch(/hostAliases would send names the sidecar resolves too/);
    const noneDns = admitted();
    noneDns.spec.dnsPolicy = 'None';
    noneDns.spec.dnsConfig = { nameservers: ['203.0.113.53'] };
    expect(violations(noneDns)).toMatch(/dnsPolicy: None gives the pod[\s\S]*dnsConfig nameservers or searches/);
    const searches = admitted();
    searches.spec.dnsConfig = { searches: ['attacker.example'] };
    expect(violations(searches)).toMatch(/dnsConfig nameservers or searches/);
    const options = admitted();
    options.spec.dnsConfig = { options: [{ name: 'ndots', value: '2' }] };
    expect(violations(options)).toBe('');
  });

  test('a privileged app container is rejected', () => {
    const pod = admitted();
    pod.spec.containers[0]!.securityContext = { privileged: true };
    expect(violations(pod)).toMatch(/container skill: privileged containers can undo the egress capture; remove securityContext\.privileged/);
  });

  test("an app container running as the sidecar's UID is rejected", () => {
    const pod = admitted();
    pod.spec.securityContext = { runAsUser: 1337 };
    expect(violations(pod)).toMatch(/runs as UID 1337, the sidecar's UID/);
  });

  test('an app container mounting the upstream credential Secret is rejected, directly or projected', () => {
    const pod = admitted();
    pod.spec.volumes!.push({ name: 'key', secret: { secretName: 'skillgate-upstream' } }, { name: 'bundle', projected: { sources: [{ secret: { name: 'skillgate-upstream' } }] } });
    (pod.spec.containers[0]!.volumeMounts ??= []).push({ name: 'key', mountPath: '/key' }, { name: 'bundle', mountPath: '/bundle' });
    const v = violations(pod);
    expect(v).toMatch(/mounts volume key from the upstream credential Secret skillgate-upstream/);
    expect(v).toMatch(/mounts volume bundle from the upstream credential Secret skillgate-upstream/);
  });

  test("an app container mounting one of the sidecar's token volumes is rejected", () => {
    for (const name of ['skillgate-token', 'skillgate-kube-api-access', 'skillgate-podinfo']) {
      const pod = admitted();
      pod.spec.containers[0]!.volumeMounts = [{ name, mountPath: '/var/run/secrets/kubernetes.io/serviceaccount' }];
      expect(violations(pod)).toMatch(new RegExp(`container skill: mounts ${name}, which belongs to the skillgate sidecar; remove that volumeMount`));
    }
  });

  test('an app container mounting a ServiceAccount token of its own for the Kubernetes API or for skillgate is rejected', () => {
    const pod = admitted();
    pod.spec.volumes!.push(
      { name: 'api', projected: { sources: [{ serviceAccountToken: { path: 'token' } }] } },
      { name: 'gate', projected: { sources: [{ serviceAccountToken: { audience: 'skillgate', path: 'token' } }] } },
      { name: 'svc', projected: { sources: [{ serviceAccountToken: { audience: 'https://kubernetes.default.svc.cluster.local', path: 'token' } }] } },
    );
    pod.spec.containers.push({ name: 'helper', image: 'x', volumeMounts: [{ name: 'svc', mountPath: '/s' }] });
    pod.spec.initContainers!.push({ name: 'migrate', image: 'x', volumeMounts: [{ name: 'gate', mountPath: '/g' }] });
    pod.spec.containers[0]!.volumeMounts = [{ name: 'api', mountPath: '/k' }];
    const v = violations(pod);
    expect(v).toMatch(/container skill: mounts volume api, a ServiceAccount token for the Kubernetes API; remove that volumeMount/);
    expect(v).toMatch(/init container migrate: mounts volume gate, a ServiceAccount token for audience skillgate; remove that volumeMount/);
    expect(v).toMatch(/container helper: mounts volume svc, a ServiceAccount token for the Kubernetes API/);
  });

  test('a ServiceAccount token for another audience (a cloud STS) is the skill\'s own business', () => {
    const pod = admitted();
    pod.spec.volumes!.push({ name: 'aws', projected: { sources: [{ serviceAccountToken: { audience: 'sts.amazonaws.com', path: 'token' } }] } });
    pod.spec.containers[0]!.volumeMounts = [{ name: 'aws', mountPath: '/var/run/secrets/eks.amazonaws.com/serviceaccount' }];
    expect(validatePod(pod, injectedNs, config()).allowed).toBe(true);
  });

  test('an injected pod whose token automount was switched back on is rejected', () => {
    const pod = admitted();
    pod.spec.automountServiceAccountToken = true;
    expect(violations(pod)).toMatch(/spec\.automountServiceAccountToken must stay false: the pod's ServiceAccount token goes to the skillgate sidecar only/);
  });

  test('a pod opted out with an allowed exception keeps its automounted token', () => {
    const cfg = config({ allowedExceptions: [{ name: 'database' }] });
    const pod = skillPod();
    pod.metadata.annotations!['skillgate.dev/inject'] = 'disabled';
    pod.metadata.annotations!['skillgate.dev/inject-exception'] = 'database';
    pod.spec.containers[0]!.env = [];
    expect(validatePod(admitted(pod, cfg), injectedNs, cfg).allowed).toBe(true);
    expect(admitted(pod, cfg).spec.volumes!.map((v) => v.name)).toEqual(['kube-api-access-abcde']);
  });

  test('env or envFrom of the upstream credential Secret is rejected where the injector did not strip it', () => {
    const pod = admitted();
    pod.spec.containers[0]!.env!.push({ name: 'K', valueFrom: { secretKeyRef: { name: 'skillgate-upstream', key: 'api-key' } } });
    pod.spec.containers[0]!.envFrom = [{ secretRef: { name: 'skillgate-upstream' } }];
    const v = violations(pod);
    expect(v).toMatch(/env K reads the upstream credential Secret/);
    expect(v).toMatch(/envFrom reads the upstream credential Secret/);
  });

  test('an injected app container that points ANTHROPIC_BASE_URL elsewhere or carries a real key is rejected', () => {
    const pod = admitted();
    const env = pod.spec.containers[0]!.env!;
    env.find((e) => e.name === 'ANTHROPIC_BASE_URL')!.value = 'https://api.anthropic.com';
    env.find((e) => e.name === 'ANTHROPIC_API_KEY')!.value = 'sk-ant-api03-real';
    const v = violations(pod);
    expect(v).toMatch(/ANTHROPIC_BASE_URL must be http:\/\/127\.0\.0\.1:15001/);
    expect(v).toMatch(/env ANTHROPIC_API_KEY would hand the skill a Claude credential/);
  });

  test('a pod that was never injected is rejected with a hint about the mutating webhook', () => {
    expect(violations(skillPod())).toMatch(/skillgate sidecar is missing.*is the skillgate mutating webhook installed/);
  });

  test('a modified sidecar is rejected', () => {
    const pod = admitted();
    pod.spec.initContainers![1]!.image = 'evil.invalid/pass-through:1';
    expect(violations(pod)).toMatch(/init container skillgate-sidecar was modified/);
  });

  test('a container of its own named skillgate-sidecar is rejected', () => {
    const pod = admitted();
    pod.spec.containers.push({ name: SIDECAR_CONTAINER, image: 'x' });
    expect(violations(pod)).toMatch(/the name skillgate-sidecar is reserved/);
  });
});

describe('validatePod on UPDATE', () => {
  const update = (oldPod: Pod, pod: Pod, subResource = '') => validatePod(pod, injectedNs, config(), { operation: 'UPDATE', oldPod, subResource });

  test('a label change on an injected pod is allowed', () => {
    const old = admitted();
    const pod = structuredClone(old);
    pod.metadata.labels!.tier = 'gold';
    expect(update(old, pod).allowed).toBe(true);
  });

  test('changing the sidecar image is rejected as tampering', () => {
    const old = admitted();
    const pod = structuredClone(old);
    pod.spec.initContainers![1]!.image = 'evil.invalid/pass-through:1';
    expect(update(old, pod).violations.join('\n')).toMatch(/skillgate-sidecar was modified: the injected sidecar may not be removed or changed/);
  });

  test('removing the injected annotation or changing the owner or skill is rejected', () => {
    const old = admitted();
    const pod = structuredClone(old);
    delete pod.metadata.annotations!['skillgate.dev/injected'];
    pod.metadata.annotations!['skillgate.dev/owner'] = 'mallory@example.com';
    pod.metadata.labels!['skillgate.dev/skill'] = 'other';
    const v = update(old, pod).violations.join('\n');
    expect(v).toMatch(/skillgate\.dev\/injected may not be removed/);
    expect(v).toMatch(/skillgate\.dev\/owner is fixed for the pod's life \(was alice@example\.com\)/);
    expect(v).toMatch(/skillgate\.dev\/skill is fixed/);
  });

  test('a debug container as root is allowed when it cannot change user; one that can, runs as the sidecar UID or is privileged is rejected', () => {
    const old = admitted();
    const ok = structuredClone(old);
    ok.spec.ephemeralContainers = [{ name: 'debugger', image: 'busybox', securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } } }];
    expect(update(old, ok, 'ephemeralcontainers').allowed).toBe(true);
    const root = structuredClone(old);
    root.spec.ephemeralContainers = [{ name: 'debugger', image: 'busybox' }];
    expect(update(old, root, 'ephemeralcontainers').violations.join('\n')).toMatch(/must drop the SETUID, SETGID and NET_RAW capabilities/);
    const withRaw = structuredClone(old);
    withRaw.spec.ephemeralContainers = [{ name: 'debugger', image: 'busybox', securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['SETUID', 'SETGID'] } } }];
    expect(update(old, withRaw, 'ephemeralcontainers').violations.join('\n')).toMatch(/sends raw packets/);
    const bad = structuredClone(old);
    bad.spec.ephemeralContainers = [{ name: 'debugger', image: 'busybox', securityContext: { runAsUser: 1337, privileged: true } }];
    const v = update(old, bad, 'ephemeralcontainers').violations.join('\n');
    expect(v).toMatch(/ephemeral container debugger: runs as UID 1337/);
    expect(v).toMatch(/ephemeral container debugger: privileged/);
  });

  test('switching the token automount back on is rejected', () => {
    const old = admitted();
    const pod = structuredClone(old);
    pod.spec.automountServiceAccountToken = true;
    expect(update(old, pod).violations.join('\n')).toMatch(/spec\.automountServiceAccountToken must stay false.*the injected sidecar may not be removed or changed/);
    delete pod.spec.automountServiceAccountToken;
    expect(update(old, pod).violations.join('\n')).toMatch(/spec\.automountServiceAccountToken must stay false/);
  });

  test('a pod injected before the token automount was switched off may still be updated', () => {
    const old = admitted();
    delete old.spec.automountServiceAccountToken;
    const pod = structuredClone(old);
    pod.metadata.labels!.tier = 'gold';
    expect(update(old, pod).allowed).toBe(true);
  });

  test("a debug container mounting the sidecar's Kubernetes token is rejected", () => {
    const old = admitted();
    const pod = structuredClone(old);
    pod.spec.ephemeralContainers = [{ name: 'debugger', image: 'busybox', volumeMounts: [{ name: 'skillgate-kube-api-access', mountPath: '/t' }] }];
    expect(update(old, pod, 'ephemeralcontainers').violations.join('\n')).toMatch(/ephemeral container debugger: mounts skillgate-kube-api-access, which belongs to the skillgate sidecar/);
  });

  test('a debug container targeting the sidecar is rejected', () => {
    const old = admitted();
    const pod = structuredClone(old);
    pod.spec.ephemeralContainers = [{ name: 'debugger', image: 'busybox', targetContainerName: SIDECAR_CONTAINER }];
    expect(update(old, pod, 'ephemeralcontainers').violations.join('\n')).toMatch(/may not target skillgate-sidecar/);
  });

  test('a pod being deleted may always lose its finalizers', () => {
    const old = admitted();
    const pod = structuredClone(old);
    pod.metadata.deletionTimestamp = '2030-01-01T00:00:00Z';
    pod.spec.initContainers = [];
    expect(update(old, pod).allowed).toBe(true);
  });
});

describe('the injected sidecar as the API server stores it', () => {
  const cfg = config({ sidecarResources: { limits: { cpu: '0.5', memory: '1024Mi' } } });
  const stored = (change: (resources: { requests?: Record<string, string>; limits?: Record<string, string> }) => void): Pod => {
    const pod = admitted(skillPod(), cfg);
    const sidecar = pod.spec.initContainers!.find((c) => c.name === SIDECAR_CONTAINER)!;
    change(sidecar.resources!);
    return pod;
  };

  test('is admitted with its quantities in canonical form, requests defaulted from limits and a LimitRange default added', () => {
    const pod = stored((r) => {
      r.limits = { cpu: '500m', memory: '1Gi', 'ephemeral-storage': '1Gi' };
      r.requests = { cpu: '500m', memory: '1Gi' };
    });
    expect(violations(pod, cfg)).not.toMatch(/was modified/);
  });

  test('is refused when a quantity skillgate set has another value', () => {
    expect(violations(stored((r) => { r.limits = { cpu: '2', memory: '1Gi' }; }), cfg)).toMatch(/skillgate-sidecar was modified/);
    expect(violations(stored((r) => { r.limits = { memory: '1Gi' }; }), cfg)).toMatch(/skillgate-sidecar was modified/);
  });
});

test('quantities read as Kubernetes writes them', async () => {
  const { quantityValue } = await import('../src/pod.js');
  expect(quantityValue('500m')).toBe(0.5);
  expect(quantityValue('1Gi')).toBe(1024 ** 3);
  expect(quantityValue('1024Mi')).toBe(quantityValue('1Gi'));
  expect(quantityValue('1e3')).toBe(1000);
  expect(quantityValue('12x')).toBeUndefined();
});

describe('an app container may not change user (the sidecar is exempt from the capture by its UID)', () => {
  test('the injector locks it: no privilege escalation, SETUID, SETGID and NET_RAW (raw sockets bypass the capture) dropped, its own drops kept', () => {
    const pod = skillPod();
    pod.spec.containers[0]!.securityContext = { runAsUser: 0, capabilities: { drop: ['NET_BIND_SERVICE'] } };
    const app = admitted(pod).spec.containers[0]!;
    expect(app.securityContext).toMatchObject({ runAsUser: 0, allowPrivilegeEscalation: false });
    expect(app.securityContext!.capabilities!.drop).toEqual(['NET_BIND_SERVICE', 'SETUID', 'SETGID', 'NET_RAW']);
    expect(violations(admitted(pod))).toBe('');
  });

  test('a privileged container is left for validation to refuse (the API server would reject the pair with a less useful message)', () => {
    const pod = skillPod();
    pod.spec.containers[0]!.securityContext = { privileged: true };
    const app = admitted(pod).spec.containers[0]!;
    expect(app.securityContext!.allowPrivilegeEscalation).toBeUndefined();
    expect(violations(admitted(pod))).toMatch(/privileged containers can undo the egress capture/);
  });

  test('a hostPath volume in an injected pod is refused: the node\'s files hold the sidecar\'s token', () => {
    const pod = admitted();
    (pod.spec.volumes ??= []).push({ name: 'node-root', hostPath: { path: '/var/lib/kubelet' } });
    pod.spec.containers[0]!.volumeMounts = [{ name: 'node-root', mountPath: '/host' }];
    expect(violations(pod)).toMatch(/mounts node-root, a hostPath volume/);
  });

  test('adding SETUID or SETGID, or asking for privilege escalation, is refused', () => {
    const pod = admitted();
    pod.spec.containers[0]!.securityContext = { capabilities: { add: ['SETUID'] }, allowPrivilegeEscalation: true };
    const v = violations(pod);
    expect(v).toMatch(/capabilities SETUID are not allowed/);
    expect(v).toMatch(/allowPrivilegeEscalation lets a process change user/);
  });
});
