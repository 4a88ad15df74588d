// The approval reconciler (one loop for SkillApprovals, all namespaces): computes each pending
// approval's phase from status.decisions with @skillgate/policy approvalOutcome — the owner never
// counts, quorum counts distinct valid approvers, one valid deny denies, expiry expires — writes it
// with conditions that say why (including which decisions were ignored), and sends one notification
// per new approval. Idempotent: re-running over the same objects changes nothing. Terminal phases
// are never rewritten. It never decides on anyone's behalf.
import type { KubeConfig } from '@kubernetes/client-node';
import { CustomObjectsApi, Watch } from '@kubernetes/client-node';
import type { Condition, SkillApproval } from '@skillgate/api';
import { approvalOutcome, type RecordedDecision } from '@skillgate/policy';
import { describeApiError, mergePatch } from '../kube.js';
import type { Logger } from '../log.js';
import type { Reconciler } from '../reconciler.js';
import { SKILLAPPROVALS } from './decide.js';
import { linkUrls } from './links.js';
import { approvalMessage, postNotification } from './notifier.js';

export interface ApprovalEvents {
  notified?(a: SkillApproval): void;
  phaseChanged?(a: SkillApproval, phase: string, why: string): void;
}

export interface ApprovalReconcilerOptions {
  kubeConfig: KubeConfig;
  log: Logger;
  /** Slack-compatible incoming webhook (SKILLGATE_APPROVAL_WEBHOOK_URL). */
  webhookUrl?: string;
  /** Public base URL of the controller for signed links (SKILLGATE_APPROVAL_LINK_BASE_URL) and the HMAC secret. */
  links?: { baseUrl: string; secret: string | Buffer };
  events?: ApprovalEvents;
  /** How often pending approvals are checked for expiry (default 1 s). */
  sweepMs?: number;
  now?: () => Date;
}

