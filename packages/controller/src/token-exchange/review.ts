// Validating the pod's projected ServiceAccount token with the real TokenReview API, and resolving
// the pod it is bound to. The API server checks the signature, expiry, audience and that the bound
// pod still exists (a deleted pod's token stops authenticating). This module never trusts claims it
// decoded itself.
import type { V1Namespace, V1Pod } from '@kubernetes/client-node';
import { TOKEN_AUDIENCE } from '@skillgate/api';
import { statusOf, describeApiError, type KubeClients } from '../kube.js';
import { OAuthError } from './oauth.js';

export interface ReviewedToken {
  namespace: string;
  serviceAccount: string;
  podName: string;
  podUid?: string;
}

export interface TokenReviewer {
  review(token: string): Promise<ReviewedToken>;
}

export interface PodSource {
  /** The pod, or undefined when it does not exist. */
  pod(namespace: string, name: string): Promise<V1Pod | undefined>;
  /** The namespace (its labels say whether its pods are injected), or undefined when it does not exist. */
  namespace(name: string): Promise<V1Namespace | undefined>;
}

const SA_PREFIX = 'system:serviceaccount:';
const EXTRA_POD_NAME = 'authentication.kubernetes.io/pod-name';
const EXTRA_POD_UID = 'authentication.kubernetes.io/pod-uid';

export class KubeTokenReviewer implements TokenReviewer {
  constructor(private readonly kube: KubeClients, private readonly audience = TOKEN_AUDIENCE) {}

  async review(token: string): Promise<ReviewedToken> {
    let status;
    try {
      const res = await this.kube.authn.createTokenReview({ body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token, audiences: [this.audience] } } });
      status = res.status;
    } catch (err) {
      throw new OAuthError('temporarily_unavailable', `TokenReview failed (${describeApiError(err)}); retry shortly`);
    }
    if (!status?.authenticated) {
      throw new OAuthError('invalid_grant', `subject_token rejected by the API server${status?.error ? `: ${status.error}` : ''} (expired, forged, wrong audience, or its pod is gone)`);
    }
    if (!status.audiences?.includes(this.audience)) throw new OAuthError('invalid_grant', `subject_token is not for audience ${this.audience}`);
    const username = status.user?.username ?? '';
    if (!username.startsWith(SA_PREFIX)) throw new OAuthError('invalid_grant', 'subject_token must be a ServiceAccount token');
    const [namespace, serviceAccount] = username.slice(SA_PREFIX.length).split(':');
    const podName = status.user?.extra?.[EXTRA_POD_NAME]?.[0];
    if (!namespace || !serviceAccount) throw new OAuthError('invalid_grant', 'subject_token names no ServiceAccount');
    if (!podName) throw new OAuthError('invalid_grant', 'subject_token must be bound to a pod (a projected token, not a Secret-based one)');
    const podUid = status.user?.extra?.[EXTRA_POD_UID]?.[0];
    return { namespace, serviceAccount, podName, ...(podUid ? { podUid } : {}) };
  }
}

export class KubePodSource implements PodSource {
  constructor(private readonly kube: KubeClients) {}

  async pod(namespace: string, name: string): Promise<V1Pod | undefined> {
    try {
      return await this.kube.core.readNamespacedPod({ name, namespace });
    } catch (err) {
      if (statusOf(err) === 404) return undefined;
      throw new OAuthError('temporarily_unavailable', `cannot read pod ${namespace}/${name} (${describeApiError(err)})`);
    }
  }

  async namespace(name: string): Promise<V1Namespace | undefined> {
    try {
      return await this.kube.core.readNamespace({ name });
    } catch (err) {
      if (statusOf(err) === 404) return undefined;
      throw new OAuthError('temporarily_unavailable', `cannot read namespace ${name} (${describeApiError(err)})`);
    }
  }
}
