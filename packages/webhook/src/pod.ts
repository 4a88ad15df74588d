// The subset of core/v1 Pod that the injector and the validators read and write. Plain JSON types:
// the webhook receives pods as JSON from the API server and returns JSON patches, so no client
// library is needed. Fields the webhook never looks at are kept opaque (index signatures) and must
// survive a round trip untouched.

export interface EnvVarSource {
  fieldRef?: { apiVersion?: string; fieldPath: string };
  resourceFieldRef?: { containerName?: string; resource: string; divisor?: string };
  configMapKeyRef?: { name: string; key: string; optional?: boolean };
  secretKeyRef?: { name: string; key: string; optional?: boolean };
}

export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: EnvVarSource;
}

export interface EnvFromSource {
  prefix?: string;
  configMapRef?: { name: string; optional?: boolean };
  secretRef?: { name: string; optional?: boolean };
}

export interface VolumeMount {
  name: string;
  mountPath: string;
  readOnly?: boolean;
  subPath?: string;
  [other: string]: unknown;
}

export interface Capabilities {
  add?: string[];
  drop?: string[];
}

/** Capability names as the kernel knows them, whatever the spelling ("cap_setuid" is SETUID). */
export const capabilityNames = (caps: readonly string[] | undefined): Set<string> =>
  new Set((caps ?? []).map((x) => x.toUpperCase().replace(/^CAP_/, '')));

export interface SecurityContext {
  privileged?: boolean;
  runAsUser?: number;
  runAsGroup?: number;
  runAsNonRoot?: boolean;
  readOnlyRootFilesystem?: boolean;
  allowPrivilegeEscalation?: boolean;
  capabilities?: Capabilities;
  seccompProfile?: { type: string; localhostProfile?: string };
  appArmorProfile?: { type: string; localhostProfile?: string };
  procMount?: string;
  seLinuxOptions?: SELinuxOptions;
  [other: string]: unknown;
}

export interface SELinuxOptions {
  user?: string;
  role?: string;
  type?: string;
  level?: string;
}

export interface Probe {
  httpGet?: { path?: string; port: number | string; scheme?: string; host?: string };
  initialDelaySeconds?: number;
  periodSeconds?: number;
  timeoutSeconds?: number;
  successThreshold?: number;
  failureThreshold?: number;
  [other: string]: unknown;
}

export interface ResourceRequirements {
  requests?: Record<string, string>;
  limits?: Record<string, string>;
}

export interface Container {
  name: string;
  image?: string;
  command?: string[];
  args?: string[];
  env?: EnvVar[];
  envFrom?: EnvFromSource[];
  volumeMounts?: VolumeMount[];
  securityContext?: SecurityContext;
  resources?: ResourceRequirements;
  restartPolicy?: string;
  ports?: Array<{ name?: string; containerPort: number; protocol?: string; hostPort?: number; hostIP?: string }>;
  startupProbe?: Probe;
  readinessProbe?: Probe;
  livenessProbe?: Probe;
  [other: string]: unknown;
}

export interface Volume {
  name: string;
  secret?: { secretName?: string; [other: string]: unknown };
  projected?: {
    sources?: Array<{
      secret?: { name?: string; [other: string]: unknown };
      serviceAccountToken?: { audience?: string; expirationSeconds?: number; path: string };
      [other: string]: unknown;
    }>;
    defaultMode?: number;
  };
  emptyDir?: { medium?: string; sizeLimit?: string };
  hostPath?: { path: string; type?: string };
  csi?: { driver?: string; [other: string]: unknown };
  [other: string]: unknown;
}

export interface PodSecurityContext {
  runAsUser?: number;
  runAsGroup?: number;
  runAsNonRoot?: boolean;
  seccompProfile?: { type: string; localhostProfile?: string };
  appArmorProfile?: { type: string; localhostProfile?: string };
  seLinuxOptions?: SELinuxOptions;
  sysctls?: Array<{ name: string; value?: string }>;
  [other: string]: unknown;
}

export interface PodSpec {
  containers: Container[];
  initContainers?: Container[];
  ephemeralContainers?: Container[];
  volumes?: Volume[];
  hostNetwork?: boolean;
  hostPID?: boolean;
  hostIPC?: boolean;
  shareProcessNamespace?: boolean;
  serviceAccountName?: string;
  securityContext?: PodSecurityContext;
  hostAliases?: Array<{ ip?: string; hostnames?: string[] }>;
  dnsPolicy?: string;
  dnsConfig?: { nameservers?: string[]; searches?: string[]; options?: Array<{ name: string; value?: string }> };
  [other: string]: unknown;
}

export interface Pod {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name?: string;
    generateName?: string;
    namespace?: string;
    uid?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    [other: string]: unknown;
  };
  spec: PodSpec;
  [other: string]: unknown;
}

/** The namespace a pod is admitted into, as far as injection cares. */
export interface NamespaceInfo {
  name: string;
  labels?: Record<string, string>;
}

/** A human name for a pod in messages: its name, or generateName + '*' before the API server names it. */
export function podDisplayName(pod: Pod): string {
  return pod.metadata.name ?? (pod.metadata.generateName ? `${pod.metadata.generateName}*` : '(unnamed)');
}

const QUANTITY = /^([+-]?[0-9.]+)(?:([eE][+-]?[0-9]+)|(n|u|m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei))?$/;
const SUFFIX: Record<string, number> = {
  n: 1e-9, u: 1e-6, m: 1e-3, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18,
  Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60,
};

/** A Kubernetes resource quantity as a number, or undefined when it is not one. */
export function quantityValue(q: unknown): number | undefined {
  if (typeof q === 'number') return q;
  if (typeof q !== 'string') return undefined;
  const m = QUANTITY.exec(q.trim());
  if (!m) return undefined;
  const n = Number(m[1]);
  if (!Number.isFinite(n)) return undefined;
  return m[2] ? n * 10 ** Number(m[2].slice(1)) : n * (m[3] ? SUFFIX[m[3]]! : 1);
}
