// Sidecar injection, Istio-style: a template (the sidecar, the egress-capture init container, their
// volumes, the app containers' environment) and a pure function from a pod to the JSON patch that
// makes it injected. The function computes the pod *as it should be* and diffs it against the pod as
// it is, so it is idempotent by construction (an injected pod diffs to nothing) and a pod that forged
// a "sidecar" of its own gets the real one. It must never do I/O, never read a secret value, and
// never leave an upstream credential reference — nor a Kubernetes API token — in an app container:
// the pod's ServiceAccount token automount is switched off and rebuilt for the sidecar alone.
import {
  ANNOTATION_INJECT, ANNOTATION_INJECT_EXCEPTION, ANNOTATION_INJECTED, ANNOTATION_OWNER, LABEL_INJECT, LABEL_SKILL, PORTS,
  POD_LABELS_FILE, POD_LABELS_FILE_ENV, SIDECAR_CONTAINER, TOKEN_AUDIENCE,
} from '@skillgate/api';
import { INJECTOR_VERSION, type WebhookConfig } from './config.js';
import { egressCaptureScript } from './egress-capture.js';
import { diffToPatch, type JsonPatchOp } from './json-patch.js';
import { capabilityNames, quantityValue, type Container, type EnvVar, type NamespaceInfo, type Pod, type SecurityContext, type Volume } from './pod.js';

export { SIDECAR_CONTAINER };
export const INIT_CONTAINER = 'skillgate-init';
export const TOKEN_VOLUME = 'skillgate-token';
export const UPSTREAM_VOLUME = 'skillgate-upstream';
export const SIDECAR_TMP_VOLUME = 'skillgate-tmp';
/**
 * The record's local state: the spool that keeps events while Redis is away (at most
 * SKILLGATE_RECORD_SPOOL_BYTES, 256 MiB by default). The sidecar's root filesystem is read-only and
 * its working directory not its own, so it must be told where: without it the recorder cannot open
 * and the sidecar never starts.
 */
export const RECORD_VOLUME = 'skillgate-record';
export const RECORD_DIR = '/var/lib/skillgate';
export const INIT_RUN_VOLUME = 'skillgate-init-run';
/** The sidecar's Kubernetes API credential: what the kubelet's automount would give every container. */
export const KUBE_API_VOLUME = 'skillgate-kube-api-access';
/** The pod's labels (downward API), for SkillPolicy selectors. */
export const PODINFO_VOLUME = 'skillgate-podinfo';
/** Container and volume names the injector owns; a pod may not bring its own under these names. */
export const RESERVED_CONTAINER_NAMES: ReadonlySet<string> = new Set([SIDECAR_CONTAINER, INIT_CONTAINER]);
export const RESERVED_VOLUME_NAMES: ReadonlySet<string> = new Set([TOKEN_VOLUME, UPSTREAM_VOLUME, SIDECAR_TMP_VOLUME, RECORD_VOLUME, INIT_RUN_VOLUME, KUBE_API_VOLUME, PODINFO_VOLUME]);

export const TOKEN_DIR = '/var/run/secrets/skillgate';
export const TOKEN_PATH = `${TOKEN_DIR}/token`;
export const UPSTREAM_DIR = '/var/run/secrets/skillgate-upstream';
export const UPSTREAM_KEY_PATH = `${UPSTREAM_DIR}/api-key`;
/** Where in-cluster clients (client-node's KubeConfig.loadFromCluster) look for token, ca.crt, namespace. */
export const KUBE_API_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';
export const PODINFO_DIR = POD_LABELS_FILE.slice(0, POD_LABELS_FILE.lastIndexOf('/'));
/**
 * Prefix of the volume the ServiceAccount admission plugin adds (before any webhook runs) to mount
 * the pod's token into every container; the injector removes it and its mounts.
 */
export const AUTOMOUNT_VOLUME_PREFIX = 'kube-api-access-';

/** The sidecar's env var with the PEM of the CA(s) it verifies the controller's certificate with. */
export const CONTROLLER_CA_ENV = 'SKILLGATE_CONTROLLER_CA';

