// Chooses the sidecar's ports for a deployment from its config and environment — the only place
// that knows every implementation:
//   local (make dev, no SKILLGATE_CONTROLLER_URL): fixed identity, no locks, the policy file if any
//     (one that cannot be read or parsed at start is a ConfigError), records in the local file
//     store (or Redis Streams when REDIS_URL is set), rate limits in Redis when REDIS_URL is set,
//     else counted in this process (memory-rate-limit.ts);
//   cluster (SKILLGATE_CONTROLLER_URL set): workload token and upstream credential (and the Redis
//     URL, when the injector gave none) from the controller, locks from Redis, SkillPolicies
//     watched in the pod's namespace, approvals as SkillApproval objects, rate limits shared
//     through Redis.
// Record-mode masking is always on: records hold masked copies. Rewriting modes follow the policy.
// Cluster-only modules (the Kubernetes client, the lock feed, the policy guard) are imported on
// demand, so a local sidecar does not pay their start-up time and memory; the Redis connection
// (@skillgate/resp) is small and made only when there is a Redis URL.
import type { KubeClient } from './cluster/kube-client.js';
import type { ClusterIdentity } from './cluster/identity.js';
import { RedisConnection } from '@skillgate/resp';
import type { Finding } from '@skillgate/masking';
import { openRecorder, recordConfigFromEnv, recordSignerFor } from '@skillgate/record/open';
import { ConfigError, type SidecarConfig } from './config.js';
import { createLogger } from './log.js';
import { SidecarMetrics } from './metrics.js';
import type { SidecarPorts } from './sidecar.js';
import type { IdentitySource, LockGuard } from './ports/index.js';
import type { Logger } from './log.js';
import { readFileSync } from 'node:fs';
import { parsePodLabelsFile } from '@skillgate/api';
import { staticIdentity } from './ports/local.js';
import { recordJournal } from './record-journal.js';
import { MaskerBook, maskingVerdict } from './masking-modes.js';
import type { PolicyFeed } from './cluster/policy-feed.js';
import type { GuardEvents } from './cluster/guard.js';
import { withLogLines, type Journal, type SkillEventNote } from './ports/journal.js';
import { memoryRateLimiter } from './memory-rate-limit.js';

/** The Redis key prefix the sidecar records and reads policy state under (SKILLGATE_REDIS_PREFIX). */
export function redisPrefix(env: NodeJS.ProcessEnv): string {
  return env.SKILLGATE_REDIS_PREFIX ?? 'skillgate:';
}

