// The owner reconciler: keeps the controller's in-memory owner registry equal to the owner records
// (ConfigMaps) however they were written — SCIM, the CLI, kubectl — and reacts to an owner becoming
// inactive by revoking every workload token the controller issued to that owner's skills. The
// offboarding lock itself is a SkillLock written by whoever offboarded; this loop only adds the
// token revocations, which only the issuer can know. Every replica keeps the registry (the token
// exchange needs it); only the leader revokes, and on taking over it re-revokes for every inactive
// owner (idempotent: a revocation already published changes nothing). Owners are known by the
// canonical form of their address; a record of an older spelling of it (stored before that form)
// merges into its owner (ownerFromRecords) instead of passing for another, active, owner.
import type { V1ConfigMap } from '@kubernetes/client-node';
import { OwnerRegistry, revocationLock, type IssuedToken, type Owner } from '@skillgate/identity';
import type { IssuedTokenIndex } from '../token-exchange/issued.js';
import type { KubeClients } from '../kube.js';
import { ListWatch } from '../list-watch.js';
import type { Logger } from '../log.js';
import type { ControllerMetrics } from '../metrics.js';
import { emit, type ControllerEvents } from '../events.js';
import type { Reconciler } from '../reconciler.js';
import type { LockReconciler } from '../locks/reconciler.js';
import { OWNER_RECORD_LABEL, ownerConfigMapName, ownerFromConfigMap, ownerFromRecords } from './store.js';

export interface OwnerReconcilerDeps {
  kube: KubeClients;
  namespace: string;
  issued: IssuedTokenIndex;
  locks: LockReconciler;
  /** Pods that name an owner now (their tokens may still name a previous owner). */
  podsOf?(owner: string): Array<{ namespace: string; pod: string }>;
  log: Logger;
  metrics: ControllerMetrics;
  events?: ControllerEvents;
  clock?: () => number;
}

export class OwnerReconciler implements Reconciler {
  readonly name = 'owners';
  readonly registry = new OwnerRegistry();
  private readonly byConfigMap = new Map<string, string>();
  /** Records by owner id, then ConfigMap name: an owner may have records of older spellings too (ownerFromRecords). */
  private readonly records = new Map<string, Map<string, Owner>>();
  private leading = false;
  private readonly feed: ListWatch<V1ConfigMap>;

  constructor(private readonly deps: OwnerReconcilerDeps) {
    this.feed = new ListWatch<V1ConfigMap>(deps.kube.watch, {
      what: 'owner record', path: `/api/v1/namespaces/${deps.namespace}/configmaps`, query: { labelSelector: `${OWNER_RECORD_LABEL}=true` },
      list: () => this.relist(),
      event: (phase, cm) => {
        if (phase === 'DELETED') {
          this.forget(cm.metadata?.name ?? '');
          return;
        }
        void this.observe(cm).catch((err: Error) => this.deps.log.error({ err: err.message }, 'owner record event failed'));
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
    return this.feed.watching ? [] : ['owner watch not running'];
  }

  isActive(email: string): boolean {
    return this.registry.isActive(email);
  }

  /** Has a record for this owner been seen? */
  knows(email: string): boolean {
    return this.registry.byEmailAddress(email) !== undefined;
  }

  /** Take over revocations: every inactive owner's tokens, in case the previous leader missed some. */
  async lead(): Promise<void> {
    this.leading = true;
    for (const owner of this.registry.list()) if (!owner.active) await this.revokeTokensOf(owner);
  }

  follow(): void {
    this.leading = false;
  }

  /** Revoke tokens (a lock per jti, lapsing with the token). Leader only; returns the jtis revoked. */
  async revoke(tokens: IssuedToken[], reason: string): Promise<string[]> {
    if (!this.leading) return [];
    const seen = new Set<string>();
    for (const t of tokens) {
      if (seen.has(t.jti)) continue;
      seen.add(t.jti);
      await this.deps.locks.addSynthetic(revocationLock(t, reason));
    }
    if (seen.size) this.deps.metrics.revocations.inc(seen.size);
    return [...seen];
  }

  /**
   * Revoke the unexpired tokens of an owner's skills: those issued naming them, and those of pods
   * that name them now (a token issued before a reassignment names the previous owner).
   */
  async revokeTokensOf(owner: Owner): Promise<string[]> {
    if (!this.leading) return [];
    const now = (this.deps.clock ?? Date.now)();
    const tokens = await this.deps.issued.ofOwner(owner.email, now);
    for (const p of this.deps.podsOf?.(owner.email) ?? []) tokens.push(...await this.deps.issued.ofPod(p.namespace, p.pod, now));
    const reason = `workload token revoked: owner ${owner.email} was offboarded`;
    const jtis = await this.revoke(tokens, reason);
    if (jtis.length) {
      this.deps.log.warn({ ownerId: owner.id, tokens: jtis.length }, 'revoked workload tokens of an offboarded owner');
      emit(this.deps.events ?? {}, 'tokensRevoked', { owner: owner.email, jtis, reason });
    }
    return jtis;
  }

  private async relist(): Promise<string | undefined> {
    const res = await this.deps.kube.core.listNamespacedConfigMap({ namespace: this.deps.namespace, labelSelector: `${OWNER_RECORD_LABEL}=true` });
    for (const cm of res.items) await this.observe(cm);
    return res.metadata?.resourceVersion;
  }

  /** The owner their records say, or undefined when none is left. */
  private merged(id: string): Owner | undefined {
    const records = this.records.get(id);
    return records ? ownerFromRecords(id, records) : undefined;
  }

  /** A record is gone (or now names another owner): the owner's other records, if any, say what they are now. */
  private forget(name: string): void {
    const id = this.byConfigMap.get(name);
    this.byConfigMap.delete(name);
    if (!id) return;
    const records = this.records.get(id);
    records?.delete(name);
    if (!records?.size) this.records.delete(id);
    const left = this.merged(id);
    if (left) this.registry.put(left);
    else this.registry.remove(id);
  }

  private async observe(cm: V1ConfigMap): Promise<void> {
    const record = ownerFromConfigMap(cm);
    if (!record) return;
    const name = cm.metadata?.name ?? ownerConfigMapName(record.id);
    if (this.byConfigMap.has(name) && this.byConfigMap.get(name) !== record.id) this.forget(name);
    this.byConfigMap.set(name, record.id);
    let records = this.records.get(record.id);
    if (!records) this.records.set(record.id, (records = new Map()));
    records.set(name, record);
    const owner = this.merged(record.id)!;
    const before = this.registry.get(owner.id);
    this.registry.put(owner);
    const wasActive = before ? before.active : true;
    if (wasActive === owner.active) return;
    const transition = owner.active ? 'reinstated' : 'offboarded';
    if (!this.leading) return;
    this.deps.metrics.ownerTransitions.labels(transition).inc();
    emit(this.deps.events ?? {}, 'ownerChanged', { email: owner.email, transition, by: owner.changedBy ?? 'unknown', ...(owner.reason ? { reason: owner.reason } : {}) });
    if (!owner.active) await this.revokeTokensOf(owner);
  }
}
