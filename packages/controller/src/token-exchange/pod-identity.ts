// From a reviewed token and its pod to the SkillIdentity a workload token is issued for. Pure: the
// pod must be the one the token is bound to (same uid, same ServiceAccount), must be an injected
// skill pod, and must name its skill (label skillgate.dev/skill) and its accountable owner
// (annotation skillgate.dev/owner, a plain address: the identity names the owner in its canonical
// form, the one offboarding locks). Injected means what skillgate's injector leaves, all of it
// (../injection.ts): a namespace labelled for injection that the webhooks do not skip (kube-system,
// kube-public, kube-node-lease and skillgate's own are never sent to them), no opt-out annotation,
// the skillgate-sidecar container and the skillgate.dev/injected annotation the injector stamps.
// A token carries the upstream credential and the installation masking key: a pod anywhere else —
// one let out of injection by an exception that brings its own container named skillgate-sidecar
// and a token for audience skillgate, a pod in a namespace the webhooks skip — has no sidecar to
// hold them for it, and would hold them itself.
import type { V1Namespace, V1Pod } from '@kubernetes/client-node';
import { ANNOTATION_INJECT, ANNOTATION_INJECTED, ANNOTATION_OWNER, LABEL_INJECT, LABEL_SKILL, SIDECAR_CONTAINER, normalizeOwner, ownerAddressProblem, type SkillIdentity } from '@skillgate/api';
import { namespaceNotInjected, podNotInjected } from '../injection.js';
import { OAuthError } from './oauth.js';
import type { ReviewedToken } from './review.js';

export interface PodIdentityOptions {
  /** skillgate's own namespace (the controller's), which the webhooks skip too. */
  systemNamespace?: string;
}

export function identityFromPod(reviewed: ReviewedToken, pod: V1Pod | undefined, namespace: V1Namespace | undefined, opts: PodIdentityOptions = {}): SkillIdentity {
  const where = `${reviewed.namespace}/${reviewed.podName}`;
  if (!pod) throw new OAuthError('invalid_grant', `pod ${where} no longer exists`);
  const namespaceWhy = namespaceNotInjected({ name: reviewed.namespace, labels: namespace?.metadata?.labels }, opts.systemNamespace);
  if (namespaceWhy === 'not_labelled') {
    throw new OAuthError('access_denied', `namespace ${reviewed.namespace} is not labelled ${LABEL_INJECT}=enabled: only injected skill pods get workload tokens`);
  }
  if (namespaceWhy === 'skipped') {
    throw new OAuthError('access_denied', `namespace ${reviewed.namespace} is one skillgate's webhooks skip, so no pod in it is injected: only injected skill pods get workload tokens; run skills in a namespace of their own`);
  }
  if (pod.metadata?.annotations?.[ANNOTATION_INJECT] === 'disabled') {
    throw new OAuthError('access_denied', `pod ${where} opts out of injection (${ANNOTATION_INJECT}: disabled) and runs without the skillgate sidecar: it gets no workload token`);
  }
  const podWhy = podNotInjected(pod);
  if (podWhy === 'no_sidecar') {
    throw new OAuthError('access_denied', `pod ${where} runs no ${SIDECAR_CONTAINER}: only injected skill pods get workload tokens`);
  }
  if (podWhy === 'not_stamped') {
    throw new OAuthError('access_denied', `pod ${where} carries no ${ANNOTATION_INJECTED} annotation, so skillgate's injector did not make it: only injected skill pods get workload tokens`);
  }
  if (reviewed.podUid && pod.metadata?.uid && pod.metadata.uid !== reviewed.podUid) {
    throw new OAuthError('invalid_grant', `pod ${where} was replaced (uid differs from the token's)`);
  }
  if (pod.metadata?.deletionTimestamp) throw new OAuthError('invalid_grant', `pod ${where} is being deleted`);
  const sa = pod.spec?.serviceAccountName ?? 'default';
  if (sa !== reviewed.serviceAccount) throw new OAuthError('invalid_grant', `pod ${where} runs as ServiceAccount ${sa}, not ${reviewed.serviceAccount}`);
  const skill = pod.metadata?.labels?.[LABEL_SKILL];
  if (!skill) throw new OAuthError('invalid_grant', `pod ${where} has no ${LABEL_SKILL} label: it is not a skill`);
  const owner = pod.metadata?.annotations?.[ANNOTATION_OWNER];
  if (!owner) throw new OAuthError('invalid_grant', `pod ${where} has no valid ${ANNOTATION_OWNER} annotation: every skill needs an accountable owner`);
  // The webhook's test, again: a pod admitted while it did not run must not name its owner in a
  // spelling (a prefix, a trailing dot) that no offboarding of the person would match.
  const problem = ownerAddressProblem(owner);
  if (problem) throw new OAuthError('invalid_grant', `pod ${where} has no valid ${ANNOTATION_OWNER} annotation (${problem}): every skill needs an accountable owner, named by their plain email address`);
  const podUid = pod.metadata?.uid ?? reviewed.podUid;
  return {
    namespace: reviewed.namespace,
    serviceAccount: reviewed.serviceAccount,
    pod: reviewed.podName,
    ...(podUid ? { podUid } : {}),
    skill,
    owner: normalizeOwner(owner),
  };
}
