// Pod validation for injected namespaces: closes the ways a skill could run around the sidecar.
// Each rule returns a message that says what to change. Pure: decisions come from the pod, the old
// pod (UPDATE), the namespace and the config only. It must never allow a pod whose app containers
// can reach the upstream credential, the sidecar's token, or the network without the sidecar.
import { ANNOTATION_INJECTED, ANNOTATION_OWNER, LABEL_SKILL, TOKEN_AUDIENCE, certificateBlocks, normalizeOwner, ownerAddressProblem } from '@skillgate/api';
import type { WebhookConfig } from './config.js';
import {
  CLAUDE_BASE_URL, CONTROLLER_CA_ENV, CREDENTIAL_ENV, INIT_CONTAINER, RESERVED_CONTAINER_NAMES, RESERVED_VOLUME_NAMES, SIDECAR_CONTAINER,
  CAPTURE_ESCAPING_CAPS, envUsesSecret, initContainer, injectedVolumes, namespaceInjectionEnabled, optOutOf, sidecarContainer,
} from './inject.js';
import { jsonEqual } from './json-patch.js';
import { capabilityNames, podDisplayName, quantityValue, type Container, type EnvVar, type NamespaceInfo, type Pod, type SELinuxOptions, type Volume } from './pod.js';

export interface PodAdmission {
  operation: 'CREATE' | 'UPDATE';
  /** The pod before the change (UPDATE). */
  oldPod?: Pod;
  /** '' for the pod itself, 'ephemeralcontainers' for kubectl debug. */
  subResource?: string;
}

export interface Verdict {
  allowed: boolean;
  /** Why it was rejected, one entry per rule broken; each says what to change. */
  violations: string[];
  warnings: string[];
}

/**
 * Capabilities an app container may add next to the sidecar: Pod Security's baseline list, less the
 * ones that leave the egress capture (SETUID, SETGID: take the sidecar's UID; NET_RAW: packets no
 * iptables rule sees). Anything else (NET_ADMIN rewrites the rules, SYS_ADMIN, SYS_PTRACE,
 * DAC_READ_SEARCH reads host files through open_by_handle_at, SYS_MODULE, BPF, ...) is refused.
 */
const ALLOWED_CAPS = new Set(['AUDIT_WRITE', 'CHOWN', 'DAC_OVERRIDE', 'FOWNER', 'FSETID', 'KILL', 'MKNOD', 'NET_BIND_SERVICE', 'SETFCAP', 'SETPCAP', 'SYS_CHROOT']
  .filter((cap) => !(CAPTURE_ESCAPING_CAPS as readonly string[]).includes(cap)));

/**
 * Volume sources an injected pod may use: Pod Security's "restricted" list. The kubelet mounts every
 * other kind from the node (nfs, iscsi, cephfs, rbd, glusterfs, flexVolume, gitRepo's clone...), over
 * the node's network and outside the pod's egress capture, so a skill that writes to one sends data
 * out without the sidecar; hostPath hands it the node's files. Inline `csi` volumes are mounted from
 * the node as well: only the drivers the injection config names (allowedCsiDrivers) are allowed.
 * A PersistentVolumeClaim is allowed: its storage is what the cluster admin provisioned.
 */
const POD_VOLUME_SOURCES: ReadonlySet<string> = new Set(['configMap', 'csi', 'downwardAPI', 'emptyDir', 'ephemeral', 'persistentVolumeClaim', 'projected', 'secret']);

/** SELinux types Pod Security's "baseline" allows (empty: the runtime's default). Any other type could be one that reaches past the container. */
const SELINUX_TYPES: ReadonlySet<string> = new Set(['container_t', 'container_init_t', 'container_kvm_t', 'container_engine_t']);

/**
 * Pod Security's "baseline" safe sysctls: namespaced to the pod and isolated from the node. Any
 * other (the kubelet refuses most unless the node allows them) can reach the node or other pods.
 */
