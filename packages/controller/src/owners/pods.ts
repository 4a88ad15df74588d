// Owners as pods declare them: a watch on skill pods (label skillgate.dev/skill, all namespaces) that
// keeps "which pod runs which skill for which owner" and registers owners it has not seen before (an
// owner record, active, so `skillgate owners list` and SCIM show every accountable human).
// A skill changes owner by being recreated: the validating webhook keeps skillgate.dev/owner fixed
// for a pod's life, so the owner annotation is changed in the pod template (a rollout) or on a new
// pod, whose fresh token names the new owner — that is how a skill of an offboarded owner is given
// back to an active one while the owner lock stays on the person. Should a pod's annotation change
// in place all the same (a pod admitted where the validating webhook did not run: failurePolicy
// Ignore while it was down), the tokens issued to that pod name the old owner, so they are revoked
// and the sidecar re-exchanges for one naming the new owner.
// Every replica keeps the index; only the leader writes (records, revocations). Never reads pod specs
// beyond labels and annotations, never logs anything but names.
import type { V1Pod } from '@kubernetes/client-node';
import { ANNOTATION_OWNER, LABEL_SKILL, isOwnerEmail } from '@skillgate/api';
import { normalizeOwner } from '@skillgate/identity';
import { describeApiError, type KubeClients } from '../kube.js';
import { ListWatch } from '../list-watch.js';
import type { Logger } from '../log.js';
import type { Reconciler } from '../reconciler.js';

export interface SkillPod {
  namespace: string;
  pod: string;
  skill: string;
  /**
   * The owner in canonical form (normalizeOwner: `Jane+triage@Example.com` is jane@example.com, so
   * an alias registers no owner of its own), or undefined when the annotation is missing or not a
   * plain address (isOwnerEmail: a prefix, a trailing dot).
   */
  owner: string | undefined;
}

export interface Reassignment {
  namespace: string;
  pod: string;
  skill: string;
  from: string | undefined;
  to: string | undefined;
}

export interface PodOwnerWatcherDeps {
  kube: KubeClients;
  log: Logger;
  /** Is this replica the leader now? Only the leader acts on what it sees. */
  leading(): boolean;
  /** Is this owner already known (has a record)? */
  knownOwner(email: string): boolean;
  /** Create an active owner record for an owner first seen on a pod. */
  registerOwner(email: string, seenOn: SkillPod): Promise<void>;
  /** A pod's owner annotation changed in place (the validating webhook refuses that: see above). */
  reassigned(r: Reassignment): Promise<void>;
}


/** The skill and owner a pod declares. Pure. */
export function skillPodOf(pod: V1Pod): SkillPod | undefined {
  const skill = pod.metadata?.labels?.[LABEL_SKILL];
  const namespace = pod.metadata?.namespace;
  const name = pod.metadata?.name;
  if (!skill || !namespace || !name) return undefined;
  const raw = pod.metadata?.annotations?.[ANNOTATION_OWNER]?.trim();
  return { namespace, pod: name, skill, owner: raw && isOwnerEmail(raw) ? normalizeOwner(raw) : undefined };
}

export class PodOwnerWatcher implements Reconciler {
  readonly name = 'skill-pods';
  private readonly pods = new Map<string, SkillPod>();
  /** Owners a registration is in flight for, so a burst of pods writes one record. */
  private readonly registering = new Set<string>();
  private readonly feed: ListWatch<V1Pod>;

  constructor(private readonly deps: PodOwnerWatcherDeps) {
    this.feed = new ListWatch<V1Pod>(deps.kube.watch, {
      what: 'skill pod', path: '/api/v1/pods', query: { labelSelector: LABEL_SKILL },
      list: () => this.relist(),
      event: (phase, pod) => {
        const sp = skillPodOf(pod);
        if (!sp) return;
        if (phase === 'DELETED') { this.pods.delete(`${sp.namespace}/${sp.pod}`); return; }
        void this.observe(sp).catch((err: Error) => this.deps.log.error({ err: err.message, pod: `${sp.namespace}/${sp.pod}` }, 'skill pod event failed'));
      },
    }, deps.log);
  }

  async start(): Promise<void> {
    await this.feed.start();
  }

  async stop(): Promise<void> {
    this.feed.stop();
  }

  readiness(): string[] {
    return this.feed.watching ? [] : ['skill pod watch not running'];
  }

  /** Pods whose annotation names this owner now. */
  podsOf(owner: string): SkillPod[] {
    const o = normalizeOwner(owner);
    return [...this.pods.values()].filter((p) => p.owner === o);
  }

  /** Owners named by at least one pod. */
  owners(): string[] {
    return [...new Set([...this.pods.values()].map((p) => p.owner).filter((o): o is string => !!o))];
  }

  /** Called when this replica becomes the leader: register what it saw while following. */
  async lead(): Promise<void> {
    for (const p of this.pods.values()) await this.register(p);
  }

  private async relist(): Promise<string | undefined> {
    const res = await this.deps.kube.core.listPodForAllNamespaces({ labelSelector: LABEL_SKILL });
    const seen = new Set<string>();
    for (const pod of res.items) {
      const sp = skillPodOf(pod);
      if (!sp) continue;
      seen.add(`${sp.namespace}/${sp.pod}`);
      await this.observe(sp);
    }
    for (const key of [...this.pods.keys()]) if (!seen.has(key)) this.pods.delete(key);
    return res.metadata?.resourceVersion;
  }

  private async observe(sp: SkillPod): Promise<void> {
    const key = `${sp.namespace}/${sp.pod}`;
    const before = this.pods.get(key);
    this.pods.set(key, sp);
    await this.register(sp);
    if (before && before.owner !== sp.owner && this.deps.leading()) {
      this.deps.log.warn({ pod: key, skill: sp.skill, from: before.owner ?? null, to: sp.owner ?? null }, 'skill reassigned to another owner');
      await this.deps.reassigned({ namespace: sp.namespace, pod: sp.pod, skill: sp.skill, from: before.owner, to: sp.owner });
    }
  }

  private async register(sp: SkillPod): Promise<void> {
    const owner = sp.owner;
    if (!owner || !this.deps.leading() || this.deps.knownOwner(owner) || this.registering.has(owner)) return;
    this.registering.add(owner);
    try {
      await this.deps.registerOwner(owner, sp);
    } catch (err) {
      this.deps.log.warn({ err: describeApiError(err), pod: `${sp.namespace}/${sp.pod}` }, 'cannot register the owner named by a pod; will retry on its next change');
    } finally {
      this.registering.delete(owner);
    }
  }
}
