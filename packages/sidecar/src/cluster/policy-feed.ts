// The policy a sidecar enforces, kept live. In cluster mode: list + watch the SkillPolicies of the
// sidecar's namespace and swap the EffectivePolicy atomically (one reference assignment) on every
// change, so `kubectl apply` reaches a running sidecar in well under 2 s. In local mode: the
// SKILLGATE_POLICY_FILE (YAML or JSON, one SkillPolicy or a list), re-read when it changes; at
// start-up a file that cannot be read or parsed, or holds no SkillPolicy, is the sidecar's
// configuration error (PolicyFileError), never a sidecar that starts and refuses everything.
// A policy that cannot be loaded NEVER leaves the sidecar open: the last good version of that
// policy stays in force; when there is none, every request is refused naming the policy. Before the
// first list completes, requests are refused too (fail closed). Both cases show in metrics and logs,
// and a policy file whose latest version did not load in /readyz too, until one does.
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
/** The cluster feed's source, as the PolicyBook names it while it cannot be listed. */
const LIST_SOURCE = 'the SkillPolicy list';
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
  /** Why the feed's latest version of the policies did not load, for /readyz (empty: it did). */
  readiness?(): string[];
  close(): void;
}

export interface PolicyFeedMetrics {
  loadErrors: Counter<'policy'>;
  broken: Gauge;
  reloadFailing: Gauge;
  generation: Gauge<'policy'>;
}

export function policyFeedMetrics(registry?: Registry): PolicyFeedMetrics {
  const registers = registry ? [registry] : [];
  return {
    loadErrors: new Counter({ name: 'skillgate_sidecar_policy_load_errors_total', help: 'SkillPolicy versions the sidecar could not load (last good kept, or requests refused).', labelNames: ['policy'] as const, registers }),
    broken: new Gauge({ name: 'skillgate_sidecar_policy_refusing', help: '1 while the sidecar refuses requests because a selected policy was never loadable or policies are not loaded yet.', registers }),
    reloadFailing: new Gauge({ name: 'skillgate_sidecar_policy_reload_failing', help: '1 while the latest version of the policy source (the policy file; the SkillPolicy list) or of a SkillPolicy in it could not be loaded: the sidecar keeps the policies it loaded before in force (or refuses, if it never loaded them).', registers }),
    generation: new Gauge({ name: 'skillgate_sidecar_policy_generation', help: 'Generation of each SkillPolicy the sidecar enforces.', labelNames: ['policy'] as const, registers }),
  };
}

/**
 * Keeps per-policy last-good compiled versions and derives the state. Pure bookkeeping shared by the
 * cluster and file feeds. It owns skillgate_sidecar_policy_reload_failing: 1 while the latest
 * version of a selected policy, or of the source itself (the file, the list), did not load —
 * whether a good version stays in force or not — and 0 once every one's latest version loads (or
 * the failing one is deleted, or no longer selects this skill).
 */
export class PolicyBook {
  private readonly good = new Map<string, CompiledPolicy>();
  private readonly broken = new Map<string, string>(); // name → problems, when no good version exists
  private readonly failing = new Map<string, string>(); // policy or source name → why its latest version did not load
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

  /** Replace the whole set (after a list). Returns what kept a selected policy from loading, one line each. */
  reset(policies: readonly SkillPolicy[]): string[] {
    const names = new Set(policies.map(policyName));
    for (const n of [...this.good.keys()]) if (!names.has(n)) this.good.delete(n);
    for (const n of [...this.broken.keys()]) if (!names.has(n)) this.broken.delete(n);
    // Gone from the set, or the source itself that failed before: this version supersedes them.
    for (const n of [...this.failing.keys()]) if (!names.has(n)) this.loaded(n, undefined);
    const problems: string[] = [];
    for (const p of policies) {
      const problem = this.load(p);
      if (problem) problems.push(`SkillPolicy ${policyName(p)} cannot be loaded (${problem})`);
    }
    this.ready = true;
    this.publish();
    return problems;
  }

  upsert(p: SkillPolicy): void { this.load(p); this.publish(); }