const SAFE_SYSCTLS: ReadonlySet<string> = new Set([
  'kernel.shm_rmid_forced', 'net.ipv4.ip_local_port_range', 'net.ipv4.ip_unprivileged_port_start', 'net.ipv4.tcp_syncookies',
  'net.ipv4.ping_group_range', 'net.ipv4.ip_local_reserved_ports', 'net.ipv4.tcp_keepalive_time', 'net.ipv4.tcp_fin_timeout',
  'net.ipv4.tcp_keepalive_intvl', 'net.ipv4.tcp_keepalive_probes',
]);

/** A sysctl name in dotted form: Kubernetes also takes slashes as the separator (net/ipv4/tcp_syncookies), swapping dots and slashes. */
const dottedSysctl = (name: string): string => (name.includes('/') ? name.replace(/[./]/g, (c) => (c === '/' ? '.' : '/')) : name);

type Role = 'container' | 'init container' | 'ephemeral container';

function appContainers(pod: Pod): Array<{ c: Container; role: Role }> {
  const s = pod.spec;
  return [
    ...(s.initContainers ?? []).filter((c) => !RESERVED_CONTAINER_NAMES.has(c.name)).map((c) => ({ c, role: 'init container' as Role })),
    ...s.containers.map((c) => ({ c, role: 'container' as Role })),
    ...(s.ephemeralContainers ?? []).map((c) => ({ c, role: 'ephemeral container' as Role })),
  ];
}

/**
 * Whether a volume holds a ServiceAccount token a skill could misuse: one for the API server's own
 * audience (no audience set: the pod's Kubernetes credential, which the sidecar's RBAC is bound to)
 * or for skillgate's (exchangeable for a workload token). Tokens for other audiences (a cloud
 * provider's STS, Vault) are the skill's own business.
 */
function volumeTokenAudience(v: Volume): string | undefined {
  for (const s of v.projected?.sources ?? []) {
    const aud = s.serviceAccountToken?.audience;
    if (!s.serviceAccountToken) continue;
    if (!aud || API_AUDIENCE.test(aud)) return 'the Kubernetes API';
    if (aud === TOKEN_AUDIENCE) return aud;
  }
  return undefined;
}

/**
 * Audiences kube-apiservers commonly accept besides "none given" (--api-audiences defaults to the
 * issuer, usually the in-cluster service URL). A cluster with another issuer (a cloud OIDC URL)
 * accepts that too, which this cannot know without config: such tokens are the residual case.
 */
const API_AUDIENCE = /^(https:\/\/kubernetes\.default\.svc(\.[a-z0-9.-]+)?\/?|kubernetes|api)$/;

/** Whether a volume exposes the Secret named `secretName` (directly or through a projection). */
function volumeUsesSecret(v: Volume, secretName: string): boolean {
  if (v.secret?.secretName === secretName) return true;
  return (v.projected?.sources ?? []).some((s) => s.secret?.name === secretName);
}

/** The AppArmor profile the pre-1.30 annotation gives a container (`container.apparmor.security.beta.kubernetes.io/<name>`). */
function appArmorAnnotation(pod: Pod, container: string): string | undefined {
  return pod.metadata.annotations?.[`container.apparmor.security.beta.kubernetes.io/${container}`];
}

