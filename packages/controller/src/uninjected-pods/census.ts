// Which pods of an injected namespace run without the skillgate sidecar, as a pure count. Labelling
// a namespace skillgate.dev/inject=enabled changes only pods created after it: the ones already
// running keep going as they were — no sidecar, no egress capture, nothing recorded — until they are
// recreated (`kubectl rollout restart`). Pure: the loop (index.ts) lists, this counts. Never counts a
// namespace the webhooks skip (kube-system, kube-public, kube-node-lease, skillgate's own): no
// restart would inject its pods.
import type { V1Namespace, V1Pod } from '@kubernetes/client-node';
import { ANNOTATION_INJECT, ANNOTATION_INJECTED, LABEL_INJECT, SIDECAR_CONTAINER } from '@skillgate/api';
import { NAMESPACES_WEBHOOKS_SKIP } from '../token-exchange/pod-identity.js';

/**
 * Why a pod runs without the sidecar: `not_injected` (it predates the namespace's label, or the
 * injection: a restart fixes it) or `opted_out` (skillgate.dev/inject: disabled, which the webhook
 * admits only with an allowed exception).
 */
export type UninjectedReason = 'not_injected' | 'opted_out';
export const UNINJECTED_REASONS: readonly UninjectedReason[] = ['not_injected', 'opted_out'];

/** Namespaces whose pods should all carry the sidecar: labelled, and not ones the webhooks skip. */
export function injectedNamespace(ns: V1Namespace, systemNamespace: string): boolean {
  const name = ns.metadata?.name ?? '';
  return ns.metadata?.labels?.[LABEL_INJECT] === 'enabled' && !ns.metadata?.deletionTimestamp
    && !NAMESPACES_WEBHOOKS_SKIP.includes(name) && name !== systemNamespace;
}

/** Why this pod of an injected namespace runs without the sidecar, or undefined when it does not (or has ended). */
export function uninjectedReason(pod: V1Pod): UninjectedReason | undefined {
  const phase = pod.status?.phase;
  if (phase === 'Succeeded' || phase === 'Failed' || pod.metadata?.deletionTimestamp) return undefined;
  const containers = [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])];
  if (containers.some((c) => c.name === SIDECAR_CONTAINER) || pod.metadata?.annotations?.[ANNOTATION_INJECTED] !== undefined) return undefined;
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
