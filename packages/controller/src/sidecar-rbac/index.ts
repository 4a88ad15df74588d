// Sidecar RBAC: the skillgate-sidecar RoleBinding in every injected namespace (plan + reconciler),
// and the loop factory the controller assembly appends to its leader loops.
import type { ControllerContext } from '../controller.js';
import type { Reconciler } from '../reconciler.js';
import { SidecarRbacReconciler } from './reconciler.js';

export * from './plan.js';
export { SidecarRbacReconciler, type SidecarRbacReconcilerDeps } from './reconciler.js';

/** The loop as the controller runs it: default names (RoleBinding and ClusterRole `skillgate-sidecar`). */
export const sidecarRbacLoop = (ctx: ControllerContext): Reconciler => new SidecarRbacReconciler({
  kube: ctx.kube,
  log: ctx.log.child({ loop: 'sidecar-rbac' }),
  registry: ctx.metrics.registry,
  systemNamespace: ctx.config.namespace,
});