/** Why a volume may not be in an injected pod, or undefined when it may. */
function volumeProblem(v: Volume, config: WebhookConfig): string | undefined {
  // The API server defaults a volume without a source to emptyDir; a volume has exactly one source.
  const source = Object.keys(v).find((k) => k !== 'name');
  if (source === undefined) return undefined;
  if (source === 'hostPath') {
    return `volume ${v.name} is a hostPath volume: the node's files hold the sidecar's credentials and other pods'; use another kind of volume (emptyDir, a PersistentVolumeClaim)`;
  }
  if (!POD_VOLUME_SOURCES.has(source)) {
    return `volume ${v.name} is of kind ${source}, which the kubelet mounts from the node, outside the pod's egress capture (network storage such as nfs or iscsi would carry the skill's data out without the sidecar); `
      + 'use configMap, csi, downwardAPI, emptyDir, ephemeral, persistentVolumeClaim, projected or secret volumes (the kinds Pod Security "restricted" allows), '
      + 'and for network storage a PersistentVolumeClaim of a StorageClass your cluster admin provides';
  }
  if (source === 'csi') {
    const driver = v.csi?.driver ?? '';
    if (!config.allowedCsiDrivers.includes(driver)) {
      const allowed = config.allowedCsiDrivers.length ? `allowed: ${config.allowedCsiDrivers.join(', ')}` : 'none is allowed';
      return `volume ${v.name} is an inline csi volume of driver ${driver || '(none)'}, which the injection config does not allow (${allowed}): a CSI driver mounts from the node, outside the pod's egress capture; `
        + 'use a PersistentVolumeClaim, or ask your cluster admin to add the driver to injection.allowedCsiDrivers if it sends nothing the skill writes over the network';
    }
  }
  return undefined;
}

/** What Pod Security "baseline" refuses in seLinuxOptions (at `where`), or nothing. */
function seLinuxProblems(opts: SELinuxOptions | undefined, where: string, out: string[]): void {
  if (!opts) return;
  if (opts.type !== undefined && opts.type !== '' && !SELINUX_TYPES.has(opts.type)) {
    out.push(`${where}: seLinuxOptions.type ${opts.type} is not allowed next to the sidecar (a type of the node's own can reach past the container); remove it or use one Pod Security "baseline" allows: ${[...SELINUX_TYPES].join(', ')}`);
  }
  const custom = (['user', 'role'] as const).filter((f) => opts[f] !== undefined && opts[f] !== '');
  if (custom.length) out.push(`${where}: seLinuxOptions.${custom.join(' and .')} may not be set (Pod Security "baseline"): remove ${custom.length > 1 ? 'them' : 'it'}`);
}

/**
 * Whether a volume is a ServiceAccount token for skillgate's audience: what the controller's token
 * exchange takes from the injected sidecar, and answers with a workload token and the upstream
 * credential.
 */
const holdsSkillgateToken = (v: Volume): boolean => (v.projected?.sources ?? []).some((s) => s.serviceAccountToken?.audience === TOKEN_AUDIENCE);

/**
 * A pod that opts out of injection (an allowed exception) runs without the sidecar, so nothing of
 * the sidecar's may be in it: no container, init container or volume under the injector's names,
 * no ServiceAccount token for skillgate's audience (the token exchange would give whoever holds it
 * a workload token and the upstream credential), no injected annotation. Checked on CREATE (pod
 * specs are immutable; an ephemeral container is checked by name in checkContainer).
 */
function checkOptedOut(pod: Pod, exception: string, out: string[]): void {
  const why = `this pod opts out of injection (exception "${exception}") and runs without the skillgate sidecar`;
  for (const c of pod.spec.initContainers ?? []) {
    if (RESERVED_CONTAINER_NAMES.has(c.name)) out.push(`init container ${c.name}: the name ${c.name} is reserved for skillgate's injected containers, and ${why}; rename it`);
  }
  for (const v of pod.spec.volumes ?? []) {
    if (RESERVED_VOLUME_NAMES.has(v.name)) out.push(`volume ${v.name}: the name ${v.name} is reserved for the skillgate sidecar's volumes, and ${why}; rename it`);
    else if (holdsSkillgateToken(v)) {
      out.push(`volume ${v.name}: a ServiceAccount token for audience ${TOKEN_AUDIENCE}, which only the injected sidecar may hold (skillgate exchanges it for a workload token and the upstream credential), and ${why}; remove that token source`);
    }
  }
  if (pod.metadata.annotations?.[ANNOTATION_INJECTED] !== undefined) out.push(`annotation ${ANNOTATION_INJECTED} is set by skillgate's injector only, and ${why}; remove it`);
}

export const isInjected = (pod: Pod): boolean =>
  (pod.spec.initContainers ?? []).some((c) => c.name === SIDECAR_CONTAINER) || pod.metadata.annotations?.[ANNOTATION_INJECTED] !== undefined;

