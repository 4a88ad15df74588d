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

  test('an owner behind a prefix or with a trailing dot is refused: no offboarding of the person would match that spelling', () => {
    const withOwner = (owner: string) => {
      const pod = skillPod();
      pod.metadata.annotations!['skillgate.dev/owner'] = owner;
      return validatePod(admitted(pod), injectedNs, config());
    };
    const prefixed = withOwner('oidc:jane@example.com');
    expect(prefixed.allowed).toBe(false);
    expect(prefixed.violations.join('\n')).toMatch(/skillgate\.dev\/owner="oidc:jane@example\.com" is not an email address: it has a prefix, "oidc:": use the plain email address jane@example\.com/);
    const dotted = withOwner('jane@EXAMPLE.com.');
    expect(dotted.allowed).toBe(false);
    expect(dotted.violations.join('\n')).toMatch(/skillgate\.dev\/owner="jane@EXAMPLE\.com\." is not an email address: its domain ends in a dot: write jane@EXAMPLE\.com/);
    for (const owner of ['jane @example.com', 'jane@@example.com', 'jane@example.com@evil.example', '"jane"@example.com', 'j\u0430ne@example.com', 'jane@localhost']) {
      expect([owner, withOwner(owner).allowed]).toEqual([owner, false]);
    }
  });

  test('an owner with a +tag is admitted, with a warning naming the owner it stands for', () => {
    const pod = skillPod();
    pod.metadata.annotations!['skillgate.dev/owner'] = 'Jane+triage@example.com';
    const v = validatePod(admitted(pod), injectedNs, config());
    expect([v.allowed, v.violations]).toEqual([true, []]);
    expect(v.warnings.join('\n')).toMatch(/names owner jane@example\.com: .*locked when jane@example\.com is offboarded/);
    pod.metadata.annotations!['skillgate.dev/owner'] = 'Jane.Doe@Mail.Example.com';
    expect(validatePod(admitted(pod), injectedNs, config())).toEqual({ allowed: true, violations: [], warnings: [] });
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
    pod.spec.containers[0]!.securityContext = { capabilities: { add: ['NET_BIND_SERVICE', 'CHOWN'], drop: ['ALL'] }, seccompProfile: { type: 'RuntimeDefault' }, allowPrivilegeEscalation: false };
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

  test('a hostPort is refused without pointing at a Service, which is the same inbound channel: the message says to let in only what must reach the skill', () => {
    const pod = admitted();
    pod.spec.containers[0]!.ports = [{ containerPort: 8080, hostPort: 30080 }];
    const v = violations(pod);
    expect(v).toMatch(/hostPort 30080 .*the capture covers outbound traffic only, and a Service is the same inbound channel.*let in only what must reach the skill \(its trigger\) from only who must, with a NetworkPolicy/);
    expect(v).not.toMatch(/use a Service/);
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

  test('a credential an envFrom could bring (a Secret of the pod\'s own) is pinned by an env entry of the same name, which wins: admitted; a value there is not', () => {
    for (const cfg of [config(), config({ placeholderApiKey: '' })]) {
      const pod = skillPod();
      pod.spec.containers[0]!.envFrom = [{ secretRef: { name: 'contractor-claude-token' } }, { prefix: 'ANTHROPIC_', secretRef: { name: 'more' } }];
      const out = admitted(pod, cfg);
      const env = Object.fromEntries(out.spec.containers[0]!.env!.map((e) => [e.name, e.value]));
      expect(env).toMatchObject({ ANTHROPIC_AUTH_TOKEN: '', CLAUDE_CODE_OAUTH_TOKEN: '', ANTHROPIC_API_KEY: cfg.placeholderApiKey });
      expect(out.spec.containers[0]!.envFrom).toHaveLength(2); // kept: the pinned names win over them
      expect(validatePod(out, injectedNs, cfg)).toMatchObject({ allowed: true });
    }
    // Without an envFrom nothing is added; Claude Code's OAuth token in env is a credential like the others.
    expect(admitted().spec.containers[0]!.env!.map((e) => e.name)).not.toContain('CLAUDE_CODE_OAUTH_TOKEN');
    const pod = admitted();
    pod.spec.containers[0]!.env!.push({ name: 'CLAUDE_CODE_OAUTH_TOKEN', value: 'sk-ant-oat01-real' });
    expect(violations(pod)).toMatch(/env CLAUDE_CODE_OAUTH_TOKEN would hand the skill a Claude credential/);
    const given = skillPod();
    given.spec.containers[0]!.env!.push({ name: 'CLAUDE_CODE_OAUTH_TOKEN', value: 'sk-ant-oat01-real' });
    expect(admitted(given).spec.containers[0]!.env!.map((e) => e.name)).not.toContain('CLAUDE_CODE_OAUTH_TOKEN');
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
    expect(update(old, root, 'ephemeralcontainers').violations.join('\n')).toMatch(/ephemeral container debugger: must set securityContext\.allowPrivilegeEscalation: false and SETUID, SETGID, NET_RAW in securityContext\.capabilities\.drop \(or ALL\).*kubectl debug --profile=restricted sets both/);
    const withRaw = structuredClone(old);
    withRaw.spec.ephemeralContainers = [{ name: 'debugger', image: 'busybox', securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['SETUID', 'SETGID'] } } }];
    expect(update(old, withRaw, 'ephemeralcontainers').violations.join('\n')).toMatch(/must set NET_RAW in securityContext\.capabilities\.drop \(or ALL\): .*raw packets bypass it/);
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
    expect(violations(pod)).toMatch(/volume node-root is a hostPath volume: the node's files hold the sidecar's credentials/);
  });

  test('adding SETUID or SETGID, or asking for privilege escalation, is refused', () => {
    const pod = admitted();
    pod.spec.containers[0]!.securityContext = { capabilities: { add: ['SETUID'] }, allowPrivilegeEscalation: true };
    const v = violations(pod);
    expect(v).toMatch(/capabilities SETUID are not allowed/);
    expect(v).toMatch(/allowPrivilegeEscalation lets a process change user/);
  });
});

