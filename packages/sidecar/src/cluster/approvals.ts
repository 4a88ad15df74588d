// Just-in-time approvals from the sidecar's side: create a SkillApproval for a held request, then
// wait — on ONE shared watch of this sidecar's approvals, not one per request — until its decisions
// approve it (it is then marked Used, once, with a resourceVersion precondition so it cannot release
// two requests), deny it, or it expires. The sidecar computes the phase from status.decisions with
// the same pure function as the controller (@skillgate/policy approvalOutcome), so a request is
// released even while the controller is down, and an invalid decision (owner, non-approver) never
// counts on either side. Never holds request bodies: only the digest and a masked summary leave.
// The approvers written are the effective ones: a rule naming neither groups nor users is decided
// by the group skillgate-approvers (never by "anyone"), and empty lists are not sent.
import { API_VERSION, GROUP, LABEL_SKILL, VERSION, type ApprovalPhase, type SkillApproval, type SkillApprovalSpec } from '@skillgate/api';
import { approvalOutcome, type RecordedDecision } from '@skillgate/policy';
import { effectiveApprovers } from '@skillgate/policy/approval';
import type { Logger } from '../log.js';
import { errMessage } from './kube-errors.js';
import { customObjectPath, type KubeClient } from './kube-client.js';
import { isoTimestamp } from '@skillgate/record/timestamp';

export { errMessage };

export const PLURAL_APPROVALS = 'skillapprovals';
/** Pod label on SkillApprovals: which sidecar holds the request (its watch selects on it). */
export const LABEL_HELD_BY = 'skillgate.dev/held-by';

export interface ApprovalRequest extends Omit<SkillApprovalSpec, 'expiresAt' | 'approvers'> {
  /** As the policy evaluated them; lists may be empty (then the default approver group applies). */
  approvers: { groups?: string[]; users?: string[]; quorum: number };
  timeoutMs: number;
}

export interface ApprovalResult {
  name: string;
  namespace: string;
  phase: 'Approved' | 'Denied' | 'Expired';
  approvedBy: string[];
  deniedBy: string[];
  /** Reasons the deciders gave (deny reasons first); who gave them is in approvedBy/deniedBy. */
  reasons: string[];
}

export interface ApprovalBroker {
  /**
   * Create the SkillApproval and wait for its outcome. `onCreated` fires once the object exists
   * (for the session record); the promise rejects with signal.reason when the signal aborts.
   */
  hold(req: ApprovalRequest, signal: AbortSignal, onCreated?: (ref: { name: string; namespace: string; expiresAt: string }) => void): Promise<ApprovalResult>;
  close(): void;
}

interface Waiter {
  spec: SkillApprovalSpec;
  settle(result: ApprovalResult | Error): void;
  timer: NodeJS.Timeout;
  /** A Used patch is in flight: ignore further events until it resolves. */
  using: boolean;
}

export interface KubeApprovalBrokerOptions {
  kube: KubeClient;
  namespace: string;
  /** Label value identifying this sidecar's approvals (its pod name). */
  heldBy: string;
  log: Logger;
  now?: () => Date;
}

/** Names are DNS-1123 subdomains: `<skill>-<request id>` lower-cased. */
export function approvalName(skill: string, requestId: string): string {
  const clean = (s: string) => s.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '');
  return `${clean(skill).slice(0, 40) || 'skill'}-${clean(requestId).slice(0, 60)}`;
}

