// Webhook TLS managed by the controller (self-signed mode): a CA and a serving certificate in
// Secrets, caBundle patched into the webhook configurations, rotation before expiry with a CA
// overlap. Enabled by SKILLGATE_MANAGE_WEBHOOK_CERTS=true (the chart sets it unless cert-manager is
// used). `webhookCertReconcilers(env)` is what the controller assembly adds to its loops.
import type { ControllerContext } from '../controller.js';
import type { Reconciler } from '../reconciler.js';
import { webhookCertsConfigFromEnv } from './config.js';
import { WebhookCertReconciler } from './reconciler.js';

export { webhookCertsConfigFromEnv, serviceHosts, type WebhookCertsConfig } from './config.js';
export { planCertificates, DEFAULT_ROTATION_POLICY, PENDING_TRUST_RECHECK_MS, type CertState, type CertPlan, type CertChange, type CertChangeReason, type CertificateIssuer, type RotationPolicy, type CaKeyPair, type ServingKeyPair } from './plan.js';
export { inspectCertificate, renewalTime, signedBy, keyMatches, splitPemBundle, bundleFingerprints, type CertificateFacts } from './certificate.js';
export { WebhookCertStore, WriteConflict, stateFromSecrets } from './store.js';
export { WebhookCertReconciler, webhookCertificateIssuer, type WebhookCertReconcilerDeps, type WebhookCertPass, type WebhookCertChange } from './reconciler.js';

/**
 * The webhook-certificate loop as a controller reconciler factory, or none when
 * SKILLGATE_MANAGE_WEBHOOK_CERTS is not "true". Validates the environment now: a bad value throws
 * ControllerConfigError naming the variable.
 */
export function webhookCertReconcilers(env: NodeJS.ProcessEnv): Array<(ctx: ControllerContext) => Reconciler> {
  const config = webhookCertsConfigFromEnv(env);
  if (!config) return [];
  return [(ctx) => new WebhookCertReconciler({ kube: ctx.kube, config, log: ctx.log.child({ loop: 'webhook-certs' }), registry: ctx.metrics.registry })];
}
