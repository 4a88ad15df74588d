// What "injected" means to the controller, defined once for every loop that asks: the token exchange
// (only injected skill pods get workload tokens), the census of pods running without the sidecar,
// and the sidecar RBAC plan (a RoleBinding only where sidecars run). An injected namespace is one
// skillgate's injector patches pods in: labelled skillgate.dev/inject=enabled, and not one the
// webhooks skip (NAMESPACES_WEBHOOKS_SKIP, the webhooks' own list, and skillgate's namespace). An
// injected pod is one the injector made, all of it: the skillgate-sidecar container and the
// skillgate.dev/injected annotation it stamps. Pure; whether a namespace is terminating, or a pod
// opts out, ended or goes, is each caller's own question.
import type { V1Pod } from '@kubernetes/client-node';
import { ANNOTATION_INJECTED, LABEL_INJECT, NAMESPACES_WEBHOOKS_SKIP, SIDECAR_CONTAINER } from '@skillgate/api';

/** A namespace as far as injection cares. */
export interface InjectionNamespace {
  name: string;
  labels?: Record<string, string> | undefined;
}

/**
 * Why no pod of `ns` is injected, or undefined when pods of it are: `not_labelled` (no
 * skillgate.dev/inject=enabled) or `skipped` (a namespace the webhooks never see: kube-system,
 * kube-public, kube-node-lease, or `systemNamespace`, skillgate's own).
 */
export function namespaceNotInjected(ns: InjectionNamespace, systemNamespace: string | undefined): 'not_labelled' | 'skipped' | undefined {
  if (ns.labels?.[LABEL_INJECT] !== 'enabled') return 'not_labelled';
  if (NAMESPACES_WEBHOOKS_SKIP.includes(ns.name) || ns.name === systemNamespace) return 'skipped';
  return undefined;
}

/** Whether skillgate's injector patches the pods of `ns` (see namespaceNotInjected). */
export const injectedNamespace = (ns: InjectionNamespace, systemNamespace: string | undefined): boolean =>
  namespaceNotInjected(ns, systemNamespace) === undefined;

/**
 * Why `pod` is not one skillgate's injector made, or undefined when it is: `no_sidecar` (no
 * skillgate-sidecar container) or `not_stamped` (no skillgate.dev/injected annotation). Both are
 * needed: a container of that name alone may be the pod's own, and the annotation alone runs nothing.
 */
export function podNotInjected(pod: V1Pod): 'no_sidecar' | 'not_stamped' | undefined {
  const named = (c: { name: string }) => c.name === SIDECAR_CONTAINER;
  if (!(pod.spec?.initContainers?.some(named) || pod.spec?.containers?.some(named))) return 'no_sidecar';
  if (pod.metadata?.annotations?.[ANNOTATION_INJECTED] === undefined) return 'not_stamped';
  return undefined;
}

/** Whether skillgate's injector made `pod` (see podNotInjected). */
export const injectedPod = (pod: V1Pod): boolean => podNotInjected(pod) === undefined;
