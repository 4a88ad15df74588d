// The webhook's one typed configuration object: what to inject (images, identities, resources, the
// upstream credential Secret to keep away from skills) and which opt-out exceptions are allowed.
// Parsed and validated once at start-up (parseWebhookConfig): a bad config fails fast with the field
// and the reason. Never holds a secret value itself: only the *name* of the upstream Secret.
import { X509Certificate } from 'node:crypto';
import { parse as parseYaml } from 'yaml';
import { certificateBlocks } from '@skillgate/api';
import type { ResourceRequirements } from './pod.js';

/** Version of the injection template, recorded in the pod annotation skillgate.dev/injected. */
export const INJECTOR_VERSION = '0.2.2';

/** skillgate's release, the default tag of the image the injected containers run. */
export const APP_VERSION = '0.1.0';

/** A named exception that lets a pod opt out of injection (annotation skillgate.dev/inject-exception). */
export interface InjectException {
  name: string;
  /** Namespaces where the exception may be claimed. Absent: any injected namespace. */
  namespaces?: string[];
  /** ServiceAccounts (of the pod) that may claim it. Absent: any. Keeps a skill from claiming a database's exception. */
  serviceAccounts?: string[];
}

export interface UpstreamSecretRef {
  /** Name of the Secret holding the upstream Claude credential. App containers may never reference it. */
  name: string;
  /** Key inside the Secret. */
  key: string;
  /** Mount it into the sidecar (SKILLGATE_UPSTREAM_API_KEY_FILE). When false the sidecar gets it elsewhere (e.g. from the controller). */
  mountInSidecar: boolean;
}

export interface WebhookConfig {
  /** Image of the sidecar (entrypoint `skillgate`, argument `sidecar`). */
  sidecarImage: string;
  /** Image of the egress-capture init container; needs `sh` and `iptables`. */
  initImage: string;
  imagePullPolicy: 'Always' | 'IfNotPresent' | 'Never';
  /** UID (and GID) the sidecar runs as; its own traffic is exempt from egress capture. */
  sidecarUid: number;
  /** Where the sidecar exchanges its projected ServiceAccount token for a workload token. */
  controllerUrl: string;
  /**
   * PEM of the CA certificate(s) that issued the controller's serving certificate, for an https
   * controllerUrl whose certificate is not publicly trusted. Given to the sidecar as the env var
   * SKILLGATE_CONTROLLER_CA (PEM text; public, never a key). Empty: the sidecar trusts the system CAs.
   */
  controllerCaPem: string;
  /**
   * A file holding that PEM instead, read when the webhook starts and again whenever its
   * certificate files change (the chart: ca.crt of the webhook's own TLS Secret, whose CA also signs
   * the controller's certificate and rotates with it). Excludes controllerCaPem.
   */
  controllerCaFile: string;
  /** Redis for session records; empty: the sidecar's local file store. */
  redisUrl: string;
  /** Upstream Claude API the sidecar forwards to (SKILLGATE_UPSTREAM_URL). */
  upstreamUrl: string;
  upstreamSecret: UpstreamSecretRef;
  /** Placeholder API key given to app containers so unmodified SDKs send requests (the sidecar strips it). Empty: none. */
  placeholderApiKey: string;
  sidecarResources: ResourceRequirements;
  initResources: ResourceRequirements;
  /** Projected ServiceAccount token lifetime for the sidecar. */
  tokenExpirationSeconds: number;
  /** Outbound TCP ports not captured (default none). Never 53: DNS goes through the sidecar's DNS guard. */
  excludeOutboundPorts: number[];
  /** Opt-out exceptions pods may claim. */
  allowedExceptions: InjectException[];
  /**
   * CSI drivers an injected pod may use as inline (`csi:`) volumes. Default none: the kubelet mounts
   * a CSI volume from the node, outside the pod's egress capture, so a driver that reaches the
   * network (an NFS or S3 driver, say) would carry the skill's writes out without the sidecar. Name
   * only drivers that do not (a secrets-store driver that reads a vault the admin chose).
   */
  allowedCsiDrivers: string[];
  sidecarLogLevel: 'trace' | 'debug' | 'info' | 'warn' | 'error';
}

export function defaultWebhookConfig(): WebhookConfig {
  return {
    sidecarImage: `skillgate/skillgate:${APP_VERSION}`,
    initImage: `skillgate/skillgate:${APP_VERSION}`,
    imagePullPolicy: 'IfNotPresent',
    sidecarUid: 1337,
    controllerUrl: 'https://skillgate-controller.skillgate-system.svc:8443',
    controllerCaPem: '',
    controllerCaFile: '',
    redisUrl: '',
    upstreamUrl: 'https://api.anthropic.com',
    upstreamSecret: { name: 'skillgate-upstream', key: 'api-key', mountInSidecar: true },
    placeholderApiKey: 'skillgate-sidecar-holds-the-credential',
    sidecarResources: { requests: { cpu: '50m', memory: '64Mi' }, limits: { cpu: '1', memory: '512Mi' } },
    initResources: { requests: { cpu: '10m', memory: '16Mi' }, limits: { cpu: '100m', memory: '64Mi' } },
    tokenExpirationSeconds: 3600,
    excludeOutboundPorts: [],
    allowedExceptions: [],
    allowedCsiDrivers: [],
    sidecarLogLevel: 'info',
  };
}