export function kubeApprovalBroker(opts: KubeApprovalBrokerOptions): ApprovalBroker {
  const kube = opts.kube;
  const now = opts.now ?? (() => new Date());
  const collection = customObjectPath(GROUP, VERSION, opts.namespace, PLURAL_APPROVALS);
  const statusOf = (name: string): string => customObjectPath(GROUP, VERSION, opts.namespace, PLURAL_APPROVALS, name, 'status');
  const mergePatch = 'application/merge-patch+json';
  const waiters = new Map<string, Waiter>();
  let watching: AbortController | undefined;
  let watchStarting = false;
  let closed = false;
  let restartTimer: NodeJS.Timeout | undefined;

  function consider(obj: SkillApproval): void {
    const w = waiters.get(obj.metadata.name);
    if (!w || w.using) return;
    const phase = obj.status?.phase;
    const decisions = (obj.status?.decisions ?? []) as RecordedDecision[];
    // Only Used is taken as written (this sidecar writes it when it releases the request); approved,
    // denied and expired follow from the decisions and the clock, never from a phase someone wrote
    // without them (a write that adds no decision does not go through the approval webhook).
    const outcome = approvalOutcome(w.spec, decisions, now(), phase === 'Used' ? 'Used' : undefined);
    const result = (p: ApprovalResult['phase']): ApprovalResult => ({
      name: obj.metadata.name, namespace: opts.namespace, phase: p, approvedBy: outcome.approvedBy, deniedBy: outcome.deniedBy,
      reasons: decisions.filter((d) => d.decision === 'deny').concat(decisions.filter((d) => d.decision === 'approve')).map((d) => d.reason),
    });
    switch (outcome.phase) {
      case 'Approved':
        w.using = true;
        void markUsed(obj, outcome.approvedBy).then(
          () => w.settle(result('Approved')),
          (err: unknown) => {
            w.using = false;
            if (isConflict(err)) void refetch(obj.metadata.name); // someone else wrote: decide again on fresh state
            else w.settle(err instanceof Error ? err : new Error(String(err)));
          },
        );
        return;
      case 'Denied':
        w.settle(result('Denied'));
        return;
      case 'Expired':
        if (phase === 'Expired') { w.settle(result('Expired')); return; }
        // Expired by the clock: write the phase first, so what the skill is told matches the object.
        w.using = true;
        void setPhase(obj.metadata.name, 'Expired', 'Timeout', `no decision before ${w.spec.expiresAt}`).then(() => w.settle(result('Expired')));
        return;
      case 'Used':
        // Used by someone else (another replica holding the same digest cannot exist: names are per request).
        w.settle(new Error(`SkillApproval ${opts.namespace}/${obj.metadata.name} was already used`));
        return;
      default:
    }
  }

  /** A SkillApproval deleted while its request waits: nobody can approve it any more, so it is denied now. */
  function deleted(obj: SkillApproval): void {
    const w = waiters.get(obj.metadata.name);
    if (!w || w.using) return;
    w.settle({
      name: obj.metadata.name, namespace: opts.namespace, phase: 'Denied', approvedBy: [], deniedBy: ['whoever deleted it'],
      reasons: ['the SkillApproval was deleted before a decision'],
    });
  }

  async function markUsed(obj: SkillApproval, approvedBy: string[]): Promise<void> {
    const at = isoTimestamp(now().getTime());
    await kube.request('PATCH', statusOf(obj.metadata.name), {
      contentType: mergePatch,
      body: {
        metadata: { resourceVersion: obj.metadata.resourceVersion },
        status: {
          phase: 'Used',
          conditions: [{ type: 'Released', status: 'True', reason: 'Approved', message: `released the held request after approval by ${approvedBy.join(', ')}`, lastTransitionTime: at }],
        },
      },
    });
  }

  async function setPhase(name: string, phase: ApprovalPhase, reason: string, message: string): Promise<void> {
    try {
      await kube.request('PATCH', statusOf(name), {
        contentType: mergePatch,
        body: { status: { phase, conditions: [{ type: 'Released', status: 'False', reason, message, lastTransitionTime: isoTimestamp(now().getTime()) }] } },
      });
    } catch (err) {
      opts.log.warn({ approval: name, err: errMessage(err) }, 'could not record the approval phase');
    }
  }

  async function refetch(name: string): Promise<void> {
    try {
      const obj = await kube.request<SkillApproval>('GET', statusOf(name));
      consider(obj);
    } catch (err) {
      opts.log.warn({ approval: name, err: errMessage(err) }, 'could not read SkillApproval');
    }
  }

  async function startWatch(): Promise<void> {
    if (watching || watchStarting || closed) return;
    watchStarting = true;
    try {
      const labelSelector = `${LABEL_HELD_BY}=${opts.heldBy}`;
      const list = await kube.request<{ items: SkillApproval[]; metadata: { resourceVersion: string } }>('GET', collection, { query: { labelSelector } });
      for (const item of list.items) consider(item);
      watching = await kube.watch(collection, { labelSelector, resourceVersion: list.metadata.resourceVersion, allowWatchBookmarks: true },
        (type, obj: SkillApproval) => {
          if (type === 'ADDED' || type === 'MODIFIED') consider(obj);
          else if (type === 'DELETED') deleted(obj);
        },
        (err) => {
          watching = undefined;
          if (err && !closed) opts.log.warn({ err: errMessage(err) }, 'SkillApproval watch ended; restarting');
          scheduleRestart();
        });
    } catch (err) {
      opts.log.warn({ err: errMessage(err) }, 'SkillApproval watch failed; retrying');
      scheduleRestart();
    } finally {
      watchStarting = false;
    }
  }

  function scheduleRestart(): void {
    if (closed || restartTimer || waiters.size === 0) return;
    restartTimer = setTimeout(() => { restartTimer = undefined; void startWatch(); }, 500);
    restartTimer.unref();
  }

  return {
    async hold(req, signal, onCreated) {
      const expiresAt = isoTimestamp(now().getTime() + req.timeoutMs);
      const { timeoutMs: _t, approvers, ...specFields } = req;
      const spec: SkillApprovalSpec = { ...specFields, approvers: effectiveApprovers(approvers, req.identity.owner), expiresAt };
      const name = approvalName(req.identity.skill, req.requestId);
      const body: SkillApproval = {
        apiVersion: API_VERSION as SkillApproval['apiVersion'], kind: 'SkillApproval',
        metadata: { name, namespace: opts.namespace, labels: { [LABEL_SKILL]: req.identity.skill, [LABEL_HELD_BY]: opts.heldBy } },
        spec,
      };
      signal.throwIfAborted();
      return new Promise<ApprovalResult>((resolve, reject) => {
        let done = false;
        const onAbort = (): void => {
          w.settle(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
          void setPhase(name, 'Expired', 'ClientGone', 'the skill closed the connection before a decision');
        };
        const w: Waiter = {
          spec,
          using: false,
          timer: setTimeout(() => {
            // The deadline passed: re-read once (a decision may have just landed), then expire.
            // The phase is written before the skill hears "expired", so what it is told matches the object.
            void refetch(name).then(async () => {
              if (done || w.using) return;
              await setPhase(name, 'Expired', 'Timeout', `no decision within ${Math.round(req.timeoutMs / 1000)} s`);
              w.settle({ name, namespace: opts.namespace, phase: 'Expired', approvedBy: [], deniedBy: [], reasons: [] });
            });
          }, req.timeoutMs),
          settle(result) {
            if (done) return;
            done = true;
            clearTimeout(w.timer);
            signal.removeEventListener('abort', onAbort);
            waiters.delete(name);
            if (result instanceof Error) reject(result);
            else resolve(result);
          },
        };
        waiters.set(name, w);
        signal.addEventListener('abort', onAbort, { once: true });
        void startWatch();
        kube.request('POST', collection, { body }).then(
          () => onCreated?.({ name, namespace: opts.namespace, expiresAt }),
          (err: unknown) => w.settle(new Error(`could not create SkillApproval ${opts.namespace}/${name}: ${errMessage(err)}`)),
        );
      });
    },
    close() {
      closed = true;
      if (restartTimer) clearTimeout(restartTimer);
      watching?.abort();
      for (const w of waiters.values()) w.settle(new Error('sidecar shutting down'));
    },
  };
}

function isConflict(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: number }).code === 409;
}

