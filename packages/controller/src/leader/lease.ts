// Leader election over a coordination.k8s.io/v1 Lease, the way client-go's leaderelection does it:
// every replica tries to acquire or renew the Lease every `retryPeriodMs`; a holder that has not
// renewed for `leaseDurationSeconds` (measured on OUR clock from when we last saw the record change,
// so clock skew between replicas does not matter) may be replaced; a leader that cannot renew within
// `renewDeadlineMs` steps down. A stopping leader releases the Lease so another replica takes over at
// its next try instead of waiting out the duration. Optimistic concurrency (resourceVersion) makes
// two replicas racing for a free Lease end with exactly one holder.
// It must never report leadership it cannot back with a successful write, and never block the
// callers' loops: onStartedLeading/onStoppedLeading run one at a time, in order.
import { CoordinationV1Api, V1MicroTime, type V1Lease } from '@kubernetes/client-node';
import { describeApiError, statusOf, type KubeClients } from '../kube.js';
import type { Logger } from '../log.js';

export interface LeaseElectorOptions {
  kube: KubeClients;
  namespace: string;
  /** Lease name (default skillgate-controller). */
  name?: string;
  /** This replica's identity: the pod name in cluster (unique per replica). */
  identity: string;
  leaseDurationSeconds?: number;
  /** A leader that cannot renew for this long steps down (default 2/3 of the duration). */
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  log: Logger;
  clock?: () => number;
  onStartedLeading(): Promise<void>;
  onStoppedLeading(): Promise<void>;
}

export class LeaseElector {
  private readonly coordination: CoordinationV1Api;
  private readonly name: string;
  private readonly durationS: number;
  private readonly renewDeadlineMs: number;
  private readonly retryMs: number;
  private readonly clock: () => number;
  private leading = false;
  private lastRenewed = 0;
  /** The record as we last saw it, and when (our clock): expiry is judged from this. */
  private observed: { key: string; holder: string; at: number } | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private transitions: Promise<void> = Promise.resolve();
  private tick: Promise<void> | undefined;

  constructor(private readonly opts: LeaseElectorOptions) {
    this.coordination = opts.kube.config.makeApiClient(CoordinationV1Api);
    this.name = opts.name ?? 'skillgate-controller';
    this.durationS = opts.leaseDurationSeconds ?? 15;
    this.renewDeadlineMs = opts.renewDeadlineMs ?? Math.floor((this.durationS * 1000 * 2) / 3);
    this.retryMs = opts.retryPeriodMs ?? 2000;
    this.clock = opts.clock ?? Date.now;
  }

  get isLeader(): boolean {
    return this.leading;
  }

  /** Who holds the Lease as last observed (may be stale by up to one retry period). */
  get holder(): string | undefined {
    return this.observed?.holder || undefined;
  }

  /** First attempt happens before this resolves, so a lone replica leads right away. */
  async start(): Promise<void> {
    await this.attempt();
    this.schedule();
  }

