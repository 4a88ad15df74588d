// The policy a sidecar enforces, kept live. In cluster mode: list + watch the SkillPolicies of the
// sidecar's namespace and swap the EffectivePolicy atomically (one reference assignment) on every
// change, so `kubectl apply` reaches a running sidecar in well under 2 s. In local mode: the
// SKILLGATE_POLICY_FILE (YAML or JSON, one SkillPolicy or a list), re-read when it changes.
// A policy that cannot be loaded NEVER leaves the sidecar open: the last good version of that
// policy stays in force; when there is none, every request is refused naming the policy. Before the
// first list completes, requests are refused too (fail closed). Both cases show in metrics and logs.
//
// RBAC a sidecar needs (its own ServiceAccount, namespace-scoped Role):
//   skillpolicies:  get, list, watch
//   skillapprovals: create, get, list, watch;  skillapprovals/status: get, patch
//
// Heartbeats: each sidecar reports the policy generations it runs in Redis, one sorted set per
// policy `${prefix}policy-sidecars:{namespace}/{name}`, member `${pod}@${generation}`, score = expiry
// (ms since epoch, now + 30 s), refreshed every 10 s. The controller drops expired members and counts
// those at the policy's current generation into status.sidecars.
import { readFileSync, watch as watchFile, type FSWatcher } from 'node:fs';
import { customObjectPath, type KubeClient } from './kube-client.js';
import { GROUP, VERSION, type SkillIdentity, type SkillPolicy } from '@skillgate/api';
import { NO_POLICY, combine, compilePolicy, policyName, selects, PolicyInvalidError, type CompiledPolicy, type EffectivePolicy } from '@skillgate/policy';
import { GatewayError, codes } from '@skillgate/wire';
import { parseJsonText, yaml } from '../yaml.js';
import { Counter, Gauge, type Registry } from '../prom.js';
import type { RedisConnection } from '@skillgate/resp';
import type { Logger } from '../log.js';
import { errMessage } from './kube-errors.js';

export const PLURAL_POLICIES = 'skillpolicies';
export const HEARTBEAT_TTL_MS = 30_000;
export const HEARTBEAT_INTERVAL_MS = 10_000;

export interface PolicyState {
  effective: EffectivePolicy;
  /** Set when the sidecar cannot vouch for its policy: every request is refused with it. */
  refusal?: GatewayError;
}

export interface PolicyFeed {
  current(): PolicyState;
  /** Called after every swap (tests wait on it; the egress allowlist re-reads). */
  onChange(listener: (state: PolicyState) => void): () => void;
  close(): void;
}

export interface PolicyFeedMetrics {
  loadErrors: Counter<'policy'>;
  broken: Gauge;
  generation: Gauge<'policy'>;
}

export function policyFeedMetrics(registry?: Registry): PolicyFeedMetrics {
  const registers = registry ? [registry] : [];
  return {
    loadErrors: new Counter({ name: 'skillgate_sidecar_policy_load_errors_total', help: 'SkillPolicy versions the sidecar could not load (last good kept, or requests refused).', labelNames: ['policy'] as const, registers }),
    broken: new Gauge({ name: 'skillgate_sidecar_policy_refusing', help: '1 while the sidecar refuses requests because a selected policy was never loadable or policies are not loaded yet.', registers }),
    generation: new Gauge({ name: 'skillgate_sidecar_policy_generation', help: 'Generation of each SkillPolicy the sidecar enforces.', labelNames: ['policy'] as const, registers }),
  };
}

/**
 * Keeps per-policy last-good compiled versions and derives the state. Pure bookkeeping shared by the
 * cluster and file feeds.
 */
export class PolicyBook {
  private readonly good = new Map<string, CompiledPolicy>();
  private readonly broken = new Map<string, string>(); // name → problems, when no good version exists
  private ready = false;
  private state: PolicyState;
  private readonly listeners = new Set<(s: PolicyState) => void>();

  constructor(private readonly identity: SkillIdentity, private readonly podLabels: Record<string, string>, private readonly log: Logger, private readonly metrics: PolicyFeedMetrics) {
    this.state = { effective: NO_POLICY, refusal: new GatewayError(codes.policyDenied, 'permission_error', 'skillgate has not loaded the SkillPolicies for this skill yet; retry in a few seconds.', { headers: { 'x-should-retry': 'true' } }) };
    this.metrics.broken.set(1);
  }

  current(): PolicyState { return this.state; }

