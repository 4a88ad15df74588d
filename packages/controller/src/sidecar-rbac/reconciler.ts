// The sidecar-RBAC reconciler: keeps one RoleBinding `skillgate-sidecar` in every injected namespace
// (labelled skillgate.dev/inject=enabled, not skipped by the webhooks; none where the label is gone),
// as plan.ts decides. It watches namespaces and converges the namespace an event names; a full pass
// (list namespaces, list the bindings under our name in all namespaces) runs at start, after every
// watch break, and every `resyncMs`, so a binding deleted or edited by hand comes back. Writes are
// serialised on one queue.
// It must never throw out of its timers or watch callbacks (a failed step is logged and retried),
// and never touch a RoleBinding other than the one under its name.
import { CoreV1Api, RbacAuthorizationV1Api, type V1Namespace, type V1RoleBinding } from '@kubernetes/client-node';
import { Counter, type Registry } from 'prom-client';
import { describeApiError, statusOf, type KubeClients } from '../kube.js';
import type { Logger } from '../log.js';
import type { Reconciler } from '../reconciler.js';
import { defaultSidecarRbacNames, planAll, planNamespace, type NamespaceView, type RbacAction, type RoleBindingView, type SidecarRbacNames } from './plan.js';

export interface SidecarRbacReconcilerDeps {
  kube: KubeClients;
  log: Logger;
  /** Registry for skillgate_controller_sidecar_rbac_* metrics. */
  registry?: Registry;
  names?: Partial<SidecarRbacNames>;
  /** skillgate's own namespace (skipped by the webhooks, so no sidecar runs there). */
  systemNamespace?: string;
  /** Full pass interval (default 5 min). */
  resyncMs?: number;
  /** First retry delay after a failure (default 1 s, doubling up to resyncMs). */
  retryMs?: number;
  /** Called after each write the reconciler made (tests wait on it). Must not throw. */
  onApplied?: (action: RbacAction) => void;
}

const namespaceView = (ns: V1Namespace): NamespaceView => ({
  name: ns.metadata?.name ?? '',
  ...(ns.metadata?.labels ? { labels: ns.metadata.labels } : {}),
  ...(ns.metadata?.deletionTimestamp ? { terminating: true } : {}),
});

const bindingView = (b: V1RoleBinding): RoleBindingView => ({
  metadata: {
    name: b.metadata?.name ?? '',
    namespace: b.metadata?.namespace ?? '',
    ...(b.metadata?.labels ? { labels: b.metadata.labels } : {}),
    ...(b.metadata?.uid ? { uid: b.metadata.uid } : {}),
    ...(b.metadata?.resourceVersion ? { resourceVersion: b.metadata.resourceVersion } : {}),
  },
  roleRef: { apiGroup: b.roleRef.apiGroup ?? '', kind: b.roleRef.kind, name: b.roleRef.name },
  ...(b.subjects ? { subjects: b.subjects } : {}),
});

/** Reads a resource, mapping 404 to undefined. */
async function orMissing<T>(read: Promise<T>): Promise<T | undefined> {
  try {
    return await read;
  } catch (err) {
    if (statusOf(err) === 404) return undefined;
    throw err;
  }
}

export class SidecarRbacReconciler implements Reconciler {
  readonly name = 'sidecar-rbac';
  readonly names: SidecarRbacNames;
  private readonly core: CoreV1Api;
  private readonly rbac: RbacAuthorizationV1Api;
  private readonly resyncMs: number;
  private readonly retryMs: number;
  private readonly changes: Counter<'op'>;
  private readonly failures: Counter;
  /** Namespaces to converge, and whether a full pass is due: drained by one loop at a time. */
  private readonly pending = new Set<string>();
  private fullPassDue = false;
  private draining: Promise<void> | undefined;
  private consecutiveFailures = 0;
  private lastError: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  private watchAbort: AbortController | undefined;
  private watchResourceVersion: string | undefined;
  private stopped = true;