function checkContainer(pod: Pod, c: Container, role: Role, config: WebhookConfig, injected: boolean, out: string[]): void {
  const where = `${role} ${c.name}`;
  if (RESERVED_CONTAINER_NAMES.has(c.name)) out.push(`${where}: the name ${c.name} is reserved for skillgate's injected containers; rename it`);
  const sc = c.securityContext ?? {};
  if (sc.privileged) out.push(`${where}: privileged containers can undo the egress capture; remove securityContext.privileged`);
  const added = capabilityNames(sc.capabilities?.add);
  const bad = [...added].filter((x) => !ALLOWED_CAPS.has(x));
  if (bad.length) out.push(`${where}: capabilities ${bad.join(', ')} are not allowed next to the sidecar (they can rewrite the pod's network rules, change user or reach past the container; Pod Security's baseline list less SETUID, SETGID and NET_RAW is); remove them from securityContext.capabilities.add`);
  const seccomp = sc.seccompProfile?.type ?? pod.spec.securityContext?.seccompProfile?.type;
  if (seccomp === 'Unconfined') out.push(`${where}: seccompProfile Unconfined opens system calls that reach past the container; use RuntimeDefault or a Localhost profile`);
  const apparmor = sc.appArmorProfile?.type ?? pod.spec.securityContext?.appArmorProfile?.type ?? appArmorAnnotation(pod, c.name);
  if (apparmor !== undefined && apparmor.toLowerCase() === 'unconfined') out.push(`${where}: AppArmor unconfined is not allowed next to the sidecar; use RuntimeDefault or a Localhost profile`);
  if (sc.procMount !== undefined && sc.procMount !== 'Default') out.push(`${where}: procMount ${sc.procMount} unmasks /proc; remove it`);
  seLinuxProblems(sc.seLinuxOptions, where, out);
  const hostPorts = (c.ports ?? []).filter((p) => p.hostPort !== undefined && p.hostPort !== 0).map((p) => p.hostPort);
  if (hostPorts.length) {
    out.push(`${where}: hostPort ${hostPorts.join(', ')} takes connections from outside the pod network, which a skill could answer with data the sidecar never sees (the capture covers outbound traffic only, and a Service is the same inbound channel); `
      + 'remove it, and let in only what must reach the skill (its trigger) from only who must, with a NetworkPolicy (README, Known limitations)');
  }
  if (sc.allowPrivilegeEscalation === true) out.push(`${where}: allowPrivilegeEscalation lets a process change user and leave the egress capture; remove it (skillgate sets it to false)`);
  // The capture exempts the sidecar by its UID. A container the injector did not lock (an ephemeral
  // one; one another webhook added after injection) must lock itself: without no_new_privs a setuid
  // binary owned by the sidecar's UID runs as that UID even with every capability dropped, and a root
  // process with SETUID/SETGID can switch to it; NET_RAW sends packets no iptables rule sees. A
  // privileged container (or one adding SYS_ADMIN) is refused above, and the API server would refuse
  // allowPrivilegeEscalation: false beside it, so it is not told to set it.
  if ((injected || role === 'ephemeral container') && !sc.privileged && !added.has('SYS_ADMIN')) {
    const dropped = capabilityNames(sc.capabilities?.drop);
    const kept = dropped.has('ALL') ? [] : CAPTURE_ESCAPING_CAPS.filter((cap) => !dropped.has(cap));
    const missing = [
      ...(sc.allowPrivilegeEscalation === undefined ? ['securityContext.allowPrivilegeEscalation: false'] : []),
      ...(kept.length ? [`${kept.join(', ')} in securityContext.capabilities.drop (or ALL)`] : []),
    ];
    if (missing.length) {
      out.push(`${where}: must set ${missing.join(' and ')}: a setuid binary or a process that changes user could take the sidecar's UID, whose traffic the egress capture exempts, and raw packets bypass it; `
        + (role === 'ephemeral container'
          ? 'kubectl debug --profile=restricted sets both'
          : 'skillgate\'s injector sets both on the containers it injects, so a container added after it (by another mutating webhook) must set them itself'));
    }
  }
  const uid = sc.runAsUser ?? pod.spec.securityContext?.runAsUser;
  if (uid === config.sidecarUid) out.push(`${where}: runs as UID ${uid}, the sidecar's UID, whose traffic is not captured; run it as another user`);
  if (typeof c.targetContainerName === 'string' && RESERVED_CONTAINER_NAMES.has(c.targetContainerName)) {
    out.push(`${where}: may not target ${c.targetContainerName}; debug the app container instead`);
  }
  const volumes = new Map((pod.spec.volumes ?? []).map((v) => [v.name, v]));
  for (const m of c.volumeMounts ?? []) {
    const v = volumes.get(m.name);
    if (RESERVED_VOLUME_NAMES.has(m.name)) out.push(`${where}: mounts ${m.name}, which belongs to the skillgate sidecar; remove that volumeMount`);
    else if (v && volumeUsesSecret(v, config.upstreamSecret.name)) {
      out.push(`${where}: mounts volume ${m.name} from the upstream credential Secret ${config.upstreamSecret.name}; remove it: the sidecar calls Claude for the skill`);
    } else if (v && injected) {
      const audience = volumeTokenAudience(v);
      // A pod's volumes are checked when it is created; a debug container added later to a pod
      // admitted before those rules must not reach a volume they would have refused.
      const refused = role === 'ephemeral container' ? volumeProblem(v, config) : undefined;
      if (audience) out.push(`${where}: mounts volume ${m.name}, a ServiceAccount token for ${audience === TOKEN_AUDIENCE ? `audience ${audience}` : audience}; remove that volumeMount: in a skillgate pod only the sidecar holds the pod's Kubernetes and skillgate credentials`);
      else if (refused) out.push(`${where}: may not mount ${m.name}: ${refused}`);
    }
  }
  for (const e of c.env ?? []) {
    if (envUsesSecret(e, config.upstreamSecret.name)) {
      out.push(`${where}: env ${e.name} reads the upstream credential Secret ${config.upstreamSecret.name}; remove it: the sidecar calls Claude for the skill`);
    } else if (injected && role !== 'ephemeral container' && CREDENTIAL_ENV.has(e.name) && !pinnedCredential(e, config)) {
      out.push(`${where}: env ${e.name} would hand the skill a Claude credential; remove it: the sidecar holds the credential`);
    } else if (injected && role !== 'ephemeral container' && e.name === 'ANTHROPIC_BASE_URL' && (e.valueFrom || e.value !== CLAUDE_BASE_URL)) {
      out.push(`${where}: ANTHROPIC_BASE_URL must be ${CLAUDE_BASE_URL} (the sidecar); remove your value`);
    }
  }
  for (const s of c.envFrom ?? []) {
    if (s.secretRef?.name === config.upstreamSecret.name) {
      out.push(`${where}: envFrom reads the upstream credential Secret ${config.upstreamSecret.name}; remove it: the sidecar calls Claude for the skill`);
    }
  }
}

