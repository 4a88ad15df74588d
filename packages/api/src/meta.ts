// Names shared by every component: the API group, labels, annotations and ports of CONTRACT.md.
export const GROUP = 'skillgate.dev';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}`;

export const LABEL_INJECT = 'skillgate.dev/inject';          // namespace label: "enabled" turns injection on
export const LABEL_SKILL = 'skillgate.dev/skill';            // pod label: the skill's name
export const ANNOTATION_OWNER = 'skillgate.dev/owner';       // pod annotation: accountable human (a plain email: ownerAddressProblem)
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

// Owner addresses. An owner is one human, and every place that names them (a pod's annotation, a
// SCIM userName, `skillgate owners offboard`, an owner SkillLock, a workload token's claim) must
// name them the same way: were `jane+triage@example.com` another owner than `jane@example.com`, a
// skill annotated with the alias would be out of reach of jane's offboarding. So an owner is
// written as a plain address (isOwnerEmail) and compared, stored, locked and offboarded only in
// its canonical form (normalizeOwner). Never a test of who someone is: a plain address may still
// name nobody the identity provider knows.

/** RFC 5322 atext: what one dot-separated part of an unquoted local part may hold. */
const LOCAL_ATOM = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+$/;
/** One label of a domain name: letters, digits and hyphens. */
const DOMAIN_LABEL = /^[A-Za-z0-9-]+$/;

/**
 * Why `value` is not a plain owner address, or undefined when it is one: a clause to follow the
 * value in a message ("... is not an email address: it has more than one @"). Plain: one `@`,
 * something on each side; no `:` anywhere (an `oidc:` or any other identity-provider prefix), no
 * whitespace or characters outside printable ASCII (lookalike letters, combining marks), no
 * trailing dot on the domain, no quoted or commented local part, no empty dot-separated part, no
 * local part that is only a `+tag`. Surrounding whitespace is ignored. Dots, hyphens, digits,
 * subdomains and a `+tag` are fine (normalizeOwner folds the tag away). Admission (the webhook)
 * also wants a dot in the domain.
 */
export function ownerAddressProblem(value: string): string | undefined {
  const v = value.trim();
  if (v === '') return 'it is empty';
  const colon = v.lastIndexOf(':');
  if (colon >= 0) {
    const plain = v.slice(colon + 1);
    return `it has a prefix, "${v.slice(0, colon + 1)}": use the plain email address${ownerAddressProblem(plain) === undefined ? ` ${plain}` : ''}, without any identity-provider prefix`;
  }
  if (/\s/.test(v)) return 'it contains whitespace';
  if (/[^\x21-\x7e]/.test(v)) return 'it contains characters outside printable ASCII: write the address in plain ASCII';
  // RFC 5321's longest forward path, less its angle brackets: a longer name is no address (and would not fit a lock's target).
  if (v.length > 254) return `it is ${v.length} characters long, more than an email address can be (254)`;
  const parts = v.split('@');
  if (parts.length === 1) return 'it has no @';
  if (parts.length > 2) return 'it has more than one @';
  const [local, domain] = parts as [string, string];
  if (local === '') return 'it has nothing before the @';
  if (domain === '') return 'it has nothing after the @';
  if (domain.endsWith('.')) return `its domain ends in a dot: write ${local}@${domain.replace(/\.+$/, '')}`;
  if (local.startsWith('+')) return 'it has nothing before the +tag';
  if (!local.split('.').every((atom) => LOCAL_ATOM.test(atom))) return 'its local part (before the @) is not plain: no quotes, parentheses, brackets, commas, leading, trailing or doubled dots';
  if (!domain.split('.').every((label) => DOMAIN_LABEL.test(label))) return 'its domain is not a host name: letters, digits and hyphens in labels separated by single dots';
  return undefined;
}

/** Whether an owner annotation, SCIM userName, CLI argument or owner lock names a plain address (ownerAddressProblem). */
export const isOwnerEmail = (value: string): boolean => ownerAddressProblem(value) === undefined;

/**
 * The canonical form of an owner address, the only one owners are compared, stored, locked and
 * offboarded by: trimmed, lower-cased (identity providers differ in case; the mailbox is the same),
 * trailing dots of the domain dropped (`example.com.` is `example.com`), and a `+tag` of the local
 * part folded away (`jane+triage@example.com` is jane's mailbox, so it is jane). Total: any string
 * gets a form, a plain address (isOwnerEmail) a meaningful one. Kept to a few string operations:
 * sidecars run it on every lock lookup.
 */
export function normalizeOwner(email: string): string {
  const v = email.trim().toLowerCase();
  const at = v.lastIndexOf('@');
  if (at < 0) return v;
  let local = v.slice(0, at);
  let domain = v.slice(at + 1);
  while (domain.endsWith('.')) domain = domain.slice(0, -1);
  const plus = local.indexOf('+');
  if (plus > 0) local = local.slice(0, plus);
  return `${local}@${domain}`;
}