  constructor(private readonly deps: SidecarRbacReconcilerDeps) {
    this.names = { ...defaultSidecarRbacNames(), ...deps.names };
    this.core = deps.kube.config.makeApiClient(CoreV1Api);
    this.rbac = deps.kube.config.makeApiClient(RbacAuthorizationV1Api);
    this.resyncMs = deps.resyncMs ?? 300_000;
    this.retryMs = deps.retryMs ?? 1000;
    // A leader loop is rebuilt each time the replica wins the Lease: reuse metrics already registered.
    const counter = <L extends string>(name: string, help: string, labelNames: readonly L[]): Counter<L> =>
      (deps.registry?.getSingleMetric(name) as Counter<L> | undefined)
      ?? new Counter({ name, help, labelNames, registers: deps.registry ? [deps.registry] : [] });
    this.changes = counter('skillgate_controller_sidecar_rolebinding_changes_total', 'skillgate-sidecar RoleBindings created, updated, recreated or deleted.', ['op'] as const);
    this.failures = counter('skillgate_controller_sidecar_rbac_failures_total', 'Sidecar RBAC passes that failed and will be retried.', []);
  }

  /** Runs the first full pass (a failure is logged and retried, never thrown), then watches namespaces. */
  async start(): Promise<void> {
    this.stopped = false;
    this.fullPassDue = true;
    await this.drain();
    void this.watch();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.watchAbort?.abort();
    await this.draining;
  }

  /** Unready while sidecars in injected namespaces may be missing their binding. */
  readiness(): string[] {
    return this.lastError ? [`sidecar RoleBindings not converged: ${this.lastError}`] : [];
  }

  /** Converges everything now (serialised with the queue); resolves when the queue is empty. */
  resync(): Promise<void> {
    this.fullPassDue = true;
    return this.drain();
  }

  private enqueue(namespace: string): void {
    this.pending.add(namespace);
    void this.drain();
  }

  private drain(): Promise<void> {
    if (this.draining) return this.draining;
    const run = (async () => {
      try {
        while (!this.stopped && (this.fullPassDue || this.pending.size)) {
          if (this.fullPassDue) {
            this.fullPassDue = false;
            this.pending.clear();
            await this.step(() => this.fullPass(), () => { this.fullPassDue = true; });
          } else {
            const [namespace] = this.pending;
            this.pending.delete(namespace!);
            await this.step(() => this.convergeNamespace(namespace!), () => this.pending.add(namespace!));
          }
          if (this.consecutiveFailures) break; // the retry timer picks the rest up
        }
      } finally {
        this.draining = undefined;
      }
    })();
    this.draining = run;
    return run;
  }

  /** Runs one unit of work; on failure puts it back (`requeue`) and schedules a retry with backoff. */
  private async step(work: () => Promise<void>, requeue: () => void): Promise<void> {
    try {
      await work();
      this.consecutiveFailures = 0;
      this.lastError = undefined;
      this.schedule(this.resyncMs);
    } catch (err) {
      this.consecutiveFailures++;
      this.failures.inc();
      this.lastError = describeApiError(err);
      requeue();
      const delay = Math.min(this.resyncMs, this.retryMs * 2 ** Math.min(this.consecutiveFailures - 1, 10));
      this.deps.log.warn({ err: this.lastError, retryInMs: delay }, 'sidecar RBAC step failed; retrying');
      this.schedule(delay);
    }
  }