/** A credential variable as the injector pins it: ANTHROPIC_API_KEY to the placeholder, or any of them empty (over an envFrom). */
function pinnedCredential(e: EnvVar, config: WebhookConfig): boolean {
  if (e.valueFrom) return false;
  const value = e.value ?? '';
  return value === '' || (e.name === 'ANTHROPIC_API_KEY' && value === config.placeholderApiKey);
}

/** What the injector put into a pod: from the template (CREATE) or from the old pod (UPDATE). */
interface InjectedParts {
  init: Container;
  sidecar: Container;
  volumes: Volume[];
  /** false where the injector switched the token automount off (pods injected by older templates: unset). */
  automountServiceAccountToken: unknown;
}

/** Checks that the injected containers sit first, in order, exactly as `expected` (template or old pod). */
function checkInjectedParts(pod: Pod, expected: InjectedParts, what: string, out: string[]): void {
  const init = pod.spec.initContainers ?? [];
  const sidecarAt = init.findIndex((c) => c.name === SIDECAR_CONTAINER);
  const initAt = init.findIndex((c) => c.name === INIT_CONTAINER);
  if (sidecarAt < 0 || initAt < 0) {
    out.push(`the skillgate sidecar is missing (${sidecarAt < 0 ? SIDECAR_CONTAINER : INIT_CONTAINER} not found): ${what}`);
    return;
  }
  if (expected.automountServiceAccountToken === false && pod.spec.automountServiceAccountToken !== false) {
    out.push(`spec.automountServiceAccountToken must stay false: the pod's ServiceAccount token goes to the skillgate sidecar only, never to app containers; do not set it back (${what})`);
  }
  if (initAt !== 0 || sidecarAt !== 1) out.push(`${INIT_CONTAINER} and ${SIDECAR_CONTAINER} must be the first two init containers: do not reorder them`);
  if (!sameInjectedContainer(init[sidecarAt], expected.sidecar)) out.push(`init container ${SIDECAR_CONTAINER} was modified: ${what}`);
  if (!sameInjectedContainer(init[initAt], expected.init)) out.push(`init container ${INIT_CONTAINER} was modified: ${what}`);
  const volumes = new Map((pod.spec.volumes ?? []).map((v) => [v.name, v]));
  for (const v of expected.volumes) {
    if (!jsonEqual(volumes.get(v.name), v)) out.push(`volume ${v.name} is missing or modified: ${what}`);
  }
}

