// The sidecar's configuration: one typed object, assembled from defaults, an optional config file
// (JSON or YAML) and the environment (CONTRACT.md), validated once at start-up. A bad value fails
// fast with the field and the reason, and so does a field the file sets that no one reads (a typo
// must never leave a default in force); nothing downstream re-checks it.
import { readFileSync } from 'node:fs';
import { yaml } from './yaml.js';
import { DEV_MASKING_KEY, MASKING_KEY_MIN_BYTES, PORTS, type SkillIdentity } from '@skillgate/api';
import { getHeapStatistics } from 'node:v8';
import { LIMITS } from '@skillgate/wire';

export interface ListenConfig {
  /** Host the Claude API and egress proxy bind to (loopback in a pod). */
  host: string;
  claude: number;
  egress: number;
  /** The DNS guard, UDP and TCP on the same port (egress/dns.ts). */
  dns: number;
  /** Host for health and metrics (all interfaces in a pod, so the kubelet and Prometheus reach them). */
  adminHost: string;
  health: number;
  metrics: number;
}

export interface LimitsConfig {
  /** Largest Messages request body (bytes). Default 32 MB, Anthropic's own limit. */
  messagesBodyBytes: number;
  batchBodyBytes: number;
  fileBodyBytes: number;
  /** Largest request head (bytes). */
  headerBytes: number;
  /** Close a client connection idle this long (ms) with no bytes in either direction. */
  idleTimeoutMs: number;
  /** Give up waiting for upstream response headers after this long (ms). */
  upstreamHeadersTimeoutMs: number;
  /** Largest non-streaming response kept for the record (bytes); larger bodies are recorded by digest. */
  recordBodyBytes: number;
  /** Egress port: how long a connection may take to send a request's headers (ms; a silent one is closed). */
  egressHeadersTimeoutMs: number;
  /** Egress port: connections open at once (tunnels and requests alike); more wait in the accept queue's place, refused. */
  egressMaxConnections: number;
}

export interface SidecarConfig {
  upstreamUrl: URL;
  /** Upstream credential, read from SKILLGATE_UPSTREAM_API_KEY_FILE. Never logged. */
  upstreamApiKey: string | undefined;
  upstreamApiKeyFile: string | undefined;
  listen: ListenConfig;
  limits: LimitsConfig;
  /** The skill this sidecar serves (from the pod via the downward API, or local defaults). */
  identity: SkillIdentity;
  /** Local policy file (SkillPolicy YAML/JSON), used when no controller feeds policies. */
  policyFile: string | undefined;
  redisUrl: string | undefined;
  recordDir: string;
  /** Installation key for masking fingerprints and HMACs (DEV_MASKING_KEY unless one was set). */
  maskingKey: string;
  /** Whether the key was set (SKILLGATE_MASKING_KEY, a config file): in a cluster, else the controller's is used. */
  maskingKeySet: boolean;
  /** Hosts the egress proxy allows besides policy (host or host:port globs). */
  egressAllowHosts: string[];
  /**
   * Where the DNS guard sends the names it lets through (SKILLGATE_DNS_RESOLVER: an IPv4 address
   * with an optional port). Default: the first IPv4 nameserver of `resolvConfFile`.
   */
  dnsResolver: { host: string; port: number } | undefined;
  /** The pod's resolver configuration (nameserver and search list). Default /etc/resolv.conf. */
  resolvConfFile: string;
  /**
   * Egress attempts recorded one by one a second (SKILLGATE_REFUSALS_PER_SECOND, default 200): the
   * refused ones (DNS names, connections), and on a budget of their own the allowed ones
   * (connections, names under a wildcard); past it a flood is recorded as a count a second
   * (egress/budgeted-journal.ts).
   */
  refusalsPerSecond: number;
  logLevel: string;
  /**
   * Hand memory back after serving requests and then being quiet this long (ms); 0: never. Needs
   * node's --expose-gc (the injector sets it). Default 5 minutes: the next burst pays for it. See heap.ts.
   */
  idleSettleMs: number;
}