  /** Stop trying; a leader steps down and releases the Lease. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.tick;
    if (this.leading) {
      await this.release();
      this.setLeading(false);
    }
    await this.transitions;
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.tick = this.attempt().finally(() => { this.tick = undefined; this.schedule(); });
    }, this.retryMs);
    this.timer.unref();
  }

  private async attempt(): Promise<void> {
    let ok = false;
    try {
      ok = await this.tryAcquireOrRenew();
    } catch (err) {
      this.opts.log.warn({ lease: this.name, err: describeApiError(err) }, 'lease acquire/renew failed');
    }
    if (this.stopped) return;
    const now = this.clock();
    if (ok) {
      this.lastRenewed = now;
      if (!this.leading) this.setLeading(true);
    } else if (this.leading && now - this.lastRenewed > this.renewDeadlineMs) {
      this.opts.log.error({ lease: this.name, sinceMs: now - this.lastRenewed }, 'could not renew the lease in time: stepping down');
      this.setLeading(false);
    } else if (this.leading && this.observed && this.observed.holder !== this.opts.identity) {
      this.opts.log.error({ lease: this.name, holder: this.observed.holder }, 'another replica holds the lease: stepping down');
      this.setLeading(false);
    }
  }

  private setLeading(leading: boolean): void {
    this.leading = leading;
    this.opts.log.info({ lease: this.name, identity: this.opts.identity, leading }, leading ? 'became the leader' : 'no longer the leader');
    const run = leading ? this.opts.onStartedLeading : this.opts.onStoppedLeading;
    this.transitions = this.transitions.then(() => run()).catch((err: Error) => {
      this.opts.log.error({ err: err.message, leading }, 'leadership transition failed');
    });
  }

  private spec(now: number, prev?: V1Lease['spec']): NonNullable<V1Lease['spec']> {
    const mine = prev?.holderIdentity === this.opts.identity;
    return {
      holderIdentity: this.opts.identity,
      leaseDurationSeconds: this.durationS,
      acquireTime: mine && prev?.acquireTime ? prev.acquireTime : new V1MicroTime(now),
      renewTime: new V1MicroTime(now),
      leaseTransitions: (prev?.leaseTransitions ?? 0) + (mine ? 0 : 1),
    };
  }

  /** True when, after this call, we hold the Lease. */
  private async tryAcquireOrRenew(): Promise<boolean> {
    const now = this.clock();
    let lease: V1Lease;
    try {
      lease = await this.coordination.readNamespacedLease({ name: this.name, namespace: this.opts.namespace });
    } catch (err) {
      if (statusOf(err) !== 404) throw err;
      try {
        await this.coordination.createNamespacedLease({ namespace: this.opts.namespace, body: {
          apiVersion: 'coordination.k8s.io/v1', kind: 'Lease',
          metadata: { name: this.name, namespace: this.opts.namespace, labels: { 'app.kubernetes.io/part-of': 'skillgate' } },
          spec: { ...this.spec(now), leaseTransitions: 0 },
        } });
      } catch (e) {
        if (statusOf(e) === 409) return false; // someone else created it first
        throw e;
      }
      this.observed = { key: `${this.opts.identity}@new`, holder: this.opts.identity, at: now };
      return true;
    }
    const spec = lease.spec ?? {};
    const holder = spec.holderIdentity ?? '';
    const key = `${holder}@${spec.renewTime ? new Date(spec.renewTime).getTime() : 0}`;
    if (this.observed?.key !== key) this.observed = { key, holder, at: now };
    const duration = (spec.leaseDurationSeconds ?? this.durationS) * 1000;
    const heldByOther = holder !== '' && holder !== this.opts.identity;
    if (heldByOther && now < this.observed.at + duration) return false;
    try {
      await this.coordination.replaceNamespacedLease({ name: this.name, namespace: this.opts.namespace, body: { ...lease, spec: this.spec(now, spec) } });
    } catch (err) {
      if (statusOf(err) === 409) return false; // changed meanwhile: someone renewed or took it
      throw err;
    }
    this.observed = { key: `${this.opts.identity}@${now}`, holder: this.opts.identity, at: now };
    return true;
  }

  private async release(): Promise<void> {
    try {
      const lease = await this.coordination.readNamespacedLease({ name: this.name, namespace: this.opts.namespace });
      if (lease.spec?.holderIdentity !== this.opts.identity) return;
      const now = this.clock();
      await this.coordination.replaceNamespacedLease({ name: this.name, namespace: this.opts.namespace, body: {
        ...lease, spec: { ...lease.spec, holderIdentity: '', leaseDurationSeconds: 1, renewTime: new V1MicroTime(now) },
      } });
      this.opts.log.info({ lease: this.name }, 'lease released');
    } catch (err) {
      this.opts.log.warn({ lease: this.name, err: describeApiError(err) }, 'could not release the lease; the next leader waits for it to expire');
    }
  }
}
