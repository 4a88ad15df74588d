// @skillgate/controller — token exchange (RFC 8693), owners (SCIM 2.0, offboarding), locks (SkillLock
// reconciler and the Redis lock feed); approvals and policy status plug in as further reconcilers.
export { startController, type Controller, type ControllerContext, type ControllerOptions } from './controller.js';
export { resolveControllerConfig, controllerConfigFromEnv, parseSecretRef, parseListen, ControllerConfigError, type ControllerConfig, type ControllerConfigInput } from './config.js';
export type { Reconciler } from './reconciler.js';
export type { ControllerEvents } from './events.js';
export { ControllerMetrics } from './metrics.js';
export { kubeClients, statusOf, describeApiError, SKILLLOCKS, type KubeClients } from './kube.js';
export { LockClient, LockClientError } from './locks/client.js';
export { LockReconciler } from './locks/reconciler.js';
export { OwnerStore, OwnerStoreError, ownerConfigMapName, OWNER_RECORD_LABEL } from './owners/store.js';
export { OwnerLifecycle, type OwnerChange } from './owners/lifecycle.js';
export { OwnerReconciler } from './owners/reconciler.js';
export * from './owners/scim.js';
export * from './token-exchange/oauth.js';
export { TokenExchange, type TokenExchangeDeps } from './token-exchange/exchange.js';
export { identityFromPod } from './token-exchange/pod-identity.js';
export { KubeTokenReviewer, KubePodSource, type TokenReviewer, type PodSource, type ReviewedToken } from './token-exchange/review.js';
export { SecretCredentialProvider, FederatedCredentialProvider, staticCredential, noCredential, type UpstreamCredential, type UpstreamCredentialProvider } from './credentials.js';