  /** Next full pass (resync) or retry; the queue is kept, so a retry also finishes pending namespaces. */
  private schedule(delayMs: number): void {
    clearTimeout(this.timer);
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      if (this.consecutiveFailures === 0) this.fullPassDue = true;
      void this.drain();
    }, delayMs);
    this.timer.unref();
  }

  private async fullPass(): Promise<void> {
    const [namespaces, bindings] = await Promise.all([
      this.core.listNamespace(),
      // The only RoleBindings this loop may read: the ones under its own name (RBAC resourceNames).
      this.rbac.listRoleBindingForAllNamespaces({ fieldSelector: `metadata.name=${this.names.bindingName}` }),
    ]);
    this.watchResourceVersion ??= namespaces.metadata?.resourceVersion;
    for (const action of planAll(namespaces.items.map(namespaceView), bindings.items.map(bindingView), this.names, this.deps.systemNamespace)) await this.apply(action);
  }

  private async convergeNamespace(name: string): Promise<void> {
    const [ns, binding] = await Promise.all([
      orMissing(this.core.readNamespace({ name })),
      orMissing(this.rbac.readNamespacedRoleBinding({ name: this.names.bindingName, namespace: name })),
    ]);
    const action = planNamespace(ns && namespaceView(ns), binding && bindingView(binding), this.names, this.deps.systemNamespace);
    if (action) await this.apply(action);
  }

  private async apply(action: RbacAction): Promise<void> {
    const rbac = this.rbac;
    const namespace = action.op === 'delete' ? action.namespace : action.binding.metadata.namespace;
    const name = action.op === 'delete' ? action.name : action.binding.metadata.name;
    const body = (b: RoleBindingView): V1RoleBinding => ({ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', ...b });
    const remove = async (uid: string | undefined): Promise<void> => {
      // Precondition on uid: never delete a binding that was replaced since we looked.
      await orMissing(rbac.deleteNamespacedRoleBinding({ name, namespace, body: uid ? { preconditions: { uid } } : {} }));
    };
    try {
      switch (action.op) {
        case 'create':
          await rbac.createNamespacedRoleBinding({ namespace, body: body(action.binding) });
          break;
        case 'update':
          await rbac.replaceNamespacedRoleBinding({ name, namespace, body: body(action.binding) });
          break;
        case 'recreate':
          await remove(action.uid);
          await rbac.createNamespacedRoleBinding({ namespace, body: body(action.binding) });
          break;
        case 'delete':
          await remove(action.uid);
          break;
      }
    } catch (err) {
      // Someone else wrote first (another replica, a user): look again instead of failing the pass.
      if (statusOf(err) === 409) {
        this.deps.log.info({ namespace, op: action.op }, 'sidecar RoleBinding changed under us; converging again');
        this.pending.add(namespace);
        return;
      }
      throw err;
    }
    this.changes.inc({ op: action.op });
    this.deps.log.info({ namespace, rolebinding: name, op: action.op, reason: action.reason }, 'sidecar RoleBinding converged');
    try { this.deps.onApplied?.(action); } catch { /* a listener never breaks the loop */ }
  }

  private async watch(): Promise<void> {
    if (this.stopped) return;
    try {
      this.watchAbort = await this.deps.kube.watch.watch('/api/v1/namespaces', {
        allowWatchBookmarks: true,
        ...(this.watchResourceVersion ? { resourceVersion: this.watchResourceVersion } : {}),
      }, (phase: string, obj: V1Namespace) => {
        if (obj?.metadata?.resourceVersion) this.watchResourceVersion = obj.metadata.resourceVersion;
        if (phase === 'BOOKMARK') return;
        if (phase === 'ERROR') { this.watchAbort?.abort(); return; }
        if (obj?.metadata?.name) this.enqueue(obj.metadata.name);
      }, (err: unknown) => this.watchEnded(err));
    } catch (err) {
      this.watchEnded(err);
    }
  }

  /** A broken watch may have missed events: relist everything, then watch from the new list. */
  private watchEnded(err: unknown): void {
    if (this.stopped) return;
    if (err) this.deps.log.warn({ err: describeApiError(err) }, 'namespace watch ended; relisting');
    this.watchResourceVersion = undefined;
    const t = setTimeout(() => {
      this.fullPassDue = true;
      void this.drain().then(() => this.watch());
    }, err ? this.retryMs : 0);
    t.unref();
  }
}