/**
 * An injected container as the API server may have stored it: exactly as injected, except that its
 * resource quantities may be in canonical form ("0.5" is stored as "500m", "1024Mi" as "1Gi") and
 * the API server may add requests (defaulted from limits) and a LimitRange's defaults. Those only
 * constrain the container; every quantity skillgate set must be there with its value.
 */
export function sameInjectedContainer(actual: Container | undefined, expected: Container): boolean {
  if (!actual) return false;
  const { resources: actualResources, ...rest } = withoutControllerCa(actual);
  const { resources: expectedResources, ...expectedRest } = withoutControllerCa(expected);
  if (!jsonEqual(rest, expectedRest)) return false;
  if (!trustsNoMoreThan(controllerCaOf(actual), controllerCaOf(expected))) return false;
  for (const kind of ['limits', 'requests'] as const) {
    const have = actualResources?.[kind] ?? {};
    for (const [name, value] of Object.entries(expectedResources?.[kind] ?? {})) {
      if (!sameQuantity(have[name], value)) return false;
    }
  }
  return true;
}

// The controller's CA bundle: webhook replicas each re-read it from their mounted Secret, so while
// a CA rotation is under way the one that injected a pod and the one that validates it may hold
// different bundles for a minute. A sidecar may trust fewer of the installation's CAs than this
// replica knows (it learns the rest with its first token), never one it does not know.
const controllerCaOf = (c: Container): string | undefined => c.env?.find((e) => e.name === CONTROLLER_CA_ENV)?.value;
const withoutControllerCa = (c: Container): Container => (c.env?.some((e) => e.name === CONTROLLER_CA_ENV)
  ? { ...c, env: c.env.map((e) => (e.name === CONTROLLER_CA_ENV ? { name: e.name, ...(e.valueFrom ? { valueFrom: e.valueFrom } : {}) } : e)) }
  : c);
const certificates = (pem: string): Set<string> | undefined => {
  const blocks = certificateBlocks(pem);
  return blocks && new Set(blocks.map((b) => b.replace(/\s+/g, '')));
};
function trustsNoMoreThan(actual: string | undefined, expected: string | undefined): boolean {
  if (actual === undefined || expected === undefined) return actual === expected;
  const have = certificates(actual);
  const known = certificates(expected) ?? new Set<string>();
  return have !== undefined && [...have].every((c) => known.has(c));
}