export class ConfigError extends Error {
  constructor(field: string, reason: string) {
    super(`invalid sidecar config: ${field}: ${reason}`);
    this.name = 'ConfigError';
  }
}

export type SidecarConfigInput = Partial<Omit<SidecarConfig, 'upstreamUrl' | 'listen' | 'limits' | 'identity' | 'dnsResolver' | 'maskingKeySet'>> & {
  upstreamUrl?: string | URL;
  /** IPv4[:port], as SKILLGATE_DNS_RESOLVER gives it. */
  dnsResolver?: string;
  listen?: Partial<ListenConfig>;
  limits?: Partial<LimitsConfig>;
  identity?: Partial<SkillIdentity>;
};

/**
 * The largest Message Batch this process can inspect: policy reads, and the record masks, every
 * request in it, which takes about ten times the batch's size while it is read (measured: a 16 MB
 * batch of PII-dense requests grew the full sidecar by ~190 MB); a sixteenth of the heap's limit,
 * at most the API's own 256 MB. Under the chart's default 512Mi (a 355 MB heap limit) 22 MB.
 */
export function inspectableBatchBytes(heapLimitBytes = getHeapStatistics().heap_size_limit): number {
  return Math.min(LIMITS.batches, Math.floor(heapLimitBytes / 16 / (1024 * 1024)) * 1024 * 1024);
}

const DEFAULT_LIMITS: LimitsConfig = {
  messagesBodyBytes: LIMITS.messages,
  batchBodyBytes: inspectableBatchBytes(),
  fileBodyBytes: LIMITS.files,
  headerBytes: 64 * 1024,
  idleTimeoutMs: 10 * 60_000,
  upstreamHeadersTimeoutMs: 10 * 60_000,
  recordBodyBytes: 4 * 1024 * 1024,
  egressHeadersTimeoutMs: 30_000,
  egressMaxConnections: 1024,
};

