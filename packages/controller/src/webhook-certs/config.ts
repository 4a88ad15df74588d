// Configuration of the self-signed webhook TLS mode, from the controller's environment (the chart
// sets it when cert-manager is not used). Validated once at start-up: a bad value fails fast with
// the variable and the reason. Holds names only, never key material.
import { DEFAULT_TOKEN_TTL_SECONDS } from '@skillgate/identity';
import { ControllerConfigError } from '../config.js';
import { DEFAULT_ROTATION_POLICY, type RotationPolicy } from './plan.js';

export interface WebhookCertsConfig {
  /** Secret the webhook mounts: tls.crt, tls.key, ca.crt (the trust bundle). */
  secret: { namespace: string; name: string };
  /** Secret only the controller reads: the CA key pairs. Default: `<secret>-ca`. */
  caSecret: { namespace: string; name: string };
  /** Webhook configurations (mutating or validating, by name) whose every webhook gets the caBundle. */
  webhookConfigurations: string[];
  /** DNS names / IPs the serving certificate covers. */
  hosts: string[];
  /**
   * The controller's own serving certificate (the token exchange's HTTPS), signed by the same CA:
   * the Secret it is kept in and the controller Service's names. Absent: not managed.
   */
  controller?: { secret: { namespace: string; name: string }; hosts: string[] };
  policy: RotationPolicy;
  /** Longest time between two passes (the plan asks for earlier ones when something is due). */
  checkIntervalMs: number;
}

const list = (v: string | undefined): string[] => (v ?? '').split(',').map((s) => s.trim()).filter(Boolean);

function ref(v: string, defaultNamespace: string, variable: string): { namespace: string; name: string } {
  const parts = v.split('/');
  const ok = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;
  if (parts.length > 2 || parts.some((p) => !ok.test(p))) throw new ControllerConfigError(variable, `expected NAME or NAMESPACE/NAME, got "${v}"`);
  return parts.length === 2 ? { namespace: parts[0]!, name: parts[1]! } : { namespace: defaultNamespace, name: parts[0]! };
}

function seconds(env: NodeJS.ProcessEnv, variable: string, fallbackMs: number, min: number): number {
  const v = env[variable];
  if (v === undefined || v === '') return fallbackMs;
  const n = Number(v);
  if (!Number.isFinite(n) || n < min) throw new ControllerConfigError(variable, `must be a number of seconds >= ${min}, got "${v}"`);
  return Math.round(n * 1000);
}

function days(env: NodeJS.ProcessEnv, variable: string, fallbackMs: number): number {
  const v = env[variable];
  if (v === undefined || v === '') return fallbackMs;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new ControllerConfigError(variable, `must be a positive number of days, got "${v}"`);
  return Math.round(n * 86_400_000);
}

/** The DNS names a Service answers to inside the cluster. */
export function serviceHosts(namespace: string, name: string): string[] {
  return [name, `${name}.${namespace}`, `${name}.${namespace}.svc`, `${name}.${namespace}.svc.cluster.local`];
}

/**
 * Reads SKILLGATE_MANAGE_WEBHOOK_CERTS (must be "true" to enable; anything else: undefined),
 * SKILLGATE_WEBHOOK_CERT_SECRET, SKILLGATE_WEBHOOK_CONFIGS, SKILLGATE_WEBHOOK_SERVICE,
 * SKILLGATE_WEBHOOK_CERT_HOSTS, SKILLGATE_WEBHOOK_CA_SECRET and the optional durations
 * SKILLGATE_WEBHOOK_CERT_CHECK_INTERVAL_SECONDS, SKILLGATE_WEBHOOK_CA_VALIDITY_DAYS,
 * SKILLGATE_WEBHOOK_CERT_VALIDITY_DAYS, SKILLGATE_WEBHOOK_CA_PROMOTE_AFTER_SECONDS,
 * SKILLGATE_WEBHOOK_CA_RETIRE_AFTER_SECONDS. With SKILLGATE_CONTROLLER_CERT_SECRET and
 * SKILLGATE_CONTROLLER_SERVICE (and, for more names or IPs, SKILLGATE_CONTROLLER_CERT_HOSTS) the
 * same CA signs the controller's serving certificate too; a new CA
 * then waits at least twice the workload token lifetime (SKILLGATE_TOKEN_TTL_SECONDS) before it
 * signs, so every sidecar has been handed it with a token first.
 */