  /** A source that could not be read or parsed: refuse unless a good version of it exists. */
  sourceBroken(name: string, problems: string): void {
    this.metrics.loadErrors.labels(name).inc();
    this.loaded(name, problems);
    if (this.good.size === 0 && !this.ready) {
      this.broken.set(name, problems);
      this.ready = true;
      this.publish();
    }
  }

  /**
   * A source that could not be listed (the API server did not answer): what is in force stays —
   * refusing, as before the first list, when nothing was ever loaded — and it counts as failing
   * until a list loads (reset).
   */
  sourceUnavailable(name: string, problems: string): void {
    this.loaded(name, problems);
  }

  /**
   * A source readable again, unchanged since it last loaded: what that load left failing still
   * fails (its policies'), the source itself no longer does.
   */
  sourceUnchanged(name: string): void {
    this.loaded(name, undefined);
  }

  remove(p: SkillPolicy): void {
    const n = policyName(p);
    this.good.delete(n);
    this.broken.delete(n);
    this.loaded(n, undefined);
    this.metrics.generation.remove(n);
    this.publish();
  }

  /** name → generation of every policy in force (for heartbeats). */
  generations(): Map<string, number> {
    return new Map([...this.good.values()].map((c) => [c.name, c.generation]));
  }

  /** Compile one policy when it selects this skill; the problems when it cannot be. */
  private load(p: SkillPolicy): string | undefined {
    const n = policyName(p);
    if (!selects(p, this.identity, this.podLabels)) {
      this.good.delete(n);
      this.broken.delete(n);
      this.loaded(n, undefined);
      return undefined;
    }
    try {
      const compiled = compilePolicy(p);
      this.good.set(n, compiled);
      this.broken.delete(n);
      this.loaded(n, undefined);
      this.metrics.generation.labels(n).set(compiled.generation);
      return undefined;
    } catch (err) {
      const problems = err instanceof PolicyInvalidError ? err.problems.join('; ') : errMessage(err);
      this.metrics.loadErrors.labels(n).inc();
      this.loaded(n, problems);
      if (this.good.has(n)) {
        this.log.error({ policy: n, generation: p.metadata.generation, problems }, 'SkillPolicy cannot be loaded; keeping its last good generation');
      } else {
        this.broken.set(n, problems);
        this.log.error({ policy: n, generation: p.metadata.generation, problems }, 'SkillPolicy cannot be loaded and has no good generation; refusing requests');
      }
      return problems;
    }
  }

