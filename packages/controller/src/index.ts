// @skillgate/controller — token exchange (RFC 8693), owners (SCIM 2.0, offboarding, pod annotations),
// locks (SkillLock reconciler, the Redis lock feed, counters), leader election; approvals and policy
// status plug in as leader loops (loops.ts).
export { startController, type Controller, type ControllerContext, type ControllerOptions } from './controller.js';
export { resolveControllerConfig, controllerConfigFromEnv, parseSecretRef, parseListen, ControllerConfigError, type ControllerConfig, type ControllerConfigInput } from './config.js';
export type { Reconciler } from './reconciler.js';
export type { ControllerEvents } from './events.js';
export { ControllerMetrics } from './metrics.js';
export { kubeClients, kubeClientsFor, statusOf, describeApiError, SKILLLOCKS, type KubeClients } from './kube.js';
export { LockClient, LockClientError } from './locks/client.js';
export { LockReconciler } from './locks/reconciler.js';
export { LockAnnouncer, announceChannel } from './locks/announce.js';
export { LockStatsReconciler, lockStatsKey, statsPatch, LOCK_STAT_FIELDS, type LockStatField } from './locks/stats.js';
export { LeaseElector, type LeaseElectorOptions } from './leader/lease.js';
export { PodOwnerWatcher, skillPodOf, type SkillPod, type Reassignment } from './owners/pods.js';
// The `changedBy` prefix of owner records registered from a pod (kept in @skillgate/identity).
export { POD_REGISTRATION_ACTOR } from '@skillgate/identity';
export { RedisIssuedTokens, type IssuedTokenIndex } from './token-exchange/issued.js';
export { standardLoops, approvalsLoop, policyStatusLoop, type LoopFactory } from './loops.js';
export { OwnerStore, OwnerStoreError, ownerConfigMapName, OWNER_RECORD_LABEL } from './owners/store.js';
export { OwnerLifecycle, type OwnerChange, type OwnerFields } from './owners/lifecycle.js';
export { OwnerReconciler } from './owners/reconciler.js';
export * from './owners/scim.js';
export * from './token-exchange/oauth.js';
export { TokenExchange, type TokenExchangeDeps } from './token-exchange/exchange.js';
export { identityFromPod, type PodIdentityOptions } from './token-exchange/pod-identity.js';
export { injectedNamespace, injectedPod, namespaceNotInjected, podNotInjected, type InjectionNamespace } from './injection.js';
export { UninjectedPodsReconciler, uninjectedPodsLoop, uninjectedReason, countUninjected, censusNamespace, UNINJECTED_REASONS, type UninjectedReason } from './uninjected-pods/index.js';
export { KubeTokenReviewer, KubePodSource, type TokenReviewer, type PodSource, type ReviewedToken } from './token-exchange/review.js';
export { SecretCredentialProvider, FederatedCredentialProvider, staticCredential, noCredential, type UpstreamCredential, type UpstreamCredentialProvider } from './credentials.js';
// Webhook serving certificates (owned by the webhook-certs engineer): re-exported for the assembly.
export * from './webhook-certs/index.js';