export function webhookCertsConfigFromEnv(env: NodeJS.ProcessEnv): WebhookCertsConfig | undefined {
  const flag = env.SKILLGATE_MANAGE_WEBHOOK_CERTS;
  if (flag === undefined || flag === '' || flag === 'false') return undefined;
  if (flag !== 'true') throw new ControllerConfigError('SKILLGATE_MANAGE_WEBHOOK_CERTS', `must be "true" or "false", got "${flag}"`);
  const namespace = env.SKILLGATE_NAMESPACE ?? env.POD_NAMESPACE ?? 'skillgate';
  if (!env.SKILLGATE_WEBHOOK_CERT_SECRET) throw new ControllerConfigError('SKILLGATE_WEBHOOK_CERT_SECRET', 'required when SKILLGATE_MANAGE_WEBHOOK_CERTS=true: the Secret the webhook mounts');
  const secret = ref(env.SKILLGATE_WEBHOOK_CERT_SECRET, namespace, 'SKILLGATE_WEBHOOK_CERT_SECRET');
  const caSecret = env.SKILLGATE_WEBHOOK_CA_SECRET
    ? ref(env.SKILLGATE_WEBHOOK_CA_SECRET, secret.namespace, 'SKILLGATE_WEBHOOK_CA_SECRET')
    : { namespace: secret.namespace, name: `${secret.name}-ca` };
  const webhookConfigurations = list(env.SKILLGATE_WEBHOOK_CONFIGS);
  if (!webhookConfigurations.length) throw new ControllerConfigError('SKILLGATE_WEBHOOK_CONFIGS', 'required: comma-separated names of the webhook configurations to patch caBundle into');
  const hosts = [...list(env.SKILLGATE_WEBHOOK_SERVICE).flatMap((s) => {
    const r = ref(s, namespace, 'SKILLGATE_WEBHOOK_SERVICE');
    return serviceHosts(r.namespace, r.name);
  }), ...list(env.SKILLGATE_WEBHOOK_CERT_HOSTS)];
  if (!hosts.length) throw new ControllerConfigError('SKILLGATE_WEBHOOK_SERVICE', 'required (or SKILLGATE_WEBHOOK_CERT_HOSTS): the webhook Service the certificate is for');
  const policy: RotationPolicy = {
    ...DEFAULT_ROTATION_POLICY,
    caValidityMs: days(env, 'SKILLGATE_WEBHOOK_CA_VALIDITY_DAYS', DEFAULT_ROTATION_POLICY.caValidityMs),
    servingValidityMs: days(env, 'SKILLGATE_WEBHOOK_CERT_VALIDITY_DAYS', DEFAULT_ROTATION_POLICY.servingValidityMs),
    caPromoteAfterMs: seconds(env, 'SKILLGATE_WEBHOOK_CA_PROMOTE_AFTER_SECONDS', DEFAULT_ROTATION_POLICY.caPromoteAfterMs, 0),
    caRetireAfterMs: seconds(env, 'SKILLGATE_WEBHOOK_CA_RETIRE_AFTER_SECONDS', DEFAULT_ROTATION_POLICY.caRetireAfterMs, 0),
  };
  if (policy.servingValidityMs >= policy.caValidityMs) {
    throw new ControllerConfigError('SKILLGATE_WEBHOOK_CERT_VALIDITY_DAYS', 'must be shorter than SKILLGATE_WEBHOOK_CA_VALIDITY_DAYS');
  }
  let controller: WebhookCertsConfig['controller'];
  if (env.SKILLGATE_CONTROLLER_CERT_SECRET || env.SKILLGATE_CONTROLLER_SERVICE) {
    if (!env.SKILLGATE_CONTROLLER_CERT_SECRET || !env.SKILLGATE_CONTROLLER_SERVICE) {
      throw new ControllerConfigError(env.SKILLGATE_CONTROLLER_CERT_SECRET ? 'SKILLGATE_CONTROLLER_SERVICE' : 'SKILLGATE_CONTROLLER_CERT_SECRET', 'SKILLGATE_CONTROLLER_CERT_SECRET and SKILLGATE_CONTROLLER_SERVICE go together (the Secret for the controller\'s certificate, and the Service it is for)');
    }
    const service = ref(env.SKILLGATE_CONTROLLER_SERVICE, namespace, 'SKILLGATE_CONTROLLER_SERVICE');
    const extra = list(env.SKILLGATE_CONTROLLER_CERT_HOSTS);
    controller = { secret: ref(env.SKILLGATE_CONTROLLER_CERT_SECRET, namespace, 'SKILLGATE_CONTROLLER_CERT_SECRET'), hosts: [...new Set([...serviceHosts(service.namespace, service.name), ...extra])] };
    const ttlS = Number(env.SKILLGATE_TOKEN_TTL_SECONDS || DEFAULT_TOKEN_TTL_SECONDS);
    // Twice the token lifetime (a sidecar refreshes at 80 % of it, and may need a retry), plus a
    // minute for every controller replica to load its renewed certificate (they look every 30 s).
    if (Number.isFinite(ttlS) && ttlS > 0) policy.caPromoteAfterMs = Math.max(policy.caPromoteAfterMs, 2 * ttlS * 1000 + 60_000);
  }
  return {
    secret,
    caSecret,
    webhookConfigurations,
    hosts: [...new Set(hosts)],
    ...(controller ? { controller } : {}),
    policy,
    checkIntervalMs: seconds(env, 'SKILLGATE_WEBHOOK_CERT_CHECK_INTERVAL_SECONDS', 5 * 60_000, 1),
  };
}