describe('a container the injector did not lock must lock itself: a setuid binary of the sidecar\'s UID would otherwise leave the capture', () => {
  const update = (oldPod: Pod, pod: Pod) => validatePod(pod, injectedNs, config(), { operation: 'UPDATE', oldPod, subResource: 'ephemeralcontainers' });
  const lockedDown = { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } };

  test('every container the injector produced passes, whatever the pod asked for', () => {
    const pod = skillPod();
    pod.spec.initContainers = [{ name: 'migrate', image: 'x', securityContext: { runAsUser: 0, capabilities: { add: ['CHOWN'] } } }];
    pod.spec.containers.push({ name: 'helper', image: 'x', securityContext: { allowPrivilegeEscalation: true, capabilities: { drop: ['NET_RAW'] } } });
    expect(violations(admitted(pod))).toBe('');
  });

  test('an app container added after injection (by a later webhook) that leaves privilege escalation unset, or keeps SETUID, SETGID or NET_RAW, is refused', () => {
    const pod = admitted();
    pod.spec.containers.push({ name: 'late', image: 'x', securityContext: { capabilities: { drop: ['ALL'] } } });
    pod.spec.initContainers!.push({ name: 'late-init', image: 'x', securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['SETGID'] } } });
    const v = violations(pod);
    expect(v).toMatch(/container late: must set securityContext\.allowPrivilegeEscalation: false: a setuid binary .* could take the sidecar's UID, whose traffic the egress capture exempts.*a container added after it \(by another mutating webhook\) must set them itself/);
    expect(v).toMatch(/init container late-init: must set SETUID, NET_RAW in securityContext\.capabilities\.drop \(or ALL\)/);
  });

  test('an app container added after injection that locks itself is admitted', () => {
    const pod = admitted();
    pod.spec.containers.push({ name: 'late', image: 'x', securityContext: lockedDown });
    pod.spec.containers.push({ name: 'late-2', image: 'x', securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['cap_setuid', 'SETGID', 'NET_RAW'] } } });
    expect(violations(pod)).toBe('');
  });

  test('a debug container dropping ALL but leaving privilege escalation unset is refused (a setuid binary keeps working), naming kubectl debug --profile=restricted', () => {
    const old = admitted();
    const pod = structuredClone(old);
    pod.spec.ephemeralContainers = [{ name: 'debugger', image: 'busybox', securityContext: { capabilities: { drop: ['ALL'] } } }];
    expect(update(old, pod).violations.join('\n')).toMatch(/ephemeral container debugger: must set securityContext\.allowPrivilegeEscalation: false: .*kubectl debug --profile=restricted sets both/);
    pod.spec.ephemeralContainers = [{ name: 'debugger', image: 'busybox', securityContext: lockedDown }];
    expect(update(old, pod).allowed).toBe(true);
  });

  test('a pod opted out of injection has no capture to leave: its containers need not lock themselves', () => {
    const cfg = config({ allowedExceptions: [{ name: 'database' }] });
    const pod = skillPod();
    pod.metadata.annotations!['skillgate.dev/inject'] = 'disabled';
    pod.metadata.annotations!['skillgate.dev/inject-exception'] = 'database';
    pod.spec.containers[0]!.env = [];
    expect(validatePod(admitted(pod, cfg), injectedNs, cfg).violations).toEqual([]);
  });
});

