// Fixture pods and namespaces for the webhook's pure-function tests, shaped as the API server sends
// them (defaulted fields included where the API server sets them).
import { defaultWebhookConfig, type WebhookConfig } from '../src/config.js';
import type { NamespaceInfo, Pod } from '../src/pod.js';

export const injectedNs: NamespaceInfo = { name: 'team-a', labels: { 'skillgate.dev/inject': 'enabled' } };
export const plainNs: NamespaceInfo = { name: 'team-b', labels: {} };

export function config(overrides: Partial<WebhookConfig> = {}): WebhookConfig {
  return { ...defaultWebhookConfig(), redisUrl: 'redis://redis.skillgate-system.svc:6379', ...overrides };
}

/** A skill pod as a user writes it: one container holding the upstream key the old way. */
export function skillPod(): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: 'triage-bot',
      namespace: 'team-a',
      labels: { 'skillgate.dev/skill': 'triage', app: 'triage' },
      annotations: { 'skillgate.dev/owner': 'alice@example.com' },
    },
    spec: {
      serviceAccountName: 'triage',
      containers: [{
        name: 'skill',
        image: 'example.invalid/triage:1',
        imagePullPolicy: 'IfNotPresent',
        terminationMessagePath: '/dev/termination-log',
        terminationMessagePolicy: 'File',
        env: [
          { name: 'LOG_LEVEL', value: 'debug' },
          { name: 'ANTHROPIC_API_KEY', valueFrom: { secretKeyRef: { name: 'old-claude-key', key: 'key' } } },
          { name: 'ANTHROPIC_BASE_URL', value: 'https://api.anthropic.com' },
          { name: 'TICKETS_URL', value: 'https://tickets.example.com' },
        ],
        volumeMounts: [{ name: 'kube-api-access-abcde', mountPath: '/var/run/secrets/kubernetes.io/serviceaccount', readOnly: true }],
      }],
      volumes: [{ name: 'kube-api-access-abcde', projected: { sources: [{ serviceAccountToken: { expirationSeconds: 3607, path: 'token' } }], defaultMode: 420 } }],
    },
  };
}