export const CLAUDE_BASE_URL = `http://127.0.0.1:${PORTS.claude}`;
export const EGRESS_PROXY_URL = `http://127.0.0.1:${PORTS.egress}`;
/** Env vars that carry an upstream credential (Claude Code's OAuth token among them); never left in an app container. */
export const CREDENTIAL_ENV: ReadonlySet<string> = new Set(['ANTHROPIC_API_KEY', 'ANTHROPIC_AUTH_TOKEN', 'CLAUDE_CODE_OAUTH_TOKEN']);
const PROXY_ENV = ['HTTP_PROXY', 'HTTPS_PROXY', 'http_proxy', 'https_proxy'];
const NO_PROXY_ENV = ['NO_PROXY', 'no_proxy'];
const NO_PROXY_VALUE = '127.0.0.1,localhost,::1';

export type InjectReason = 'injected' | 'already-injected' | 'namespace-not-enabled' | 'opted-out' | 'host-network';

export interface InjectResult {
  /** JSON patch for the AdmissionReview response; empty when nothing changes. */
  patch: JsonPatchOp[];
  reason: InjectReason;
  /** What the injection changed that the pod's author should know (AdmissionReview warnings). */
  warnings: string[];
}

export type OptOut =
  | { kind: 'none' }
  | { kind: 'allowed'; exception: string }
  | { kind: 'denied'; message: string };

/** Whether the pod asks to skip injection, and whether its claimed exception is allowed here. */
export function optOutOf(pod: Pod, namespace: NamespaceInfo, config: WebhookConfig): OptOut {
  const ann = pod.metadata.annotations ?? {};
  if (ann[ANNOTATION_INJECT] === undefined || ann[ANNOTATION_INJECT] === 'enabled') return { kind: 'none' };
  if (ann[ANNOTATION_INJECT] !== 'disabled') {
    return { kind: 'denied', message: `annotation ${ANNOTATION_INJECT}="${ann[ANNOTATION_INJECT]}" is not valid: use "disabled" with an allowed ${ANNOTATION_INJECT_EXCEPTION}, or remove it` };
  }
  const claimed = ann[ANNOTATION_INJECT_EXCEPTION];
  const allowedNames = config.allowedExceptions.map((e) => e.name);
  const hint = allowedNames.length ? `allowed exceptions: ${allowedNames.join(', ')}` : 'no exceptions are configured';
  if (!claimed) {
    return { kind: 'denied', message: `pod opts out of skillgate injection (${ANNOTATION_INJECT}: disabled) without an exception: remove the annotation, or add ${ANNOTATION_INJECT_EXCEPTION} naming an allowed exception (${hint})` };
  }
  const ex = config.allowedExceptions.find((e) => e.name === claimed);
  if (!ex) return { kind: 'denied', message: `injection exception "${claimed}" is not allowed (${hint}): remove ${ANNOTATION_INJECT}: disabled` };
  if (ex.namespaces && !ex.namespaces.includes(namespace.name)) {
    return { kind: 'denied', message: `injection exception "${claimed}" is not allowed in namespace ${namespace.name} (only ${ex.namespaces.join(', ')}): remove ${ANNOTATION_INJECT}: disabled` };
  }
  const sa = pod.spec.serviceAccountName ?? 'default';
  if (ex.serviceAccounts && !ex.serviceAccounts.includes(sa)) {
    return { kind: 'denied', message: `injection exception "${claimed}" is not allowed for ServiceAccount ${sa} (only ${ex.serviceAccounts.join(', ')}): run the pod as one of those or remove ${ANNOTATION_INJECT}: disabled` };
  }
  return { kind: 'allowed', exception: claimed };
}

export const namespaceInjectionEnabled = (ns: NamespaceInfo): boolean => ns.labels?.[LABEL_INJECT] === 'enabled';

// ---------------------------------------------------------------------------------------------
// The template. Every field the API server would default is written out, so the injected pod read
// back from the API server equals what this template produced, and re-injection diffs to nothing.

const fieldEnv = (name: string, fieldPath: string): EnvVar => ({ name, valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath } } });

