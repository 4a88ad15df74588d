// Which pods of an injected namespace run without the skillgate sidecar, as a pure count. Labelling
// a namespace skillgate.dev/inject=enabled changes only pods created after it: the ones already
// running keep going as they were — no sidecar, no egress capture, nothing recorded — until they are
// recreated (`kubectl rollout restart`). Pure: the loop (index.ts) lists, this counts. Injected
// means what the token exchange means by it (../injection.ts): never a namespace the webhooks skip
// (kube-system, kube-public, kube-node-lease, skillgate's own), where no restart would inject pods;
// and a pod counts unless it has both the sidecar and the injector's stamp, since with only one of
// them it gets no workload token, so its sidecar cannot act, and a restart is what injects it whole.
import type { V1Namespace, V1Pod } from '@kubernetes/client-node';
import { ANNOTATION_INJECT } from '@skillgate/api';
import { injectedNamespace, injectedPod } from '../injection.js';

/**
 * Why a pod runs without the sidecar: `not_injected` (it predates the namespace's label or the
 * injection, or carries the sidecar without the injector's stamp — the token exchange refuses it,
 * so its sidecar cannot act: a restart fixes it) or `opted_out` (skillgate.dev/inject: disabled,
 * which the webhook admits only with an allowed exception).
 */
export type UninjectedReason = 'not_injected' | 'opted_out';
export const UNINJECTED_REASONS: readonly UninjectedReason[] = ['not_injected', 'opted_out'];

/** Namespaces whose pods should all carry the sidecar: injected ones (../injection.ts) not being deleted. */
export function censusNamespace(ns: V1Namespace, systemNamespace: string): boolean {
  return !ns.metadata?.deletionTimestamp && injectedNamespace({ name: ns.metadata?.name ?? '', labels: ns.metadata?.labels }, systemNamespace);
}

/** Why this pod of an injected namespace runs without the sidecar, or undefined when it does not (or has ended). */
export function uninjectedReason(pod: V1Pod): UninjectedReason | undefined {
  const phase = pod.status?.phase;
  if (phase === 'Succeeded' || phase === 'Failed' || pod.metadata?.deletionTimestamp) return undefined;
  if (injectedPod(pod)) return undefined;
  return pod.metadata?.annotations?.[ANNOTATION_INJECT] === 'disabled' ? 'opted_out' : 'not_injected';
}

/** Per injected namespace, how many pods run without the sidecar and why (zeros included). */
export function countUninjected(pods: readonly V1Pod[]): Record<UninjectedReason, number> {
  const counts: Record<UninjectedReason, number> = { not_injected: 0, opted_out: 0 };
  for (const pod of pods) {
    const reason = uninjectedReason(pod);
    if (reason) counts[reason]++;
  }
  return counts;
}
