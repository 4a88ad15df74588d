// The SkillPolicy status reconciler: for every SkillPolicy, status.observedGeneration, a Ready or
// Invalid condition (with the problems @skillgate/policy finds: the same compile the sidecars run),
// and status.sidecars = how many sidecars report running the current generation. Sidecars report
// through Redis (see @skillgate/sidecar cluster/policy-feed.ts): a sorted set per policy,
// `${prefix}policy-sidecars:{ns}/{name}`, member `${pod}@${generation}`, score = expiry in ms.
// Expired members are dropped here. Idempotent; writes status only when it changed.
import type { KubeConfig } from '@kubernetes/client-node';
import { CustomObjectsApi, Watch } from '@kubernetes/client-node';
import { GROUP, VERSION, type Condition, type SkillPolicy } from '@skillgate/api';
import { policyProblems } from '@skillgate/policy';
import type { Redis } from 'ioredis';
import { describeApiError, mergePatch } from '../kube.js';
import type { Logger } from '../log.js';
import type { Reconciler } from '../reconciler.js';

export const SKILLPOLICIES = { group: GROUP, version: VERSION, plural: 'skillpolicies' } as const;

export interface PolicyStatusOptions {
  kubeConfig: KubeConfig;
  log: Logger;
  /** Where sidecars heartbeat; without it status.sidecars is not maintained. */
  redis?: Redis;
  /** Key prefix shared with the sidecars (SKILLGATE_REDIS_PREFIX, default "skillgate:"). */
  prefix?: string;
  /** How often sidecar counts are refreshed (default 5 s). */
  recountMs?: number;
  now?: () => Date;
}

export function heartbeatKey(prefix: string, policy: string): string {
  return `${prefix}policy-sidecars:${policy}`;
}

/** Count live sidecars at `generation` (drops expired members first). */
export async function countSidecars(redis: Redis, prefix: string, policy: string, generation: number, nowMs: number): Promise<number> {
  const key = heartbeatKey(prefix, policy);
  const [, members] = (await redis.multi().zremrangebyscore(key, '-inf', nowMs.toString()).zrange(key, '0', '-1').exec()) as [[null, number], [null, string[]]];
  return members[1].filter((m) => m.endsWith(`@${generation}`)).length;
}

export function policyStatusReconciler(opts: PolicyStatusOptions): Reconciler {
  const custom = opts.kubeConfig.makeApiClient(CustomObjectsApi);
  const now = opts.now ?? (() => new Date());
  const prefix = opts.prefix ?? 'skillgate:';
  const known = new Map<string, SkillPolicy>();
  let watch: AbortController | undefined;
  let recount: NodeJS.Timeout | undefined;
  let retry: NodeJS.Timeout | undefined;
  let stopped = false;
  let lastError: string | undefined;

  const name = (p: SkillPolicy) => `${p.metadata.namespace}/${p.metadata.name}`;

  async function reconcile(p: SkillPolicy): Promise<void> {
    known.set(name(p), p);
    const generation = p.metadata.generation ?? 0;
    const problems = policyProblems(p);
    const sidecars = opts.redis ? await countSidecars(opts.redis, prefix, name(p), generation, now().getTime()).catch(() => p.status?.sidecars ?? 0) : undefined;
    const prev = p.status?.conditions ?? [];
    const condition = (type: string, status: Condition['status'], reason: string, message: string): Condition => {
      const old = prev.find((c) => c.type === type);
      const unchanged = old && old.status === status && old.reason === reason && old.message === message;
      return { type, status, reason, message, observedGeneration: generation, lastTransitionTime: unchanged ? old.lastTransitionTime : now().toISOString() };
    };
    const conditions = problems.length
      ? [condition('Ready', 'False', 'Invalid', 'sidecars keep the last good generation, or refuse requests if there is none'), condition('Invalid', 'True', 'CompileFailed', problems.join('; '))]
      : [condition('Ready', 'True', 'Compiled', `compiled; ${sidecars ?? 'unknown'} sidecar(s) run generation ${generation}`), condition('Invalid', 'False', 'Compiled', 'no problems')];
    const status = { observedGeneration: generation, conditions, ...(sidecars !== undefined ? { sidecars } : {}) };
    const same = p.status?.observedGeneration === generation && p.status?.sidecars === status.sidecars
      && JSON.stringify(prev.map((c) => [c.type, c.status, c.reason, c.message])) === JSON.stringify(conditions.map((c) => [c.type, c.status, c.reason, c.message]));
    if (same) return;
    try {
      const updated = (await custom.patchNamespacedCustomObjectStatus({ ...SKILLPOLICIES, namespace: p.metadata.namespace!, name: p.metadata.name, body: { status } }, mergePatch)) as SkillPolicy;
      known.set(name(p), updated);
    } catch (err) {
      opts.log.warn({ policy: name(p), err: describeApiError(err) }, 'cannot write SkillPolicy status');
    }
  }

  async function listAndWatch(): Promise<void> {
    if (stopped) return;
    try {
      const list = (await custom.listClusterCustomObject(SKILLPOLICIES)) as { items: SkillPolicy[]; metadata: { resourceVersion: string } };
      known.clear();
      for (const p of list.items) await reconcile(p);
      watch = await new Watch(opts.kubeConfig).watch(`/apis/${GROUP}/${VERSION}/${SKILLPOLICIES.plural}`,
        { resourceVersion: list.metadata.resourceVersion, allowWatchBookmarks: true },
        (type, p: SkillPolicy) => {
          if (type === 'DELETED') known.delete(name(p));
          else if (type === 'ADDED' || type === 'MODIFIED') void reconcile(p);
        },
        (err) => { watch = undefined; if (!stopped) { if (err) lastError = describeApiError(err); again(500); } });
      lastError = undefined;
    } catch (err) {
      lastError = describeApiError(err);
      opts.log.error({ err: lastError }, 'cannot list SkillPolicies; retrying');
      again(2000);
    }
  }

  function again(ms: number): void {
    if (stopped || retry) return;
    retry = setTimeout(() => { retry = undefined; void listAndWatch(); }, ms);
  }

  return {
    name: 'policy-status',
    async start() {
      await listAndWatch();
      if (opts.redis) recount = setInterval(() => { for (const p of known.values()) void reconcile(p); }, opts.recountMs ?? 5000);
    },
    async stop() {
      stopped = true;
      watch?.abort();
      if (recount) clearInterval(recount);
      if (retry) clearTimeout(retry);
    },
    readiness: () => (lastError ? [`SkillPolicy watch: ${lastError}`] : []),
  };
}
