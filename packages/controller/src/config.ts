// The controller's configuration: one typed object from flags and environment, validated at
// start-up; a bad value fails fast naming the field and the reason. Secrets are referenced by file
// or Secret name, never passed as values on the command line.
import { isRedisUrl } from '@skillgate/resp';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { DEFAULT_FEED_PREFIX, DEFAULT_TOKEN_TTL_SECONDS, MAX_TOKEN_TTL_SECONDS } from '@skillgate/identity';

export interface ControllerConfig {
  listen: { host: string; port: number };
  /**
   * A plain-HTTP listener of its own for /metrics, /healthz and /readyz (SKILLGATE_METRICS_LISTEN,
   * the chart: 0.0.0.0:9090), so Prometheus scrapes without the installation CA. Absent: none
   * (/metrics stays on the main listener either way).
   */
  metricsListen?: { host: string; port: number };
  /** Serve HTTPS with these PEM files (an operator's certificate); absent = see tlsSecret. */
  tls?: { certFile: string; keyFile: string };
  /**
   * Serve HTTPS with the certificate in this Secret (tls.crt, tls.key, ca.crt), read through the
   * API and reloaded when it changes: the one the installation CA issues (webhook-certs,
   * SKILLGATE_CONTROLLER_CERT_SECRET). Neither: plain HTTP (tests, behind a mesh).
   */
  tlsSecret?: { namespace: string; name: string };
  redisUrl: string;
  /**
   * The Redis URL handed to sidecars in the token exchange (SKILLGATE_SIDECAR_REDIS_URL, from the
   * chart's redis.existingSecret): a URL with a password then never sits in the injection
   * ConfigMap or a skill's pod spec. Absent: sidecars use the REDIS_URL the injector gave them.
   */
  sidecarRedisUrl?: string;
  redisPrefix: string;
  /** Namespace holding owner records and (by default) the upstream credential Secret. */
  namespace: string;
  kubeconfig?: string;
  /** File holding the SCIM bearer secret (re-read on change); absent disables SCIM. */
  scimTokenFile?: string;
  /** PKCS#8 PEM of the ES256 signing key (an operator's Secret, mounted). */
  signingKeyFile?: string;
  /**
   * Without a file: the Secret the key is kept in, created by the first replica (signing-key.ts).
   * Neither: an ephemeral key (tokens and endorsements die with the process).
   */
  signingKeySecret?: { namespace: string; name: string };
  /** A file holding the installation masking key (an operator's Secret, mounted; masking-key.ts). */
  maskingKeyFile?: string;
  /** Without a file: the Secret the masking key is kept in, created by the first replica. Neither: none. */
  maskingKeySecret?: { namespace: string; name: string };
  /** A ConfigMap to keep every signing key's public half in (jwks-configmap.ts); absent: none. */
  jwksConfigMap?: { namespace: string; name: string };
  issuer: string;
  tokenTtlSeconds: number;
  /**
   * Give workload tokens only to skills whose owner someone accountable vouched for: the identity
   * provider (SCIM) or a responder (`skillgate owners add`). Off (the default), an owner first seen
   * on a pod's annotation is registered and trusted as written — and a skill annotated with a
   * made-up address escapes every offboarding, since no identity provider will ever deactivate it.
   * SKILLGATE_REQUIRE_KNOWN_OWNERS, the chart's controller.requireKnownOwners.
   */
  requireKnownOwners: boolean;
  /** Secret holding the upstream API key the sidecars receive. */
  upstreamSecret?: { namespace: string; name: string; key: string };
  heartbeatMs: number;
  logLevel: string;
  /** Just-in-time approvals: notifications and signed approve/deny links. */
  approvals: {
    /** Slack-compatible incoming webhook; absent = no notifications. */
    webhookUrl?: string;
    /** Public base URL of the controller for signed links (needs linkSecretFile). */
    linkBaseUrl?: string;
    /** File holding the HMAC secret of the links (read at start). */
    linkSecretFile?: string;
    /** Header carrying the approver set by the authenticating proxy (default x-forwarded-user). */
    userHeader: string;
    /**
     * A listener of their own for the signed links (SKILLGATE_APPROVAL_LISTEN, e.g. 0.0.0.0:8444),
     * so that only the authenticating proxy is let reach them (the chart's NetworkPolicy) while the
     * token exchange stays open to every sidecar. Absent: the links are served on `listen`.
     */
    listen?: { host: string; port: number };
  };
  /** One leader (Lease) runs the publishers and status loops; every replica serves /token and SCIM. */
  leaderElection: {
    enabled: boolean;
    leaseName: string;
    leaseDurationSeconds: number;
    retryPeriodMs: number;
    /** This replica's name in the Lease (the pod name in cluster). */
    identity: string;
  };
  /** How often SkillLock status counters are copied from Redis. */
  lockStatsIntervalMs: number;
  /** How often the pods of injected namespaces that run without the sidecar are counted. */
  uninjectedPodsIntervalMs: number;
}