describe('volumes the kubelet mounts from the node are refused in injected pods (they carry data out outside the capture)', () => {
  const withVolume = (volume: Record<string, unknown>, mounted = true): Pod => {
    const pod = admitted();
    pod.spec.volumes!.push({ name: 'data', ...volume });
    if (mounted) (pod.spec.containers[0]!.volumeMounts ??= []).push({ name: 'data', mountPath: '/data' });
    return pod;
  };

  test.each([
    ['nfs', { nfs: { server: 'exfil.attacker.example', path: '/drop' } }],
    ['iscsi', { iscsi: { targetPortal: '203.0.113.9:3260', iqn: 'iqn.2001-04.com.example:storage', lun: 0 } }],
    ['cephfs', { cephfs: { monitors: ['203.0.113.9:6789'] } }],
    ['rbd', { rbd: { monitors: ['203.0.113.9:6789'], image: 'img' } }],
    ['flexVolume', { flexVolume: { driver: 'example.com/s3' } }],
    ['glusterfs', { glusterfs: { endpoints: 'gluster', path: 'vol' } }],
    ['gitRepo', { gitRepo: { repository: 'https://git.attacker.example/x.git' } }],
    ['image', { image: { reference: 'example.invalid/data:1' } }],
  ])('a volume of kind %s is refused, naming the kinds that are allowed', (kind, volume) => {
    const message = new RegExp(`volume data is of kind ${kind}, which the kubelet mounts from the node, outside the pod's egress capture.*use configMap, csi, downwardAPI, emptyDir, ephemeral, persistentVolumeClaim, projected or secret volumes`);
    expect(violations(withVolume(volume))).toMatch(message);
    // Mounted by no container, the kubelet still mounts it for the pod.
    expect(violations(withVolume(volume, false))).toMatch(message);
  });

  test('the kinds Pod Security "restricted" allows are admitted', () => {
    for (const volume of [
      { configMap: { name: 'settings' } }, { downwardAPI: { items: [] } }, { emptyDir: {} }, { persistentVolumeClaim: { claimName: 'work' } },
      { projected: { sources: [{ configMap: { name: 'settings' } }] } }, { secret: { secretName: 'tickets-token' } },
      { ephemeral: { volumeClaimTemplate: { spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } } } } },
    ]) expect(violations(withVolume(volume))).toBe('');
  });

  test('an inline csi volume is admitted only for a driver the injection config names (none by default)', () => {
    const csi = { csi: { driver: 'secrets-store.csi.k8s.io', volumeAttributes: { secretProviderClass: 'tickets' } } };
    expect(violations(withVolume(csi))).toMatch(/volume data is an inline csi volume of driver secrets-store\.csi\.k8s\.io, which the injection config does not allow \(none is allowed\).*injection\.allowedCsiDrivers/);
    const cfg = config({ allowedCsiDrivers: ['secrets-store.csi.k8s.io'] });
    expect(violations(withVolume(csi), cfg)).toBe('');
    expect(violations(withVolume({ csi: { driver: 's3.csi.example.com' } }), cfg)).toMatch(/driver s3\.csi\.example\.com, which the injection config does not allow \(allowed: secrets-store\.csi\.k8s\.io\)/);
  });

  test('a pod opted out of injection may use any kind (it runs without the sidecar)', () => {
    const cfg = config({ allowedExceptions: [{ name: 'database' }] });
    const pod = skillPod();
    pod.metadata.annotations!['skillgate.dev/inject'] = 'disabled';
    pod.metadata.annotations!['skillgate.dev/inject-exception'] = 'database';
    pod.spec.containers[0]!.env = [];
    pod.spec.volumes!.push({ name: 'backups', nfs: { server: 'nas.internal', path: '/pg' } });
    expect(validatePod(pod, injectedNs, cfg).violations).toEqual([]);
  });

  test('a pod admitted before these rules may still be updated, but a debug container may not mount such a volume', () => {
    const old = withVolume({ nfs: { server: 'nas.internal', path: '/x' } });
    const labelled = structuredClone(old);
    labelled.metadata.labels!.tier = 'gold';
    expect(validatePod(labelled, injectedNs, config(), { operation: 'UPDATE', oldPod: old }).allowed).toBe(true);
    const debugged = structuredClone(old);
    debugged.spec.ephemeralContainers = [{ name: 'debugger', image: 'busybox', securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } }, volumeMounts: [{ name: 'data', mountPath: '/d' }] }];
    expect(validatePod(debugged, injectedNs, config(), { operation: 'UPDATE', oldPod: old, subResource: 'ephemeralcontainers' }).violations.join('\n'))
      .toMatch(/ephemeral container debugger: may not mount data: volume data is of kind nfs/);
  });
});

