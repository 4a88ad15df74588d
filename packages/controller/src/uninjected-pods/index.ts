// The uninjected-pods loop (leader only): every `intervalMs` it lists the namespaces labelled
// skillgate.dev/inject=enabled and their pods, and exports how many run without the sidecar as
// skillgate_controller_uninjected_pods{namespace, reason} (census.ts), logging each namespace whose
// count of pods to restart changes. The chart's alert SkillgateUninjectedPods fires on it. It never
// restarts anything itself (a restart is the workload owner's call) and never throws out of its timer.
import type { V1Namespace } from '@kubernetes/client-node';
import { LABEL_INJECT } from '@skillgate/api';
import type { ControllerContext } from '../controller.js';
import { describeApiError, type KubeClients } from '../kube.js';
import type { Logger } from '../log.js';
import type { ControllerMetrics } from '../metrics.js';
import type { Reconciler } from '../reconciler.js';
import { UNINJECTED_REASONS, censusNamespace, countUninjected } from './census.js';

export * from './census.js';

export interface UninjectedPodsDeps {
  kube: KubeClients;
  log: Logger;
  metrics: ControllerMetrics;
  /** skillgate's own namespace (skipped by the webhooks). */
  systemNamespace: string;
  /** Time between two counts (default 60 s). */
  intervalMs?: number;
}

export class UninjectedPodsReconciler implements Reconciler {
  readonly name = 'uninjected-pods';
  private timer: NodeJS.Timeout | undefined;
  private stopped = true;
  private running: Promise<void> | undefined;
  /** Pods to restart per namespace at the last count, to log changes only. */
  private readonly reported = new Map<string, number>();

  constructor(private readonly deps: UninjectedPodsDeps) {}

  async start(): Promise<void> {
    this.stopped = false;
    await this.count();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
    // A replica that no longer leads exports nothing: the new leader's count is the one.
    this.deps.metrics.uninjectedPods.reset();
  }

  /** One count now (also what the timer runs); resolves when the gauge is set. Never rejects. */
  count(): Promise<void> {
    this.running ??= this.pass().finally(() => {
      this.running = undefined;
      if (this.stopped) return;
      clearTimeout(this.timer);
      this.timer = setTimeout(() => void this.count(), this.deps.intervalMs ?? 60_000);
      this.timer.unref();
    });
    return this.running;
  }

  private async pass(): Promise<void> {
    try {
      const listed = await this.deps.kube.core.listNamespace({ labelSelector: `${LABEL_INJECT}=enabled` });
      const namespaces = listed.items.filter((ns: V1Namespace) => censusNamespace(ns, this.deps.systemNamespace)).map((ns) => ns.metadata!.name!);
      const counted = await Promise.all(namespaces.map(async (namespace) => {
        const pods = await this.deps.kube.core.listNamespacedPod({ namespace });
        return { namespace, counts: countUninjected(pods.items) };
      }));
      if (this.stopped) return;
      const gauge = this.deps.metrics.uninjectedPods;
      gauge.reset();
      for (const { namespace, counts } of counted) {
        for (const reason of UNINJECTED_REASONS) gauge.labels(namespace, reason).set(counts[reason]);
        const toRestart = counts.not_injected;
        if (toRestart !== (this.reported.get(namespace) ?? 0)) {
          if (toRestart > 0) this.deps.log.warn({ namespace, pods: toRestart }, `pods run without the skillgate sidecar (created before the namespace was labelled ${LABEL_INJECT}=enabled): restart their workloads, e.g. kubectl rollout restart deployment -n ${namespace}`);
          else this.deps.log.info({ namespace }, 'every pod runs with the skillgate sidecar now');
        }
        this.reported.set(namespace, toRestart);
      }
      for (const namespace of [...this.reported.keys()]) if (!namespaces.includes(namespace)) this.reported.delete(namespace);
    } catch (err) {
      this.deps.log.warn({ err: describeApiError(err) }, 'cannot count the pods running without the skillgate sidecar; trying again at the next count');
    }
  }
}

/** The loop as the controller runs it. */
export const uninjectedPodsLoop = (ctx: ControllerContext): Reconciler => new UninjectedPodsReconciler({
  kube: ctx.kube,
  log: ctx.log.child({ loop: 'uninjected-pods' }),
  metrics: ctx.metrics,
  systemNamespace: ctx.config.namespace,
  intervalMs: ctx.config.uninjectedPodsIntervalMs,
});