export class ControllerConfigError extends Error {
  constructor(field: string, reason: string) {
    super(`invalid controller config: ${field}: ${reason}`);
    this.name = 'ControllerConfigError';
  }
}

export type ControllerConfigInput = Partial<Omit<ControllerConfig, 'listen' | 'metricsListen' | 'approvals' | 'leaderElection'>> & {
  listen?: string | { host: string; port: number };
  metricsListen?: string | { host: string; port: number };
  approvals?: Partial<ControllerConfig['approvals']>;
  leaderElection?: Partial<ControllerConfig['leaderElection']>;
};

function httpUrl(field: string, v: string): string {
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    throw new ControllerConfigError(field, `not a URL: ${v}`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new ControllerConfigError(field, `must be http:// or https://, got ${u.protocol}`);
  return v;
}

/** A Redis URL as ioredis and the sidecar's connection read it; the error never repeats the URL (it may hold a password). */
function redisUrlFor(field: string, v: string): string {
  if (!isRedisUrl(v)) throw new ControllerConfigError(field, 'must be a redis:// or rediss:// URL with a host');
  return v;
}

export function parseListen(v: string, field = 'listen'): { host: string; port: number } {
  const m = /^(.*):(\d+)$/.exec(v);
  const host = m ? (m[1] || '0.0.0.0').replace(/^\[(.*)\]$/, '$1') : '0.0.0.0';
  const port = Number(m ? m[2] : v);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new ControllerConfigError(field, `not host:port: ${v}`);
  return { host, port };
}

export function resolveControllerConfig(input: ControllerConfigInput): ControllerConfig {
  const listen = typeof input.listen === 'string' ? parseListen(input.listen) : input.listen ?? { host: '0.0.0.0', port: 8443 };
  if (!input.redisUrl) throw new ControllerConfigError('redisUrl', 'REDIS_URL is required: the lock feed travels through Redis');
  redisUrlFor('redisUrl', input.redisUrl);
  if (input.sidecarRedisUrl !== undefined) redisUrlFor('sidecarRedisUrl', input.sidecarRedisUrl);
  const ttl = input.tokenTtlSeconds ?? DEFAULT_TOKEN_TTL_SECONDS;
  if (!Number.isInteger(ttl) || ttl < 10 || ttl > MAX_TOKEN_TTL_SECONDS) throw new ControllerConfigError('tokenTtlSeconds', `must be an integer in [10, ${MAX_TOKEN_TTL_SECONDS}], got ${ttl}`);
  if (input.tls && (!input.tls.certFile || !input.tls.keyFile)) throw new ControllerConfigError('tls', 'both certFile and keyFile are required');
  if (input.tls && input.tlsSecret) throw new ControllerConfigError('tlsSecret', 'give the certificate as files (SKILLGATE_CONTROLLER_TLS_CERT_FILE/_KEY_FILE) or as a Secret (SKILLGATE_CONTROLLER_TLS_SECRET), not both');
  const ap = input.approvals ?? {};
  if (ap.webhookUrl) httpUrl('approvals.webhookUrl', ap.webhookUrl);
  if (ap.linkBaseUrl) httpUrl('approvals.linkBaseUrl', ap.linkBaseUrl);
  if (ap.listen && !ap.linkBaseUrl) throw new ControllerConfigError('approvals.listen', 'a listener for approval links needs the links (SKILLGATE_APPROVAL_LINK_BASE_URL and SKILLGATE_APPROVAL_LINK_SECRET_FILE)');
  if (!!ap.linkBaseUrl !== !!ap.linkSecretFile) throw new ControllerConfigError('approvals', 'SKILLGATE_APPROVAL_LINK_BASE_URL and SKILLGATE_APPROVAL_LINK_SECRET_FILE go together (signed links need both)');
  const le = input.leaderElection ?? {};
  const duration = le.leaseDurationSeconds ?? 15;
  if (!Number.isInteger(duration) || duration < 1 || duration > 300) throw new ControllerConfigError('leaderElection.leaseDurationSeconds', `must be an integer in [1, 300], got ${duration}`);
  const retry = le.retryPeriodMs ?? Math.min(2000, Math.floor((duration * 1000) / 4));
  if (!Number.isFinite(retry) || retry < 50 || retry >= duration * 1000) throw new ControllerConfigError('leaderElection.retryPeriodMs', `must be at least 50 ms and below the lease duration, got ${retry}`);
  const statsMs = input.lockStatsIntervalMs ?? 5000;
  if (!Number.isFinite(statsMs) || statsMs < 100) throw new ControllerConfigError('lockStatsIntervalMs', `must be at least 100 ms, got ${statsMs}`);
  const uninjectedMs = input.uninjectedPodsIntervalMs ?? 60_000;
  if (!Number.isFinite(uninjectedMs) || uninjectedMs < 100) throw new ControllerConfigError('uninjectedPodsIntervalMs', `must be at least 100 ms, got ${uninjectedMs}`);
  for (const [field, file] of [['scimTokenFile', input.scimTokenFile], ['signingKeyFile', input.signingKeyFile], ['maskingKeyFile', input.maskingKeyFile], ['tls.certFile', input.tls?.certFile], ['tls.keyFile', input.tls?.keyFile], ['approvals.linkSecretFile', ap.linkSecretFile]] as const) {
    if (file) {
      try {
        readFileSync(file);
      } catch (err) {
        throw new ControllerConfigError(field, `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
      }
    }
  }
  const metricsListen = typeof input.metricsListen === 'string' ? parseListen(input.metricsListen, 'metricsListen') : input.metricsListen;
  return {
    listen,
    ...(metricsListen ? { metricsListen } : {}),
    ...(input.tls ? { tls: input.tls } : {}),
    ...(input.tlsSecret ? { tlsSecret: input.tlsSecret } : {}),
    redisUrl: input.redisUrl,
    ...(input.sidecarRedisUrl ? { sidecarRedisUrl: input.sidecarRedisUrl } : {}),
    redisPrefix: input.redisPrefix ?? DEFAULT_FEED_PREFIX,
    namespace: input.namespace ?? 'skillgate',
    ...(input.kubeconfig ? { kubeconfig: input.kubeconfig } : {}),
    ...(input.scimTokenFile ? { scimTokenFile: input.scimTokenFile } : {}),
    ...(input.signingKeyFile ? { signingKeyFile: input.signingKeyFile } : {}),
    ...(input.signingKeySecret && !input.signingKeyFile ? { signingKeySecret: input.signingKeySecret } : {}),
    ...(input.maskingKeyFile ? { maskingKeyFile: input.maskingKeyFile } : {}),
    ...(input.maskingKeySecret && !input.maskingKeyFile ? { maskingKeySecret: input.maskingKeySecret } : {}),
    ...(input.jwksConfigMap ? { jwksConfigMap: input.jwksConfigMap } : {}),
    issuer: input.issuer ?? 'https://skillgate-controller.skillgate.svc',
    tokenTtlSeconds: ttl,
    requireKnownOwners: input.requireKnownOwners ?? false,
    ...(input.upstreamSecret ? { upstreamSecret: input.upstreamSecret } : {}),
    heartbeatMs: input.heartbeatMs ?? 2000,
    logLevel: input.logLevel ?? 'info',
    approvals: {
      ...(ap.webhookUrl ? { webhookUrl: ap.webhookUrl } : {}),
      ...(ap.linkBaseUrl ? { linkBaseUrl: ap.linkBaseUrl } : {}),
      ...(ap.linkSecretFile ? { linkSecretFile: ap.linkSecretFile } : {}),
      userHeader: (ap.userHeader ?? 'x-forwarded-user').toLowerCase(),
      ...(ap.listen ? { listen: ap.listen } : {}),
    },
    leaderElection: {
      enabled: le.enabled ?? true,
      leaseName: le.leaseName ?? 'skillgate-controller',
      leaseDurationSeconds: duration,
      retryPeriodMs: retry,
      identity: le.identity ?? `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`,
    },
    lockStatsIntervalMs: statsMs,
    uninjectedPodsIntervalMs: uninjectedMs,
  };
}

/** Parse `name` or `namespace/name` (a Kubernetes object name: DNS subdomain). */
export function parseObjectRef(field: string, v: string, defaultNamespace: string): { namespace: string; name: string } {
  const parts = v.split('/');
  const ok = (s: string | undefined): s is string => !!s && /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/.test(s);
  if (parts.length === 1 && ok(parts[0])) return { namespace: defaultNamespace, name: parts[0] };
  if (parts.length === 2 && ok(parts[0]) && ok(parts[1])) return { namespace: parts[0], name: parts[1] };
  throw new ControllerConfigError(field, `expected name or namespace/name (lower-case DNS names), got ${JSON.stringify(v)}`);
}

/** Parse `name`, `name/key` or `namespace/name/key`. */
export function parseSecretRef(v: string, defaultNamespace: string): { namespace: string; name: string; key: string } {
  const parts = v.split('/');
  if (parts.length === 1) return { namespace: defaultNamespace, name: parts[0]!, key: 'api-key' };
  if (parts.length === 2) return { namespace: defaultNamespace, name: parts[0]!, key: parts[1]! };
  if (parts.length === 3) return { namespace: parts[0]!, name: parts[1]!, key: parts[2]! };
  throw new ControllerConfigError('upstreamSecret', `expected name, name/key or namespace/name/key, got ${v}`);
}

/** Configuration from the environment (the container's contract). */
export function controllerConfigFromEnv(env: NodeJS.ProcessEnv): ControllerConfigInput {
  const namespace = env.SKILLGATE_NAMESPACE ?? env.POD_NAMESPACE ?? 'skillgate';
  const num = (name: string): number | undefined => (env[name] ? Number(env[name]) : undefined);
  const ttl = num('SKILLGATE_TOKEN_TTL_SECONDS');
  const hb = num('SKILLGATE_LOCK_HEARTBEAT_MS');
  const leaseS = num('SKILLGATE_LEASE_DURATION_SECONDS');
  const leaseRetry = num('SKILLGATE_LEASE_RETRY_MS');
  const statsMs = num('SKILLGATE_LOCK_STATS_INTERVAL_MS');
  const elect = env.SKILLGATE_LEADER_ELECTION;
  if (elect !== undefined && !/^(true|false|on|off|1|0)$/i.test(elect)) throw new ControllerConfigError('leaderElection.enabled', `SKILLGATE_LEADER_ELECTION must be true or false, got ${elect}`);
  const knownOwners = env.SKILLGATE_REQUIRE_KNOWN_OWNERS;
  if (knownOwners !== undefined && !/^(true|false|on|off|1|0)$/i.test(knownOwners)) throw new ControllerConfigError('requireKnownOwners', `SKILLGATE_REQUIRE_KNOWN_OWNERS must be true or false, got ${knownOwners}`);
  const identity = env.SKILLGATE_CONTROLLER_ID ?? env.POD_NAME;
  return {
    ...(env.SKILLGATE_CONTROLLER_LISTEN ? { listen: env.SKILLGATE_CONTROLLER_LISTEN } : {}),
    ...(env.SKILLGATE_METRICS_LISTEN ? { metricsListen: env.SKILLGATE_METRICS_LISTEN } : {}),
    ...(env.SKILLGATE_CONTROLLER_TLS_CERT_FILE || env.SKILLGATE_CONTROLLER_TLS_KEY_FILE
      ? { tls: { certFile: env.SKILLGATE_CONTROLLER_TLS_CERT_FILE ?? '', keyFile: env.SKILLGATE_CONTROLLER_TLS_KEY_FILE ?? '' } } : {}),
    ...(env.SKILLGATE_CONTROLLER_TLS_SECRET ? { tlsSecret: parseObjectRef('tlsSecret', env.SKILLGATE_CONTROLLER_TLS_SECRET, namespace) } : {}),
    ...(env.REDIS_URL ? { redisUrl: env.REDIS_URL } : {}),
    ...(env.SKILLGATE_SIDECAR_REDIS_URL ? { sidecarRedisUrl: env.SKILLGATE_SIDECAR_REDIS_URL } : {}),
    ...(env.SKILLGATE_REDIS_PREFIX ? { redisPrefix: env.SKILLGATE_REDIS_PREFIX } : {}),
    namespace,
    ...(env.SKILLGATE_SCIM_TOKEN_FILE ? { scimTokenFile: env.SKILLGATE_SCIM_TOKEN_FILE } : {}),
    ...(env.SKILLGATE_SIGNING_KEY_FILE ? { signingKeyFile: env.SKILLGATE_SIGNING_KEY_FILE } : {}),
    ...(env.SKILLGATE_SIGNING_KEY_SECRET ? { signingKeySecret: parseObjectRef('signingKeySecret', env.SKILLGATE_SIGNING_KEY_SECRET, namespace) } : {}),
    ...(env.SKILLGATE_MASKING_KEY_FILE ? { maskingKeyFile: env.SKILLGATE_MASKING_KEY_FILE } : {}),
    ...(env.SKILLGATE_MASKING_KEY_SECRET ? { maskingKeySecret: parseObjectRef('maskingKeySecret', env.SKILLGATE_MASKING_KEY_SECRET, namespace) } : {}),
    ...(env.SKILLGATE_JWKS_CONFIGMAP ? { jwksConfigMap: parseObjectRef('jwksConfigMap', env.SKILLGATE_JWKS_CONFIGMAP, namespace) } : {}),
    ...(env.SKILLGATE_ISSUER ? { issuer: env.SKILLGATE_ISSUER } : {}),
    ...(ttl !== undefined ? { tokenTtlSeconds: ttl } : {}),
    ...(knownOwners !== undefined ? { requireKnownOwners: /^(true|on|1)$/i.test(knownOwners) } : {}),
    ...(env.SKILLGATE_UPSTREAM_SECRET ? { upstreamSecret: parseSecretRef(env.SKILLGATE_UPSTREAM_SECRET, namespace) } : {}),
    ...(hb !== undefined ? { heartbeatMs: hb } : {}),
    ...(env.SKILLGATE_LOG_LEVEL ? { logLevel: env.SKILLGATE_LOG_LEVEL } : {}),
    approvals: {
      ...(env.SKILLGATE_APPROVAL_WEBHOOK_URL ? { webhookUrl: env.SKILLGATE_APPROVAL_WEBHOOK_URL } : {}),
      ...(env.SKILLGATE_APPROVAL_LINK_BASE_URL ? { linkBaseUrl: env.SKILLGATE_APPROVAL_LINK_BASE_URL } : {}),
      ...(env.SKILLGATE_APPROVAL_LINK_SECRET_FILE ? { linkSecretFile: env.SKILLGATE_APPROVAL_LINK_SECRET_FILE } : {}),
      ...(env.SKILLGATE_APPROVAL_USER_HEADER ? { userHeader: env.SKILLGATE_APPROVAL_USER_HEADER } : {}),
      ...(env.SKILLGATE_APPROVAL_LISTEN ? { listen: parseListen(env.SKILLGATE_APPROVAL_LISTEN, 'approvals.listen') } : {}),
    },
    leaderElection: {
      ...(elect !== undefined ? { enabled: /^(true|on|1)$/i.test(elect) } : {}),
      ...(env.SKILLGATE_LEASE_NAME ? { leaseName: env.SKILLGATE_LEASE_NAME } : {}),
      ...(leaseS !== undefined ? { leaseDurationSeconds: leaseS } : {}),
      ...(leaseRetry !== undefined ? { retryPeriodMs: leaseRetry } : {}),
      ...(identity ? { identity } : {}),
    },
    ...(statsMs !== undefined ? { lockStatsIntervalMs: statsMs } : {}),
  };
}
