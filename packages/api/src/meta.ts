// Names shared by every component: the API group, labels, annotations and ports of CONTRACT.md.
export const GROUP = 'skillgate.dev';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}`;

export const LABEL_INJECT = 'skillgate.dev/inject';          // namespace label: "enabled" turns injection on
export const LABEL_SKILL = 'skillgate.dev/skill';            // pod label: the skill's name
export const ANNOTATION_OWNER = 'skillgate.dev/owner';       // pod annotation: accountable human (email)
/** Owner emails compare case-insensitively (IdPs differ in case; the mailbox is the same). */
export const normalizeOwner = (email: string): string => email.trim().toLowerCase();
/** Whether an owner annotation (or a lock's owner value) names an email at all; admission also wants a dotted domain. */
export const isOwnerEmail = (value: string): boolean => /^[^\s@]+@[^\s@]+$/.test(value.trim());
export const ANNOTATION_INJECTED = 'skillgate.dev/injected'; // pod annotation: injector version that patched it
export const ANNOTATION_INJECT = 'skillgate.dev/inject';     // pod annotation: "disabled" asks to opt out
export const ANNOTATION_INJECT_EXCEPTION = 'skillgate.dev/inject-exception'; // name of an allowed exception
/** The container the injector adds to a skill pod (a native sidecar: an init container that keeps running). */
export const SIDECAR_CONTAINER = 'skillgate-sidecar';
/**
 * Namespaces skillgate's webhooks never see, whatever their labels (their namespaceSelector, which
 * also leaves out skillgate's own namespace): no pod in them is injected.
 */
export const NAMESPACES_WEBHOOKS_SKIP: readonly string[] = ['kube-system', 'kube-public', 'kube-node-lease'];

export const PORTS = {
  claude: 15001,   // 127.0.0.1: Claude API for the skill
  egress: 15002,   // 127.0.0.1: HTTP forward + CONNECT egress proxy
  dns: 15053,      // 127.0.0.1: DNS guard (UDP and TCP), where the pod's DNS queries are redirected
  health: 15021,   // /healthz, /readyz
  metrics: 15090,  // /metrics
} as const;

/** Token audience of the projected ServiceAccount token a sidecar exchanges for a workload token. */
export const TOKEN_AUDIENCE = 'skillgate';

export interface ObjectMeta {
  name: string;
  namespace?: string;
  uid?: string;
  generation?: number;
  resourceVersion?: string;
  creationTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

/** A status condition, as Kubernetes API conventions define it. */
export interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
  lastTransitionTime: string;
  observedGeneration?: number;
}

/**
 * The masking key of local runs (`skillgate dev`, `skillgate mask`, `sessions find` on a local
 * record) when none is set. Known to everyone, so never for real data: in a cluster every sidecar
 * gets the installation key from the controller instead.
 */
export const DEV_MASKING_KEY = 'skillgate-dev-masking-key';

/** The shortest masking key (bytes) masking, the sidecar, the controller and the CLI accept. */
export const MASKING_KEY_MIN_BYTES = 16;