describe('what Pod Security "baseline" refuses and the skill namespace (which must allow "privileged" for the capture) would not', () => {
  test('an SELinux type other than the container types, or an SELinux user or role, is refused on the pod and on a container', () => {
    const pod = admitted();
    pod.spec.securityContext = { seLinuxOptions: { type: 'spc_t' } };
    pod.spec.containers[0]!.securityContext = { ...pod.spec.containers[0]!.securityContext, seLinuxOptions: { user: 'system_u', role: 'system_r', level: 's0:c1,c2' } };
    const v = violations(pod);
    expect(v).toMatch(/spec\.securityContext: seLinuxOptions\.type spc_t is not allowed next to the sidecar.*use one Pod Security "baseline" allows: container_t, container_init_t, container_kvm_t, container_engine_t/);
    expect(v).toMatch(/container skill: seLinuxOptions\.user and \.role may not be set \(Pod Security "baseline"\): remove them/);
  });

  test('the container SELinux types and a level are admitted', () => {
    const pod = admitted();
    pod.spec.securityContext = { seLinuxOptions: { type: 'container_t', level: 's0:c123,c456' } };
    pod.spec.containers[0]!.securityContext = { ...pod.spec.containers[0]!.securityContext, seLinuxOptions: { type: 'container_engine_t' } };
    expect(violations(pod)).toBe('');
  });

  test('a sysctl outside baseline\'s safe set is refused, naming the safe ones; the safe ones pass, in either spelling', () => {
    const pod = admitted();
    pod.spec.securityContext = { sysctls: [{ name: 'net.ipv4.ip_forward', value: '1' }, { name: 'kernel.msgmax', value: '65536' }, { name: 'net.ipv4.tcp_syncookies', value: '1' }] };
    expect(violations(pod)).toMatch(/spec\.securityContext\.sysctls net\.ipv4\.ip_forward, kernel\.msgmax are not in Pod Security "baseline"'s safe set.*net\.ipv4\.ip_local_port_range.*remove them/);
    pod.spec.securityContext = { sysctls: [{ name: 'net/ipv4/ip_local_port_range', value: '1024 65535' }, { name: 'net.ipv4.tcp_keepalive_time', value: '60' }] };
    expect(violations(pod)).toBe('');
  });
});

describe('a pod that opts out of injection may carry nothing of the sidecar\'s (the token exchange would hand it a workload token and the upstream credential)', () => {
  const cfg = config({ allowedExceptions: [{ name: 'database' }] });
  const optedOut = (): Pod => {
    const pod = skillPod();
    pod.metadata.annotations!['skillgate.dev/inject'] = 'disabled';
    pod.metadata.annotations!['skillgate.dev/inject-exception'] = 'database';
    pod.spec.containers[0]!.env = [];
    return pod;
  };
  const gateToken = { projected: { sources: [{ serviceAccountToken: { audience: 'skillgate', expirationSeconds: 3600, path: 'token' } }] } };

  test('a look-alike sidecar as an init container with a skillgate-audience token is refused', () => {
    const pod = optedOut();
    pod.spec.initContainers = [{ name: SIDECAR_CONTAINER, image: 'x', restartPolicy: 'Always', volumeMounts: [{ name: 'gate', mountPath: '/var/run/secrets/skillgate' }] }];
    pod.spec.volumes!.push({ name: 'gate', ...gateToken });
    const v = validatePod(pod, injectedNs, cfg).violations.join('\n');
    expect(v).toMatch(/init container skillgate-sidecar: the name skillgate-sidecar is reserved for skillgate's injected containers, and this pod opts out of injection \(exception "database"\).*rename it/);
    expect(v).toMatch(/volume gate: a ServiceAccount token for audience skillgate, which only the injected sidecar may hold.*remove that token source/);
  });

  test('an init container named skillgate-init, a container named skillgate-sidecar, a volume under a sidecar volume name or the injected annotation are refused', () => {
    const pod = optedOut();
    pod.spec.initContainers = [{ name: 'skillgate-init', image: 'x' }];
    pod.spec.containers.push({ name: SIDECAR_CONTAINER, image: 'x' });
    pod.spec.volumes!.push({ name: 'skillgate-token', emptyDir: {} });
    pod.metadata.annotations!['skillgate.dev/injected'] = '0.2.2';
    const v = validatePod(pod, injectedNs, cfg).violations.join('\n');
    expect(v).toMatch(/init container skillgate-init: the name skillgate-init is reserved/);
    expect(v).toMatch(/container skillgate-sidecar: the name skillgate-sidecar is reserved/);
    expect(v).toMatch(/volume skillgate-token: the name skillgate-token is reserved for the skillgate sidecar's volumes/);
    expect(v).toMatch(/annotation skillgate\.dev\/injected is set by skillgate's injector only/);
  });

  test('a token of its own for another audience, and its automounted Kubernetes token, stay the opted-out pod\'s business', () => {
    const pod = optedOut();
    pod.spec.volumes!.push({ name: 'aws', projected: { sources: [{ serviceAccountToken: { audience: 'sts.amazonaws.com', path: 'token' } }] } });
    expect(validatePod(pod, injectedNs, cfg).violations).toEqual([]);
  });

  test('a debug container named like the sidecar is refused in an opted-out pod too', () => {
    const old = optedOut();
    const pod = structuredClone(old);
    pod.spec.ephemeralContainers = [{ name: SIDECAR_CONTAINER, image: 'x', securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } } }];
    expect(validatePod(pod, injectedNs, cfg, { operation: 'UPDATE', oldPod: old, subResource: 'ephemeralcontainers' }).violations.join('\n')).toMatch(/ephemeral container skillgate-sidecar: the name skillgate-sidecar is reserved/);
  });
});
