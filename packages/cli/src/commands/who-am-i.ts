// Who the caller is, as the API server knows them (SelfSubjectReview): what the audit fields of
// locks and owner changes record, so that no flag or environment variable can set them. Approvals
// learn their decider the same way (approvals.ts).
import type { KubeClients } from '@skillgate/controller';

/**
 * The caller's Kubernetes username. An API server that cannot say (SelfSubjectReview is GA since
 * Kubernetes 1.28) gets the local user name, marked as such.
 */
export async function whoAmI(clients: Pick<KubeClients, 'authn'>): Promise<string> {
  try {
    const review = await clients.authn.createSelfSubjectReview({ body: { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' } });
    const user = review.status?.userInfo?.username;
    if (user) return user;
  } catch {
    // fall through
  }
  return `${process.env.USER ?? 'unknown'} (local user; the API server did not say who)`;
}