/** Build the config from explicit input (tests, dev) layered over defaults. */
export function resolveConfig(input: SidecarConfigInput = {}): SidecarConfig {
  const upstreamRaw = input.upstreamUrl ?? 'https://api.anthropic.com';
  let upstreamUrl: URL;
  try {
    upstreamUrl = upstreamRaw instanceof URL ? upstreamRaw : new URL(upstreamRaw);
  } catch {
    throw new ConfigError('upstreamUrl', `not a URL: ${String(upstreamRaw)}`);
  }
  if (upstreamUrl.protocol !== 'http:' && upstreamUrl.protocol !== 'https:') {
    throw new ConfigError('upstreamUrl', `must be http: or https:, got ${upstreamUrl.protocol}`);
  }
  let upstreamApiKey = input.upstreamApiKey;
  if (!upstreamApiKey && input.upstreamApiKeyFile) {
    try {
      upstreamApiKey = readFileSync(input.upstreamApiKeyFile, 'utf8').trim();
    } catch (err) {
      throw new ConfigError('upstreamApiKeyFile', `cannot read ${input.upstreamApiKeyFile}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    }
    if (!upstreamApiKey) throw new ConfigError('upstreamApiKeyFile', `${input.upstreamApiKeyFile} is empty`);
  }
  const listen: ListenConfig = {
    host: '127.0.0.1', claude: PORTS.claude, egress: PORTS.egress, dns: PORTS.dns,
    adminHost: '0.0.0.0', health: PORTS.health, metrics: PORTS.metrics,
    ...input.listen,
  };
  for (const key of ['claude', 'egress', 'dns', 'health', 'metrics'] as const) {
    const port = listen[key];
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new ConfigError(`listen.${key}`, `not a port: ${port}`);
  }
  let dnsResolver: SidecarConfig['dnsResolver'];
  if (input.dnsResolver !== undefined) {
    const m = /^(\d{1,3}(?:\.\d{1,3}){3})(?::(\d{1,5}))?$/.exec(input.dnsResolver);
    const port = m?.[2] === undefined ? 53 : Number(m[2]);
    if (!m || port < 1 || port > 65535) {
      throw new ConfigError('dnsResolver', `must be an IPv4 address with an optional port (SKILLGATE_DNS_RESOLVER, e.g. 10.96.0.10:53), got ${JSON.stringify(input.dnsResolver)}`);
    }
    dnsResolver = { host: m[1]!, port };
  }
  if (input.refusalsPerSecond !== undefined && !(Number.isInteger(input.refusalsPerSecond) && input.refusalsPerSecond >= 0)) {
    throw new ConfigError('refusalsPerSecond', `must be a whole number of refusals a second (SKILLGATE_REFUSALS_PER_SECOND), got ${input.refusalsPerSecond}`);
  }
  const limits: LimitsConfig = { ...DEFAULT_LIMITS, ...input.limits };
  for (const [key, value] of Object.entries(limits)) {
    if (!Number.isFinite(value) || value <= 0) throw new ConfigError(`limits.${key}`, `must be a positive number, got ${value}`);
  }
  if (input.idleSettleMs !== undefined && !(Number.isFinite(input.idleSettleMs) && input.idleSettleMs >= 0)) {
    throw new ConfigError('idleSettleMs', `must be 0 (never) or a number of milliseconds (from SKILLGATE_IDLE_SETTLE_SECONDS: seconds), got ${input.idleSettleMs}`);
  }
  // Checked here, not at the first request that needs masking (which would then fail with a 500).
  if (input.maskingKey !== undefined && Buffer.byteLength(input.maskingKey, 'utf8') < MASKING_KEY_MIN_BYTES) {
    throw new ConfigError('maskingKey', `must be at least ${MASKING_KEY_MIN_BYTES} bytes (SKILLGATE_MASKING_KEY: a long random value, the same across the installation)`);
  }
  const identity: SkillIdentity = {
    namespace: 'local', serviceAccount: 'default', pod: 'local', skill: 'local-skill', owner: 'developer@localhost',
    ...input.identity,
  };
  return {
    upstreamUrl,
    upstreamApiKey,
    upstreamApiKeyFile: input.upstreamApiKeyFile,
    listen,
    limits,
    identity,
    policyFile: input.policyFile,
    redisUrl: input.redisUrl,
    recordDir: input.recordDir ?? '.skillgate/records',
    maskingKey: input.maskingKey ?? DEV_MASKING_KEY,
    maskingKeySet: input.maskingKey !== undefined,
    egressAllowHosts: input.egressAllowHosts ?? [],
    dnsResolver,
    resolvConfFile: input.resolvConfFile ?? '/etc/resolv.conf',
    refusalsPerSecond: input.refusalsPerSecond ?? 200,
    logLevel: input.logLevel ?? 'info',
    idleSettleMs: input.idleSettleMs ?? 300_000,
  };
}

/** Read a config file (JSON or YAML) into input form. */
export function readConfigFile(path: string): SidecarConfigInput {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError('--config', `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  let parsed: unknown;
  try {
    parsed = path.endsWith('.json') ? JSON.parse(text) : yaml().parse(text);
  } catch (err) {
    // The YAML parser draws the offending line under its message: the first line says it.
    throw new ConfigError('--config', `${path} is not valid ${path.endsWith('.json') ? 'JSON' : 'YAML'}: ${(err as Error).message.split('\n')[0]!.replace(/:$/, '')}`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new ConfigError('--config', `${path} does not hold an object`);
  // A misspelt field would otherwise leave its default in force without a word (an upstreamUrll
  // sends the skill to api.anthropic.com): every field, at every level, must be one we read.
  const problems = fileProblems(parsed as Record<string, unknown>);
  if (problems.length) throw new ConfigError('--config', `${path}: ${problems.join('; ')}`);
  return parsed as SidecarConfigInput;
}

/** The kind of value a config file field takes, or the fields of a section. */
type FieldKind = 'string' | 'number' | 'strings' | { readonly [field: string]: FieldKind };

// The fields a config file may set. Typed against the config's own interfaces, so a field added
// there does not compile until it is added here.
const LISTEN_FIELDS: Record<keyof ListenConfig, FieldKind> = {
  host: 'string', claude: 'number', egress: 'number', dns: 'number', adminHost: 'string', health: 'number', metrics: 'number',
};
const LIMITS_FIELDS: Record<keyof LimitsConfig, FieldKind> = {
  messagesBodyBytes: 'number', batchBodyBytes: 'number', fileBodyBytes: 'number', headerBytes: 'number',
  idleTimeoutMs: 'number', upstreamHeadersTimeoutMs: 'number', recordBodyBytes: 'number',
  egressHeadersTimeoutMs: 'number', egressMaxConnections: 'number',
};
const IDENTITY_FIELDS: Record<keyof SkillIdentity, FieldKind> = {
  namespace: 'string', serviceAccount: 'string', pod: 'string', podUid: 'string', skill: 'string', owner: 'string',
};
const FILE_FIELDS: Record<keyof SidecarConfigInput, FieldKind> = {
  upstreamUrl: 'string', upstreamApiKey: 'string', upstreamApiKeyFile: 'string',
  listen: LISTEN_FIELDS, limits: LIMITS_FIELDS, identity: IDENTITY_FIELDS,
  policyFile: 'string', redisUrl: 'string', recordDir: 'string', maskingKey: 'string', egressAllowHosts: 'strings',
  dnsResolver: 'string', resolvConfFile: 'string', refusalsPerSecond: 'number', logLevel: 'string', idleSettleMs: 'number',
};

/** What is wrong with a config file's fields: unknown ones (with the known one each resembles) and values of the wrong kind. */
function fileProblems(parsed: Record<string, unknown>): string[] {
  const problems: string[] = [];
  const check = (value: Record<string, unknown>, fields: { readonly [field: string]: FieldKind }, at: string): void => {
    for (const [key, v] of Object.entries(value)) {
      const name = at + key;
      const kind = Object.hasOwn(fields, key) ? fields[key]! : undefined;
      if (kind === undefined) {
        const like = resembling(key, knownFields(fields, at));
        problems.push(`unknown field ${name}${like ? ` (did you mean ${like}?)` : ''}`);
      } else if (typeof kind === 'object') {
        if (v === null || typeof v !== 'object' || Array.isArray(v)) problems.push(`${name} must be a mapping of ${Object.keys(kind).join(', ')}, got ${describe(v)}`);
        else check(v as Record<string, unknown>, kind, `${name}.`);
      } else if (kind === 'strings' ? !(Array.isArray(v) && v.every((s) => typeof s === 'string')) : typeof v !== kind) {
        problems.push(`${name} must be ${kind === 'strings' ? 'a list of strings' : `a ${kind}`}, got ${describe(v)}`);
      }
    }
  };
  check(parsed, FILE_FIELDS, '');
  return problems;
}

/** The names a field in a section may have meant: the section's own and, at the top, the sections' fields (`health` → listen.health). */
function knownFields(fields: { readonly [field: string]: FieldKind }, at: string): string[] {
  const out: string[] = [];
  for (const [key, kind] of Object.entries(fields)) {
    out.push(at + key);
    if (at === '' && typeof kind === 'object') for (const inner of Object.keys(kind)) out.push(`${key}.${inner}`);
  }
  return out;
}

/**
 * The known field a name most likely meant, if one is close: the same letters but for case,
 * separators or a SKILLGATE_ prefix (upstream_url, SKILLGATE_UPSTREAM_URL), a few typing slips
 * (upstreamUrll), or the start of one (egressAllow).
 */
export function resembling(name: string, known: readonly string[]): string | undefined {
  const norm = (s: string): string => s.toLowerCase().replace(/[^a-z0-9]/g, '').replace(/^skillgate/, '');
  const want = norm(name);
  if (!want) return undefined;
  let best: { field: string; distance: number } | undefined;
  for (const field of known) {
    const leaf = norm(field.slice(field.lastIndexOf('.') + 1));
    // A field of this level wins a tie with one of a section's.
    const distance = editDistance(want, leaf) + (field.includes('.') && !name.includes('.') ? 0.5 : 0);
    const close = Math.floor(distance) <= Math.max(1, Math.floor(want.length / 4)) || (Math.min(want.length, leaf.length) >= 4 && (leaf.startsWith(want) || want.startsWith(leaf)));
    if (close && (!best || distance < best.distance)) best = { field, distance };
  }
  return best?.field;
}

/** Levenshtein distance, with a transposition counted as one slip. */
function editDistance(a: string, b: string): number {
  const rows: number[][] = [];
  for (let i = 0; i <= a.length; i++) {
    rows.push([i]);
    for (let j = 1; j <= b.length; j++) {
      if (i === 0) { rows[0]!.push(j); continue; }
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min(rows[i - 1]![j]! + 1, rows[i]![j - 1]! + 1, rows[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, rows[i - 2]![j - 2]! + 1);
      rows[i]!.push(d);
    }
  }
  return rows[a.length]![b.length]!;
}

/** A value's kind, for a message (never the value: it may be a key). */
function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  return `a ${typeof value}`;
}

/** The environment variables of CONTRACT.md, layered over a file's values. */
export function configFromEnv(env: NodeJS.ProcessEnv, base: SidecarConfigInput = {}): SidecarConfigInput {
  const out: SidecarConfigInput = { ...base, identity: { ...base.identity } };
  if (env.SKILLGATE_UPSTREAM_URL) out.upstreamUrl = env.SKILLGATE_UPSTREAM_URL;
  if (env.SKILLGATE_UPSTREAM_API_KEY_FILE) out.upstreamApiKeyFile = env.SKILLGATE_UPSTREAM_API_KEY_FILE;
  if (env.REDIS_URL) out.redisUrl = env.REDIS_URL;
  if (env.SKILLGATE_RECORD_DIR) out.recordDir = env.SKILLGATE_RECORD_DIR;
  if (env.SKILLGATE_POLICY_FILE) out.policyFile = env.SKILLGATE_POLICY_FILE;
  if (env.SKILLGATE_LOG_LEVEL) out.logLevel = env.SKILLGATE_LOG_LEVEL;
  if (env.SKILLGATE_MASKING_KEY) out.maskingKey = env.SKILLGATE_MASKING_KEY;
  if (env.SKILLGATE_IDLE_SETTLE_SECONDS) out.idleSettleMs = Number(env.SKILLGATE_IDLE_SETTLE_SECONDS) * 1000;
  if (env.SKILLGATE_DNS_RESOLVER) out.dnsResolver = env.SKILLGATE_DNS_RESOLVER;
  if (env.SKILLGATE_REFUSALS_PER_SECOND) out.refusalsPerSecond = Number(env.SKILLGATE_REFUSALS_PER_SECOND);
  if (env.SKILLGATE_EGRESS_ALLOW) out.egressAllowHosts = env.SKILLGATE_EGRESS_ALLOW.split(',').map((s) => s.trim()).filter(Boolean);
  const id = out.identity!;
  const namespace = env.SKILLGATE_POD_NAMESPACE ?? env.SKILLGATE_NAMESPACE;
  if (namespace) id.namespace = namespace;
  if (env.SKILLGATE_SERVICE_ACCOUNT) id.serviceAccount = env.SKILLGATE_SERVICE_ACCOUNT;
  if (env.SKILLGATE_POD_NAME) id.pod = env.SKILLGATE_POD_NAME;
  if (env.SKILLGATE_POD_UID) id.podUid = env.SKILLGATE_POD_UID;
  if (env.SKILLGATE_SKILL) id.skill = env.SKILLGATE_SKILL;
  if (env.SKILLGATE_OWNER) id.owner = env.SKILLGATE_OWNER;
  return out;
}
