// The loops `skillgate controller` runs besides its own (locks, owners, skill pods, lock counters):
// one factory per resource, each built from the shared context once it exists, all run by the
// leader only (they write status and send notifications; two writers would only race). To add a
// loop, append its factory to `standardLoops`.
import { approvalReconciler } from './approvals/index.js';
import { policyStatusReconciler } from './policies/index.js';
import { webhookCertReconcilers } from './webhook-certs/index.js';
import { sidecarRbacLoop } from './sidecar-rbac/index.js';
import { uninjectedPodsLoop } from './uninjected-pods/index.js';
import type { ControllerContext } from './controller.js';
import type { Reconciler } from './reconciler.js';

export type LoopFactory = (ctx: ControllerContext) => Reconciler;

export const approvalsLoop: LoopFactory = (ctx) => approvalReconciler({
  kubeConfig: ctx.kube.config,
  log: ctx.log.child({ loop: 'approvals' }),
  ...(ctx.config.approvals.webhookUrl ? { webhookUrl: ctx.config.approvals.webhookUrl } : {}),
  ...(ctx.approvalLinks ? { links: ctx.approvalLinks } : {}),
  events: {
    notified: (a) => ctx.log.info({ approval: `${a.metadata.namespace}/${a.metadata.name}` }, 'approvers notified'),
  },
});

export const policyStatusLoop: LoopFactory = (ctx) => policyStatusReconciler({
  kubeConfig: ctx.kube.config,
  log: ctx.log.child({ loop: 'policy-status' }),
  redis: ctx.redis,
  prefix: ctx.config.redisPrefix,
});

export function standardLoops(): LoopFactory[] {
  return [
    approvalsLoop,
    policyStatusLoop,
    ...webhookCertReconcilers(process.env), // webhook TLS, self-signed mode (SKILLGATE_MANAGE_WEBHOOK_CERTS=true)
    sidecarRbacLoop, // RoleBinding skillgate-sidecar in every namespace labelled skillgate.dev/inject=enabled
    uninjectedPodsLoop, // skillgate_controller_uninjected_pods: pods that predate their namespace's label
  ];
}