const httpProbe = (path: string, periodSeconds: number, failureThreshold: number) => ({
  httpGet: { path, port: PORTS.health, scheme: 'HTTP' },
  timeoutSeconds: 1,
  periodSeconds,
  successThreshold: 1,
  failureThreshold,
});

/**
 * The sidecar's V8 heap, set for its container's memory limit. Node sizes the heap from the cgroup
 * limit, and for a small limit (256Mi) it also shrinks the young generation to ~1 MB: the proxy then
 * spends 4x as much time collecting garbage as with V8's usual 16 MB semi-spaces (BENCHMARKS.md).
 * The young generation is set back to 16 MB, and the old generation capped at 60 % of the limit, so
 * V8 collects harder before the kernel would kill the container. --expose-gc lets the sidecar hand
 * back the memory its start-up left in the young generation, once (packages/sidecar/src/heap.ts).
 * V8's worker pool (parallel scavenges, concurrent marking and compiles) is sized to the CPU limit:
 * Node starts four workers whatever the container may use, and under a one-CPU limit they only
 * share that quota (and its throttling) while each keeps its stack and buffers resident (~0.5 MB in
 * the full sidecar, BENCHMARKS.md). --preserve-symlinks: the sidecar runs one bundle, whose chunks
 * import each other by relative paths and reach no symlinked package, and without it Node takes the
 * real path of every module it resolves (realpath, then back to a URL: two path.resolve each, ~220 at
 * start-up); with the image's bundle directory (32 characters) that made Node's path code hot enough
 * for TurboFan to compile it during start-up, whose code pages then stayed resident: ~5.5 MB of an
 * idle sidecar (BENCHMARKS.md, RSS idle).
 */
export function sidecarNodeOptions(memoryLimit: string | undefined, cpuLimit?: string): string {
  const options = ['--max-semi-space-size=16', '--expose-gc', '--preserve-symlinks'];
  const mib = memoryLimit === undefined ? undefined : quantityMiB(memoryLimit);
  if (mib !== undefined && mib >= 128) options.push(`--max-old-space-size=${Math.floor(mib * 0.6)}`);
  const cpus = quantityValue(cpuLimit);
  if (cpus !== undefined && cpus > 0) options.push(`--v8-pool-size=${Math.min(4, Math.ceil(cpus))}`);
  return options.join(' ');
}

/**
 * The sidecar's glibc malloc settings (GLIBC_TUNABLES; the image is Debian, glibc). By default
 * glibc raises its trim threshold as the process frees large blocks, and then keeps freed memory at
 * the top of the heap for good: in an idle full sidecar ~0.9 MB of what loading the code (parsers,
 * compilers) malloc'd and freed stays resident. A fixed threshold of 128 KB (glibc's initial one)
 * gives back whatever lies free above it. Measured: no extra system call per request, at one
 * connection or under load (strace, bench/proxy/profile.mjs --strace; BENCHMARKS.md, RSS idle).
 */
export const SIDECAR_MALLOC_TUNABLES = 'glibc.malloc.trim_threshold=131072';

/**
 * The sidecar process's runtime settings for its container's limits: V8's (NODE_OPTIONS,
 * sidecarNodeOptions) and malloc's (GLIBC_TUNABLES). The injected container gets them, and the
 * benchmark's and e2e's sidecar processes run with the same.
 */
export function sidecarProcessEnv(memoryLimit: string | undefined, cpuLimit?: string): { NODE_OPTIONS: string; GLIBC_TUNABLES: string } {
  return { NODE_OPTIONS: sidecarNodeOptions(memoryLimit, cpuLimit), GLIBC_TUNABLES: SIDECAR_MALLOC_TUNABLES };
}

/** A Kubernetes memory quantity (64Mi, 1G, 268435456) in MiB; undefined when it is not one. */
export function quantityMiB(q: string): number | undefined {
  const bytes = quantityValue(q);
  return bytes === undefined ? undefined : bytes / 1024 ** 2;
}