export function approvalReconciler(opts: ApprovalReconcilerOptions): Reconciler {
  const custom = opts.kubeConfig.makeApiClient(CustomObjectsApi);
  const now = opts.now ?? (() => new Date());
  const pending = new Map<string, SkillApproval>(); // ns/name → latest object
  const notifying = new Set<string>();
  let watch: AbortController | undefined;
  let sweep: NodeJS.Timeout | undefined;
  let retry: NodeJS.Timeout | undefined;
  let stopped = false;
  let lastError: string | undefined;

  const key = (a: SkillApproval) => `${a.metadata.namespace}/${a.metadata.name}`;
  const cond = (type: string, status: Condition['status'], reason: string, message: string): Condition =>
    ({ type, status, reason, message, lastTransitionTime: now().toISOString() });

  async function reconcile(a: SkillApproval): Promise<void> {
    const k = key(a);
    const phase = a.status?.phase;
    if (phase && phase !== 'Pending') { pending.delete(k); return; }
    pending.set(k, a);
    const decisions = (a.status?.decisions ?? []) as RecordedDecision[];
    const outcome = approvalOutcome(a.spec, decisions, now());
    const conditions: Condition[] = (a.status?.conditions ?? []).filter((c) => c.type !== 'DecisionsIgnored' && c.type !== 'Decided');
    if (outcome.ignored.length) {
      conditions.push(cond('DecisionsIgnored', 'True', 'InvalidDecider', outcome.ignored.map((i) => `${i.user}: ${i.reason}`).join('; ')));
    }
    const notified = conditions.some((c) => c.type === 'Notified' && c.status === 'True');
    if (outcome.phase === 'Pending') {
      const ignoredChanged = JSON.stringify(conditions.find((c) => c.type === 'DecisionsIgnored')?.message) !== JSON.stringify(a.status?.conditions?.find((c) => c.type === 'DecisionsIgnored')?.message);
      if (!notified && opts.webhookUrl && !notifying.has(k)) void notify(a);
      if (ignoredChanged || !phase) await patchStatus(a, { phase: 'Pending', conditions });
      return;
    }
    pending.delete(k);
    const why = outcome.phase === 'Approved' ? `approved by ${outcome.approvedBy.join(', ')}`
      : outcome.phase === 'Denied' ? `denied by ${outcome.deniedBy.join(', ')}` : `no decision before ${a.spec.expiresAt}`;
    conditions.push(cond('Decided', 'True', outcome.phase, why));
    await patchStatus(a, { phase: outcome.phase, conditions });
    opts.log.info({ approval: k, phase: outcome.phase, why }, 'approval decided');
    opts.events?.phaseChanged?.(a, outcome.phase, why);
  }

  async function patchStatus(a: SkillApproval, status: Record<string, unknown>): Promise<void> {
    try {
      // The resourceVersion precondition: never overwrite a decision or a Used written meanwhile.
      await custom.patchNamespacedCustomObjectStatus({ ...SKILLAPPROVALS, namespace: a.metadata.namespace!, name: a.metadata.name,
        body: { metadata: { resourceVersion: a.metadata.resourceVersion }, status } }, mergePatch);
    } catch (err) {
      opts.log.debug({ approval: key(a), err: describeApiError(err) }, 'approval status not written (changed meanwhile?)');
    }
  }

  async function notify(a: SkillApproval): Promise<void> {
    const k = key(a);
    notifying.add(k);
    try {
      const links = opts.links ? linkUrls(opts.links.baseUrl, opts.links.secret, a.metadata.namespace!, a.metadata.name, a.spec.expiresAt) : undefined;
      await postNotification(opts.webhookUrl!, approvalMessage(a, links));
      const fresh = (await custom.getNamespacedCustomObject({ ...SKILLAPPROVALS, namespace: a.metadata.namespace!, name: a.metadata.name })) as SkillApproval;
      const conditions = [...(fresh.status?.conditions ?? []).filter((c) => c.type !== 'Notified'), cond('Notified', 'True', 'WebhookDelivered', 'approvers were notified')];
      await custom.patchNamespacedCustomObjectStatus({ ...SKILLAPPROVALS, namespace: a.metadata.namespace!, name: a.metadata.name, body: { status: { conditions } } }, mergePatch);
      opts.events?.notified?.(a);
    } catch (err) {
      opts.log.warn({ approval: k, err: describeApiError(err) }, 'approval notification failed; will retry');
    } finally {
      notifying.delete(k);
    }
  }

  async function listAndWatch(): Promise<void> {
    if (stopped) return;
    try {
      const list = (await custom.listClusterCustomObject(SKILLAPPROVALS)) as { items: SkillApproval[]; metadata: { resourceVersion: string } };
      pending.clear();
      for (const a of list.items) await reconcile(a);
      watch = await new Watch(opts.kubeConfig).watch(`/apis/${SKILLAPPROVALS.group}/${SKILLAPPROVALS.version}/${SKILLAPPROVALS.plural}`,
        { resourceVersion: list.metadata.resourceVersion, allowWatchBookmarks: true },
        (type, obj: SkillApproval) => {
          if (type === 'DELETED') pending.delete(key(obj));
          else if (type === 'ADDED' || type === 'MODIFIED') void reconcile(obj);
        },
        (err) => { watch = undefined; if (!stopped) { if (err) lastError = describeApiError(err); again(500); } });
      lastError = undefined;
    } catch (err) {
      lastError = describeApiError(err);
      opts.log.error({ err: lastError }, 'cannot list SkillApprovals; retrying');
      again(2000);
    }
  }

  function again(ms: number): void {
    if (stopped || retry) return;
    retry = setTimeout(() => { retry = undefined; void listAndWatch(); }, ms);
  }

  return {
    name: 'approvals',
    async start() {
      await listAndWatch();
      sweep = setInterval(() => {
        const t = now().getTime();
        for (const a of pending.values()) if (t >= Date.parse(a.spec.expiresAt)) void reconcile(a);
      }, opts.sweepMs ?? 1000);
    },
    async stop() {
      stopped = true;
      watch?.abort();
      if (sweep) clearInterval(sweep);
      if (retry) clearTimeout(retry);
    },
    readiness: () => (lastError ? [`SkillApproval watch: ${lastError}`] : []),
  };
}