/** A configuration field that is missing or wrong; the message names the field and the reason. */
export class WebhookConfigError extends Error {
  constructor(readonly field: string, reason: string) {
    super(`webhook config: ${field}: ${reason}`);
    this.name = 'WebhookConfigError';
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function str(o: Record<string, unknown>, field: string, path: string, fallback: string, { allowEmpty = false } = {}): string {
  const v = o[field];
  if (v === undefined) return fallback;
  if (typeof v !== 'string' || (!allowEmpty && v === '')) throw new WebhookConfigError(`${path}${field}`, 'must be a non-empty string');
  return v;
}

function int(o: Record<string, unknown>, field: string, path: string, fallback: number, min: number, max: number): number {
  const v = o[field];
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new WebhookConfigError(`${path}${field}`, `must be an integer from ${min} to ${max}`);
  }
  return v;
}

function stringList(v: unknown, path: string): string[] {
  if (!Array.isArray(v) || v.some((s) => typeof s !== 'string' || s === '')) throw new WebhookConfigError(path, 'must be a list of non-empty strings');
  return v as string[];
}

const QUANTITY = /^[0-9]+(\.[0-9]+)?(m|k|M|G|T|Ki|Mi|Gi|Ti)?$/;

function resources(v: unknown, path: string, fallback: ResourceRequirements): ResourceRequirements {
  if (v === undefined) return fallback;
  if (!isObject(v)) throw new WebhookConfigError(path, 'must be an object with requests/limits');
  const out: ResourceRequirements = {};
  for (const part of ['requests', 'limits'] as const) {
    const m = v[part];
    if (m === undefined) continue;
    if (!isObject(m)) throw new WebhookConfigError(`${path}.${part}`, 'must map resource names to quantities');
    const q: Record<string, string> = {};
    for (const [k, val] of Object.entries(m)) {
      // A bare number is a quantity too (`cpu: 2`, `cpu: 0.5` in a values file, as Kubernetes reads them).
      const text = typeof val === 'number' && Number.isFinite(val) && val >= 0 ? String(val) : val;
      if (typeof text !== 'string' || !QUANTITY.test(text)) throw new WebhookConfigError(`${path}.${part}.${k}`, `"${String(val)}" is not a Kubernetes quantity (e.g. 50m, 64Mi)`);
      q[k] = text;
    }
    out[part] = q;
  }
  return out;
}

/**
 * The controller CA bundle as the sidecar gets it: every certificate must parse (a bad paste fails
 * at start, not at the first token exchange) and nothing else may be there (no private key); the
 * blocks are re-encoded canonically, newline-terminated, so the injected value is the same on every
 * injection. Pure.
 */
export function parseControllerCaPem(text: string): string {
  if (!text.trim()) return '';
  if (!text.includes('-----BEGIN CERTIFICATE-----')) throw new WebhookConfigError('controllerCaPem', 'must be PEM text with at least one -----BEGIN CERTIFICATE----- block');
  const blocks = certificateBlocks(text);
  if (!blocks) throw new WebhookConfigError('controllerCaPem', 'holds something besides CERTIFICATE blocks (a private key?): give only the CA certificate(s)');
  return blocks.map((block, i) => {
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(block);
    } catch (err) {
      throw new WebhookConfigError('controllerCaPem', `certificate ${i + 1} does not parse: ${(err as Error).message}`);
    }
    return cert.toString().trim();
  }).join('\n') + '\n';
}

/**
 * Validates a config object (e.g. parsed from the chart's ConfigMap) and fills defaults. Throws
 * WebhookConfigError naming the first bad field.
 */