export async function sidecarPorts(config: SidecarConfig, env: NodeJS.ProcessEnv): Promise<SidecarPorts> {
  const log = createLogger(config.logLevel);
  const metrics = new SidecarMetrics();
  const closers: Array<() => unknown> = [];
  const ports: SidecarPorts = { logger: log, metrics, onClose: async () => { for (const c of closers.reverse()) await c(); } };
  const prefix = redisPrefix(env);
  const cluster = Boolean(env.SKILLGATE_CONTROLLER_URL);
  const onFindings = (direction: 'request' | 'response', findings: readonly Finding[]): void => {
    for (const f of findings) metrics.findings.labels(f.type, direction).inc();
  };

  // Events about the skill outside any request go to the journal, which exists only once the
  // identity is known: queue them until then.
  let journal: Journal | undefined;
  const early: SkillEventNote[] = [];
  const skillEvent = (e: SkillEventNote): void => {
    if (journal) journal.skillEvent(e);
    else early.push(e);
  };

  // The policy file (local mode) before anything is opened: one that cannot be read or parsed is a
  // configuration error, and the start stops here, leaving nothing running (a sidecar that started
  // would refuse every request while /readyz said ready).
  let feed: PolicyFeed | undefined;
  const feeds = cluster || config.policyFile ? await import('./cluster/policy-feed.js') : undefined;
  if (!cluster && config.policyFile && feeds) {
    try {
      feed = feeds.filePolicyFeed({ file: config.policyFile, identity: config.identity, podLabels: podLabels(env, log), log, registry: metrics.registry, failAtStart: true });
    } catch (err) {
      if (err instanceof feeds.PolicyFileError) throw new ConfigError('policyFile', err.reason);
      throw err;
    }
  }

  // Identity, credential and locks.
  let identity: IdentitySource = staticIdentity(config.identity);
  let maskingKey = (): string => config.maskingKey;
  const readiness: Array<() => string[]> = [];
  // The record's checkpoint key, made first: in a cluster the token exchange has the controller
  // endorse it, and checkpoints carry the endorsement (the record's trust anchor). A cluster
  // sidecar always records to Redis, whose URL may come with its first token.
  const recordSigner = recordSignerFor(recordConfigFromEnv(env, { recordDir: config.recordDir }), cluster || Boolean(config.redisUrl));
  const clusterIdentity = cluster ? await startClusterIdentity() : undefined;
  const redisUrl = config.redisUrl ?? clusterIdentity?.redisUrl();

  // Redis for shared rate limits, tool history, policy heartbeats and lock counters.
  // One connection (packages/resp); a command waits at most 2 s for it to connect, then fails.
  const redis = redisUrl ? new RedisConnection(redisUrl) : undefined;
  if (redis) {
    closers.push(() => redis.quit());
    // Connected now rather than on the first request's command; one that fails says so here (and
    // the first command tries again).
    redis.connected().catch((err: Error) => log.warn({ err: err.message, redis: redis.location }, 'redis (policy state) not reachable yet'));
  }
  const recordConfig = recordConfigFromEnv(env, { recordDir: config.recordDir, ...(redisUrl ? { redisUrl } : {}) });
  if (clusterIdentity) {
    const { redisLockGuardFromEnv } = await import('./cluster/locks.js');
    const locks = redisLockGuardFromEnv({ ...env, REDIS_URL: redisUrl }, { log, formerTokens: () => clusterIdentity.formerTokenIds() });
    if (!locks) throw new ConfigError('REDIS_URL', 'cluster mode (SKILLGATE_CONTROLLER_URL set) needs Redis for the lock feed: set REDIS_URL, or have the controller hand it over (SKILLGATE_SIDECAR_REDIS_URL; the chart\'s redis.existingSecret)');
    await locks.start();
    await locks.whenSynced(10_000).catch((err: Error) => log.warn({ err: err.message }, 'lock feed not synced yet; refusing until it is'));
    clusterIdentity.watchRevocations(locks);
    identity = clusterIdentity;
    maskingKey = () => clusterIdentity.maskingKey() ?? config.maskingKey;
    Object.assign(ports, { identity: clusterIdentity, credential: clusterIdentity, locks: countingLocks(locks, redis, prefix, log) });
    readiness.push(() => locks.readiness());
    metrics.watchLockFeed(() => locks.feed);
    // Record each lock the moment it takes effect on this skill (kills and refusals name it too).
    const seen = new Set<string>();
    locks.onChange(() => {
      const me = clusterIdentity.identity();
      const hit = locks.match({ identity: me, sessionId: '' });
      if (hit && !seen.has(hit.lockName)) {
        seen.add(hit.lockName);
        skillEvent({ kind: 'lock', target: `skill/${me.namespace}/${me.skill}`, lock: hit.lockName, reason: hit.reason });
      } else if (!hit) seen.clear();
    });
    closers.push(() => clusterIdentity.close(), () => locks.close());
  }
  ports.readiness = () => readiness.flatMap((r) => r());

  /**
   * The first token exchange. Without REDIS_URL the Redis URL comes with a token (the chart's
   * redis.existingSecret), so start-up waits for an exchange that succeeds: nothing listens until
   * then (the startup probe holds the skill's containers back), and each failure is logged.
   */
  async function startClusterIdentity(): Promise<ClusterIdentity> {
    const { clusterIdentityFromEnv } = await import('./cluster/identity.js');
    const it = clusterIdentityFromEnv(env, {
      log,
      // The installation masking key comes from the controller, unless the operator set one here.
      needsMaskingKey: !config.maskingKeySet,
      onEvent: (e) => { if (e.type === 'token_revoked') skillEvent({ kind: 'revocation', token: e.jti, reason: e.reason }); },
      recordKey: { spki: recordSigner.publicKeySpki, onEndorsed: (endorsement) => { recordSigner.endorsement = endorsement; } },
    })!;
    await it.start();
    if (!config.redisUrl) {
      log.info('no REDIS_URL: waiting for the controller to hand the Redis URL over with a workload token');
      await it.whenExchanged();
    }
    return it;
  }

  // Policy: watched SkillPolicies in a cluster, the policy file locally (read above).
  const me = identity.identity();
  let kube: KubeClient | undefined;
  if (cluster && feeds) {
    const { KubeClient, kubeAccessFromEnv } = await import('./cluster/kube-client.js');
    kube = new KubeClient(kubeAccessFromEnv(env));
    closers.push(() => kube!.close());
    feed = await feeds.clusterPolicyFeed({
      kube, namespace: me.namespace, identity: me, podLabels: podLabels(env, log), log, registry: metrics.registry,
      ...(redis ? { heartbeat: { redis, prefix, pod: me.pod } } : {}),
    });
  }
  if (feed) {
    const policyFeed = feed;
    closers.push(() => policyFeed.close());
    if (policyFeed.readiness) readiness.push(() => policyFeed.readiness!());
  }

  // The record, with record-mode masking.
  const book = new MaskerBook(maskingKey);
  const { recorder, store } = await openRecorder(recordConfig, log, recordSigner);
  closers.push(() => store.close());
  metrics.watchRecorder(() => recorder.stats());
  journal = withLogLines(recordJournal({
    recorder, log, onFindings, readUploadBytes: config.limits.recordBodyBytes, answerTextBytes: config.limits.recordBodyBytes,
    onDurable: (seconds) => metrics.recordLatency.observe(seconds),
    masker: () => book.forSpec(feed?.current().effective.masking),
    sessionKeySecret: () => maskingKey(),
    recording: () => feed?.current().effective.recording,
    identity: () => identity.identity(),
  }), log);
  // The record's masker (and its dictionaries, ~2 MB) now, before the container entrypoint hands
  // start-up memory back: built by the first request instead, they grow the young generation, which
  // an idle sidecar then keeps (BENCHMARKS.md, RSS idle). A policy in force has compiled, and
  // compiling checks its custom entities by the masker's rules, so its masker can be made.
  book.forSpec(feed?.current().effective.masking);
  for (const e of early.splice(0)) journal.skillEvent(e);
  const theJournal = journal;
  ports.journal = () => theJournal;

  // Policy enforcement, approvals and masking modes.
  if (feed) {
    const policyFeed = feed;
    const { createPolicyGuard, memoryToolHistory, redisRateLimiter, redisToolHistory } = await import('./cluster/guard.js');
    // Without Redis (local mode) the policy's rate limits are counted here, in this sidecar alone.
    if (!redis) log.info('no REDIS_URL: rate limits are counted in this sidecar\'s memory');
    const approvals = cluster && kube ? (await import('./cluster/approvals.js')).kubeApprovalBroker({ kube, namespace: me.namespace, heldBy: me.pod, log }) : undefined;
    if (approvals) closers.push(() => approvals.close());
    ports.guard = createPolicyGuard({
      policy: () => policyFeed.current(),
      ...(redis ? { rateLimiter: redisRateLimiter(redis, { prefix }), toolHistory: redisToolHistory(redis, { prefix }) } : { rateLimiter: memoryRateLimiter(), toolHistory: memoryToolHistory() }),
      ...(approvals ? { approvals } : {}),
      masker: {
        findings: (text, policy) => book.forSpec(policy.masking).maskText(text).findings,
        maskText: (text, policy) => book.forSpec(policy.masking).maskText(text).masked,
      },
      events: guardEvents(theJournal),
      verdictExtras: (x, policy) => maskingVerdict(x, policy.masking, book, { onFindings }),
      log,
    });
    ports.egressAllowHosts = () => policyFeed.current().effective.egressAllowHosts ?? [];
  }
  return ports;
}