export function sidecarContainer(config: WebhookConfig): Container {
  const env: EnvVar[] = [
    fieldEnv('SKILLGATE_POD_NAME', 'metadata.name'),
    fieldEnv('SKILLGATE_POD_NAMESPACE', 'metadata.namespace'),
    fieldEnv('SKILLGATE_POD_UID', 'metadata.uid'),
    fieldEnv('SKILLGATE_SERVICE_ACCOUNT', 'spec.serviceAccountName'),
    fieldEnv('SKILLGATE_SKILL', `metadata.labels['${LABEL_SKILL}']`),
    fieldEnv('SKILLGATE_OWNER', `metadata.annotations['${ANNOTATION_OWNER}']`),
    { name: 'SKILLGATE_CONTROLLER_URL', value: config.controllerUrl },
    // The CA that issued the controller's certificate (PEM; public), when it is not a system CA.
    ...(config.controllerCaPem ? [{ name: CONTROLLER_CA_ENV, value: config.controllerCaPem }] : []),
    // Where the sidecar keeps the CA bundle the controller hands over with each token (a CA
    // rotation after this pod was made), for a restart of the container.
    ...(config.controllerUrl.startsWith('https://') ? [{ name: 'SKILLGATE_CONTROLLER_CA_CACHE', value: `${RECORD_DIR}/controller-ca.pem` }] : []),
    { name: 'SKILLGATE_TOKEN_FILE', value: TOKEN_PATH },
    { name: POD_LABELS_FILE_ENV, value: POD_LABELS_FILE },
    { name: 'SKILLGATE_UPSTREAM_URL', value: config.upstreamUrl },
    ...(config.upstreamSecret.mountInSidecar ? [{ name: 'SKILLGATE_UPSTREAM_API_KEY_FILE', value: UPSTREAM_KEY_PATH }] : []),
    ...(config.redisUrl ? [{ name: 'REDIS_URL', value: config.redisUrl }] : []),
    { name: 'SKILLGATE_LOG_LEVEL', value: config.sidecarLogLevel },
    { name: 'SKILLGATE_RECORD_DIR', value: `${RECORD_DIR}/records` },
    { name: 'SKILLGATE_RECORD_SPOOL_DIR', value: `${RECORD_DIR}/spool` },
    ...Object.entries(sidecarProcessEnv(config.sidecarResources.limits?.memory, config.sidecarResources.limits?.cpu)).map(([name, value]) => ({ name, value })),
  ];
  return {
    name: SIDECAR_CONTAINER,
    image: config.sidecarImage,
    imagePullPolicy: config.imagePullPolicy,
    args: ['sidecar'],
    // Native sidecar: started before the app containers, ready (startupProbe) before they start,
    // kept running alongside them and stopped after them.
    restartPolicy: 'Always',
    ports: [
      { name: 'sg-health', containerPort: PORTS.health, protocol: 'TCP' },
      { name: 'sg-metrics', containerPort: PORTS.metrics, protocol: 'TCP' },
    ],
    env,
    resources: structuredClone(config.sidecarResources),
    volumeMounts: [
      { name: TOKEN_VOLUME, mountPath: TOKEN_DIR, readOnly: true },
      { name: KUBE_API_VOLUME, mountPath: KUBE_API_DIR, readOnly: true },
      { name: PODINFO_VOLUME, mountPath: PODINFO_DIR, readOnly: true },
      ...(config.upstreamSecret.mountInSidecar ? [{ name: UPSTREAM_VOLUME, mountPath: UPSTREAM_DIR, readOnly: true }] : []),
      { name: SIDECAR_TMP_VOLUME, mountPath: '/tmp' },
      { name: RECORD_VOLUME, mountPath: RECORD_DIR },
    ],
    startupProbe: httpProbe('/readyz', 1, 60),
    readinessProbe: httpProbe('/readyz', 5, 3),
    livenessProbe: httpProbe('/healthz', 10, 3),
    terminationMessagePath: '/dev/termination-log',
    terminationMessagePolicy: 'File',
    securityContext: {
      runAsUser: config.sidecarUid,
      runAsGroup: config.sidecarUid,
      runAsNonRoot: true,
      privileged: false,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    },
  };
}