function sameQuantity(a: unknown, b: unknown): boolean {
  const [x, y] = [quantityValue(a), quantityValue(b)];
  if (x === undefined || y === undefined) return jsonEqual(a, b);
  return Math.abs(x - y) <= Math.max(Math.abs(x), Math.abs(y)) * 1e-9;
}

/**
 * Decides whether a pod may be admitted into `namespace`. Outside injected namespaces everything is
 * allowed. Inside: the rules above; on UPDATE, in addition, the injected sidecar, the owner and the
 * skill may not change.
 */
export function validatePod(pod: Pod, namespace: NamespaceInfo, config: WebhookConfig, admission: PodAdmission = { operation: 'CREATE' }): Verdict {
  const violations: string[] = [];
  const warnings: string[] = [];
  if (!namespaceInjectionEnabled(namespace)) return { allowed: true, violations, warnings };
  const old = admission.operation === 'UPDATE' ? admission.oldPod : undefined;
  // A pod on its way out may still need finalizers removed: never block that.
  if (old && pod.metadata.deletionTimestamp) return { allowed: true, violations, warnings };

  const ann = pod.metadata.annotations ?? {};
  const optOut = optOutOf(pod, namespace, config);
  if (!old) {
    const owner = ann[ANNOTATION_OWNER];
    if (owner === undefined || owner === '') {
      violations.push(`pod ${podDisplayName(pod)} has no ${ANNOTATION_OWNER} annotation: add ${ANNOTATION_OWNER}: <email of the human accountable for this skill>`);
    } else {
      // The controller's test (isOwnerEmail, at token exchange and in the pod watch) and, for
      // admission, a dot in the domain: a skill's owner is a person's real mailbox.
      const problem = ownerAddressProblem(owner) ?? (owner.trim().split('@')[1]?.includes('.') ? undefined : 'its domain has no dot');
      if (problem) {
        violations.push(`annotation ${ANNOTATION_OWNER}="${owner}" is not an email address: ${problem}; set it to the plain email of the human accountable for this skill (jane@example.com)`);
      } else {
        const canonical = normalizeOwner(owner);
        if (canonical !== owner.trim().toLowerCase()) {
          warnings.push(`annotation ${ANNOTATION_OWNER}="${owner}" names owner ${canonical}: skillgate folds a +tag away, so this skill is locked when ${canonical} is offboarded`);
        }
      }
    }
    if (optOut.kind === 'denied') violations.push(optOut.message);
  }
  const s = pod.spec;
  if (s.hostNetwork) violations.push('hostNetwork: true would bypass the sidecar (its egress capture applies to the pod network only): remove spec.hostNetwork');
  if (s.hostPID) violations.push('hostPID: true exposes the sidecar and node processes to the skill: remove spec.hostPID');
  if (s.hostIPC) violations.push('hostIPC: true is not allowed next to the sidecar: remove spec.hostIPC');
  if (s.shareProcessNamespace) violations.push('shareProcessNamespace: true lets the skill inspect the sidecar process: remove spec.shareProcessNamespace');
  // Name resolution the sidecar shares with the skill (/etc/hosts, resolv.conf): a pod that chose it
  // could send an allowlisted name, or the sidecar's own Redis, to an address of its own. (Fixed at
  // creation: an update of a pod admitted before these rules is not refused for them.)
  if (!old && s.hostAliases?.length) violations.push('hostAliases would send names the sidecar resolves too (an allowlisted host, its Redis) to addresses the pod chose: remove spec.hostAliases');
  if (!old && s.dnsPolicy === 'None') violations.push('dnsPolicy: None gives the pod (and the sidecar) a resolver of its choosing: use ClusterFirst (the default)');
  if (!old && (s.dnsConfig?.nameservers?.length || s.dnsConfig?.searches?.length)) {
    violations.push('dnsConfig nameservers or searches give the pod (and the sidecar) a resolver or search domain of its choosing: remove them (dnsConfig.options may stay)');
  }
  // What Pod Security "baseline" refuses at the pod level (the namespace must allow "privileged" for
  // the init container's iptables, so the webhook holds the line). Fixed at creation, as above.
  if (!old) {
    seLinuxProblems(s.securityContext?.seLinuxOptions, 'spec.securityContext', violations);
    const unsafe = (s.securityContext?.sysctls ?? []).map((x) => x.name).filter((n) => !SAFE_SYSCTLS.has(dottedSysctl(n)));
    if (unsafe.length) {
      violations.push(`spec.securityContext.sysctls ${unsafe.join(', ')} ${unsafe.length > 1 ? 'are' : 'is'} not in Pod Security "baseline"'s safe set, isolated from the node and other pods (${[...SAFE_SYSCTLS].join(', ')}); remove ${unsafe.length > 1 ? 'them' : 'it'}`);
    }
  }

  const injected = isInjected(pod);
  // Volumes the kubelet would mount from the node, outside the capture (fixed at creation).
  if (!old && injected) {
    for (const v of s.volumes ?? []) {
      const problem = volumeProblem(v, config);
      if (problem) violations.push(problem);
    }
  }
  if (!old && optOut.kind === 'allowed') checkOptedOut(pod, optOut.exception, violations);
  for (const { c, role } of appContainers(pod)) {
    // On UPDATE only what is new can be wrong: pod containers are immutable, ephemeral ones are added.
    if (old && role !== 'ephemeral container' && jsonEqual(c, findContainer(old, c.name, role))) continue;
    if (old && role === 'ephemeral container' && (old.spec.ephemeralContainers ?? []).some((o) => jsonEqual(o, c))) continue;
    checkContainer(pod, c, role, config, injected, violations);
  }

  if (old) {
    if (isInjected(old)) {
      const oldInit = old.spec.initContainers ?? [];
      const expected: InjectedParts = {
        init: oldInit.find((c) => c.name === INIT_CONTAINER) as Container,
        sidecar: oldInit.find((c) => c.name === SIDECAR_CONTAINER) as Container,
        volumes: (old.spec.volumes ?? []).filter((v) => RESERVED_VOLUME_NAMES.has(v.name)),
        automountServiceAccountToken: old.spec.automountServiceAccountToken,
      };
      if (expected.init && expected.sidecar) checkInjectedParts(pod, expected, 'the injected sidecar may not be removed or changed; recreate the pod instead', violations);
      if (old.metadata.annotations?.[ANNOTATION_INJECTED] !== undefined && ann[ANNOTATION_INJECTED] !== old.metadata.annotations[ANNOTATION_INJECTED]) {
        violations.push(`annotation ${ANNOTATION_INJECTED} may not be removed or changed`);
      }
    }
    const oldOwner = old.metadata.annotations?.[ANNOTATION_OWNER];
    if (oldOwner !== undefined && ann[ANNOTATION_OWNER] !== oldOwner) {
      violations.push(`annotation ${ANNOTATION_OWNER} is fixed for the pod's life (was ${oldOwner}): recreate the pod to change its owner`);
    }
    const oldSkill = old.metadata.labels?.[LABEL_SKILL];
    if (oldSkill !== undefined && pod.metadata.labels?.[LABEL_SKILL] !== oldSkill) {
      violations.push(`label ${LABEL_SKILL} is fixed for the pod's life (was ${oldSkill}): recreate the pod to change its skill`);
    }
  } else if (optOut.kind !== 'allowed' && !s.hostNetwork) {
    checkInjectedParts(pod, { init: initContainer(config), sidecar: sidecarContainer(config), volumes: injectedVolumes(config), automountServiceAccountToken: false },
      'pods in this namespace run behind the injected skillgate sidecar; do not add, edit or remove skillgate containers (is the skillgate mutating webhook installed?)', violations);
  }
  return { allowed: violations.length === 0, violations, warnings };
}

function findContainer(pod: Pod, name: string, role: Role): Container | undefined {
  const list = role === 'init container' ? pod.spec.initContainers : pod.spec.containers;
  return (list ?? []).find((c) => c.name === name);
}