/**
 * The lock guard plus per-lock counters in Redis (HINCRBY <prefix>locks:stats:<lock>), which the
 * controller copies into each SkillLock's status (streamsKilled, requestsRefused).
 */
export function countingLocks(locks: LockGuard, redis: RedisConnection | undefined, prefix: string, log: Logger): LockGuard {
  if (!redis) return locks;
  return {
    match: (s) => locks.match(s),
    onChange: (l) => locks.onChange(l),
    refusal: () => locks.refusal(),
    ...(locks.onStandingLost ? { onStandingLost: (l: () => void) => locks.onStandingLost!(l) } : {}),
    count(hit, what) {
      void redis.command(['HINCRBY', `${prefix}locks:stats:${hit.lockName}`, what, 1])
        .catch((err: Error) => log.warn({ err: err.message, lock: hit.lockName }, 'lock counter not updated'));
    },
  };
}

/** Policy steps as session events. */
function guardEvents(journal: Journal): GuardEvents {
  return {
    decision: (x, d, policies) => {
      if (d.kind === 'allow') journal.decision(x, { action: 'allow', policies: [...policies] });
      else if (d.kind === 'deny') journal.decision(x, { action: 'deny', policies: [d.policy], rule: d.rule, reason: d.reason });
      else journal.decision(x, { action: 'hold', policies: [d.policy], rule: d.rules.join(','), reason: d.reasons.join('; ') });
    },
    rateLimited: (x, hit) => journal.decision(x, { action: 'rate_limited', policies: [hit.policy], reason: `${hit.kind} per minute limit ${hit.limit}` }),
    approvalRequested: (x, ref) => journal.approval(x, { state: 'held', approval: `${ref.namespace}/${ref.name}`, reason: ref.rules.join(',') }),
    approvalResolved: (x, result) => {
      if (result.phase === 'Approved') journal.approval(x, { state: 'approved', approval: `${result.namespace}/${result.name}`, by: result.approvedBy.join(',') });
      else if (result.phase === 'Denied') journal.approval(x, { state: 'denied', approval: `${result.namespace}/${result.name}`, by: result.deniedBy.join(','), reason: result.reasons.join('; ') });
      else if (result.phase === 'Expired') journal.approval(x, { state: 'expired', approval: `${result.namespace}/${result.name}` });
      else if ('message' in result) journal.approval(x, { state: 'denied', approval: result.name ?? 'unknown', reason: result.message });
    },
  };
}

/**
 * The pod's labels, for SkillPolicy selectors: the downward API file the injector mounts
 * (SKILLGATE_POD_LABELS_FILE), or SKILLGATE_POD_LABELS ("k=v,k2=v2") for local runs.
 */
function podLabels(env: NodeJS.ProcessEnv, log: Logger): Record<string, string> {
  if (env.SKILLGATE_POD_LABELS_FILE) {
    try {
      return parsePodLabelsFile(readFileSync(env.SKILLGATE_POD_LABELS_FILE, 'utf8'));
    } catch (err) {
      log.error({ file: env.SKILLGATE_POD_LABELS_FILE, err: (err as Error).message }, 'cannot read the pod labels; policies selecting by label will not match');
      return {};
    }
  }
  const out: Record<string, string> = {};
  for (const pair of (env.SKILLGATE_POD_LABELS ?? '').split(',')) {
    const eq = pair.indexOf('=');
    if (eq > 0) out[pair.slice(0, eq).trim()] = pair.slice(eq + 1).trim();
  }
  return out;
}