  /** Whether the latest version of a policy or source loaded (problems: why not), and the gauge that says so. */
  private loaded(name: string, problems: string | undefined): void {
    if (problems === undefined) this.failing.delete(name);
    else this.failing.set(name, problems);
    this.metrics.reloadFailing.set(this.failing.size > 0 ? 1 : 0);
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
  const metrics = policyFeedMetrics(opts.registry);
  const book = new PolicyBook(opts.identity, opts.podLabels ?? {}, opts.log, metrics);
  const path = customObjectPath(GROUP, VERSION, opts.namespace, PLURAL_POLICIES);
  let closed = false;
  let watching: AbortController | undefined;
  let retry: NodeJS.Timeout | undefined;
  let failures = 0;

  async function listAndWatch(): Promise<void> {
    if (closed) return;
    try {
      const list = await opts.kube.request<{ items: SkillPolicy[]; metadata: { resourceVersion: string } }>('GET', path);
      // What does not load is logged, counted and shown in reload_failing by the book.
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
      book.sourceUnavailable(LIST_SOURCE, errMessage(err));
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
  /**
   * Throw a PolicyFileError when the file cannot be read or parsed, or holds no SkillPolicy, at
   * start (the sidecar's start-up: a configuration error) instead of refusing every request until
   * it loads.
   */
  failAtStart?: boolean;
}

/** A policy file that cannot be used at all: unreadable, not YAML/JSON SkillPolicies, or none in it. */
export class PolicyFileError extends Error {
  /** `reason` names the file. */
  constructor(readonly file: string, readonly reason: string) {
    super(reason);
    this.name = 'PolicyFileError';
  }
}

/**
 * Local mode. The file is re-read on change (fs.watch on its directory, so editors that replace
 * the file are seen). An unreadable or invalid file keeps the last good policies, and says so in
 * readiness() and skillgate_sidecar_policy_reload_failing until a version loads; a file that was
 * never good refuses requests (or, with failAtStart, throws at start).
 */
export function filePolicyFeed(opts: FilePolicyFeedOptions): PolicyFeed {
  const metrics = policyFeedMetrics(opts.registry);
  const book = new PolicyBook(opts.identity, opts.podLabels ?? {}, opts.log, metrics);
  const source = `file ${opts.file}`;
  let generation = 0;
  let lastText: string | undefined;
  let starting = true;
  /** Why the file's text as last read did not load (undefined: it did). */
  let textProblem: string | undefined;
  /** The file's text as last read is no SkillPolicy file at all (textProblem says why). */
  let textUnusable = false;
  /** Why the latest attempt did not load, for readiness(): textProblem, or the file could not be read at all. */
  let problem: string | undefined;
  const failing = (why: string | undefined): void => { problem = why; };
  /** Read and apply the file; the reason when the file itself is unusable (not a policy that fails to compile). */
  const load = (): string | undefined => {
    // At a start that fails, the caller's error says it all: no log line that policies are kept.
    const quiet = starting && opts.failAtStart;
    let text: string;
    try {
      text = readFileSync(opts.file, 'utf8');
    } catch (err) {
      const why = `cannot read ${opts.file} (${(err as Error).message.replace(/, \w+ '.*'$/, '')})`;
      if (!quiet) opts.log.error({ file: opts.file, err: errMessage(err) }, 'cannot read the policy file; keeping the policies in force');
      book.sourceBroken(source, why);
      failing(why);
      return why;
    }
    if (text === lastText) {
      // Readable again, unchanged: as it was.
      if (!textUnusable) book.sourceUnchanged(source);
      failing(textProblem);
      return undefined;
    }
    lastText = text;
    generation++;
    let policies: SkillPolicy[] = [];
    let why: string | undefined;
    try {
      policies = parsePolicyFile(text, opts.identity.namespace).map((p) => ({ ...p, metadata: { ...p.metadata, generation } }));
    } catch (err) {
      why = `${opts.file} is not a SkillPolicy file: ${errMessage(err).split('\n')[0]!.replace(/:$/, '')}`;
    }
    // An empty file (or one of comments, an empty list) is no policy: read as one, it would let
    // every request through, and a truncated file would read so while an editor saves it.
    if (!why && policies.length === 0) why = `${opts.file} holds no SkillPolicy (to run without a policy, set no policy file)`;
    if (why) {
      if (!quiet) opts.log.error({ file: opts.file, err: why }, 'cannot parse the policy file; keeping the policies in force');
      book.sourceBroken(source, why);
      textUnusable = true;
      failing(textProblem = why);
      return why;
    }
    textUnusable = false;
    const problems = book.reset(policies);
    const enforced = book.current().effective.policies;
    opts.log.info({ file: opts.file, policies: enforced }, 'policy file loaded');
    if (enforced.length === 0 && problems.length === 0) {
      // Not an error (a file may serve several skills), but nothing restricts this one.
      opts.log.warn({ file: opts.file, skill: `${opts.identity.namespace}/${opts.identity.skill}`, policies: policies.map(policyName) },
        'no SkillPolicy in the policy file selects this skill (namespace, spec.selector): no policy restricts its requests');
    }
    failing(textProblem = problems.length ? `${opts.file}: ${problems.join('; ')}` : undefined);
    return undefined;
  };
  const unusable = load();
  starting = false;
  if (unusable && opts.failAtStart) throw new PolicyFileError(opts.file, unusable);
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
    readiness: () => problem
      ? [`policy file: ${problem}; ${book.current().refusal ? 'refusing every request' : 'the policies loaded before stay in force'} until it loads`]
      : [],
    close() { watcher?.close(); if (debounce) clearTimeout(debounce); },
  };
}
