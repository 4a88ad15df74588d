// @skillgate/webhook — the admission webhooks: sidecar injection (a pure patch function), pod and
// SkillPolicy validation (pure), the HTTPS server around them, the webhook configuration manifests,
// and a node:crypto CA for self-signed webhook TLS.
export * from './config.js';
export * from './pod.js';
export * from './json-patch.js';
export * from './egress-capture.js';
export * from './inject.js';
export * from './validate-pod.js';
export * from './validate-policy.js';
export * from './validate-approval.js';
export * from './admission.js';
export * from './manifests.js';
export * from './dev-cert.js';
export * from './server.js';