export function initContainer(config: WebhookConfig): Container {
  return {
    name: INIT_CONTAINER,
    image: config.initImage,
    imagePullPolicy: config.imagePullPolicy,
    command: ['sh', '-c', egressCaptureScript(config)],
    resources: structuredClone(config.initResources),
    // iptables takes its lock under /run; the root filesystem stays read-only.
    volumeMounts: [{ name: INIT_RUN_VOLUME, mountPath: '/run' }],
    terminationMessagePath: '/dev/termination-log',
    terminationMessagePolicy: 'File',
    securityContext: {
      // Root with exactly the two capabilities iptables needs, for this container only.
      runAsUser: 0,
      runAsGroup: 0,
      runAsNonRoot: false,
      privileged: false,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { add: ['NET_ADMIN', 'NET_RAW'], drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    },
  };
}

export function injectedVolumes(config: WebhookConfig): Volume[] {
  return [
    {
      name: TOKEN_VOLUME,
      projected: {
        sources: [{ serviceAccountToken: { audience: TOKEN_AUDIENCE, expirationSeconds: config.tokenExpirationSeconds, path: 'token' } }],
        defaultMode: 420,
      },
    },
    // Exactly what the ServiceAccount admission plugin's automount holds (token for the API server's
    // own audience, cluster CA, namespace), so in-cluster config works unchanged — for the sidecar.
    {
      name: KUBE_API_VOLUME,
      projected: {
        sources: [
          { serviceAccountToken: { expirationSeconds: config.tokenExpirationSeconds, path: 'token' } },
          { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
          { downwardAPI: { items: [{ path: 'namespace', fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } }] } },
        ],
        defaultMode: 420,
      },
    },
    // A file, not an env var: the kubelet rewrites it when the pod's labels change.
    {
      name: PODINFO_VOLUME,
      downwardAPI: {
        items: [{ path: POD_LABELS_FILE.slice(PODINFO_DIR.length + 1), fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.labels' } }],
        defaultMode: 420,
      },
    },
    ...(config.upstreamSecret.mountInSidecar
      ? [{ name: UPSTREAM_VOLUME, secret: { secretName: config.upstreamSecret.name, items: [{ key: config.upstreamSecret.key, path: 'api-key' }], defaultMode: 420 } }]
      : []),
    { name: SIDECAR_TMP_VOLUME, emptyDir: {} },
    // Room for a full spool and a little over (the kubelet evicts a pod whose emptyDir outgrows it).
    { name: RECORD_VOLUME, emptyDir: { sizeLimit: '320Mi' } },
    { name: INIT_RUN_VOLUME, emptyDir: {} },
  ];
}

/** Whether an env var draws on the upstream credential Secret. */
export const envUsesSecret = (e: EnvVar, secretName: string): boolean => e.valueFrom?.secretKeyRef?.name === secretName;

/**
 * An app container as it runs behind the sidecar: Claude through 127.0.0.1:15001, everything else
 * through the egress proxy, no upstream credential. Notes what it removed or overrode in `warnings`.
 */
export function appContainer(c: Container, config: WebhookConfig, warnings: string[] = []): Container {
  const ours = new Map<string, string>([
    ['ANTHROPIC_BASE_URL', CLAUDE_BASE_URL],
    ...(config.placeholderApiKey ? [['ANTHROPIC_API_KEY', config.placeholderApiKey] as [string, string]] : []),
    ...PROXY_ENV.map((n) => [n, EGRESS_PROXY_URL] as [string, string]),
    ...NO_PROXY_ENV.map((n) => [n, NO_PROXY_VALUE] as [string, string]),
  ]);
  // envFrom (a Secret or ConfigMap of the pod's) can carry a credential under one of these names,
  // which the webhook cannot see: an env entry of the same name wins over it, so each is pinned
  // (to the placeholder, or empty).
  if (c.envFrom?.length) for (const name of CREDENTIAL_ENV) if (!ours.has(name)) ours.set(name, '');
  // Our variables take the place of the pod's own (so $(VAR) references and the order a later
  // `kubectl apply` sends stay as they were); the ones the pod lacks are appended.
  const env: EnvVar[] = [];
  const placed = new Set<string>();
  for (const e of c.env ?? []) {
    const value = ours.get(e.name);
    if (value !== undefined) {
      if (placed.has(e.name)) continue;
      if (!(e.value === value && !e.valueFrom)) {
        warnings.push(CREDENTIAL_ENV.has(e.name)
          ? `container ${c.name}: replaced ${e.name} with a placeholder; the skillgate sidecar holds the upstream credential`
          : `container ${c.name}: ${e.name} overridden with ${value}`);
      }
      env.push({ name: e.name, value });
      placed.add(e.name);
    } else if (CREDENTIAL_ENV.has(e.name)) {
      warnings.push(`container ${c.name}: removed ${e.name}; the skillgate sidecar holds the upstream credential`);
    } else if (envUsesSecret(e, config.upstreamSecret.name)) {
      warnings.push(`container ${c.name}: removed ${e.name} (it read the upstream credential Secret ${config.upstreamSecret.name})`);
    } else {
      env.push(e);
    }
  }
  for (const [name, value] of ours) if (!placed.has(name)) env.push({ name, value });
  const out: Container = { ...c, env, securityContext: uidLocked(c, warnings) };
  if (c.envFrom) {
    const envFrom = c.envFrom.filter((s) => s.secretRef?.name !== config.upstreamSecret.name);
    if (envFrom.length !== c.envFrom.length) warnings.push(`container ${c.name}: removed envFrom of the upstream credential Secret ${config.upstreamSecret.name}`);
    if (envFrom.length) out.envFrom = envFrom;
    else delete out.envFrom;
  }
  return out;
}

/**
 * The egress capture exempts the sidecar by its UID: a process of the app that could become that
 * UID would leave the pod uncaptured. So an app container may not change user: no SETUID or SETGID
 * capability (a root process has them by default) and no privilege escalation (setuid binaries).
 * Nor may it open raw packet sockets (NET_RAW, in most runtimes' default set): frames sent on one
 * never pass the iptables rules that capture egress.
 */
export function uidLocked(c: Container, warnings: string[] = []): SecurityContext {
  const sc: SecurityContext = { ...(c.securityContext ?? {}) };
  // The API server refuses allowPrivilegeEscalation false beside privileged or CAP_SYS_ADMIN; such a
  // container is refused by validation anyway (validate-pod.ts), with a message that says why.
  if (sc.privileged !== true && !capabilityNames(sc.capabilities?.add).has('SYS_ADMIN')) {
    if (sc.allowPrivilegeEscalation === true) warnings.push(`container ${c.name}: allowPrivilegeEscalation set to false (a process that changes user could leave the egress capture)`);
    sc.allowPrivilegeEscalation = false;
  }
  const drop = [...(sc.capabilities?.drop ?? [])];
  const dropped = capabilityNames(drop);
  if (!dropped.has('ALL')) for (const cap of CAPTURE_ESCAPING_CAPS) if (!dropped.has(cap)) drop.push(cap);
  sc.capabilities = { ...(sc.capabilities ?? {}), drop };
  return sc;
}

/** Capabilities that let a process take another UID or GID (the sidecar's, whose traffic is not captured). */
export const UID_CHANGING_CAPS = ['SETUID', 'SETGID'] as const;
/** What an app container may not keep: those, and raw packet sockets, which bypass the capture's iptables rules. */
export const CAPTURE_ESCAPING_CAPS = [...UID_CHANGING_CAPS, 'NET_RAW'] as const;

/**
 * Where Prometheus without its operator finds the sidecar's metrics (kubernetes_sd_configs with the
 * usual prometheus.io/* relabelling; the chart's PodMonitor serves the operator). A pod that
 * announces metrics of its own keeps its annotations: they name one port per pod.
 */
function scrapeAnnotations(pod: Pod): Record<string, string> {
  const own = Object.keys(pod.metadata.annotations ?? {}).some((k) => k.startsWith('prometheus.io/'));
  return own ? {} : { 'prometheus.io/scrape': 'true', 'prometheus.io/port': String(PORTS.metrics), 'prometheus.io/path': '/metrics' };
}

/** Whether a volume is the ServiceAccount admission plugin's automounted API token. */
export const isAutomountVolume = (v: Volume): boolean => v.name.startsWith(AUTOMOUNT_VOLUME_PREFIX);

/**
 * A container without its mounts of the volumes named in `dropped`, nor of an automounted token
 * volume (a container a later webhook added on reinvocation can mount one the first pass removed).
 */
function withoutMounts(c: Container, dropped: ReadonlySet<string>): Container {
  const drops = (name: string): boolean => dropped.has(name) || name.startsWith(AUTOMOUNT_VOLUME_PREFIX);
  if (!(c.volumeMounts ?? []).some((m) => drops(m.name))) return c;
  const volumeMounts = (c.volumeMounts ?? []).filter((m) => !drops(m.name));
  const out: Container = { ...c, volumeMounts };
  if (!volumeMounts.length) delete out.volumeMounts;
  return out;
}

/** The pod as it runs behind the sidecar (pure; `pod` is not modified). */
export function injectedPod(pod: Pod, config: WebhookConfig, warnings: string[] = []): Pod {
  const spec = pod.spec;
  const userInit = (spec.initContainers ?? []).filter((c) => !RESERVED_CONTAINER_NAMES.has(c.name));
  // The automounted token would hand the skill the same Kubernetes credential as the sidecar.
  const automount = (spec.volumes ?? []).filter(isAutomountVolume).map((v) => v.name);
  const dropped = new Set(automount);
  if (automount.length) {
    warnings.push(`removed the automounted ServiceAccount token (${automount.join(', ')}) from the app containers: in a skillgate pod only the sidecar talks to the Kubernetes API`);
  }
  const userVolumes = (spec.volumes ?? []).filter((v) => !RESERVED_VOLUME_NAMES.has(v.name) && !dropped.has(v.name));
  const app = (c: Container): Container => appContainer(withoutMounts(c, dropped), config, warnings);
  return {
    ...pod,
    metadata: { ...pod.metadata, annotations: { ...scrapeAnnotations(pod), ...pod.metadata.annotations, [ANNOTATION_INJECTED]: INJECTOR_VERSION } },
    spec: {
      ...spec,
      // The kubelet mounts no token by itself: the sidecar's comes from KUBE_API_VOLUME.
      automountServiceAccountToken: false,
      // Order matters: capture egress first, then the sidecar (ready before anything else runs),
      // then the pod's own init containers, which already run behind the sidecar.
      initContainers: [initContainer(config), sidecarContainer(config), ...userInit.map(app)],
      containers: spec.containers.map(app),
      volumes: [...userVolumes, ...injectedVolumes(config)],
    },
  };
}

/**
 * The mutating webhook's decision for a pod being created in `namespace`: the JSON patch that
 * injects it (empty when nothing changes) and why. Pods in namespaces without the inject label, pods
 * with an allowed opt-out exception and hostNetwork pods (whose iptables would be the node's; the
 * validating webhook rejects them) are left untouched.
 */
export function injectPod(pod: Pod, namespace: NamespaceInfo, config: WebhookConfig): InjectResult {
  if (!namespaceInjectionEnabled(namespace)) return { patch: [], reason: 'namespace-not-enabled', warnings: [] };
  if (optOutOf(pod, namespace, config).kind === 'allowed') return { patch: [], reason: 'opted-out', warnings: [] };
  if (pod.spec.hostNetwork) return { patch: [], reason: 'host-network', warnings: [] };
  const warnings: string[] = [];
  const desired = injectedPod(pod, config, warnings);
  const patch = diffToPatch(pod, desired);
  if (!(pod.metadata.labels ?? {})[LABEL_SKILL]) {
    warnings.push(`pod has no ${LABEL_SKILL} label: add one naming the skill, so policies and locks can select it`);
  }
  return { patch, reason: patch.length ? 'injected' : 'already-injected', warnings: patch.length ? warnings : [] };
}
