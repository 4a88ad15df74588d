// From a reviewed token and its pod to the SkillIdentity a workload token is issued for. Pure: the
// pod must be the one the token is bound to (same uid, same ServiceAccount), and must name its skill
// (label skillgate.dev/skill) and its accountable owner (annotation skillgate.dev/owner).
import type { V1Pod } from '@kubernetes/client-node';
import { ANNOTATION_OWNER, LABEL_SKILL, type SkillIdentity } from '@skillgate/api';
import { normalizeOwner } from '@skillgate/identity';
import { OAuthError } from './oauth.js';
import type { ReviewedToken } from './review.js';

const EMAIL = /^[^\s@]+@[^\s@]+$/;

export function identityFromPod(reviewed: ReviewedToken, pod: V1Pod | undefined): SkillIdentity {
  const where = `${reviewed.namespace}/${reviewed.podName}`;
  if (!pod) throw new OAuthError('invalid_grant', `pod ${where} no longer exists`);
  if (reviewed.podUid && pod.metadata?.uid && pod.metadata.uid !== reviewed.podUid) {
    throw new OAuthError('invalid_grant', `pod ${where} was replaced (uid differs from the token's)`);
  }
  if (pod.metadata?.deletionTimestamp) throw new OAuthError('invalid_grant', `pod ${where} is being deleted`);
  const sa = pod.spec?.serviceAccountName ?? 'default';
  if (sa !== reviewed.serviceAccount) throw new OAuthError('invalid_grant', `pod ${where} runs as ServiceAccount ${sa}, not ${reviewed.serviceAccount}`);
  const skill = pod.metadata?.labels?.[LABEL_SKILL];
  if (!skill) throw new OAuthError('invalid_grant', `pod ${where} has no ${LABEL_SKILL} label: it is not a skill`);
  const owner = pod.metadata?.annotations?.[ANNOTATION_OWNER];
  if (!owner || !EMAIL.test(owner.trim())) throw new OAuthError('invalid_grant', `pod ${where} has no valid ${ANNOTATION_OWNER} annotation: every skill needs an accountable owner`);
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