  onChange(listener: (s: PolicyState) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Replace the whole set (after a list). */
  reset(policies: readonly SkillPolicy[]): void {
    const names = new Set(policies.map(policyName));
    for (const n of [...this.good.keys()]) if (!names.has(n)) this.good.delete(n);
    for (const n of [...this.broken.keys()]) if (!names.has(n)) this.broken.delete(n);
    for (const p of policies) this.load(p);
    this.ready = true;
    this.publish();
  }

  upsert(p: SkillPolicy): void { this.load(p); this.publish(); }

  /** A source that could not even be parsed: refuse unless a good version of it exists. */
  sourceBroken(name: string, problems: string): void {
    this.metrics.loadErrors.labels(name).inc();
    if (this.good.size === 0 && !this.ready) {
      this.broken.set(name, problems);
      this.ready = true;
      this.publish();
    }
  }

  remove(p: SkillPolicy): void {
    const n = policyName(p);
    this.good.delete(n);
    this.broken.delete(n);
    this.metrics.generation.remove(n);
    this.publish();
  }

  /** name → generation of every policy in force (for heartbeats). */
  generations(): Map<string, number> {
    return new Map([...this.good.values()].map((c) => [c.name, c.generation]));
  }

  private load(p: SkillPolicy): void {
    const n = policyName(p);
    if (!selects(p, this.identity, this.podLabels)) {
      this.good.delete(n);
      this.broken.delete(n);
      return;
    }
    try {
      const compiled = compilePolicy(p);
      this.good.set(n, compiled);
      this.broken.delete(n);
      this.metrics.generation.labels(n).set(compiled.generation);
    } catch (err) {
      const problems = err instanceof PolicyInvalidError ? err.problems.join('; ') : errMessage(err);
      this.metrics.loadErrors.labels(n).inc();
      if (this.good.has(n)) {
        this.log.error({ policy: n, generation: p.metadata.generation, problems }, 'SkillPolicy cannot be loaded; keeping its last good generation');
      } else {
        this.broken.set(n, problems);
        this.log.error({ policy: n, generation: p.metadata.generation, problems }, 'SkillPolicy cannot be loaded and has no good generation; refusing requests');
      }
    }
  }

  private publish(): void {
    if (!this.ready) return;
    let refusal: GatewayError | undefined;
    const firstBroken = this.broken.entries().next();
    if (!firstBroken.done) {
      const [n, problems] = firstBroken.value;
      refusal = new GatewayError(codes.policyDenied, 'permission_error', `SkillPolicy ${n} cannot be loaded (${problems}); skillgate refuses requests until it is fixed.`);
    }
    const effective = combine([...this.good.values()]);
    this.state = refusal ? { effective, refusal } : { effective };
    this.metrics.broken.set(refusal ? 1 : 0);
    for (const l of this.listeners) l(this.state);
  }
}

export interface ClusterPolicyFeedOptions {
  kube: KubeClient;
  namespace: string;
  identity: SkillIdentity;
  podLabels?: Record<string, string>;
  log: Logger;
  registry?: Registry;
  /** Report running generations for SkillPolicy status.sidecars. */
  heartbeat?: { redis: RedisConnection; prefix: string; pod: string; intervalMs?: number };
}

/** Resolves after the first list (or its failure: the feed keeps retrying and refuses meanwhile). */
export async function clusterPolicyFeed(opts: ClusterPolicyFeedOptions): Promise<PolicyFeed> {
  const book = new PolicyBook(opts.identity, opts.podLabels ?? {}, opts.log, policyFeedMetrics(opts.registry));
  const path = customObjectPath(GROUP, VERSION, opts.namespace, PLURAL_POLICIES);
  let closed = false;
  let watching: AbortController | undefined;
  let retry: NodeJS.Timeout | undefined;
  let failures = 0;

  async function listAndWatch(): Promise<void> {
    if (closed) return;
    try {
      const list = await opts.kube.request<{ items: SkillPolicy[]; metadata: { resourceVersion: string } }>('GET', path);
      book.reset(list.items.map((p) => ({ ...p, metadata: { ...p.metadata, namespace: p.metadata.namespace ?? opts.namespace } })));
      failures = 0;
      watching = await opts.kube.watch(path,
        { resourceVersion: list.metadata.resourceVersion, allowWatchBookmarks: true },
        (type, obj: SkillPolicy) => {
          if (type === 'ADDED' || type === 'MODIFIED') book.upsert(obj);
          else if (type === 'DELETED') book.remove(obj);
        },
        (err) => {
          watching = undefined;
          if (closed) return;
          if (err) opts.log.warn({ err: errMessage(err) }, 'SkillPolicy watch ended; re-listing');
          schedule(err ? 500 : 0);
        });
    } catch (err) {
      failures++;
      opts.log.error({ err: errMessage(err), failures }, 'cannot list SkillPolicies; keeping the policies in force (refusing if none were ever loaded)');
      schedule(Math.min(500 * 2 ** failures, 10_000));
    }
  }

  function schedule(ms: number): void {
    if (closed || retry) return;
    retry = setTimeout(() => { retry = undefined; void listAndWatch(); }, ms);
    retry.unref();
  }

  await listAndWatch();
  const stopHeartbeat = opts.heartbeat ? startHeartbeat(book, opts.namespace, opts.heartbeat, opts.log) : () => undefined;
  return {
    current: () => book.current(),
    onChange: (l) => book.onChange(l),
    close() {
      closed = true;
      if (retry) clearTimeout(retry);
      watching?.abort();
      stopHeartbeat();
    },
  };
}

/** Redis key of a policy's sidecar heartbeats (sorted set; see the module comment). */
export function heartbeatKey(prefix: string, policy: string): string {
  return `${prefix}policy-sidecars:${policy}`;
}

function startHeartbeat(book: PolicyBook, _namespace: string, hb: NonNullable<ClusterPolicyFeedOptions['heartbeat']>, log: Logger): () => void {
  const beat = (): void => {
    const expiry = Date.now() + HEARTBEAT_TTL_MS;
    const commands: Array<Array<string | number>> = [];
    for (const [name, gen] of book.generations()) {
      const key = heartbeatKey(hb.prefix, name);
      commands.push(['ZADD', key, expiry, `${hb.pod}@${gen}`], ['PEXPIRE', key, HEARTBEAT_TTL_MS * 2]);
    }
    hb.redis.transaction(commands).catch((err: unknown) => log.warn({ err: errMessage(err) }, 'policy heartbeat failed'));
  };
  beat();
  const off = book.onChange(beat);
  const timer = setInterval(beat, hb.intervalMs ?? HEARTBEAT_INTERVAL_MS);
  timer.unref();
  return () => { clearInterval(timer); off(); };
}

/** Parse a policy file: YAML or JSON, one SkillPolicy, several documents, or a List/array. */
export function parsePolicyFile(text: string, namespace: string): SkillPolicy[] {
  const out: SkillPolicy[] = [];
  const add = (v: unknown): void => {
    if (Array.isArray(v)) { v.forEach(add); return; }
    if (!v || typeof v !== 'object') return;
    const o = v as { kind?: string; items?: unknown[]; metadata?: { name?: string; namespace?: string } };
    if (o.kind === 'List' || Array.isArray(o.items)) { (o.items ?? []).forEach(add); return; }
    if (o.kind !== 'SkillPolicy') throw new Error(`expected kind SkillPolicy, got ${String(o.kind)}`);
    if (!o.metadata?.name) throw new Error('a SkillPolicy needs metadata.name');
    const p = v as SkillPolicy;
    out.push({ ...p, metadata: { generation: 1, ...p.metadata, namespace: p.metadata.namespace ?? namespace } });
  };
  // JSON (what the API server hands a sidecar in a pod) needs no YAML parser (yaml.ts: ~4.5 MB).
  const json = parseJsonText(text);
  if (json !== undefined) {
    add(json);
    return out;
  }
  for (const doc of yaml().parseAllDocuments(text)) {
    if (doc.errors.length) throw new Error(doc.errors[0]!.message);
    add(doc.toJS());
  }
  return out;
}

export interface FilePolicyFeedOptions {
  file: string;
  identity: SkillIdentity;
  podLabels?: Record<string, string>;
  log: Logger;
  registry?: Registry;
}

/**
 * Local mode. The file is re-read on change (fs.watch on its directory, so editors that replace
 * the file are seen). An unreadable or invalid file keeps the last good policies; a file that was
 * never good refuses requests.
 */
export function filePolicyFeed(opts: FilePolicyFeedOptions): PolicyFeed {
  const book = new PolicyBook(opts.identity, opts.podLabels ?? {}, opts.log, policyFeedMetrics(opts.registry));
  let generation = 0;
  let lastText: string | undefined;
  const load = (): void => {
    let text: string;
    try {
      text = readFileSync(opts.file, 'utf8');
    } catch (err) {
      opts.log.error({ file: opts.file, err: errMessage(err) }, 'cannot read the policy file; keeping the policies in force');
      return;
    }
    if (text === lastText) return;
    lastText = text;
    generation++;
    try {
      const policies = parsePolicyFile(text, opts.identity.namespace).map((p) => ({ ...p, metadata: { ...p.metadata, generation } }));
      book.reset(policies);
      opts.log.info({ file: opts.file, policies: book.current().effective.policies }, 'policy file loaded');
    } catch (err) {
      opts.log.error({ file: opts.file, err: errMessage(err) }, 'cannot parse the policy file; keeping the policies in force');
      book.sourceBroken(`file ${opts.file}`, errMessage(err));
    }
  };
  load();
  let watcher: FSWatcher | undefined;
  let debounce: NodeJS.Timeout | undefined;
  try {
    const dir = opts.file.replace(/\/[^/]*$/, '') || '.';
    const base = opts.file.slice(dir.length + 1);
    watcher = watchFile(dir, (_event, name) => {
      if (name && name !== base) return;
      if (debounce) clearTimeout(debounce);
      debounce = setTimeout(load, 50);
    });
    watcher.unref();
  } catch (err) {
    opts.log.warn({ file: opts.file, err: errMessage(err) }, 'cannot watch the policy file; changes need a restart');
  }
  return {
    current: () => book.current(),
    onChange: (l) => book.onChange(l),
    close() { watcher?.close(); if (debounce) clearTimeout(debounce); },
  };
}