export function parseWebhookConfig(input: unknown): WebhookConfig {
  const d = defaultWebhookConfig();
  if (input === undefined || input === null) return d;
  if (!isObject(input)) throw new WebhookConfigError('(root)', 'must be an object');
  const known = new Set(Object.keys(d));
  for (const k of Object.keys(input)) if (!known.has(k)) throw new WebhookConfigError(k, `unknown field (known: ${[...known].join(', ')})`);

  const pull = str(input, 'imagePullPolicy', '', d.imagePullPolicy);
  if (!['Always', 'IfNotPresent', 'Never'].includes(pull)) throw new WebhookConfigError('imagePullPolicy', 'must be Always, IfNotPresent or Never');
  const level = str(input, 'sidecarLogLevel', '', d.sidecarLogLevel);
  if (!['trace', 'debug', 'info', 'warn', 'error'].includes(level)) throw new WebhookConfigError('sidecarLogLevel', 'must be trace, debug, info, warn or error');

  for (const f of ['controllerUrl', 'upstreamUrl'] as const) {
    const v = str(input, f, '', d[f]);
    if (!/^https?:\/\//.test(v)) throw new WebhookConfigError(f, 'must be an http(s) URL');
  }
  const controllerUrl = str(input, 'controllerUrl', '', d.controllerUrl);
  const controllerCaPem = parseControllerCaPem(str(input, 'controllerCaPem', '', d.controllerCaPem, { allowEmpty: true }));
  if (controllerCaPem && !controllerUrl.startsWith('https://')) throw new WebhookConfigError('controllerCaPem', 'is set but controllerUrl is not https: a CA is only used for TLS to the controller');
  const controllerCaFile = str(input, 'controllerCaFile', '', d.controllerCaFile, { allowEmpty: true });
  if (controllerCaFile && controllerCaPem) throw new WebhookConfigError('controllerCaFile', 'give the controller\'s CA as controllerCaPem or as controllerCaFile, not both');
  if (controllerCaFile && !controllerUrl.startsWith('https://')) throw new WebhookConfigError('controllerCaFile', 'is set but controllerUrl is not https: a CA is only used for TLS to the controller');
  const redisUrl = str(input, 'redisUrl', '', d.redisUrl, { allowEmpty: true });
  if (redisUrl && !/^rediss?:\/\//.test(redisUrl)) throw new WebhookConfigError('redisUrl', 'must be a redis:// or rediss:// URL (or empty)');

  let upstreamSecret = d.upstreamSecret;
  if (input.upstreamSecret !== undefined) {
    const u = input.upstreamSecret;
    if (!isObject(u)) throw new WebhookConfigError('upstreamSecret', 'must be an object with name, key, mountInSidecar');
    const mount = u.mountInSidecar ?? d.upstreamSecret.mountInSidecar;
    if (typeof mount !== 'boolean') throw new WebhookConfigError('upstreamSecret.mountInSidecar', 'must be a boolean');
    upstreamSecret = { name: str(u, 'name', 'upstreamSecret.', d.upstreamSecret.name), key: str(u, 'key', 'upstreamSecret.', d.upstreamSecret.key), mountInSidecar: mount };
  }

  let excludeOutboundPorts = d.excludeOutboundPorts;
  if (input.excludeOutboundPorts !== undefined) {
    const v = input.excludeOutboundPorts;
    if (!Array.isArray(v) || v.some((p) => !Number.isInteger(p) || p < 1 || p > 65535)) throw new WebhookConfigError('excludeOutboundPorts', 'must be a list of TCP ports (1-65535)');
    if (v.includes(53)) throw new WebhookConfigError('excludeOutboundPorts', 'cannot exclude port 53: DNS (UDP and TCP) goes through the sidecar\'s DNS guard, and uncaptured DNS would let any name out of the pod');
    excludeOutboundPorts = v as number[];
  }

  let allowedExceptions = d.allowedExceptions;
  if (input.allowedExceptions !== undefined) {
    const v = input.allowedExceptions;
    if (!Array.isArray(v)) throw new WebhookConfigError('allowedExceptions', 'must be a list of {name, namespaces?, serviceAccounts?}');
    allowedExceptions = v.map((e: unknown, i) => {
      const p = `allowedExceptions[${i}]`;
      if (!isObject(e)) throw new WebhookConfigError(p, 'must be an object');
      const ex: InjectException = { name: str(e, 'name', `${p}.`, '') };
      if (!ex.name) throw new WebhookConfigError(`${p}.name`, 'is required');
      if (e.namespaces !== undefined) ex.namespaces = stringList(e.namespaces, `${p}.namespaces`);
      if (e.serviceAccounts !== undefined) ex.serviceAccounts = stringList(e.serviceAccounts, `${p}.serviceAccounts`);
      return ex;
    });
  }

  const allowedCsiDrivers = input.allowedCsiDrivers === undefined ? d.allowedCsiDrivers : stringList(input.allowedCsiDrivers, 'allowedCsiDrivers');

  return {
    sidecarImage: str(input, 'sidecarImage', '', d.sidecarImage),
    initImage: str(input, 'initImage', '', d.initImage),
    imagePullPolicy: pull as WebhookConfig['imagePullPolicy'],
    sidecarUid: int(input, 'sidecarUid', '', d.sidecarUid, 1, 2147483647),
    controllerUrl,
    controllerCaPem,
    controllerCaFile,
    redisUrl,
    upstreamUrl: str(input, 'upstreamUrl', '', d.upstreamUrl),
    upstreamSecret,
    placeholderApiKey: str(input, 'placeholderApiKey', '', d.placeholderApiKey, { allowEmpty: true }),
    sidecarResources: resources(input.sidecarResources, 'sidecarResources', d.sidecarResources),
    initResources: resources(input.initResources, 'initResources', d.initResources),
    tokenExpirationSeconds: int(input, 'tokenExpirationSeconds', '', d.tokenExpirationSeconds, 600, 86400),
    excludeOutboundPorts,
    allowedExceptions,
    allowedCsiDrivers,
    sidecarLogLevel: level as WebhookConfig['sidecarLogLevel'],
  };
}

/** Parses a config file's text (YAML or JSON, e.g. the chart's ConfigMap key) and validates it. */
export function parseWebhookConfigText(text: string): WebhookConfig {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new WebhookConfigError('(file)', `not valid YAML/JSON: ${(err as Error).message.split('\n')[0]}`);
  }
  return parseWebhookConfig(doc);
}
