// The MutatingWebhookConfiguration and ValidatingWebhookConfiguration that route admission requests
// to this webhook, generated from a few facts (where it listens, its CA, skillgate's own namespace),
// so the Helm chart, the controller's self-signed mode and the e2e tests register it identically.
// Injection and pod validation fail closed (failurePolicy: Fail) in labelled namespaces; kube-system
// and skillgate's own namespace are never selected, so the webhook can never block its own start.
import { ANNOTATION_INJECTED, ANNOTATION_OWNER, LABEL_INJECT, LABEL_SKILL, NAMESPACES_WEBHOOKS_SKIP } from '@skillgate/api';
import { stringify } from 'yaml';

export type WebhookEndpoint =
  /** In-cluster: the webhook's Service. */
  | { service: { namespace: string; name: string; port?: number } }
  /** Out of cluster (e2e, dev): base URL such as https://127.0.0.1:9443. */
  | { url: string };

export interface WebhookManifestOptions {
  endpoint: WebhookEndpoint;
  /** PEM of the CA that signed the serving certificate (goes into caBundle, base64). Absent: left for cert-manager / the controller to fill. */
  caPem?: string;
  /** skillgate's own namespace, excluded from injection and pod validation. */
  systemNamespace: string;
  /** Prefix of the configuration objects' names (default "skillgate"). */
  name?: string;
  timeoutSeconds?: number;
  /** Extra labels/annotations for the objects (e.g. cert-manager.io/inject-ca-from). */
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

/** The two configuration objects, as plain JSON (valid YAML) ready for kubectl apply. */
export interface WebhookConfigurations {
  mutating: Record<string, unknown>;
  validating: Record<string, unknown>;
}

export const MUTATE_WEBHOOK_NAME = 'inject.skillgate.dev';
export const VALIDATE_POD_WEBHOOK_NAME = 'pods.validate.skillgate.dev';
export const VALIDATE_POLICY_WEBHOOK_NAME = 'skillpolicies.validate.skillgate.dev';
export const VALIDATE_APPROVAL_WEBHOOK_NAME = 'skillapprovals.validate.skillgate.dev';
/**
 * Only status writes that change the decisions reach the webhook: the sidecar's Used and the
 * controller's phase/condition writes never wait on it.
 */
export const APPROVAL_DECISIONS_OR_PHASE_CHANGED = "has(object.status) && ((has(object.status.decisions) && (!has(oldObject.status) || !has(oldObject.status.decisions) || object.status.decisions != oldObject.status.decisions)) || (has(object.status.phase) && object.status.phase != 'Pending' && (!has(oldObject.status) || !has(oldObject.status.phase) || object.status.phase != oldObject.status.phase)))";

/** A pod's owner annotation, skill label or injected annotation as CEL reads it from `obj` ('' when absent). */
const metaValue = (obj: string, field: 'annotations' | 'labels', key: string): string =>
  `(has(${obj}.metadata.${field}) && '${key}' in ${obj}.metadata.${field} ? ${obj}.metadata.${field}['${key}'] : '')`;

/** A pods/status update that changes the owner, the skill or the injected mark (every other request: true). */
export const STATUS_CHANGES_IDENTITY = `!has(request.subResource) || request.subResource != 'status' || ${([['annotations', ANNOTATION_OWNER], ['labels', LABEL_SKILL], ['annotations', ANNOTATION_INJECTED]] as const)
  .map(([field, key]) => `${metaValue('object', field, key)} != ${metaValue('oldObject', field, key)}`).join(' || ')}`;

export function webhookConfigurations(o: WebhookManifestOptions): WebhookConfigurations {
  const prefix = o.name ?? 'skillgate';
  const clientConfig = (path: string) => ({
    ...('url' in o.endpoint
      ? { url: `${o.endpoint.url.replace(/\/$/, '')}${path}` }
      : { service: { namespace: o.endpoint.service.namespace, name: o.endpoint.service.name, port: o.endpoint.service.port ?? 443, path } }),
    ...(o.caPem ? { caBundle: Buffer.from(o.caPem).toString('base64') } : {}),
  });
  const injectedNamespaces = {
    matchExpressions: [
      { key: LABEL_INJECT, operator: 'In', values: ['enabled'] },
      { key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: [...new Set([...NAMESPACES_WEBHOOKS_SKIP, o.systemNamespace])] },
    ],
  };
  const common = {
    sideEffects: 'None',
    admissionReviewVersions: ['v1'],
    failurePolicy: 'Fail',
    matchPolicy: 'Equivalent',
    timeoutSeconds: o.timeoutSeconds ?? 10,
  };
  const metadata = (name: string) => ({
    name,
    labels: { 'app.kubernetes.io/name': 'skillgate', 'app.kubernetes.io/component': 'webhook', ...o.labels },
    ...(o.annotations ? { annotations: o.annotations } : {}),
  });
  return {
    mutating: {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'MutatingWebhookConfiguration',
      metadata: metadata(`${prefix}-inject`),
      webhooks: [{
        name: MUTATE_WEBHOOK_NAME,
        clientConfig: clientConfig('/mutate'),
        rules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['pods'], scope: 'Namespaced' }],
        namespaceSelector: injectedNamespaces,
        // Run again if a later webhook adds containers, so they get the sidecar's environment too.
        reinvocationPolicy: 'IfNeeded',
        ...common,
      }],
    },
    validating: {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingWebhookConfiguration',
      metadata: metadata(`${prefix}-validate`),
      webhooks: [
        {
          name: VALIDATE_POD_WEBHOOK_NAME,
          clientConfig: clientConfig('/validate-pod'),
          rules: [
            { apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE', 'UPDATE'], resources: ['pods'], scope: 'Namespaced' },
            // kubectl debug adds containers through this subresource.
            { apiGroups: [''], apiVersions: ['v1'], operations: ['UPDATE'], resources: ['pods/ephemeralcontainers'], scope: 'Namespaced' },
            // A status update can change a pod's labels and annotations too (its owner, its skill).
            { apiGroups: [''], apiVersions: ['v1'], operations: ['UPDATE'], resources: ['pods/status'], scope: 'Namespaced' },
          ],
          namespaceSelector: injectedNamespaces,
          matchConditions: [
            // Pods being deleted only lose finalizers; never make their removal depend on the webhook.
            { name: 'not-being-deleted', expression: "request.operation != 'UPDATE' || !has(object.metadata.deletionTimestamp)" },
            // Of the kubelet's many status updates, only one that changes who the pod is comes here.
            { name: 'status-changes-identity', expression: STATUS_CHANGES_IDENTITY },
          ],
          ...common,
        },
        {
          name: VALIDATE_POLICY_WEBHOOK_NAME,
          clientConfig: clientConfig('/validate-skillpolicy'),
          rules: [{ apiGroups: ['skillgate.dev'], apiVersions: ['v1alpha1'], operations: ['CREATE', 'UPDATE'], resources: ['skillpolicies'], scope: 'Namespaced' }],
          // Every namespace: a policy that does not load protects nothing, so this fails closed too.
          ...common,
        },
        {
          name: VALIDATE_APPROVAL_WEBHOOK_NAME,
          clientConfig: clientConfig('/validate-skillapproval-status'),
          rules: [{ apiGroups: ['skillgate.dev'], apiVersions: ['v1alpha1'], operations: ['UPDATE'], resources: ['skillapprovals/status'], scope: 'Namespaced' }],
          // A decision is only admitted as the caller's own, a phase only as the decisions give it (Pending,
          // the first phase, is the CRD's to guard: a decided phase never changes back); fail closed, every namespace.
          matchConditions: [{ name: 'decisions-or-phase-changed', expression: APPROVAL_DECISIONS_OR_PHASE_CHANGED }],
          ...common,
        },
      ],
    },
  };
}

/** Both configurations as one multi-document YAML stream, for `kubectl apply -f -`. */
export function webhookConfigurationsYaml(o: WebhookManifestOptions): string {
  const { mutating, validating } = webhookConfigurations(o);
  return `${stringify(mutating)}---\n${stringify(validating)}`;
}
